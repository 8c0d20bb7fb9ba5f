"""Exact requests for each pagination and auth type (requests-mock)."""

from __future__ import annotations

import base64
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from helpers import API, extract
from singer_sdk.exceptions import ConfigValidationError

from plugin_kit.errors import ConfigError
from tap_generic_api.errors import CredentialError, ResponseShapeError
from tap_generic_api.tap import TapGenericAPI


def _tap(**config):
    base = {"url": API, "destination": {"table": "items", "key_fields": ["id"]}}
    base.update(config)
    return TapGenericAPI(config=base, parse_env_config=False)


def _queries(history):
    return [(r.method, r.scheme + "://" + r.netloc + r.path, r.qs) for r in history]


def test_cursor_pagination_requests(requests_mock):
    requests_mock.get(
        API,
        [
            {"json": {"results": [{"id": 1}, {"id": 2}], "paging": {"next": {"after": "c2"}}}},
            {"json": {"results": [{"id": 3}], "paging": {"next": {"after": "c3"}}}},
            {"json": {"results": [{"id": 4}]}},
        ],
    )
    tap = _tap(
        data_path="results",
        pagination={"type": "cursor", "param": "after", "response_path": "paging.next.after", "limit": 2},
    )
    assert [r["id"] for r in extract(tap)] == [1, 2, 3, 4]
    assert [r.url for r in requests_mock.request_history] == [
        f"{API}?limit=2",
        f"{API}?limit=2&after=c2",
        f"{API}?limit=2&after=c3",
    ]


def test_stripe_last_record_id_cursor(requests_mock):
    requests_mock.get(
        API,
        [
            {"json": {"data": [{"id": "txn_1"}, {"id": "txn_2"}], "has_more": True}},
            {"json": {"data": [{"id": "txn_3"}], "has_more": False}},
            {"json": {"data": [], "has_more": False}},
        ],
    )
    tap = _tap(
        data_path="data",
        pagination={
            "type": "cursor",
            "param": "starting_after",
            "response_path": "data.-1.id",
            "limit": 2,
            "limit_param": "limit",
        },
    )
    assert [r["id"] for r in extract(tap)] == ["txn_1", "txn_2", "txn_3"]
    assert [r.url for r in requests_mock.request_history] == [
        f"{API}?limit=2",
        f"{API}?limit=2&starting_after=txn_2",
        f"{API}?limit=2&starting_after=txn_3",
    ]


def test_offset_pagination_stops_on_short_page(requests_mock):
    requests_mock.get(
        API,
        [
            {"json": [{"id": 1}, {"id": 2}]},
            {"json": [{"id": 3}, {"id": 4}]},
            {"json": [{"id": 5}]},
        ],
    )
    tap = _tap(pagination={"type": "offset", "limit": 2, "limit_param": "count", "max_concurrency": 1})
    assert [r["id"] for r in extract(tap)] == [1, 2, 3, 4, 5]
    assert [r.url for r in requests_mock.request_history] == [
        f"{API}?count=2&offset=0",
        f"{API}?count=2&offset=2",
        f"{API}?count=2&offset=4",
    ]


def test_offset_pagination_stops_on_empty_page(requests_mock):
    requests_mock.get(API, [{"json": [{"id": 1}, {"id": 2}]}, {"json": []}])
    tap = _tap(pagination={"type": "offset", "param": "skip", "limit": 2, "max_concurrency": 1})
    assert len(extract(tap)) == 2
    assert [r.url for r in requests_mock.request_history] == [
        f"{API}?limit=2&skip=0",
        f"{API}?limit=2&skip=2",
    ]


def test_page_pagination_starts_at_one(requests_mock):
    requests_mock.get(
        API,
        [
            {"json": {"items": [{"id": 1}, {"id": 2}]}},
            {"json": {"items": [{"id": 3}]}},
        ],
    )
    tap = _tap(
        data_path="items", pagination={"type": "page", "limit": 2, "limit_param": "per_page", "max_concurrency": 1}
    )
    assert len(extract(tap)) == 3
    assert [r.url for r in requests_mock.request_history] == [
        f"{API}?per_page=2&page=1",
        f"{API}?per_page=2&page=2",
    ]


