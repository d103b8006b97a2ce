"""What the operator asks of the Kubernetes API outside kopf's handlers, with the official client (blocking).

- :func:`lowlatency_uids`: the uids of every LowLatencyEndpoint, for the ``orphans`` command;
- :func:`patch_status`: a timer's status write (see :mod:`lowlatency.handlers` for why kopf does not write it);
- :func:`ensure_peering`: the kopf peering object that replicas meet in. kopf only patches it (its keep-alives go
  into its status) and, with peering mandatory, pauses until it exists, so it is created at start-up when missing:
  a ``ClusterKopfPeering`` for an operator of all namespaces, a ``KopfPeering`` in each watched namespace otherwise.
  The CRDs of both come from kopf and are installed with the operator (``manifests/ha/``, the chart).

The client is configured as kubectl would be: in a pod from its service account, elsewhere from the current
kubeconfig.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any, cast

import kubernetes

from lowlatency import GROUP, PLURAL, VERSION

PEERING_GROUP = "kopf.dev"
PEERING_VERSION = "v1"
FORBIDDEN = 403
NOT_FOUND = 404
CONFLICT = 409

logger = logging.getLogger(__name__)


class PeeringUnavailable(Exception):
    """Peering was asked for, but the cluster does not serve kopf's peering resources."""


def custom_objects() -> Any:
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        # KUBECONFIG as it is now (the library reads it once, at import).
        kubernetes.config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))  # type: ignore[no-untyped-call]
    return kubernetes.client.CustomObjectsApi()


def lowlatency_uids() -> set[str]:
    """Every LowLatencyEndpoint's uid. Any failure to list them (no CRD, no permission, no cluster) raises: an empty
    answer would make every owned AWS resource look orphaned."""
    api = custom_objects()
    uids: set[str] = set()
    token = None
    while True:
        listed = cast(
            "dict[str, Any]", api.list_cluster_custom_object(GROUP, VERSION, PLURAL, limit=500, _continue=token)
        )
        uids |= {item["metadata"]["uid"] for item in listed.get("items", [])}
        token = listed.get("metadata", {}).get("continue")
        if not token:
            return uids


def patch_status(namespace: str, name: str, status: dict[str, Any]) -> None:
    """Merge-patch a LowLatencyEndpoint's status (``None`` values remove fields)."""
    custom_objects().patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, name, {"status": status}, _content_type="application/merge-patch+json"
    )


def ensure_peering(name: str, namespaces: Sequence[str]) -> None:
    """Create the peering object(s) named ``name`` unless they exist (no namespaces: the cluster-wide one)."""
    api = custom_objects()
    places: list[str | None] = [*namespaces] or [None]
    for namespace in places:
        kind = "KopfPeering" if namespace else "ClusterKopfPeering"
        metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
        body = {"apiVersion": f"{PEERING_GROUP}/{PEERING_VERSION}", "kind": kind, "metadata": metadata}
        try:
            if namespace:
                api.create_namespaced_custom_object(PEERING_GROUP, PEERING_VERSION, namespace, "kopfpeerings", body)
            else:
                api.create_cluster_custom_object(PEERING_GROUP, PEERING_VERSION, "clusterkopfpeerings", body)
        except kubernetes.client.ApiException as error:
            if error.status == FORBIDDEN:  # the object may exist all the same: kopf waits for it if not
                logger.warning(f"May not create {kind} {name} (create it with kubectl): {error.reason}")
            elif error.status == NOT_FOUND:
                raise PeeringUnavailable(
                    f"{kind} is not served: install kopf's peering CRDs (manifests/ha/kopf-peering-crds.yaml)"
                ) from error
            elif error.status != CONFLICT:  # CONFLICT: another replica created it first
                raise
