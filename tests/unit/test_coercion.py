"""Record values in the form their SCHEMA declares: target_bigquery_smart/coercion.py."""

from __future__ import annotations

import decimal

from target_bigquery_smart.coercion import coerce, coerce_value

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "price": {"type": ["null", "number"]},
        "active": {"type": "boolean"},
        "at": {"type": "string", "format": "date-time"},
        "day": {"type": "string", "format": "date"},
        "name": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "integer"}},
        "inner": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "either": {"type": ["integer", "string"]},
    },
}


def test_values_bigquery_stores_take_their_declared_form():
    record = {
        "id": "42",
        "price": "1.10",
        "active": "true",
        "at": 1709618828,
        "day": "2024-03-05T23:30:00-02:00",
        "name": "zoë",
        "tags": ["1", 2],
        "inner": {"n": "7", "extra": "kept"},
        "either": "x",
        "undeclared": "as sent",
    }
    assert coerce(record, SCHEMA) == {
        "id": 42,
        "price": decimal.Decimal("1.10"),
        "active": True,
        "at": "2024-03-05T06:07:08.000000Z",
        "day": "2024-03-06",
        "name": "zoë",
        "tags": [1, 2],
        "inner": {"n": 7, "extra": "kept"},
        "either": "x",
        "undeclared": "as sent",
    }
    assert record["id"] == "42"  # the record itself is not changed


def test_values_no_declared_type_accepts_are_left_as_sent_for_the_validator_to_refuse():
    record = {"id": "4.5", "price": "NaN", "active": "yes", "at": "soon", "name": {"a": 1}, "tags": "1,2"}
    assert coerce(record, SCHEMA) == record


def test_null_and_undeclared_schemas_pass_values_through():
    assert coerce_value(None, {"type": "integer"}) is None
    assert coerce_value("42", None) == "42"
    assert coerce_value("42", {}) == "42"
    assert coerce_value("42", {"type": ["null", "integer"]}) == 42


def test_the_first_declared_type_that_accepts_the_value_wins():
    assert coerce_value("12", {"type": ["integer", "string"]}) == 12
    assert coerce_value("12", {"type": ["string", "integer"]}) == "12"
