"""Report jobs: the stream's request creates a job; its status is polled until done; its results are downloaded.

Report APIs (ads, analytics, billing exports) do not page: a request starts a job, a status URL
says when it is done, and the answer that says so gives the URL (or URLs) of the result. Here:

1. the stream's configured request (``url``, ``method``, ``params``, ``headers``, ``body``,
   templated as usual) creates the job; ``job.id_path`` (with ``job.poll_url``) or
   ``job.status_url_path`` in its JSON answer gives the status URL, or the header
   ``job.status_url_header`` does (``Location`` of a 202 Accepted, RFC 9110 section 15.3.3);
2. the status URL is requested every ``job.poll_interval`` seconds until ``job.status_path``
   holds a ``job.done`` value, a ``job.failed`` value (an error), or ``job.timeout`` seconds have
   passed since creation (an error); either error names the job and its last status, and no record
   or STATE of the stream is written;
3. each URL at ``job.result_path`` is downloaded and read in the stream's format
   (:mod:`tap_generic_api.formats`). A URL on another origin than the stream's ``url`` (and not in
   ``allowed_hosts``) is fetched without the stream's credentials: pre-signed storage links
   (S3, GCS) carry their own signature and refuse other credentials
   (:class:`~tap_generic_api.http.redirects.CredentialScope` decides, as for redirects).

Every request goes through the stream's transport: rate limit, retries, deadline, redirects.
The waiting uses :data:`CLOCK`, which tests replace to run a job's polls without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote, urljoin

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_generic_api import templating
from tap_generic_api.errors import ReportJobError, TapAPIError
from tap_generic_api.http.redirects import CredentialScope
from tap_generic_api.http.responses import read_json
from tap_generic_api.paging import loops
from tap_generic_api.paths import MISSING, DottedPath

if TYPE_CHECKING:
    from tap_generic_api.config.formats import JobConfig
    from tap_generic_api.streams import GenericAPIStream


class Clock:
    """The time a job's polling reads and waits on: ``time.monotonic`` seconds, waits cut short when the run stops."""

    def now(self) -> float:
        """Return monotonic seconds."""
        return time.monotonic()

    def sleep(self, seconds: float, stopping: threading.Event) -> None:
        """Wait ``seconds``, or until ``stopping`` is set."""
        stopping.wait(seconds)


#: The clock of every job (tests put a controlled one here).
CLOCK = Clock()


