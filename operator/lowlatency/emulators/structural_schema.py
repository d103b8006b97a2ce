"""Whether a CRD's schema is structural, as kube-apiserver requires before it serves the CRD.

Source: apiextensions-apiserver ``pkg/apiserver/schema/validation.go`` (validateStructuralInvariants,
validateNestedValueValidation) and ``complete.go`` (validateStructuralCompleteness); the Kubernetes documentation,
"Specifying a structural schema"
(https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema).
What is checked is listed in :mod:`lowlatency.emulators.crd_validation`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lowlatency.emulators.cel.schema_types import RULES
from lowlatency.emulators.field_errors import forbidden, invalid, required

JSON = dict[str, Any]
NESTED_FORBIDDEN = {  # inside allOf/anyOf/oneOf/not: keyword -> kube-apiserver's complaint
    "type": "must be empty to be structural",
    "additionalProperties": "must be undefined to be structural",
    "default": "must be undefined to be structural",
    "title": "must be empty to be structural",
    "description": "must be empty to be structural",
    "nullable": "must be false to be structural",
    "externalDocs": "must be undefined to be structural",
    "x-kubernetes-preserve-unknown-fields": "must be false to be structural",
    "x-kubernetes-embedded-resource": "must be false to be structural",
    "x-kubernetes-int-or-string": "must be false to be structural",
    "x-kubernetes-list-map-keys": "must be empty to be structural",
    "x-kubernetes-list-type": "must be undefined to be structural",
    "x-kubernetes-map-type": "must be undefined to be structural",
    RULES: "must be empty to be structural",
}


def structural_errors(schema: JSON, level: str, path: str) -> list[JSON]:
    """validateStructuralInvariants and validateStructuralCompleteness of a node (level: root, items or field)."""
    found: list[JSON] = []
    kind = schema.get("type")
    int_or_string = bool(schema.get("x-kubernetes-int-or-string"))
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(schema.get("x-kubernetes-embedded-resource"))
    if kind == "array" and not isinstance(schema.get("items"), dict):
        found.append(required(f"{path}.items", "must be specified"))
    if isinstance(schema.get("items"), dict):
        found += structural_errors(schema["items"], "items", f"{path}.items")
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict):
            found += structural_errors(prop, "field", f"{path}.properties[{name}]")
    if "additionalProperties" in schema:
        if level == "root":
            found.append(forbidden(f"{path}.additionalProperties", "must not be used at the root"))
        if isinstance(schema["additionalProperties"], dict):
            found += structural_errors(schema["additionalProperties"], "field", f"{path}.additionalProperties")
    if int_or_string and preserve:
        found.append(
            invalid(
                f"{path}.x-kubernetes-preserve-unknown-fields",
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    if int_or_string and embedded:
        found.append(
            invalid(
                f"{path}.x-kubernetes-embedded-resource", True, "must be false if x-kubernetes-int-or-string is true"
            )
        )
    found += _value_validation(schema, path, skip_int_or_string=_int_or_string_pattern(schema))
    found += _completeness(schema, schema, path, path)
    if embedded and kind != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        found.append(required(f"{path}.type", detail) if not kind else invalid(f"{path}.type", kind, detail))
    elif not kind and not int_or_string and not preserve:
        empty = {"root": "must not be empty at the root", "items": "must not be empty for specified array items"}
        found.append(required(f"{path}.type", empty.get(level, "must not be empty for specified object fields")))
    if embedded and "additionalProperties" in schema:
        found.append(
            forbidden(f"{path}.additionalProperties", "must not be used if x-kubernetes-embedded-resource is set")
        )
    if level == "root" and kind and kind != "object":
        found.append(invalid(f"{path}.type", kind, "must be object at the root"))
    properties = schema.get("properties") or {}
    if level == "root" or embedded:
        for name in ("kind", "apiVersion"):
            if name in properties and properties[name].get("type") != "string":
                found.append(
                    invalid(f"{path}.properties[{name}].type", properties[name].get("type", ""), "must be string")
                )
    if "metadata" in properties:
        metadata, where = properties["metadata"], f"{path}.properties[metadata]"
        if (level == "root" or embedded) and metadata.get("type") != "object":
            found.append(invalid(f"{where}.type", metadata.get("type", ""), "must be object"))
        if level == "root" and _restricts_metadata(metadata):
            detail = "must not specify anything other than name and generateName, but metadata is implicitly specified"
            found.append(forbidden(where, detail))
    if embedded and not preserve and not properties:
        detail = (
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"
        )
        found.append(required(f"{path}.properties", detail))
    return found


def _restricts_metadata(metadata: Mapping[str, Any]) -> bool:
    """Root metadata may only say it is an object (and restrict name and generateName, alone)."""
    rest = {key: value for key, value in metadata.items() if key not in ("type", "default")}
    properties = rest.pop("properties", None)
    if properties and not (set(properties) <= {"name", "generateName"}):
        return True
    return bool(rest)


def _int_or_string_pattern(schema: Mapping[str, Any]) -> str | None:
    """Where the int-or-string exception applies: anyOf [integer, string] itself, or as allOf's first entry."""
    pattern = [{"type": "integer"}, {"type": "string"}]
    if schema.get("anyOf") == pattern:
        return "anyOf"
    all_of = schema.get("allOf") or []
    if all_of and isinstance(all_of[0], dict) and all_of[0].get("anyOf") == pattern:
        return "allOf"
    return None


