"""write_method, storage_api_endpoint, max_load_jobs_per_table and partition_count: checks and the missing extra."""

from __future__ import annotations

import sys

import pytest

from target_bigquery_smart.client import make_storage_client
from target_bigquery_smart.errors import TargetConfigError
from target_bigquery_smart.settings import parse_settings
from target_bigquery_smart.write_settings import partition_count

BASE = {"project": "p", "dataset": "d"}


def test_partition_count_auto_reads_cloud_run_then_kubernetes():
    assert partition_count("auto", {"CLOUD_RUN_TASK_COUNT": "8", "JOB_COMPLETION_COUNT": "3"}) == 8
    assert partition_count("auto", {"JOB_COMPLETION_COUNT": "3"}) == 3
    assert partition_count("auto", {}) == 1
    assert partition_count(4) == 4
    assert partition_count("4") == 4


def test_budget_is_divided_by_partition_count():
    settings = parse_settings({**BASE, "max_load_jobs_per_table": 1000, "partition_count": 3})
    assert settings.max_load_jobs_per_table == 333


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"partition_count": 0}, "'partition_count' must be a positive integer or 'auto', got 0"),
        ({"write_method": "fast"}, "'write_method': invalid value 'fast'. Valid values: smart, storage_write"),
        ({"storage_api_endpoint": "http://x:1"}, "'storage_api_endpoint' must be host:port"),
        (
            {"write_method": "storage_write", "api_endpoint": "http://127.0.0.1:9050"},
            "'storage_api_endpoint' is not set",
        ),
        ({"max_load_jobs_per_table": 0}, "'max_load_jobs_per_table' must be a positive integer"),
    ],
)
def test_bad_values_name_the_key(config, message):
    with pytest.raises(TargetConfigError, match="Target config") as info:
        parse_settings({**BASE, **config})
    assert message in str(info.value)


def test_auto_with_a_bad_variable_names_it(monkeypatch):
    monkeypatch.setenv("CLOUD_RUN_TASK_COUNT", "many")
    with pytest.raises(TargetConfigError, match="CLOUD_RUN_TASK_COUNT is 'many'"):
        parse_settings({**BASE, "partition_count": "auto"})


def test_storage_write_without_the_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.cloud.bigquery_storage_v1", None)  # import fails
    with pytest.raises(TargetConfigError) as info:
        make_storage_client({**BASE, "api_endpoint": "http://127.0.0.1:9", "storage_api_endpoint": "127.0.0.1:9"})
    assert "pip install 'tap-generic-api-bigquery[storage]'" in str(info.value)
