"""What kube-apiserver does with a custom resource on every write, against one served version of its CRD.

In kube-apiserver's order (apiextensions-apiserver ``pkg/registry/customresource/strategy.go`` and the decoder):

1. Pruning: fields the structural schema does not declare are dropped, or refused with ``fieldValidation=Strict``
   (kubectl's default) as ``strict decoding error: unknown field "spec.x"``.
2. Defaulting: absent fields (and ``null`` ones that are not ``nullable``) get their schema ``default``,
   recursively, before anything is validated.
3. OpenAPI validation (``type``, ``enum``, ``pattern``, ``minimum``, ``maxLength``, ``maxItems``, ``required``,
   int-or-string, ...), worded as kube-apiserver words it (``Invalid value: 0: spec.x in body should be greater than
   or equal to 1``, ``Required value``, ``Unsupported value: ...``, ``Too long: ...``, ``Too many: ...``).
4. ``x-kubernetes-list-type`` ``set`` and ``map`` lists: a second equal item (set) or key (map) is ``Duplicate
   value``.
5. The CEL rules (``x-kubernetes-validations``, see :mod:`lowlatency.emulators.cel`), unless step 3 found a
   missing, mistyped, unsupported, too long or too large value: then kube-apiserver runs no rule and adds
   ``<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; correct
   the existing errors to complete validation``.

Not checked: ``format`` (date-time, ...), ``x-kubernetes-embedded-resource`` metadata, validation ratcheting of
the OpenAPI checks (only CEL rules ratchet, see the cel module).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import jsonschema  # type: ignore[import-untyped]

from lowlatency.emulators.cel.rules import Validator
from lowlatency.emulators.field_errors import field_cause, go_value, invalid

JSON = dict[str, Any]
# StatusCause reasons after which kube-apiserver runs no CEL rule (hasBlockingErr in strategy.go)
BLOCKING_REASONS = frozenset(
    {"FieldValueNotSupported", "FieldValueRequired", "FieldValueTooLong", "FieldValueTooMany", "FieldValueTypeInvalid"}
)
RULES_NOT_CHECKED = invalid(
    "<nil>",
    None,
    "some validation rules were not checked because the object was invalid; correct the existing errors to complete "
    "validation",
)


def _json_schema(schema: Any) -> Any:
    """OpenAPI v3.0 as the JSON Schema draft 4 it extends: ``nullable`` and int-or-string made explicit."""
    if isinstance(schema, list):
        return [_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _json_schema(value) for key, value in schema.items() if not key.startswith("x-kubernetes-")}
    if schema.get("x-kubernetes-int-or-string"):
        result.pop("type", None)
        result.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if schema.get("nullable") and "type" in result:
        result["type"] = [result["type"], "null"]
    return result


def schema_validator(schema: Mapping[str, Any]) -> jsonschema.Draft4Validator:
    """The OpenAPI value validations of a schema node, as JSON Schema draft 4."""
    return jsonschema.Draft4Validator(_json_schema(schema))


def prune(value: Any, schema: Mapping[str, Any], path: str, unknown: list[str]) -> Any:
    """Drop the fields the structural schema does not declare, noting where they were."""
    if isinstance(value, dict) and schema.get("type", "object") == "object":
        properties, additional = schema.get("properties") or {}, schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields") or additional is True
        result = {}
        for key, item in value.items():
            subschema = properties.get(key, additional if isinstance(additional, dict) else None)
            if path == "" and key in ("apiVersion", "kind", "metadata"):  # ObjectMeta is not the schema's to prune
                result[key] = item
            elif subschema is not None:
                result[key] = prune(item, subschema, f"{path}.{key}", unknown)
            elif preserve:
                result[key] = item
            else:
                unknown.append(f"{path}.{key}".lstrip("."))
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune(item, schema["items"], f"{path}[{index}]", unknown) for index, item in enumerate(value)]
    return value


def apply_defaults(value: Any, schema: Mapping[str, Any]) -> Any:
    """Fill absent fields from the schema's defaults, recursively (a null non-nullable field counts as absent)."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, subschema in properties.items():
            if "default" in subschema and value.get(key) is None and not subschema.get("nullable"):
                value[key] = copy.deepcopy(subschema["default"])
            if key in value:
                value[key] = apply_defaults(value[key], subschema)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for key in [key for key in value if key not in properties]:
                value[key] = apply_defaults(value[key], additional)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(item, schema["items"]) for item in value]
    return value


