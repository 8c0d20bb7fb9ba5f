"""The link between parent and child streams, made the SDK's way.

singer-sdk links streams by class: ``Tap.load_streams`` adds every stream whose class's
``parent_stream_type`` is a parent's class to that parent's ``child_streams``, and
``Tap.sync_all`` then leaves child streams to their parent. All our streams are one class, so
each stream in a parent/child pair gets its own subclass (named after the stream) carrying
that link; nothing else differs.
"""

from __future__ import annotations

import re
from typing import Any

from tap_generic_api.config import StreamConfig
from tap_generic_api.config.children import included_name
from tap_generic_api.schemas import with_fields

#: Schema of a copied parent field that is not a key: any JSON value (the target stores several types as JSON).
ANY_VALUE = {"type": ["string", "integer", "number", "boolean", "object", "array", "null"]}


def stream_classes(configs: list[StreamConfig], base: type) -> dict[str, type]:
    """Return a subclass of ``base`` per stream that is a parent or a child, by stream name.

    Parents come first (one level of parents is checked in config), so a child's
    ``parent_stream_type`` is its parent's class. Streams in no pair use ``base`` itself.
    """
    parents = {config.parent for config in configs if config.parent}
    classes: dict[str, type] = {}
    for config in configs:
        if config.name in parents:
            classes[config.name] = type(_class_name(base, config.name), (base,), {"__module__": base.__module__})
    for config in configs:
        if config.parent:
            attributes = {"__module__": base.__module__, "parent_stream_type": classes[config.parent]}
            classes[config.name] = type(_class_name(base, config.name), (base,), attributes)
    return classes


def prepare_child(stream: Any) -> None:
    """Make a child stream ready: copied parent fields in its schema, its ``ignore_statuses``.

    The copied ``_parent_*`` fields are declared as any value (:data:`ANY_VALUE`: a parent field may
    be an object or a list), or as any scalar (:data:`~tap_generic_api.schemas.ANY_SCALAR`) when they
    are key fields or the replication key, and are not looked for in the API's answer by the
    first-page check of key fields.
    """
    config = stream.stream_config
    if config.parent is None:
        return
    names = [included_name(path) for path in config.include_from_parent]
    if names:
        keys = {*config.key_fields, config.replication_key}
        schema = with_fields(stream.schema, [name for name in names if name in keys])
        schema = with_fields(schema, [name for name in names if name not in keys], ANY_VALUE)
        stream._schema = schema  # noqa: SLF001 - set before the catalog is read
        stream._metadata = None  # noqa: SLF001
        check = stream._records_of.first_page  # noqa: SLF001
        check.fields = [(name, setting) for name, setting in check.fields if name not in names]
    stream.retry_policy.ignore_statuses = config.ignore_statuses


def _class_name(base: type, stream: str) -> str:
    return f"{base.__name__}_{re.sub(r'[^0-9A-Za-z_]', '_', stream)}"
