"""Acceptance of partitioned runs: 8 ``tap | target`` pipelines at once, as an Indexed Job runs them.

One local events API (scripts/events_api.py) of records spread over 40 days; 8 pipelines with
``JOB_COMPLETION_INDEX`` 0..7 and ``JOB_COMPLETION_COUNT`` 8 load one emulator table.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from pathlib import Path

import pytest
from events_api import EventsAPI
from helpers import BIN

from tap_generic_api.partitions.combine import combine
from tap_generic_api.partitions.plan import SHARE_LOG_PREFIX

TASKS = 8
START, END = "2024-01-01T00:00:00Z", "2024-02-10T00:00:00Z"  # 40 days


def tap_config(url: str) -> dict:
    return {
        "name": "events",
        "url": url,
        "data_path": "data",
        "params": {"since": "{start_date}", "until": "{end_date}"},
        "pagination": {"type": "offset", "limit": 1000},
        "replication_key": "updated_at",
        "is_sorted": True,
        "start_date": START,
        "end_date": END,
        "date_window_size": 1,
        "destination": {"key_fields": ["id"]},
        "partition": "auto",
    }


class Pipeline:
    """``tap-generic-api | target-bigquery-smart`` as one task of an Indexed Job (real processes)."""

    def __init__(self, tmp_path: Path, index: int, tap: dict, target: dict, state: dict | None = None) -> None:
        folder = tmp_path / f"task-{index}-{os.urandom(3).hex()}"
        folder.mkdir()
        (folder / "tap.json").write_text(json.dumps(tap))
        (folder / "target.json").write_text(json.dumps(target))
        command = [str(BIN / "tap-generic-api"), "--config", str(folder / "tap.json")]
        if state is not None:
            (folder / "state.json").write_text(json.dumps(state))
            command += ["--state", str(folder / "state.json")]
        env = {**os.environ, "JOB_COMPLETION_INDEX": str(index), "JOB_COMPLETION_COUNT": str(TASKS)}
        self.tap_log = folder / "tap.log"
        self.target_log = folder / "target.log"
        with self.tap_log.open("wb") as tap_err, self.target_log.open("wb") as target_err:
            self.tap = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=tap_err, env=env)
            self.target = subprocess.Popen(
                [str(BIN / "target-bigquery-smart"), "--config", str(folder / "target.json")],
                stdin=self.tap.stdout,
                stdout=subprocess.PIPE,
                stderr=target_err,
                text=True,
            )
        self.tap.stdout.close()
        self.states: queue.Queue[dict] = queue.Queue()
        self.last_state: dict | None = None
        threading.Thread(target=self._read_states, daemon=True).start()

    def _read_states(self) -> None:
        for line in self.target.stdout:
            if line.strip():
                self.states.put(json.loads(line))
        self.states.put({})  # end of output

    def wait(self) -> tuple[int, int]:
        target = self.target.wait(timeout=600)
        tap = self.tap.wait(timeout=600)
        return tap, target

    def drain_states(self) -> dict | None:
        """Return the last STATE the target wrote (after its output ended)."""
        while True:
            state = self.states.get(timeout=600)
            if not state:
                return self.last_state
            self.last_state = state

    def shares(self) -> list[dict]:
        return [
            json.loads(line.split(SHARE_LOG_PREFIX, 1)[1])
            for line in self.tap_log.read_text().splitlines()
            if SHARE_LOG_PREFIX in line
        ]


def run_all(pipelines: list[Pipeline]) -> list[dict]:
    codes = [p.wait() for p in pipelines]
    assert codes == [(0, 0)] * len(pipelines), [p.target_log.read_text()[-1500:] for p in pipelines]
    return [p.drain_states() for p in pipelines]


def check_shares_tile(shares: list[dict]) -> None:
    """The tasks' logged shares cover [START, END) with no gap and no overlap."""
    shares = sorted(shares, key=lambda s: s["index"])
    assert [s["index"] for s in shares] == list(range(TASKS))
    assert shares[0]["start"] == START
    assert shares[-1]["end"] == END
    for before, after in zip(shares, shares[1:], strict=False):
        assert before["end"] == after["start"]
        assert before["windows"][1] == after["windows"][0]
    assert sum(s["windows"][1] - s["windows"][0] for s in shares) == shares[0]["of"] == 40


