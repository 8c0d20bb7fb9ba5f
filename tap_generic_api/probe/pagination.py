"""Detecting a list endpoint's pagination from its first page, confirmed by at most two more requests.

In order (the first that holds wins): an RFC 8288 ``Link`` header with ``rel="next"``; a next URL
in the body, or a cursor field whose value the next URL sends back; a cursor field alone, sent back
as a parameter a request confirms; a ``has_more`` flag with the last record's id; a record total
(offset) or a page total (page numbers), confirmed by asking for the second page. A sign no request
confirms is reported and ``type: none`` written: a wrong guess would stop after the first page, or
repeat it, with exit code 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests

from tap_generic_api.errors import TapAPIError
from tap_generic_api.http.responses import read_json
from tap_generic_api.paging.link_header import next_link
from tap_generic_api.probe.bodies import records_of
from tap_generic_api.probe.client import ProbeClient
from tap_generic_api.probe.report import Finding
from tap_generic_api.probe.signals import (
    LIMIT_NAMES,
    MAX_LIMIT_NAMES,
    MORE_NAMES,
    OFFSET_NAMES,
    PAGE_NAMES,
    PAGES_NAMES,
    TOTAL_NAMES,
    last_name,
    looks_like_url,
    named,
    next_fields,
    scalars,
)

#: Requests detection may send, the first included (the rest of the budget is the proof's).
DETECTION_REQUESTS = 3

#: Parameter names to send a cursor back as, by the name of the field that holds it.
CURSOR_PARAMS = {
    "next_cursor": "cursor",
    "nextCursor": "cursor",
    "next": "cursor",
    "next_page_token": "page_token",
    "nextPageToken": "pageToken",
    "next_token": "next_token",
    "NextToken": "NextToken",
    "endCursor": "after",
    "end_cursor": "after",
    "next_page": "page",
    "nextPage": "page",
}
#: Parameters tried after the derived one.
COMMON_CURSOR_PARAMS = ("cursor", "after", "page_token", "starting_after")
#: Parameters a last-record id is sent back as (``has_more`` APIs).
LAST_ID_PARAMS = ("starting_after", "after", "since_id", "after_id", "cursor")


@dataclass
class FirstPage:
    """What detection reads: the request and its answer.

    Attributes:
        client: Sends confirmation requests.
        url: The probed URL.
        params: The query parameters sent (``--param``).
        response: The first answer.
        data_path: Where the records are.
        key: The field identifying a record, or "" (records are then compared whole).
    """

    client: ProbeClient
    url: str
    params: dict[str, str]
    response: requests.Response
    data_path: str
    key: str = ""
    #: ``(path, value)`` of a record total in the body, when numbered pagination was detected from it.
    total: tuple[str, int] | None = None
    document: Any = field(init=False)
    records: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.document = read_json(self.response, self.client.redact)
        self.records = records_of(self.document, self.data_path)

    def identities(self, records: list[dict[str, Any]]) -> set[str]:
        """Return each record's key value (or whole JSON text) as text."""
        if self.key:
            return {json.dumps(r.get(self.key), sort_keys=True, default=str) for r in records}
        return {json.dumps(r, sort_keys=True, default=str) for r in records}

    def confirm(self, extra: dict[str, Any]) -> tuple[bool, str]:
        """Request the page ``extra`` asks for; return whether it brings only records not on the first page.

        Returns ``(False, reason)`` when the detection budget is spent, the request fails, the
        page is empty, or it repeats records (an API ignoring the parameter answers the first page again).
        """
        if len(self.client.sent) >= DETECTION_REQUESTS:
            return False, "no request left to confirm it"
        try:
            response = self.client.get(self.url, {**self.params, **extra})
            records = records_of(read_json(response, self.client.redact), self.data_path)
        except (requests.RequestException, TapAPIError, ValueError) as exc:
            return False, f"the request failed: {self.client.redact(str(exc))[:200]}"
        shown = ", ".join(f"{k}={v}" for k, v in extra.items())
        if not records:
            return False, f"{shown} returned no records"
        repeated = self.identities(records) & self.identities(self.records)
        if repeated:
            return False, f"{shown} returned {len(repeated)} of the first page's records again (the API ignores it)"
        return True, f"{shown} returned {len(records)} new records"


