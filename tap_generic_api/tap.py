"""tap-generic-api: the Tap class and its config schema (the seed's keys)."""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from datetime import UTC, datetime
from typing import Any

import click
from singer_sdk import Tap
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.plugin_base import _ConfigInput
from singer_sdk.tap_base import CliTestOptionValue

from plugin_kit.cli import register_clean_error, run_cli
from plugin_kit.config_checks import check_known_keys
from plugin_kit.errors import ConfigError
from plugin_kit.plugin import CleanPluginMixin
from plugin_kit.proxies import proxy_passwords
from plugin_kit.redact import install_log_redaction, secret_values
from tap_generic_api.auth import OAuth2Registry, build_authenticator, secret_forms
from tap_generic_api.children.wiring import prepare_child, stream_classes
from tap_generic_api.cli_help import TAP_HELP, TAP_OPTION_HELP
from tap_generic_api.config import StreamConfig, parse_streams, plain_numbers
from tap_generic_api.config.settings import CONFIG_SCHEMA, INFER_SCHEMA_PAGES
from tap_generic_api.config.table_names import table_name_warnings
from tap_generic_api.config.unused_keys import check_unused_keys
from tap_generic_api.credential_store import CredentialStore, parse_store_config
from tap_generic_api.credentials import oauth2_secrets, resolve_secret
from tap_generic_api.errors import ForeignHostError, PaginationLoopError, ResponseShapeError
from tap_generic_api.first_page_report import print_first_pages
from tap_generic_api.http.ratelimit import RateLimiters
from tap_generic_api.output import BufferedSingerWriter
from tap_generic_api.partitions import attach_partitions, parse_partition
from tap_generic_api.rerun_hint import rerun_hint
from tap_generic_api.streams import GenericAPIStream
from tap_generic_api.subcommands import dispatch
from tap_generic_api.templating import builtin_variables


class TapGenericAPI(CleanPluginMixin, Tap):
    """Extract any REST API described by config into Singer SCHEMA, RECORD and STATE messages."""

    name = "tap-generic-api"
    package_name = "tap-generic-api-bigquery"
    message_writer_class = BufferedSingerWriter

    config_jsonschema = CONFIG_SCHEMA
    cli_help = TAP_HELP
    option_help = TAP_OPTION_HELP
    # The streams come from the config: --discover checks it in full, like a sync.
    dynamic_catalog = True

    @classmethod
    def cb_discover(cls, ctx: click.Context, param: click.Option, value: bool) -> None:  # noqa: FBT001
        """Run discovery; a config error reaches the console entry, printed once like in every mode.

        The SDK's callback logs config errors itself, in words of its own.
        """
        if value:
            config = ctx.params.get("config") or _ConfigInput()
            tap = cls(config=config.config, parse_env_config=config.parse_env, validate_config=True, setup_mapper=False)
            tap.run_discovery()
            ctx.exit()

    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """``--test``: print each stream's first-page record count and first record's keys (stdout).

        ``--test=schema`` writes the SCHEMA messages, as the SDK does. Exits 1 when a stream fails.
        """
        if value != CliTestOptionValue.All.value:
            super().cb_test(ctx, param, value)
            return
        config = ctx.params.get("config") or _ConfigInput()
        tap = cls(config=config.config, parse_env_config=config.parse_env, validate_config=True)
        ctx.exit(print_first_pages(tap.streams.values()))

    def check_config_keys(self, schema_errors: list[str], *, raise_errors: bool) -> None:
        """Refuse top-level keys the tap does not declare, once the config matches its schema.

        A misspelt key would otherwise be ignored and its default used silently.

        Raises:
            ConfigError: ``config: unknown key(s) ...`` with the closest valid key
                (:func:`plugin_kit.config_checks.unknown_keys_error`).
        """
        if not schema_errors:
            check_known_keys(self._config, self.config_jsonschema["properties"], where="config")

    def sync_all(self) -> None:
        """Sync every stream; a failure's message says which streams' records were already sent.

        Raises:
            Exception: The stream's error, its message followed by :func:`rerun_hint`'s sentence.
        """
        try:
            super().sync_all()
        except (FatalAPIError, PaginationLoopError, ForeignHostError) as exc:
            hint = rerun_hint(self.streams.values())
            if hint and exc.args and isinstance(exc.args[0], str):
                exc.args = (exc.args[0] + hint, *exc.args[1:])
            raise

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
        for message in table_name_warnings(self.config):
            self._warn_once(message, message)
        partition = parse_partition(self.config.get("partition"), os.environ)
        variables = self._variables()
        secrets = self.config.get("secrets") or {}
        known_secrets = [*secret_values(self.config), *proxy_passwords()]
        limiters = RateLimiters()
        oauth2 = OAuth2Registry()
        streams = []
        classes = stream_classes(configs, GenericAPIStream)
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
                classes.get(stream_config.name, GenericAPIStream)(
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
        attach_partitions(partition, streams)
        for stream in streams:
            prepare_child(stream)
            if stream.stream_config.infer_schema:
                stream.infer_schema(INFER_SCHEMA_PAGES)
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
    A sub-command (``probe``, ``from-openapi``) runs instead when it is the first argument.
    """
    status = dispatch(sys.argv[1:])
    if status is not None:
        raise SystemExit(status)
    run_cli(TapGenericAPI.cli)


if __name__ == "__main__":
    main()
