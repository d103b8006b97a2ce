"""The CustomResourceDefinition, generated from the pydantic models in :mod:`lowlatency.api`.

pydantic emits JSON Schema (draft 2020-12 with ``$ref``s and ``anyOf`` for optionals); Kubernetes wants a
*structural* OpenAPI v3 schema: every node typed, no references, no ``additionalProperties: false`` beside
``properties``, no ``anyOf`` except for int-or-string. :func:`structural` rewrites one into the other, so the models
stay the only place where a field, its description, default and constraints are written.
"""

from __future__ import annotations

from typing import Any

import yaml

from lowlatency import GROUP, KIND, PLURAL, SHORT_NAME, SINGULAR, VERSION
from lowlatency.api import DeploymentSpec, LowLatencyEndpoint
from lowlatency.schema import CEL

CRD_NAME = f"{PLURAL}.{GROUP}"
CRD_FILE = f"{CRD_NAME}.yaml"

JsonSchema = dict[str, Any]

# Keys of pydantic's output that have no place in a structural schema (or only add noise to `kubectl explain`).
_DROPPED_KEYS = {"title", "$defs", "additionalProperties", "propertyNames"}

PRINTER_COLUMNS = [
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Instance type", "type": "string", "jsonPath": ".spec.instanceType"},
    {"name": "Instances", "type": "integer", "jsonPath": ".status.currentInstanceCount"},
    {"name": "P99 ms", "type": "number", "jsonPath": ".status.benchmark.p99Ms"},
    {"name": "Endpoint", "type": "string", "jsonPath": ".status.endpointName", "priority": 1},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def structural(schema: JsonSchema, definitions: dict[str, JsonSchema] | None = None) -> JsonSchema:
    """Rewrite one pydantic JSON Schema node (recursively) into a Kubernetes structural schema node."""
    definitions = schema.get("$defs", {}) if definitions is None else definitions
    if schema.get("x-kubernetes-int-or-string"):
        # The API server accepts no other types under int-or-string; the CEL rule beside it narrows the values.
        schema = {key: value for key, value in schema.items() if key != "anyOf"}
    elif "anyOf" in schema:
        schema = _without_null_branch(schema)
    if "$ref" in schema:
        referenced = definitions[schema["$ref"].rsplit("/", 1)[-1]]
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        return structural({**referenced, **siblings}, definitions)

    node: JsonSchema = {}

    for key, value in schema.items():
        if key in _DROPPED_KEYS or (key == "default" and value is None):
            continue
        if key == "description":
            node[key] = " ".join(value.split())
        elif key == "const":
            node["enum"] = [value]
        elif key == "properties":
            node[key] = {name: structural(child, definitions) for name, child in value.items()}
        elif key == "items":
            node[key] = structural(value, definitions)
        elif key in {"exclusiveMinimum", "exclusiveMaximum"}:
            # JSON Schema 2020-12 gives the bound itself; OpenAPI v3.0 a flag beside minimum/maximum.
            node["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            node[key] = True
        elif key == "patternProperties":
            # Structural schemas have no patternProperties: keys are checked by the operator (see api.py).
            (value_schema,) = value.values()
            node["additionalProperties"] = structural(value_schema, definitions)
        else:
            node[key] = value

    if isinstance(schema.get("additionalProperties"), dict):
        node["additionalProperties"] = structural(schema["additionalProperties"], definitions)
    return node


def _without_null_branch(schema: JsonSchema) -> JsonSchema:
    """An optional field is simply not required in Kubernetes: drop pydantic's ``{type: null}`` branch."""
    branches = [branch for branch in schema["anyOf"] if branch.get("type") != "null"]
    if len(branches) != 1:
        raise ValueError(f"cannot express a union of {branches} in a structural schema")
    merged = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**branches[0], **merged}


def _without_defaults(schema: JsonSchema) -> JsonSchema:
    """The node with no defaults anywhere under it."""
    node = {key: value for key, value in schema.items() if key != "default"}
    if "properties" in node:
        node["properties"] = {name: _without_defaults(child) for name, child in node["properties"].items()}
    if "items" in node:
        node["items"] = _without_defaults(node["items"])
    return node


def _no_defaults_in_list_items(schema: JsonSchema) -> JsonSchema:
    """List items carry no defaults: the API server would add them to each item, and a client-side diff (kubectl
    apply's, Argo CD's) replaces a list whole, so a list that came back with defaulted fields would never match Git
    again (argoproj/argo-cd#28724). The operator's models apply the same defaults when they read an item."""
    node = dict(schema)
    if "properties" in node:
        node["properties"] = {name: _no_defaults_in_list_items(child) for name, child in node["properties"].items()}
    if "items" in node:
        node["items"] = _without_defaults(node["items"])
    return node


def openapi_schema() -> JsonSchema:
    """The CRD version's ``openAPIV3Schema``."""
    root = structural(LowLatencyEndpoint.model_json_schema(by_alias=True, mode="validation"))
    properties = root["properties"]
    # Status carries no defaults: only the operator writes it, and it writes every field it means.
    properties["status"] = _without_defaults(properties["status"])
    properties["spec"] = _no_defaults_in_list_items(properties["spec"])
    # The API server defaults `deployment` so that its own defaults (strategy AllAtOnce, ...) appear in the stored
    # object: what the operator acts on is what `kubectl get -o yaml` shows. The API server validates a default as
    # written, against its node's schema and CEL rules, without applying the nested defaults inside it (an empty
    # object would fail the rules that read `strategy`: the whole CRD would be refused); the nested defaults are
    # applied to the stored object after it.
    properties["spec"]["properties"]["deployment"]["default"] = {"strategy": DeploymentSpec().strategy}
    return {
        "type": "object",
        "description": root["description"],
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion of the object."},
            "kind": {"type": "string", "description": "Kind of the object."},
            "metadata": {"type": "object"},
            "spec": properties["spec"],
            "status": properties["status"],
        },
    }


def custom_resource_definition() -> dict[str, Any]:
    """The whole CRD document."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "labels": {
                "app.kubernetes.io/name": "lowlatency-operator",
                "app.kubernetes.io/part-of": "lowlatency",
            },
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": [SHORT_NAME],
                "categories": ["all", "sagemaker"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": openapi_schema()},
                }
            ],
        },
    }


def render_yaml() -> str:
    """The CRD as committed in ``crds/``: a generated file, stated as such in its first line."""
    header = "# Generated by `lowlatency-operator crd` from operator/lowlatency/api.py: do not edit by hand.\n"
    return header + yaml.safe_dump(custom_resource_definition(), sort_keys=False, width=120)


__all__ = ["CEL", "CRD_FILE", "CRD_NAME", "custom_resource_definition", "openapi_schema", "render_yaml"]
