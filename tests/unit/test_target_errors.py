"""target_bigquery_smart.errors: errors grouped by what the caller should do, carrying what they name."""

from __future__ import annotations

import concurrent.futures

import pytest
from singer_sdk.exceptions import ConfigValidationError, MissingKeyPropertiesError
from singer_sdk.singerlib.exceptions import InvalidInputLine

from plugin_kit.errors import ConfigError
from target_bigquery_smart import load_jobs
from target_bigquery_smart.errors import (
    BigQueryUnreachableError,
    InputError,
    JobDeadlineError,
    LoadError,
    MissingKeyError,
    RejectedRowsError,
    SchemaMismatchError,
    TargetConfigError,
    UnstorableValueError,
)


def test_errors_fall_in_three_groups_by_what_the_caller_does():
    assert issubclass(TargetConfigError, ConfigError)
    assert issubclass(TargetConfigError, ConfigValidationError)
    assert issubclass(InputError, InvalidInputLine)
    assert issubclass(MissingKeyError, MissingKeyPropertiesError)
    assert issubclass(UnstorableValueError, ValueError)
    for kind in (BigQueryUnreachableError, JobDeadlineError, RejectedRowsError, SchemaMismatchError):
        assert issubclass(kind, LoadError)


def test_errors_carry_what_they_name():
    assert TargetConfigError("Target config 'batch_size' must be a positive integer, got 0.").key == "batch_size"
    assert TargetConfigError("Config key 'credentials_json' is not valid JSON.").key == "credentials_json"
    assert TargetConfigError("Target config: unknown key(s) 'flaten'.").key is None
    assert TargetConfigError("Target config: unknown key(s) 'flaten'.", key="flaten").key == "flaten"
    assert InputError("bad", stream="items").stream == "items"
    missing = MissingKeyError("lacks id", stream="items", record_number=3)
    assert (missing.stream, missing.record_number) == ("items", 3)
    error = LoadError("not stored", stream="items", job_id="job-1", located=True)
    assert (error.stream, error.job_id, error.located) == ("items", "job-1", True)
    assert LoadError("x").located is False
    assert JobDeadlineError("late").located is True


class _SlowJob:
    """A job whose ``result`` times out, as ``google.cloud.bigquery`` jobs do past their timeout."""

    location = "US"

    def result(self, timeout=None):
        raise concurrent.futures.TimeoutError


class _Client:
    def __init__(self):
        self.cancelled = []

    def cancel_job(self, job_id, location=None):
        self.cancelled.append((job_id, location))


def test_a_job_past_its_deadline_is_cancelled_and_its_error_names_the_job():
    client = _Client()
    with pytest.raises(JobDeadlineError) as info:
        load_jobs.run_idempotent(client, "job-7", _SlowJob, "Load job into p.d.t", timeout=5)
    assert info.value.job_id == "job-7"
    assert client.cancelled == [("job-7", "US")]
    assert str(info.value).startswith("Load job into p.d.t (job job-7) was not done after 5 s (job_timeout_seconds)")