def _type_name(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", dict: "object", list: "array"}
    return names.get(type(value), "null")


def field_error(error: jsonschema.ValidationError, prefix: str = "") -> JSON:
    """One schema violation as a StatusCause, worded as kube-apiserver words it. ``prefix``: the path of the value
    validated (a CRD's ``default``), before the path inside it."""
    inner = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path).lstrip(".")
    field = f"{prefix}.{inner}" if prefix and inner else prefix or inner
    value, limit, shown = error.instance, error.validator_value, json.dumps(error.instance)
    if error.validator == "required":
        missing = error.message.split(chr(39))[1]
        return {"reason": "FieldValueRequired", "field": f"{field}.{missing}".lstrip("."), "message": "Required value"}
    if error.validator == "enum":
        supported = ", ".join(json.dumps(item) for item in limit)
        message = f"Unsupported value: {shown}: supported values: {supported}"
        return {"reason": "FieldValueNotSupported", "field": field, "message": message}
    if error.validator == "maxLength":
        return {
            "reason": "FieldValueTooLong",
            "field": field,
            "message": f"Too long: may not be more than {limit} bytes",
        }
    if error.validator in ("maxItems", "maxProperties"):
        message = f"Too many: {len(value)}: must have at most {limit} items"
        return {"reason": "FieldValueTooMany", "field": field, "message": message}
    explanation = {
        "minimum": f"should be greater than or equal to {limit}",
        "maximum": f"should be less than or equal to {limit}",
        "pattern": f"should match '{limit}'",
        "minLength": f"should be at least {limit} chars long",
        "minItems": f"should have at least {limit} items",
        "type": f"must be of type {limit}: {json.dumps(_type_name(value))}",
    }.get(str(error.validator), error.message)
    shown = json.dumps(_type_name(value)) if error.validator == "type" else shown
    message = f"Invalid value: {shown}: {inner or '<root>'} in body {explanation}"
    reason = "FieldValueTypeInvalid" if error.validator == "type" else "FieldValueInvalid"
    return {"reason": reason, "field": field, "message": message}


def duplicates(schema: Mapping[str, Any], value: Any, path: str) -> list[JSON]:
    """``x-kubernetes-list-type`` set and map: the items (or map keys) seen before, as Duplicate value causes."""
    found: list[JSON] = []
    if isinstance(value, dict):
        properties, additional = schema.get("properties") or {}, schema.get("additionalProperties")
        for key, item in value.items():
            child = properties.get(key, additional)
            if isinstance(child, dict):
                found += duplicates(child, item, f"{path}.{key}".lstrip(".") if key in properties else f"{path}[{key}]")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        list_type, keys = schema.get("x-kubernetes-list-type"), schema.get("x-kubernetes-list-map-keys") or []
        seen: list[Any] = []
        for index, item in enumerate(value):
            is_map_item = list_type == "map" and isinstance(item, dict)
            identity = {key: item[key] for key in keys if key in item} if is_map_item else item
            if list_type in ("set", "map") and identity in seen and seen.count(identity) == 1:
                where = f"{path}[{index}]"
                found.append(field_cause("FieldValueDuplicate", where, f"Duplicate value: {go_value(identity)}"))
            seen.append(identity)
            found += duplicates(schema["items"], item, f"{path}[{index}]")
    return found


@dataclasses.dataclass
class CustomResource:
    """One served version of a CRD: what the server needs to store, validate and print its objects."""

    list_kind: str
    schema: JSON | None
    printer_columns: list[JSON]

    def __post_init__(self) -> None:
        self.validator = schema_validator(self.schema) if self.schema else None
        self.rules = Validator.of(self.schema, resource_root=True) if self.schema else None

    def decode(self, obj: JSON) -> tuple[JSON, list[str]]:
        """The object pruned and defaulted as the API server decodes it, and the unknown fields it had."""
        unknown: list[str] = []
        if self.schema is None:
            return obj, unknown
        return apply_defaults(prune(obj, self.schema, "", unknown), self.schema), unknown

    def schema_causes(self, obj: JSON) -> list[JSON]:
        """The OpenAPI validation and list types of a decoded object."""
        if self.schema is None or self.validator is None:
            return []
        found = sorted((field_error(error) for error in self.validator.iter_errors(obj)), key=lambda c: c["field"])
        return found + duplicates(self.schema, obj, "")

    def rule_causes(self, obj: JSON, old: JSON | None = None) -> list[JSON]:
        """The CEL rules on a decoded object; ``old``: the stored object on update (transition rules, ratcheting)."""
        if self.rules is None:
            return []
        return self.rules.errors(obj, old, "", ratcheting=old is not None)

    def causes(self, obj: JSON, old: JSON | None = None) -> list[JSON]:
        """Everything kube-apiserver refuses in a decoded object, in its order."""
        found = self.schema_causes(obj)
        if any(cause["reason"] in BLOCKING_REASONS for cause in found):
            return [*found, RULES_NOT_CHECKED]
        return found + self.rule_causes(obj, old)
