"""Application Auto Scaling rules the AWS emulator enforces because the service does (issue 11), seen through real
boto3 clients; each test names the rule's source as the emulator's docstring does."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from emulator_requests import DIMENSION, client_error, code_of, make_config, message_of, register, status
from fixtures_aws import TEST_DELAYS, ManualClock
from lowlatency.aws import ErrorKind, classify
from lowlatency.emulators.aws import AwsEmulator

pytestmark = pytest.mark.timeout(60)


def test_an_update_that_removes_a_registered_variant_is_refused_until_it_is_deregistered(
    sagemaker: Any, autoscaling: Any, in_service: str, aws_clock: ManualClock
) -> None:
    """Developer guide, "Update endpoints that use auto scaling": a variant registered as a scalable target must be
    deregistered before an update removes it."""
    resource_id = register(autoscaling, in_service)
    make_config(sagemaker, "bid-primary", variant="Primary")

    refused = client_error(lambda: sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-primary"))

    assert code_of(refused) == "ValidationException"
    assert "['AllTraffic']" in message_of(refused)
    assert status(sagemaker, in_service) == "InService"
    autoscaling.deregister_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=resource_id, ScalableDimension="sagemaker:variant:DesiredInstanceCount"
    )
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-primary")
    aws_clock.advance(TEST_DELAYS.update)
    described = sagemaker.describe_endpoint(EndpointName=in_service)
    assert [variant["VariantName"] for variant in described["ProductionVariants"]] == ["Primary"]


def test_a_variant_is_registered_only_while_its_endpoint_is_in_service(
    aws_emulator: AwsEmulator, sagemaker: Any, autoscaling: Any, aws_clock: ManualClock
) -> None:
    """Developer guide, "Update endpoints that use auto scaling": auto scaling is blocked while an update is in
    progress; Application Auto Scaling answers that the status should be InService."""
    make_config(sagemaker, "bid-v1")
    sagemaker.create_endpoint(EndpointName="bid", EndpointConfigName="bid-v1")

    creating = client_error(lambda: register(autoscaling, "bid"))
    aws_clock.advance(TEST_DELAYS.create)
    aws_emulator.sagemaker.start_maintenance("bid")
    maintained = client_error(lambda: register(autoscaling, "bid"))

    for refused in (creating, maintained):
        assert code_of(refused) == "ValidationException"
        assert "The status should be in 'InService' to register it as a scalable target" in message_of(refused)
        assert classify("application-autoscaling:RegisterScalableTarget", refused).kind is ErrorKind.TRANSIENT
    assert autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    aws_clock.advance(aws_emulator.sagemaker.delays.maintenance)
    register(autoscaling, "bid")
    assert len(autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]) == 1


def test_a_scalable_target_just_registered_may_not_be_seen_by_put_scaling_policy_yet(
    aws_emulator: AwsEmulator, autoscaling: Any, in_service: str, aws_clock: ManualClock
) -> None:
    """API reference, RegisterScalableTarget: "there might be a brief delay until the operation achieves eventual
    consistency"."""
    aws_emulator.sagemaker.delays = replace(TEST_DELAYS, target_visibility=1.0)
    resource_id = register(autoscaling, in_service)
    scope = {"ServiceNamespace": "sagemaker", "ResourceId": resource_id, "ScalableDimension": DIMENSION}
    policy = {
        "TargetValue": 6000.0,
        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
    }

    unseen = client_error(
        lambda: autoscaling.put_scaling_policy(
            PolicyName="p", PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=policy, **scope
        )
    )

    assert code_of(unseen) == "ObjectNotFoundException"
    aws_clock.advance(1.0)
    autoscaling.put_scaling_policy(
        PolicyName="p", PolicyType="TargetTrackingScaling", TargetTrackingScalingPolicyConfiguration=policy, **scope
    )
    assert [p["PolicyName"] for p in autoscaling.describe_scaling_policies(**scope)["ScalingPolicies"]] == ["p"]
