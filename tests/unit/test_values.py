"""Converting record values for BigQuery columns by type: target_bigquery_smart/values.py."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from target_bigquery_smart.values import UnstorableValueError, convert


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-05T06:07:08Z", "2024-03-05T06:07:08.000000Z"),
        ("2024-03-05 06:07:08", "2024-03-05T06:07:08.000000Z"),  # no offset: UTC
        ("2024-03-05T08:07:08+02:00", "2024-03-05T06:07:08.000000Z"),
        ("2024-03-05T08:07:08+0200", "2024-03-05T06:07:08.000000Z"),
        ("2024-03-05T08:07:08+02", "2024-03-05T06:07:08.000000Z"),
        ("2024-03-05 06:07:08 UTC", "2024-03-05T06:07:08.000000Z"),
        ("2024-03-05T06:07:08.123456789Z", "2024-03-05T06:07:08.123456Z"),  # beyond microseconds: cut
        ("2024-03-05", "2024-03-05T00:00:00.000000Z"),
        (1709618828, "2024-03-05T06:07:08.000000Z"),  # seconds
        (1709618828500, "2024-03-05T06:07:08.500000Z"),  # milliseconds
        (1709618828000250, "2024-03-05T06:07:08.000250Z"),  # microseconds
        ("1709618828", "2024-03-05T06:07:08.000000Z"),
        ("20240101", "1970-08-23T06:15:01.000000Z"),  # digits are always an epoch number
        (dt.datetime(2024, 3, 5, 6, 7, 8), "2024-03-05T06:07:08.000000Z"),
    ],
)
def test_timestamps(value, expected):
    assert convert(value, "TIMESTAMP") == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (True, "boolean True is not a timestamp"),
        ("next tuesday", "'next tuesday' is not an ISO-8601 timestamp"),
        (float("nan"), "nan is not a timestamp"),
        ([1], "list cannot be stored in a TIMESTAMP column"),
    ],
)
def test_values_that_are_no_timestamp_give_the_reason(value, reason):
    with pytest.raises(UnstorableValueError) as info:
        convert(value, "TIMESTAMP")
    assert str(info.value) == reason


def test_datetime_is_a_timestamp_without_its_zone():
    assert convert("2024-03-05T08:07:08+02:00", "DATETIME") == "2024-03-05T06:07:08.000000"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-05", "2024-03-05"),
        (" 2024-03-05 ", "2024-03-05"),
        ("2024-03-05T23:30:00-02:00", "2024-03-06"),
        (dt.date(2024, 3, 5), "2024-03-05"),
        (1709618828, "2024-03-05"),
    ],
)
def test_dates(value, expected):
    assert convert(value, "DATE") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (42, 42),
        (42.0, 42),
        (" 42 ", 42),
        (decimal.Decimal("7"), 7),
        (2**53, 2**53),
        (2**53 + 1, "9007199254740993"),  # beyond 2^53: as text, every digit kept
        (-(2**63), "-9223372036854775808"),
    ],
)
def test_int64(value, expected):
    assert convert(value, "INT64") == expected
    assert convert(value, "INTEGER") == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (2**63, "integer 9223372036854775808 is outside INT64 (-2^63 .. 2^63-1)"),
        (1.5, "1.5 is not a whole number"),
        ("4.0", "'4.0' is not an integer"),
        (False, "boolean False is not an integer"),
        (decimal.Decimal("1e30"), "1E+30 is outside INT64 (-2^63 .. 2^63-1)"),
    ],
)
def test_int64_refusals_give_the_reason(value, reason):
    with pytest.raises(UnstorableValueError) as info:
        convert(value, "INT64")
    assert str(info.value) == reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.5, 1.5),
        ("2.25", 2.25),
        (3, 3.0),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_float64(value, expected):
    assert convert(value, "FLOAT64") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.10", "1.10"),
        (decimal.Decimal("0.1234567895"), "0.123456790"),  # rounded half-even to 9 places
        (decimal.Decimal("0.1234567885"), "0.123456788"),
        (12, "12"),
        ("1" * 29, "1" * 29),
    ],
)
def test_numeric_is_exact_decimal_text(value, expected):
    assert convert(value, "NUMERIC") == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1" * 30, f"{'1' * 30} has more than 29 integer digits (NUMERIC)"),
        (float("inf"), "inf cannot be stored in NUMERIC"),
        ("abc", "'abc' is not a number"),
        (True, "boolean True is not a number"),
    ],
)
def test_numeric_refusals_give_the_reason(value, reason):
    with pytest.raises(UnstorableValueError) as info:
        convert(value, "NUMERIC")
    assert str(info.value) == reason


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("false", False), ("TRUE", True)])
def test_bool(value, expected):
    assert convert(value, "BOOL") is expected


def test_a_number_is_not_a_bool():
    with pytest.raises(UnstorableValueError, match=r"^1 is not a boolean$"):
        convert(1, "BOOLEAN")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("zoë", "zoë"),
        (12, "12"),
        (True, "true"),
        ({"a": [1, None]}, '{"a":[1,null]}'),
        ("bad \ud800 half", "bad \ufffd half"),
    ],
)
def test_strings_keep_text_and_write_other_values_as_json(value, expected):
    assert convert(value, "STRING") == expected


def test_json_columns_take_any_value_as_json_text():
    assert convert({"a": 1, "b": [True]}, "JSON") == '{"a":1,"b":[true]}'
    assert convert("x", "json") == '"x"'


def test_an_unknown_type_is_stored_as_a_string():
    assert convert(5, "GEOGRAPHY") == "5"
