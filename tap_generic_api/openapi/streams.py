"""One list-returning GET operation into one stream block, with why each key was chosen and what is left to do."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from tap_generic_api.openapi.auth import auth_block
from tap_generic_api.openapi.children import can_be_parent, copy_parent_key, parent_field
from tap_generic_api.openapi.load import recursive_cuts
from tap_generic_api.openapi.pagination import detect
from tap_generic_api.openapi.params import operation_servers, required_params
from tap_generic_api.openapi.schemas import records_schema, to_json_schema

#: Property names that identify a record, by preference.
KEY_NAMES = ("id", "uuid", "key", "_id")
#: Date-time properties that record a change, by preference.
CHANGE_NAMES = (
    "updated_at",
    "updatedAt",
    "updated",
    "modified_at",
    "modifiedAt",
    "modified",
    "last_modified",
    "lastModified",
    "date_modified",
    "changed_at",
)
#: Query parameters that filter on a change time.
FILTER_PARAM = re.compile(
    r"^(updated|modified|changed)[_-]?(since|after|from|gte|min|at\[gte\])$|^since$", re.IGNORECASE
)


@dataclass
class Operation:
    """A list-returning GET operation.

    Attributes:
        path: Its path template (``/owners/{owner_id}/items``).
        spec: The Operation Object.
        params: Its parameters (path and operation level), by ``(in, name)``.
        data_path: Where the records are in its response.
        item: The records' schema (JSON Schema).
        body: The response body's schema (JSON Schema).
        headers: The response's declared header names.
        servers: The operation's or path item's own ``servers`` (empty: the description's).
    """

    path: str
    spec: dict[str, Any]
    params: dict[tuple[str, str], dict[str, Any]]
    data_path: str
    item: dict[str, Any]
    body: dict[str, Any]
    headers: list[str]
    servers: list[dict[str, Any]] = field(default_factory=list)
    alias: str = ""
    cuts: list[tuple[str, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Return the stream name: the path's literal segments joined by ``_``.

        ``/owners/{id}/items`` -> ``owners_items``; :attr:`alias` when another operation has that name.
        """
        if self.alias:
            return self.alias
        words = [s for s in self.path.split("/") if s and not s.startswith("{")]
        return re.sub(r"[^a-z0-9_]+", "_", "_".join(words).lower()).strip("_") or "records"


@dataclass
class Built:
    """A stream block and its report lines.

    Attributes:
        block: The stream's config.
        why: ``key: reason`` lines.
        todos: Choices that could not be made.
        variables: Path parameters turned into ``variables`` (name -> value or "").
    """

    block: dict[str, Any]
    why: list[str] = field(default_factory=list)
    todos: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    parent_field: str = ""


def list_operations(spec: dict[str, Any], *, globs: list[str], tags: list[str]) -> tuple[list[Operation], list[str]]:
    """Return the selected GET operations that return a list of objects, and lines for those skipped.

    Args:
        spec: The resolved description.
        globs: ``--paths`` patterns (fnmatch); empty = every path.
        tags: ``--tag`` values; empty = every tag.
    """
    operations, skipped = [], []
    for path, item in (spec.get("paths") or {}).items():
        get = (item or {}).get("get")
        if not get or (globs and not any(fnmatch.fnmatch(path, g) for g in globs)):
            continue
        if tags and not set(tags) & set(get.get("tags") or []):
            continue
        declared = [*(item.get("parameters") or []), *(get.get("parameters") or [])]
        params = {(p.get("in"), p.get("name")): p for p in declared}
        response = _ok_response(get)
        content = response.get("content") or {}
        media = next((v for k, v in content.items() if "json" in k), None)
        schema = (media or {}).get("schema") or response.get("schema")  # OpenAPI 2: schema on the response
        found = records_schema(schema) if isinstance(schema, dict) else None
        if found is None:
            skipped.append(f"GET {path}: its 2xx JSON response is not a list of objects")
            continue
        data_path, item_schema = found
        headers = list((response.get("headers") or {}).keys())
        body = to_json_schema(schema)
        servers = operation_servers(item, get)
        operation = Operation(path, get, params, data_path, item_schema, body, headers, servers)
        operation.cuts = recursive_cuts(schema)
        operations.append(operation)
    _unique_names(operations)
    return operations, skipped


def _unique_names(operations: list[Operation]) -> None:
    """Give each operation whose name an earlier one has (``/items`` and ``/items/``) a numbered alias."""
    taken: set[str] = set()
    for op in operations:
        name, number = op.name, 2
        while op.name in taken:
            op.alias = f"{name}_{number}"
            number += 1
        taken.add(op.name)


def _ok_response(operation: dict[str, Any]) -> dict[str, Any]:
    responses = operation.get("responses") or {}
    for code in ("200", 200, "2XX", "201", "default"):
        if code in responses:
            return responses[code] or {}
    return {}


def base_url(spec: dict[str, Any], source: str, override: str | None) -> str:
    """Return the server URL: ``--server``, else the first server (variables at their defaults) against ``source``."""
    if override:
        return override.rstrip("/")
    servers = spec.get("servers") or []
    if servers:
        url = servers[0].get("url", "")
        for name, variable in (servers[0].get("variables") or {}).items():
            url = url.replace(f"{{{name}}}", str(variable.get("default", "")))
    elif spec.get("host"):  # OpenAPI 2
        url = f"{(spec.get('schemes') or ['https'])[0]}://{spec['host']}{spec.get('basePath', '')}"
    else:
        url = "/"
    if source.startswith(("http://", "https://")):
        url = urljoin(source, url)
    return url.rstrip("/")


def server_variable_todos(spec: dict[str, Any]) -> list[str]:
    """Return a TODO for each variable of the first server that its default may not fit (``{region}``).

    A variable with an ``enum`` of several values, or without a ``default`` (required by OpenAPI
    3, https://spec.openapis.org/oas/v3.0.3#server-variable-object, but often missing), is a
    choice only the user can make.
    """
    servers = spec.get("servers") or []
    todos = []
    for name, variable in ((servers[0].get("variables") or {}) if servers else {}).items():
        default, choices = variable.get("default"), [str(v) for v in variable.get("enum") or []]
        if default is None:
            todos.append(f"server variable '{name}' has no default: give --server with its value")
        elif len(choices) > 1:
            others = ", ".join(c for c in choices if c != str(default))
            choice = f"server variable '{name}' is '{default}' (its default; also {others})"
            todos.append(f"{choice}: check it or give --server")
    return todos


def build_stream(spec: dict[str, Any], op: Operation, base: str, parents: dict[str, Operation]) -> Built:
    """Return the stream block for ``op``.

    Args:
        spec: The resolved description.
        op: The operation.
        base: The server URL.
        parents: The other selected operations by path, for child streams.
    """
    built = Built({"name": op.name, "url": base + op.path, "data_path": op.data_path})
    if op.alias:
        built.todos.append(f"named '{op.alias}': another selected operation's path gives the same name")
    if not base.startswith(("http://", "https://")):
        built.todos.append(f"the server URL '{base or '/'}' is not absolute: give --server https://...")
    built.why.append(f"data_path '{op.data_path}': the response's list of objects")
    _path_params(op, parents, built)
    query = {name: p for (where, name), p in op.params.items() if where == "query"}
    pagination, why, todos = detect(query, op.body, op.headers, op.data_path, op.item)
    built.block["pagination"] = pagination
    built.why.append(f"pagination {pagination['type']}: {why}")
    built.todos += todos
    auth, auth_todos = auth_block(spec, op.spec.get("security", spec.get("security")), base)
    if auth:
        built.block["auth"] = auth
        built.why.append(f"auth {auth['type']}: securitySchemes; the secret goes in secrets.{auth['secret_key']}")
    built.todos += auth_todos
    properties = op.item.get("properties") or {}
    required = op.item.get("required") or []
    key = next((k for k in KEY_NAMES if k in properties and k in required), "") or next(
        (k for k in KEY_NAMES if k in properties), ""
    )
    built.block["destination"] = {"table": op.name, **({"key_fields": [key]} if key else {})}
    if key:
        built.why.append(f"key_fields ['{key}']: {'required ' if key in required else ''}property '{key}'")
    else:
        built.todos.append("no id-like property on the records: set destination.key_fields")
    if built.parent_field:
        why, todos = copy_parent_key(built.block, op.item, built.parent_field)
        built.why += why
        built.todos += todos
    _replication(op, properties, query, built)
    taken = {pagination.get("param"), pagination.get("limit_param"), *(built.block.get("params") or {})}
    extra, why, todos = required_params(query, taken)
    if extra:
        built.block["params"] = {**(built.block.get("params") or {}), **extra}
    built.why += why
    built.todos += todos
    for where, ref in op.cuts:
        built.todos.append(f"schema: '{where}' refers back to {ref}; cut there (any value is accepted)")
    if properties:
        built.block["schema"] = op.item
        built.why.append("schema: the response's record schema ($ref, allOf/oneOf/anyOf and nullable resolved)")
    return built


def _path_params(op: Operation, parents: dict[str, Operation], built: Built) -> None:
    for name in re.findall(r"{([^}]+)}", op.path):
        prefix = op.path.split(f"/{{{name}}}")[0]
        parent = parents.get(prefix)
        if parent is not None and parent is not op and can_be_parent(parent.path) and not built.parent_field:
            field_name, todo = parent_field(parent.item, name)
            built.todos += [todo] if todo else []
            built.parent_field = field_name
            built.block["parent"] = parent.name
            built.block["url"] = built.block["url"].replace(f"{{{name}}}", f"{{parent.{field_name}}}")
            built.why.append(
                f"child of stream '{parent.name}': {{{name}}} is each {parent.name} record's '{field_name}'"
            )
            continue
        example = (op.params.get(("path", name)) or {}).get("example") or (
            (op.params.get(("path", name)) or {}).get("schema") or {}
        ).get("default")
        built.variables[name] = "" if example is None else str(example)
        if example is None:
            built.todos.append(f"path parameter '{name}': set variables.{name} (no operation lists its values)")
        else:
            built.why.append(f"variables.{name}: the parameter's example {example!r}; check it")


def _replication(op: Operation, properties: dict[str, Any], query: dict[str, Any], built: Built) -> None:
    changed = next((n for n in CHANGE_NAMES if (properties.get(n) or {}).get("format") == "date-time"), "")
    filter_param = next((n for n in query if FILTER_PARAM.match(n)), "")
    if changed and filter_param:
        built.block["replication_key"] = changed
        built.block.setdefault("params", {})[filter_param] = "{bookmark}"
        built.why.append(f"replication_key '{changed}' (date-time), filtered by parameter '{filter_param}'")
        built.todos.append(f"set start_date for the first run of '{op.name}' ({{bookmark}} falls back to it)")
    elif changed:
        built.todos.append(
            f"'{changed}' could be the replication key, but no parameter filters on it: left a full extraction"
        )
