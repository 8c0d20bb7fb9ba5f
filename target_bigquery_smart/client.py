"""BigQuery client from target config: emulator endpoint, service-account key, or ADC."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from google.cloud import bigquery

from plugin_kit.google_clients import CredentialSource, bigquery_client, storage_write_client
from target_bigquery_smart.errors import TargetConfigError


def check_endpoint(endpoint: Any) -> str:
    """Return ``api_endpoint`` if it is an ``http(s)://host[:port]`` URL without a user:password.

    Raises:
        TargetConfigError: It is not; the value is quoted only when it holds no ``@``.
    """
    shown = repr(endpoint) if "@" not in str(endpoint) else "a URL with a user:password in it"
    try:
        parts = urlsplit(endpoint) if isinstance(endpoint, str) else None
        if parts is not None:
            _ = parts.port  # raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or parts.path not in ("", "/")  # the client appends /bigquery/v2/... itself
        or parts.query
        or parts.fragment
        or any(char.isspace() for char in endpoint)
    ):
        msg = (
            f"Target config 'api_endpoint' must be an http(s) URL of a host and port, such as "
            f"http://127.0.0.1:9050 (the local emulator), with no path and no user:password; got {shown}."
        )
        raise TargetConfigError(msg)
    return endpoint.rstrip("/")


def _source(config: Mapping[str, Any]) -> CredentialSource:
    endpoint = check_endpoint(config["api_endpoint"]) if config.get("api_endpoint") else None
    return CredentialSource(
        endpoint=endpoint,
        path=config.get("credentials_path") or None,
        json_text=config.get("credentials_json") or None,
        where="Target config",
        error=TargetConfigError,
    )


def storage_available(config: Mapping[str, Any]) -> bool:
    """Return True when the Storage Write API can be used: its libraries are installed, its endpoint known.

    With ``api_endpoint`` (a local BigQuery) the gRPC endpoint must be given as ``storage_api_endpoint``.
    """
    if config.get("api_endpoint") and not config.get("storage_api_endpoint"):
        return False
    return all(importlib.util.find_spec(name) is not None for name in ("pyarrow", "google.cloud.bigquery_storage_v1"))


def make_storage_client(config: Mapping[str, Any]) -> Any:
    """Build the Storage Write API client (``BigQueryWriteClient``) from the target config (no request is made).

    Raises:
        TargetConfigError: The ``storage`` extra is not installed (the message names it); bad
            credentials (:func:`plugin_kit.google_clients.storage_write_client`).
    """
    return storage_write_client(_source(config), grpc_endpoint=config.get("storage_api_endpoint") or None)


def make_client(config: Mapping[str, Any]) -> bigquery.Client:
    """Build the BigQuery client the target uses for every call (no request is made).

    Credentials, first match wins (:func:`plugin_kit.google_clients.google_credentials`):
    ``api_endpoint`` (a local emulator: anonymous), ``credentials_path``, ``credentials_json``,
    otherwise Application Default Credentials.

    Args:
        config: Target config (``project``, ``location`` and the keys above).

    Raises:
        TargetConfigError: ``api_endpoint`` is not an http(s) URL; the credentials cannot be
            used (:func:`plugin_kit.google_clients.bigquery_client`).
    """
    return bigquery_client(_source(config), project=config["project"], location=config.get("location"))
