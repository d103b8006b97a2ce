"""A CustomResourceDefinition checked on create and update as kube-apiserver checks it, before it is served.

kube-apiserver refuses a CRD it could not serve safely (422 Invalid, ``CustomResourceDefinition.apiextensions.k8s.io
"<name>" is invalid: <field>: <error>``); so does the Kubernetes API emulator, with the same field paths and
messages. Sources: the Kubernetes documentation on CRDs ("Specifying a structural schema", "Defaulting",
"Validation rules", "Resource use by validation functions":
https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/) and the code that
enforces it, apiextensions-apiserver ``pkg/apis/apiextensions/validation/validation.go`` (and ``cel_validation.go``),
``pkg/apiserver/schema/validation.go`` (structural), ``complete.go`` and ``defaulting/validation.go``.

A schema's path is ``spec.validation.openAPIV3Schema`` when every version has the same schema (kube-apiserver
validates the internal form, where identical per-version schemas become one), else
``spec.versions[i].schema.openAPIV3Schema``. Checked, in kube-apiserver's order:

* The CRD: ``metadata.name`` is ``spec.names.plural`` + "." + ``spec.group``, the group has a dot, the scope is
  Cluster or Namespaced, version names are unique, exactly one version is the storage version, every version has a
  schema. Unknown schema keywords are refused under ``fieldValidation=Strict`` (``strict decoding error: unknown
  field "..."``, kubectl's default), dropped otherwise.
* Structural schema: every node has a ``type`` (except int-or-string and preserve-unknown-fields nodes), arrays have
  ``items``, the root is an object without ``additionalProperties``, ``kind``/``apiVersion`` are strings,
  ``metadata`` at the root restricts nothing but ``name``/``generateName``; inside ``allOf``/``anyOf``/``oneOf``/
  ``not``: no ``type``, ``default``, ``description``, ``title``, ``nullable``, ``additionalProperties``,
  ``x-kubernetes-*`` and no ``metadata``, and every property named there exists outside them; patterns compile
  (Python's ``re``, close to RE2).
* Per node: a supported ``type``; no ``$ref``, ``id``, ``definitions``, ``dependencies``, ``patternProperties``,
  ``additionalItems``, ``uniqueItems: true``, ``type: null``, ``items`` as a list, ``nullable`` root; not both
  ``properties`` and ``additionalProperties``; the list-type and map-type rules (``x-kubernetes-list-type`` on
  arrays, set items atomic, map lists with scalar, required-or-defaulted, non-nullable keys); no ``default`` in the
  root's ``metadata``, ``apiVersion``, ``kind``; only the root fields kube-apiserver allows there with the status
  subresource; each ``x-kubernetes-validations`` entry has a rule, a one-line message, a known ``reason`` and a
  valid ``fieldPath``.
* Defaults (once the schema is structural): every ``default`` (not under ``additionalProperties``) has no field its
  node does not declare (``must not have unknown fields``), validates against its node's OpenAPI schema, and passes
  its node's CEL rules and those below it, evaluated on the default as written (nested defaults are not applied
  inside it, so a rule reading an absent field fails with ``no such key``; transition rules see the default as
  oldSelf), e.g. ``spec.validation.openAPIV3Schema.properties[spec].properties[deployment].default: Invalid value:
  "object": no such key: strategy evaluating rule: <message>``.
* CEL (once the defaults are valid, at nodes without schema errors at or below them): every rule compiles against
  its node's type, its estimated cost times the number of times the node can occur stays within 10,000,000 (not
  re-checked on update for versions whose schema did not change), all of them together within 100,000,000, and
  ``oldSelf`` is used only where old values correlate (not under a list other than a list-type map, nor an atomic
  map). What compiling and the cost estimate cover is in :mod:`lowlatency.emulators.cel`.

Not checked: printer columns, subresource paths, conversion webhooks, selectable fields, deprecation warnings,
``x-kubernetes-embedded-resource`` metadata, names' DNS-1035 syntax and their conflicts with other CRDs, and the
leniency kube-apiserver keeps on update for a stored CRD that older rules let through (other than the per-rule cost
above). Go struct values in messages (a rule, a schema) are printed as kube-apiserver prints them where short, and
abbreviated otherwise.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from lowlatency.emulators.cel.cost import PER_RULE_COST_LIMIT, PER_SCHEMA_COST_LIMIT, compile_rule, saturated
from lowlatency.emulators.cel.rules import Validator
from lowlatency.emulators.cel.schema_types import RULES, decl_type, max_cardinality
from lowlatency.emulators.custom_resources import field_error, prune, schema_validator
from lowlatency.emulators.field_errors import field_cause, forbidden, go_quote, invalid, not_supported, required
from lowlatency.emulators.structural_schema import structural_errors

JSON = dict[str, Any]
SCHEMA_KEYWORDS = frozenset(
    {"id", "$schema", "$ref", "description", "type", "format", "title", "default", "maximum", "exclusiveMaximum"}
    | {"minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems"}
    | {"multipleOf", "enum", "maxProperties", "minProperties", "required", "items", "allOf", "oneOf", "anyOf", "not"}
    | {"properties", "additionalProperties", "patternProperties", "dependencies", "additionalItems", "definitions"}
    | {"externalDocs", "example", "nullable", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource"}
    | {"x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-list-type", "x-kubernetes-map-type"}
    | {RULES}
)
RULE_KEYWORDS = frozenset({"rule", "message", "messageExpression", "reason", "fieldPath", "optionalOldSelf"})
OPENAPI_TYPES = ("array", "boolean", "integer", "number", "object", "string")
ALLOWED_AT_ROOT_WITH_STATUS = frozenset(
    {"description", "type", "format", "title", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum"}
    | {"maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "multipleOf", "required", "items"}
    | {"properties", "externalDocs", "example", "x-kubernetes-preserve-unknown-fields", RULES}
)
ALLOWED_AT_ROOT_NAMES = (
    "[Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength Pattern "
    "MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example XPreserveUnknownFields "
    "XValidations]"
)
WITH_STATUS = " if the status subresource is enabled"
MAP_KEY_PROPERTY = "this property is in x-kubernetes-list-map-keys"
REASONS = ("FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired")


def go_rule(rule: Mapping[str, Any]) -> str:
    """An x-kubernetes-validations entry as kube-apiserver prints it in an error (Go's %#v of the internal type)."""
    reason = "(0xc000000000)" if "reason" in rule else "(nil)"
    optional = "(0xc000000000)" if "optionalOldSelf" in rule else "(nil)"
    fields = ", ".join(
        f"{name}:{go_quote(str(rule.get(key, '')))}"
        for name, key in (("Rule", "rule"), ("Message", "message"), ("MessageExpression", "messageExpression"))
    )
    return (
        f"apiextensions.ValidationRule{{{fields}, Reason:(*apiextensions.FieldValueErrorReason){reason}, "
        f"FieldPath:{go_quote(str(rule.get('fieldPath', '')))}, OptionalOldSelf:(*bool){optional}}}"
    )


def cost_message(what: str, cost: int, limit: int) -> str:
    """getCostErrorMessage."""
    factor = cost / limit
    shown = "more than 100x" if factor > 100 else f"{factor:f}x" if factor < 1.5 else f"{factor:.1f}x"
    return (
        f"{what} exceeds budget by factor of {shown} (try simplifying the rule, or adding maxItems, maxProperties, "
        "and maxLength where arrays, maps, and strings are declared)"
    )


# --- unknown keywords: strict decoding ------------------------------------------------------------------------


def unknown_schema_fields(crd: JSON) -> list[str]:
    """The schema keywords a CustomResourceDefinition v1 does not have, as strict decoding names them."""
    found: list[str] = []
    for index, version in enumerate((crd.get("spec") or {}).get("versions") or []):
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if isinstance(schema, dict):
            _unknown_keywords(schema, f"spec.versions[{index}].schema.openAPIV3Schema", found)
    return found


def drop_unknown_schema_fields(crd: JSON) -> JSON:
    """The CRD as kube-apiserver decodes it without strict field validation: unknown schema keywords dropped."""
    pruned = copy.deepcopy(crd)
    for version in (pruned.get("spec") or {}).get("versions") or []:
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if isinstance(schema, dict):
            _unknown_keywords(schema, "", [], drop=True)
    return pruned


def _unknown_keywords(schema: JSON, path: str, found: list[str], drop: bool = False) -> None:
    for key in list(schema):
        if key not in SCHEMA_KEYWORDS:
            found.append(f"{path}.{key}")
            if drop:
                del schema[key]
    for key in ("properties", "definitions", "patternProperties", "dependencies"):
        for name, child in (schema.get(key) or {}).items():
            if isinstance(child, dict):
                _unknown_keywords(child, f"{path}.{key}.{name}", found, drop)
    for key in ("items", "additionalProperties", "not", "additionalItems"):
        if isinstance(schema.get(key), dict):
            _unknown_keywords(schema[key], f"{path}.{key}", found, drop)
    for key in ("allOf", "anyOf", "oneOf"):
        for index, child in enumerate(schema.get(key) or []):
            if isinstance(child, dict):
                _unknown_keywords(child, f"{path}.{key}[{index}]", found, drop)
    for index, rule in enumerate(schema.get(RULES) or []):
        for key in [key for key in rule if key not in RULE_KEYWORDS] if isinstance(rule, dict) else []:
            found.append(f"{path}.{RULES}[{index}].{key}")
            if drop:
                del rule[key]


# --- the CRD ----------------------------------------------------------------------------------------------------


def crd_causes(crd: JSON, old: JSON | None = None) -> list[JSON]:
    """Every reason kube-apiserver has to refuse the CRD (on update, ``old`` is the stored one)."""
    spec = crd.get("spec") or {}
    names, group = spec.get("names") or {}, str(spec.get("group") or "")
    found: list[JSON] = []
    name = (crd.get("metadata") or {}).get("name")
    if name != f"{names.get('plural')}.{group}":
        found.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if not group:
        found.append(required("spec.group"))
    elif "." not in group:
        found.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    if spec.get("scope") not in ("Cluster", "Namespaced"):
        found.append(not_supported("spec.scope", spec.get("scope"), ["Cluster", "Namespaced"]))
    versions = spec.get("versions") or []
    version_names = [version.get("name") for version in versions]
    if len(set(version_names)) != len(version_names):
        found.append(invalid("spec.versions", "", "must contain unique version names"))
    if sum(bool(version.get("storage")) for version in versions) != 1:
        found.append(invalid("spec.versions", "", "must have exactly one version marked as storage version"))
    schemas = [(version.get("schema") or {}).get("openAPIV3Schema") for version in versions]
    old_versions = ((old or {}).get("spec") or {}).get("versions") or []
    old_schemas = {
        version.get("name"): (version.get("schema") or {}).get("openAPIV3Schema") for version in old_versions
    }

    def unchanged(index: int) -> bool:
        return old is not None and old_schemas.get(version_names[index]) == schemas[index]

    first = schemas[0] if schemas else None
    if isinstance(first, dict) and all(schema == first for schema in schemas):
        status = any("status" in (version.get("subresources") or {}) for version in versions)
        found += SchemaCheck(status, suppress_rule_cost=unchanged(0)).causes(first, "spec.validation.openAPIV3Schema")
    else:
        for index, (version, schema) in enumerate(zip(versions, schemas, strict=True)):
            path = f"spec.versions[{index}].schema.openAPIV3Schema"
            if not isinstance(schema, dict):
                found.append(required(path, "schemas are required"))
                continue
            status = "status" in (version.get("subresources") or {})
            found += SchemaCheck(status, suppress_rule_cost=unchanged(index)).causes(schema, path)
    return found


# --- one schema -------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Walk:
    """Where the OpenAPI walk is: inside the root's metadata/apiVersion/kind, the nearest ancestor beyond which
    old values do not correlate, and how often the node can occur (None: under an unbounded list or map)."""

    meta: str | None = None  # the root's metadata, apiVersion or kind, where defaults are forbidden
    uncorrelated_within: str | None = None
    cardinality: int | None = 1


class SchemaCheck:
    """validateCustomResourceDefinitionValidation for one openAPIV3Schema."""

    def __init__(self, status_subresource: bool, suppress_rule_cost: bool) -> None:
        self.status_subresource, self.suppress_rule_cost = status_subresource, suppress_rule_cost
        self.rule_costs: list[tuple[str, int]] = []  # every rule's and messageExpression's cost, for the total

    def causes(self, schema: JSON, path: str) -> list[JSON]:
        found = self.root_causes(schema, path)
        structural = sorted(structural_errors(schema, "root", path), key=_text)
        rules_checked = False
        if structural:
            found += structural
        else:
            defaults = _defaults(schema, path, resource_root=True)
            found += defaults
            rules_checked = not defaults
        schema_errors, rule_errors = self.node(schema, path, _Walk(), rules_checked)
        found += schema_errors + rule_errors
        total = sum(cost for _, cost in self.rule_costs)
        if rules_checked and total > PER_SCHEMA_COST_LIMIT:
            expensive = sorted(
                (item for item in self.rule_costs if item[1] >= PER_SCHEMA_COST_LIMIT // 100), key=lambda c: -c[1]
            )
            found += [
                forbidden(
                    where, "contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema"
                )
                for where, _ in expensive[:4]
            ]
            what = "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema"
            found.append(forbidden(path, cost_message(what, total, PER_SCHEMA_COST_LIMIT)))
        return found

    def root_causes(self, schema: JSON, path: str) -> list[JSON]:
        found = []
        if self.status_subresource:
            if schema.get("type", "object") != "object":
                detail = 'only "object" is allowed as the type at the root of the schema' + WITH_STATUS
                found.append(invalid(f"{path}.type", schema.get("type"), detail))
            elif any(key not in ALLOWED_AT_ROOT_WITH_STATUS for key in schema):
                detail = f"only {ALLOWED_AT_ROOT_NAMES} fields are allowed at the root of the schema{WITH_STATUS}"
                found.append(
                    field_cause(
                        "FieldValueInvalid", path, f"Invalid value: apiextensions.JSONSchemaProps{{...}}: {detail}"
                    )
                )
        if schema.get("nullable"):
            found.append(forbidden(f"{path}.nullable", "nullable cannot be true at the root"))
        return found

    def node(self, schema: JSON, path: str, walk: _Walk, rules_checked: bool) -> tuple[list[JSON], list[JSON]]:
        """ValidateCustomResourceDefinitionOpenAPISchema: (schema errors, CEL errors) of the node and below."""
        schema_errors, rule_errors = self.own_schema_errors(schema, path, walk), []
        additional = schema.get("additionalProperties")
        if additional is not None and schema.get("properties") and (additional is not True):
            schema_errors.append(
                forbidden(f"{path}.additionalProperties", "additionalProperties and properties are mutual exclusive")
            )
        children: list[tuple[JSON, str, _Walk]] = []
        if isinstance(additional, dict):
            children.append((additional, f"{path}.additionalProperties", self.child(walk, schema, meta=walk.meta)))
        atomic = schema.get("x-kubernetes-map-type") == "atomic"
        for name, prop in (schema.get("properties") or {}).items():
            if isinstance(prop, dict):
                top_level_meta = path.endswith("openAPIV3Schema") and name in ("metadata", "apiVersion", "kind")
                child = self.child(walk, schema, meta=name if top_level_meta else walk.meta)
                if atomic and child.uncorrelated_within is None:
                    child.uncorrelated_within = path
                children.append((prop, f"{path}.properties[{name}]", child))
        if isinstance(schema.get("items"), dict):
            child = self.child(walk, schema, meta=walk.meta)
            if schema.get("x-kubernetes-list-type") != "map" and child.uncorrelated_within is None:
                child.uncorrelated_within = path
            children.append((schema["items"], f"{path}.items", child))
        for child_schema, child_path, child_walk in children:
            below_schema, below_rules = self.node(child_schema, child_path, child_walk, rules_checked)
            schema_errors += below_schema
            rule_errors += below_rules
        for key in ("not",):
            if isinstance(schema.get(key), dict):
                schema_errors += self.node(
                    schema[key], f"{path}.{key}", dataclasses.replace(walk, cardinality=None), False
                )[0]
        for key in ("allOf", "oneOf", "anyOf"):
            for index, nested in enumerate(schema.get(key) or []):
                if isinstance(nested, dict):
                    nested_walk = dataclasses.replace(walk, cardinality=None)
                    schema_errors += self.node(nested, f"{path}.{key}[{index}]", nested_walk, False)[0]
        schema_errors += _list_and_map_errors(schema, path)
        schema_errors += _rule_entry_errors(schema, path)
        if schema.get(RULES) and not schema_errors and rules_checked:
            rule_errors += self.rule_errors(schema, path, walk)
        return schema_errors, rule_errors

    @staticmethod
    def child(walk: _Walk, parent: JSON, meta: str | None) -> _Walk:
        """childContext: a child occurs maxItems/maxProperties times per parent (once for an object's field)."""
        if parent.get("type") == "array":
            factor = parent.get("maxItems")
        elif parent.get("type") == "object" and "additionalProperties" in parent:
            factor = parent.get("maxProperties")
        else:
            factor = 1
        cardinality = None if walk.cardinality is None or factor is None else walk.cardinality * max(factor, 0)
        return _Walk(meta, walk.uncorrelated_within, cardinality)

    def own_schema_errors(self, schema: JSON, path: str, walk: _Walk) -> list[JSON]:
        """specStandardValidatorV3 and the keyword checks of one node."""
        found = []
        kind = schema.get("type")
        if kind is not None and kind != "" and kind not in OPENAPI_TYPES and kind != "null":
            found.append(not_supported(f"{path}.type", kind, list(OPENAPI_TYPES)))
        if "default" in schema and walk.meta is not None:
            found.append(forbidden(f"{path}.default", f"must not be set in top-level {walk.meta}"))
        for key, detail in (
            ("id", "id is not supported"),
            ("additionalItems", "additionalItems is not supported"),
            ("patternProperties", "patternProperties is not supported"),
            ("definitions", "definitions is not supported"),
            ("dependencies", "dependencies is not supported"),
            ("$ref", "$ref is not supported"),
        ):
            if schema.get(key):
                found.append(forbidden(f"{path}.{key}", detail))
        if kind == "null":
            found.append(forbidden(f"{path}.type", "type cannot be set to null, use nullable as an alternative"))
        if isinstance(schema.get("items"), list):
            found.append(forbidden(f"{path}.items", "items must be a schema object and not an array"))
        if schema.get("uniqueItems"):
            found.append(
                forbidden(
                    f"{path}.uniqueItems",
                    "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
                )
            )
        return found

    def rule_errors(self, schema: JSON, path: str, walk: _Walk) -> list[JSON]:
        """Compile each rule against the node's type and price it."""
        resource_root = path.endswith("openAPIV3Schema") or bool(schema.get("x-kubernetes-embedded-resource"))
        node_type = decl_type(schema, resource_root)
        rules_path = f"{path}.{RULES}"
        if node_type is None:
            detail = "internal error: failed to retrieve type information for x-kubernetes-validations"
            return [field_cause("InternalError", rules_path, f"Internal error: {detail}")]
        cardinality = walk.cardinality if walk.cardinality is not None else max_cardinality(node_type)
        found = []
        for index, rule in enumerate(schema.get(RULES) or []):
            compiled = compile_rule(rule, node_type)
            where = f"{rules_path}[{index}]"
            cost = saturated(compiled.cost * cardinality)
            if not self.suppress_rule_cost and cost > PER_RULE_COST_LIMIT:
                found.append(forbidden(f"{where}.rule", cost_message("estimated rule cost", cost, PER_RULE_COST_LIMIT)))
            self.rule_costs.append((f"{where}.rule", cost))
            if compiled.error is not None:
                found.append(
                    field_cause(
                        "FieldValueInvalid", f"{where}.rule", f"Invalid value: {go_rule(rule)}: {compiled.error}"
                    )
                )
            if compiled.message_error is not None:
                message = f"Invalid value: {go_rule(rule)}: {compiled.message_error}"
                found.append(field_cause("FieldValueInvalid", f"{where}.messageExpression", message))
            elif rule.get("messageExpression"):
                if not self.suppress_rule_cost and compiled.message_cost > PER_RULE_COST_LIMIT:
                    what = "estimated messageExpression cost"
                    found.append(
                        forbidden(
                            f"{where}.messageExpression",
                            cost_message(what, compiled.message_cost, PER_RULE_COST_LIMIT),
                        )
                    )
                self.rule_costs.append((f"{where}.messageExpression", compiled.message_cost))
            if compiled.uses_old_self and walk.uncorrelated_within is not None:
                detail = "oldSelf cannot be used on the uncorrelatable portion of the schema within "
                detail += walk.uncorrelated_within
                found.append(invalid(f"{where}.rule", rule.get("rule"), detail))
            elif not compiled.uses_old_self and "optionalOldSelf" in rule:
                found.append(
                    invalid(
                        f"{where}.optionalOldSelf",
                        rule["optionalOldSelf"],
                        "may not be set if oldSelf is not used in rule",
                    )
                )
        return found


def _text(cause: JSON) -> str:
    return f"{cause['field']}: {cause['message']}"


def _list_and_map_errors(schema: JSON, path: str) -> list[JSON]:
    """x-kubernetes-preserve-unknown-fields, -map-type, -list-type and -list-map-keys."""
    found = []
    kind, list_type, keys = (
        schema.get("type"),
        schema.get("x-kubernetes-list-type"),
        schema.get("x-kubernetes-list-map-keys") or [],
    )
    items = schema.get("items") if isinstance(schema.get("items"), dict) else None
    if schema.get("x-kubernetes-preserve-unknown-fields") is False:
        found.append(invalid(f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"))
    if "x-kubernetes-map-type" in schema:
        if kind != "object":
            detail = "must be object if x-kubernetes-map-type is specified"
            found.append(required(f"{path}.type", detail) if not kind else invalid(f"{path}.type", kind, detail))
        if schema["x-kubernetes-map-type"] not in ("atomic", "granular"):
            found.append(
                not_supported(f"{path}.x-kubernetes-map-type", schema["x-kubernetes-map-type"], ["atomic", "granular"])
            )
    if list_type is not None and kind != "array":
        detail = "must be array if x-kubernetes-list-type is specified"
        found.append(required(f"{path}.type", detail) if not kind else invalid(f"{path}.type", kind, detail))
    elif list_type == "set" and items is not None:
        if items.get("type") == "array" and items.get("x-kubernetes-list-type", "atomic") != "atomic":
            detail = "must be atomic as item of a list with x-kubernetes-list-type=set"
            found.append(invalid(f"{path}.items.x-kubernetes-list-type", items["x-kubernetes-list-type"], detail))
        if items.get("type") == "object" and items.get("x-kubernetes-map-type") != "atomic":
            detail = "must be atomic as item of a list with x-kubernetes-list-type=set"
            found.append(invalid(f"{path}.items.x-kubernetes-map-type", items.get("x-kubernetes-map-type"), detail))
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        found.append(not_supported(f"{path}.x-kubernetes-list-type", list_type, ["atomic", "set", "map"]))
    if keys and list_type != "map":
        detail = "must be map if x-kubernetes-list-map-keys is non-empty"
        found.append(
            required(f"{path}.x-kubernetes-list-type", detail)
            if list_type is None
            else invalid(f"{path}.x-kubernetes-list-type", list_type, detail)
        )
    if list_type == "map":
        if not keys:
            found.append(
                required(f"{path}.x-kubernetes-list-map-keys", "must not be empty if x-kubernetes-list-type is map")
            )
        if items is None:
            found.append(required(f"{path}.items", "must have a schema if x-kubernetes-list-type is map"))
        elif items.get("type") != "object":
            found.append(
                invalid(
                    f"{path}.items.type",
                    items.get("type"),
                    "must be object if parent array's x-kubernetes-list-type is map",
                )
            )
        else:
            item_properties, item_required = items.get("properties") or {}, set(items.get("required") or [])
            for key in keys:
                if key not in item_properties:
                    found.append(
                        invalid(
                            f"{path}.x-kubernetes-list-map-keys", keys, "entries must all be names of item properties"
                        )
                    )
                    continue
                key_schema = item_properties[key]
                if key_schema.get("type") in ("array", "object"):
                    detail = "must be a scalar type if parent array's x-kubernetes-list-type is map"
                    found.append(invalid(f"{path}.items.properties[{key}].type", "object", detail))
                if key not in item_required and "default" not in key_schema:
                    detail = f"{MAP_KEY_PROPERTY}, so it must have a default or be a required property"
                    found.append(required(f"{path}.items.properties[{key}].default", detail))
                if key_schema.get("nullable"):
                    detail = f"{MAP_KEY_PROPERTY}, so it cannot be nullable"
                    found.append(forbidden(f"{path}.items.properties[{key}].nullable", detail))
            if len(set(keys)) != len(keys):
                found.append(invalid(f"{path}.x-kubernetes-list-map-keys", keys, "must not contain duplicate entries"))
    if list_type in ("set", "map") and items is not None and items.get("nullable"):
        found.append(
            forbidden(f"{path}.items.nullable", f"cannot be nullable when x-kubernetes-list-type is {list_type}")
        )
    return found


def _rule_entry_errors(schema: JSON, path: str) -> list[JSON]:
    """What each x-kubernetes-validations entry must be, before its rule is compiled."""
    found = []
    for index, rule in enumerate(schema.get(RULES) or []):
        where = f"{path}.{RULES}[{index}]"
        text, message = str(rule.get("rule", "")), str(rule.get("message", ""))
        if not text.strip():
            found.append(required(f"{where}.rule", "rule is not specified"))
        elif message and not message.strip():
            found.append(invalid(f"{where}.message", message, "message must be non-empty if specified"))
        elif re.search(r"[\n\r]", message.strip()):
            found.append(invalid(f"{where}.message", message, "message must not contain line breaks"))
        elif re.search(r"[\n\r]", text.strip()) and not message.strip():
            found.append(required(f"{where}.message", "message must be specified if rule contains line breaks"))
        expression = str(rule.get("messageExpression", ""))
        if expression and not expression.strip():
            found.append(required(f"{where}.messageExpression", "messageExpression must be non-empty if specified"))
        if "reason" in rule and rule["reason"] not in REASONS:
            found.append(not_supported(f"{where}.reason", rule["reason"], list(REASONS)))
        field_path = str(rule.get("fieldPath", ""))
        if field_path and not field_path.strip():
            found.append(invalid(f"{where}.fieldPath", field_path, "fieldPath must be non-empty if specified"))
        if re.search(r"[\n\r]", field_path):
            found.append(invalid(f"{where}.fieldPath", field_path, "fieldPath must not contain line breaks"))
        if field_path.strip() and not _valid_field_path(field_path, schema):
            found.append(invalid(f"{where}.fieldPath", field_path, "fieldPath must be a valid path"))
    return found


def _valid_field_path(field_path: str, schema: Mapping[str, Any]) -> bool:
    """ValidFieldPath: ``.name`` and ``['key']`` steps through declared properties or a map's values."""
    steps = re.findall(r"\.([^.\[\]]+)|\['((?:[^'\\]|\\.)*)'\]|(.)", field_path.strip())
    node: Mapping[str, Any] = schema
    for name, key, stray in steps:
        if stray:
            return False
        step = name or key
        properties, additional = node.get("properties"), node.get("additionalProperties")
        if properties is not None:
            if step not in properties:
                return False
            node = properties[step]
        elif isinstance(additional, dict):
            node = additional
        else:
            return False
    return True


# --- defaults (pkg/apiserver/schema/defaulting/validation.go) -------------------------------------------------


def _defaults(schema: JSON, path: str, resource_root: bool = False) -> list[JSON]:
    """Every default, as written: pruned, valid against its node, passing its node's rules and those below."""
    found: list[JSON] = []
    if "default" in schema:
        default, where = schema["default"], f"{path}.default"
        unknown: list[str] = []
        if prune(copy.deepcopy(default), schema, "default", unknown) != default or unknown:
            found.append(invalid(where, default, "must not have unknown fields"))
        schema_errors = [field_error(error, where) for error in schema_validator(schema).iter_errors(default)]
        if schema_errors:
            found += sorted(schema_errors, key=lambda cause: cause["field"])
        elif (rules := Validator.of(schema, resource_root)) is not None:
            found += rules.errors(default, default, where)
    if isinstance(schema.get("items"), dict):
        found += _defaults(schema["items"], f"{path}.items")
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict) and not (resource_root and name in ("metadata", "apiVersion", "kind")):
            found += _defaults(prop, f"{path}.properties[{name}]")
    return found  # not under additionalProperties: defaults are forbidden there