class ReportJob:
    """One run of a job stream: create, poll, download.

    Args:
        stream: The job stream (its config has a ``job`` block).
        context: The SDK's stream context.
        bookmark: The run's bookmark, for ``{variable}`` placeholders of ``job.poll_url``.
    """

    def __init__(self, stream: GenericAPIStream, context: Mapping | None, bookmark: Any) -> None:
        self.stream = stream
        self.context = context
        self.config = stream.stream_config
        job = self.config.job
        if job is None:  # pragma: no cover - the runner only builds jobs for streams with one
            msg = f"stream '{self.config.name}' has no job block"
            raise ValueError(msg)
        self.job: JobConfig = job
        self.variables = stream.templates.variables_for(bookmark)
        self.scope = CredentialScope.of_stream(self.config, stream._rendered.url)  # noqa: SLF001
        self.job_id = "?"
        #: Records of the job's results yielded so far.
        self.written = 0

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        """Create the job, wait until it is done, and yield the records of each result, chunk by chunk.

        Raises:
            ReportJobError: The job failed, timed out, or an answer lacks its id, status or results.
        """
        status_url = self._create()
        answer = self._wait(status_url)
        urls = self._results(answer, status_url)
        self.stream.logger.info(
            "Stream '%s': report job %s is done; downloading %d result(s).", self.config.name, self.job_id, len(urls)
        )
        if not urls:
            self.stream.logger.warning(
                "Stream '%s': report job %s is done with an empty list of results at job.result_path '%s': no records.",
                self.config.name,
                self.job_id,
                self.job.result_path,
            )
        for number, url in enumerate(urls, 1):
            rendered = self.stream._rendered._replace(url=url, params={}, body=None)  # noqa: SLF001
            paginator = self.stream.get_new_paginator(rendered)

            def download(_token: Any, url: str = url, number: int = number) -> requests.Response:
                return self._download(url, number, len(urls))

            for page in loops.pages_in_turn(paginator, download, self.stream._records_of):  # noqa: SLF001
                self.written += len(page)
                yield page

    def _download(self, url: str, number: int, total: int) -> requests.Response:
        """GET result ``number`` of ``total``; a refusal names the job (a pre-signed link expires).

        Raises:
            ReportJobError: The download failed for good (after the retries of ``rate_limit``).
        """
        try:
            return self._get(url)
        except (FatalAPIError, RetriableAPIError, TapAPIError) as exc:
            written = self.written
            kept = f"the {written} records of the results before it are written" if written else "no record is written"
            msg = (
                f"Stream '{self.config.name}': report job {self.job_id} is done, but downloading result {number} of "
                f"{total} failed: {exc} A result URL can expire (pre-signed links last minutes to hours); "
                f"{kept}, and the next run creates a new job."
            )
            raise ReportJobError(msg, stream=self.config.name) from None

    def _create(self) -> str:
        stream = self.stream
        rendered = stream._rendered  # noqa: SLF001
        prepared = stream._prepare(rendered, stream.get_new_paginator(rendered), None)  # noqa: SLF001

        def create(request: requests.PreparedRequest, context: Mapping | None) -> requests.Response:
            # An empty 2xx is the answer, not a failure to send again: sending the creation again
            # would start a second job (the error below names what the answer lacks).
            return stream._request(request, context, body_optional=True)  # noqa: SLF001

        response = stream.request_decorator(create)(prepared, self.context)
        job = self.job
        if job.status_url_header:
            return self._status_url_in_header(response)
        answer = self._json(response)
        if answer is None:
            path = ("job.status_url_path", job.status_url_path) if job.status_url_path else ("job.id_path", job.id_path)
            where = f"{path[0]} '{path[1]}'"
            self._fail(
                f"got a creation answer (status {response.status_code}) with an empty body, where {where} should "
                "be found (if the status URL is in a header such as Location, set job.status_url_header)"
            )
        if job.status_url_path:
            found = DottedPath(job.status_url_path).resolve(answer)
            # The status URL names the job in messages, its secrets masked (a signed URL may carry some).
            self.job_id = self.stream.redact_url(found) if isinstance(found, str) else "?"
            if not isinstance(found, str) or not found:
                self._fail(f"got a creation answer with no status URL at job.status_url_path '{job.status_url_path}'")
            return urljoin(response.url, found)
        found = DottedPath(job.id_path or "").resolve(answer)
        if found is MISSING or found is None or found == "" or isinstance(found, dict | list):
            self._fail(f"got a creation answer with no job id at job.id_path '{job.id_path}' (found {found!r})")
        self.job_id = str(found)
        return self._poll_url(job.poll_url or "")

    def _poll_url(self, template: str) -> str:
        """Return ``job.poll_url`` with ``{job_id}`` percent-encoded (RFC 3986), as child placeholders are.

        In the path ``/`` is kept (resource names such as ``reports/r-1``); in the query every
        reserved character is encoded. Unencoded, an id holding ``#`` or ``?`` would cut the URL.
        """
        where = f"{self.config.where}.job.poll_url"
        path, mark, query = template.partition("?")
        in_path = {**self.variables, "job_id": quote(self.job_id, safe="/")}
        in_query = {**self.variables, "job_id": quote(self.job_id, safe="")}
        url = templating.render(path, in_path, where=where)
        return url + mark + templating.render(query, in_query, where=where) if mark else url

    def _status_url_in_header(self, response: requests.Response) -> str:
        """Return the status URL in the creation answer's header ``job.status_url_header``.

        Its body may be empty (202 Accepted with a ``Location``, RFC 9110 section 15.3.3).
        """
        header = self.job.status_url_header or ""
        response.close()
        found = response.headers.get(header, "").strip()
        if not found:
            self._fail(
                f"got a creation answer (status {response.status_code}) without the header '{header}' "
                "(job.status_url_header)"
            )
        self.job_id = self.stream.redact_url(found)  # a signed status URL may carry secrets
        return urljoin(response.url, found)

    def _wait(self, status_url: str) -> Any:
        job, clock = self.job, CLOCK
        stopping = self.stream.runner.stopping
        deadline = clock.now() + job.timeout
        path = DottedPath(job.status_path)
        polls = 0
        while True:
            clock.sleep(max(0.0, min(job.poll_interval, deadline - clock.now())), stopping)
            answer = self._json(self._get(status_url))
            polls += 1
            status = path.resolve(answer)
            if status is MISSING:
                self._fail(f"got a status answer with no job.status_path '{job.status_path}'")
            shown = str(status)
            if shown in job.done:
                return answer
            if shown in job.failed:
                self._fail(f"failed: status {shown!r} (job.failed) after {polls} status request(s)")
            if clock.now() >= deadline:
                self._fail(
                    f"was not done within job.timeout ({job.timeout:g} s): last status {shown!r} "
                    f"after {polls} status request(s)"
                )
            self.stream.logger.info(
                "Stream '%s': report job %s is %r; asking again in %g s.",
                self.config.name,
                self.job_id,
                shown,
                job.poll_interval,
            )

    def _results(self, answer: Any, status_url: str) -> list[str]:
        found = DottedPath(self.job.result_path).resolve(answer)
        urls = [found] if isinstance(found, str) else found
        if not isinstance(urls, list) or not all(isinstance(url, str) and url for url in urls):
            self._fail(
                f"got a done answer with no result URL or list of URLs at job.result_path '{self.job.result_path}' "
                f"(found {found!r})"
            )
        return [urljoin(status_url, url) for url in urls]

    def _get(self, url: str) -> requests.Response:
        """GET ``url`` through the stream's transport; with its credentials only on an origin they belong to."""
        stream = self.stream
        trusted = self.scope.trusts(url)
        headers = dict(stream._rendered.headers) if trusted else {}  # noqa: SLF001
        prepared = stream.build_prepared_request(method="GET", url=url, headers=headers)
        if trusted:
            return stream.request_decorator(stream._request)(prepared, self.context)  # noqa: SLF001
        prepared = self.scope.strip(prepared)

        def send(request: requests.PreparedRequest, _context: Any) -> requests.Response:
            response = stream.transport.send(request, allow_redirects=True, credentials=False)
            stream.validate_response(response)
            return response

        return stream.request_decorator(send)(prepared, self.context)

    def _json(self, response: requests.Response) -> Any:
        return read_json(response, self.stream.redact_url, self.config.name)

    def _fail(self, reason: str) -> NoReturn:
        msg = f"Stream '{self.config.name}': report job {self.job_id} {reason}; no record of it is written."
        raise ReportJobError(msg, stream=self.config.name)
