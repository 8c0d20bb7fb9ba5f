"""target_bigquery_smart.batch: one batch's rows with their records, numbers, lines and refusals."""

from __future__ import annotations

from target_bigquery_smart.batch import Batch, RowError


def test_a_batch_keeps_each_row_with_its_record_number_line_and_refusal():
    batch = Batch()
    batch.add({"raw_data": "{}"}, {"id": 1}, 7, 12, 30)
    batch.add({"raw_data": "{}"}, {"id": 2}, 8, 0, 0, ["schema: does not match its SCHEMA"])
    batch.add({"raw_data": "{}"}, {"id": 3}, 9, 14, 31, [])

    assert batch.records == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert batch.numbers == [7, 8, 9]
    assert batch.lines == [12, 0, 14]
    assert batch.input_chars == 61
    assert batch.refused_here() == [RowError(1, ("schema: does not match its SCHEMA",))]
    assert batch.where(0) == "record 7 (input line 12)"
    assert batch.where(1) == "record 8"


def test_each_batch_has_buffers_of_its_own():
    first, second = Batch(), Batch()
    first.add({}, {}, 1, 1, 10, ["reason"])
    assert (second.rows, second.problems, second.input_chars) == ([], {}, 0)


def test_merged_batches_keep_order_and_shift_refused_rows():
    from target_bigquery_smart.batch import Batch, RowError, merged

    first, second = Batch(), Batch()
    first.add({"id": 1}, {"id": 1}, 1, 10, 5)
    first.add({"id": 2}, {"id": 2}, 2, 11, 5, ["too big"])
    second.add({"id": 3}, {"id": 3}, 3, 13, 7)
    second.add({"id": 4}, {"id": 4}, 4, 14, 7, ["bad"])
    whole, refused = merged([(first, [RowError(1, ("too big",))]), (second, [RowError(1, ("bad",))])])
    assert whole.rows == [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}]
    assert (whole.numbers, whole.lines, whole.input_chars) == ([1, 2, 3, 4], [10, 11, 13, 14], 24)
    assert whole.problems == {1: ["too big"], 3: ["bad"]}
    assert refused == [RowError(1, ("too big",)), RowError(3, ("bad",))]
    assert whole.where(3) == "record 4 (input line 14)"
    assert merged([(first, [])]) == (first, [])
