"""Adoption end to end: an endpoint made without the operator is a name conflict until the adoption annotation names
it; then the operator tags it, moves it onto a config built from the spec (keeping the variant's name, as a
blue/green deployment requires) and, on delete, deletes it, while the config and model it was found with (not the
operator's) stay. The operator process runs against the Kubernetes API
emulator and the AWS emulator (SageMaker's lifecycle, UpdateEndpoint included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures_aws import AwsClientFactory
from fixtures_kubernetes import Kubectl
from lowlatency.desired import TAG_UID
from lowlatency.reconciler import ADOPT_ANNOTATION
from operator_process import OperatorProcess, wait_for
from specs import bid_filter_spec


def lowlatency_endpoint(kubectl: Kubectl) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(kubectl("get", "lle", "bidder", "-n", "adtech", "-o", "json").stdout)
    return found


def status(kubectl: Kubectl) -> dict[str, Any]:
    return lowlatency_endpoint(kubectl).get("status") or {}


def event_reasons(kubectl: Kubectl) -> list[str]:
    events = json.loads(kubectl("get", "events", "-n", "adtech", "-o", "json").stdout)["items"]
    return [event["reason"] for event in events]


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("lowlatency_crd")
def test_an_endpoint_is_adopted_when_annotated_managed_and_deleted_as_ours(
    kubectl: Kubectl, kubeconfig: Path, aws_environment: dict[str, str], aws_client: AwsClientFactory, tmp_path: Path
) -> None:
    sagemaker = aws_client("sagemaker")
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
    arn = sagemaker.create_endpoint(EndpointName="adtech-bidder", EndpointConfigName="hand-made-config")["EndpointArn"]
    kubectl("create", "namespace", "adtech")
    document = {
        "apiVersion": "lowlatency.io/v1alpha1",
        "kind": "LowLatencyEndpoint",
        "metadata": {"namespace": "adtech", "name": "bidder"},
        "spec": bid_filter_spec(),
    }
    # A long resync: only the annotation's own handler can start the adoption within the test's time.
    operator = OperatorProcess(kubeconfig, aws_environment, tmp_path / "operator.log", ["--resync-seconds", "300"])
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

        kubectl("annotate", "lle", "bidder", "-n", "adtech", f"{ADOPT_ANNOTATION}=adtech-bidder")
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

        kubectl("delete", "lle", "bidder", "-n", "adtech", "--timeout=60s", timeout=70)
    finally:
        operator.stop()

    assert sagemaker.list_endpoints()["Endpoints"] == []
    configs = [config["EndpointConfigName"] for config in sagemaker.list_endpoint_configs()["EndpointConfigs"]]
    models = [model["ModelName"] for model in sagemaker.list_models()["Models"]]
    assert configs == ["hand-made-config"], "the operator deletes only what carries its tags"
    assert models == ["hand-made-model"]
