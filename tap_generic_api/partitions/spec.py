"""The ``partition`` setting: this task's index and the task count, from config or the engine's environment.

Engines that start N copies of one job tell each copy its index (and some the count) in
environment variables:

- Kubernetes Indexed Jobs set ``JOB_COMPLETION_INDEX``
  (https://kubernetes.io/docs/concepts/workloads/controllers/job/#completion-mode); Kubernetes does
  not expose the count, so the manifest sets ``JOB_COMPLETION_COUNT`` to ``.spec.completions``.
- Cloud Run jobs set ``CLOUD_RUN_TASK_INDEX`` and ``CLOUD_RUN_TASK_COUNT``
  (https://cloud.google.com/run/docs/container-contract#jobs-env-vars).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plugin_kit.errors import ConfigError

#: Where ``partition: auto`` reads the task's index, first set wins.
INDEX_VARIABLES = ("JOB_COMPLETION_INDEX", "CLOUD_RUN_TASK_INDEX")
#: Where ``partition: auto`` reads the task count, first set wins.
COUNT_VARIABLES = ("CLOUD_RUN_TASK_COUNT", "JOB_COMPLETION_COUNT")
AUTO = "auto"


@dataclass(frozen=True)
class Partition:
    """A task's place among the run's tasks.

    Attributes:
        index: This task's index, ``0 <= index < count``.
        count: How many tasks share the run (at least 1).
        source: Where the values came from (``config partition`` or the variable names), for log lines.
    """

    index: int
    count: int
    source: str = "config partition"


def _integer(value: Any, where: str) -> int:
    """Return ``value`` as an int: an integer, or digits as text (environment variables are text).

    Raises:
        ConfigError: Not an integer; names ``where``.
    """
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    if isinstance(value, int):
        return value
    msg = f"{where} must be a whole number, got {value!r}."
    raise ConfigError(msg)


def _from_environment(environ: Mapping[str, str]) -> Partition:
    """Read ``partition: auto`` from the engine's variables (module docstring).

    Raises:
        ConfigError: The index or count variable is missing, or two index variables disagree.
    """
    indexes = [(name, environ[name]) for name in INDEX_VARIABLES if environ.get(name, "").strip()]
    counts = [(name, environ[name]) for name in COUNT_VARIABLES if environ.get(name, "").strip()]
    if not indexes:
        msg = (
            f"Config partition is 'auto' but none of {', '.join(INDEX_VARIABLES)} is set: run the tap as a "
            "Kubernetes Indexed Job or a Cloud Run job, or set partition: {index, count}."
        )
        raise ConfigError(msg)
    if not counts:
        msg = (
            f"Config partition is 'auto' and {indexes[0][0]} is set, but neither {' nor '.join(COUNT_VARIABLES)} "
            "is: set JOB_COMPLETION_COUNT to the Job's .spec.completions in the manifest."
        )
        raise ConfigError(msg)
    values = {name: _integer(value, f"Environment variable {name}") for name, value in indexes}
    if len(set(values.values())) > 1:
        msg = f"Config partition is 'auto' and the index variables disagree: {values}."
        raise ConfigError(msg)
    name, raw = counts[0]
    index_name = indexes[0][0]
    return _checked(values[index_name], _integer(raw, f"Environment variable {name}"), index_name, name)


def _checked(index: int, count: int, index_where: str, count_where: str) -> Partition:
    if count < 1:
        msg = f"{count_where} is the number of tasks and must be at least 1, got {count}."
        raise ConfigError(msg)
    if not 0 <= index < count:
        msg = f"{index_where} must be from 0 to {count - 1} ({count_where} is {count}), got {index}."
        raise ConfigError(msg)
    source = "config partition" if index_where.startswith("Config") else f"{index_where}, {count_where}"
    return Partition(index=index, count=count, source=source)


def parse_partition(value: Any, environ: Mapping[str, str]) -> Partition | None:
    """Return this task's partition from config ``partition``, or None when the run is not split.

    Args:
        value: Config ``partition``: absent (None), ``{"index": i, "count": n}``, or ``"auto"``
            (read from :data:`INDEX_VARIABLES` and :data:`COUNT_VARIABLES` in ``environ``).
        environ: The process environment.

    Raises:
        ConfigError: A missing, non-integer, negative or out-of-range index or count, naming the
            config key or the environment variable at fault.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if value.strip().lower() != AUTO:
            msg = f"Config partition must be 'auto' or {{index, count}}, got {value!r}."
            raise ConfigError(msg)
        return _from_environment(environ)
    if not isinstance(value, Mapping):
        msg = f"Config partition must be 'auto' or {{index, count}}, got {type(value).__name__}."
        raise ConfigError(msg)
    unknown = sorted(set(value) - {"index", "count"})
    if unknown:
        msg = f"Config partition has unknown key(s) {unknown}; it takes index and count."
        raise ConfigError(msg)
    for key in ("index", "count"):
        if value.get(key) is None:
            msg = f"Config partition.{key} is missing: partition takes {{index, count}}."
            raise ConfigError(msg)
    index = _integer(value["index"], "Config partition.index")
    count = _integer(value["count"], "Config partition.count")
    return _checked(index, count, "Config partition.index", "Config partition.count")
