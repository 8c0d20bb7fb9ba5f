"""API answers the tap cannot use as they are: page loops, records that are not objects, empty and NaN bodies,
records without the replication key."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import pytest
from helpers import API, extract, query_key_tap
from helpers import QUERY_KEY_SECRET as SECRET

from tap_generic_api.errors import PaginationLoopError, ResponseShapeError


def test_next_link_back_to_the_first_page_is_a_loop_not_a_second_read(requests_mock):
    requests_mock.get(API, json={"data": [{"id": 1}], "next": f"{API}?appid={SECRET}"})
    tap = query_key_tap(data_path="data", pagination={"type": "link", "response_path": "next"})
    with pytest.raises(PaginationLoopError) as info:
        extract(tap)
    assert requests_mock.call_count == 1
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("body", [{"data": [1, "a", None]}, {"data": "hello"}])
def test_records_that_are_not_objects_are_a_clear_error(requests_mock, body):
    requests_mock.get(API, json=body)
    with pytest.raises(ResponseShapeError, match=r"data_path 'data' .* holds a (int|str) at position 0, not an object"):
        extract(query_key_tap(data_path="data"))


def test_204_and_nan_bodies(requests_mock):
    requests_mock.get(API, status_code=204, text="")
    assert extract(query_key_tap(data_path="data")) == []
    requests_mock.get(API, text='{"data": [{"id": 1, "score": NaN}]}')
    (record,) = extract(query_key_tap(data_path="data"))
    assert record == {"id": 1, "score": None}  # JSON has no NaN: null, with a warning


@pytest.mark.parametrize("concurrency", [1, 4])
def test_api_ignoring_the_offset_is_a_loop_not_endless_duplicates(requests_mock, concurrency):
    requests_mock.get(API, json=[{"id": 1}, {"id": 2}])  # the same page for every offset
    tap = query_key_tap(pagination={"type": "offset", "limit": 2, "max_concurrency": concurrency})
    records = []
    with pytest.raises(PaginationLoopError, match="pages 1 and 2 hold the same 2 records"):
        records.extend(tap.streams["items"].get_records(None))
    assert records == [{"id": 1}, {"id": 2}]
    assert requests_mock.call_count <= 1 + concurrency


def test_records_without_the_replication_key_are_a_clear_error(requests_mock):
    # data_path forgotten: the whole envelope is one record
    requests_mock.get(API, json={"object": "list", "data": [{"id": 1, "created": 5}], "has_more": False})
    tap = query_key_tap(replication_key="created", start_date="0")
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(ResponseShapeError) as info:
        tap.sync_all()
    assert str(info.value) == (
        f"Stream 'items': data_path '' gives one object in the response from {API}?appid=***; its key 'data' "
        "holds a list of 1 object: set data_path to 'data'."
    )
    assert '"RECORD"' not in out.getvalue()
