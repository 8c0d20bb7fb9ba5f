"""What a re-run will do after a failed run, said in the error: which streams' records were already sent.

A run that fails on a later stream has already sent the earlier streams' records, and the
target has stored them. A full-table stream sends everything again when the run is repeated:
with the target's ``write_mode: append`` (the default) its rows are then stored twice. The
error names those streams and, for each with ``destination.key_fields``, offers ``write_mode:
merge``, which makes repeating the run safe (docs/GUARANTEES.md, "Re-running after a failure").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def rerun_hint(streams: Iterable[Any]) -> str:
    """Return the sentences added to a failed run's error ('' unless a full-table stream sent records).

    Only full-table streams are sent again whole by a re-run; incremental ones resume from their
    bookmark, which their own errors already explain.

    Args:
        streams: The tap's streams (``name``, ``replication_key``, ``stream_config.key_fields``,
            ``runner.progress.count``: records sent in this run).

    Returns:
        `` Already sent in this run (the target keeps them): 'a' (3 records, full table), ...``
        followed by what re-running does for the full-table ones, and ``write_mode: merge``
        for those with key fields.
    """
    sent = [s for s in streams if s.runner.progress is not None and s.runner.progress.count]
    if not any(not s.replication_key for s in sent):
        return ""
    listed = ", ".join(
        f"'{s.name}' ({s.runner.progress.count} records, {'incremental' if s.replication_key else 'full table'})"
        for s in sent
    )
    text = f" Already sent in this run (the target keeps them): {listed}."
    full_table = [s for s in sent if not s.replication_key]
    keyed = [s.name for s in full_table if s.stream_config.key_fields]
    text += (
        " A re-run sends full-table streams again from their start; with the target's write_mode "
        "append (the default) their rows are stored again."
    )
    if keyed:
        names = ", ".join(f"'{name}'" for name in keyed)
        text += f" Set write_mode: merge in the target config to replace {names} by key instead."
    if len(keyed) < len(full_table):
        names = ", ".join(f"'{s.name}'" for s in full_table if not s.stream_config.key_fields)
        text += f" {names}: set destination.key_fields to allow merge."
    if len(full_table) < len(sent):
        text += " Incremental streams resume from their last STATE."
    return text
