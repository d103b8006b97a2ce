"""Tenants end to end: the operator process with a tenant policy refuses what a namespace may not use, before any
AWS call, and lets it through once the platform team widens the allowance (the mounted file changes in place)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e_support import EndToEnd, condition, operator_in_namespace, status_of
from fixtures_kubernetes import Kubectl
from lowlatency.emulators.aws import AwsEmulator
from specs import bid_filter_spec

pytestmark = pytest.mark.timeout(90)

RESYNC_SECONDS = 2  # operator_process.TEST_TIMING


def write_policy(path: Path, instance_types: list[str]) -> None:
    policy = {
        "namespaces": {
            "adtech": {
                "executionRoleArns": ["arn:aws:iam::123456789012:role/SageMaker*"],
                "modelDataPrefixes": ["s3://acme-models/rtb/"],
                "instanceTypes": instance_types,
                "maxInstanceCount": 4,
            }
        }
    }
    path.write_text(yaml.safe_dump(policy))


@pytest.fixture
def policy_path(tmp_path: Path) -> Path:
    path = tmp_path / "tenant-policy.yaml"
    write_policy(path, ["ml.c5.*"])
    return path


@pytest.fixture
def tenant_e2e(
    *,
    lowlatency_crd: dict[str, Any],
    kubectl: Kubectl,
    kubeconfig: Path,
    aws_emulator: AwsEmulator,
    policy_path: Path,
    tmp_path: Path,
) -> Iterator[EndToEnd]:
    arguments = ["--tenant-policy", str(policy_path)]
    with operator_in_namespace(
        kubectl, kubeconfig, aws_emulator.environment(), tmp_path / "operator.log", arguments
    ) as operator:
        yield EndToEnd(kubectl, operator, aws_emulator)


def test_what_the_namespace_may_not_use_is_refused_before_any_aws_call(tenant_e2e: EndToEnd) -> None:
    spec = bid_filter_spec(instanceType="ml.p4d.24xlarge", instanceCount=8)
    spec["model"] = {**spec["model"], "modelDataUrl": "s3://other-team/models/model.tar.gz"}
    tenant_e2e.apply("gpu-bidder", spec)

    refused = tenant_e2e.wait_for_status(
        "gpu-bidder", lambda found: condition(found, "Ready").get("reason") == "NotAllowed", "NotAllowed"
    )
    message = condition(refused, "Ready")["message"]
    for named in ("instanceType", "instanceCount", "modelDataUrl"):
        assert named in message, message
    assert status_of(refused)["phase"] == "Failed"
    assert "123456789012:assumed-role" not in message
    assert any(
        event["reason"] == "NotAllowed" and event["type"] == "Warning" for event in tenant_e2e.events("gpu-bidder")
    )
    time.sleep(RESYNC_SECONDS + 0.5)  # the refusal is looked at again at the resync cadence: still nothing
    assert tenant_e2e.aws.calls() == []


def test_a_widened_allowance_lets_the_refused_resource_through(tenant_e2e: EndToEnd, policy_path: Path) -> None:
    tenant_e2e.apply("bid-filter", bid_filter_spec(instanceType="ml.c6i.xlarge"))
    tenant_e2e.wait_for_status(
        "bid-filter", lambda found: condition(found, "Ready").get("reason") == "NotAllowed", "NotAllowed"
    )
    assert tenant_e2e.aws.calls() == []

    write_policy(policy_path, ["ml.c5.*", "ml.c6i.*"])
    # A spec change starts a pass at once; without one the refusal is looked at again at the resync cadence.
    tenant_e2e.patch("bid-filter", {"tags": {"team": "bidding", "cost-centre": "rtb"}})
    live = tenant_e2e.wait_in_service("bid-filter", generation=2)
    assert status_of(live)["endpointName"] == "adtech-bid-filter"
    assert tenant_e2e.sagemaker.list_endpoints()["Endpoints"][0]["EndpointName"] == "adtech-bid-filter"
