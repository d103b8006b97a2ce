"""Application Auto Scaling of a serverless variant's provisioned concurrency in the AWS emulator (issue 13), seen
through real boto3 clients: the dimension ``sagemaker:variant:DesiredProvisionedConcurrency`` is for serverless
variants with provisioned concurrency, tracked on ``SageMakerVariantProvisionedConcurrencyUtilization``; each test
names the rule's source as the emulator's docstring does."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from emulator_requests import DIMENSION, IMAGE, ROLE, VARIANT, client_error, code_of, make_config, message_of, status
from fixtures_aws import TEST_DELAYS, ManualClock

pytestmark = pytest.mark.timeout(60)

PROVISIONED = "sagemaker:variant:DesiredProvisionedConcurrency"
UTILIZATION = "SageMakerVariantProvisionedConcurrencyUtilization"


def make_serverless_config(sagemaker: Any, name: str, *, provisioned: int | None = 2) -> None:
    """A model and an endpoint config of the same name: one serverless variant of 2048 MB, at most 5 concurrent
    invocations, ``provisioned`` of them kept warm (none for None)."""
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    serverless: dict[str, int] = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    if provisioned is not None:
        serverless["ProvisionedConcurrency"] = provisioned
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": VARIANT, "ModelName": name, "ServerlessConfig": serverless}],
    )


def serving(
    sagemaker: Any, clock: ManualClock, name: str, *, serverless: bool = True, provisioned: int | None = 2
) -> str:
    """An InService endpoint ``name`` on a config of the same name (serverless, or 2 instances of ml.c5.xlarge)."""
    if serverless:
        make_serverless_config(sagemaker, name, provisioned=provisioned)
    else:
        make_config(sagemaker, name)
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    clock.advance(TEST_DELAYS.create)
    assert status(sagemaker, name) == "InService"
    return name


def scope(endpoint: str, dimension: str = PROVISIONED) -> dict[str, str]:
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{endpoint}/variant/{VARIANT}",
        "ScalableDimension": dimension,
    }


def register_target(autoscaling: Any, endpoint: str, dimension: str = PROVISIONED, low: int = 1, high: int = 4) -> None:
    autoscaling.register_scalable_target(MinCapacity=low, MaxCapacity=high, **scope(endpoint, dimension))


def tracking(metric: str, target: float = 0.5) -> dict[str, Any]:
    return {"TargetValue": target, "PredefinedMetricSpecification": {"PredefinedMetricType": metric}}


def put_policy(autoscaling: Any, endpoint: str, metric: str, dimension: str = PROVISIONED) -> Any:
    return autoscaling.put_scaling_policy(
        PolicyName="pc",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration=tracking(metric),
        **scope(endpoint, dimension),
    )


def test_provisioned_concurrency_of_a_serverless_variant_is_registered_and_tracked_on_its_utilization(
    sagemaker: Any, autoscaling: Any, aws_clock: ManualClock
) -> None:
    """Developer guide, "Automatically scale Provisioned Concurrency for a serverless endpoint": register the variant
    with sagemaker:variant:DesiredProvisionedConcurrency, then a target tracking policy on
    SageMakerVariantProvisionedConcurrencyUtilization; the registration waits for InService, as for instances."""
    make_serverless_config(sagemaker, "chat")
    sagemaker.create_endpoint(EndpointName="chat", EndpointConfigName="chat")
    creating = client_error(lambda: register_target(autoscaling, "chat"))
    aws_clock.advance(TEST_DELAYS.create)

    register_target(autoscaling, "chat")
    put_policy(autoscaling, "chat", UTILIZATION)

    assert "The status should be in 'InService'" in message_of(creating)
    (target,) = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert (target["ScalableDimension"], target["MinCapacity"], target["MaxCapacity"]) == (PROVISIONED, 1, 4)
    (policy,) = autoscaling.describe_scaling_policies(**scope("chat"))["ScalingPolicies"]
    tracked = policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert tracked["PredefinedMetricType"] == UTILIZATION


def test_each_sagemaker_dimension_is_registered_only_for_its_kind_of_variant(
    sagemaker: Any, autoscaling: Any, aws_clock: ManualClock
) -> None:
    """Developer guide, "Automatically scale Provisioned Concurrency for a serverless endpoint": provisioned
    concurrency is scaled on a serverless endpoint deployed with Provisioned Concurrency; botocore
    application-autoscaling RegisterScalableTargetRequest.ScalableDimension: DesiredInstanceCount is "the number of
    EC2 instances", which a serverless variant does not have."""
    instances = serving(sagemaker, aws_clock, "bid", serverless=False)
    on_demand = serving(sagemaker, aws_clock, "spiky", provisioned=None)
    warm = serving(sagemaker, aws_clock, "chat")

    refused = {
        "provisioned concurrency of instances": (instances, PROVISIONED, "is instance-backed"),
        "provisioned concurrency without any": (on_demand, PROVISIONED, "is serverless without provisioned"),
        "instance count of a serverless variant": (warm, DIMENSION, "is serverless"),
    }
    for case, (endpoint, dimension, kind) in refused.items():
        error = client_error(partial(register_target, autoscaling, endpoint, dimension))
        assert code_of(error) == "ValidationException", case
        assert f"Variant {VARIANT} of endpoint {endpoint} {kind}" in message_of(error), case
        assert dimension in message_of(error), case
    assert autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []

    register_target(autoscaling, instances, DIMENSION)
    register_target(autoscaling, warm, PROVISIONED)
    registered = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert {(t["ResourceId"], t["ScalableDimension"]) for t in registered} == {
        (scope(instances)["ResourceId"], DIMENSION),
        (scope(warm)["ResourceId"], PROVISIONED),
    }


