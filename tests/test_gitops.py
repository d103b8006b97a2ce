"""What users apply from Git goes through the real kubectl, and the operator never makes Git and the cluster differ.

`kubectl apply --dry-run=client` runs against the Kubernetes emulator (kubectl needs an API server for its resource
mapping even without writing); the operator's side is checked by what a GitOps tool compares: the spec and its
generation, which any write to spec would change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from e2e_support import EndToEnd
from fixtures_kubernetes import Kubectl

pytest_plugins = ["e2e_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = [ROOT / "examples" / "bid-filter.yaml", ROOT / "examples" / "argocd" / "endpoints" / "bid-filter.yaml"]
#: One example per hosting pattern of issue 13: A/B variants, a shadow variant, serverless.
HOSTING_EXAMPLES = {
    "ab-test.yaml": "bid-filter-ab",
    "shadow.yaml": "bid-filter-shadow",
    "serverless.yaml": "fraud-score",
}


@pytest.mark.parametrize("kustomization", ["manifests", "manifests/namespaced"])
def test_plain_manifests_apply_with_kubectl(kustomization: str, kubectl: Kubectl) -> None:
    result = kubectl("apply", "--dry-run=client", "-k", str(ROOT / kustomization))
    applied = result.stdout.splitlines()
    assert applied, result.stderr
    assert all(line.endswith("(dry run)") for line in applied), applied
    assert "customresourcedefinition.apiextensions.k8s.io/lowlatencyendpoints.lowlatency.io created (dry run)" in (
        applied
    )
    assert any(line.startswith("deployment.apps/lowlatency-operator ") for line in applied), applied


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: str(path.relative_to(ROOT)))
def test_examples_apply_with_kubectl(example: Path, kubectl: Kubectl, lowlatency_crd: dict[str, Any]) -> None:
    kubectl("create", "namespace", "adtech")
    result = kubectl("apply", "--dry-run=client", "-f", str(example))
    assert result.stdout.strip() == "lowlatencyendpoint.lowlatency.io/bid-filter created (dry run)"


@pytest.mark.parametrize(("example", "name"), HOSTING_EXAMPLES.items(), ids=list(HOSTING_EXAMPLES))
def test_hosting_pattern_examples_are_stored_by_the_api_server(
    example: str, name: str, kubectl: Kubectl, lowlatency_crd: dict[str, Any]
) -> None:
    """Applied for real (not a client dry run): the API server checks the schema and every CEL rule, stores the
    object with its defaults, and a second apply finds nothing to change."""
    kubectl("create", "namespace", "adtech")
    path = str(ROOT / "examples" / example)
    assert kubectl("apply", "-f", path).stdout.strip() == f"lowlatencyendpoint.lowlatency.io/{name} created"
    stored = json.loads(kubectl("get", "lle", name, "-n", "adtech", "-o", "json").stdout)
    assert stored["spec"]["deployment"]["strategy"] in ("AllAtOnce", "Canary")  # defaulted or as written
    assert "instanceCount" not in stored["spec"] or "variants" not in stored["spec"]
    assert kubectl("apply", "-f", path).stdout.strip() == f"lowlatencyendpoint.lowlatency.io/{name} unchanged"


def test_the_operator_never_writes_spec(e2e: EndToEnd, kubectl: Kubectl) -> None:
    """Applied from Git, reconciled to InService and benchmarked: spec and generation are what the API server made
    of the applied file (its defaults included), so Argo CD sees nothing to sync."""
    kubectl("apply", "-f", str(EXAMPLES[0]))
    applied = json.loads(kubectl("get", "lle", "bid-filter", "-n", "adtech", "-o", "json").stdout)
    live = e2e.wait_in_service("bid-filter")
    assert live["spec"] == applied["spec"]
    assert live["metadata"]["generation"] == applied["metadata"]["generation"] == 1
    reapplied = kubectl("apply", "-f", str(EXAMPLES[0]))
    assert reapplied.stdout.strip() == "lowlatencyendpoint.lowlatency.io/bid-filter unchanged"
