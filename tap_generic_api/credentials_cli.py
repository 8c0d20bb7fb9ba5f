"""tap-generic-api-credentials: set up, check and decrypt organisation credentials.

Usage::

    printf '%s' "$SECRET" | tap-generic-api-credentials set   --config tap.json --org acme --provider HUBSPOT
    tap-generic-api-credentials check   --config tap.json --org acme --provider HUBSPOT
    tap-generic-api-credentials decrypt --config tap.json --org acme --provider HUBSPOT --context-key hubspot_api_key

``--config`` is a tap config holding ``credentials_table``, ``kms_key_name`` (and, for local
services, ``bigquery_api_endpoint`` / ``kms_api_endpoint``); ``--org`` defaults to its
``org_slug``. ``set`` reads the secret from standard input (never from the command line, where
it would be visible in the process list and shell history). ``check`` prints only a masked
form. ``decrypt`` prints ``{"secrets": {"<context key>": "<secret>"}}``, a config fragment for
a second ``--config`` of the tap: the seed's decrypt step, as a shell pipeline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from singer_sdk.exceptions import ConfigValidationError

from tap_generic_api.credential_store import CredentialStore, parse_store_config
from tap_generic_api.errors import CredentialError


def mask(secret: str) -> str:
    """Return a masked form: the first and last 2 characters of long secrets, and the length."""
    if len(secret) < 12:  # noqa: PLR2004
        return f"{'*' * len(secret)} ({len(secret)} characters)"
    return f"{secret[:2]}{'*' * 8}{secret[-2:]} ({len(secret)} characters)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tap-generic-api-credentials", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("set", "encrypt a secret read from stdin and store it"),
        ("check", "resolve and decrypt a stored secret; print it masked"),
        ("decrypt", "print {'secrets': {context_key: secret}} for the tap's --config"),
    ):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--config", required=True, type=Path, help="tap config with credentials_table")
        command.add_argument("--org", help="organisation slug (default: config org_slug)")
        command.add_argument("--provider", required=True, help="provider name, e.g. HUBSPOT")
        if name == "decrypt":
            command.add_argument(
                "--context-key", help="key under 'secrets' (default: <provider lower-case>)", default=None
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; return the exit status (0 ok, 1 error, 2 no such credential)."""
    args = _parser().parse_args(argv)
    try:
        config = json.loads(args.config.read_text())
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"Error: cannot read {args.config}: {exc}\n")
        return 1
    if not isinstance(config, dict):
        sys.stderr.write(f"Error: {args.config} must hold a JSON object.\n")
        return 1
    try:
        store_config = parse_store_config(config)
        if store_config is None:
            sys.stderr.write(f"Error: {args.config} has no 'credentials_table'.\n")
            return 1
        org = args.org or config.get("org_slug")
        if not org:
            sys.stderr.write("Error: give --org or set org_slug in the config.\n")
            return 1
        store = CredentialStore(store_config)
        provider = args.provider.upper()
        if args.command == "set":
            secret = sys.stdin.read().rstrip("\r\n")
            if not secret.strip():
                sys.stderr.write("Error: no secret on standard input (it was empty or only whitespace).\n")
                return 1
            store.put(org, provider, secret)
            sys.stderr.write(f"Stored the credential for org {org}, provider {provider} in {store_config.table_id}.\n")
            return 0
        secret = store.fetch(org, provider)
        if secret is None:
            sys.stderr.write(
                f"No credential for org {org}, provider {provider} in {store_config.table_id}. "
                f"Set it up with: tap-generic-api-credentials set --config {args.config} --org {org} "
                f"--provider {provider}\n"
            )
            return 2
        if args.command == "check":
            sys.stdout.write(f"org {org}, provider {provider}: {mask(secret)}\n")
        else:
            key = args.context_key or provider.lower()
            sys.stdout.write(json.dumps({"secrets": {key: secret}}) + "\n")
        return 0
    except (CredentialError, ConfigValidationError) as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1


def run() -> None:
    """Console entry point."""
    raise SystemExit(main())
