"""Namespaces as kube-apiserver and its namespace controller keep them.

A cluster starts with ``default``, ``kube-system``, ``kube-public`` and ``kube-node-lease``. A new namespace is
``Active`` with the ``kubernetes`` finalizer in its spec. Objects are created only in a namespace that exists (404
otherwise) and is not terminating (403 Forbidden, ``unable to create new content in namespace ... because it is
being terminated``). Deleting a namespace marks it ``Terminating`` and deletes what is in it; the namespace goes once
it is empty, so the finalizers of the objects inside hold it, as in a cluster (the store does this:
:class:`lowlatency.emulators.kubernetes.ApiServer`).
"""

from __future__ import annotations

from typing import Any

import kmock

from lowlatency.emulators.api_requests import ApiError, not_found
from lowlatency.emulators.object_meta import now

JSON = dict[str, Any]
NAMESPACES = kmock.resource("", "v1", "namespaces")
PRESET_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def new_namespace(namespace: JSON) -> JSON:
    """A namespace as it is created: Active, with the ``kubernetes`` finalizer in its spec."""
    return namespace | {"spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def check_open(name: str, stored: JSON | None) -> None:
    """Refuse new content in a namespace that does not exist (``stored`` is None) or is being terminated."""
    if stored is None:
        raise not_found(NAMESPACES, name)
    if stored["metadata"].get("deletionTimestamp"):
        message = f"unable to create new content in namespace {name} because it is being terminated"
        raise ApiError(403, "Forbidden", message, {"name": name, "kind": "namespaces"})


def terminating(namespace: JSON) -> JSON:
    """The namespace marked as being deleted: a deletionTimestamp and the Terminating phase."""
    metadata = namespace["metadata"] | {"deletionTimestamp": now()}
    return namespace | {"metadata": metadata, "status": {"phase": "Terminating"}}
