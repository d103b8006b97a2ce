"""The CEL types kube-apiserver declares for a schema node, with the sizes its cost estimator reads.

Source: k8s.io/apiserver ``pkg/cel/common/schemas.go`` (SchemaDeclType), ``pkg/cel/types.go`` and
apiextensions-apiserver ``pkg/apiserver/schema/cel/compilation.go`` (maxCardinality); see the package docstring.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

JSON = dict[str, Any]
RULES = "x-kubernetes-validations"
MAX_REQUEST_SIZE_BYTES = 3 * 1024 * 1024  # k8s.io/apiserver/pkg/apis/cel: MaxRequestSizeBytes
UNBOUNDED = 2**64 - 1  # cel-go's unknown size, and where its saturating arithmetic stops (math.MaxUint64)
RESERVED_WORDS = frozenset(
    {"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if", "import"}
    | {"let", "loop", "package", "namespace", "return", "var", "void", "while"}
)


@dataclasses.dataclass(eq=False)
class DeclType:
    """A CEL type with the sizes the cost estimator reads: ``max_elements`` is the longest string (bytes), the
    most list items or map entries; ``min_size`` the smallest JSON serialization."""

    kind: str  # object, map, list, string, bytes, int, uint, double, bool, timestamp, duration, null, type, dyn
    max_elements: int = 0
    min_size: int = 1
    fields: dict[str, DeclType] | None = None
    key: DeclType | None = None
    elem: DeclType | None = None

    def sized(self, max_elements: int) -> DeclType:
        return dataclasses.replace(self, max_elements=max_elements)

    def name(self) -> str:
        """The type's name in cel-go's messages."""
        if self.kind == "list":
            return f"list({self.elem.name() if self.elem else 'dyn'})"
        if self.kind == "map":
            return f"map(string, {self.elem.name() if self.elem else 'dyn'})"
        if self.kind == "object":
            return "object"
        return {"timestamp": "google.protobuf.Timestamp", "duration": "google.protobuf.Duration"}.get(
            self.kind, self.kind
        )


def scalar(kind: str) -> DeclType:
    return DeclType(kind)


DYN = DeclType("dyn", UNBOUNDED)
MAP_KEY = DeclType("string", 0, 2)  # apiservercel.StringType: no MaxElements, so a key's estimated size is 0
# k8s.io/apiserver/pkg/cel's JSON sizes of durations, dates and date-times (as its cost tests measure them)
MAX_DURATION_SIZE_JSON, MIN_DURATION_SIZE_JSON = 32, 3
DATE_SIZE_JSON, MIN_DATETIME_SIZE_JSON, MAX_DATETIME_SIZE_JSON = 12, 21, 37
META_STRING: JSON = {"type": "string"}


def escape(name: str) -> str | None:
    """A property's name in CEL (apiserver cel.Escape), or None when CEL cannot reach it."""
    if name in RESERVED_WORDS:
        return f"__{name}__"
    if not re.fullmatch(r"[a-zA-Z_.\-/][a-zA-Z0-9_.\-/]*", name):
        return None
    for plain, escaped in (("__", "__underscores__"), (".", "__dot__"), ("-", "__dash__"), ("/", "__slash__")):
        name = name.replace(plain, escaped)
    return name


def with_type_and_object_meta(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """A resource root as rules see it: apiVersion, kind, metadata.name and metadata.generateName always there."""
    properties = dict(schema.get("properties") or {})
    metadata = {"type": "object", "properties": {"name": META_STRING, "generateName": META_STRING}}
    return {
        **schema,
        "properties": {**properties, "apiVersion": META_STRING, "kind": META_STRING, "metadata": metadata},
    }


def decl_type(schema: Mapping[str, Any], resource_root: bool = False) -> DeclType | None:
    """SchemaDeclType: the CEL type of a structural schema node, or None where rules cannot see the value."""
    if schema.get("x-kubernetes-int-or-string"):
        return DeclType("dyn", MAX_REQUEST_SIZE_BYTES - 2, 1)
    if resource_root:
        schema = with_type_and_object_meta(schema)
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        elem = decl_type(items, bool(items.get("x-kubernetes-embedded-resource"))) if isinstance(items, dict) else None
        if elem is None:
            return None
        count = schema.get("maxItems", (MAX_REQUEST_SIZE_BYTES - 2) // (elem.min_size + 1))
        return DeclType("list", max(count, 0), 2, elem=elem)
    if kind == "object":
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            elem = decl_type(additional, bool(additional.get("x-kubernetes-embedded-resource")))
            if elem is None:
                return None
            count = schema.get("maxProperties", (MAX_REQUEST_SIZE_BYTES - 2) // (elem.min_size + 6))
            return DeclType("map", max(count, 0), 2, key=MAP_KEY, elem=elem)
        fields, min_size, required = {}, 2, set(schema.get("required") or [])
        for name, prop in (schema.get("properties") or {}).items():
            field = decl_type(prop, bool(prop.get("x-kubernetes-embedded-resource")))
            if field is None:
                continue
            if (escaped := escape(name)) is not None:
                fields[escaped] = field
            if name in required and "default" not in prop:  # defaults are filled in before rules run
                min_size += len(name) + field.min_size + 4
        return DeclType("object", 0, min_size, fields=fields)
    if kind == "string":
        fmt, limit = schema.get("format"), schema.get("maxLength")
        if fmt == "byte":
            return DeclType("bytes", limit if limit is not None else MAX_REQUEST_SIZE_BYTES - 2, 2)
        if fmt == "duration":
            return DeclType("duration", MAX_DURATION_SIZE_JSON, MIN_DURATION_SIZE_JSON)
        if fmt in ("date", "date-time"):
            largest = DATE_SIZE_JSON if fmt == "date" else MAX_DATETIME_SIZE_JSON
            return DeclType("timestamp", largest, DATE_SIZE_JSON if fmt == "date" else MIN_DATETIME_SIZE_JSON)
        # maxLength counts characters; a character is up to 4 bytes
        return DeclType("string", limit * 4 if limit is not None else MAX_REQUEST_SIZE_BYTES - 2, 2)
    return {"boolean": DeclType("bool", 0, 4), "number": DeclType("double"), "integer": DeclType("int")}.get(str(kind))


def max_cardinality(node_type: DeclType) -> int:
    """How often a node under an unbounded list or map can occur in one request (compilation.go maxCardinality)."""
    return MAX_REQUEST_SIZE_BYTES // (node_type.min_size + 1)
