"""Organisation credentials kept encrypted in BigQuery and decrypted with Cloud KMS.

The table is the seed's ``org_integration_credentials``.

Table layout (created by ``tap-generic-api-credentials set``):

=======================  =========  =============================================
column                   type       meaning
=======================  =========  =============================================
``org_slug``             STRING     organisation
``provider``             STRING     provider name, upper-case (``HUBSPOT``)
``encrypted_credential`` BYTES      KMS ciphertext of the secret
``kms_key_name``         STRING     the CryptoKey that encrypted it
``updated_at``           TIMESTAMP  when the row was written; the newest row wins
=======================  =========  =============================================

Lookups use query parameters (``@org_slug``, ``@provider``), never string formatting. Every
call goes through ``google-cloud-bigquery`` and ``google-cloud-kms``.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from plugin_kit.errors import ConfigError
from plugin_kit.google_clients import CredentialSource, bigquery_client, kms_client
from tap_generic_api.errors import CredentialError

# google-cloud-bigquery and google-cloud-kms are imported when a store is used: most runs
# take their secrets from config, and the two libraries take longer to import than a small
# extraction takes to run.

#: Columns of the credentials table: (name, type, mode).
TABLE_COLUMNS = (
    ("org_slug", "STRING", "REQUIRED"),
    ("provider", "STRING", "REQUIRED"),
    ("encrypted_credential", "BYTES", "REQUIRED"),
    ("kms_key_name", "STRING", "NULLABLE"),
    ("updated_at", "TIMESTAMP", "NULLABLE"),
)


#: Seconds one KMS call may take, retries included, before the step fails.
KMS_TIMEOUT_SECONDS = 30.0


#: Seconds a credentials-table query may take, retries included: the client's default of
#: 600 s would leave a user waiting ten minutes on an unreachable endpoint.
BIGQUERY_DEADLINE_SECONDS = 60.0


def _bounded() -> dict[str, Any]:
    """Timeouts for ``query_and_wait`` so a dead endpoint fails within a minute."""
    from google.cloud.bigquery.retry import DEFAULT_RETRY

    return {
        "api_timeout": 30.0,
        "wait_timeout": BIGQUERY_DEADLINE_SECONDS,
        "retry": DEFAULT_RETRY.with_timeout(BIGQUERY_DEADLINE_SECONDS),
    }


@contextlib.contextmanager
def _step(description: str) -> Iterator[None]:
    """Turn any failure inside the block into a CredentialStoreError naming the step.

    ``NotFound`` passes through: a missing credentials table means "no credential here".
    """
    # Imported here, as every Google import of this module: a run without a credentials
    # table never pays for loading the Google client libraries (about 45 ms).
    from google.api_core.exceptions import GoogleAPICallError, NotFound

    try:
        yield
    except NotFound:
        raise
    except GoogleAPICallError as exc:
        msg = f"{description} failed: {exc.code} {exc.message}"
        raise CredentialStoreError(msg) from None
    except Exception as exc:  # noqa: BLE001 - network errors and retry deadlines alike
        msg = f"{description} failed: {type(exc).__name__}: {_short(exc)}"
        raise CredentialStoreError(msg) from None


def _short(exc: BaseException) -> str:
    """Return the first line of an exception's text, at most 200 characters."""
    return str(exc).split("\n", 1)[0][:200]


class CredentialStoreError(CredentialError):
    """A BigQuery or KMS call of the credential lookup failed; the text names the step."""


@dataclass(frozen=True)
class StoreConfig:
    """Where credentials are kept.

    Attributes:
        table_id: ``project.dataset.table`` of ``org_integration_credentials``.
        kms_key_name: ``projects/P/locations/L/keyRings/R/cryptoKeys/K``.
        bigquery_endpoint: BigQuery API endpoint (an emulator), or None for Google's.
        kms_endpoint: Cloud KMS API endpoint (a local double), or None for Google's.
        credentials_path: Service-account key file, or None for Application Default Credentials.
    """

    table_id: str
    kms_key_name: str
    bigquery_endpoint: str | None = None
    kms_endpoint: str | None = None
    credentials_path: str | None = None


def parse_store_config(config: Mapping[str, Any]) -> StoreConfig | None:
    """Return the store settings from a tap config, or None when no table is configured.

    Config keys: ``credentials_table`` (``{"project", "dataset", "table"}`` or the text
    ``project.dataset.table``), ``kms_key_name``, and optionally ``bigquery_api_endpoint``,
    ``kms_api_endpoint``, ``google_credentials_path``.

    Raises:
        ConfigError: The table or key is incomplete.
    """
    table = config.get("credentials_table")
    if not table:
        return None
    if isinstance(table, str):
        parts = table.split(".")
    elif isinstance(table, Mapping):
        parts = [table.get("project"), table.get("dataset"), table.get("table") or "org_integration_credentials"]
    else:
        parts = []
    if len(parts) != 3 or not all(isinstance(p, str) and p for p in parts):
        msg = (
            'Config \'credentials_table\' must be {"project": ..., "dataset": ..., "table": ...} '
            "or 'project.dataset.table'."
        )
        raise ConfigError(msg)
    key = config.get("kms_key_name")
    if not isinstance(key, str) or "/cryptoKeys/" not in key:
        msg = (
            "Config 'kms_key_name' is required with 'credentials_table': "
            "projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>."
        )
        raise ConfigError(msg)
    return StoreConfig(
        table_id=".".join(parts),
        kms_key_name=key,
        bigquery_endpoint=config.get("bigquery_api_endpoint"),
        kms_endpoint=config.get("kms_api_endpoint"),
        credentials_path=config.get("google_credentials_path"),
    )


