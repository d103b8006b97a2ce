"""kube-apiserver's field errors (apimachinery ``field.Error``) as the StatusCauses of a 422 Invalid.

A cause's message is ``field.Error.ErrorBody()``: ``Invalid value: <value>: <detail>``, ``Forbidden: <detail>``,
``Required value: <detail>``, ``Unsupported value: <value>: supported values: ...`` or ``Duplicate value: <value>``,
with values printed as Go prints them (numbers and booleans bare, strings quoted, null as ``"null"``, maps and lists
as Go's ``%#v`` of the decoded JSON).
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


def go_quote(text: str) -> str:
    """Go's %q of a string (close enough: JSON escapes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def go_value(value: Any) -> str:
    """How apimachinery's field.Error prints a value: numbers and bools as they are, strings quoted, null as "null",
    anything else as Go's %#v of the decoded JSON."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    return _go_syntax(value)


def _go_syntax(value: Any) -> str:
    if isinstance(value, dict):
        entries = ", ".join(f"{go_quote(key)}:{_go_syntax(value[key])}" for key in sorted(value))
        return f"map[string]interface {{}}{{{entries}}}"
    if isinstance(value, list):
        return f"[]interface {{}}{{{', '.join(_go_syntax(item) for item in value)}}}"
    if value is None:
        return "interface {}(nil)"
    return go_value(value)


def field_cause(reason: str, field: str, message: str) -> JSON:
    """A StatusCause as kube-apiserver lists it in a 422."""
    return {"reason": reason, "field": field, "message": message}


def invalid(field: str, value: Any, detail: str) -> JSON:
    return field_cause("FieldValueInvalid", field, f"Invalid value: {go_value(value)}: {detail}")


def forbidden(field: str, detail: str) -> JSON:
    return field_cause("FieldValueForbidden", field, f"Forbidden: {detail}")


def required(field: str, detail: str = "") -> JSON:
    return field_cause("FieldValueRequired", field, f"Required value: {detail}" if detail else "Required value")


def not_supported(field: str, value: Any, supported: list[str]) -> JSON:
    listed = ", ".join(go_quote(item) for item in supported)
    message = f"Unsupported value: {go_value(value)}: supported values: {listed}"
    return field_cause("FieldValueNotSupported", field, message)
