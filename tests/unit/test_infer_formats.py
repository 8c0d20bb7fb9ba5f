"""infer_schema's types: ISO-8601 date-times and dates, integers that fit INT64 (tap_generic_api/schemas.py)."""

from __future__ import annotations

import pytest

from tap_generic_api.schemas import SchemaInferrer, string_format


def _inferred(*values):
    inferrer = SchemaInferrer()
    for value in values:
        inferrer.add({"v": value})
    return inferrer.schema()["properties"]["v"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T10:20:30Z", "date-time"),
        ("2024-05-01T10:20:30.123456789+02:00", "date-time"),
        ("2024-05-01 10:20:30", "date-time"),
        ("2024-05-01t10:20:30z", "date-time"),
        ("2024-05-01", "date"),
        ("2024-02-30", None),
        ("2024-05-01T25:00:00Z", None),
        ("2024-05-01T10:20", None),
        ("20240501", None),
        ("May 1, 2024", None),
    ],
)
def test_string_format(value, expected):
    assert string_format(value) == expected


def test_a_field_of_date_times_is_a_date_time_and_nulls_do_not_change_it():
    assert _inferred("2024-05-01T10:20:30Z", None, "2024-05-02T00:00:00+01:00") == {
        "type": ["string", "null"],
        "format": "date-time",
    }


def test_a_field_of_dates_is_a_date():
    assert _inferred("2024-05-01", "2024-05-02") == {"type": ["string", "null"], "format": "date"}


@pytest.mark.parametrize(
    "values", [("2024-05-01", "2024-05-01T10:20:30Z"), ("2024-05-01T10:20:30Z", "soon"), ("2024-05-01", 7)]
)
def test_a_field_mixing_formats_or_other_strings_is_a_plain_string(values):
    assert _inferred(*values) == {"type": ["string", "null"]}


def test_integers_that_fit_int64_stay_integers():
    assert _inferred(-(2**63), 2**63 - 1, 0) == {"type": ["integer", "null"]}


def test_a_larger_integer_makes_the_field_an_exact_decimal():
    assert _inferred(1, 2**63) == {"type": ["number", "null"], "format": "decimal"}
    assert _inferred(-(2**63) - 1) == {"type": ["number", "null"], "format": "decimal"}


def test_a_larger_integer_beside_a_fraction_is_a_number():
    assert _inferred(2**64, 0.5) == {"type": ["number", "null"]}
