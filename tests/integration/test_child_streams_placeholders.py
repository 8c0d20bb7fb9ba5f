"""{parent.<field>} placeholders naming fields with spaces or non-ASCII letters, and malformed ones."""

from __future__ import annotations

import pytest
from helpers import sync_messages

from plugin_kit.errors import ConfigError
from tap_generic_api.tap import TapGenericAPI

BASE = "https://api.example.com"


def _tap(url: str, **child) -> TapGenericAPI:
    config = {
        "rate_limit": {"requests_per_second": 1000, "max_retries": 0},
        "streams": [
            {"name": "posts", "url": f"{BASE}/posts", "destination": {"table": "posts"}},
            {
                "name": "comments",
                "parent": "posts",
                "url": url,
                "pagination": {"type": "none"},
                "destination": {"table": "comments"},
                **child,
            },
        ],
    }
    return TapGenericAPI(config=config, parse_env_config=False)


def test_fields_with_spaces_and_non_ascii_letters_are_filled(requests_mock):
    requests_mock.get(f"{BASE}/posts", json=[{"id": 1, "über": "x y", "user id": 7, "@meta": {"Größe": 3}}])
    requests_mock.get(f"{BASE}/p/1/x%20y", json=[{"id": "c"}])
    tap = _tap(
        f"{BASE}/p/{{parent.id}}/{{parent.über}}",
        params={"user": "{parent.user id}", "size": "{parent.@meta.Größe}"},
    )
    messages = sync_messages(tap)
    assert [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "comments"] == [{"id": "c"}]
    assert requests_mock.request_history[1].url == f"{BASE}/p/1/x%20y?user=7&size=3"


@pytest.mark.parametrize(
    ("child", "where", "text"),
    [
        ({"url": f"{BASE}/p/{{parent.}}"}, "streams[1].url", "{parent.}"),
        ({"url": f"{BASE}/p/{{parent.id}}", "params": {"q": "{parent}"}}, "streams[1].params.q", "{parent}"),
        ({"url": f"{BASE}/{{parent.id}}", "headers": {"X": "{parent.a..b}"}}, "streams[1].headers.X", "{parent.a..b}"),
    ],
)
def test_a_malformed_parent_placeholder_is_a_config_error_naming_the_key(child, where, text):
    with pytest.raises(ConfigError) as caught:
        _tap(**child)
    assert str(caught.value).startswith(f"{where}: '{text}' is not a placeholder: write {{parent.<field>}}")
