"""Google credentials and API clients from plugin config: the one factory both plugins use.

The target builds its BigQuery client here; the tap's credential store builds its BigQuery and
Cloud KMS clients here. Google's libraries are imported inside the functions: most tap runs
take their secrets from config, and these libraries take longer to import than a small
extraction takes to run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from plugin_kit.errors import ConfigError, first_line
from plugin_kit.proxies import proxies_for
from plugin_kit.redact import redact_text, strings_in

#: Where a BigQuery client sends requests without an endpoint of its own.
BIGQUERY_ENDPOINT = "https://bigquery.googleapis.com"


@dataclass(frozen=True)
class CredentialSource:
    """Which Google credentials a plugin's config asks for, and the keys that named them.

    Credentials, first match wins: an ``endpoint`` (a local emulator or double): anonymous;
    ``path``: a service-account key file; ``json_text``: a service-account key as JSON text;
    otherwise Application Default Credentials.

    Attributes:
        endpoint: API endpoint of a local emulator or double, or None for Google's.
        path: Service-account key file, or None.
        json_text: Service-account key as JSON text, or None.
        where: Names the config in errors (``"Target config"``, ``"Config"``).
        path_key: The config key of ``path`` (named in errors).
        json_key: The config key of ``json_text`` (named in errors), or None when the plugin has none.
        error: The ``ConfigError`` subclass raised.
    """

    endpoint: str | None = None
    path: str | None = None
    json_text: str | None = None
    where: str = "Config"
    path_key: str = "credentials_path"
    json_key: str | None = "credentials_json"
    error: type[ConfigError] = ConfigError


def google_credentials(source: CredentialSource) -> Any:
    """Return the credentials ``source`` asks for; None means Application Default Credentials.

    Raises:
        ConfigError: (``source.error``) The key file cannot be read or is not a service-account
            key; the JSON text is not one (its text is never echoed).
    """
    if source.endpoint:
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()
    if not source.path and not source.json_text:
        return None
    from google.oauth2 import service_account

    if source.path:
        path = source.path
        try:
            return service_account.Credentials.from_service_account_file(path)
        except OSError as exc:
            msg = f"{source.where} '{source.path_key}': cannot read {path!r} ({exc.strerror or exc})."
            raise source.error(msg) from None
        except (ValueError, TypeError, AttributeError) as exc:  # not JSON, or JSON of another shape
            reason = first_line(exc, 200)
            msg = f"{source.where} '{source.path_key}': {path!r} is not a service-account key file ({reason})."
            raise source.error(msg) from None
    try:
        info = json.loads(source.json_text or "")
    except ValueError:
        msg = f"Config key '{source.json_key}' is not valid JSON (a service-account key)."
        raise source.error(msg) from None
    try:
        return service_account.Credentials.from_service_account_info(info)
    except (ValueError, TypeError, AttributeError) as exc:
        reason = redact_text(first_line(exc, 200), strings_in(info))
        msg = f"Config key '{source.json_key}' is not a service-account key ({reason})."
        raise source.error(msg) from None


def bigquery_client(source: CredentialSource, *, project: str, location: str | None = None) -> Any:
    """Build a ``google.cloud.bigquery.Client`` (no request is made).

    Args:
        source: Credentials and endpoint (see :class:`CredentialSource`).
        project: The project jobs run in.
        location: Default location of jobs and new datasets, or None.

    Raises:
        ConfigError: (``source.error``) Bad credentials (:func:`google_credentials`); no
            Application Default Credentials are set up, or they are not a credentials file; the
            proxy from the environment for the endpoint is malformed.
    """
    import google.auth.exceptions
    from google.cloud import bigquery

    keys = " or ".join(key for key in (source.path_key, source.json_key) if key)
    credentials = google_credentials(source)
    proxies_for(source.endpoint or BIGQUERY_ENDPOINT)
    try:
        return bigquery.Client(
            project=project,
            credentials=credentials,
            location=location,
            client_options={"api_endpoint": source.endpoint} if source.endpoint else None,
        )
    except google.auth.exceptions.DefaultCredentialsError as exc:
        msg = (
            f"No Google credentials: set {keys} in the {source.where.lower()}, or "
            "set up Application Default Credentials (gcloud auth application-default login). "
            f"{first_line(exc, 200)}"
        )
        raise source.error(msg) from None
    except (ValueError, TypeError, AttributeError) as exc:  # GOOGLE_APPLICATION_CREDENTIALS of another shape
        msg = (
            "The Application Default Credentials could not be read (GOOGLE_APPLICATION_CREDENTIALS or gcloud's "
            f"file is not a credentials file: {type(exc).__name__}). Set {keys}."
        )
        raise source.error(msg) from None


def kms_client(source: CredentialSource) -> Any:
    """Build a Cloud KMS ``KeyManagementServiceClient`` on the REST transport (no request is made).

    Raises:
        ConfigError: (``source.error``) Bad credentials (:func:`google_credentials`).
    """
    from google.cloud import kms

    return kms.KeyManagementServiceClient(
        transport="rest",
        credentials=google_credentials(source),
        client_options={"api_endpoint": source.endpoint} if source.endpoint else None,
    )


#: The optional extra that brings the Storage Write API client and pyarrow.
STORAGE_EXTRA = "tap-generic-api-bigquery[storage]"


def storage_write_client(source: CredentialSource, *, grpc_endpoint: str | None = None) -> Any:
    """Build a BigQuery Storage Write API client (``BigQueryWriteClient``, gRPC; no request is made).

    With ``grpc_endpoint`` (``host:port`` of a local emulator), the client talks plaintext gRPC
    to it with anonymous credentials: the GAPIC client takes a ready channel through its
    transport (``BigQueryWriteGrpcTransport(channel=...)``), and ``grpc.insecure_channel`` is
    gRPC's own way to open one without TLS. Otherwise it reaches
    ``bigquerystorage.googleapis.com`` with the credentials ``source`` asks for.

    Raises:
        ConfigError: (``source.error``) google-cloud-bigquery-storage is not installed (the
            message names the extra to install); bad credentials (:func:`google_credentials`).
    """
    try:
        from google.cloud.bigquery_storage_v1 import BigQueryWriteClient
        from google.cloud.bigquery_storage_v1.services.big_query_write.transports import BigQueryWriteGrpcTransport
    except ImportError:
        msg = (
            f"{source.where} 'write_method': storage_write needs google-cloud-bigquery-storage and pyarrow; "
            f"install them with: pip install '{STORAGE_EXTRA}'."
        )
        raise source.error(msg) from None
    if grpc_endpoint:
        import grpc
        from google.auth.credentials import AnonymousCredentials

        # Appends of up to 10 MB (the target's own limit per request) must fit in one message.
        options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
        channel = grpc.insecure_channel(grpc_endpoint, options=options)
        transport = BigQueryWriteGrpcTransport(channel=channel, credentials=AnonymousCredentials())
        return BigQueryWriteClient(transport=transport)
    credentials = google_credentials(source)
    return BigQueryWriteClient(credentials=credentials)