class CredentialStore:
    """Reads (and writes) encrypted organisation credentials.

    Args:
        config: Where the credentials are kept.
    """

    def __init__(self, config: StoreConfig) -> None:
        self.config = config

    def _source(self, endpoint: str | None) -> CredentialSource:
        """Credentials for one API: anonymous with a local endpoint, else the key file or ADC."""
        return CredentialSource(
            endpoint=endpoint, path=self.config.credentials_path, path_key="google_credentials_path", json_key=None
        )

    @cached_property
    def bigquery(self) -> Any:
        """BigQuery client (``google.cloud.bigquery.Client``) for the credentials table."""
        return bigquery_client(self._source(self.config.bigquery_endpoint), project=self.config.table_id.split(".")[0])

    @cached_property
    def kms(self) -> Any:
        """Cloud KMS client (``KeyManagementServiceClient``, REST transport)."""
        return kms_client(self._source(self.config.kms_endpoint))

    def _query(self, sql: str, params: list[tuple[str, str, Any]]) -> list[Any]:
        """Run a parameterised query (``@name`` placeholders) with bounded retries; return its rows."""
        from google.cloud import bigquery

        job_config = bigquery.QueryJobConfig(
            query_parameters=[bigquery.ScalarQueryParameter(name, kind, value) for name, kind, value in params]
        )
        return list(self.bigquery.query_and_wait(sql, job_config=job_config, **_bounded()))

    def fetch(self, org_slug: str, provider: str) -> str | None:
        """Return the decrypted credential of ``org_slug`` for ``provider``, or None if absent.

        Args:
            org_slug: Organisation slug.
            provider: Provider name (compared upper-case).

        Returns:
            The plaintext credential, or None when the table (or the row) does not exist.

        Raises:
            CredentialStoreError: The query or the decryption failed; the message names the
                step and never the secret.
        """
        from google.api_core.exceptions import NotFound

        sql = (
            f"SELECT encrypted_credential FROM `{self.config.table_id}` "  # noqa: S608 - table id from config
            "WHERE org_slug = @org_slug AND provider = @provider "
            "ORDER BY updated_at DESC LIMIT 1"
        )
        try:
            with _step(f"Credential lookup in BigQuery table {self.config.table_id}"):
                rows = self._query(sql, [("org_slug", "STRING", org_slug), ("provider", "STRING", provider.upper())])
        except NotFound:
            return None
        if not rows:
            return None
        ciphertext = rows[0]["encrypted_credential"]
        if isinstance(ciphertext, str):
            ciphertext = base64.b64decode(ciphertext)
        return self.decrypt(ciphertext, provider=provider)

    def decrypt(self, ciphertext: bytes, *, provider: str) -> str:
        """Decrypt a credential with the configured KMS key.

        Raises:
            CredentialStoreError: KMS refused, or returned bytes that are not text; the message
                names the key, not the secret.
        """
        step = f"KMS decrypt of the credential for provider {provider.upper()} with key {self.config.kms_key_name}"
        with _step(step):
            response = self.kms.decrypt(
                request={"name": self.config.kms_key_name, "ciphertext": ciphertext}, timeout=KMS_TIMEOUT_SECONDS
            )
        try:
            return response.plaintext.decode()
        except UnicodeDecodeError:
            msg = f"{step} returned bytes that are not UTF-8 text: was the credential encrypted with another key?"
            raise CredentialStoreError(msg) from None

    def put(self, org_slug: str, provider: str, plaintext: str) -> None:
        """Encrypt ``plaintext`` with KMS and add it as the newest row (table created if needed).

        Raises:
            CredentialStoreError: KMS or BigQuery refused; the message names the step.
        """
        with _step(f"KMS encrypt with key {self.config.kms_key_name}"):
            ciphertext = self.kms.encrypt(
                request={"name": self.config.kms_key_name, "plaintext": plaintext.encode()}, timeout=KMS_TIMEOUT_SECONDS
            ).ciphertext
        from google.cloud import bigquery

        project, dataset, _ = self.config.table_id.split(".")
        schema = [bigquery.SchemaField(name, kind, mode=mode) for name, kind, mode in TABLE_COLUMNS]
        sql = (
            f"INSERT INTO `{self.config.table_id}` "  # noqa: S608 - table id from config
            "(org_slug, provider, encrypted_credential, kms_key_name, updated_at) "
            "VALUES (@org_slug, @provider, @ciphertext, @key, CURRENT_TIMESTAMP())"
        )
        with _step(f"Writing the credential to BigQuery table {self.config.table_id}"):
            self.bigquery.create_dataset(f"{project}.{dataset}", exists_ok=True)
            self.bigquery.create_table(bigquery.Table(self.config.table_id, schema=schema), exists_ok=True)
            self._query(
                sql,
                [
                    ("org_slug", "STRING", org_slug),
                    ("provider", "STRING", provider.upper()),
                    ("ciphertext", "BYTES", ciphertext),
                    ("key", "STRING", self.config.kms_key_name),
                ],
            )
