"""Requests AWS refuses outright, in reconciliation passes against the AWS emulator (the Kubernetes side played by
hand, as in test_reconciler_aws): the refusal is reported, never sent again for the same generation, and what still
serves keeps its autoscaling.

The emulator's clock is driven by hand, so that each pass sees SageMaker exactly where the test put it.
"""

from __future__ import annotations

from typing import Any

import pytest

from aws_passes import converge, resource_body, run_pass
from fixtures_aws import ManualClock
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.reconciler import EndpointReconciler
from specs import bid_filter_spec

pytestmark = pytest.mark.timeout(60)

NAME = "refused"
RESOURCE_ID = f"endpoint/adtech-{NAME}/variant/AllTraffic"
SCALING = {"minCapacity": 2, "maxCapacity": 8, "targetInvocationsPerInstance": 6000}
REFUSAL = "The instance type ml.c5.2xlarge is not supported for endpoints in this Region"


@pytest.fixture
def reconciler(reconciler_on_emulator: EndpointReconciler) -> EndpointReconciler:
    return reconciler_on_emulator


def scaling_of(autoscaling: Any) -> tuple[list[tuple[int, int]], list[str]]:
    """The variant's scalable targets (min, max) and scaling policy names, as Application Auto Scaling lists them."""
    targets = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[RESOURCE_ID])
    policies = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=RESOURCE_ID)
    return (
        [(target["MinCapacity"], target["MaxCapacity"]) for target in targets["ScalableTargets"]],
        [policy["PolicyName"] for policy in policies["ScalingPolicies"]],
    )


def condition(body: dict[str, Any], type_: str) -> dict[str, Any]:
    (found,) = [c for c in body["status"]["conditions"] if c["type"] == type_]
    return found


def change_instance_type(body: dict[str, Any]) -> None:
    body["spec"]["instanceType"] = "ml.c5.2xlarge"
    body["metadata"]["generation"] = 2


@pytest.fixture
def autoscaled(reconciler: EndpointReconciler, aws_clock: ManualClock, autoscaling: Any) -> dict[str, Any]:
    """An InService endpoint under autoscaling, as a resource body at generation 1."""
    body = resource_body(NAME, bid_filter_spec(autoscaling=SCALING))
    converge(reconciler, body, aws_clock.advance)
    assert scaling_of(autoscaling) == ([(2, 8)], [f"adtech-{NAME}-invocations-per-instance"])
    return body


def test_a_refused_instance_type_change_gets_autoscaling_back_and_is_not_sent_again(
    reconciler: EndpointReconciler, aws_emulator: AwsEmulator, autoscaling: Any, autoscaled: dict[str, Any]
) -> None:
    serving = autoscaled["status"]["endpointConfigName"]
    change_instance_type(autoscaled)
    aws_emulator.faults.reject("UpdateEndpoint", "ValidationException", REFUSAL)

    refused = run_pass(reconciler, autoscaled)

    assert [(event.type, event.reason) for event in refused.events] == [("Warning", "AWSRejected")]
    assert scaling_of(autoscaling) == ([], [])  # deregistered for the move, as Application Auto Scaling requires
    degraded = condition(autoscaled, "Degraded")
    assert (degraded["status"], degraded["reason"], degraded["observedGeneration"]) == ("True", "AWSRejected", 2)
    assert "UpdateEndpoint" in degraded["message"]
    assert REFUSAL in degraded["message"]

    restoring = run_pass(reconciler, autoscaled)

    assert restoring.events == ()
    assert scaling_of(autoscaling) == ([(2, 8)], [f"adtech-{NAME}-invocations-per-instance"])
    assert condition(autoscaled, "Degraded") == degraded
    aws_emulator.reset_calls()
    for _ in range(3):
        assert run_pass(reconciler, autoscaled).events == ()
    assert aws_emulator.mutating_calls() == []
    assert aws_emulator.count("UpdateEndpoint") == 0
    status = autoscaled["status"]
    assert (status["phase"], status["endpointConfigName"], status["observedGeneration"]) == ("InService", serving, 1)
    assert condition(autoscaled, "Ready")["status"] == "True"
    assert condition(autoscaled, "Degraded") == degraded


def test_a_refused_restore_is_reported_and_not_sent_again(
    reconciler: EndpointReconciler, aws_emulator: AwsEmulator, autoscaling: Any, autoscaled: dict[str, Any]
) -> None:
    change_instance_type(autoscaled)
    aws_emulator.faults.reject("UpdateEndpoint", "ValidationException", REFUSAL)
    aws_emulator.faults.reject("RegisterScalableTarget", "AccessDeniedException", "Not authorized", times=5)
    aws_emulator.reset_calls()
    run_pass(reconciler, autoscaled)

    refused_restore = run_pass(reconciler, autoscaled)

    assert [(event.type, event.reason) for event in refused_restore.events] == [("Warning", "AWSRejected")]
    assert "RegisterScalableTarget" in condition(autoscaled, "Degraded")["message"]
    for _ in range(3):
        assert run_pass(reconciler, autoscaled).events == ()
    assert aws_emulator.count("RegisterScalableTarget") == 1
    assert aws_emulator.count("UpdateEndpoint") == 1
    assert scaling_of(autoscaling) == ([], [])


def test_a_spec_change_after_a_refusal_tries_again(
    reconciler: EndpointReconciler,
    aws_emulator: AwsEmulator,
    aws_clock: ManualClock,
    autoscaling: Any,
    autoscaled: dict[str, Any],
) -> None:
    change_instance_type(autoscaled)
    aws_emulator.faults.reject("UpdateEndpoint", "ValidationException", REFUSAL)
    aws_emulator.reset_calls()
    run_pass(reconciler, autoscaled)
    run_pass(reconciler, autoscaled)

    autoscaled["metadata"]["generation"] = 3
    converge(reconciler, autoscaled, aws_clock.advance)

    assert aws_emulator.count("UpdateEndpoint") == 2
    assert autoscaled["status"]["observedGeneration"] == 3
    assert condition(autoscaled, "Degraded")["status"] == "False"
    assert scaling_of(autoscaling) == ([(2, 8)], [f"adtech-{NAME}-invocations-per-instance"])


def test_a_model_artifact_that_is_not_in_s3_is_a_rejection_naming_it_until_the_spec_changes(
    reconciler: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock
) -> None:
    artifact = "s3://acme-models/rtb/xgboost/model-3.tar.gz"
    body = resource_body(NAME, bid_filter_spec(model={**bid_filter_spec()["model"], "modelDataUrl": artifact}))

    refused = run_pass(reconciler, body)

    assert [(event.type, event.reason) for event in refused.events] == [("Warning", "AWSRejected")]
    ready = condition(body, "Ready")
    assert (body["status"]["phase"], ready["status"], ready["reason"]) == ("Failed", "False", "AWSRejected")
    assert f"CreateModel failed: ValidationException: Could not find model data at {artifact}" in ready["message"]
    for _ in range(3):
        assert not run_pass(reconciler, body).retry
    assert aws_emulator.count("CreateModel") == 1, "a refused create is not sent again for the same generation"

    aws_emulator.put_model_artifact(artifact)
    body["metadata"]["generation"] = 2
    converge(reconciler, body, aws_clock.advance)
    assert body["status"]["observedGeneration"] == 2
