"""Records as JSON text, the insertId and the MERGE key hash."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from plugin_kit import fastjson
from target_bigquery_smart.strict import strict_value

_encoder = msgspec.json.Encoder(decimal_format="number")


def to_json(value: Any) -> str:
    """Serialise a record as strict compact JSON, keeping integer and ``Decimal`` digits exactly.

    NaN and Infinity become ``null`` and lone surrogates U+FFFD (see
    :mod:`target_bigquery_smart.strict`).
    """
    try:
        # msgspec writes NaN as null and refuses lone surrogates (UnicodeEncodeError).
        return _encoder.encode(value).decode()
    except (TypeError, ValueError, msgspec.EncodeError):
        return fastjson.dumps(strict_value(value)).decode()


def _canonical(value: Any) -> bytes:
    return fastjson.dumps(value, sort_keys=True)


def insert_id(stream: str, record: Mapping[str, Any], position: int) -> str:
    """Return a deterministic insertId: the same row gets the same id on every retry.

    The id hashes the stream name, the record's position in its stream in this input (1 for
    the stream's first record, counted across SCHEMA changes) and the whole record. The
    position keeps two identical records apart wherever the batches split, so BigQuery's
    de-duplication never drops one of them; a request retried by the client, or rows sent
    again after ``stopped``, carry the same ids. The record in the hash gives a changed
    version of a record a new id. 64 hex characters (BigQuery allows 128).

    Args:
        stream: Stream name.
        record: The record.
        position: The record's number in its stream, from 1.

    Returns:
        The insertId.
    """
    return hashlib.sha256(_canonical([stream, position, record])).hexdigest()


#: Column holding, in flattened mode, record fields the stream's SCHEMA does not declare.
EXTRA_COLUMN = "_sdc_extra"
#: Column holding the hash of the key property values (merge mode), the MERGE key.
KEY_HASH_COLUMN = "_sdc_key_hash"


def key_hash(values: Sequence[Any]) -> str:
    """Return the SHA-256 hex of the key values (the MERGE key), given in key-property order.

    The values should be canonical (:func:`target_bigquery_smart.keys.canonical_key_value`).
    """
    return hashlib.sha256(_canonical(list(values))).hexdigest()


def render_add_fields(add_fields: Mapping[str, Any], *, org_slug: str | None, now: str) -> dict[str, Any]:
    """Render ``add_fields`` values: ``{org_slug}`` and ``{now}`` are replaced, other text is kept.

    Args:
        add_fields: Column name -> constant or template.
        org_slug: Config ``org_slug``.
        now: The run's start time, RFC 3339 UTC.

    Returns:
        Column name -> value.
    """
    values = {"org_slug": org_slug or "", "now": now}
    rendered = {}
    for name, template in add_fields.items():
        if isinstance(template, str):
            for key, value in values.items():
                template = template.replace(f"{{{key}}}", value)
        rendered[name] = template
    return rendered
