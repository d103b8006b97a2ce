"""The three layers a `LowLatencyEndpoint` passes before the operator acts on it, for tests without an API server.

1. **Schema** — what the API server does with the CRD's structural ``openAPIV3Schema`` on create and update:
   strict decoding refuses unknown fields (kubectl's default ``--validate=strict``; otherwise the API server
   prunes them), defaults are applied (before validation, as the API server does on decode), the OpenAPI value
   validations run (``pattern``, ``minimum``, ``maxItems``, int-or-string, ...) and ``x-kubernetes-list-type``
   ``set`` and ``map`` lists refuse duplicates.
2. **CEL** — the ``x-kubernetes-validations`` rules, run at their nodes as the API server runs them (transition
   rules only on update, where the old object has the node; ratcheting on update).
   Both layers are the Kubernetes API emulator's own code (:mod:`lowlatency.emulators.custom_resources` and
   :mod:`lowlatency.emulators.cel`, the same code the end-to-end tests meet). The API server returns schema and CEL
   errors in one response (skipping CEL when the schema already found a missing, mistyped or oversized value);
   these helpers keep the layers apart so that a test can say which layer catches a case first.
3. **Operator** — :class:`lowlatency.api.Spec`, whose validators re-check every rule (for objects stored before a
   rule existed) and add what no schema can say; the reconciler reports its error as an ``InvalidSpec`` condition.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from typing import Any, Literal

import pydantic

from lowlatency import KIND, crd
from lowlatency.api import Spec
from lowlatency.emulators.cel.rules import Validator
from lowlatency.emulators.custom_resources import CustomResource, apply_defaults
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


# --- layer 1: the structural schema --------------------------------------------------------------------------


@functools.cache
def _resource() -> CustomResource:
    return CustomResource(f"{KIND}List", schema(), [])


def with_defaults(node: JsonSchema, value: Any) -> Any:
    """``value`` as the API server stores it: absent properties with a default get it, recursively."""
    return apply_defaults(copy.deepcopy(value), node)


def stored(obj: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The object as the API server decodes it (pruned and defaulted) and the unknown fields it found."""
    return _resource().decode(copy.deepcopy(obj))


def _rejections(layer: Layer, causes: list[dict[str, Any]]) -> list[Rejection]:
    return [Rejection(layer, f"{cause['field']}: {cause['message']}") for cause in causes]


def schema_rejections(obj: dict[str, Any]) -> list[Rejection]:
    """Strict decoding, then OpenAPI validation and list types, worded as kube-apiserver words them."""
    decoded, unknown = stored(obj)
    found = [Rejection("schema", f'{field}: unknown field "{field}"') for field in unknown]
    return found + _rejections("schema", _resource().schema_causes(decoded))


# --- layer 2: CEL rules ----------------------------------------------------------------------------------------


def cel_rejections(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[Rejection]:
    """The rules on a create (``old`` None) or an update from ``old``, on the objects as stored."""
    return _rejections("cel", _resource().rule_causes(stored(obj)[0], stored(old)[0] if old else None))


def cel_rejections_at(node: JsonSchema, value: Any) -> list[Rejection]:
    """The rules of ``node`` and its children on ``value`` alone (paths relative to the node)."""
    rules = Validator.of(node)
    return _rejections("cel", rules.errors(value, None, "") if rules is not None else [])


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
    """Whether an error is reported at ``field``'s full path (``spec.a.b[0].c``, or ``spec.a.b.0.c`` as pydantic
    words it): a rule about one field of an object must say so with its ``fieldPath``, not by naming the field
    somewhere in a message reported at the object."""
    text, field = (re.sub(r"\[(\d+)\]", r".\1", each) for each in (text, field))
    return re.search(r"(^|[\s\[(])" + re.escape(field) + r"(:|\.|\[|$)", text) is not None
