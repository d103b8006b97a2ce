"""A stand-in for the cluster that VPC endpoints ask who uses a VPC (:class:`lowlatency.vpc.Cluster`), for tests
that run reconciliation passes by hand: the resources are the bodies the test holds."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from lowlatency.desired import Owner
from lowlatency.vpc import Installation

CLUSTER_UID = "6c3f0e1a-kube-system"


class BodiesCluster:
    """The cluster is the bodies added (by uid); one marked for deletion no longer uses its VPC."""

    def __init__(self, installation: Installation | None = None) -> None:
        self._installation = installation or Installation(CLUSTER_UID)
        self._bodies: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.questions = 0  # how often a VPC's users were asked for

    def add(self, *bodies: dict[str, Any]) -> None:
        with self._lock:
            self._bodies.update({body["metadata"]["uid"]: body for body in bodies})

    def remove(self, body: dict[str, Any]) -> None:
        with self._lock:
            self._bodies.pop(body["metadata"]["uid"], None)

    def installation(self) -> Installation:
        return self._installation

    def user_of(self, vpc_id: str, besides: Owner) -> str | None:
        with self._lock:
            self.questions += 1
            bodies: Iterable[dict[str, Any]] = list(self._bodies.values())
        for body in bodies:
            metadata = body["metadata"]
            named = (body.get("spec") or {}).get("vpcEndpoint") or {}
            if (
                metadata["uid"] != besides.uid
                and not metadata.get("deletionTimestamp")
                and named.get("vpcId") == vpc_id
            ):
                return f"{metadata['namespace']}/{metadata['name']}"
        return None
