"""Adoption end to end: an endpoint made without the operator is a name conflict until the adoption annotation names
it; then the operator tags it, moves it onto a config built from the spec with one UpdateEndpoint (keeping the
variant's name, as a blue/green deployment requires) and, on delete, deletes it, while the config and model it was
found with (not the operator's) stay. An endpoint another resource owns is never adopted: the annotation naming it is
refused and nothing of it changes. The operator process runs against the Kubernetes API emulator and the AWS emulator
(SageMaker's lifecycle, UpdateEndpoint included), driven with the real kubectl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e_support import NAMESPACE, EndToEnd, Resource, condition, status_of
from fixtures_aws import AwsClientFactory
from fixtures_kubernetes import Kubectl
from lowlatency.desired import TAG_UID
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.reconciler import ADOPT_ANNOTATION
from operator_process import OperatorProcess, wait_for
from specs import bid_filter_spec

pytest_plugins = ["e2e_fixtures"]

HAND_MADE = "adtech-bidder"


def lowlatency_endpoint(kubectl: Kubectl) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(kubectl("get", "lle", "bidder", "-n", "adtech", "-o", "json").stdout)
    return found


def status(kubectl: Kubectl) -> dict[str, Any]:
    return lowlatency_endpoint(kubectl).get("status") or {}


def event_reasons(kubectl: Kubectl) -> list[str]:
    events = json.loads(kubectl("get", "events", "-n", "adtech", "-o", "json").stdout)["items"]
    return [event["reason"] for event in events]


def make_endpoint_by_hand(sagemaker: Any) -> str:
    """An endpoint made without the operator, as a team had it before (its ARN); InService at the emulator's pace."""
    sagemaker.create_model(
        ModelName="hand-made-model",
        PrimaryContainer={"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerExecution",
    )
    # Not the operator's AllTraffic: a blue/green deployment must keep the variant's name.
    variant = {"VariantName": "Primary", "ModelName": "hand-made-model", "InstanceType": "ml.c5.xlarge"}
    sagemaker.create_endpoint_config(
        EndpointConfigName="hand-made-config", ProductionVariants=[variant | {"InitialInstanceCount": 1}]
    )
    arn: str = sagemaker.create_endpoint(EndpointName=HAND_MADE, EndpointConfigName="hand-made-config")["EndpointArn"]
    return arn


def adopting(name: str, endpoint_name: str) -> str:
    """The YAML of a resource of the test namespace that carries the adoption annotation from the start."""
    document = {
        "apiVersion": "lowlatency.io/v1alpha1",
        "kind": "LowLatencyEndpoint",
        "metadata": {"namespace": NAMESPACE, "name": name, "annotations": {ADOPT_ANNOTATION: endpoint_name}},
        "spec": bid_filter_spec(),
    }
    return yaml.safe_dump(document)


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("lowlatency_crd")
def test_an_endpoint_is_adopted_when_annotated_managed_and_deleted_as_ours(
    kubectl: Kubectl, kubeconfig: Path, aws_emulator: AwsEmulator, aws_client: AwsClientFactory, tmp_path: Path
) -> None:
    sagemaker = aws_client("sagemaker")
    arn = make_endpoint_by_hand(sagemaker)
    kubectl("create", "namespace", "adtech")
    document = {
        "apiVersion": "lowlatency.io/v1alpha1",
        "kind": "LowLatencyEndpoint",
        "metadata": {"namespace": "adtech", "name": "bidder"},
        "spec": bid_filter_spec(),
    }
    # A long resync: only the annotation's own handler can start the adoption within the test's time.
    arguments = ["--resync-seconds", "300"]
    operator = OperatorProcess(kubeconfig, aws_emulator.environment(), tmp_path / "operator.log", arguments)
    operator.start()
    try:
        kubectl("apply", "-f", "-", input=yaml.safe_dump(document))
        conflict = wait_for(
            lambda: (status(kubectl).get("conditions") or None) and status(kubectl),
            what="a verdict on the name conflict",
            operator=operator,
        )
        assert conflict["phase"] == "Failed"
        assert "not managed by lowlatency-operator" in conflict["failureReason"]

        kubectl("annotate", "lle", "bidder", "-n", "adtech", f"{ADOPT_ANNOTATION}={HAND_MADE}")
        adopted = wait_for(
            lambda: status(kubectl) if status(kubectl).get("phase") == "InService" else None,
            timeout=40,
            what="the adopted endpoint InService on the spec's config",
            operator=operator,
        )
        assert adopted["endpointArn"] == arn
        assert adopted["endpointConfigName"].startswith("adtech-bidder-")
        config = sagemaker.describe_endpoint_config(EndpointConfigName=adopted["endpointConfigName"])
        assert [variant["VariantName"] for variant in config["ProductionVariants"]] == ["Primary"]
        tags = {tag["Key"]: tag["Value"] for tag in sagemaker.list_tags(ResourceArn=arn)["Tags"]}
        assert tags[TAG_UID] == lowlatency_endpoint(kubectl)["metadata"]["uid"]
        assert "Adopted" in event_reasons(kubectl)
        assert aws_emulator.count("UpdateEndpoint") == 1

        kubectl("delete", "lle", "bidder", "-n", "adtech", "--timeout=60s", timeout=70)
    finally:
        operator.stop()

    assert sagemaker.list_endpoints()["Endpoints"] == []
    configs = [config["EndpointConfigName"] for config in sagemaker.list_endpoint_configs()["EndpointConfigs"]]
    models = [model["ModelName"] for model in sagemaker.list_models()["Models"]]
    assert configs == ["hand-made-config"], "the operator deletes only what carries its tags"
    assert models == ["hand-made-model"]


@pytest.mark.timeout(90)
def test_adoption_moves_the_endpoint_with_one_update_endpoint(e2e: EndToEnd) -> None:
    """Every resync after the adoption finds the endpoint on the spec's config: the one UpdateEndpoint stays one."""
    arn = make_endpoint_by_hand(e2e.sagemaker)
    e2e.aws.reset_calls()  # from here on, the operator's calls
    e2e.kubectl("apply", "-f", "-", input=adopting("bidder", HAND_MADE))
    adopted = status_of(e2e.wait_in_service("bidder", timeout=40))
    assert adopted["endpointArn"] == arn
    e2e.after_passes(3)  # resyncs of the adopted endpoint, 2 s apart

    [update] = e2e.aws.calls(operation="UpdateEndpoint")
    assert (update.resource, update.status) == (HAND_MADE, 200)
    live = e2e.sagemaker.describe_endpoint(EndpointName=HAND_MADE)
    assert live["EndpointConfigName"] == adopted["endpointConfigName"]
    assert e2e.aws.count("CreateEndpoint") == 0


@pytest.mark.timeout(90)
def test_an_endpoint_another_resource_owns_is_not_adopted_and_left_untouched(e2e: EndToEnd) -> None:
    owner = status_of(e2e.create("owner"))
    taken = owner["endpointName"]
    tags_before = e2e.tags(owner["endpointArn"])
    described_before = e2e.sagemaker.describe_endpoint(EndpointName=taken)
    e2e.aws.reset_calls()

    e2e.kubectl("apply", "-f", "-", input=adopting("bidder", taken))

    def refused(found: Resource) -> bool:
        return status_of(found).get("phase") == "Failed"

    verdict = e2e.wait_for_status("bidder", refused, "a verdict on the adoption")
    ready = condition(verdict, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "NameConflict")
    assert f"owned by {NAMESPACE}/owner" in ready["message"]
    assert "left untouched" in status_of(verdict)["failureReason"]
    e2e.after_passes(3)
    e2e.delete("bidder")  # its finalizer must not delete what it never owned

    assert e2e.aws.mutating_calls() == []
    assert e2e.tags(owner["endpointArn"]) == tags_before
    described = e2e.sagemaker.describe_endpoint(EndpointName=taken)
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == (
        "InService",
        described_before["EndpointConfigName"],
    )
    assert status_of(e2e.get("owner"))["phase"] == "InService"
