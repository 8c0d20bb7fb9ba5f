"""Dotted paths (`data_path`, `pagination.response_path`): tap_generic_api/paths.py."""

from __future__ import annotations

import pytest

from tap_generic_api.paths import MISSING, DottedPath

DOCUMENT = {
    "data": [{"id": "a"}, {"id": "b"}, {"id": "c"}],
    "paging": {"next": {"after": "cursor-9"}, "total": 0},
    "@odata.nextLink": "https://api.example.com/next",
    "@odata": {"nextLink": "shadowed"},
    "a.b": {"c": 1},
    "a": {"b": {"d": 2}},
    "empty": None,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("data.0.id", "a"),
        ("data.-1.id", "c"),
        ("data.-3.id", "a"),
        ("paging.next.after", "cursor-9"),
        ("paging.total", 0),
        ("@odata.nextLink", "https://api.example.com/next"),  # the literal key with a dot wins
        ("a.b.c", 1),  # "a.b" holds c
        ("a.b.d", 2),  # "a.b" has no d: falls back to a -> b -> d
        ("empty", None),  # a JSON null is found, not missing
    ],
)
def test_a_dotted_path_finds_the_value(path, expected):
    assert DottedPath(path).resolve(DOCUMENT) == expected


@pytest.mark.parametrize("path", ["data.3.id", "data.-4.id", "data.first", "paging.previous", "paging.total.x", "nope"])
def test_a_dotted_path_that_is_not_there_is_missing(path):
    assert DottedPath(path).resolve(DOCUMENT) is MISSING


def test_the_empty_path_is_the_document_itself():
    records = [{"id": 1}]
    assert DottedPath("").resolve(records) is records
    assert DottedPath("").segments == ()


def test_a_path_keeps_its_segments_and_text():
    path = DottedPath("data.-1.id")
    assert path.segments == ("data", "-1", "id")
    assert path.path == "data.-1.id"
    assert repr(path) == "DottedPath('data.-1.id')"


def test_missing_is_one_falsy_value():
    assert not MISSING
    assert repr(MISSING) == "MISSING"
    assert type(MISSING)() is MISSING
