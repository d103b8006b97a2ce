"""Protobuf request bodies: kubectl's typed clients (e.g. ``kubectl create namespace``) send built-in objects so.

The body is ``k8s\\x00`` followed by a ``runtime.Unknown`` (field 1: TypeMeta with apiVersion and kind; field 2: the
object's own message, whose field 1 is its ObjectMeta), with the field numbers of apimachinery's ``generated.proto``.
Only the type and metadata (name, generateName, namespace, labels, annotations, finalizers) are decoded; the
object's other fields are not (a deviation listed in :mod:`lowlatency.emulators.kubernetes`).
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]
PROTOBUF_MAGIC = b"k8s\x00"


def _varint(data: bytes, index: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[index]
        value, shift, index = value | (byte & 0x7F) << shift, shift + 7, index + 1
        if not byte & 0x80:
            return value, index


def _protobuf_fields(data: bytes) -> dict[int, list[Any]]:
    """A protobuf message's fields by number (values: ints for varints, bytes for everything else)."""
    fields: dict[int, list[Any]] = {}
    index = 0
    while index < len(data):
        key, index = _varint(data, index)
        value: Any
        if key & 7 == 0:
            value, index = _varint(data, index)
        else:
            length, index = _varint(data, index) if key & 7 == 2 else (8 if key & 7 == 1 else 4, index)
            value, index = data[index : index + length], index + length
        fields.setdefault(key >> 3, []).append(value)
    return fields


def decode_protobuf_object(body: bytes) -> JSON:
    """The type and metadata of a ``runtime.Unknown``-wrapped built-in object (other fields are not decoded)."""
    envelope = _protobuf_fields(body[len(PROTOBUF_MAGIC) :])
    type_meta = _protobuf_fields(envelope.get(1, [b""])[0])
    meta = _protobuf_fields(_protobuf_fields(envelope.get(2, [b""])[0]).get(1, [b""])[0])

    def text(fields: dict[int, list[Any]], number: int) -> str | None:
        return fields[number][0].decode() if number in fields else None

    def mapping(number: int) -> dict[str, str]:
        entries = [_protobuf_fields(entry) for entry in meta.get(number, [])]
        return {text(entry, 1) or "": text(entry, 2) or "" for entry in entries}

    metadata: dict[str, Any] = {"name": text(meta, 1), "generateName": text(meta, 2), "namespace": text(meta, 3)}
    metadata |= {
        "labels": mapping(11),
        "annotations": mapping(12),
        "finalizers": [f.decode() for f in meta.get(14, [])],
    }
    kind = {"apiVersion": text(type_meta, 1), "kind": text(type_meta, 2)}
    return kind | {"metadata": {key: value for key, value in metadata.items() if value}}