def detect(page: FirstPage) -> tuple[dict[str, Any], list[Finding]]:
    """Return the ``pagination`` block and the findings behind it (``type: none`` with a warning when unknown)."""
    fields = list(scalars(page.document, page.data_path))
    for rule in (_link_header, _body_next, _has_more, _numbered, _ended_cursor):
        result = rule(page, fields)
        if result is not None:
            return result
    source = "no Link header, next URL, cursor, has_more flag, or record or page total in the first answer"
    check = (
        "if the endpoint has more records than one page, see its docs and set pagination by hand; "
        "the config reads only the first page"
    )
    return {"type": "none"}, [Finding("pagination.type", "none", source, "none", check, warning=True)]


Result = tuple[dict[str, Any], list[Finding]] | None


def _link_header(page: FirstPage, fields: list[tuple[str, Any]]) -> Result:
    link = next_link(page.response.headers.get("Link"))
    if not link:
        return None
    source = f'response header Link with rel="next": <{page.client.redact(link)}>'
    return {"type": "link", "response_path": ""}, [Finding("pagination.type", "link", source, "high")]


def _body_next(page: FirstPage, fields: list[tuple[str, Any]]) -> Result:
    candidates = [(p, v) for p, v in next_fields(fields) if v not in (None, "")]
    if not candidates:
        return None
    urls = [(p, v) for p, v in candidates if looks_like_url(v)]
    tokens = [(p, v) for p, v in candidates if not looks_like_url(v) and not isinstance(v, bool)]
    if urls:
        url_path, next_url = urls[0]
        absolute = urljoin(page.response.url, next_url)
        query = parse_qsl(urlsplit(absolute).query, keep_blank_values=True)
        for token_path, token in tokens:
            for name, value in query:
                if value == str(token) and page.params.get(name) != value:
                    source = (
                        f"body field '{token_path}' ({json.dumps(token)}), which the next URL in body field "
                        f"'{url_path}' sends back as parameter '{name}'"
                    )
                    block = {"type": "cursor", "param": name, "response_path": token_path}
                    return block, [Finding("pagination.type", "cursor", source, "high")]
        source = f"body field '{url_path}' holds the next page's URL"
        return {"type": "link", "response_path": url_path}, [Finding("pagination.type", "link", source, "high")]
    for token_path, token in tokens:
        tried = []
        name = last_name(token_path)
        for param in dict.fromkeys((CURSOR_PARAMS.get(name, name), *COMMON_CURSOR_PARAMS)):
            ok, reason = page.confirm({param: token})
            tried.append(reason)
            if ok:
                source = f"body field '{token_path}' ({json.dumps(token)}); sent back as '{param}': {reason}"
                block = {"type": "cursor", "param": param, "response_path": token_path}
                return block, [Finding("pagination.type", "cursor", source, "high")]
            if len(page.client.sent) >= DETECTION_REQUESTS:
                break
        source = f"body field '{token_path}' looks like a cursor, but no parameter was confirmed: {'; '.join(tried)}"
        check = "find the cursor parameter in the API's docs; set pagination.type cursor, param and response_path"
        return {"type": "none"}, [Finding("pagination.type", "none", source, "low", check, warning=True)]
    return None


def _ended_cursor(page: FirstPage, fields: list[tuple[str, Any]]) -> Result:
    ended = [p for p, v in next_fields(fields) if v in (None, "")]
    if not ended:
        return None
    check = (
        f"body field '{ended[0]}' is empty on the first page: probe with a smaller page size "
        "(--param limit=2 or the API's page-size parameter) to see it filled"
    )
    source = f"body field '{ended[0]}' is {json.dumps(page_value(page, ended[0]))}: the first page is the last"
    return {"type": "none"}, [Finding("pagination.type", "none", source, "low", check, warning=True)]


def page_value(page: FirstPage, path: str) -> Any:
    """Return the scalar at ``path`` among the first page's fields."""
    return dict(scalars(page.document, page.data_path)).get(path)


