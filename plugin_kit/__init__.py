"""What both plugins need and neither owns.

CLI entry and signals (``cli``, ``plugin``), errors, secret masking, fast JSON, proxies, worker
threads, progress and summaries, config checks (unknown keys with a suggestion, validation with
secrets masked) and one Google credentials and client factory (``google_clients``). It imports
neither plugin.
"""
