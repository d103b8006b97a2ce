"""Running a CRD's rules on a value as kube-apiserver runs them (apiextensions-apiserver
``pkg/apiserver/schema/cel/validation.go`` and ``values.go``), with cel-python; see the package docstring.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

import celpy
from celpy import celtypes
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

from lowlatency.emulators.cel.schema_types import RULES, escape, with_type_and_object_meta
from lowlatency.emulators.cel.syntax import CompileError, mentions, parse
from lowlatency.emulators.field_errors import field_cause, go_value, invalid

JSON = dict[str, Any]


def normalized_field_path(field_path: str) -> str:
    """A rule's fieldPath as kube-apiserver appends it to the node's path (``.a.b`` -> ``a.b``, ``['k']`` ->
    ``[k]``)."""
    parts = re.findall(r"\.([^.\[]+)|\['((?:[^'\\]|\\.)*)'\]", field_path.strip())
    return "".join(f".{name}" if name else f"[{key}]" for name, key in parts).lstrip(".")


_ENVIRONMENT = celpy.Environment()


@functools.cache
def _program(expression: str) -> celpy.Runner:
    return _ENVIRONMENT.program(_ENVIRONMENT.compile(expression))


def to_cel(value: Any, schema: Mapping[str, Any]) -> Any:
    """A JSON value as kube-apiserver hands it to a rule (UnstructuredToVal): declared fields only, by their escaped
    names, null fields absent, formatted strings as timestamps, durations or bytes, numbers as doubles."""
    if value is None:
        return celtypes.NullType()
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, dict):
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            items = {
                celtypes.StringType(key): to_cel(item, additional) for key, item in value.items() if item is not None
            }
            return celtypes.MapType(items)
        properties = schema.get("properties") or {}
        fields = {
            celtypes.StringType(escaped): to_cel(item, properties[key])
            for key, item in value.items()
            if item is not None and key in properties and (escaped := escape(key)) is not None
        }
        return celtypes.MapType(fields)
    if isinstance(value, list):
        items_schema = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return celtypes.ListType([to_cel(item, items_schema or {}) for item in value])
    if isinstance(value, str):
        return _formatted(value, schema.get("format"))
    if schema.get("type") == "number" or isinstance(value, float):
        return celtypes.DoubleType(value)
    return celtypes.IntType(value)


def _formatted(value: str, fmt: Any) -> Any:
    try:
        if fmt in ("date-time", "date"):
            return celtypes.TimestampType(value if fmt == "date-time" else f"{value}T00:00:00Z")
        if fmt == "duration":
            return celtypes.DurationType(value)
        if fmt == "byte":
            return celtypes.BytesType(base64.b64decode(value, validate=True))
    except (ValueError, binascii.Error):
        pass  # the schema's format check reports it; the rule sees the string
    return celtypes.StringType(value)


def evaluation_error(error: CELEvalError) -> str:
    """cel-python's evaluation error as cel-go words it."""
    message = str(error.args[0]) if error.args else str(error)
    cause = error.args[1] if len(error.args) > 1 else None
    details = error.args[2] if len(error.args) > 2 and isinstance(error.args[2], tuple) else ()
    # cel-python refuses `error || error` (and &&) as an overload error; cel-go's answer is the left operand's error
    logical = re.match(r"found no matching overload for _(\|\||&&)_", message)
    left = re.search(r"""CELEvalError\(\*\((["'])(.*?)\1, <class '(\w+)'>""", " ".join(map(str, details)))
    if logical and left:
        return evaluation_error(CELEvalError(left[2], {"KeyError": KeyError}.get(left[3], TypeError)))
    if match := re.fullmatch(r"no such member in mapping: '(.*)'", message):
        return f"no such key: {match[1]}"
    if message == "no such key" and details:
        return f"no such key: {details[0]}"
    if cause is IndexError:
        return "index out of bounds"
    if cause is ZeroDivisionError:
        return "modulus by zero" if "modulo" in str(details) else "division by zero"
    if "overflow" in message:
        return "integer overflow"
    if cause is TypeError or message.startswith("found no matching overload"):
        return "no such overload"
    return message


def _message(rule: Mapping[str, Any]) -> str:
    """ruleErrorString: the rule's message, or the rule itself."""
    return str(rule.get("message") or "").strip() or str(rule.get("rule", "")).strip()


