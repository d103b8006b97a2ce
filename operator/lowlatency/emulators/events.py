"""Events: one object served through two APIs, ``v1`` and ``events.k8s.io/v1``, as kube-apiserver serves it.

An Event written through either API is stored in both forms with the same resourceVersion, and goes from both when
deleted, so kopf's events show in ``kubectl get events``, ``describe`` and ``kubectl events``. The forms differ
in field names only: ``involvedObject`` is ``regarding``, ``message`` is ``note``, ``source``, ``firstTimestamp``,
``lastTimestamp`` and ``count`` are ``deprecatedSource``..., ``reportingComponent`` is ``reportingController``.
"""

from __future__ import annotations

import copy
from typing import Any

import kmock

JSON = dict[str, Any]
EVENTS = kmock.resource("", "v1", "events")
NEW_EVENTS = kmock.resource("events.k8s.io", "v1", "events")
EVENT_RESOURCES = {EVENTS: NEW_EVENTS, NEW_EVENTS: EVENTS}  # each Events API: the other one
EVENT_FIELDS = {  # core/v1 Event field: events.k8s.io/v1 field (the others have the same names)
    "involvedObject": "regarding",
    "message": "note",
    "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
    "reportingComponent": "reportingController",
}


def event_as(resource: kmock.resource, event: JSON) -> JSON:
    """An Event in the form of the other Events API (kube-apiserver serves one object through both)."""
    fields = EVENT_FIELDS if resource == NEW_EVENTS else {new: old for old, new in EVENT_FIELDS.items()}
    converted = {fields.get(key, key): copy.deepcopy(value) for key, value in event.items()}
    return converted | {"apiVersion": f"{resource.group}/{resource.version}".lstrip("/"), "kind": "Event"}
