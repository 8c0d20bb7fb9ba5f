"""The tap's settings: the one declaration of every config key, its default and its description.

The tap's ``config_jsonschema`` (``--about``, Meltano) is :data:`CONFIG_SCHEMA`; the key sets
that make a misspelt key an error (:data:`STREAM_KEYS`, :data:`NESTED_KEYS`,
:data:`TOP_LEVEL_KEYS`) and the defaults the config parser applies (:func:`default`) are read
from it, never written again.

Stream-level properties declare no JSON-schema ``default``: the SDK writes schema defaults into
the config, including every ``streams[]`` item, where they would override top-level defaults.
A default is declared as the ``x-default`` annotation instead (:func:`setting`), applied by
:mod:`tap_generic_api.config`, and quoted in the description from the same value.
"""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th

from plugin_kit.quiet_logs import metrics_log_level_property

AUTH_TYPES = ("bearer", "header", "query", "basic", "oauth2")
PAGINATION_TYPES = ("cursor", "offset", "page", "link", "none")
METHODS = ("GET", "POST")
OAUTH2_GRANTS = ("client_credentials", "refresh_token")
PAGINATION_LOCATIONS = ("query", "body")
RESPONSE_FORMATS = ("json", "jsonl", "csv")
#: Pages read to infer a stream's schema (``infer_schema``).
INFER_SCHEMA_PAGES = 3

#: JSON-schema annotation holding a setting's default (the SDK does not apply it).
DEFAULT_ANNOTATION = "x-default"


def setting(name: str, wrapped: Any, *, default: Any, description: str, **options: Any) -> th.Property:
    """Return a property whose default is declared with it.

    Args:
        name: The config key.
        wrapped: Its singer-sdk type.
        default: The value used when the key is absent.
        description: Its description; ``{default}`` is replaced by the default (floats that are
            whole numbers written without ``.0``).
        **options: Other :class:`singer_sdk.typing.Property` options.
    """
    shown = int(default) if isinstance(default, float) and default.is_integer() else default
    return th.Property(
        name, wrapped, description=description.format(default=shown), **options, **{DEFAULT_ANNOTATION: default}
    )


_STRING_MAP = th.ObjectType(additional_properties=th.StringType)


AUTH_SCHEMA = th.ObjectType(
    th.Property(
        "type",
        th.StringType,
        allowed_values=list(AUTH_TYPES),
        description="How the credential is sent: bearer, header, query, basic or oauth2 (default bearer).",
    ),
    th.Property(
        "provider",
        th.StringType,
        description=(
            "Provider name (e.g. HUBSPOT). The credential is looked up in config 'secrets' "
            "under '<provider lower-case>' or '<provider lower-case>_api_key'."
        ),
    ),
    th.Property("secret_key", th.StringType, description="Key in config 'secrets' holding the credential."),
    th.Property("header_name", th.StringType, description="Header for type 'header' (default X-API-Key)."),
    th.Property("param_name", th.StringType, description="Query parameter for type 'query' (default api_key)."),
    th.Property(
        "token_url",
        th.StringType,
        description="OAuth2 token endpoint; enables the client_credentials or refresh_token grant.",
    ),
    th.Property("client_id", th.StringType, description="OAuth2 client id."),
    th.Property("client_secret", th.StringType, secret=True, description="OAuth2 client secret."),
    th.Property("refresh_token", th.StringType, secret=True, description="OAuth2 refresh token (refresh_token grant)."),
    th.Property(
        "grant_type",
        th.StringType,
        allowed_values=["client_credentials", "refresh_token"],
        description="OAuth2 grant (default refresh_token when refresh_token is set, else client_credentials).",
    ),
    th.Property("scopes", th.StringType, description="OAuth2 scopes, space-separated."),
)

