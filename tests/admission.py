"""The three layers a `LowLatencyEndpoint` passes before the operator acts on it, for tests without an API server.

1. **Schema** — what the API server does with the CRD's structural ``openAPIV3Schema`` on create and update:
   strict decoding refuses unknown fields (kubectl's default ``--validate=strict``; with ``Ignore`` the API server
   would prune them instead), defaults are applied (before validation, as the API server does on decode), the
   OpenAPI value validations run (``pattern``, ``minimum``, ``maxItems``, ...; checked here with ``jsonschema``),
   ``x-kubernetes-int-or-string`` admits only integers and strings, and ``x-kubernetes-list-type`` ``set`` and
   ``map`` lists refuse duplicates.
2. **CEL** — the ``x-kubernetes-validations`` rules, each evaluated with ``cel-python`` at the node where it is
   declared, once for every instance of that node (each list item, each map value), with ``self`` bound to the
   node's value. A rule that mentions ``oldSelf`` is a transition rule: like the API server, it runs only on update
   and only where the old object has the same node (correlated by property name, map key or list-map key). An
   error is reported at the node's path plus the rule's ``fieldPath``, with its ``message``.
   The API server returns schema and CEL errors in one response (skipping CEL when the schema already found a
   missing, mistyped or oversized value); these helpers keep the layers apart so that a test can say which layer
   catches a case first.
3. **Operator** — :class:`lowlatency.api.Spec`, whose validators re-check every rule (for objects stored before a
   rule existed) and add what no schema can say; the reconciler reports its error as an ``InvalidSpec`` condition.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import celpy
import jsonschema  # type: ignore[import-untyped]
import pydantic
from celpy.adapter import json_to_cel
from celpy.celtypes import BoolType
from celpy.evaluation import CELEvalError

from lowlatency import crd
from lowlatency.api import CEL, Spec
from lowlatency.reconciler import describe_validation_error

Layer = Literal["schema", "cel", "operator"]
LAYERS: tuple[Layer, ...] = ("schema", "cel", "operator")
JsonSchema = dict[str, Any]


@dataclass(frozen=True)
class Rejection:
    layer: Layer
    text: str  # as the API server or the operator words it: "<field path>: <what is wrong>"


def document(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "lowlatency.io/v1alpha1",
        "kind": "LowLatencyEndpoint",
        "metadata": {"name": "bid-filter", "namespace": "adtech"},
        "spec": spec,
    }


@functools.cache
def _schema() -> JsonSchema:
    return crd.openapi_schema()


def schema() -> JsonSchema:
    """The CRD's ``openAPIV3Schema`` (a fresh copy)."""
    return copy.deepcopy(_schema())


def _path(parts: list[str | int]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts).lstrip(".")


# --- layer 1: the structural schema --------------------------------------------------------------------------


def with_defaults(node: JsonSchema, value: Any) -> Any:
    """The object as the API server stores it: every absent property with a default gets it, recursively (a
    defaulted object gets its own properties' defaults too)."""
    if isinstance(value, dict) and "properties" in node:
        defaulted = dict(value)
        for name, child in node["properties"].items():
            if name not in defaulted and "default" in child:
                defaulted[name] = copy.deepcopy(child["default"])
            if name in defaulted:
                defaulted[name] = with_defaults(child, defaulted[name])
        return defaulted
    if isinstance(value, dict) and isinstance(node.get("additionalProperties"), dict):
        return {key: with_defaults(node["additionalProperties"], item) for key, item in value.items()}
    if isinstance(value, list) and "items" in node:
        return [with_defaults(node["items"], item) for item in value]
    return value


def _structural_problems(node: JsonSchema, value: Any, path: list[str | int]) -> Iterator[Rejection]:
    """What the OpenAPI keywords do not say but the API server checks: unknown fields, int-or-string, list types."""
    if node.get("x-kubernetes-int-or-string") and (isinstance(value, bool) or not isinstance(value, int | str)):
        yield Rejection("schema", f"{_path(path)}: Invalid value: {value!r}: must be an integer or a string")
    if isinstance(value, dict):
        known = node.get("properties")
        if known is not None and not node.get("x-kubernetes-preserve-unknown-fields"):
            for name in value.keys() - known.keys():
                yield Rejection("schema", f'{_path([*path, name])}: unknown field "{_path([*path, name])}"')
        for name, item in value.items():
            child = known.get(name) if known is not None else node.get("additionalProperties")
            if isinstance(child, dict):
                yield from _structural_problems(child, item, [*path, name])
    if isinstance(value, list) and "items" in node:
        keys = node.get("x-kubernetes-list-map-keys")
        seen: list[Any] = []
        for index, item in enumerate(value):
            identity = [item.get(key) for key in keys] if keys and isinstance(item, dict) else item
            if node.get("x-kubernetes-list-type") in {"set", "map"} and identity in seen:
                yield Rejection("schema", f"{_path([*path, index])}: Duplicate value: {identity!r}")
            seen.append(identity)
            yield from _structural_problems(node["items"], item, [*path, index])


