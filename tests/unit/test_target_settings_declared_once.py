"""Each target setting's default is written once: in the config schema (settings.CONFIG_SCHEMA)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from target_bigquery_smart.settings import CONFIG_SCHEMA, DEFAULTS, Settings, parse_settings

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("target_bigquery_smart", "plugin_kit")


def _is_value(node: ast.AST, value: object) -> bool:
    return (
        isinstance(node, ast.Constant)
        and not isinstance(node.value, bool)
        and type(node.value) in (int, float, str)
        and isinstance(value, str) == isinstance(node.value, str)
        and node.value == value
    )


def _spellings(value: object) -> list[str]:
    """How a default can be written in prose: 1000, 1,000, 1_000 (and 900 for 900.0)."""
    if isinstance(value, str):
        return [value]
    number = int(value) if float(value).is_integer() else value
    return sorted({f"{number}", f"{number:,}", f"{number:_}"})


def _names(target: ast.AST) -> list[str]:
    return [
        n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(target) if isinstance(n, ast.Name | ast.Attribute)
    ]


def default_places(key: str, value: object, root: Path = ROOT) -> list[str]:
    """Return ``file:line what`` for every place in the scanned packages that writes ``key``'s default.

    A place is: a ``default=`` keyword; a parameter named ``key`` with it as default; an
    assignment to a name holding ``key`` or ``DEFAULT``; a call passing both the key and the
    value; a text naming the key and the value as a default.
    """
    places = []
    spelled = "|".join(re.escape(s) for s in _spellings(value))
    prose = re.compile(rf"{re.escape(key)}\b[^.]*\bdefault:?\s+(?:is\s+)?(?:{spelled})\b", re.IGNORECASE | re.DOTALL)
    for package in SCANNED:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            where = path.relative_to(root)
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    has_key = any(_is_value(arg, key) for arg in node.args)
                    if any(kw.arg == "default" and _is_value(kw.value, value) for kw in node.keywords) and has_key:
                        places.append(f"{where}:{node.lineno} schema property")
                    elif any(kw.arg == "default" and _is_value(kw.value, value) for kw in node.keywords) and not (
                        # another setting's own declaration that happens to share the value
                        node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in DEFAULTS
                    ):
                        places.append(f"{where}:{node.lineno} default= keyword")
                    elif has_key and any(
                        _is_value(arg, value) for arg in [*node.args, *(k.value for k in node.keywords)]
                    ):
                        places.append(f"{where}:{node.lineno} call with the key and the value")
                elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    arguments = node.args
                    positional = [*arguments.posonlyargs, *arguments.args]
                    pairs = list(zip(positional[len(positional) - len(arguments.defaults) :], arguments.defaults))
                    pairs += [(a, d) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults) if d is not None]
                    places += [
                        f"{where}:{node.lineno} parameter default"
                        for arg, default in pairs
                        if arg.arg == key and _is_value(default, value)
                    ]
                elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    names = [name for target in targets for name in _names(target)]
                    if _is_value(node.value, value) and any(
                        key.lower() in name.lower() or "default" in name.lower() for name in names
                    ):
                        places.append(f"{where}:{node.lineno} assignment to {', '.join(names)}")
                elif isinstance(node, ast.Constant) and isinstance(node.value, str) and prose.search(node.value):
                    places.append(f"{where}:{node.lineno} text")
    return places


def test_every_declared_default_is_written_in_the_schema_and_nowhere_else():
    assert DEFAULTS == {
        "location": "US",
        "batch_size": 1000,
        "batch_max_bytes": 50_000_000,
        "job_timeout_seconds": 900,
        "streaming_threshold": 100,
        "write_method": "smart",
        "max_load_jobs_per_table": 1000,
        "partition_count": 1,
        "metrics_log_level": "DEBUG",
        "storage_write_queued_batches": 4,
    }
    for key, value in DEFAULTS.items():
        places = default_places(key, value)
        assert [p.split(" ", 1)[1] for p in places] == ["schema property"], (key, places)
        # metrics_log_level is shared with the tap, so plugin_kit declares it for both.
        home = "plugin_kit/quiet_logs.py:" if key == "metrics_log_level" else "target_bigquery_smart/settings.py:"
        assert places[0].startswith(home), (key, places)


def test_the_scan_finds_a_default_written_again(tmp_path):
    """The scan is not blind: a copy of a default in any of its forms is found."""
    package = tmp_path / "target_bigquery_smart"
    package.mkdir()
    (package / "copy.py").write_text(
        "DEFAULT_BATCH_SIZE = 1000\n"
        "def load(rows, streaming_threshold=100):\n"
        "    '''Rows per batch (config ``batch_size``, default 1,000).'''\n"
        "    return config.get('batch_max_bytes', 50_000_000)\n"
    )
    assert default_places("batch_size", 1000, tmp_path) == [
        "target_bigquery_smart/copy.py:1 assignment to DEFAULT_BATCH_SIZE",
        "target_bigquery_smart/copy.py:3 text",
    ]
    assert default_places("streaming_threshold", 100, tmp_path) == ["target_bigquery_smart/copy.py:2 parameter default"]
    assert default_places("batch_max_bytes", 50_000_000, tmp_path) == [
        "target_bigquery_smart/copy.py:4 call with the key and the value"
    ]


def test_settings_and_parsed_config_take_their_defaults_from_the_schema():
    parsed = parse_settings({"project": "p", "dataset": "d"})
    for settings in (Settings(), parsed):
        assert settings.batch_size == CONFIG_SCHEMA["properties"]["batch_size"]["default"] == 1000
        assert settings.streaming_threshold == CONFIG_SCHEMA["properties"]["streaming_threshold"]["default"] == 100
        assert settings.batch_max_bytes == 50_000_000
        assert settings.job_timeout_seconds == 900.0
