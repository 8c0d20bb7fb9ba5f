"""The checked config objects: one frozen dataclass per block of a stream, and the defaults they start from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tap_generic_api.config.formats import DEFAULT_CSV_DELIMITER, JobConfig
from tap_generic_api.config.settings import (
    default,
)

#: Seed keys accepted by the schema whose behaviour is not built yet. They fail loudly
#: rather than being silently ignored.
NOT_SUPPORTED_YET: dict[str, str] = {}
#: Seed keys the target applies; the tap accepts them so the seed's block works unchanged.
TARGET_SIDE_KEYS = ("transform",)

DEFAULT_TIMEOUT_SECONDS: float = default("timeout")
DEFAULT_MAX_PAGES: int = default("pagination", "max_pages")
DEFAULT_REQUESTS_PER_SECOND: float = default("rate_limit", "requests_per_second")
DEFAULT_MAX_RETRIES: int = default("rate_limit", "max_retries")
DEFAULT_MAX_RETRY_WAIT_SECONDS: float = default("rate_limit", "max_retry_wait")
#: Lowest and highest HTTP error status (RFC 9110 section 15: 4xx client, 5xx server).
ERROR_STATUSES = (400, 599)
DEFAULT_MAX_CONCURRENCY: int = default("pagination", "max_concurrency")
#: Statuses retried by default (``rate_limit.retry_statuses``; see :mod:`tap_generic_api.http.retries`).
RETRY_STATUSES: frozenset[int] = frozenset(default("rate_limit", "retry_statuses"))


@dataclass(frozen=True)
class RateLimitConfig:
    """The ``rate_limit`` block of one stream (the seed's defaults).

    Attributes:
        requests_per_second: Most requests per second, shared by every stream with the same
            value; never more in any second (see :mod:`tap_generic_api.http.ratelimit`).
        retry_on_429: Retry a 429 answer (after ``Retry-After``); False fails at once.
        max_retries: Retries after the first attempt, for 429, 5xx, timeouts and connection errors.
        max_retry_wait: Longest wait in seconds the tap accepts; a longer ``Retry-After`` is
            an error rather than a silent hang.
        retry_statuses: HTTP statuses retried (default :data:`RETRY_STATUSES`).
    """

    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND
    retry_on_429: bool = True
    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT_SECONDS
    retry_statuses: frozenset[int] = RETRY_STATUSES


@dataclass(frozen=True)
class OAuth2Config:
    """Token grant settings of ``auth.type: oauth2`` (absent: the secret is a ready token).

    Attributes:
        grant_type: ``client_credentials`` or ``refresh_token``.
        token_url: Token endpoint.
        client_id: Client id.
        client_secret: Client secret (may come from the resolved credential instead).
        refresh_token: Refresh token for the ``refresh_token`` grant.
        scopes: Space-separated scopes, or None.
    """

    grant_type: str
    token_url: str
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    scopes: str | None = None


@dataclass(frozen=True)
class AuthConfig:
    """The ``auth`` block of one stream.

    Attributes:
        type: One of :data:`AUTH_TYPES`.
        provider: Provider name (``HUBSPOT``); secrets are looked up under its lower-case form.
        secret_key: A key of config ``secrets`` holding the credential.
        header_name: Header for ``type: header`` (default ``X-API-Key``).
        param_name: Query parameter for ``type: query`` (default ``api_key``).
    """

    type: str
    provider: str | None = None
    secret_key: str | None = None
    header_name: str = "X-API-Key"
    param_name: str = "api_key"
    oauth2: OAuth2Config | None = None


@dataclass(frozen=True)
class PaginationConfig:
    """The ``pagination`` block of one stream.

    Attributes:
        type: One of :data:`PAGINATION_TYPES`.
        param: Query parameter carrying the cursor, offset or page number.
        response_path: Dotted path to the next cursor or next URL; ``""`` for a
            ``link`` paginator means the RFC 8288 ``Link`` header.
        limit: Page size in records, or None to let the API decide.
        limit_param: Query parameter carrying ``limit``.
        max_pages: Safety stop: most pages requested for one stream in one run.
        location: Where the token and page size go: ``query`` parameters or the JSON ``body``.
        max_concurrency: Most pages fetched at once (offset and page pagination with a ``limit``);
            how many is tuned while the stream runs (:mod:`plugin_kit.concurrency`). With
            ``date_window_size``, the most date windows fetched at once.
    """

    type: str = "none"
    param: str | None = None
    response_path: str = ""
    limit: int | None = None
    limit_param: str = "limit"
    max_pages: int = DEFAULT_MAX_PAGES
    location: str = "query"
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY


@dataclass(frozen=True)
class StreamConfig:
    """Everything needed to extract one stream, checked.

    Attributes:
        name: Stream name (``name`` or ``destination.table``).
        index: Position in ``streams`` (None for a single top-level stream), for messages.
        url: URL template.
        method: HTTP method.
        data_path: Dotted path to the records in each response body.
        timeout: Request timeout in seconds.
        params: Query parameter templates.
        headers: Header templates.
        auth: Auth block, or None for an API without auth.
        pagination: Pagination block.
        key_fields: ``destination.key_fields``, the stream's key properties.
        batch_size: ``destination.batch_size`` (rows), a hint for the target.
        body: JSON body template for POST requests.
        rate_limit: Rate limit and retry settings.
        allowed_hosts: Hosts besides the configured URL's that next links may point to.
        replication_key: Record field whose greatest value is the stream's bookmark.
        start_date: Where the first incremental run starts: ISO-8601, or a number for a
            numeric replication key.
        end_date: Where the run's range ends (ISO-8601 or epoch seconds): the last window's end and
            ``{end_date}``; None for the run's start.
        date_window_size: Days per date window, or None for one request sequence from the
            start to the run's start (see :mod:`tap_generic_api.windows`).
        is_sorted: The API returns records in replication-key order, so the bookmark
            advances during the run and an interrupted run resumes where it stopped.
        schema: The stream's own JSON schema, or None.
        infer_schema: Infer the schema from records sampled from the first pages.
        parent: The parent stream's name (a child stream), or None.
        include_from_parent: Parent fields copied into each child record (``_parent_<path>``).
        parent_only: Records read for the stream's children only, never emitted.
        ignore_statuses: Statuses that, answered to a child request, skip that parent (counted, logged).
        response_format: ``json``, ``jsonl`` or ``csv``; None: from each response's Content-Type.
        csv_delimiter: Field delimiter of csv bodies.
        job: The report job the request creates, or None (see :mod:`tap_generic_api.report_jobs`).
    """

    name: str
    index: int | None
    url: str
    method: str = "GET"
    data_path: str = ""
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    params: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, Any] = field(default_factory=dict)
    auth: AuthConfig | None = None
    pagination: PaginationConfig = field(default_factory=PaginationConfig)
    key_fields: tuple[str, ...] = ()
    batch_size: int | None = None
    body: Any = None
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    allowed_hosts: tuple[str, ...] = ()
    replication_key: str | None = None
    start_date: str | int | float | None = None
    end_date: str | int | float | None = None
    date_window_size: float | None = None
    is_sorted: bool = False
    schema: Mapping[str, Any] | None = None
    infer_schema: bool = False
    parent: str | None = None
    include_from_parent: tuple[str, ...] = ()
    parent_only: bool = False
    ignore_statuses: frozenset[int] = frozenset()
    response_format: str | None = None
    csv_delimiter: str = DEFAULT_CSV_DELIMITER
    job: JobConfig | None = None

    @property
    def where(self) -> str:
        """Config location of this stream for error messages: ``streams[2]`` or ``config``."""
        return f"streams[{self.index}]" if self.index is not None else "config"