def _value_validation(schema: Mapping[str, Any], path: str, skip_int_or_string: str | None) -> list[JSON]:
    found = []
    for key in ("anyOf", "allOf", "oneOf"):
        for index, nested in enumerate(schema.get(key) or []):
            if not isinstance(nested, dict) or (key == "anyOf" and skip_int_or_string == "anyOf"):
                continue
            skip = "anyOf" if key == "allOf" and index == 0 and skip_int_or_string == "allOf" else None
            found += _nested(nested, f"{path}.{key}[{index}]", skip)
    if isinstance(schema.get("not"), dict):
        found += _nested(schema["not"], f"{path}.not", None)
    if pattern := schema.get("pattern"):
        try:
            re.compile(str(pattern))
        except re.error as error:
            found.append(invalid(f"{path}.pattern", pattern, f"must be a valid regular expression, but isn't: {error}"))
    return found


def _nested(schema: Mapping[str, Any], path: str, skip_int_or_string: str | None) -> list[JSON]:
    """validateNestedValueValidation: what may not appear inside allOf/anyOf/oneOf/not."""
    found = _value_validation(schema, path, skip_int_or_string)
    if isinstance(schema.get("items"), dict):
        found += _nested(schema["items"], f"{path}.items", None)
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict):
            found += _nested(prop, f"{path}.properties[{name}]", None)
    for key, detail in NESTED_FORBIDDEN.items():
        if schema.get(key) not in (None, False, "", []):
            found.append(forbidden(f"{path}.{key}", detail))
    if "metadata" in (schema.get("properties") or {}):
        found.append(forbidden(f"{path}.properties[metadata]", "must not be specified in a nested context"))
    return found


def _completeness(
    node: Mapping[str, Any] | None, nested_in: Mapping[str, Any], path: str, nested_path: str
) -> list[JSON]:
    """Every property or items named inside allOf/anyOf/oneOf/not is also declared outside them."""
    found = []
    for key in ("allOf", "anyOf", "oneOf"):
        for index, nested in enumerate(nested_in.get(key) or []):
            if isinstance(nested, dict):
                found += _nested_completeness(node, nested, path, f"{nested_path}.{key}[{index}]")
    if isinstance(nested_in.get("not"), dict):
        found += _nested_completeness(node, nested_in["not"], path, f"{nested_path}.not")
    return found


def _nested_completeness(
    node: Mapping[str, Any] | None, nested: Mapping[str, Any], path: str, nested_path: str
) -> list[JSON]:
    if node is None:
        return [required(path, f"because it is defined in {nested_path}")]
    found = _completeness(node, nested, path, nested_path)
    if isinstance(nested.get("items"), dict):
        items = node.get("items") if isinstance(node.get("items"), dict) else None
        found += _nested_completeness(items, nested["items"], f"{path}.items", f"{nested_path}.items")
    properties = node.get("properties") or {}
    for name, prop in (nested.get("properties") or {}).items():
        if name not in properties:
            found.append(
                required(f"{path}.properties[{name}]", f"because it is defined in {nested_path}.properties[{name}]")
            )
        elif isinstance(prop, dict):
            found += _nested_completeness(
                properties[name], prop, f"{path}.properties[{name}]", f"{nested_path}.properties[{name}]"
            )
    return found
