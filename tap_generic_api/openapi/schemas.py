"""OpenAPI response schemas into the JSON schema of a stream's records.

OpenAPI 3.0's Schema Object is a subset of JSON Schema with ``nullable``
(https://spec.openapis.org/oas/v3.0.3#schema-object); 3.1 is JSON Schema 2020-12. ``allOf``
merges into one object; ``oneOf`` / ``anyOf`` of objects become one object holding every
variant's properties (a record matches one variant, so none is required); ``nullable: true``
adds ``"null"`` to the type. Annotations BigQuery has no use for are dropped.
"""

from __future__ import annotations

from typing import Any

#: OpenAPI-only keywords left out of the stream's schema.
DROPPED = frozenset(
    {"nullable", "readOnly", "writeOnly", "example", "examples", "discriminator", "xml", "externalDocs", "deprecated"}
)
#: Deepest nesting converted; deeper schemas become "any value" (recursive schemas stop here).
MAX_DEPTH = 12


def to_json_schema(schema: Any, depth: int = 0) -> dict[str, Any]:
    """Return ``schema`` (resolved, OpenAPI 3.0 or 3.1) as plain JSON Schema.

    Args:
        schema: A resolved Schema Object.
        depth: Nesting depth (recursion guard).
    """
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return {}
    if "allOf" in schema:
        merged = merge_objects([to_json_schema(s, depth + 1) for s in schema["allOf"]], keep_required=True)
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return _nullable(merge_objects([merged, to_json_schema(rest, depth + 1)], keep_required=True), schema)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            variants = [to_json_schema(s, depth + 1) for s in schema[key]]
            if variants and all(v.get("type") in ("object", ["object", "null"]) for v in variants):
                return _nullable(merge_objects(variants, keep_required=False), schema)
            return _nullable({key: variants}, schema)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in DROPPED or key.startswith("x-"):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: to_json_schema(sub, depth + 1) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = to_json_schema(value, depth + 1)
        else:
            out[key] = value
    return _nullable(out, schema)


def _nullable(out: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if not schema.get("nullable"):
        return out
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        out["type"] = [*kind, "null"]
    elif kind is None and ("anyOf" in out or "oneOf" in out):
        key = "anyOf" if "anyOf" in out else "oneOf"
        out[key] = [*out[key], {"type": "null"}]
    return out


def merge_objects(parts: list[dict[str, Any]], *, keep_required: bool) -> dict[str, Any]:
    """Merge object schemas: properties united (later wins), ``required`` united when ``keep_required``."""
    merged: dict[str, Any] = {"type": "object", "properties": {}}
    required: list[str] = []
    for part in parts:
        merged["properties"].update(part.get("properties") or {})
        if keep_required:
            required += [r for r in part.get("required") or [] if r not in required]
        for key, value in part.items():
            if key not in ("properties", "required", "type"):
                merged.setdefault(key, value)
    if required:
        merged["required"] = required
    return merged


def records_schema(response_schema: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """Return ``(data_path, item schema)`` of a list response, or None when it returns no list of objects.

    The root array, else the array property of objects, preferring the usual names
    (``data``, ``items``, ``results``, ...), one level of nesting deep at most.
    """
    schema = to_json_schema(response_schema)
    if _is_array(schema):
        return "", schema.get("items") or {}
    found = _array_property(schema, "")
    return found


_USUAL = ("data", "items", "results", "records", "rows", "entries", "values", "objects")


def _array_property(schema: dict[str, Any], prefix: str) -> tuple[str, dict[str, Any]] | None:
    properties = schema.get("properties") or {}
    arrays = [name for name, sub in properties.items() if _is_array(sub) and _is_object(sub.get("items") or {})]
    arrays.sort(key=lambda n: (n not in _USUAL, _USUAL.index(n) if n in _USUAL else 0))
    if arrays:
        return f"{prefix}{arrays[0]}", properties[arrays[0]].get("items") or {}
    if not prefix:
        for name, sub in properties.items():
            if _is_object(sub):
                nested = _array_property(sub, f"{name}.")
                if nested:
                    return nested
    return None


def _is_array(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "array" or (isinstance(kind, list) and "array" in kind)


def _is_object(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in schema
