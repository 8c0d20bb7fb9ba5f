"""BigQuery client from target config: emulator endpoint, service-account key, or ADC."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import google.auth.exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from google.oauth2 import service_account

from plugin_kit.errors import first_line
from plugin_kit.proxies import proxies_for
from plugin_kit.redact import redact_text, strings_in
from target_bigquery_smart.settings import TargetConfigError

#: Where the client sends requests without ``api_endpoint``.
BIGQUERY_ENDPOINT = "https://bigquery.googleapis.com"


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


def make_client(config: Mapping[str, Any]) -> bigquery.Client:
    """Build the BigQuery client the target uses for every call (no request is made).

    Credentials, first match wins:

    * ``api_endpoint`` set (a local emulator): anonymous credentials against that endpoint;
    * ``credentials_path``: a service-account key file;
    * ``credentials_json``: a service-account key as JSON text;
    * otherwise Application Default Credentials.

    Args:
        config: Target config (``project``, ``location`` and the keys above).

    Returns:
        A ``google.cloud.bigquery.Client``.

    Raises:
        TargetConfigError: ``api_endpoint`` is not an http(s) URL; the key file cannot be read
            or is not a service-account key; ``credentials_json`` is not one (its text is not
            echoed); no Application Default Credentials are set up; or the proxy from the
            environment for the endpoint is malformed.
    """
    client_options: dict[str, Any] | None = None
    credentials: Any = None
    endpoint = BIGQUERY_ENDPOINT
    if config.get("api_endpoint"):
        endpoint = check_endpoint(config["api_endpoint"])
        client_options = {"api_endpoint": endpoint}
        credentials = AnonymousCredentials()
    elif config.get("credentials_path"):
        path = config["credentials_path"]
        try:
            credentials = service_account.Credentials.from_service_account_file(path)
        except OSError as exc:
            msg = f"Target config 'credentials_path': cannot read {path!r} ({exc.strerror or exc})."
            raise TargetConfigError(msg) from None
        except (ValueError, TypeError, AttributeError) as exc:  # not JSON, or JSON of another shape
            reason = first_line(exc, 200)
            msg = f"Target config 'credentials_path': {path!r} is not a service-account key file ({reason})."
            raise TargetConfigError(msg) from None
    elif config.get("credentials_json"):
        try:
            info = json.loads(config["credentials_json"])
        except ValueError:
            msg = "Config key 'credentials_json' is not valid JSON (a service-account key)."
            raise TargetConfigError(msg) from None
        try:
            credentials = service_account.Credentials.from_service_account_info(info)
        except (ValueError, TypeError, AttributeError) as exc:
            reason = redact_text(first_line(exc, 200), strings_in(info))
            msg = f"Config key 'credentials_json' is not a service-account key ({reason})."
            raise TargetConfigError(msg) from None
    proxies_for(endpoint)
    try:
        return bigquery.Client(
            project=config["project"],
            credentials=credentials,
            location=config.get("location"),
            client_options=client_options,
        )
    except google.auth.exceptions.DefaultCredentialsError as exc:
        msg = (
            "No Google credentials: set credentials_path or credentials_json in the target config, or set up "
            f"Application Default Credentials (gcloud auth application-default login). {first_line(exc, 200)}"
        )
        raise TargetConfigError(msg) from None
    except (ValueError, TypeError, AttributeError) as exc:  # GOOGLE_APPLICATION_CREDENTIALS of another shape
        msg = (
            "The Application Default Credentials could not be read (GOOGLE_APPLICATION_CREDENTIALS or gcloud's "
            f"file is not a credentials file: {type(exc).__name__}). Set credentials_path or credentials_json."
        )
        raise TargetConfigError(msg) from None