def counts(bq_client, target_config: dict) -> tuple[int, int]:
    sql = (
        f"SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids FROM "
        f"`{target_config['project']}.{target_config['dataset']}.events`"
    )
    row = next(iter(bq_client.query_and_wait(sql)))
    return row["n"], row["ids"]


#: Records in the acceptance test: 100,000 ran in about 45 s here (8 pipelines on 2 cores).
RECORDS = 100_000
#: Records in the kill-and-rerun tests: fewer, since 8 targets in merge mode at once run about
#: 1,000 rows/s in all on the emulator (a staging load and a MERGE per batch).
KILL_RECORDS = 20_000


def test_eight_tasks_load_every_record_once(tmp_path, target_config, bq_client):
    target = {**target_config, "flatten": True, "batch_size": 5000}
    with EventsAPI(RECORDS, days=40) as api:
        pipelines = [Pipeline(tmp_path, i, tap_config(api.url), target) for i in range(TASKS)]
        states = run_all(pipelines)
    assert counts(bq_client, target_config) == (RECORDS, RECORDS)
    check_shares_tile([share for p in pipelines for share in p.shares()])
    combined = combine(states)
    assert combined == {"bookmarks": {"events": {"replication_key": "updated_at", "replication_key_value": END}}}


@pytest.mark.parametrize("write_mode", ["merge", "append"])
def test_task_killed_mid_run_and_rerun_alone_from_its_state(tmp_path, target_config, bq_client, write_mode):
    target = {**target_config, "flatten": True, "batch_size": 5000, "write_mode": write_mode}
    # Task 3 commits every 1,000 rows, so that its STATE moves while its run is held.
    target3 = {**target, "batch_size": 1000}
    # Task 3 takes days 15 to 20 (windows 15..19), 500 records a day. Its request for the day
    # from 2024-01-19 (window 18) gets no answer until the test has killed the task: the days
    # before it are read, and STATE says so.
    held = threading.Event()
    with EventsAPI(KILL_RECORDS, days=40) as api:
        answer = api.answer

        def hold_day_18(path: str) -> tuple[int, dict]:
            if "since=2024-01-19T00" in path.replace("%3A", ":") and not held.is_set():
                held.wait(timeout=600)
            return answer(path)

        api.answer = hold_day_18
        tap = {**tap_config(api.url), "timeout": 600}
        pipelines = [Pipeline(tmp_path, i, tap, target3 if i == 3 else target) for i in range(TASKS)]
        task3 = pipelines.pop(3)
        # Wait for a STATE of task 3 past day 17 (its bookmark inside its share), then kill it.
        while True:
            state = task3.states.get(timeout=600)
            assert state, task3.target_log.read_text()[-2000:]
            value = state["bookmarks"]["events"].get("replication_key_value", "")
            if value >= "2024-01-17":
                break
        task3.target.kill()
        task3.tap.kill()
        task3.wait()
        held.set()
        others = run_all(pipelines)
        killed_state = state
        assert killed_state["bookmarks"]["events"]["partition"]["complete"] is False
        # The combined state stops at task 3's bookmark: never past the failed task.
        stop = combine([*others[:3], killed_state, *others[3:]])["bookmarks"]["events"]["replication_key_value"]
        assert stop == killed_state["bookmarks"]["events"]["replication_key_value"]
        # Task 3 again, alone, from its state.
        rerun = Pipeline(tmp_path, 3, tap, target, state=killed_state)
        (rerun_state,) = run_all([rerun])
    (share,) = rerun.shares()
    assert share["rerun"] is True
    assert share["fetch_from"] == killed_state["bookmarks"]["events"]["replication_key_value"]
    rows, ids = counts(bq_client, target_config)
    assert ids == KILL_RECORDS
    if write_mode == "merge":
        assert rows == KILL_RECORDS
    else:
        assert rows >= KILL_RECORDS  # at least once: records at the bookmark come again
    combined = combine([*others[:3], rerun_state, *others[3:]])
    assert combined["bookmarks"]["events"]["replication_key_value"] == END
