"""tap-generic-api: the Tap class and its config schema (the seed's keys)."""

from __future__ import annotations

import dataclasses
import functools
from datetime import UTC, datetime
from typing import Any

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from plugin_kit.cli import exit_on_signal, register_clean_error, run_cli
from plugin_kit.errors import ConfigError
from plugin_kit.proxies import proxy_passwords
from plugin_kit.redact import install_log_redaction, redact_text, secret_values
from tap_generic_api.auth import OAuth2Registry, build_authenticator, secret_forms
from tap_generic_api.config import (
    AUTH_TYPES,
    DEFAULT_INFER_SCHEMA_PAGES,
    METHODS,
    PAGINATION_TYPES,
    StreamConfig,
    parse_streams,
    plain_numbers,
    unknown_key_error,
)
from tap_generic_api.credential_store import CredentialStore, parse_store_config
from tap_generic_api.credentials import oauth2_secrets, resolve_secret
from tap_generic_api.errors import ForeignHostError, PaginationLoopError, ResponseShapeError
from tap_generic_api.output import BufferedSingerWriter
from tap_generic_api.ratelimit import RateLimiters
from tap_generic_api.streams import GenericAPIStream
from tap_generic_api.templating import builtin_variables
from tap_generic_api.unused_keys import check_unused_keys

_STRING_MAP = th.ObjectType(additional_properties=th.StringType)