def _has_more(page: FirstPage, fields: list[tuple[str, Any]]) -> Result:
    flag_path, flag = named(fields, MORE_NAMES, bool)
    if not flag_path:
        return None
    if not flag:
        source = f"body field '{flag_path}' is false on the first page: every record fits in one page"
        check = "probe with a smaller page size (--param limit=2) to find how the next page is asked for"
        return {"type": "none"}, [Finding("pagination.type", "none", source, "medium", check, warning=True)]
    if not page.key or not page.records:
        source = f"body field '{flag_path}' is true, but records have no key field to send back"
        check = "find the cursor parameter in the API's docs"
        return {"type": "none"}, [Finding("pagination.type", "none", source, "low", check, warning=True)]
    last = page.records[-1].get(page.key)
    tried = []
    for param in LAST_ID_PARAMS:
        ok, reason = page.confirm({param: last})
        tried.append(reason)
        if ok:
            path = f"{page.data_path}.-1.{page.key}" if page.data_path else f"-1.{page.key}"
            source = (
                f"body field '{flag_path}' is true; the last record's '{page.key}' ({json.dumps(last)}) "
                f"sent back as '{param}': {reason}"
            )
            check = f"the tap stops at the first empty page, not at '{flag_path}': false (one more request)"
            block = {"type": "cursor", "param": param, "response_path": path}
            return block, [Finding("pagination.type", "cursor", source, "high", check)]
        if len(page.client.sent) >= DETECTION_REQUESTS:
            break
    source = f"body field '{flag_path}' is true, but no parameter took the last id: {'; '.join(tried)}"
    check = "find the cursor parameter in the API's docs"
    return {"type": "none"}, [Finding("pagination.type", "none", source, "low", check, warning=True)]


def _numbered(page: FirstPage, fields: list[tuple[str, Any]]) -> Result:
    pages_path, pages = named(fields, PAGES_NAMES, int)
    page_path, number = named(fields, PAGE_NAMES, int)
    total_path, total = named(fields, TOTAL_NAMES, int)
    offset_path, _ = named(fields, OFFSET_NAMES, int)
    limit_param, limit, limit_finding = _page_size(page, fields)
    count = len(page.records)
    if pages_path or (page_path and not offset_path):
        if pages_path and pages <= 1:
            source = f"body field '{pages_path}' is {pages}: one page holds every record"
            return {"type": "none"}, [Finding("pagination.type", "none", source, "medium")]
        param = last_name(page_path) if last_name(page_path) in ("page", "page_number", "pageNumber") else "page"
        ok, reason = page.confirm({param: 2, **({limit_param: limit} if limit else {})})
        said = f"body field '{pages_path or page_path}' ({pages if pages_path else number})"
        if total_path:
            page.total = (total_path, total)
        block = {"type": "page", "param": param}
        kind = "page"
    elif total_path:
        if total <= count:
            source = f"body field '{total_path}' is {total}, and the first page holds {count}: one page holds them all"
            return {"type": "none"}, [Finding("pagination.type", "none", source, "medium")]
        param = last_name(offset_path) if offset_path else "offset"
        ok, reason = page.confirm({param: count, **({limit_param: limit} if limit else {})})
        said = f"body field '{total_path}' ({total} records, {count} on the first page)"
        page.total = (total_path, total)
        block = {"type": "offset", "param": param}
        kind = "offset"
    else:
        return None
    if not ok:
        source = f"{said} suggests {kind} pagination, but asking for the next page did not confirm it: {reason}"
        check = f"find the {kind} parameter in the API's docs; the total may not be reliable"
        return {"type": "none"}, [Finding("pagination.type", "none", source, "low", check, warning=True)]
    if limit:
        block |= {"limit": limit, "limit_param": limit_param}
    source = f"{said}; parameter '{param}' confirmed: {reason}"
    check = "the tap stops at a page shorter than pagination.limit (or an empty page), not at the total"
    findings = [Finding("pagination.type", kind, source, "high", check)]
    return block, findings + limit_finding


def _page_size(page: FirstPage, fields: list[tuple[str, Any]]) -> tuple[str, int | None, list[Finding]]:
    """Return ``(limit_param, limit, findings)`` from a ``--param`` or the body's echo of the page size."""
    for name in LIMIT_NAMES:
        if name in page.params and str(page.params[name]).isdigit():
            value = int(page.params[name])
            finding = Finding("pagination.limit", value, f"--param {name}={value}", "high")
            return name, value, [finding, *_max_limit(fields)]
    path, value = named(fields, LIMIT_NAMES, int)
    if path and value > 0:
        finding = Finding("pagination.limit", value, f"body field '{path}' echoes the page size", "medium")
        return last_name(path), value, [finding, *_max_limit(fields)]
    return "limit", None, []


def _max_limit(fields: list[tuple[str, Any]]) -> list[Finding]:
    path, value = named(fields, MAX_LIMIT_NAMES, int)
    if not path:
        return []
    check = f"raise pagination.limit up to {value} for fewer requests"
    return [Finding("pagination.limit (largest)", value, f"body field '{path}'", "high", check)]
