"""Link pagination over HTTP: rel="next" followed from the RFC 8288 Link header."""

from __future__ import annotations

from werkzeug import Response

from tap_generic_api.tap import TapGenericAPI


def test_link_pagination_over_http_follows_rel_next_last_sent_on_several_header_lines(httpserver):
    """The whole path: real HTTP, two Link header lines, the next link second with two relation types."""
    base = httpserver.url_for("/v1/items")
    httpserver.expect_ordered_request("/v1/items", query_string="").respond_with_response(
        Response(
            '[{"id": 1}]',
            content_type="application/json",
            headers=[
                ("Link", f'<{base}?page=1>; rel="first"'),
                ("Link", f'<{base}?page=2>; title="p, 2"; rel="next last"'),
            ],
        )
    )
    httpserver.expect_ordered_request("/v1/items", query_string="page=2").respond_with_json([{"id": 2}])
    tap = TapGenericAPI(
        config={
            "url": base,
            "destination": {"table": "items"},
            "pagination": {"type": "link"},
            "rate_limit": {"requests_per_second": 1000},
        },
        parse_env_config=False,
    )
    assert list(tap.streams["items"].get_records(None)) == [{"id": 1}, {"id": 2}]
    assert [request.query_string for request, _ in httpserver.log] == [b"", b"page=2"]
