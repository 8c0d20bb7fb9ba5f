"""Credential resolution, in the seed's priority order.

1. Config ``secrets`` under ``<provider lower-case>`` or ``<provider lower-case>_api_key``
   (the output of an earlier decrypt step).
2. The ``org_integration_credentials`` table in BigQuery (config ``credentials_table``),
   decrypted with Cloud KMS (``kms_key_name``); see :mod:`tap_generic_api.credential_store`.
3. Config ``secrets`` under ``auth.secret_key``.

A secret may be a plain string, a JSON object, or a JSON text holding one of
``api_key``, ``access_token``, ``token``, or ``username`` + ``password`` (basic auth).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tap_generic_api.config import AuthConfig
from tap_generic_api.credential_store import CredentialStore
from tap_generic_api.errors import CredentialError

#: Fields of a JSON credential holding a token, in order of preference.
TOKEN_FIELDS = ("api_key", "access_token", "token", "key", "secret")


def candidate_keys(provider: str) -> list[str]:
    """Return the ``secrets`` keys checked for ``provider``, in order.

    ``HUBSPOT`` -> ``["hubspot", "hubspot_api_key"]`` (the seed's rule). A provider ending in
    ``_API`` also matches ``<name>_api_key``: the seed's Example 4 stores ``VENDOR_API``'s
    secret under the context key ``vendor_api_key``.
    """
    lower = provider.lower()
    keys = [lower, f"{lower}_api_key"]
    if lower.endswith("_api"):
        keys.append(f"{lower}_key")
    return keys


def extract_secret(value: Any, auth_type: str) -> str:
    """Pull the usable secret out of a stored credential.

    Args:
        value: A string, a JSON text, or a mapping.
        auth_type: The stream's ``auth.type``; ``basic`` wants ``user:pass``.

    Returns:
        The token (or ``user:pass`` for basic auth).

    Raises:
        CredentialError: The credential is empty or a mapping without a known field.
            The message names the fields present, never their values.
    """
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("{"):
            try:
                value = json.loads(stripped)
            except ValueError:
                return stripped
        else:
            if not stripped:
                msg = "The credential is an empty string."
                raise CredentialError(msg)
            return stripped
    if isinstance(value, Mapping):
        if auth_type == "basic" and "username" in value:
            return f"{value['username']}:{value.get('password', '')}"
        for field in TOKEN_FIELDS:
            if value.get(field):
                return str(value[field])
        msg = (
            "The credential is a JSON object without a usable field; expected one of "
            f"{', '.join(TOKEN_FIELDS)} (or username/password for basic auth), "
            f"found fields: {sorted(value)}."
        )
        raise CredentialError(msg)
    msg = f"The credential has unsupported type {type(value).__name__}."
    raise CredentialError(msg)


def resolve_credential(
    auth: AuthConfig,
    secrets: Mapping[str, Any],
    *,
    org_slug: str | None,
    stream: str,
    store: CredentialStore | None = None,
) -> Any:
    """Resolve the stored credential for one stream's ``auth`` block, as stored.

    Args:
        auth: The stream's auth block.
        secrets: Config ``secrets``.
        org_slug: Config ``org_slug`` (the organisation looked up in the credentials table).
        stream: Stream name (for messages).
        store: The ``org_integration_credentials`` store, or None when not configured.

    Returns:
        The credential: a string or a JSON object.

    Raises:
        CredentialError: Nothing resolved; the message lists the sources tried.
        CredentialStoreError: The BigQuery lookup or the KMS decryption failed.
    """
    tried: list[str] = []
    if auth.provider:
        for key in candidate_keys(auth.provider):
            if key in secrets:
                return secrets[key]
        tried.append(f"config secrets keys {candidate_keys(auth.provider)}")
        if store is not None:
            if not org_slug:
                msg = f"Stream '{stream}': config 'org_slug' is required to look credentials up in 'credentials_table'."
                raise CredentialError(msg)
            found = store.fetch(org_slug, auth.provider)
            if found is not None:
                return found
            tried.append(f"table {store.config.table_id} (no row for org {org_slug}, provider {auth.provider.upper()})")
    if auth.secret_key:
        if auth.secret_key in secrets:
            return secrets[auth.secret_key]
        tried.append(f"config secrets key '{auth.secret_key}' (auth.secret_key)")
    provider = auth.provider.upper() if auth.provider else "(none)"
    msg = (
        f"Failed to resolve credential for provider {provider} (org {org_slug or '(none)'}) "
        f"in stream '{stream}'. Tried: {'; '.join(tried)}. Set the integration up: "
        f"'tap-generic-api-credentials set --config <tap config> --org {org_slug or '<org>'} "
        f"--provider {provider}' (reads the secret from stdin), or put the secret in config 'secrets'."
    )
    raise CredentialError(msg)


def resolve_secret(
    auth: AuthConfig,
    secrets: Mapping[str, Any],
    *,
    org_slug: str | None,
    stream: str,
    store: CredentialStore | None = None,
) -> str:
    """Resolve the usable secret (token, key, or ``user:pass``) for one stream.

    Raises:
        CredentialError: Nothing resolved, or the credential holds no usable field.
    """
    credential = resolve_credential(auth, secrets, org_slug=org_slug, stream=stream, store=store)
    try:
        secret = extract_secret(credential, auth.type)
    except CredentialError as exc:
        msg = f"Stream '{stream}': the credential for provider {auth.provider or auth.secret_key}: {exc}"
        raise CredentialError(msg) from None
    if any(ch in secret for ch in "\r\n\x00"):
        msg = (
            f"Stream '{stream}': the credential for provider {auth.provider or auth.secret_key} contains a "
            "line break or NUL character and cannot be sent in a request; check how it was stored."
        )
        raise CredentialError(msg)
    return secret


def oauth2_secrets(
    auth: AuthConfig,
    secrets: Mapping[str, Any],
    *,
    org_slug: str | None,
    stream: str,
    store: CredentialStore | None = None,
) -> tuple[str | None, str | None, str | None]:
    """Return ``(client_id, client_secret, refresh_token)`` for an OAuth2 grant.

    Values in the ``auth`` block win. A resolved credential fills the gaps: a JSON object
    with ``client_id`` / ``client_secret`` / ``refresh_token``, or a plain string taken as
    the client secret (``client_credentials``) or the refresh token (``refresh_token`` grant).

    Raises:
        CredentialError: A needed secret is missing everywhere.
    """
    grant = auth.oauth2
    assert grant is not None
    client_id, client_secret, refresh_token = grant.client_id, grant.client_secret, grant.refresh_token
    if auth.provider or auth.secret_key:
        credential = resolve_credential(auth, secrets, org_slug=org_slug, stream=stream, store=store)
        if isinstance(credential, str) and credential.strip().startswith("{"):
            try:
                credential = json.loads(credential)
            except ValueError:
                pass
        if isinstance(credential, Mapping):
            client_id = client_id or credential.get("client_id")
            client_secret = client_secret or credential.get("client_secret")
            refresh_token = refresh_token or credential.get("refresh_token")
        elif grant.grant_type == "refresh_token":
            refresh_token = refresh_token or str(credential)
        else:
            client_secret = client_secret or str(credential)
    if grant.grant_type == "refresh_token" and not refresh_token:
        msg = f"Stream '{stream}': auth.grant_type 'refresh_token' needs auth.refresh_token (or one in secrets)."
        raise CredentialError(msg)
    if grant.grant_type == "client_credentials" and not (client_id and client_secret):
        msg = (
            f"Stream '{stream}': auth.grant_type 'client_credentials' needs auth.client_id and "
            "auth.client_secret (or a credential in secrets holding them)."
        )
        raise CredentialError(msg)
    return client_id, client_secret, refresh_token