def schema_rejections(obj: dict[str, Any]) -> list[Rejection]:
    root = schema()
    structural = list(_structural_problems(root, obj, []))
    validator = jsonschema.Draft4Validator(root)
    found = []
    for error in validator.iter_errors(with_defaults(root, obj)):
        parts = list(error.absolute_path)
        if error.validator == "required":
            parts.append(error.message.split("'")[1])
            found.append(Rejection("schema", f"{_path(parts)}: Required value"))
        else:
            found.append(Rejection("schema", f"{_path(parts)}: Invalid value: {error.message}"))
    return structural + found


# --- layer 2: CEL rules ----------------------------------------------------------------------------------------

_ENVIRONMENT = celpy.Environment()


@functools.cache
def _program(expression: str) -> celpy.Runner:
    return _ENVIRONMENT.program(_ENVIRONMENT.compile(expression))


def is_transition_rule(rule: dict[str, Any]) -> bool:
    return re.search(r"\boldSelf\b", rule["rule"]) is not None


def evaluate(rule: dict[str, Any], value: Any, old_value: Any = None) -> bool | str:
    """True when the rule holds; otherwise what the API server says (its message, or the evaluation error)."""
    activation = {"self": json_to_cel(value)}
    if old_value is not None:
        activation["oldSelf"] = json_to_cel(old_value)
    try:
        result = _program(rule["rule"]).evaluate(activation)
    except CELEvalError as error:
        return f"evaluation error: {error}"
    if isinstance(result, CELEvalError):
        return f"evaluation error: {result}"
    if isinstance(result, BoolType) and result:
        return True
    if "messageExpression" in rule:
        return str(_program(rule["messageExpression"]).evaluate(activation))
    return str(rule.get("message") or f"failed rule: {rule['rule']}")


def _cel_problems(node: JsonSchema, value: Any, old: Any, path: list[str | int]) -> Iterator[Rejection]:
    if value is None:
        return
    for rule in node.get(CEL, []):
        if is_transition_rule(rule) and old is None:
            continue
        outcome = evaluate(rule, value, old)
        if outcome is not True:
            where = _path(path) + rule.get("fieldPath", "")
            yield Rejection("cel", f"{where}: Invalid value: {outcome}")
    if isinstance(value, dict) and "properties" in node:
        for name, child in node["properties"].items():
            old_child = old.get(name) if isinstance(old, dict) else None
            yield from _cel_problems(child, value.get(name), old_child, [*path, name])
    elif isinstance(value, dict) and isinstance(node.get("additionalProperties"), dict):
        for key, item in value.items():
            old_item = old.get(key) if isinstance(old, dict) else None
            yield from _cel_problems(node["additionalProperties"], item, old_item, [*path, key])
    elif isinstance(value, list) and "items" in node:
        keys = node.get("x-kubernetes-list-map-keys") if node.get("x-kubernetes-list-type") == "map" else None
        old_items = {tuple(item.get(key) for key in keys): item for item in old or []} if keys else {}
        for index, item in enumerate(value):
            old_item = old_items.get(tuple(item.get(key) for key in keys)) if keys else None
            yield from _cel_problems(node["items"], item, old_item, [*path, index])


def cel_rejections(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[Rejection]:
    root = schema()
    return list(_cel_problems(root, with_defaults(root, obj), with_defaults(root, old) if old else None, []))


def cel_rejections_at(node: JsonSchema, value: Any) -> list[Rejection]:
    """The rules of ``node`` and its children on ``value`` alone (paths relative to the node)."""
    return list(_cel_problems(node, value, None, []))


# --- layer 3: the operator -------------------------------------------------------------------------------------


def operator_rejections(obj: dict[str, Any]) -> list[Rejection]:
    """What the operator says about the spec as the API server stored it (defaults applied)."""
    stored = with_defaults(schema(), obj)
    try:
        Spec.model_validate(stored.get("spec") or {})
    except pydantic.ValidationError as error:
        return [Rejection("operator", describe_validation_error(error, prefix="spec"))]
    return []


def rejections(obj: dict[str, Any], old: dict[str, Any] | None = None) -> dict[Layer, list[Rejection]]:
    """Every layer's verdict on a create (``old`` None) or an update from ``old``."""
    return {
        "schema": schema_rejections(obj),
        "cel": cel_rejections(obj, old),
        "operator": operator_rejections(obj),
    }


def first_rejecting_layer(found: dict[Layer, list[Rejection]]) -> Layer | None:
    return next((layer for layer in LAYERS if found[layer]), None)


def names_the_field(text: str, field: str) -> bool:
    """Whether an error names ``field`` (``spec.a.b[0].c``): as the path it is reported at, or as the path of its
    parent with the field's own name in the message (a rule on an object about one of its fields)."""
    text, field = (re.sub(r"\[(\d+)\]", r".\1", each) for each in (text, field))
    if re.search(re.escape(field) + r"(:|\.|$)", text):
        return True
    parent, _, leaf = field.rpartition(".")
    return re.search(re.escape(parent) + r":", text) is not None and leaf in text