PAGINATION_SCHEMA = th.ObjectType(
    th.Property(
        "type",
        th.StringType,
        allowed_values=list(PAGINATION_TYPES),
        description="cursor, offset, page, link or none (default none).",
    ),
    th.Property(
        "param",
        th.StringType,
        description="Query parameter for the cursor, offset or page number (default offset / page).",
    ),
    th.Property(
        "response_path",
        th.StringType,
        description=(
            "Dotted path to the next cursor or next URL in the body ('data.-1.id' = last "
            "record's id). For link pagination, '' means the RFC 8288 Link header."
        ),
    ),
    th.Property("limit", th.IntegerType, description="Page size in records."),
    th.Property("limit_param", th.StringType, description="Query parameter for the page size (default limit)."),
    th.Property(
        "location",
        th.StringType,
        allowed_values=["query", "body"],
        description="Where the token and page size go: query parameters or the JSON body (default query).",
    ),
    setting(
        "max_concurrency",
        th.IntegerType,
        default=4,
        description=(
            "Most pages fetched at once for offset and page pagination with a limit "
            "(default {default}; fewer while more would not be faster); with date_window_size, most date windows "
            "fetched at once."
        ),
    ),
    setting(
        "max_pages",
        th.IntegerType,
        default=10_000,
        description="Safety stop: most pages requested per stream (per date window) per run (default {default}).",
    ),
)

DESTINATION_SCHEMA = th.ObjectType(
    th.Property("table", th.StringType, description="Target table name; also the stream name."),
    th.Property(
        "batch_size",
        th.IntegerType,
        description="Not used by the tap (it logs so): set batch_size in the target config.",
    ),
    th.Property(
        "key_fields",
        th.ArrayType(th.StringType),
        description="Record fields that identify a row: the stream's key properties and insertId source.",
    ),
)

JOB_SCHEMA = th.ObjectType(
    th.Property("id_path", th.StringType, description="Dotted path to the job id in the creation answer."),
    th.Property(
        "status_url_path",
        th.StringType,
        description="Dotted path to the status URL in the creation answer (instead of id_path and poll_url).",
    ),
    th.Property(
        "status_url_header",
        th.StringType,
        description="Header of the creation answer holding the status URL, e.g. Location of a 202 Accepted "
        "(instead of id_path and poll_url).",
    ),
    th.Property(
        "poll_url", th.StringType, description="Status URL template; {job_id} is the job id, {variable} as usual."
    ),
    setting(
        "poll_interval",
        th.NumberType,
        default=10.0,
        description="Seconds between status requests (default {default}).",
    ),
    setting(
        "timeout",
        th.NumberType,
        default=3600.0,
        description="Seconds from creation until the job must be done, else the run fails (default {default}).",
    ),
    th.Property("status_path", th.StringType, description="Dotted path to the status in the status answer."),
    th.Property("done", th.ArrayType(th.StringType), description="Status values meaning the job is done."),
    th.Property("failed", th.ArrayType(th.StringType), description="Status values meaning the job failed."),
    th.Property(
        "result_path",
        th.StringType,
        description="Dotted path to the result URL, or list of URLs, in the status answer that says done.",
    ),
)

