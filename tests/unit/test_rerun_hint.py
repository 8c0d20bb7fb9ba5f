"""A failed run's error: what was already sent and what a re-run does (tap_generic_api/rerun_hint.py)."""

from __future__ import annotations

from types import SimpleNamespace

from tap_generic_api.rerun_hint import rerun_hint


def _stream(name, count, *, replication_key=None, key_fields=()):
    progress = None if count is None else SimpleNamespace(count=count)
    return SimpleNamespace(
        name=name,
        replication_key=replication_key,
        stream_config=SimpleNamespace(key_fields=list(key_fields)),
        runner=SimpleNamespace(progress=progress),
    )


def test_nothing_sent_yet_adds_nothing():
    assert rerun_hint([_stream("a", None), _stream("b", 0)]) == ""


def test_incremental_streams_alone_add_nothing():
    # They resume from their bookmark: nothing piles up.
    assert rerun_hint([_stream("events", 10, replication_key="updated"), _stream("b", 0)]) == ""


def test_an_incremental_stream_resumes_and_a_keyless_full_table_one_is_told_to_get_keys():
    streams = [_stream("events", 10, replication_key="updated"), _stream("users", 4), _stream("later", None)]
    assert rerun_hint(streams) == (
        " Already sent in this run (the target keeps them): 'events' (10 records, incremental), 'users' "
        "(4 records, full table). A re-run sends full-table streams again from their start; with the target's "
        "write_mode append (the default) their rows are stored again. 'users': set destination.key_fields to "
        "allow merge. Incremental streams resume from their last STATE."
    )
