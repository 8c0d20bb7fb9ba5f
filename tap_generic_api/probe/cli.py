"""``tap-generic-api probe URL``: the command line.

Usage::

    API_TOKEN=... tap-generic-api probe https://api.example.com/v1/items --bearer-env API_TOKEN --write tap.json

The config goes to stdout (or ``--write FILE``); the evidence to stderr (``--json``: as JSON).
Exit status 0 when the config was proven by paging, 2 when it was written but not proven
(pagination ``none``, or a warning to act on), 1 on an error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import sys
from collections.abc import Iterator
from pathlib import Path

import requests

from plugin_kit.errors import ConfigError
from plugin_kit.redact import install_log_redaction, redact_text
from tap_generic_api.config_file import check_writable, write_config
from tap_generic_api.errors import TapAPIError
from tap_generic_api.probe.arguments import refuse_credentials, refuse_position
from tap_generic_api.probe.client import DEFAULT_RATE, BudgetExceededError, Pacer, ProbeClient, auth_from_env
from tap_generic_api.probe.report import render_json, render_text
from tap_generic_api.probe.run import probe

#: Requests besides the proof's pages: the first page and up to two confirmations.
EXTRA_REQUESTS = 3
#: The paginators' logger (:mod:`tap_generic_api.paging.base`).
PAGINATION_LOGGER = "tap_generic_api.pagination"


def parser() -> argparse.ArgumentParser:
    """Return the ``probe`` argument parser."""
    cli = argparse.ArgumentParser(
        prog="tap-generic-api probe",
        description="Request a list endpoint, detect data_path, pagination, key fields and rate limit "
        "with evidence, prove the config by paging, and print it.",
    )
    cli.add_argument("url", help="the list endpoint, e.g. https://api.example.com/v1/items")
    cli.add_argument("--bearer-env", metavar="VAR", help="send the token in environment variable VAR as a Bearer token")
    cli.add_argument("--header-env", metavar="NAME=VAR", help="send environment variable VAR in header NAME")
    cli.add_argument("--query-env", metavar="NAME=VAR", help="send environment variable VAR as query parameter NAME")
    cli.add_argument("--basic-env", metavar="VAR", help="HTTP Basic auth; VAR holds user:password")
    cli.add_argument("--param", action="append", default=[], metavar="K=V", help="query parameter (repeatable)")
    cli.add_argument("--max-pages", type=int, default=3, metavar="N", help="pages to prove the config on (default 3)")
    cli.add_argument("--rate", type=float, default=DEFAULT_RATE, help=f"requests per second (default {DEFAULT_RATE:g})")
    cli.add_argument("--write", type=Path, metavar="FILE", help="write the config to FILE instead of stdout")
    cli.add_argument("--force", action="store_true", help="with --write: replace the file if it exists")
    cli.add_argument("--json", action="store_true", help="print the evidence as JSON on stderr")
    return cli


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Raise logger ``name`` to ERROR for the ``with`` block, then restore its level (the process goes on)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            msg = f"--param takes k=v, got {pair!r}."
            raise ConfigError(msg)
        if name in params:
            # The config's params hold one text value per name: the second would be dropped unsaid.
            msg = f"--param {name} is given twice; the tap's params hold one value per name."
            raise ConfigError(msg)
        params[name] = value
    return params


def main(argv: list[str], *, pacer: Pacer | None = None, session: requests.Session | None = None) -> int:
    """Run ``probe`` with ``argv`` (after the sub-command); return the exit status.

    Args:
        argv: The arguments.
        pacer: Spaces the requests (tests pass one on their own clock).
        session: The requests session (tests may pass one mounted on requests-mock).
    """
    args = parser().parse_args(argv)
    if args.max_pages < 1 or not math.isfinite(args.rate) or args.rate <= 0:
        sys.stderr.write("Error: --max-pages must be at least 1 and --rate a number above 0.\n")
        return 1
    auth = None
    try:
        auth = auth_from_env(
            bearer_env=args.bearer_env, header_env=args.header_env, query_env=args.query_env, basic_env=args.basic_env
        )
        params = _params(args.param)
        refuse_credentials(args.url, params)
        refuse_position(params)
        check_writable(args.write, force=args.force)
        if auth:
            # urllib3 logs each request line (a query credential included) at DEBUG.
            install_log_redaction([auth.secret])
        client = ProbeClient(
            budget=args.max_pages + EXTRA_REQUESTS,
            auth=auth,
            pacer=pacer or Pacer(args.rate),
            session=session,
        )
        with _quiet(PAGINATION_LOGGER):  # the proof stops at --max-pages: the tap's page-cap warning is not news
            config, evidence = probe(args.url, client, params=params, max_pages=args.max_pages, rate=args.rate)
    except (ConfigError, TapAPIError, requests.RequestException, BudgetExceededError, ValueError) as exc:
        secrets = [auth.secret] if auth else []
        sys.stderr.write(f"Error: {redact_text(str(exc), secrets)}\n")
        return 1
    failed = write_config(args.write, json.dumps(config, indent=2) + "\n")
    if args.write and not failed:
        evidence.notes.append(f"config written to {args.write}")
    sys.stderr.write(render_json(evidence) if args.json else render_text(evidence))
    if failed:
        sys.stderr.write(f"Error: {failed}\n")
        return 1
    return 0 if evidence.proven and not evidence.warnings else 2
