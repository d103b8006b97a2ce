"""What the operator asks of the Kubernetes API outside kopf's handlers, with the official client (blocking).

- :func:`inventory`: the uids of every LowLatencyEndpoint and the VPCs they use, for the ``orphans`` command;
- :class:`ClusterVpcUsers`: who uses a VPC's runtime endpoint, and which installation of the operator asks;
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
import threading
from collections.abc import Iterator, Sequence
from typing import Any, cast

import kubernetes
import urllib3

from lowlatency import GROUP, PLURAL, VERSION
from lowlatency.desired import Owner
from lowlatency.orphans import Inventory
from lowlatency.vpc import ClusterUnreadable, Installation

PEERING_GROUP = "kopf.dev"
PEERING_VERSION = "v1"
FORBIDDEN = 403
NOT_FOUND = 404
CONFLICT = 409

logger = logging.getLogger(__name__)


class PeeringUnavailable(Exception):
    """Peering was asked for, but the cluster does not serve kopf's peering resources."""


def _load_config() -> None:
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        # KUBECONFIG as it is now (the library reads it once, at import).
        kubernetes.config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))  # type: ignore[no-untyped-call]


def custom_objects() -> Any:
    _load_config()
    return kubernetes.client.CustomObjectsApi()


def lowlatency_endpoints(namespaces: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
    """Every LowLatencyEndpoint of the namespaces (none: of all), page by page. Any failure to list them (no CRD,
    no permission, no cluster) raises: an empty answer would make what they use look unused."""
    api = custom_objects()
    places: list[str | None] = [*namespaces] or [None]
    for namespace in places:
        token = None
        while True:
            if namespace is None:
                listed = api.list_cluster_custom_object(GROUP, VERSION, PLURAL, limit=500, _continue=token)
            else:
                listed = api.list_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, limit=500, _continue=token
                )
            yield from cast("dict[str, Any]", listed).get("items", [])
            token = listed.get("metadata", {}).get("continue")
            if not token:
                break


def vpc_named_by(resource: dict[str, Any]) -> str | None:
    """The VPC whose runtime endpoint a LowLatencyEndpoint uses: the one its spec names, unless it is being deleted.

    Read from the object as stored, not validated: a resource with a spec the operator rejects still names its
    VPC, and keeping that VPC's endpoint for it errs on the side of the endpoint."""
    if resource.get("metadata", {}).get("deletionTimestamp"):
        return None
    named = (resource.get("spec") or {}).get("vpcEndpoint") or {}
    vpc_id = named.get("vpcId") if isinstance(named, dict) else None
    return vpc_id if isinstance(vpc_id, str) else None


def kube_system_uid() -> str:
    """The uid of the kube-system namespace: it lives as long as the cluster, so it names the cluster."""
    _load_config()
    metadata = kubernetes.client.CoreV1Api().read_namespace("kube-system").metadata
    assert metadata is not None, "the API server gives every object its metadata"
    return str(metadata.uid)


def inventory() -> Inventory:
    """What the ``orphans`` command compares AWS with: every LowLatencyEndpoint's uid, the VPCs they use, and the
    cluster's installation tags. Raises when the cluster cannot be read (see :func:`lowlatency_endpoints`)."""
    resources = list(lowlatency_endpoints())
    uids = {resource["metadata"]["uid"] for resource in resources}
    vpc_ids = {vpc_id for vpc_id in map(vpc_named_by, resources) if vpc_id is not None}
    return Inventory(uids, vpc_ids, Installation(kube_system_uid()).cluster_prefix)


class ClusterVpcUsers:
    """The cluster as the operator's VPC endpoints ask it (:class:`lowlatency.vpc.Cluster`): the installation is
    the cluster and the namespaces the operator watches; a VPC's users are read afresh at each question.

    Needs ``get`` on the kube-system namespace and ``list`` on LowLatencyEndpoints (the chart's and the manifests'
    RBAC grant both)."""

    def __init__(self, namespaces: Sequence[str] = ()) -> None:
        self.namespaces = tuple(namespaces)
        self._installation: Installation | None = None
        self._lock = threading.Lock()

    def installation(self) -> Installation:
        with self._lock:
            if self._installation is None:
                try:
                    self._installation = Installation(kube_system_uid(), self.namespaces)
                except _UNREADABLE as error:
                    raise ClusterUnreadable("GetNamespace kube-system", _reason(error)) from error
            return self._installation

    def user_of(self, vpc_id: str, besides: Owner) -> str | None:
        try:
            for resource in lowlatency_endpoints(self.namespaces):
                metadata = resource["metadata"]
                if metadata["uid"] != besides.uid and vpc_named_by(resource) == vpc_id:
                    return f"{metadata['namespace']}/{metadata['name']}"
        except _UNREADABLE as error:
            raise ClusterUnreadable("ListLowLatencyEndpoints", _reason(error)) from error
        return None


# What the official client raises when the cluster cannot answer: refused, unreachable, not configured.
_UNREADABLE = (kubernetes.client.ApiException, urllib3.exceptions.HTTPError, kubernetes.config.ConfigException)


def _reason(error: Exception) -> str:
    if isinstance(error, kubernetes.client.ApiException):
        return f"{error.status} {error.reason}"
    return str(error)


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
