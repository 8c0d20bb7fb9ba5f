"""The target's config, checked once: every error names the key."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_sdk import typing as th

from plugin_kit.config_checks import check_known_keys as check_block_keys
from plugin_kit.quiet_logs import metrics_log_level_property
from target_bigquery_smart.errors import TargetConfigError, UnstorableValueError
from target_bigquery_smart.schema import RESERVED_PREFIXES
from target_bigquery_smart.write_settings import WRITE_METHODS, write_path_settings

WRITE_MODES = ("append", "merge")
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
# Project ids: letters, digits, hyphens; legacy domain-scoped ids add "domain:" and dots.
_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:_-]{0,127}$")


#: Every target setting, declared once: its type, default and description. The SDK builds
#: ``--about`` and the config validation from it; :data:`DEFAULTS` and :class:`Settings` read
#: their defaults from it.
CONFIG_SCHEMA: dict = th.PropertiesList(
    th.Property("project", th.StringType, required=True, description="GCP project id."),
    th.Property("dataset", th.StringType, required=True, description="BigQuery dataset (created if missing)."),
    th.Property("location", th.StringType, default="US", description="Dataset location for new datasets."),
    th.Property(
        "credentials_path",
        th.StringType,
        description="Path to a service-account key file (default: Application Default Credentials).",
    ),
    th.Property(
        "credentials_json",
        th.StringType,
        secret=True,
        description="Service-account key as JSON text.",
    ),
    th.Property(
        "api_endpoint",
        th.StringType,
        description="BigQuery API endpoint, e.g. a local emulator (then anonymous credentials).",
        examples=["http://127.0.0.1:9050"],
    ),
    th.Property("org_slug", th.StringType, description="Organisation slug written to the org_slug column."),
    th.Property(
        "batch_size",
        th.IntegerType,
        default=1000,
        description=(
            "Rows per batch and stream; a full batch is committed. Memory holds at most two batches per "
            "stream (one committing while the next is read). Takes the place of the extractor's "
            "destination.batch_size."
        ),
    ),
    th.Property(
        "batch_max_bytes",
        th.IntegerType,
        default=50_000_000,
        description=(
            "Input bytes per batch and stream (the RECORD lines as read) at which a batch is committed before "
            "it has batch_size rows; bounds memory for large records."
        ),
    ),
    th.Property(
        "job_timeout_seconds",
        th.NumberType,
        default=900,
        description=(
            "Longest wait for one load job or MERGE; a job still running then fails the run with its job id "
            "(no STATE past its rows), so a scheduler can run it again."
        ),
    ),
    th.Property(
        "streaming_threshold",
        th.IntegerType,
        default=100,
        description="Batches with fewer rows go by streaming insert; others by load job.",
    ),
    th.Property(
        "flatten",
        th.BooleanType,
        description="One column per SCHEMA property instead of org_slug/raw_data/extracted_at (default false).",
    ),
    th.Property(
        "add_fields",
        th.ObjectType(additional_properties=True),
        description="Extra STRING columns: name -> constant, '{org_slug}' or '{now}'.",
    ),
    th.Property(
        "transform",
        th.ObjectType(
            th.Property("flatten", th.BooleanType),
            th.Property("add_fields", th.ObjectType(additional_properties=True)),
        ),
        description="The extractor's form of flatten and add_fields (top-level keys win).",
    ),
    th.Property(
        "write_mode",
        th.StringType,
        allowed_values=list(WRITE_MODES),
        description="append (default) or merge: upsert by key properties via a staging table and MERGE.",
    ),
    th.Property(
        "write_method",
        th.StringType,
        default="smart",
        allowed_values=list(WRITE_METHODS),
        description=(
            "How batches reach BigQuery: smart (streaming insert below streaming_threshold rows, load job "
            "otherwise), storage_write (the Storage Write API: exactly-once appends at explicit offsets; needs the "
            "'storage' extra), load_job, or streaming. See docs/STORAGE_WRITE.md."
        ),
    ),
    th.Property(
        "storage_api_endpoint",
        th.StringType,
        description=(
            "host:port of a plaintext gRPC Storage Write API endpoint, e.g. the local emulator's --grpc-port "
            "(needed for storage_write together with api_endpoint; default: Google's endpoint)."
        ),
        examples=["127.0.0.1:9060"],
    ),
    th.Property(
        "max_load_jobs_per_table",
        th.IntegerType,
        default=1000,
        description=(
            "Load jobs and MERGEs per table in one run (divided by partition_count) before the target stops "
            "starting new ones: the table then goes by storage_write when available, else the rest of the run "
            "is coalesced into one load job. BigQuery allows 1,500 per table per day."
        ),
    ),
    th.Property(
        "partition_count",
        th.CustomType({"type": ["integer", "string"]}),
        default=1,
        description=(
            "Parallel runs writing the same tables, sharing max_load_jobs_per_table: an integer, or 'auto' to "
            "read CLOUD_RUN_TASK_COUNT or JOB_COMPLETION_COUNT from the environment (1 when neither is set)."
        ),
    ),
    th.Property(
        "storage_write_queued_batches",
        th.IntegerType,
        default=4,
        description=(
            "With write_method storage_write in append mode: batches read while an append is in flight wait "
            "(at most this many; then reading waits too) and go together in the next append, so a slow "
            "BigQuery gets fewer, larger requests; STATE after each batch still waits for its acknowledgement. "
            "0: one batch per append."
        ),
    ),
    th.Property(
        "dead_letter_table",
        th.StringType,
        description="Table in the dataset collecting refused rows with their reasons (default: fail the run).",
    ),
    th.Property(
        "partition_by_extracted_at",
        th.BooleanType,
        description="Day-partition new tables on extracted_at (default false).",
    ),
    th.Property(
        "compress_uploads",
        th.BooleanType,
        description="gzip load-job uploads (default true; false with api_endpoint, as the emulator needs).",
    ),
    th.Property(
        "cluster_on_key_fields",
        th.BooleanType,
        description="Cluster new tables on the key columns (default false).",
    ),
    metrics_log_level_property(),
    th.Property(
        "validate_records",
        th.BooleanType,
        description=(
            "Validate records against their SCHEMA; a record that fails is refused (dead-letter table or a "
            "failed run). Default: on with flatten; off in the raw layout, whose raw_data column stores any "
            "JSON object as it came, so validation could only refuse records BigQuery can store."
        ),
    ),
).to_dict()

#: Defaults declared in :data:`CONFIG_SCHEMA`, by key.
DEFAULTS: dict[str, Any] = {
    key: spec["default"] for key, spec in CONFIG_SCHEMA["properties"].items() if "default" in spec
}
DEFAULT_BATCH_SIZE: int = DEFAULTS["batch_size"]
DEFAULT_STREAMING_THRESHOLD: int = DEFAULTS["streaming_threshold"]


@dataclass(frozen=True)
class Settings:
    """Target settings with defaults applied.

    Attributes:
        batch_size: Rows buffered per stream before a commit.
        streaming_threshold: Batches with fewer rows go by streaming insert.
        flatten: One column per SCHEMA property instead of the raw ELT wrap.
        add_fields: Extra columns: name -> constant or ``{org_slug}`` / ``{now}`` template.
        write_mode: ``append`` or ``merge`` (upsert by key properties).
        dead_letter_table: Table (same dataset) collecting refused rows, or None to fail.
        partition_by_extracted_at: Day-partition new tables on ``extracted_at``.
        cluster_on_key_fields: Cluster new tables on the key columns.
        org_slug: Written to the ``org_slug`` column.
        compress_uploads: gzip load-job uploads (default: on, off with ``api_endpoint``).
        job_timeout_seconds: Longest wait for one load job or MERGE before the run fails.
        batch_max_bytes: Input bytes per batch and stream after which the batch is committed.
        write_method: ``smart``, ``storage_write``, ``load_job`` or ``streaming``.
        storage_api_endpoint: ``host:port`` of a plaintext gRPC Storage Write endpoint, or None.
        max_load_jobs_per_table: Load jobs and MERGEs per table in this run (already divided by
            the partition count) before the table switches path (:mod:`.quota`).
        validate_records: Check records against their SCHEMA (when not set: with ``flatten`` only).
        storage_write_queued_batches: Batches that may wait for the Storage Write append in
            flight and then go in one append (0: one batch per append).
    """

    batch_size: int = DEFAULT_BATCH_SIZE
    streaming_threshold: int = DEFAULT_STREAMING_THRESHOLD
    flatten: bool = False
    add_fields: Mapping[str, Any] = field(default_factory=dict)
    write_mode: str = "append"
    dead_letter_table: str | None = None
    partition_by_extracted_at: bool = False
    cluster_on_key_fields: bool = False
    org_slug: str | None = None
    compress_uploads: bool = True
    job_timeout_seconds: float = float(DEFAULTS["job_timeout_seconds"])
    batch_max_bytes: int = DEFAULTS["batch_max_bytes"]
    write_method: str = DEFAULTS["write_method"]
    storage_api_endpoint: str | None = None
    max_load_jobs_per_table: int = DEFAULTS["max_load_jobs_per_table"]
    validate_records: bool = False
    storage_write_queued_batches: int = DEFAULTS["storage_write_queued_batches"]


def _positive_int(config: Mapping[str, Any], key: str) -> int:
    value = config.get(key)
    if value is None:
        return DEFAULTS[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        msg = f"Target config '{key}' must be a positive integer, got {value!r}."
        raise TargetConfigError(msg)
    return value


def _non_negative_int(config: Mapping[str, Any], key: str) -> int:
    value = config.get(key)
    if value is None:
        return DEFAULTS[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = f"Target config '{key}' must be 0 or a positive integer, got {value!r}."
        raise TargetConfigError(msg)
    return value


def _positive_number(config: Mapping[str, Any], key: str) -> float:
    value = config.get(key)
    if value is None:
        return float(DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
        msg = f"Target config '{key}' must be a positive number, got {value!r}."
        raise TargetConfigError(msg)
    return float(value)


#: Keys of the ``transform`` block (the extractor's form of ``flatten`` and ``add_fields``).
TRANSFORM_KEYS = ("add_fields", "flatten")


def check_known_keys(config: Mapping[str, Any], valid: Iterable[str]) -> None:
    """Refuse config keys the target does not know, before any input is read.

    A misspelt key (``flaten``) would otherwise be ignored and its default used silently.
    The same rule holds inside ``transform``.

    Args:
        config: The target config as given.
        valid: Every setting the target declares (its config schema's properties).

    Raises:
        TargetConfigError: Unknown keys; the message names each with the closest valid key
            and lists the valid keys (:func:`plugin_kit.config_checks.unknown_keys_error`).
    """
    check_block_keys(config, valid, where="Target config", error=TargetConfigError)
    transform = config.get("transform")
    if isinstance(transform, Mapping):
        check_block_keys(transform, TRANSFORM_KEYS, where="Target config 'transform'", error=TargetConfigError)


def parse_settings(config: Mapping[str, Any]) -> Settings:
    """Check the target config and return its :class:`Settings`.

    ``transform.flatten`` and ``transform.add_fields`` (the extractor's form) are accepted as
    well as top-level ``flatten`` and ``add_fields``; top-level keys win.

    Raises:
        TargetConfigError: A setting is invalid.
    """
    transform = config.get("transform") or {}
    if not isinstance(transform, Mapping):
        msg = "Target config 'transform' must be an object with 'flatten' and/or 'add_fields'."
        raise TargetConfigError(msg)
    flatten = config.get("flatten", transform.get("flatten", False))
    if not isinstance(flatten, bool):
        msg = f"Target config 'flatten' must be true or false, got {flatten!r}."
        raise TargetConfigError(msg)
    add_fields = {**(transform.get("add_fields") or {}), **(config.get("add_fields") or {})}
    seen: set[str] = set()
    for name in add_fields:
        lower = str(name).lower()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,299}", str(name)) or lower.startswith(RESERVED_PREFIXES):
            msg = f"Target config 'add_fields': '{name}' is not a valid BigQuery column name."
            raise TargetConfigError(msg)
        if (
            lower in ("raw_data", "_sdc_extra", "_sdc_key_hash")
            or lower in seen
            or (lower in ("org_slug", "extracted_at") and name != lower)
        ):
            msg = (
                f"Target config 'add_fields': '{name}' clashes with another column (raw_data, _sdc_extra, "
                "_sdc_key_hash, or a name differing only by case); org_slug and extracted_at (lower-case) "
                "set those columns."
            )
            raise TargetConfigError(msg)
        seen.add(lower)
    extracted = add_fields.get("extracted_at")
    if isinstance(extracted, str) and extracted != "{now}":
        from target_bigquery_smart.values import convert

        try:
            convert(extracted, "TIMESTAMP")
        except UnstorableValueError as exc:
            msg = f"Target config 'add_fields.extracted_at': {exc}; use '{{now}}' or an ISO-8601 timestamp."
            raise TargetConfigError(msg) from None
    write_mode = config.get("write_mode") or "append"
    if write_mode not in WRITE_MODES:
        msg = f"Target config 'write_mode': invalid value {write_mode!r}. Valid values: {', '.join(WRITE_MODES)}."
        raise TargetConfigError(msg)
    dead_letter = config.get("dead_letter_table") or None
    if dead_letter is not None and not _TABLE_NAME.match(str(dead_letter)):
        msg = f"Target config 'dead_letter_table': {dead_letter!r} is not a table name (letters, digits, _)."
        raise TargetConfigError(msg)
    dataset = config.get("dataset")
    if not isinstance(dataset, str) or not _TABLE_NAME.match(dataset):
        msg = f"Target config 'dataset': {dataset!r} is not a dataset name (letters, digits and _ only)."
        raise TargetConfigError(msg)
    project = config.get("project")
    if not isinstance(project, str) or not _PROJECT.match(project):
        msg = f"Target config 'project': {project!r} is not a project id."
        raise TargetConfigError(msg)
    return Settings(
        batch_size=_positive_int(config, "batch_size"),
        streaming_threshold=_positive_int(config, "streaming_threshold"),
        flatten=flatten,
        add_fields=add_fields,
        write_mode=write_mode,
        dead_letter_table=dead_letter,
        partition_by_extracted_at=bool(config.get("partition_by_extracted_at", False)),
        cluster_on_key_fields=bool(config.get("cluster_on_key_fields", False)),
        org_slug=config.get("org_slug"),
        # The local emulator cannot read gzip uploads; Google's endpoint can.
        compress_uploads=bool(config.get("compress_uploads", not config.get("api_endpoint"))),
        job_timeout_seconds=_positive_number(config, "job_timeout_seconds"),
        batch_max_bytes=_positive_int(config, "batch_max_bytes"),
        **write_path_settings(config, _positive_int(config, "max_load_jobs_per_table")),
        validate_records=_validate_records(config, flatten=flatten),
        storage_write_queued_batches=_non_negative_int(config, "storage_write_queued_batches"),
    )


def _validate_records(config: Mapping[str, Any], *, flatten: bool) -> bool:
    """Return ``validate_records``: as set, else on for flattened columns only (see the schema's description).

    Raises:
        TargetConfigError: The value is not a boolean.
    """
    value = config.get("validate_records")
    if value is None:
        return flatten
    if not isinstance(value, bool):
        msg = f"Target config 'validate_records' must be true or false, got {value!r}."
        raise TargetConfigError(msg)
    return value
