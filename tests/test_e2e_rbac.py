"""The RBAC the manifests and the chart grant is judged by what the operator process really asked of the API server.

The operator runs against the Kubernetes API emulator through a whole life of a resource (create with a shared VPC
endpoint, a spec change, deletion); every request it made (kubectl's own are told apart by their user agent) is
turned into the (API group, resource, verb) that RBAC would check. The ClusterRole of the manifests and of the chart
must grant exactly those: each used one (or the operator is forbidden on a real cluster), and nothing more (least
privilege). Peering between replicas is granted only with it (``manifests/ha``, the chart's ``peering.enabled``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e_support import EndToEnd, create_network
from lowlatency.emulators.kubernetes import KubernetesEmulator
from rendered import one, rules_of
from specs import bid_filter_spec
from tools import helm_binary, kubectl_binary

pytest_plugins = ["e2e_fixtures"]
pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parent.parent
Rule = tuple[str, str, str]

VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def _verb(request: Any) -> str:
    if request.method == "GET":
        if request.params.get("watch") in ("true", "1"):
            return "watch"
        return "get" if request.name else "list"
    return VERBS[request.method]


def used_by_the_operator(emulator: KubernetesEmulator) -> set[Rule]:
    used = set()
    for request in emulator.api._requests:
        agent = request.headers.get("User-Agent", "")
        if request.resource is None or request.resource.plural is None or agent.startswith("kubectl"):
            continue
        plural = request.resource.plural + (f"/{request.subresource}" if request.subresource else "")
        used.add((request.resource.group or "", plural, _verb(request)))
    return used


def _rendered(command: list[str]) -> list[dict[str, Any]]:
    built = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return [document for document in yaml.safe_load_all(built.stdout) if document]


def granted_to_an_operator_of_all_namespaces() -> dict[str, set[Rule]]:
    """The ClusterRole of the plain manifests and of the chart with its default values."""
    manifests = _rendered([str(kubectl_binary()), "kustomize", str(REPO / "manifests")])
    chart = _rendered([str(helm_binary()), "template", "lowlatency", str(REPO / "charts" / "lowlatency-operator")])
    return {"manifests": rules_of(one(manifests, "ClusterRole")), "chart": rules_of(one(chart, "ClusterRole"))}


def test_the_cluster_role_grants_exactly_what_the_operator_uses(
    e2e: EndToEnd, kubernetes_emulator: KubernetesEmulator
) -> None:
    network = create_network(e2e.ec2)
    e2e.create("bid-filter", bid_filter_spec(vpcEndpoint=network))
    e2e.patch("bid-filter", {"instanceCount": 3})
    e2e.wait_in_service("bid-filter", generation=2)
    e2e.delete("bid-filter")
    used = used_by_the_operator(kubernetes_emulator)
    assert ("lowlatency.io", "lowlatencyendpoints", "watch") in used, "the request log missed the operator"

    for source, granted in granted_to_an_operator_of_all_namespaces().items():
        assert used - granted == set(), f"{source}: used but not granted; the operator would be forbidden"
        assert granted - used == set(), f"{source}: granted but never used: least privilege says remove it"
