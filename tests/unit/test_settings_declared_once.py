"""Each tap setting's default is declared once, in tap_generic_api/config/settings.py, and read from there."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from tap_generic_api.config import models as config
from tap_generic_api.config import parse_streams
from tap_generic_api.config.settings import CONFIG_SCHEMA, DEFAULT_ANNOTATION
from tap_generic_api.tap import TapGenericAPI

PACKAGE = Path(__file__).resolve().parents[2] / "tap_generic_api"
DECLARATIONS = PACKAGE / "config" / "settings.py"


def declared_defaults(node: dict[str, Any], path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Return ``{setting path: default}`` for every setting of the schema that declares one."""
    found = {}
    for key, child in node.get("properties", {}).items():
        if DEFAULT_ANNOTATION in child:
            found[(*path, key)] = child[DEFAULT_ANNOTATION]
        found.update(declared_defaults(child, (*path, key)))
    return found


DEFAULTS = declared_defaults(CONFIG_SCHEMA)
NUMERIC = {path: value for path, value in DEFAULTS.items() if type(value) in (int, float)}


def is_default_literal(node: ast.AST, value: Any) -> bool:
    """Return True for a number literal equal to ``value`` (``True`` is not 1)."""
    return isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.value == value


def restatements(tree: ast.AST, key: str, value: Any) -> list[int]:
    """Return the lines where ``tree`` writes ``value`` again as the default of setting ``key``.

    That is: ``DEFAULT_<...KEY...> = value``, ``key: T = value`` (a dataclass field), ``.get("key", value)``,
    a call's ``key=value``, or, for a value of four digits or more, the literal anywhere.
    """
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            named = any(n == key or (n.startswith("DEFAULT_") and key.upper() in n) for n in names)
            if named and is_default_literal(node.value, value):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            args = node.args
            getter = isinstance(node.func, ast.Attribute) and node.func.attr == "get" and len(args) == 2  # noqa: PLR2004
            if (
                getter
                and isinstance(args[0], ast.Constant)
                and args[0].value == key
                and is_default_literal(args[1], value)
            ):
                lines.append(node.lineno)
            lines += [kw.value.lineno for kw in node.keywords if kw.arg == key and is_default_literal(kw.value, value)]
        elif abs(value) >= 1000 and is_default_literal(node, value):  # noqa: PLR2004 - distinctive enough to spot bare
            lines.append(node.lineno)
    return sorted(set(lines))


def test_the_numeric_defaults_are_declared():
    assert NUMERIC == {
        ("timeout",): 60.0,
        ("pagination", "max_concurrency"): 4,
        ("pagination", "max_pages"): 10_000,
        ("rate_limit", "requests_per_second"): 10.0,
        ("rate_limit", "max_retries"): 3,
        ("rate_limit", "max_retry_wait"): 300.0,
        ("job", "poll_interval"): 10.0,
        ("job", "timeout"): 3600.0,
    }


def test_no_default_is_written_again_in_the_tap():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for setting, value in NUMERIC.items():
            for line in restatements(tree, setting[-1], value):
                if path == DECLARATIONS:
                    continue  # the declaration itself is checked below
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {'.'.join(setting)} = {value}")
    assert found == []


def test_each_default_is_declared_exactly_once():
    tree = ast.parse(DECLARATIONS.read_text())
    for setting, value in NUMERIC.items():
        declared = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "setting"
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == setting[-1]
        ]
        # job.timeout and the request timeout share a name: each is declared once, with its own value.
        assert len(declared) == sum(1 for other in NUMERIC if other[-1] == setting[-1]), setting
        literals = [kw.value for node in declared for kw in node.keywords if kw.arg == "default"]
        assert len(literals) == len(declared), setting
        assert any(is_default_literal(literal, value) for literal in literals), setting


def test_the_parser_and_the_descriptions_use_the_declared_defaults():
    assert config.DEFAULT_TIMEOUT_SECONDS == 60.0
    assert config.DEFAULT_MAX_PAGES == 10_000
    assert config.PaginationConfig().max_pages == 10_000
    assert config.RateLimitConfig().max_retries == 3
    parsed = parse_streams({"url": "https://api.example.com/items", "destination": {"table": "items"}})[0]
    assert (parsed.timeout, parsed.pagination.max_pages, parsed.pagination.max_concurrency) == (60.0, 10_000, 4)
    assert (parsed.rate_limit.requests_per_second, parsed.rate_limit.max_retry_wait) == (10.0, 300.0)
    properties = TapGenericAPI.config_jsonschema["properties"]
    assert properties["timeout"]["description"].endswith("(default 60).")
    assert properties["pagination"]["properties"]["max_pages"]["description"].endswith("(default 10000).")
    assert properties["rate_limit"]["properties"]["max_retries"]["description"].endswith("Default 3.")
    assert "default" not in properties["timeout"]  # the SDK would write it into every streams[] item
