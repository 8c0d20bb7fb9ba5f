"""RFC 8288 ``Link`` header parsing: the next link of a paginated API.

Our own parser, because none on PyPI does the whole grammar and is kept up:
requests' ``parse_header_links`` splits on every comma (a comma inside a quoted title or in
the URI breaks the links apart) and keeps ``rel="next last"`` as one relation, so it misses
that next link; ``httplink`` (no release since 2020) takes the last of repeated ``rel``
parameters where RFC 8288 section 3.3 says the first counts, and fails the whole header on
one link-value it cannot read.

Grammar (RFC 8288 section 3, with RFC 9110 section 5.6 for token, quoted-string and OWS)::

    Link       = #link-value                       ; comma-separated, empty elements allowed
    link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param )
    link-param = token BWS [ "=" BWS ( token / quoted-string ) ]

A header sent on several lines is one list (RFC 9110 section 5.3); requests already joins
the lines with ``", "``, and :func:`parse_link_header` also takes the lines as a list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

#: RFC 9110 section 5.6.2 ``tchar`` (plus ``*`` of RFC 8187 extended names, which it already holds).
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_OWS = " \t"


@dataclass(frozen=True)
class Link:
    """One link-value of a ``Link`` header.

    Attributes:
        target: The URI-Reference between ``<`` and ``>``, as sent (may be relative).
        rel: The relation types, lower case (RFC 8288 section 2.1.1: compared case-insensitively).
        params: Every parameter, name lower case -> value (first occurrence; quotes and escapes removed).
    """

    target: str
    rel: tuple[str, ...] = ()
    params: dict[str, str] = field(default_factory=dict)


def parse_link_header(value: str | Iterable[str] | None) -> list[Link]:
    """Return the link-values of a ``Link`` header, in order.

    A link-value that breaks the grammar is skipped up to the next comma outside quotes and
    angle brackets, so one bad link-value does not hide a good next link after it.

    Args:
        value: The header value, or its lines (several ``Link`` header lines), or None.

    Returns:
        The links; ``[]`` for None or an empty header.
    """
    if value is None:
        return []
    text = value if isinstance(value, str) else ", ".join(value)
    links: list[Link] = []
    pos = 0
    while pos < len(text):
        pos = _skip(text, pos, _OWS + ",")
        if pos >= len(text):
            break
        link, pos = _link_value(text, pos)
        if link is not None:
            links.append(link)
    return links


def next_link(value: str | Iterable[str] | None) -> str | None:
    """Return the target of the first link whose ``rel`` holds ``next`` (any case), or None.

    Args:
        value: The ``Link`` header value or lines.

    Returns:
        The next URI-Reference as sent, or None when there is no next link.
    """
    return next((link.target for link in parse_link_header(value) if "next" in link.rel), None)


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _recover(text: str, pos: int) -> int:
    """Return the position after the next comma outside a quoted string or ``<...>``."""
    quoted = angled = False
    while pos < len(text):
        char = text[pos]
        if quoted:
            if char == "\\":
                pos += 1
            elif char == '"':
                quoted = False
        elif angled:
            angled = char != ">"
        elif char == '"':
            quoted = True
        elif char == "<":
            angled = True
        elif char == ",":
            return pos + 1
        pos += 1
    return pos


def _link_value(text: str, pos: int) -> tuple[Link | None, int]:
    """Parse one link-value at ``pos``; return it (None when malformed) and the position after it."""
    if text[pos] != "<":
        return None, _recover(text, pos)
    end = text.find(">", pos + 1)
    if end < 0:
        return None, len(text)
    target = text[pos + 1 : end].strip()
    pos = end + 1
    params: dict[str, str] = {}
    while True:
        pos = _skip(text, pos, _OWS)
        if pos >= len(text) or text[pos] == ",":
            break
        if text[pos] != ";":
            return None, _recover(text, pos)
        pos = _skip(text, pos + 1, _OWS)
        if pos >= len(text) or text[pos] in ",;":
            continue  # an empty parameter (";;" or a trailing ";"), as browsers accept
        name, pos = _token(text, pos)
        if not name:
            return None, _recover(text, pos)
        pos = _skip(text, pos, _OWS)
        param_value = ""
        if pos < len(text) and text[pos] == "=":
            pos = _skip(text, pos + 1, _OWS)
            if pos < len(text) and text[pos] == '"':
                param_value, pos = _quoted(text, pos)
            else:
                param_value, pos = _token(text, pos)
        # RFC 8288 section 3.3: occurrences of rel after the first MUST be ignored; the same for any parameter.
        params.setdefault(name.lower(), param_value)
    rel = tuple(r.lower() for r in params.get("rel", "").split())
    return Link(target=target, rel=rel, params=params), pos


def _token(text: str, pos: int) -> tuple[str, int]:
    start = pos
    while pos < len(text) and text[pos] in _TCHAR:
        pos += 1
    return text[start:pos], pos


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """Read the quoted-string at ``pos`` (RFC 9110 section 5.6.4); an unterminated one runs to the end."""
    out: list[str] = []
    pos += 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
            continue
        if char == '"':
            return "".join(out), pos + 1
        out.append(char)
        pos += 1
    return "".join(out), pos
