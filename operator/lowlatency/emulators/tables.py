"""Tables: what kube-apiserver answers ``kubectl get`` (``Accept: application/json;as=Table;...``).

Rows are built from the CRD's ``additionalPrinterColumns`` (after the Name that kube-apiserver always puts first;
Name and Age when the CRD has none), from kube-apiserver's own columns for Namespaces and Events, or Name and Age for
other resources. A column's cell is its JSONPath's value (fields, indexes and ``[?(@.key=="value")]`` filters) if
the value has the column's type; dates are shown as ages, as apimachinery's ``HumanDuration`` shows them.
``priority`` is kept for ``kubectl get -o wide``; ``includeObject`` embeds the object, its metadata (the default) or
nothing in each row. Watches stream tables too (``kubectl get -w``).
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import kmock

from lowlatency.emulators.custom_resources import CustomResource
from lowlatency.emulators.events import EVENTS
from lowlatency.emulators.namespaces import NAMESPACES

JSON = dict[str, Any]
NAME_COLUMN = {"name": "Name", "type": "string", "format": "name", "jsonPath": ".metadata.name"}
AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
BUILTIN_COLUMNS = {  # a few of kube-apiserver's own tables; any other built-in resource shows Name and Age
    NAMESPACES: [NAME_COLUMN, {"name": "Status", "type": "string", "jsonPath": ".status.phase"}, AGE_COLUMN],
    EVENTS: [
        {"name": "Last Seen", "type": "date", "jsonPath": ".lastTimestamp"},
        {"name": "Type", "type": "string", "jsonPath": ".type"},
        {"name": "Reason", "type": "string", "jsonPath": ".reason"},
        {"name": "Object", "type": "string", "jsonPath": ".involvedObject.name"},
        {"name": "Message", "type": "string", "jsonPath": ".message"},
    ],
}


def human_duration(seconds: float) -> str:
    """The age format of kube-apiserver's tables (apimachinery's HumanDuration)."""
    if seconds < -1:
        return "<invalid>"
    total = max(int(seconds), 0)
    minutes, hours, days = total // 60, total // 3600, total // 86400
    steps: list[tuple[bool, str, int, str]] = [  # (applies, unit, remainder, remainder unit)
        (total < 120, f"{total}s", 0, ""),
        (minutes < 10, f"{minutes}m", total % 60, "s"),
        (minutes < 180, f"{minutes}m", 0, ""),
        (hours < 8, f"{hours}h", minutes % 60, "m"),
        (hours < 48, f"{hours}h", 0, ""),
        (hours < 24 * 8, f"{days}d", hours % 24, "h"),
        (days < 365 * 2, f"{days}d", 0, ""),
        (days < 365 * 8, f"{days // 365}y", days % 365, "d"),
    ]
    for applies, whole, remainder, unit in steps:
        if applies:
            return f"{whole}{remainder}{unit}" if remainder else whole
    return f"{days // 365}y"


def json_path(obj: Any, expression: str) -> Any:
    """The JSONPath that printer columns use: fields, indexes and ``[?(@.key=="value")]`` filters."""
    tokens = re.findall(r"\.([^.\[]+)|\[(\d+)\]|\[\?\(@\.([\w-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]", expression)
    for field, index, filter_key, filter_value in tokens:
        if field:
            obj = obj.get(field) if isinstance(obj, dict) else None
        elif index:
            obj = obj[int(index)] if isinstance(obj, list) and int(index) < len(obj) else None
        else:
            matching = [item for item in obj or [] if isinstance(item, dict) and item.get(filter_key) == filter_value]
            obj = matching[0] if matching else None
    return obj


def table_cell(column_type: str, value: Any) -> Any:
    """A printer column's cell: dates as ages, other values only if they have the column's type."""
    if value is None:
        return None
    if column_type == "date":
        try:
            created = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return "<invalid>"
        return human_duration((datetime.datetime.now(tz=datetime.UTC) - created).total_seconds())
    accepted: dict[str, tuple[type, ...]] = {"integer": (int,), "number": (int, float), "string": (str,)}
    return value if isinstance(value, accepted.get(column_type, (bool,))) else None


def table(
    resource: kmock.resource, custom: CustomResource | None, objs: list[JSON], metadata: JSON, include: str
) -> JSON:
    """The Table of ``objs`` (``custom``: the resource's served CRD version, if it is a custom resource)."""
    if custom is not None:  # the CRD's columns, after the Name that kube-apiserver always puts first
        columns = [NAME_COLUMN, *(custom.printer_columns or [AGE_COLUMN])]
    else:
        columns = BUILTIN_COLUMNS.get(resource, [NAME_COLUMN, AGE_COLUMN])
    definitions = []
    for column in columns:
        described = {"format": column.get("format", ""), "description": column.get("description", "")}
        definitions.append(
            {"name": column["name"], "type": column["type"], **described} | {"priority": column.get("priority", 0)}
        )
    rows = []
    for obj in objs:
        partial = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
        embedded = {"Object": obj, "Metadata": partial}.get(include)
        cells = [table_cell(column["type"], json_path(obj, column["jsonPath"])) for column in columns]
        rows.append({"cells": cells, "object": embedded})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    }