#: The seed's step config block: one stream.
STREAM_PROPERTIES = [
    th.Property("name", th.StringType, description="Stream name (default: destination.table)."),
    th.Property(
        "url",
        th.StringType,
        description="Endpoint URL; {variable} placeholders allowed. Required: here or in each streams entry.",
        examples=["https://api.hubspot.com/crm/v3/objects/contacts"],
    ),
    th.Property("method", th.StringType, description=f"HTTP method: {' or '.join(METHODS)} (default GET)."),
    th.Property("data_path", th.StringType, description="Dotted path to the records; '' = root."),
    setting(
        "timeout",
        th.NumberType,
        default=60.0,
        description="Seconds one request may take in all: connect, headers and whole body (default {default}).",
    ),
    th.Property("params", _STRING_MAP, description="Query parameters; values may use {variable}."),
    th.Property("headers", _STRING_MAP, description="Headers; values may use {variable}."),
    th.Property("auth", AUTH_SCHEMA, description="Authentication."),
    th.Property("pagination", PAGINATION_SCHEMA, description="Pagination."),
    th.Property("destination", DESTINATION_SCHEMA, description="Destination table, batch size, key fields."),
    th.Property(
        "rate_limit",
        th.ObjectType(
            setting(
                "requests_per_second",
                th.NumberType,
                default=10.0,
                description="Requests per second, shared by streams with the same value. Default {default}.",
            ),
            th.Property(
                "retry_on_429", th.BooleanType, description="Retry 429 answers after Retry-After. Default true."
            ),
            setting(
                "max_retries",
                th.IntegerType,
                default=3,
                description="Retries after the first attempt. Default {default}.",
            ),
            setting(
                "max_retry_wait",
                th.NumberType,
                default=300.0,
                description="Longest wait in seconds accepted from Retry-After or backoff. Default {default}.",
            ),
            setting(
                "retry_statuses",
                th.ArrayType(th.IntegerType),
                # RFC 9110 section 15: 408 Request Timeout, 429 Too Many Requests (RFC 6585), and the
                # 5xx answers that may succeed later (501 Not Implemented and 505 never do).
                default=[408, 429, *(status for status in range(500, 600) if status not in (501, 505))],
                description="HTTP statuses retried with backoff. Default: 408, 429 and every 5xx except 501 and 505.",
            ),
        ),
        description="Rate limit and retries.",
    ),
    th.Property(
        "body", th.ObjectType(additional_properties=True), description="JSON body for POST; strings may use {variable}."
    ),
    th.Property(
        "allowed_hosts",
        th.ArrayType(th.StringType),
        description="Hosts besides the URL's own that next links may point to (credentials go there too).",
    ),
    th.Property("replication_key", th.StringType, description="Record field whose greatest value is the bookmark."),
    th.Property(
        "is_sorted",
        th.BooleanType,
        description="Records arrive in replication-key order: the bookmark advances during the run (default false).",
    ),
    th.Property(
        "start_date",
        th.CustomType({"type": ["string", "number", "null"]}),
        description="ISO-8601 start of the first incremental run; {start_date} and {bookmark} fall back to it.",
    ),
    th.Property(
        "end_date",
        th.CustomType({"type": ["string", "number", "null"]}),
        description=(
            "ISO-8601 end of the run's range: the last date window's end and {end_date} (default the run's "
            "start). With partition, every task cuts the same windows up to it (docs/PARTITIONS.md)."
        ),
    ),
    th.Property(
        "date_window_size",
        th.CustomType({"type": ["number", "string"]}),
        description=(
            "Days per date window: the range from the bookmark (else start_date) to the run's start is "
            "requested window by window, up to pagination.max_concurrency windows at once; the request "
            "must use a start and an end variable."
        ),
    ),
    th.Property(
        "schema",
        th.ObjectType(additional_properties=True),
        description="The stream's JSON schema (default: any object with the key properties).",
    ),
    th.Property(
        "infer_schema",
        th.BooleanType,
        description=f"Infer the schema from the first {INFER_SCHEMA_PAGES} pages (default false).",
    ),
    th.Property(
        "parent",
        th.StringType,
        description=(
            "Name of the parent stream: this stream's requests run once per parent record, with "
            "{parent.<dotted path>} placeholders filled from it (see docs/CHILD_STREAMS.md)."
        ),
    ),
    th.Property(
        "include_from_parent",
        th.ArrayType(th.StringType),
        description="Parent fields (dotted paths) copied into each child record as _parent_<path, dots as _>.",
    ),
    th.Property(
        "parent_only",
        th.BooleanType,
        description="Read this stream for its child streams only: no SCHEMA or RECORD of its own (default false).",
    ),
    th.Property(
        "ignore_statuses",
        th.ArrayType(th.IntegerType),
        description=(
            "Child streams: HTTP statuses (e.g. [404]) that skip the parent whose request got them, counted and "
            "logged; any other error fails naming the parent."
        ),
    ),
    th.Property(
        "response_format",
        th.StringType,
        allowed_values=list(RESPONSE_FORMATS),
        description=(
            "How response bodies are read: json, jsonl (one record per line) or csv (header row). "
            "Default: from the response's Content-Type (text/csv, application/x-ndjson...), else json."
        ),
    ),
    setting(
        "csv_delimiter",
        th.StringType,
        default=",",
        description="Field delimiter of csv bodies, one character (default '{default}').",
    ),
    th.Property("job", JOB_SCHEMA, description="Report job: the request creates a job, polled until done."),
    th.Property(
        "transform",
        th.ObjectType(
            th.Property("flatten", th.BooleanType, description="Default false."),
            th.Property("add_fields", _STRING_MAP),
        ),
        description="Applied by the target (flatten, add_fields); the tap sends records unchanged.",
    ),
]


