"""RFC 8288 Link header parsing: tap_generic_api/paging/link_header.py."""

from __future__ import annotations

import pytest

from tap_generic_api.paging.link_header import Link, next_link, parse_link_header


def test_several_link_values_in_one_header_in_order():
    links = parse_link_header('<https://a.example/p2>; rel="next", <https://a.example/p9>; rel=last')
    assert links == [
        Link("https://a.example/p2", ("next",), {"rel": "next"}),
        Link("https://a.example/p9", ("last",), {"rel": "last"}),
    ]


def test_several_header_lines_are_one_list():
    lines = ['<https://a.example/p9>; rel="last"', '<https://a.example/p2>; rel="next"']
    assert next_link(lines) == "https://a.example/p2"


@pytest.mark.parametrize(
    "header",
    [
        '<https://a.example/p2>; rel="next"',
        "<https://a.example/p2>;rel=next",
        '<https://a.example/p2> ; title="Page 2" ; rel="next"',
        '<https://a.example/p2>; type="application/json"; rel=next; per_page=100',
        '<https://a.example/p2>; rel="next last"',
        '<https://a.example/p2>; rel="last  NEXT"',
        '<https://a.example/p2>; REL="Next"',
        '<https://a.example/p2>;\trel=\t"next"',
    ],
)
def test_params_in_any_order_quoted_or_not_and_several_relation_types(header):
    assert next_link(header) == "https://a.example/p2"


def test_commas_and_semicolons_inside_quotes_and_inside_the_uri_do_not_split():
    header = (
        '<https://a.example/p?ids=1,2;3>; title="a, b; rel=next"; rel="prev", '
        '<https://a.example/p?ids=4,5>; title="x \\" , y"; rel="next"'
    )
    links = parse_link_header(header)
    assert [(link.target, link.rel) for link in links] == [
        ("https://a.example/p?ids=1,2;3", ("prev",)),
        ("https://a.example/p?ids=4,5", ("next",)),
    ]
    assert links[0].params["title"] == "a, b; rel=next"
    assert links[1].params["title"] == 'x " , y'
    assert next_link(header) == "https://a.example/p?ids=4,5"


def test_only_the_first_rel_counts():
    """RFC 8288 section 3.3: occurrences after the first MUST be ignored."""
    assert next_link('<https://a.example/p2>; rel="next"; rel="last"') == "https://a.example/p2"
    assert next_link('<https://a.example/p2>; rel="last"; rel="next"') is None


def test_a_malformed_link_value_does_not_hide_the_next_link():
    header = 'garbage, <https://a.example/p1>; rel; =x; rel="prev" junk, <https://a.example/p2>; rel=next'
    assert next_link(header) == "https://a.example/p2"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        " , ,",
        '<https://a.example/p2>; rel="prev"',
        "<https://a.example/p2>",
        '<https://a.example/p2>; rel="nextpage"',
    ],
)
def test_no_next_link(header):
    assert next_link(header) is None


def test_empty_parameters_trailing_semicolons_and_empty_elements_are_accepted():
    assert parse_link_header(",, <u1>;; rel=next;, <u2>; anchor") == [
        Link("u1", ("next",), {"rel": "next"}),
        Link("u2", (), {"anchor": ""}),
    ]


def test_unterminated_quote_or_bracket_ends_the_header_without_an_error():
    assert parse_link_header('<u1>; rel=next, <u2>; title="open') == [
        Link("u1", ("next",), {"rel": "next"}),
        Link("u2", (), {"title": "open"}),
    ]
    assert parse_link_header("<u1>; rel=next, <u2") == [Link("u1", ("next",), {"rel": "next"})]
