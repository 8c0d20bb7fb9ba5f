"""Child streams: a stream whose requests run once per record of its parent stream.

- :mod:`~tap_generic_api.children.templates`: ``{parent.<path>}`` filled from a parent record.
- :mod:`~tap_generic_api.children.jobs`: one child stream's request sequence per parent, its STATE partition.
- :mod:`~tap_generic_api.children.sync`: the parent's run, children of several parents fetched at once.
- :mod:`~tap_generic_api.children.wiring`: the SDK's parent/child link between the streams.
- :mod:`~tap_generic_api.children.partitions`: per-parent state partitions found by index.

The config keys are checked in :mod:`tap_generic_api.config.children`; the user guide is docs/CHILD_STREAMS.md.
"""
