"""A child stream's request templates filled from one parent record: ``{parent.<dotted path>}``.

Parent values are put into the templates first, with braces doubled so that a value holding
``{now}`` stays text; the stream's own ``{variable}`` templating then runs as for any stream
(:class:`~tap_generic_api.request_templates.RequestTemplates`). In the URL a value is
percent-encoded (RFC 3986 section 2.1): in the path ``/`` is kept, so ``{parent.full_name}``
= ``octo/hello`` gives ``/repos/octo/hello``; in the query everything reserved is encoded. A
body string that is exactly one placeholder takes the parent value with its JSON type.
"""

from __future__ import annotations

import collections
import dataclasses
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from plugin_kit.errors import ConfigError
from plugin_kit.redact import strings_in
from tap_generic_api.config import StreamConfig
from tap_generic_api.config.children import PARENT_PLACEHOLDER, included_name, parent_paths
from tap_generic_api.errors import ResponseShapeError
from tap_generic_api.paths import MISSING, DottedPath
from tap_generic_api.request_templates import RenderedRequest, RequestTemplates

#: Parent values a placeholder may hold (an object or a list has no one text form in a URL).
_SCALARS = (str, int, float, bool)
#: Path segments that climb (RFC 3986 section 3.3): a parent value may not hold them in the URL's path.
_DOT_SEGMENTS = frozenset({".", ".."})
#: What a parent value may hold in a header: tab, printable ASCII and latin-1 (RFC 9110 section 5.5, obs-text).
_HEADER_TEXT = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


