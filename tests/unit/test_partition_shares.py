"""The pure rules of partitioned runs: the partition setting, who takes what, combining states."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from plugin_kit.errors import ConfigError
from tap_generic_api.config import parse_streams
from tap_generic_api.partitions.combine import combine, main, read_state
from tap_generic_api.partitions.plan import SHARE_LOG_PREFIX, StreamPartition
from tap_generic_api.partitions.shares import block, grid_end, share_of_parent, stream_owner
from tap_generic_api.partitions.spec import Partition, parse_partition

INDEX, COUNT = "Config partition.index", "Config partition.count"


# --- the partition setting --------------------------------------------------------------------


def test_partition_from_config_and_from_each_engines_variables():
    assert parse_partition(None, {}) is None
    assert parse_partition({"index": 2, "count": 5}, {}) == Partition(2, 5, "config partition")
    kubernetes = {"JOB_COMPLETION_INDEX": "3", "JOB_COMPLETION_COUNT": "8"}
    assert parse_partition("auto", kubernetes) == Partition(3, 8, "JOB_COMPLETION_INDEX, JOB_COMPLETION_COUNT")
    cloud_run = {"CLOUD_RUN_TASK_INDEX": "0", "CLOUD_RUN_TASK_COUNT": "4"}
    assert parse_partition("auto", cloud_run) == Partition(0, 4, "CLOUD_RUN_TASK_INDEX, CLOUD_RUN_TASK_COUNT")


@pytest.mark.parametrize(
    ("value", "environ", "message"),
    [
        ({"index": 8, "count": 8}, {}, f"{INDEX} must be from 0 to 7 ({COUNT} is 8), got 8."),
        ({"index": -1, "count": 2}, {}, f"{INDEX} must be from 0 to 1 ({COUNT} is 2), got -1."),
        ({"index": 0, "count": 0}, {}, "Config partition.count is the number of tasks and must be at least 1, got 0."),
        ({"index": "one", "count": 2}, {}, "Config partition.index must be a whole number, got 'one'."),
        ({"index": 1.5, "count": 2}, {}, "Config partition.index must be a whole number, got 1.5."),
        ({"count": 2}, {}, "Config partition.index is missing: partition takes {index, count}."),
        (
            {"index": 0, "count": 2, "cont": 1},
            {},
            "Config partition has unknown key(s) ['cont']; it takes index and count.",
        ),
        ("sometimes", {}, "Config partition must be 'auto' or {index, count}, got 'sometimes'."),
        (
            "auto",
            {"JOB_COMPLETION_INDEX": "x", "JOB_COMPLETION_COUNT": "2"},
            "Environment variable JOB_COMPLETION_INDEX must be a whole number, got 'x'.",
        ),
        (
            "auto",
            {"JOB_COMPLETION_INDEX": "2", "JOB_COMPLETION_COUNT": "2"},
            "JOB_COMPLETION_INDEX must be from 0 to 1 (JOB_COMPLETION_COUNT is 2), got 2.",
        ),
    ],
)
def test_bad_partition_values_name_the_key_or_variable(value, environ, message):
    with pytest.raises(ConfigError) as error:
        parse_partition(value, environ)
    assert str(error.value) == message


def test_auto_without_the_variables_says_which_to_set():
    with pytest.raises(ConfigError, match="none of JOB_COMPLETION_INDEX, CLOUD_RUN_TASK_INDEX is set"):
        parse_partition("auto", {})
    with pytest.raises(ConfigError, match="set JOB_COMPLETION_COUNT to the Job's .spec.completions"):
        parse_partition("auto", {"JOB_COMPLETION_INDEX": "1"})
    with pytest.raises(ConfigError, match="the index variables disagree"):
        parse_partition("auto", {"JOB_COMPLETION_INDEX": "1", "CLOUD_RUN_TASK_INDEX": "2", "CLOUD_RUN_TASK_COUNT": "4"})


# --- who takes what ----------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 7, 8, 13])
@pytest.mark.parametrize("items", [0, 1, 5, 40, 41])
def test_blocks_cover_every_item_once_in_order(items, count):
    blocks = [block(items, i, count) for i in range(count)]
    assert blocks[0][0] == 0
    assert blocks[-1][1] == items
    assert all(before[1] == after[0] for before, after in zip(blocks, blocks[1:], strict=False))
    sizes = [hi - lo for lo, hi in blocks]
    assert max(sizes) - min(sizes) <= 1


def test_block_example():
    assert [block(10, i, 4) for i in range(4)] == [(0, 2), (2, 5), (5, 7), (7, 10)]


def test_grid_end_is_the_same_for_tasks_started_within_one_window():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    first = datetime(2024, 3, 5, 10, 0, 0, tzinfo=UTC)
    assert grid_end(start, first, 1) == datetime(2024, 3, 5, tzinfo=UTC)
    assert grid_end(start, first + timedelta(minutes=90), 1) == datetime(2024, 3, 5, tzinfo=UTC)
    assert grid_end(start, first, 0.25) == datetime(2024, 3, 5, 6, tzinfo=UTC)
    assert grid_end(start, start + timedelta(hours=5), 1) == start  # no whole window yet


def test_streams_without_windows_are_dealt_out_in_config_order():
    assert [stream_owner(p, 3) for p in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    assert stream_owner(0, 8) == 0  # a lone stream that cannot be split: task 0


def test_each_parent_goes_to_exactly_one_task_the_same_in_every_process():
    keys = [*range(1000), "a", {"org": 1, "id": 2}]
    for count in (1, 3, 8):
        owners = [[i for i in range(count) if share_of_parent(key, i, count)] for key in keys]
        assert all(len(o) == 1 for o in owners)
    # SHA-256 of the canonical JSON, not Python's salted hash: fixed values.
    assert [i for i in range(8) if share_of_parent(42, i, 8)] == [
        int.from_bytes(__import__("hashlib").sha256(b"42").digest()[:8], "big") % 8
    ]
    assert share_of_parent({"id": 2, "org": 1}, 0, 3) == share_of_parent({"org": 1, "id": 2}, 0, 3)
    spread = [sum(share_of_parent(k, i, 4) for k in range(1000)) for i in range(4)]
    assert min(spread) > 200  # roughly even


# --- one task's plan ---------------------------------------------------------------------------


def _config(**extra):
    block_ = {
        "name": "events",
        "url": "http://127.0.0.1/events",
        "params": {"since": "{start_date}", "until": "{end_date}"},
        "replication_key": "updated_at",
        "start_date": "2024-01-01T00:00:00Z",
        "date_window_size": 1,
        **extra,
    }
    return parse_streams(block_)[0]


def _plan(config, state, bookmark, index, count, end, caplog):
    with caplog.at_level(logging.INFO):
        share = StreamPartition(Partition(index, count), None).plan(
            config, state, bookmark, end=end, logger=logging.getLogger("test")
        )
    messages = [r.getMessage() for r in caplog.records]
    caplog.clear()
    lines = [m for m in messages if m.startswith(SHARE_LOG_PREFIX)]
    _plan.others = [m for m in messages if not m.startswith(SHARE_LOG_PREFIX)]
    return share, json.loads(lines[-1][len(SHARE_LOG_PREFIX) :])


def test_tasks_started_minutes_apart_cut_the_same_windows(caplog):
    config = _config()
    first_clock = datetime(2024, 1, 11, 0, 5, tzinfo=UTC)
    logged = []
    ending = []
    for index in range(3):
        clock = first_clock + timedelta(minutes=10 * index)  # each task starts later
        share, line = _plan(config, {}, None, index, 3, clock, caplog)
        logged.append(line)
        ending += _plan.others  # the last task says where the range ends
        assert [w.start_at.day for w in share.windows] == [[1, 2, 3], [4, 5, 6], [7, 8, 9, 10]][index]
    assert [(x["start"], x["end"], x["windows"], x["of"]) for x in logged] == [
        ("2024-01-01T00:00:00Z", "2024-01-04T00:00:00Z", [0, 3], 10),
        ("2024-01-04T00:00:00Z", "2024-01-07T00:00:00Z", [3, 6], 10),
        ("2024-01-07T00:00:00Z", "2024-01-11T00:00:00Z", [6, 10], 10),
    ]
    assert ending == [
        "Stream 'events': without end_date the run's windows end at 2024-01-11T00:00:00Z, the last window bound "
        "before the run's start; records after it are fetched by the next run."
    ]


def test_end_date_fixes_the_end_and_a_rerun_resumes_inside_its_share(caplog):
    config = _config(end_date="2024-01-09T00:00:00Z", is_sorted=True)
    state: dict = {}
    share, _ = _plan(config, state, None, 1, 2, datetime(2024, 1, 9, tzinfo=UTC), caplog)
    assert [w.start for w in share.windows] == [
        "2024-01-05T00:00:00Z",
        "2024-01-06T00:00:00Z",
        "2024-01-07T00:00:00Z",
        "2024-01-08T00:00:00Z",
    ]
    assert state["partition"] == {
        "kind": "windows",
        "index": 1,
        "count": 2,
        "start": "2024-01-05T00:00:00Z",
        "end": "2024-01-09T00:00:00Z",
        "windows": [4, 8],
        "of": 8,
        "is_sorted": True,
        "complete": False,
    }
    # The task failed with its bookmark on 6 January; its rerun starts there, its end unchanged
    # (even with another clock and a bookmark that would anchor another grid).
    share, line = _plan(config, state, "2024-01-06T12:00:00Z", 1, 2, datetime(2024, 2, 1, tzinfo=UTC), caplog)
    assert line["rerun"] is True
    assert [w.start for w in share.windows][:2] == ["2024-01-06T12:00:00Z", "2024-01-07T12:00:00Z"]
    assert share.windows[-1].end_at == datetime(2024, 1, 9, tzinfo=UTC)
    # A completed share fetches nothing again.
    StreamPartition.finish(state, complete=True)
    share, line = _plan(config, state, "2024-01-08T23:00:00Z", 1, 2, datetime(2024, 2, 1, tzinfo=UTC), caplog)
    assert (share.taken, share.windows, line["taken"]) == (False, [], False)


def test_more_tasks_than_windows_leaves_empty_shares_that_still_tile(caplog):
    config = _config(end_date="2024-01-03T00:00:00Z")
    lines = [_plan(config, {}, None, i, 4, datetime(2024, 1, 3, tzinfo=UTC), caplog)[1] for i in range(4)]
    assert [(x["start"][:10], x["end"][:10], x["taken"]) for x in lines] == [
        ("2024-01-01", "2024-01-01", False),
        ("2024-01-01", "2024-01-02", True),
        ("2024-01-02", "2024-01-02", False),
        ("2024-01-02", "2024-01-03", True),
    ]


# --- combining the tasks' states ---------------------------------------------------------------


def _task_state(index, count, start, end, *, complete, value=None, sorted_=True):
    share = {"kind": "windows", "index": index, "count": count, "start": start, "end": end}
    share.update(windows=[index, index + 1], of=count, is_sorted=sorted_, complete=complete)
    entry = {"partition": share, "replication_key": "updated_at"}
    if value is not None:
        entry["replication_key_value"] = value
    return {"bookmarks": {"events": entry}}


DAYS = ["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z"]


def test_combined_bookmark_is_the_end_when_every_task_completed():
    states = [
        _task_state(i, 3, DAYS[i], DAYS[i + 1], complete=True, value=DAYS[i][:10] + "T23:00:00Z") for i in range(3)
    ]
    assert combine(states[::-1]) == {
        "bookmarks": {"events": {"replication_key": "updated_at", "replication_key_value": DAYS[3]}}
    }


def test_combined_bookmark_never_passes_a_failed_task():
    states = [
        _task_state(0, 3, DAYS[0], DAYS[1], complete=True, value="2024-01-01T23:00:00Z"),
        _task_state(1, 3, DAYS[1], DAYS[2], complete=False, value="2024-01-02T06:00:00Z"),
        _task_state(2, 3, DAYS[2], DAYS[3], complete=True, value="2024-01-03T23:00:00Z"),
    ]
    assert combine(states)["bookmarks"]["events"]["replication_key_value"] == "2024-01-02T06:00:00Z"
    # Unsorted: its bookmark means nothing until it completes; the share's start.
    states[1] = _task_state(1, 3, DAYS[1], DAYS[2], complete=False, value="2024-01-02T06:00:00Z", sorted_=False)
    assert combine(states)["bookmarks"]["events"]["replication_key_value"] == DAYS[1]


def test_combine_refuses_missing_tasks_and_shares_that_do_not_tile():
    states = [_task_state(i, 3, DAYS[i], DAYS[i + 1], complete=True) for i in range(3)]
    with pytest.raises(ConfigError, match=r"no state of task\(s\) \[1\] of 3"):
        combine([states[0], states[2]])
    states[1] = _task_state(1, 3, DAYS[1], "2024-01-02T12:00:00Z", complete=True)
    with pytest.raises(ConfigError, match="task 1's share ends at 2024-01-02T12:00:00Z but task 2's starts"):
        combine(states)
    with pytest.raises(ConfigError, match="not from a partitioned run"):
        combine([{"bookmarks": {"events": {"replication_key_value": "x"}}}])


def test_whole_streams_keep_the_bookmark_of_the_task_that_ran_them():
    def state(index, value=None):
        entry = {"partition": {"kind": "stream", "index": index, "count": 2, "owner": 1, "complete": True}}
        if value:
            entry.update(replication_key="id", replication_key_value=value)
        return {"bookmarks": {"users": entry}}

    combined = combine([state(0), state(1, 99)])
    assert combined == {"bookmarks": {"users": {"replication_key": "id", "replication_key_value": 99}}}


def test_the_combine_command_reads_target_output_and_meltano_state(tmp_path, capsys):
    states = [_task_state(i, 2, DAYS[i], DAYS[i + 1], complete=True) for i in range(2)]
    first = tmp_path / "task-0.jsonl"
    first.write_text("{}\n" + json.dumps(states[0]) + "\n")  # the target's output: the last line counts
    second = tmp_path / "task-1.json"
    second.write_text(json.dumps({"singer_state": states[1]}))  # meltano state get
    assert read_state(second) == states[1]
    assert main([str(first), str(second)]) == 0
    assert json.loads(capsys.readouterr().out)["bookmarks"]["events"]["replication_key_value"] == DAYS[2]
    (tmp_path / "empty.json").write_text("")
    assert main([str(first), str(tmp_path / "empty.json")]) == 1
    assert "empty; a task that wrote no state must be rerun" in capsys.readouterr().err
