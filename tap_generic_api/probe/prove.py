"""Proving a config by paging with it: the tap's own paginator and page loop, a few pages deep.

Each page must bring records not seen before (by key field, else whole); the sequence must end
by the pagination's own stop rule (an empty or short page, no next cursor or link) within
``--max-pages``, or keep bringing new records up to it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import requests
from singer_sdk.streams.rest import HTTPRequest

from tap_generic_api.config import parse_streams
from tap_generic_api.errors import ForeignHostError, PaginationLoopError, TapAPIError
from tap_generic_api.http.responses import read_json, records_at
from tap_generic_api.paging.loops import pages_in_turn
from tap_generic_api.paging.paginators import build_paginator
from tap_generic_api.paths import DottedPath
from tap_generic_api.probe.client import BudgetExceededError, ProbeClient


@dataclass
class Proof:
    """What paging with the config showed.

    Attributes:
        pages: Pages read (with records).
        records: Records read, in order.
        repeated: Records seen on an earlier page (by key), with the page they came back on.
        ended: True when the pagination's stop rule ended the sequence.
        error: Why paging stopped early, if it did.
    """

    pages: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    repeated: list[tuple[int, str]] = field(default_factory=list)
    ended: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        """Return True when every page brought new records and nothing went wrong."""
        return not self.repeated and not self.error and self.pages > 0


def prove(config: dict[str, Any], client: ProbeClient, *, max_pages: int, key: str) -> Proof:
    """Page through the stream ``config`` describes with the tap's paginator, up to ``max_pages`` pages.

    Args:
        config: A one-stream tap config (as written for the user, without secrets).
        client: Sends the requests (credential, budget, rate).
        max_pages: Most pages to read (the paginator's own cap).
        key: The key field, or "" to compare records whole.

    Returns:
        The :class:`Proof`.

    Raises:
        ConfigError: The config does not parse (a bug in the probe: it writes only the tap's keys).
    """
    (stream,) = parse_streams(config)
    pagination = dataclasses.replace(stream.pagination, max_pages=max_pages)
    path = DottedPath(stream.data_path)

    def records_of(response: requests.Response) -> list[Any]:
        cached = getattr(response, "_probe_records", None)
        if cached is None:
            cached = records_at(read_json(response, client.redact), path, url=client.redact(response.url))
            response._probe_records = cached  # type: ignore[attr-defined]
        return cached

    paginator = build_paginator(
        pagination,
        records_of=records_of,
        stream=stream.name,
        first_url=stream.url,
        allowed_hosts=stream.allowed_hosts,
        redact=client.redact,
        data_path=path,
    )

    def fetch(token: Any) -> requests.Response:
        request = HTTPRequest(url=stream.url, params=dict(stream.params))
        paginator.update_request(request, token)
        return client.get(request.url, request.params)

    proof = Proof()
    seen: set[str] = set()
    try:
        for records in pages_in_turn(paginator, fetch, records_of):
            proof.pages += 1
            for record in records:
                identity = json.dumps(record.get(key) if key else record, sort_keys=True, default=str)
                if identity in seen:
                    proof.repeated.append((proof.pages, identity))
                seen.add(identity)
            proof.records.extend(records)
            if proof.repeated:
                break
    except (PaginationLoopError, ForeignHostError, TapAPIError, BudgetExceededError, requests.RequestException) as exc:
        proof.error = client.redact(str(exc))
    proof.ended = paginator.finished and not paginator.truncated and not proof.error and not proof.repeated
    return proof


def verdict(proof: Proof, pagination_type: str, max_pages: int) -> str:
    """Return one line saying whether paging with the config works."""
    got = f"{len(proof.records)} records on {proof.pages} page{'s' * (proof.pages != 1)}"
    if proof.error:
        return f"FAILED after {got}: {proof.error}"
    if proof.repeated:
        page, identity = proof.repeated[0]
        return f"FAILED: page {page} repeated a record seen before ({identity[:60]}); the pagination is wrong"
    if pagination_type == "none":
        return f"UNPROVEN: {got}; pagination is 'none', so only the first page is read"
    if proof.ended:
        return f"OK: {got}, each page new, and the stop rule ended the sequence"
    return f"OK so far: {got}, each page new; the end was not reached within --max-pages {max_pages}"
