"""``{variable}`` templating of URLs, parameters, headers and bodies: tap_generic_api/templating.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plugin_kit.errors import ConfigError
from tap_generic_api.templating import (
    builtin_variables,
    incremental_variables,
    is_number,
    placeholders,
    render,
    render_mapping,
    render_value,
    to_datetime,
)

NOW = datetime(2024, 3, 5, 6, 7, 8, tzinfo=UTC)


def test_the_builtin_variables_are_fixed_from_the_run_start():
    assert builtin_variables("acme", NOW) == {"now": "2024-03-05T06:07:08Z", "date": "2024-03-05", "org_slug": "acme"}
    assert builtin_variables(None, NOW) == {"now": "2024-03-05T06:07:08Z", "date": "2024-03-05"}


def test_placeholders_are_plain_identifiers_in_braces():
    assert placeholders("/orgs/{org_slug}/items?since={start_date}&x={{literal}}&y={not-a-name}") == [
        "org_slug",
        "start_date",
    ]


def test_render_replaces_placeholders_and_unescapes_doubled_braces():
    text = render('/v1/{org}/items?n={n}&json={{"a": 1}}&created[gte]=1', {"org": "acme", "n": 5}, where="url")
    assert text == '/v1/acme/items?n=5&json={"a": 1}&created[gte]=1'


def test_an_unknown_variable_names_the_key_and_the_known_variables():
    with pytest.raises(ConfigError) as info:
        render("{start}", {"start_date": "x", "date": "y"}, where="streams[0].params.since")
    assert str(info.value) == (
        "Unknown variable '{start}' in 'streams[0].params.since'. Define it under config 'variables' or use a "
        "built-in. Known variables: date, start_date."
    )


def test_an_unknown_variable_with_none_defined_says_none():
    with pytest.raises(ConfigError, match=r"Known variables: none\.$"):
        render("{x}", {}, where="url")


def test_render_mapping_renders_values_drops_nones_and_names_each_key():
    rendered = render_mapping({"since": "{date}", "limit": 100, "skip": None}, {"date": "2024-03-05"}, where="params")
    assert rendered == {"since": "2024-03-05", "limit": "100"}
    with pytest.raises(ConfigError, match=r"in 'headers\.X-Org'"):
        render_mapping({"X-Org": "{org}"}, {}, where="headers")


def test_render_value_keeps_the_type_of_a_lone_placeholder_in_a_body():
    body = {"from": "{start_date_unix}", "label": "since {start_date_unix}", "ids": ["{org}", 3], "flag": True}
    variables = {"start_date_unix": 1709618828, "org": "acme"}
    assert render_value(body, variables, where="body") == {
        "from": 1709618828,
        "label": "since 1709618828",
        "ids": ["acme", 3],
        "flag": True,
    }


def test_render_value_names_the_place_in_the_body():
    with pytest.raises(ConfigError, match=r"in 'body\.filter\[1\]'"):
        render_value({"filter": ["ok", "{missing} here"]}, {}, where="body")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, True),
        (2.5, True),
        ("42", True),
        (" -1.5 ", True),
        (True, False),
        ("1e3", False),
        ("abc", False),
        (None, False),
    ],
)
def test_is_number(value, expected):
    assert is_number(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-05", datetime(2024, 3, 5, tzinfo=UTC)),
        ("2024-03-05T06:07:08Z", NOW),
        ("2024-03-05T08:07:08+02:00", NOW),
        (1709618828, NOW),
        ("1709618828", NOW),
    ],
)
def test_to_datetime_reads_dates_timestamps_and_epoch_seconds(value, expected):
    assert to_datetime(value) == expected


def test_to_datetime_refuses_text_that_is_no_date():
    with pytest.raises(ValueError, match="Invalid isoformat string"):
        to_datetime("yesterday")


def test_incremental_variables_start_from_the_bookmark_else_the_start_date():
    end = {"end_date": "2024-03-05T06:07:08Z", "end_date_unix": 1709618828}
    assert incremental_variables("2024-03-01T00:00:00Z", "2020-01-01", NOW) == {
        **end,
        "start_date": "2024-03-01T00:00:00Z",
        "bookmark": "2024-03-01T00:00:00Z",
        "start_date_unix": 1709251200,
    }
    assert incremental_variables(None, "2024-03-01", NOW) == {
        **end,
        "start_date": "2024-03-01",
        "bookmark": "2024-03-01",
        "start_date_unix": 1709251200,
    }
    assert incremental_variables(None, None, NOW) == end


def test_a_bookmark_that_is_no_date_has_no_unix_form():
    assert incremental_variables("id-00042", None, NOW) == {
        "end_date": "2024-03-05T06:07:08Z",
        "end_date_unix": 1709618828,
        "start_date": "id-00042",
        "bookmark": "id-00042",
    }
    assert incremental_variables(1234.9, None, NOW)["start_date_unix"] == 1234
