"""Write-path settings: ``write_method``, ``storage_api_endpoint``, the load-job budget, ``partition_count``."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from target_bigquery_smart.errors import TargetConfigError

WRITE_METHODS = ("smart", "storage_write", "load_job", "streaming")
#: Environment variables holding the number of parallel tasks of a job, read by ``partition_count: auto``:
#: Cloud Run jobs (https://cloud.google.com/run/docs/container-contract#jobs-env-vars) and
#: Kubernetes indexed Jobs (https://kubernetes.io/docs/concepts/workloads/controllers/job/).
PARTITION_COUNT_VARIABLES = ("CLOUD_RUN_TASK_COUNT", "JOB_COMPLETION_COUNT")
_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$")


def partition_count(value: Any, environ: Mapping[str, str] | None = None) -> int:
    """Return the number of parallel runs sharing the load-job budget.

    Args:
        value: ``partition_count`` as configured: a positive integer (or its text), or ``"auto"``.
        environ: The environment (default ``os.environ``) read by ``"auto"``: the first of
            :data:`PARTITION_COUNT_VARIABLES` set, else 1.

    Raises:
        TargetConfigError: Not a positive integer nor ``auto``; or ``auto`` and the variable is
            not a positive integer (the message names it).
    """
    if value is None:
        return 1
    if isinstance(value, str) and value.strip().lower() == "auto":
        env = os.environ if environ is None else environ
        for name in PARTITION_COUNT_VARIABLES:
            if env.get(name):
                text = env[name].strip()
                if not text.isdigit() or int(text) <= 0:
                    msg = f"Target config 'partition_count' is 'auto' and {name} is {text!r}, not a positive integer."
                    raise TargetConfigError(msg)
                return int(text)
        return 1
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        msg = f"Target config 'partition_count' must be a positive integer or 'auto', got {value!r}."
        raise TargetConfigError(msg)
    return value


def write_path_settings(config: Mapping[str, Any], max_jobs: int) -> dict[str, Any]:
    """Check the write-path keys of the target config and return them as :class:`Settings` fields.

    ``max_load_jobs_per_table`` is divided by ``partition_count`` (at least 1 job each).

    Raises:
        TargetConfigError: A key is invalid; ``write_method: storage_write`` with ``api_endpoint``
            (a local emulator) but no ``storage_api_endpoint``.
    """
    method = config.get("write_method") or WRITE_METHODS[0]
    if method not in WRITE_METHODS:
        msg = f"Target config 'write_method': invalid value {method!r}. Valid values: {', '.join(WRITE_METHODS)}."
        raise TargetConfigError(msg)
    endpoint = config.get("storage_api_endpoint") or None
    if endpoint is not None and (not isinstance(endpoint, str) or not _HOST_PORT.match(endpoint)):
        shown = "a value with a user:password in it" if "@" in str(endpoint) else repr(endpoint)
        msg = (
            "Target config 'storage_api_endpoint' must be host:port of a plaintext gRPC endpoint, such as "
            f"127.0.0.1:9060 (the local emulator's --grpc-port); got {shown}."
        )
        raise TargetConfigError(msg)
    if method == "storage_write" and config.get("api_endpoint") and endpoint is None:
        msg = (
            "Target config 'write_method' is storage_write and 'api_endpoint' points at a local BigQuery, "
            "but 'storage_api_endpoint' is not set: give the host:port of its gRPC port."
        )
        raise TargetConfigError(msg)
    return {
        "write_method": method,
        "storage_api_endpoint": endpoint,
        "max_load_jobs_per_table": max(1, max_jobs // partition_count(config.get("partition_count"))),
    }
