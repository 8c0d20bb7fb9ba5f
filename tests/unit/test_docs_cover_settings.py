"""Every setting in the plugins' schemas is documented in its reference page, besides the generated ``--about`` dump."""

from __future__ import annotations

import re

import pytest
from helpers import ROOT

from tap_generic_api.config.settings import CONFIG_SCHEMA as TAP_SCHEMA
from tap_generic_api.tap import TapGenericAPI
from target_bigquery_smart.settings import CONFIG_SCHEMA as TARGET_SCHEMA
from target_bigquery_smart.target import TargetBigQuerySmart


def builtin_settings(plugin) -> set[str]:
    """The SDK's own settings (stream maps, flattening, ...), which it adds to the schema when a plugin starts."""
    schema: dict = {"properties": {}}
    plugin.append_builtin_config(schema)
    return set(schema["properties"])


def setting_paths(schema: dict, prefix: str = "") -> list[str]:
    """Return every setting as a dotted path (``pagination.type``); a list's items are not descended."""
    paths = []
    for key, child in (schema.get("properties") or {}).items():
        path = f"{prefix}{key}"
        paths.append(path)
        if key != "streams":
            paths += setting_paths(child, f"{path}.")
    return paths


def written_part(page: str) -> str:
    """The page without its ``--about`` section (generated, so it proves nothing)."""
    text = ROOT.joinpath("docs", page).read_text()
    return re.sub(r"<!-- about:.*?<!-- /about:[^>]*-->", "", text, flags=re.DOTALL)


@pytest.mark.parametrize(
    ("schema", "plugin", "page"),
    [(TAP_SCHEMA, TapGenericAPI, "TAP_CONFIG.md"), (TARGET_SCHEMA, TargetBigQuerySmart, "TARGET_CONFIG.md")],
)
def test_every_setting_is_documented_in_its_page(schema, plugin, page):
    text = written_part(page)
    sdk = builtin_settings(plugin)
    ours = [path for path in setting_paths(schema) if path.split(".")[0] not in sdk]
    missing = [path for path in ours if f"`{path}`" not in text]
    assert missing == []
    assert len(ours) > 20


def test_the_scan_sees_nested_settings():
    assert {"pagination.type", "rate_limit.max_retries", "destination.key_fields"} <= set(setting_paths(TAP_SCHEMA))
