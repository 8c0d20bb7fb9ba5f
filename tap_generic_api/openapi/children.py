"""A path parameter that another selected operation lists: a child stream of that operation's stream.

``/orders/{order_id}/lines`` beside ``/orders`` becomes ``parent: orders`` with
``{parent.id}`` in the url (docs/CHILD_STREAMS.md). The parent's key is copied into every
child record (``include_from_parent`` -> ``_parent_id``) and leads the child's key fields:
a description rarely says whether a child's ids are unique across parents (order line 1 of
every order), and ``(_parent_id, id)`` is unique either way.
"""

from __future__ import annotations

from typing import Any

#: Property names that identify a parent record, by preference.
PARENT_KEYS = ("id", "uuid", "key", "_id")


def parent_field(parent_item: dict[str, Any], param: str) -> tuple[str, str]:
    """Return ``(the parent record's field that fills path parameter param, a TODO or "")``.

    A property named as the parameter (``{slug}`` and ``slug``), else the parent's id-like
    property, else the parameter's name (the tap names a field the first parent lacks at run
    time). An id filling a parameter not named like one (``{org}``, which may take a name) is a TODO.
    """
    properties = parent_item.get("properties") or {}
    if param in properties:
        return param, ""
    field_name = next((k for k in PARENT_KEYS if k in properties), "") or param
    named_like_id = param.lower().endswith(("id", "uuid", "key"))
    todo = ""
    if field_name != param and not named_like_id:
        todo = (
            f"path parameter '{param}' is filled with each parent's '{field_name}': check it takes that, "
            f"not a name (else use {{parent.<field>}} in the url)"
        )
    return field_name, todo


def can_be_parent(path: str) -> bool:
    """Return True when the operation at ``path`` can be a parent: it has no path parameter itself.

    The tap runs one level of parents; a parent that is itself a child is refused by its config checks.
    """
    return "{" not in path


def copy_parent_key(block: dict[str, Any], item: dict[str, Any], field_name: str) -> tuple[list[str], list[str]]:
    """Copy the parent's ``field_name`` into the child stream ``block``'s records and key fields.

    Args:
        block: The child's stream block (``destination`` already set).
        item: The child records' schema.
        field_name: The parent field filling the url (:func:`parent_field`).

    Returns:
        ``(why lines, todos)``.
    """
    copied = "_parent_" + field_name.replace(".", "_")
    if copied in (item.get("properties") or {}):
        todo = f"the records already have a property '{copied}': parent field '{field_name}' is not copied into them"
        return [], [todo]
    block["include_from_parent"] = [field_name]
    destination = block["destination"]
    keys = destination.get("key_fields") or []
    destination["key_fields"] = [copied, *keys]
    why = (
        f"include_from_parent ['{field_name}']: each record carries its parent's '{field_name}' as '{copied}', "
        f"first of the key fields (a child's ids may repeat across parents)"
    )
    return [why], []