def test_link_header_next_url_requested_as_given(requests_mock):
    next_url = "https://api.example.com/v1/items?page=2&per_page=100&q=a%2Fb"
    requests_mock.get(
        API,
        [
            {"json": [{"id": 1}], "headers": {"Link": f'<{next_url}>; rel="next", <{API}?page=9>; rel="last"'}},
            {"json": [{"id": 2}]},
        ],
    )
    tap = _tap(
        params={"q": "a/b"},
        headers={"Accept": "application/vnd.github+json"},
        pagination={"type": "link", "response_path": "", "limit": 100, "limit_param": "per_page"},
    )
    assert [r["id"] for r in extract(tap)] == [1, 2]
    history = requests_mock.request_history
    assert history[0].url == f"{API}?q=a%2Fb&per_page=100"
    assert history[1].url == next_url
    assert all(r.headers["Accept"] == "application/vnd.github+json" for r in history)


def test_link_in_body_with_dotted_key_and_relative_url(requests_mock):
    requests_mock.get(
        API,
        [
            {"json": {"value": [{"id": 1}], "@odata.nextLink": "/v1/items?$skiptoken=abc"}},
            {"json": {"value": [{"id": 2}]}},
        ],
    )
    tap = _tap(data_path="value", pagination={"type": "link", "response_path": "@odata.nextLink"})
    assert len(extract(tap)) == 2
    assert requests_mock.request_history[1].url == "https://api.example.com/v1/items?$skiptoken=abc"


def test_no_pagination_single_request(requests_mock):
    requests_mock.get(API, json={"data": [{"id": 1}, {"id": 2}], "next": "ignored"})
    tap = _tap(data_path="data")
    assert len(extract(tap)) == 2
    assert requests_mock.call_count == 1


def test_single_object_is_one_record_and_null_is_none(requests_mock):
    requests_mock.get(API, json={"data": {"id": 7}})
    assert extract(_tap(data_path="data")) == [{"id": 7}]
    requests_mock.get(API, json={"data": None})
    assert extract(_tap(data_path="data")) == []


def test_missing_data_path_is_an_error(requests_mock):
    requests_mock.get(API, json={"results": [], "paging": {}})
    with pytest.raises(ResponseShapeError, match=r"^Stream '\w+': data_path 'data' not found.*\['paging', 'results'\]"):
        extract(_tap(data_path="data"))


def test_html_body_with_status_200_is_an_error(requests_mock):
    requests_mock.get(API, text="<html>maintenance</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(
        ResponseShapeError, match=r"^Stream '\w+': Response from .* is not JSON .*text/html.*maintenance"
    ):
        extract(_tap())


def test_page_cap_stops_with_warning(requests_mock, caplog):
    requests_mock.get(API, [{"json": {"data": [{"id": i}], "next": f"c{i}"}} for i in range(10)])
    tap = _tap(data_path="data", pagination={"type": "cursor", "param": "c", "response_path": "next", "max_pages": 3})
    assert len(extract(tap)) == 3
    assert requests_mock.call_count == 3
    assert "stopped after 3 pages" in caplog.text
    assert "truncated" in caplog.text


# --- auth -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "secrets", "header", "value", "query"),
    [
        ({"type": "bearer", "provider": "HUBSPOT"}, {"hubspot": "tok1"}, "Authorization", "Bearer tok1", {}),
        ({"type": "bearer", "provider": "HUBSPOT"}, {"hubspot_api_key": "tok2"}, "Authorization", "Bearer tok2", {}),
        ({"type": "oauth2", "provider": "X"}, {"x": '{"access_token": "tok3"}'}, "Authorization", "Bearer tok3", {}),
        ({"type": "header", "provider": "V"}, {"v": "k1"}, "X-API-Key", "k1", {}),
        ({"type": "header", "provider": "V", "header_name": "X-Custom-Auth"}, {"v": "k2"}, "X-Custom-Auth", "k2", {}),
        ({"type": "query", "secret_key": "vendor_key"}, {"vendor_key": "k3"}, None, None, {"api_key": ["k3"]}),
        ({"type": "query", "provider": "V", "param_name": "token"}, {"v": "k4"}, None, None, {"token": ["k4"]}),
        (
            {"type": "basic", "provider": "V"},
            {"v": "user:pa:ss"},
            "Authorization",
            "Basic " + base64.b64encode(b"user:pa:ss").decode(),
            {},
        ),
        (
            {"type": "basic", "provider": "V"},
            {"v": {"username": "u", "password": "p"}},
            "Authorization",
            "Basic " + base64.b64encode(b"u:p").decode(),
            {},
        ),
    ],
)
def test_auth_types_send_exact_credentials(requests_mock, auth, secrets, header, value, query):
    requests_mock.get(API, json=[{"id": 1}])
    extract(_tap(auth=auth, secrets=secrets, params={"status": "open"}))
    request = requests_mock.request_history[0]
    assert request.qs == {"status": ["open"], **query}
    if header:
        assert request.headers[header] == value
    else:
        assert "Authorization" not in request.headers


