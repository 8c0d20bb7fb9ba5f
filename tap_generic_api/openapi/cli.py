"""``tap-generic-api from-openapi SPEC``: the command line and its ``--explain`` report.

Usage::

    tap-generic-api from-openapi openapi.yaml --paths '/v1/*' --tag billing --write tap.json --explain

The config (``streams``, one per selected list operation) goes to stdout or ``--write FILE``;
the report goes to stderr: with ``--explain`` why each key was chosen, and always a ``TODO``
line for every choice that could not be made. Exit status 0, or 1 on an error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from plugin_kit.errors import ConfigError
from plugin_kit.redact import redact_url
from tap_generic_api.config_file import check_writable, write_config
from tap_generic_api.openapi.load import load_spec
from tap_generic_api.openapi.streams import Built, base_url, build_stream, list_operations, server_variable_todos
from tap_generic_api.probe.arguments import refuse_credentials


def parser() -> argparse.ArgumentParser:
    """Return the ``from-openapi`` argument parser."""
    cli = argparse.ArgumentParser(
        prog="tap-generic-api from-openapi",
        description="Write a tap config with one stream per list-returning GET operation of an OpenAPI description.",
    )
    cli.add_argument("spec", help="OpenAPI description: a JSON or YAML file, or an http(s) URL")
    cli.add_argument(
        "--paths", action="append", default=[], metavar="GLOB", help="only paths matching GLOB (repeatable)"
    )
    cli.add_argument("--tag", action="append", default=[], help="only operations with this tag (repeatable)")
    cli.add_argument("--server", help="server URL to use instead of the description's first server")
    cli.add_argument("--write", type=Path, metavar="FILE", help="write the config to FILE instead of stdout")
    cli.add_argument("--force", action="store_true", help="with --write: replace the file if it exists")
    cli.add_argument("--explain", action="store_true", help="say on stderr why each key was chosen")
    return cli


def build_config(
    source: str, *, globs: list[str], tags: list[str], server: str | None
) -> tuple[dict[str, Any], list[tuple[str, Built]], list[str]]:
    """Return ``(config, [(stream name, Built)], skipped lines)`` for a description.

    Raises:
        ConfigError: The description cannot be read, or no operation is selected.
    """
    spec = load_spec(source)
    operations, skipped = list_operations(spec, globs=globs, tags=tags)
    if not operations:
        msg = f"no GET operation returning a list of objects in {redact_url(source)} matches the selection" + (
            f" ({'; '.join(skipped[:5])})" if skipped else ""
        )
        if tags:
            msg += f"; the GET operations' tags: {', '.join(_get_tags(spec)) or '(none)'}"
        raise ConfigError(msg)
    base = base_url(spec, source, server)
    by_path = {op.path: op for op in operations}
    # A path or operation may name its own servers (another host): they win over the description's.
    bases = {op.path: base_url({"servers": op.servers}, source, server) if op.servers else base for op in operations}
    built = [(op.name, build_stream(spec, op, bases[op.path], by_path)) for op in operations]
    server_todos = [] if server else server_variable_todos(spec)
    for _, b in built:
        b.todos += server_todos
    streams = [b.block for _, b in built]
    config: dict[str, Any] = {"streams": streams}
    variables = {k: v for _, b in built for k, v in b.variables.items()}
    if variables:
        config["variables"] = variables
    auths = {json.dumps(s.get("auth"), sort_keys=True) for s in streams}
    if len(auths) == 1 and streams[0].get("auth"):  # one auth for all: said once, at the top
        config["auth"] = streams[0]["auth"]
        for stream in streams:
            del stream["auth"]
    return config, built, skipped


def _get_tags(spec: dict[str, Any]) -> list[str]:
    paths = (spec.get("paths") or {}).values()
    return sorted({tag for item in paths for tag in ((item or {}).get("get") or {}).get("tags") or []})


def report(built: list[tuple[str, Built]], skipped: list[str], *, explain: bool, config: dict[str, Any]) -> str:
    """Return the report: per stream, the reasons (with ``explain``) and every TODO; then what was skipped."""
    lines = []
    for name, b in built:
        lines.append(f"stream {name} ({b.block['url']})")
        if explain:
            lines += [f"    {why}" for why in b.why]
        lines += [f"    TODO: {todo}" for todo in b.todos]
    if explain:
        lines += [f"skipped {line}" for line in skipped]
    auths = [config.get("auth") or {}, *(s.get("auth") or {} for s in config["streams"])]
    secrets = sorted({a.get("secret_key") for a in auths} - {None})
    if secrets:
        lines.append(f"secrets: give {', '.join(secrets)} under 'secrets' in a second --config at run time")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Run ``from-openapi`` with ``argv`` (after the sub-command); return the exit status."""
    args = parser().parse_args(argv)
    try:
        check_writable(args.write, force=args.force)
        if args.server:
            refuse_credentials(args.server, {})  # the server URL goes into every stream's url
        config, built, skipped = build_config(args.spec, globs=args.paths, tags=args.tag, server=args.server)
    except ConfigError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    failed = write_config(args.write, json.dumps(config, indent=2) + "\n")
    sys.stderr.write(report(built, skipped, explain=args.explain, config=config))
    if failed:
        sys.stderr.write(f"Error: {failed}\n")
        return 1
    return 0
