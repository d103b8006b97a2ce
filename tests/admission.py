"""The three layers a `LowLatencyEndpoint` passes before the operator acts on it, for tests without an API server.

1. **Schema** — what the API server does with the CRD's structural ``openAPIV3Schema`` on create and update:
   strict decoding refuses unknown fields (kubectl's default ``--validate=strict``; otherwise the API server
   prunes them), defaults are applied (before validation, as the API server does on decode), the OpenAPI value
   validations run (``pattern``, ``minimum``, ``maxItems``, int-or-string, ...). These are the Kubernetes API
   emulator's own pruning, defaulting and validation (:mod:`lowlatency.emulators.kubernetes`, the same code the
   end-to-end tests meet); added here: ``x-kubernetes-list-type`` ``set`` and ``map`` lists refuse duplicates.
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

from lowlatency import KIND, crd
from lowlatency.api import CEL, Spec
from lowlatency.emulators.kubernetes import CustomResource, apply_defaults, field_error, prune
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


@functools.cache
def _validator() -> jsonschema.Draft4Validator:
    return CustomResource(f"{KIND}List", schema(), []).validator


def with_defaults(node: JsonSchema, value: Any) -> Any:
    """``value`` as the API server stores it: absent properties with a default get it, recursively."""
    return apply_defaults(copy.deepcopy(value), node)


def stored(obj: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The object as the API server decodes it (pruned and defaulted) and the unknown fields it found."""
    root, unknown = schema(), []
    decoded = apply_defaults(prune(copy.deepcopy(obj), root, "", unknown), root)
    return decoded, unknown


def _duplicates(node: JsonSchema, value: Any, path: list[str | int]) -> Iterator[Rejection]:
    """``x-kubernetes-list-type`` set and map: no two items (or map keys) alike."""
    if isinstance(value, dict):
        for name, item in value.items():
            child = node.get("properties", {}).get(name, node.get("additionalProperties"))
            if isinstance(child, dict):
                yield from _duplicates(child, item, [*path, name])
    elif isinstance(value, list) and "items" in node:
        keys = node.get("x-kubernetes-list-map-keys")
        seen: list[Any] = []
        for index, item in enumerate(value):
            identity = [item.get(key) for key in keys] if keys and isinstance(item, dict) else item
            if node.get("x-kubernetes-list-type") in {"set", "map"} and identity in seen:
                yield Rejection("schema", f"{_path([*path, index])}: Duplicate value: {identity!r}")
            seen.append(identity)
            yield from _duplicates(node["items"], item, [*path, index])


def schema_rejections(obj: dict[str, Any]) -> list[Rejection]:
    """Strict decoding, then OpenAPI validation worded as kube-apiserver words it (the Kubernetes API emulator's
    own code), then the list types, which the emulator does not check."""
    decoded, unknown = stored(obj)
    found = [Rejection("schema", f'{field}: unknown field "{field}"') for field in unknown]
    for error in _validator().iter_errors(decoded):
        cause = field_error(error)
        found.append(Rejection("schema", f"{cause['field']}: {cause['message']}"))
    return found + list(_duplicates(schema(), decoded, []))


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
    return list(_cel_problems(schema(), stored(obj)[0], stored(old)[0] if old else None, []))


def cel_rejections_at(node: JsonSchema, value: Any) -> list[Rejection]:
    """The rules of ``node`` and its children on ``value`` alone (paths relative to the node)."""
    return list(_cel_problems(node, value, None, []))


# --- layer 3: the operator -------------------------------------------------------------------------------------


def operator_rejections(obj: dict[str, Any]) -> list[Rejection]:
    """What the operator says about the spec as the API server stored it (defaults applied)."""
    try:
        Spec.model_validate(stored(obj)[0].get("spec") or {})
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