def test_provider_secret_wins_over_secret_key(requests_mock):
    requests_mock.get(API, json=[])
    extract(
        _tap(
            auth={"type": "bearer", "provider": "HUBSPOT", "secret_key": "other"},
            secrets={"hubspot": "from-provider", "other": "from-key"},
        )
    )
    assert requests_mock.request_history[0].headers["Authorization"] == "Bearer from-provider"


def test_missing_credential_fails_before_any_request(requests_mock):
    requests_mock.get(API, json=[])
    with pytest.raises(CredentialError, match=r"Failed to resolve credential for provider HUBSPOT \(org acme\)"):
        _tap(auth={"type": "bearer", "provider": "HUBSPOT"}, secrets={}, org_slug="acme")
    assert requests_mock.call_count == 0


# --- templating and config --------------------------------------------------


def test_variables_in_url_params_and_headers(requests_mock):
    requests_mock.get("https://api.example.com/orgs/acme-gh/repos", json=[])
    tap = _tap(
        url="https://api.example.com/orgs/{org_name}/repos",
        params={"status": "{status}", "org": "{org_slug}", "day": "{date}"},
        headers={"X-Request-ID": "{org_slug}-{date}"},
        variables={"org_name": "acme-gh", "status": "open"},
        org_slug="acme",
    )
    extract(tap)
    request = requests_mock.request_history[0]
    day = request.qs["day"][0]
    assert len(day) == 10
    assert day[4] == "-"
    assert request.qs["status"] == ["open"]
    assert request.qs["org"] == ["acme"]
    assert request.headers["X-Request-ID"] == f"acme-{day}"


def test_unknown_variable_names_it_and_the_key():
    with pytest.raises(ConfigError, match=r"Unknown variable '\{status\}' in 'config.params.status'"):
        _tap(params={"status": "{status}"})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"rate_limit": {"requests_per_second": 0}}, r"config.rate_limit.requests_per_second must be a positive"),
        ({"rate_limit": {"max_retries": -1}}, r"config.rate_limit.max_retries must be an integer >= 0"),
        (
            {"auth": {"type": "oauth2", "token_url": "https://t/token", "client_id": "c"}},
            r"'client_credentials' needs auth.client_id and auth.client_secret",
        ),
        ({"auth": {"type": "oauth2", "token_url": "ftp://t"}}, r"auth.token_url is required"),
        ({"body": {"q": 1}}, r"config.body is only sent with method POST"),
        ({"start_date": "yesterday"}, r"config.start_date: 'yesterday' is not an ISO-8601"),
        ({"params": {"since": "{start_date}"}}, r"uses \{start_date\} but the stream has no start_date"),
        ({"pagination": {"type": "cursor", "param": "after"}}, r"pagination.response_path is required"),
        ({"auth": {"type": "bearer"}}, r"auth needs 'provider'"),
    ],
)
def test_config_errors(config, message, requests_mock):
    with pytest.raises(ConfigValidationError, match=message):
        _tap(**config)


def test_schema_errors_name_the_key_and_never_echo_secrets():
    from singer_sdk.exceptions import ConfigValidationError

    with pytest.raises(ConfigValidationError) as info:
        _tap(pagination={"type": "scroll"}, secrets="sk_live_topsecret")
    text = " ".join(info.value.errors)
    assert "config.pagination.type: invalid value 'scroll'. Valid values: cursor, offset, page, link, none." in text
    assert "sk_live_topsecret" not in text


def test_streams_list_with_defaults_and_errors_name_the_stream(requests_mock):
    requests_mock.get("https://api.example.com/v1/a", json={"data": [{"id": 1}]})
    requests_mock.get("https://api.example.com/v1/b", json={"data": [{"id": 2}, {"id": 3}]})
    config = {
        "data_path": "data",
        "headers": {"Accept": "application/json"},
        "streams": [
            {"url": "https://api.example.com/v1/a", "destination": {"table": "a"}},
            {"url": "https://api.example.com/v1/b", "destination": {"table": "b"}, "headers": {"X-B": "1"}},
        ],
    }
    tap = TapGenericAPI(config=config, parse_env_config=False)
    assert sorted(tap.streams) == ["a", "b"]
    assert len(extract(tap, "b")) == 2
    assert requests_mock.request_history[0].headers["Accept"] == "application/json"
    assert requests_mock.request_history[0].headers["X-B"] == "1"

    config["streams"][1]["pagination"] = {"type": "cursor", "param": "c"}
    with pytest.raises(ConfigError, match=r"streams\[1\].pagination.response_path"):
        TapGenericAPI(config=config, parse_env_config=False)


