"""probe: key fields, replication key candidates, rate-limit headers, the request pacer."""

from __future__ import annotations

import pytest
from requests.structures import CaseInsensitiveDict

from tap_generic_api.probe.bodies import choose_data_path
from tap_generic_api.probe.client import Pacer
from tap_generic_api.probe.fields import choose_key, rate_limit, replication_candidates

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "rps", "source"),
    [
        ({"RateLimit-Policy": "100;w=60"}, 1.6, "header RateLimit-Policy: 100;w=60"),
        # GitHub: 5,000 an hour, reset as an epoch time.
        (
            {"X-RateLimit-Limit": "5000", "X-RateLimit-Reset": str(int(NOW) + 3600)},
            1.3,
            "headers X-RateLimit-Limit / RateLimit-Limit (5000) and X-RateLimit-Reset (3600 s away)",
        ),
        # IETF draft: RateLimit-Reset in seconds.
        (
            {"RateLimit-Limit": "50", "RateLimit-Reset": "10"},
            5.0,
            "headers X-RateLimit-Limit / RateLimit-Limit (50) and RateLimit-Reset (10 s away)",
        ),
        ({"Retry-After": "30"}, 2.0, "header Retry-After"),
        ({}, 2.0, "no rate-limit headers"),
    ],
)
def test_rate_limit_headers(headers, rps, source):
    value, finding = rate_limit(CaseInsensitiveDict(headers), NOW)
    assert (value, finding.value, finding.source) == (rps, rps, source)


def test_key_is_id_else_a_unique_field_with_a_warning():
    assert choose_key([{"id": 1}, {"id": 2}])[0] == "id"
    key, finding = choose_key([{"sku": "a", "kind": "x"}, {"sku": "b", "kind": "x"}])
    assert (key, finding.warning) == ("sku", True)
    key, finding = choose_key([{"kind": "x"}, {"kind": "x"}])
    assert (key, finding.value, finding.warning) == ("", None, True)


def test_replication_candidates_growing_first():
    records = [
        {"id": 1, "created_at": "2026-01-03T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "seq": 5},
        {"id": 2, "created_at": "2026-01-02T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z", "seq": 6},
    ]
    finding = replication_candidates(records)
    assert finding.value == ["updated_at", "seq", "created_at"]
    assert (
        finding.source == "record fields updated_at (date-time, growing), seq (number, growing), created_at (date-time)"
    )


def test_data_path_nested_and_lists_of_lists():
    chosen, finding = choose_data_path({"response": {"data": {"items": [{"id": 1}, {"id": 2}]}}})
    assert (chosen.path, finding.confidence) == ("response.data.items", "high")
    chosen, finding = choose_data_path({"columns": ["id"], "rows": [[1], [2]]})
    assert chosen is None
    assert finding.check == "body field 'rows' is a list of lists: ask for objects (Datasette: --param _shape=objects)"


def test_pacer_spaces_requests_by_the_project_rates():
    now = [0.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(2.0, clock=lambda: now[0], sleep=sleep)
    times = []
    for _ in range(4):
        pacer.wait()
        times.append(now[0])
    assert times[0] == 0.0
    assert [round(b - a, 3) >= 0.5 for a, b in zip(times, times[1:], strict=False)] == [True] * 3
    assert times[-1] < 1.6  # noqa: PLR2004 - spaced, not slowed further
