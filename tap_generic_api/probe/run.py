"""One probe: the first request, each detection, the config in the tap's keys, the proof and verdict."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

from tap_generic_api.http.responses import read_json
from tap_generic_api.probe.bodies import choose_data_path
from tap_generic_api.probe.client import DEFAULT_RATE, ProbeClient
from tap_generic_api.probe.fields import choose_key, rate_limit, replication_candidates
from tap_generic_api.probe.pagination import FirstPage, detect
from tap_generic_api.probe.prove import prove, verdict
from tap_generic_api.probe.report import Evidence, Finding


def stream_name(url: str) -> str:
    """Return a stream (and table) name from a URL's last path segment: ``/v1/items.json`` -> ``items``."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    last = segments[-1].rsplit(".", 1)[0] if segments else "records"
    name = re.sub(r"[^a-z0-9_]+", "_", last.lower()).strip("_")
    return name or "records"


def probe(
    url: str,
    client: ProbeClient,
    *,
    params: dict[str, str],
    max_pages: int,
    clock: Any = time.time,
    rate: float = DEFAULT_RATE,
) -> tuple[dict[str, Any], Evidence]:
    """Probe ``url``; return the tap config (one stream, no secret) and the evidence with its verdict.

    Args:
        url: The list endpoint.
        client: Sends the requests (credential, budget, rate).
        params: Query parameters to send (``--param``).
        max_pages: Pages to prove the config on.
        clock: Returns the epoch time in seconds (to read an epoch rate-limit reset).
        rate: Requests per second written when the API sends no rate-limit header.

    Raises:
        requests.HTTPError: The first request fails (the message masks the credential).
    """
    evidence = Evidence(url=client.redact(url))
    first = client.get(url, params)
    chosen, data_finding = choose_data_path(read_json(first, client.redact))
    evidence.add(data_finding)
    name = stream_name(url)
    config: dict[str, Any] = {"name": name, "url": url}
    if chosen is None:
        evidence.verdict = "FAILED: no records found in the first answer"
        evidence.requests = len(client.sent)
        return config, evidence
    page = FirstPage(client, url, params, first, data_path=chosen.path)
    key, key_finding = choose_key(page.records)
    page.key = key
    pagination, pagination_findings = detect(page)
    evidence.add(*pagination_findings)
    if pagination.get("limit_param") in params:
        params = {k: v for k, v in params.items() if k != pagination["limit_param"]}
    rps, rate_finding = rate_limit(first.headers, clock(), default=rate)
    config |= {"data_path": chosen.path}
    if params:
        config["params"] = dict(params)
    if client.auth:
        config["auth"] = client.auth.config_block()
    config["pagination"] = pagination
    config["destination"] = {"table": name, **({"key_fields": [key]} if key else {})}
    config["rate_limit"] = {"requests_per_second": rps}
    proof = prove(config, client, max_pages=max_pages, key=key)
    if proof.records:
        key_now, key_finding = choose_key(proof.records)
        if key_now != key:  # more records show the first choice was not unique
            config["destination"] = {"table": name, **({"key_fields": [key_now]} if key_now else {})}
    evidence.add(key_finding, rate_finding)
    if client.waits:
        statuses = ", ".join(f"{status} (waited {seconds:g} s)" for status, seconds in client.waits)
        source = f"the API answered {statuses} at --rate {rate:g} per second"
        check = "lower rate_limit.requests_per_second, or check the API's limits in its docs"
        evidence.add(Finding("rate_limit", rps, source, "medium", check, warning=True))
    candidates = replication_candidates(proof.records or page.records)
    if candidates:
        evidence.add(candidates)
    evidence.verdict = verdict(proof, pagination["type"], max_pages)
    if page.total and proof.ended and len(proof.records) != page.total[1]:
        path, total = page.total
        source = f"body field '{path}' said {total} records; paging ended after {len(proof.records)}"
        check = "the total is not reliable: the tap ends at the stop rule (a short or empty page), not at the total"
        evidence.add(Finding("total", total, source, "high", check, warning=True))
    evidence.proven = proof.ok and pagination["type"] != "none"
    if proof.error or proof.repeated:
        evidence.add(Finding("proof", None, evidence.verdict, "none", "fix the pagination block by hand", True))
    evidence.requests = len(client.sent)
    if client.auth:
        evidence.notes.append(
            f"the secret is not in the config: give it at run time as secrets.{client.auth.secret_key} in a second "
            f'config, e.g. --config <(jq -n --arg s "${client.auth.env_var}" '
            f"'{{secrets: {{{client.auth.secret_key}: $s}}}}')"
        )
    return config, evidence