@dataclasses.dataclass(frozen=True)
class Rule:
    """A rule ready to run at its node."""

    rule: Mapping[str, Any]
    compile_error: str | None
    uses_old_self: bool
    field_path: str

    @classmethod
    def of(cls, rule: Mapping[str, Any]) -> Rule:
        source = str(rule.get("rule", ""))
        try:
            expr = parse(source)
        except CompileError as error:
            return cls(rule, f"compilation failed: {error.report()}", False, "")
        return cls(rule, None, mentions(expr, "oldSelf"), normalized_field_path(str(rule.get("fieldPath", ""))))

    def failure(self, path: str, node_type: str, self_value: Any, old_value: Any) -> JSON | None:
        """The cause kube-apiserver reports when the rule does not hold, or None."""
        activation = {"self": self_value} | ({"oldSelf": old_value} if old_value is not None else {})
        result: Any
        try:
            result = _program(str(self.rule["rule"])).evaluate(activation)
        except CELEvalError as error:
            result = error
        if isinstance(result, CELEvalError):
            message = evaluation_error(result)
            if message == "no such overload":
                detail = "'no such overload': call arguments did not match a supported operator, function or macro"
                return invalid(path, node_type, f"{detail} signature for rule: {_message(self.rule)}")
            return invalid(path, node_type, f"{message} evaluating rule: {_message(self.rule)}")
        if isinstance(result, celtypes.BoolType) and bool(result):
            return None
        separator = "" if self.field_path.startswith("[") else "."
        where = f"{path}{separator}{self.field_path}".lstrip(".") if self.field_path else path
        detail = self.custom_message(activation) or str(self.rule.get("message") or "").strip()
        detail = detail or f"failed rule: {_message(self.rule)}"
        reason = str(self.rule.get("reason") or "FieldValueInvalid")
        if reason == "FieldValueForbidden":
            return field_cause(reason, where, f"Forbidden: {detail}")
        if reason == "FieldValueRequired":
            return field_cause(reason, where, f"Required value: {detail}")
        if reason == "FieldValueDuplicate":
            return field_cause(reason, where, f"Duplicate value: {go_value(node_type)}")
        return invalid(where, node_type, detail)

    def custom_message(self, activation: Mapping[str, Any]) -> str | None:
        """messageExpression's result; None when it fails (kube-apiserver then uses the message)."""
        expression = str(self.rule.get("messageExpression") or "")
        if not expression.strip():
            return None
        try:
            message = _program(expression).evaluate(dict(activation))
        except (CELEvalError, CELParseError):
            return None
        if not isinstance(message, str) or not message.strip() or "\n" in message.strip():
            return None
        return message.strip()


@dataclasses.dataclass(eq=False)
class Validator:
    """The rules of a schema node and of every node below it (cel.Validator): built once per schema."""

    schema: Mapping[str, Any]
    rules: list[Rule]
    properties: dict[str, Validator]
    items: Validator | None
    additional: Validator | None
    resource_root: bool = False

    @classmethod
    def of(cls, schema: Mapping[str, Any], resource_root: bool = False) -> Validator | None:
        """None where no rule is declared at or below the node."""
        properties = {
            name: child
            for name, prop in (schema.get("properties") or {}).items()
            if isinstance(prop, dict) and (child := cls.of(prop, bool(prop.get("x-kubernetes-embedded-resource"))))
        }
        items = cls.of(schema["items"]) if isinstance(schema.get("items"), dict) else None
        additional_schema = schema.get("additionalProperties")
        additional = cls.of(additional_schema) if isinstance(additional_schema, dict) else None
        rules = [Rule.of(rule) for rule in schema.get(RULES) or []]
        if not (rules or properties or items or additional):
            return None
        return cls(schema, rules, properties, items, additional, resource_root)

    def errors(self, value: Any, old: Any, path: str, ratcheting: bool = False) -> list[JSON]:
        """The causes for ``value`` at ``path``; ``old``: the old value on update (transition rules run where it
        correlates), or the value itself for a CRD's default. ``ratcheting``: an update of a stored object, where
        rules that do not use oldSelf pass on what did not change."""
        return self._errors(value, old, path, unchanged_above=False, ratcheting=ratcheting)

    def _errors(self, value: Any, old: Any, path: str, unchanged_above: bool, ratcheting: bool) -> list[JSON]:
        """``unchanged_above``: the nearest correlated ancestor equals its old value (what ratcheting looks at for a
        node without an old value of its own)."""
        if value is None:
            return []
        unchanged = ratcheting and ((value == old) if old is not None else unchanged_above)
        found = self.own_errors(value, old, path, unchanged)
        if isinstance(value, dict):
            correlated = self.schema.get("x-kubernetes-map-type") != "atomic" and isinstance(old, dict)
            for key, item in value.items():
                child = self.properties.get(key) or self.additional
                if child is None:
                    continue
                old_item = old.get(key) if correlated else None
                where = f"{path}.{key}".lstrip(".") if key in self.properties else f"{path}[{key}]"
                found += child._errors(item, old_item, where, unchanged, ratcheting)
        elif isinstance(value, list) and self.items is not None:
            list_map = self.schema.get("x-kubernetes-list-type") == "map"
            keys = self.schema.get("x-kubernetes-list-map-keys") if list_map else None
            old_items = {}
            if keys and isinstance(old, list):
                old_items = {_list_map_key(item, keys): item for item in old if isinstance(item, dict)}
            for index, item in enumerate(value):
                old_item = old_items.get(_list_map_key(item, keys)) if keys and isinstance(item, dict) else None
                found += self.items._errors(item, old_item, f"{path}[{index}]", unchanged, ratcheting)
        return found

    def own_errors(self, value: Any, old: Any, path: str, unchanged: bool) -> list[JSON]:
        def runs(rule: Rule) -> bool:
            if rule.uses_old_self:
                return old is not None  # a transition rule: only where an old value is correlated
            return not unchanged  # ratcheting: an unchanged value keeps passing

        node_type = str(self.schema.get("type", ""))
        found = [
            invalid(path, node_type, f"rule compile error: {rule.compile_error}")
            for rule in self.rules
            if rule.compile_error is not None
        ]
        runnable = [rule for rule in self.rules if rule.compile_error is None and runs(rule)]
        if not runnable:
            return found
        schema = with_type_and_object_meta(self.schema) if self.resource_root else self.schema
        self_value = to_cel(value, schema)
        old_value = to_cel(old, schema) if old is not None else None
        for rule in runnable:
            if (cause := rule.failure(path, node_type, self_value, old_value)) is not None:
                found.append(cause)
        return found


def _list_map_key(item: Any, keys: Sequence[str] | None) -> tuple[Any, ...]:
    return tuple(repr(item.get(key)) for key in keys or []) if isinstance(item, dict) else ()