# Stream-level properties declare no JSON-schema `default`: the SDK writes schema defaults
# into the config, including every `streams[]` item, where they would override top-level
# defaults. Defaults are applied by tap_generic_api.config and stated in the descriptions.

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
    th.Property(
        "max_concurrency",
        th.IntegerType,
        description=(
            "Most pages fetched at once for offset and page pagination with a limit "
            "(default 4; fewer while more would not be faster); with date_window_size, most date windows "
            "fetched at once."
        ),
    ),
    th.Property(
        "max_pages",
        th.IntegerType,
        description="Safety stop: most pages requested per stream (per date window) per run (default 10000).",
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

#: The seed's step config block: one stream.
STREAM_PROPERTIES = [
    th.Property("name", th.StringType, description="Stream name (default: destination.table)."),
    th.Property(
        "url",
        th.StringType,
        description="Endpoint URL; {variable} placeholders allowed.",
        examples=["https://api.hubspot.com/crm/v3/objects/contacts"],
    ),
    th.Property("method", th.StringType, description=f"HTTP method: {' or '.join(METHODS)} (default GET)."),
    th.Property("data_path", th.StringType, description="Dotted path to the records; '' = root."),
    th.Property(
        "timeout",
        th.NumberType,
        description="Seconds one request may take in all: connect, headers and whole body (default 60).",
    ),
    th.Property("params", _STRING_MAP, description="Query parameters; values may use {variable}."),
    th.Property("headers", _STRING_MAP, description="Headers; values may use {variable}."),
    th.Property("auth", AUTH_SCHEMA, description="Authentication."),
    th.Property("pagination", PAGINATION_SCHEMA, description="Pagination."),
    th.Property("destination", DESTINATION_SCHEMA, description="Destination table, batch size, key fields."),
    th.Property(
        "rate_limit",
        th.ObjectType(
            th.Property(
                "requests_per_second",
                th.NumberType,
                description="Requests per second, shared by streams with the same value. Default 10.",
            ),
            th.Property(
                "retry_on_429", th.BooleanType, description="Retry 429 answers after Retry-After. Default true."
            ),
            th.Property("max_retries", th.IntegerType, description="Retries after the first attempt. Default 3."),
            th.Property(
                "max_retry_wait",
                th.NumberType,
                description="Longest wait in seconds accepted from Retry-After or backoff. Default 300.",
            ),
            th.Property(
                "retry_statuses",
                th.ArrayType(th.IntegerType),
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
    th.Property("infer_schema", th.BooleanType, description="Infer the schema from the first 3 pages (default false)."),
    th.Property(
        "transform",
        th.ObjectType(
            th.Property("flatten", th.BooleanType, description="Default false."),
            th.Property("add_fields", _STRING_MAP),
        ),
        description="Applied by the target (flatten, add_fields); the tap sends records unchanged.",
    ),
]


class TapGenericAPI(Tap):
    """Extract any REST API described by config into Singer SCHEMA, RECORD and STATE messages."""

    name = "tap-generic-api"
    package_name = "tap-generic-api-bigquery"
    message_writer_class = BufferedSingerWriter

    def _handle_termination(self, signum: int, frame: Any) -> None:
        """Stop on SIGINT or SIGTERM with status 128 + the signal (the SDK exits 0)."""
        exit_on_signal(self.logger, signum)

    config_jsonschema = th.PropertiesList(
        *STREAM_PROPERTIES,
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
        th.Property(
            "kms_key_name", th.StringType, description="Cloud KMS CryptoKey decrypting credentials_table rows."
        ),
        th.Property("bigquery_api_endpoint", th.StringType, description="BigQuery endpoint for credentials_table."),
        th.Property("kms_api_endpoint", th.StringType, description="Cloud KMS endpoint (REST)."),
        th.Property(
            "google_credentials_path",
            th.StringType,
            description="Service-account key for the credentials lookup (default Application Default Credentials).",
        ),
    ).to_dict()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate against the JSON schema with secret values masked in every message.

        jsonschema quotes the offending value ("'abc' is not of type 'object'"), which for
        a misplaced secret would print it.
        """
        errors = super()._validate_config(raise_errors=False)
        errors = [redact_text(error, secret_values(self._config)) for error in errors]
        if not errors:
            known = set(self.config_jsonschema["properties"])
            unknown = sorted(set(self._config) - known)
            if unknown:
                msg = "config"
                raise unknown_key_error(msg, unknown, known)
        if errors and raise_errors:
            msg = "Config validation failed"
            raise ConfigValidationError(msg, errors=errors, schema=self.config_jsonschema)
        return errors

    def _stream_configs(self) -> list[StreamConfig]:
        # --discover only warns on schema errors, so check the shapes used here ourselves.
        for key in ("secrets", "variables"):
            value = self.config.get(key)
            if value is not None and not isinstance(value, dict):
                msg = f"Config key '{key}' must be an object of name -> value, got {type(value).__name__}."
                raise ConfigError(msg)
        streams = parse_streams(self.config)
        check_unused_keys(plain_numbers(self.config), streams)
        return streams

    def _warn_once(self, key: str, message: str) -> None:
        warned = self.__dict__.setdefault("_warned", set())
        if key not in warned:
            warned.add(key)
            self.logger.warning(message)

    @functools.cached_property
    def _credential_store(self) -> CredentialStore | None:
        store_config = parse_store_config(self.config)
        return CredentialStore(store_config) if store_config else None

    @functools.cached_property
    def _run_started(self) -> datetime:
        return datetime.now(UTC)

    def _variables(self) -> dict[str, Any]:
        variables = builtin_variables(self.config.get("org_slug"), now=self._run_started)
        user = self.config.get("variables") or {}
        if not isinstance(user, dict):
            msg = "Config key 'variables' must be an object of name -> value."
            raise ConfigError(msg)
        variables.update(user)
        return variables

    def discover_streams(self) -> list[GenericAPIStream]:
        """Build one stream per stream config, checking the whole config first.

        Returns:
            The streams, in config order.

        Raises:
            ConfigError: Any stream config, template variable or credential is invalid;
                raised before any request is made.
        """
        configs = self._stream_configs()
        variables = self._variables()
        secrets = self.config.get("secrets") or {}
        known_secrets = [*secret_values(self.config), *proxy_passwords()]
        limiters = RateLimiters()
        oauth2 = OAuth2Registry()
        streams = []
        for stream_config in configs:
            authenticator = self._authenticator(stream_config, secrets, oauth2, known_secrets)
            if self.config.get("transform") or any(
                isinstance(b, dict) and b.get("transform") for b in self.config.get("streams") or []
            ):
                self._warn_once(
                    "transform",
                    "'transform' (flatten, add_fields) is applied by the target: the tap sends records "
                    "unchanged. Put the same block (or flatten / add_fields) in the target config.",
                )
            if stream_config.batch_size is not None:
                self.logger.info(
                    "Stream '%s': destination.batch_size is applied by the target; set "
                    "'batch_size' in the target config.",
                    stream_config.name,
                )
            streams.append(
                GenericAPIStream(
                    self,
                    stream_config,
                    variables=variables,
                    authenticator=authenticator,
                    limiter=limiters.get(stream_config.rate_limit.requests_per_second),
                    run_started=self._run_started,
                    secrets=known_secrets,
                )
            )
        install_log_redaction(known_secrets)
        for stream in streams:
            if stream.stream_config.infer_schema:
                stream.infer_schema(DEFAULT_INFER_SCHEMA_PAGES)
        return streams

    def _authenticator(
        self,
        stream_config: StreamConfig,
        secrets: dict[str, Any],
        oauth2: OAuth2Registry,
        known_secrets: list[str],
    ) -> Any:
        """Resolve the stream's credential and build its authenticator (None without auth)."""
        auth = stream_config.auth
        if auth is None:
            return None
        org_slug = self.config.get("org_slug")
        store = self._credential_store
        if auth.oauth2 is not None:
            client_id, client_secret, refresh_token = oauth2_secrets(
                auth, secrets, org_slug=org_slug, stream=stream_config.name, store=store
            )
            known_secrets.extend(s for s in (client_secret, refresh_token) if s)
            grant = dataclasses.replace(auth.oauth2, client_id=client_id)
            return oauth2.get(grant, client_secret=client_secret, refresh_token=refresh_token)
        secret = resolve_secret(auth, secrets, org_slug=org_slug, stream=stream_config.name, store=store)
        known_secrets.extend(secret_forms(auth, secret))
        return build_authenticator(auth, secret)


register_clean_error(PaginationLoopError, ForeignHostError, ResponseShapeError)


def main() -> None:
    """Console entry point: run the CLI; a config error prints its messages and exits 1.

    The SDK only turns config errors into clean messages inside ``invoke``; ``--discover``
    builds the streams earlier, so without this a bad config would end in a traceback.
    """
    run_cli(TapGenericAPI.cli)


if __name__ == "__main__":
    main()