class ParentTemplates:
    """Fills one child stream's templates from parent records.

    Args:
        config: The child stream's checked config.
        parent: The parent stream's name, for messages.
        templates: The child's own request templates (its variables and run start).

    Attributes:
        paths: The dotted paths the placeholders name, in order of first use.
    """

    def __init__(self, config: StreamConfig, parent: str, templates: RequestTemplates) -> None:
        self.config = config
        self.parent = parent
        self._templates = templates
        where = config.where
        used = [(f"{where}.url", config.url)]
        used += [(f"{where}.params.{k}", str(v)) for k, v in config.params.items()]
        used += [(f"{where}.headers.{k}", str(v)) for k, v in config.headers.items()]
        used += [(f"{where}.body", s) for s in strings_in(config.body)]
        self.paths = parent_paths(template for _, template in used)
        self._where = {path: next(w for w, t in used if path in parent_paths([t])) for path in self.paths}
        self._resolvers = {path: DottedPath(path) for path in self.paths}
        url_path = config.url.split("?", 1)[0]
        self._in_url_path = set(parent_paths([url_path]))
        self._in_header = {
            path: f"{where}.headers.{name}" for name, v in config.headers.items() for path in parent_paths([str(v)])
        }
        self._included = [(included_name(path), DottedPath(path), path) for path in config.include_from_parent]
        #: Parent records that held each ``include_from_parent`` path; the first parent's field names.
        self.included_found: collections.Counter[str] = collections.Counter()
        self.first_fields: list[str] | None = None

    def values(self, record: Mapping[str, Any], number: int) -> dict[str, Any]:
        """Return each placeholder's value in parent ``record`` (number ``number``, from 1).

        Raises:
            ConfigError: The first parent record lacks a field a placeholder names, or holds
                null, an object or a list there (names the child's key and the field).
            ResponseShapeError: A later parent record does (names the record number).
        """
        values = {}
        for path, resolver in self._resolvers.items():
            value = resolver.resolve(record)
            if value is MISSING or value is None or not isinstance(value, _SCALARS):
                found = "has no field" if value is MISSING else f"holds {_kind(value)} at"
                if number == 1:
                    fields = ", ".join(sorted(map(str, record))[:20])
                    msg = (
                        f"{self._where[path]} uses {{parent.{path}}}, but the first record of parent stream "
                        f"'{self.parent}' {found} '{path}' (its fields: {fields}). Name a field the parent's "
                        "records hold."
                    )
                    raise ConfigError(msg)
                msg = (
                    f"Stream '{self.config.name}': record {number} of parent stream '{self.parent}' {found} "
                    f"'{path}', which {self._where[path]} uses as {{parent.{path}}}."
                )
                raise ResponseShapeError(msg, stream=self.config.name)
            if path in self._in_url_path and _DOT_SEGMENTS & set(str(value).split("/")):
                # requests removes dot segments from a path (RFC 3986 section 5.2.4), and turns
                # %2E back into '.', so no encoding keeps them: the request would ask another endpoint.
                msg = (
                    f"Stream '{self.config.name}': record {number} of parent stream '{self.parent}' holds "
                    f"{value!r} at '{path}', which {self.config.where}.url uses in its path: its '.' or '..' "
                    "segment would make the request ask another path than this parent's."
                )
                raise ResponseShapeError(msg, stream=self.config.name)
            if path in self._in_header and not _HEADER_TEXT.fullmatch(str(value)):
                # requests refuses line breaks and encodes header values as latin-1 (RFC 9110 section 5.5).
                msg = (
                    f"Stream '{self.config.name}': record {number} of parent stream '{self.parent}' holds "
                    f"{value!r} at '{path}', which {self._in_header[path]} uses: an HTTP header value holds "
                    "printable latin-1 text only (RFC 9110 section 5.5). Put {parent." + path + "} in the url "
                    "or params instead, where it is percent-encoded."
                )
                raise ResponseShapeError(msg, stream=self.config.name)
            values[path] = value
        return values

    def context(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Return the SDK context of one parent: ``{"parent.<path>": value}`` (also the state partition key)."""
        return {f"parent.{path}": value for path, value in values.items()}

    def included(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Return the ``include_from_parent`` fields for the children of ``record`` (None where absent)."""
        result = {}
        for name, resolver, path in self._included:
            value = resolver.resolve(record)
            if value is MISSING:
                value = None
            else:
                self.included_found[path] += 1
            result[name] = value
        if self.first_fields is None:
            self.first_fields = sorted(map(str, record))[:20]
        return result

    def never_found(self) -> list[str]:
        """Return the ``include_from_parent`` paths no parent record held so far (a misspelt field, likely)."""
        return [path for _name, _resolver, path in self._included if not self.included_found[path]]

    def render(self, values: Mapping[str, Any], bookmark: Any) -> RenderedRequest:
        """Return the child's request for one parent: parent values filled, then the stream's variables."""
        config = self.config
        filled = dataclasses.replace(
            config,
            url=_fill(config.url, values, url=True),
            params={k: _fill(str(v), values) for k, v in config.params.items() if v is not None},
            headers={k: _fill(str(v), values) for k, v in config.headers.items() if v is not None},
            body=_fill_body(config.body, values),
        )
        variables = self._templates.variables_for(bookmark)
        return RequestTemplates(filled, variables, self._templates.run_started).render_with(variables)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return "an object" if isinstance(value, Mapping) else "a list"


def _fill(template: str, values: Mapping[str, Any], *, url: bool = False) -> str:
    query_at = template.find("?") if url else -1

    def substitute(match: Any) -> str:
        path = match.group(1)
        if not path:
            return match.group(0)  # {{ or }}: left for the stream's templating
        text = _text(values[path])
        if url:
            in_query = query_at != -1 and match.start() > query_at
            text = quote(text, safe="" if in_query else "/")
        return text.replace("{", "{{").replace("}", "}}")

    return PARENT_PLACEHOLDER.sub(substitute, template)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill_body(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        match = PARENT_PLACEHOLDER.fullmatch(value)
        if match and match.group(1):
            typed = values[match.group(1)]
            return typed.replace("{", "{{").replace("}", "}}") if isinstance(typed, str) else typed
        return _fill(value, values)
    if isinstance(value, Mapping):
        return {k: _fill_body(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_body(v, values) for v in value]
    return value