def test_sync_writes_schema_record_state_messages(requests_mock):
    requests_mock.get(API, json={"data": [{"id": 1, "v": 1.10}, {"id": 2, "nested": {"a": [1]}}]})
    tap = _tap(data_path="data")
    out = io.StringIO()
    with redirect_stdout(out):
        tap.sync_all()
    messages = [json.loads(line) for line in out.getvalue().splitlines()]
    kinds = [m["type"] for m in messages]
    assert kinds[0] == "SCHEMA"
    assert kinds[-1] == "STATE"
    schema = messages[0]
    assert schema["stream"] == "items"
    assert schema["key_properties"] == ["id"]
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert records == [{"id": 1, "v": 1.10}, {"id": 2, "nested": {"a": [1]}}]


def test_schema_declares_exactly_the_keys_the_config_parser_knows():
    from tap_generic_api.config.settings import NESTED_KEYS, STREAM_KEYS

    properties = TapGenericAPI.config_jsonschema["properties"]
    stream_properties = properties["streams"]["items"]["properties"]
    assert set(stream_properties) == STREAM_KEYS
    for block, keys in NESTED_KEYS.items():
        assert set(stream_properties[block]["properties"]) == keys, block


def test_misspelt_keys_are_errors_with_a_suggestion():
    with pytest.raises(
        ConfigValidationError, match=r"config: unknown key\(s\) 'data_pth' \(did you mean 'data_path'\?\)"
    ):
        _tap(data_pth="rows")
    with pytest.raises(ConfigValidationError, match=r"config.pagination: unknown key\(s\) 'respone_path'"):
        _tap(pagination={"type": "cursor", "param": "c", "respone_path": "next"})


def test_a_misspelt_key_inside_a_streams_entry_gets_a_suggestion_and_the_valid_keys():
    with pytest.raises(ConfigValidationError) as info:
        TapGenericAPI(
            config={"streams": [{"url": API, "destination": {"table": "a"}, "data_pth": "rows"}]},
            parse_env_config=False,
        )
    message = str(info.value)
    assert message.startswith(
        "streams[0]: unknown key(s) 'data_pth' (did you mean 'data_path'?). Valid keys: allowed_hosts, auth, "
    )
    assert ", data_path, " in message


def test_meltano_yml_declares_every_setting():
    import yaml

    from tap_generic_api.config.settings import STREAM_KEYS, TOP_LEVEL_KEYS

    project = yaml.safe_load((Path(__file__).resolve().parents[2] / "meltano.yml").read_text())
    tap = project["plugins"]["extractors"][0]
    declared = {s["name"] for s in tap["settings"]}
    assert declared == STREAM_KEYS | TOP_LEVEL_KEYS
    assert next(s for s in tap["settings"] if s["name"] == "secrets")["sensitive"] is True
    from target_bigquery_smart.target import TargetBigQuerySmart

    target = project["plugins"]["loaders"][0]
    builtin = {
        "add_record_metadata",
        "validate_records",
        "stream_maps",
        "stream_map_config",
        "faker_config",
        "flattening_enabled",
        "flattening_max_depth",
        "flattening_max_key_length",
        "flattening_separator",
    }
    own = set(TargetBigQuerySmart.config_jsonschema["properties"]) - builtin
    declared = {s["name"] for s in target["settings"]}
    assert own <= declared
    assert declared - own == {"validate_records", "add_record_metadata"}


def test_meltano_yml_declares_the_capabilities_each_plugin_reports():
    import yaml

    from tap_generic_api.tap import TapGenericAPI
    from target_bigquery_smart.target import TargetBigQuerySmart

    project = yaml.safe_load((Path(__file__).resolve().parents[2] / "meltano.yml").read_text())
    tap, target = project["plugins"]["extractors"][0], project["plugins"]["loaders"][0]
    assert set(tap["capabilities"]) == {str(c) for c in TapGenericAPI.capabilities}
    assert set(target["capabilities"]) == {str(c) for c in TargetBigQuerySmart.capabilities}


def test_transform_block_is_accepted_with_a_warning_that_the_target_applies_it(requests_mock, caplog):
    requests_mock.get(API, json=[{"id": 1}])
    tap = _tap(transform={"flatten": True, "add_fields": {"source": "vendor_api"}})
    assert extract(tap) == [{"id": 1}]
    assert "'transform' (flatten, add_fields) is applied by the target" in caplog.text