def test_the_bounds_of_provisioned_concurrency_are_ordered_and_may_start_at_zero(
    sagemaker: Any, autoscaling: Any, aws_clock: ManualClock
) -> None:
    """API reference, RegisterScalableTarget: a minimum above the maximum is refused; the minimum allowed is 0 for
    "SageMaker serverless endpoint provisioned concurrency" (botocore application-autoscaling
    RegisterScalableTargetRequest.MinCapacity)."""
    warm = serving(sagemaker, aws_clock, "chat")

    upside_down = client_error(lambda: register_target(autoscaling, warm, low=5, high=2))
    register_target(autoscaling, warm, low=0, high=3)

    assert code_of(upside_down) == "ValidationException"
    assert "Minimum capacity cannot be greater than maximum capacity" in message_of(upside_down)
    (target,) = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 3)


def test_a_target_tracking_policy_tracks_a_metric_of_its_dimension(
    sagemaker: Any, autoscaling: Any, aws_clock: ManualClock
) -> None:
    """AWS answers "Scalable dimension sagemaker:variant:DesiredProvisionedConcurrency only supports the following
    predefined metric types: SageMakerVariantProvisionedConcurrencyUtilization" (aws/aws-cdk#29065); the instance
    count's predefined metrics are InvocationsPerInstance and ConcurrentRequestsPerModelHighResolution (developer
    guide, "Define a scaling policy")."""
    instances = serving(sagemaker, aws_clock, "bid", serverless=False)
    warm = serving(sagemaker, aws_clock, "chat")
    register_target(autoscaling, instances, DIMENSION)
    register_target(autoscaling, warm)

    per_instance = client_error(lambda: put_policy(autoscaling, warm, "SageMakerVariantInvocationsPerInstance"))
    of_lambda = client_error(lambda: put_policy(autoscaling, warm, "LambdaProvisionedConcurrencyUtilization"))
    utilization_of_instances = client_error(lambda: put_policy(autoscaling, instances, UTILIZATION, DIMENSION))
    put_policy(autoscaling, instances, "SageMakerVariantConcurrentRequestsPerModelHighResolution", DIMENSION)
    put_policy(autoscaling, warm, UTILIZATION)

    for refused in (per_instance, of_lambda):
        assert code_of(refused) == "ValidationException"
        assert message_of(refused) == (
            f"Scalable dimension {PROVISIONED} only supports the following predefined metric types: {UTILIZATION}"
        )
    assert code_of(utilization_of_instances) == "ValidationException"
    assert message_of(utilization_of_instances).startswith(
        f"Scalable dimension {DIMENSION} only supports the following predefined metric types: "
        "SageMakerVariantInvocationsPerInstance"
    )
    policies = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    assert {(p["ResourceId"], p["ScalableDimension"]) for p in policies} == {
        (scope(instances)["ResourceId"], DIMENSION),
        (scope(warm)["ResourceId"], PROVISIONED),
    }


def test_deleting_the_endpoint_deregisters_its_provisioned_concurrency_with_its_policies(
    sagemaker: Any, autoscaling: Any, aws_clock: ManualClock
) -> None:
    """As for instance counts, the service deregisters a deleted endpoint's variants, and a target's policies and
    scheduled actions go with it (API reference, DeregisterScalableTarget)."""
    warm = serving(sagemaker, aws_clock, "chat")
    register_target(autoscaling, warm)
    put_policy(autoscaling, warm, UTILIZATION)
    autoscaling.put_scheduled_action(
        ScheduledActionName="office-hours",
        Schedule="cron(55 8 ? * MON-FRI *)",
        ScalableTargetAction={"MinCapacity": 3},
        **scope(warm),
    )

    sagemaker.delete_endpoint(EndpointName=warm)
    aws_clock.advance(TEST_DELAYS.delete)

    assert autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    assert autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"] == []
    assert autoscaling.describe_scheduled_actions(ServiceNamespace="sagemaker")["ScheduledActions"] == []