#: Keys that belong to the whole run, never to one stream.
TOP_LEVEL_PROPERTIES = [
    metrics_log_level_property(),
    th.Property(
        "streams",
        th.ArrayType(th.ObjectType(*STREAM_PROPERTIES)),
        description="Several streams; top-level stream keys are defaults for each.",
    ),
    th.Property(
        "secrets",
        th.ObjectType(additional_properties=True),
        secret=True,
        description=(
            "Decrypted credentials by key (e.g. {'hubspot': '...'}), as an earlier decrypt step produces them."
        ),
    ),
    th.Property(
        "partition",
        th.CustomType({"type": ["object", "string", "null"]}),
        description=(
            "Split the run across tasks: {index, count}, or 'auto' to read the index from JOB_COMPLETION_INDEX "
            "or CLOUD_RUN_TASK_INDEX and the count from CLOUD_RUN_TASK_COUNT or JOB_COMPLETION_COUNT. Each task "
            "takes a disjoint share and keeps its own state (docs/PARTITIONS.md). Default: not split."
        ),
    ),
    th.Property("variables", _STRING_MAP, description="Values for {variable} placeholders."),
    th.Property("org_slug", th.StringType, description="Organisation slug; the {org_slug} variable."),
    th.Property("user_agent", th.StringType, description="User-Agent header of every request."),
    th.Property(
        "credentials_table",
        th.CustomType({"type": ["object", "string", "null"]}),
        description=(
            "org_integration_credentials table: {project, dataset, table} or 'project.dataset.table'. "
            "Looked up after 'secrets', decrypted with kms_key_name."
        ),
    ),
    th.Property("kms_key_name", th.StringType, description="Cloud KMS CryptoKey decrypting credentials_table rows."),
    th.Property("bigquery_api_endpoint", th.StringType, description="BigQuery endpoint for credentials_table."),
    th.Property("kms_api_endpoint", th.StringType, description="Cloud KMS endpoint (REST)."),
    th.Property(
        "google_credentials_path",
        th.StringType,
        description="Service-account key for the credentials lookup (default Application Default Credentials).",
    ),
]

#: The tap's config schema.
CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(*STREAM_PROPERTIES, *TOP_LEVEL_PROPERTIES).to_dict()

#: Keys a stream block may hold (the seed's, plus ``name``).
STREAM_KEYS = frozenset(prop.name for prop in STREAM_PROPERTIES)
#: Keys of the nested blocks, checked so that a misspelt key is an error, not a silent default.
NESTED_KEYS = {
    key: frozenset(CONFIG_SCHEMA["properties"][key]["properties"])
    for key in sorted(STREAM_KEYS)
    if CONFIG_SCHEMA["properties"][key].get("properties")
}
#: Keys that belong to the whole run, never to one stream.
TOP_LEVEL_KEYS = frozenset(prop.name for prop in TOP_LEVEL_PROPERTIES)


def default(*path: str) -> Any:
    """Return the declared default of a stream setting, e.g. ``default("pagination", "max_pages")``.

    Raises:
        KeyError: The setting is not declared, or declares no default.
    """
    node: dict[str, Any] = CONFIG_SCHEMA
    for key in path:
        node = node["properties"][key]
    return node[DEFAULT_ANNOTATION]
