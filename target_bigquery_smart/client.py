"""BigQuery client from target config: emulator endpoint, service-account key, or ADC."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from google.oauth2 import service_account
from singer_sdk.exceptions import ConfigValidationError


def make_client(config: Mapping[str, Any]) -> bigquery.Client:
    """Build the BigQuery client the target uses for every call.

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
        ConfigValidationError: ``credentials_json`` is not valid JSON (its text is not echoed).
    """
    client_options: dict[str, Any] | None = None
    credentials: Any = None
    if config.get("api_endpoint"):
        client_options = {"api_endpoint": config["api_endpoint"]}
        credentials = AnonymousCredentials()
    elif config.get("credentials_path"):
        credentials = service_account.Credentials.from_service_account_file(config["credentials_path"])
    elif config.get("credentials_json"):
        try:
            info = json.loads(config["credentials_json"])
        except ValueError:
            msg = "Config key 'credentials_json' is not valid JSON (a service-account key)."
            raise ConfigValidationError(msg, errors=[msg]) from None
        credentials = service_account.Credentials.from_service_account_info(info)
    return bigquery.Client(
        project=config["project"],
        credentials=credentials,
        location=config.get("location"),
        client_options=client_options,
    )
