"""Response bodies other than one JSON document: JSON Lines, CSV, compressed and zipped bodies.

- :mod:`~tap_generic_api.formats.choice`: which format a response is read as (config, then Content-Type).
- :mod:`~tap_generic_api.formats.body`: the body as a decoded byte stream (gzip, zlib, a zip holding one file).
- :mod:`~tap_generic_api.formats.rows`: records from JSON Lines and CSV text, a chunk at a time.
- :mod:`~tap_generic_api.formats.csv_values`: CSV strings converted to the types the stream's schema gives.
- :mod:`~tap_generic_api.formats.streamed`: a response's records read while its body arrives.
"""
