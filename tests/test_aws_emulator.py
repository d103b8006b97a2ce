"""The AWS emulator behaves like SageMaker, Application Auto Scaling and EC2, seen through real boto3 clients over HTTP.

Lifecycle tests drive the emulator's clock by hand (``aws_clock``), so each state is observed exactly; the timing
test and the concurrency tests use the real clock.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from emulator_requests import (
    DIMENSION,
    IMAGE,
    NEW_IMAGE,
    ROLE,
    VARIANT,
    client_error,
    code_of,
    counts,
    make_config,
    register,
    status,
)
from fixtures_aws import TEST_DELAYS, AwsClientFactory, ManualClock
from lowlatency import endpoints, planner
from lowlatency.aws import AwsClients, AwsSettings, ErrorKind, RegionClients, classify, is_already_exists
from lowlatency.desired import DesiredEndpoint, Owner, ScheduledScaling, build_desired
from lowlatency.emulators.aws import AwsEmulator, Delays
from lowlatency.emulators.model_server import Fixed, ModelServer
from specs import bid_filter_spec, parsed

pytestmark = pytest.mark.timeout(60)


# Creation


def test_create_is_creating_then_in_service_after_the_configured_delay(
    aws_emulator: AwsEmulator, sagemaker: Any
) -> None:
    aws_emulator.sagemaker.delays = Delays(create=0.3)
    make_config(sagemaker, "timed-v1")
    started = time.monotonic()
    arn = sagemaker.create_endpoint(EndpointName="timed", EndpointConfigName="timed-v1")["EndpointArn"]
    described = sagemaker.describe_endpoint(EndpointName="timed")
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/timed"
    assert described["EndpointStatus"] == "Creating"
    assert "ProductionVariants" not in described
    while status(sagemaker, "timed") == "Creating":
        assert time.monotonic() - started < 5, "never left Creating"
        time.sleep(0.02)
    assert time.monotonic() - started >= 0.3
    assert status(sagemaker, "timed") == "InService"
    assert counts(sagemaker, "timed") == (2, 2)


def test_in_service_endpoint_describes_variants_images_and_times(sagemaker: Any, in_service: str) -> None:
    described = sagemaker.describe_endpoint(EndpointName=in_service)
    assert described["EndpointConfigName"] == "bid-v1"
    variant = described["ProductionVariants"][0]
    assert variant["VariantName"] == VARIANT
    assert variant["DeployedImages"][0]["SpecifiedImage"] == IMAGE
    assert variant["DeployedImages"][0]["ResolvedImage"].startswith(IMAGE.partition(":")[0] + "@sha256:")
    assert described["LastModifiedTime"] > described["CreationTime"]
    assert "FailureReason" not in described
    listed = sagemaker.list_endpoints()["Endpoints"]
    assert [(e["EndpointName"], e["EndpointStatus"]) for e in listed] == [(in_service, "InService")]


def test_injected_create_failure_ends_failed_with_the_reason(
    aws_emulator: AwsEmulator, sagemaker: Any, aws_clock: ManualClock
) -> None:
    reason = "The primary container for production variant AllTraffic did not pass the ping health check."
    aws_emulator.sagemaker.fail_next_create("broken", reason)
    make_config(sagemaker, "broken-v1")
    sagemaker.create_endpoint(EndpointName="broken", EndpointConfigName="broken-v1")
    assert status(sagemaker, "broken") == "Creating"
    aws_clock.advance(TEST_DELAYS.create)
    described = sagemaker.describe_endpoint(EndpointName="broken")
    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"] == reason
    make_config(sagemaker, "broken-v2")
    error = client_error(lambda: sagemaker.update_endpoint(EndpointName="broken", EndpointConfigName="broken-v2"))
    assert code_of(error) == "ValidationException"
    # Only the next create fails: the same name, deleted and created again, comes up.
    sagemaker.delete_endpoint(EndpointName="broken")
    aws_clock.advance(TEST_DELAYS.delete)
    sagemaker.create_endpoint(EndpointName="broken", EndpointConfigName="broken-v2")
    aws_clock.advance(TEST_DELAYS.create)
    assert status(sagemaker, "broken") == "InService"


def test_creating_what_exists_is_refused_as_sagemaker_does(sagemaker: Any, in_service: str) -> None:
    attempts = {
        "sagemaker:CreateModel": lambda: sagemaker.create_model(
            ModelName="bid-v1", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}
        ),
        "sagemaker:CreateEndpointConfig": lambda: sagemaker.create_endpoint_config(
            EndpointConfigName="bid-v1",
            ProductionVariants=[
                {
                    "VariantName": VARIANT,
                    "ModelName": "bid-v1",
                    "InstanceType": "ml.c5.xlarge",
                    "InitialInstanceCount": 1,
                }
            ],
        ),
        "sagemaker:CreateEndpoint": lambda: sagemaker.create_endpoint(
            EndpointName=in_service, EndpointConfigName="bid-v1"
        ),
    }
    for action, attempt in attempts.items():
        error = client_error(attempt)
        assert code_of(error) == "ValidationException"
        assert "Cannot create already existing" in error.response["Error"]["Message"]
        assert is_already_exists(classify(action, error)), action


def test_configs_take_the_instance_types_sagemaker_offers(sagemaker: Any) -> None:
    make_config(sagemaker, "current", instance_type="ml.c6i.xlarge")
    assert sagemaker.describe_endpoint_config(EndpointConfigName="current")["ProductionVariants"][0][
        "InstanceType"
    ] == ("ml.c6i.xlarge")
    error = client_error(lambda: make_config(sagemaker, "made-up", instance_type="ml.z9.mega"))
    assert code_of(error) == "ValidationException"
    assert "ml.z9.mega" in error.response["Error"]["Message"]


def test_create_with_a_missing_config_or_model_is_refused(sagemaker: Any) -> None:
    error = client_error(lambda: sagemaker.create_endpoint(EndpointName="orphan", EndpointConfigName="nothing"))
    assert "Could not find endpoint configuration" in error.response["Error"]["Message"]
    make_config(sagemaker, "modelless")
    sagemaker.delete_model(ModelName="modelless")
    error = client_error(lambda: sagemaker.create_endpoint(EndpointName="orphan", EndpointConfigName="modelless"))
    message = error.response["Error"]["Message"]
    assert message == 'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/modelless".'
    assert client_error(lambda: sagemaker.describe_endpoint(EndpointName="orphan"))


# Updates


def test_update_moves_to_the_new_config_through_updating_with_a_pending_deployment(
    sagemaker: Any, in_service: str, aws_clock: ManualClock
) -> None:
    make_config(sagemaker, "bid-v2", image=NEW_IMAGE, count=3)
    deployment = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                "WaitIntervalInSeconds": 300,
            },
            "TerminationWaitInSeconds": 120,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "bid-filter-p99-high"}]},
    }
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v2", DeploymentConfig=deployment)
    during = sagemaker.describe_endpoint(EndpointName=in_service)
    assert during["EndpointStatus"] == "Updating"
    assert during["EndpointConfigName"] == "bid-v1"  # the old fleet serves until the update completes
    assert during["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    pending = during["PendingDeploymentSummary"]
    assert pending["EndpointConfigName"] == "bid-v2"
    assert pending["ProductionVariants"][0]["InstanceType"] == "ml.c5.xlarge"
    assert pending["ProductionVariants"][0]["DesiredInstanceCount"] == 3
    assert pending["ProductionVariants"][0]["VariantStatus"][0]["Status"] == "Creating"
    aws_clock.advance(TEST_DELAYS.update * 0.75)
    baking = sagemaker.describe_endpoint(EndpointName=in_service)["PendingDeploymentSummary"]
    assert baking["ProductionVariants"][0]["VariantStatus"][0]["Status"] == "Baking"
    aws_clock.advance(TEST_DELAYS.update * 0.25)
    after = sagemaker.describe_endpoint(EndpointName=in_service)
    assert after["EndpointStatus"] == "InService"
    assert after["EndpointConfigName"] == "bid-v2"
    assert "PendingDeploymentSummary" not in after
    assert after["ProductionVariants"][0]["DeployedImages"][0]["SpecifiedImage"] == NEW_IMAGE
    # Without RetainAllVariantProperties the new config's InitialInstanceCount applies.
    assert counts(sagemaker, in_service) == (3, 3)
    assert after["LastDeploymentConfig"] == deployment


def test_retain_all_variant_properties_keeps_the_live_instance_count(
    sagemaker: Any, in_service: str, aws_clock: ManualClock
) -> None:
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=in_service, DesiredWeightsAndCapacities=[{"VariantName": VARIANT, "DesiredInstanceCount": 5}]
    )
    aws_clock.advance(TEST_DELAYS.capacity)
    make_config(sagemaker, "bid-v2", image=NEW_IMAGE, count=2)
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v2", RetainAllVariantProperties=True)
    aws_clock.advance(TEST_DELAYS.update)
    assert status(sagemaker, in_service) == "InService"
    assert counts(sagemaker, in_service) == (5, 5)
    # Excluding the count from what is retained applies the new config's count.
    make_config(sagemaker, "bid-v3", count=4)
    sagemaker.update_endpoint(
        EndpointName=in_service,
        EndpointConfigName="bid-v3",
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredInstanceCount"}],
    )
    aws_clock.advance(TEST_DELAYS.update)
    assert counts(sagemaker, in_service) == (4, 4)


def test_failed_update_rolls_back_to_the_old_config_in_service_with_the_reason(
    aws_emulator: AwsEmulator, sagemaker: Any, in_service: str, aws_clock: ManualClock
) -> None:
    reason = "Rolled back: alarm bid-filter-p99-high went into ALARM during the baking period."
    aws_emulator.sagemaker.fail_next_update(in_service, reason)
    make_config(sagemaker, "bid-v2", image=NEW_IMAGE, count=4)
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v2")
    assert status(sagemaker, in_service) == "Updating"
    aws_clock.advance(TEST_DELAYS.update)
    assert status(sagemaker, in_service) == "RollingBack"
    aws_clock.advance(TEST_DELAYS.rollback)
    after = sagemaker.describe_endpoint(EndpointName=in_service)
    assert after["EndpointStatus"] == "InService"
    assert after["EndpointConfigName"] == "bid-v1"
    assert after["FailureReason"] == reason
    assert counts(sagemaker, in_service) == (2, 2)
    assert after["ProductionVariants"][0]["DeployedImages"][0]["SpecifiedImage"] == IMAGE
    # The next update succeeds and clears the reason.
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v2")
    aws_clock.advance(TEST_DELAYS.update)
    again = sagemaker.describe_endpoint(EndpointName=in_service)
    assert (again["EndpointStatus"], again["EndpointConfigName"]) == ("InService", "bid-v2")
    assert "FailureReason" not in again


def test_updating_an_endpoint_that_is_not_in_service_is_refused(
    sagemaker: Any, in_service: str, aws_clock: ManualClock
) -> None:
    make_config(sagemaker, "bid-v2")
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v2")
    error = client_error(lambda: sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v2"))
    assert code_of(error) == "ValidationException"
    assert "Cannot update in-progress endpoint" in error.response["Error"]["Message"]
    # Busy, not refused: the operator looks again (the endpoint may be Updating with its own lost request).
    assert classify("sagemaker:UpdateEndpoint", error).kind is ErrorKind.TRANSIENT
    capacity = client_error(
        lambda: sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=in_service, DesiredWeightsAndCapacities=[{"VariantName": VARIANT, "DesiredInstanceCount": 3}]
        )
    )
    assert "Cannot update in-progress endpoint" in capacity.response["Error"]["Message"]
    missing = client_error(lambda: sagemaker.update_endpoint(EndpointName="nobody", EndpointConfigName="bid-v2"))
    assert classify("sagemaker:UpdateEndpoint", missing).kind is ErrorKind.NOT_FOUND


@pytest.mark.parametrize(
    ("deployment", "message"),
    [
        (
            {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": 60},
                }
            },
            "CanarySize",
        ),
        (
            {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "LINEAR",
                        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 5},
                        "WaitIntervalInSeconds": 60,
                    },
                }
            },
            "LinearStepSize",
        ),
        (
            {
                "RollingUpdatePolicy": {
                    "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 80},
                    "WaitIntervalInSeconds": 60,
                }
            },
            "MaximumBatchSize",
        ),
        (
            {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 7200},
                }
            },
            "WaitIntervalInSeconds",
        ),
    ],
)
def test_deployment_configs_that_sagemaker_rejects_are_rejected(
    sagemaker: Any, in_service: str, deployment: dict[str, Any], message: str
) -> None:
    make_config(sagemaker, "bid-v2")
    error = client_error(
        lambda: sagemaker.update_endpoint(
            EndpointName=in_service, EndpointConfigName="bid-v2", DeploymentConfig=deployment
        )
    )
    assert code_of(error) == "ValidationException"
    assert message in error.response["Error"]["Message"]
    assert status(sagemaker, in_service) == "InService"


def test_rolling_update_is_accepted_and_echoed(sagemaker: Any, in_service: str, aws_clock: ManualClock) -> None:
    rolling = {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
            "WaitIntervalInSeconds": 60,
        }
    }
    make_config(sagemaker, "bid-v2", image=NEW_IMAGE)
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v2", DeploymentConfig=rolling)
    aws_clock.advance(TEST_DELAYS.update)
    assert sagemaker.describe_endpoint(EndpointName=in_service)["LastDeploymentConfig"] == rolling


def test_weights_and_capacities_move_desired_then_current(
    sagemaker: Any, in_service: str, aws_clock: ManualClock
) -> None:
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=in_service, DesiredWeightsAndCapacities=[{"VariantName": VARIANT, "DesiredInstanceCount": 6}]
    )
    assert status(sagemaker, in_service) == "Updating"
    assert counts(sagemaker, in_service) == (2, 6)
    aws_clock.advance(TEST_DELAYS.capacity)
    assert status(sagemaker, in_service) == "InService"
    assert counts(sagemaker, in_service) == (6, 6)
    assert sagemaker.describe_endpoint(EndpointName=in_service)["EndpointConfigName"] == "bid-v1"
    unknown = client_error(
        lambda: sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=in_service, DesiredWeightsAndCapacities=[{"VariantName": "Other", "DesiredInstanceCount": 1}]
        )
    )
    assert "is/are not present" in unknown.response["Error"]["Message"]


# Deletion


def test_delete_is_deleting_then_gone_with_sagemakers_not_found_answer(
    sagemaker: Any, in_service: str, aws_clock: ManualClock
) -> None:
    sagemaker.delete_endpoint(EndpointName=in_service)
    assert status(sagemaker, in_service) == "Deleting"
    sagemaker.delete_endpoint(EndpointName=in_service)  # again while Deleting: accepted, the timer is not reset
    aws_clock.advance(TEST_DELAYS.delete)
    error = client_error(lambda: sagemaker.describe_endpoint(EndpointName=in_service))
    assert code_of(error) == "ValidationException"
    assert error.response["Error"]["Message"] == (
        'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/bid".'
    )
    assert classify("sagemaker:DescribeEndpoint", error).kind is ErrorKind.NOT_FOUND
    assert sagemaker.list_endpoints()["Endpoints"] == []
    again = client_error(lambda: sagemaker.delete_endpoint(EndpointName=in_service))
    assert classify("sagemaker:DeleteEndpoint", again).kind is ErrorKind.NOT_FOUND
    # The config and model were not in the way of deletion and go separately; a second time they are not found.
    sagemaker.delete_endpoint_config(EndpointConfigName="bid-v1")
    sagemaker.delete_model(ModelName="bid-v1")
    config = client_error(lambda: sagemaker.delete_endpoint_config(EndpointConfigName="bid-v1"))
    model = client_error(lambda: sagemaker.delete_model(ModelName="bid-v1"))
    assert 'Could not find endpoint configuration "arn:aws:sagemaker:' in config.response["Error"]["Message"]
    assert 'Could not find model "arn:aws:sagemaker:' in model.response["Error"]["Message"]
    assert classify("sagemaker:DeleteEndpointConfig", config).kind is ErrorKind.NOT_FOUND
    assert classify("sagemaker:DeleteModel", model).kind is ErrorKind.NOT_FOUND


# Tags


def test_tags_on_endpoint_config_and_model(sagemaker: Any, aws_clock: ManualClock) -> None:
    owner = [{"Key": "lowlatency.io/managed-by", "Value": "lowlatency-operator"}]
    sagemaker.create_model(ModelName="tagged", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}, Tags=owner)
    sagemaker.create_endpoint_config(
        EndpointConfigName="tagged",
        ProductionVariants=[
            {"VariantName": VARIANT, "ModelName": "tagged", "InstanceType": "ml.c5.xlarge", "InitialInstanceCount": 1}
        ],
        Tags=owner,
    )
    endpoint_arn = sagemaker.create_endpoint(EndpointName="tagged", EndpointConfigName="tagged", Tags=owner)[
        "EndpointArn"
    ]
    arns = [
        endpoint_arn,
        "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/tagged",
        "arn:aws:sagemaker:us-east-1:123456789012:model/tagged",
    ]
    for arn in arns:
        assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == owner
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "bidding"}])
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "pricing"}])  # overwrites, not a duplicate
        sagemaker.delete_tags(ResourceArn=arn, TagKeys=["lowlatency.io/managed-by"])
        assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "pricing"}]
    missing = client_error(
        lambda: sagemaker.list_tags(ResourceArn="arn:aws:sagemaker:us-east-1:123456789012:model/gone")
    )
    assert classify("sagemaker:ListTags", missing).kind is ErrorKind.NOT_FOUND


def test_tags_are_limited_to_fifty_per_resource(sagemaker: Any, in_service: str) -> None:
    arn = sagemaker.describe_endpoint(EndpointName=in_service)["EndpointArn"]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i:02}", "Value": str(i)} for i in range(50)])
    assert len(sagemaker.list_tags(ResourceArn=arn)["Tags"]) == 50
    error = client_error(lambda: sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "one-too-many", "Value": "x"}]))
    assert code_of(error) == "ValidationException"
    assert len(sagemaker.list_tags(ResourceArn=arn)["Tags"]) == 50


# Application Auto Scaling


def test_scalable_target_policy_and_schedules_in_the_services_shapes(autoscaling: Any, in_service: str) -> None:
    resource_id = register(autoscaling, in_service)
    scope = {"ServiceNamespace": "sagemaker", "ResourceId": resource_id, "ScalableDimension": DIMENSION}
    autoscaling.put_scaling_policy(
        PolicyName="invocations",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 6000.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleInCooldown": 300,
            "ScaleOutCooldown": 60,
        },
        **scope,
    )
    autoscaling.put_scheduled_action(
        ScheduledActionName="evening-peak",
        Schedule="cron(0 18 * * ? *)",
        ScalableTargetAction={"MinCapacity": 8, "MaxCapacity": 20},
        **scope,
    )
    target = autoscaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[resource_id], ScalableDimension=DIMENSION
    )["ScalableTargets"][0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 10)
    policy = autoscaling.describe_scaling_policies(**scope)["ScalingPolicies"][0]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert (tracking["TargetValue"], tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (6000.0, 300, 60)
    action = autoscaling.describe_scheduled_actions(**scope)["ScheduledActions"][0]
    assert action["Schedule"] == "cron(0 18 * * ? *)"
    assert action["ScalableTargetAction"] == {"MinCapacity": 8, "MaxCapacity": 20}
    autoscaling.delete_scheduled_action(ScheduledActionName="evening-peak", **scope)
    missing = client_error(lambda: autoscaling.delete_scheduled_action(ScheduledActionName="evening-peak", **scope))
    assert code_of(missing) == "ObjectNotFoundException"
    # Deregistering removes the target's policies too, as the real service does.
    autoscaling.deregister_scalable_target(**scope)
    assert autoscaling.describe_scaling_policies(**scope)["ScalingPolicies"] == []
    gone = client_error(lambda: autoscaling.deregister_scalable_target(**scope))
    assert code_of(gone) == "ObjectNotFoundException"
    assert classify("application-autoscaling:DeregisterScalableTarget", gone).kind is ErrorKind.NOT_FOUND


def test_policies_and_schedules_need_a_registered_target(autoscaling: Any, in_service: str) -> None:
    scope = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{in_service}/variant/{VARIANT}",
        "ScalableDimension": DIMENSION,
    }
    policy = client_error(
        lambda: autoscaling.put_scaling_policy(
            PolicyName="p",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 10.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            },
            **scope,
        )
    )
    schedule = client_error(
        lambda: autoscaling.put_scheduled_action(
            ScheduledActionName="s", Schedule="cron(0 18 * * ? *)", ScalableTargetAction={"MinCapacity": 1}, **scope
        )
    )
    assert code_of(policy) == code_of(schedule) == "ObjectNotFoundException"
    inverted = client_error(lambda: register(autoscaling, in_service, low=5, high=3))
    assert code_of(inverted) == "ValidationException"


def test_instance_type_change_of_a_registered_variant_is_refused(
    sagemaker: Any, autoscaling: Any, in_service: str, aws_clock: ManualClock
) -> None:
    resource_id = register(autoscaling, in_service)
    make_config(sagemaker, "bid-c5-2x", instance_type="ml.c5.2xlarge")
    error = client_error(lambda: sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-c5-2x"))
    assert code_of(error) == "ValidationException"
    assert "deregister" in error.response["Error"]["Message"]
    assert classify("sagemaker:UpdateEndpoint", error).kind is ErrorKind.PERMANENT
    assert status(sagemaker, in_service) == "InService"
    # A model change on the same instance type is allowed under autoscaling.
    make_config(sagemaker, "bid-image", image=NEW_IMAGE)
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-image", RetainAllVariantProperties=True)
    aws_clock.advance(TEST_DELAYS.update)
    # After deregistering, the instance type may change; then the variant is registered again.
    autoscaling.deregister_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=resource_id, ScalableDimension=DIMENSION
    )
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-c5-2x", RetainAllVariantProperties=True)
    aws_clock.advance(TEST_DELAYS.update)
    assert sagemaker.describe_endpoint(EndpointName=in_service)["EndpointConfigName"] == "bid-c5-2x"
    register(autoscaling, in_service)


def test_autoscaler_scale_out_is_kept_by_a_retaining_update(
    aws_emulator: AwsEmulator, sagemaker: Any, autoscaling: Any, in_service: str, aws_clock: ManualClock
) -> None:
    register(autoscaling, in_service, low=2, high=10)
    aws_emulator.sagemaker.scale(in_service, 7)
    aws_clock.advance(TEST_DELAYS.capacity)  # a scaling activity passes through Updating
    assert counts(sagemaker, in_service) == (7, 7)
    make_config(sagemaker, "bid-v2", image=NEW_IMAGE, count=2)
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v2", RetainAllVariantProperties=True)
    with pytest.raises(RuntimeError, match="blocked"):
        aws_emulator.sagemaker.scale(in_service, 8)
    aws_clock.advance(TEST_DELAYS.update)
    assert counts(sagemaker, in_service) == (7, 7)
    with pytest.raises(ValueError, match="outside"):
        aws_emulator.sagemaker.scale(in_service, 11)


def test_registering_brings_the_count_into_range_and_deleting_deregisters(
    aws_emulator: AwsEmulator, sagemaker: Any, autoscaling: Any, in_service: str, aws_clock: ManualClock
) -> None:
    with pytest.raises(RuntimeError, match="not registered"):
        aws_emulator.sagemaker.scale(in_service, 3)
    resource_id = register(autoscaling, in_service, low=4, high=10)
    aws_clock.advance(TEST_DELAYS.capacity)  # the scaling activity into the range passes through Updating
    assert counts(sagemaker, in_service) == (4, 4)
    scope = {"ServiceNamespace": "sagemaker", "ResourceId": resource_id, "ScalableDimension": DIMENSION}
    autoscaling.put_scheduled_action(
        ScheduledActionName="peak", Schedule="cron(0 18 * * ? *)", ScalableTargetAction={"MinCapacity": 6}, **scope
    )
    sagemaker.delete_endpoint(EndpointName=in_service)
    assert autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    assert autoscaling.describe_scheduled_actions(**scope)["ScheduledActions"] == []


# SageMaker Runtime


class TinyModelServer(http.server.ThreadingHTTPServer):
    """A model container as SageMaker runs it: ``GET /ping`` and ``POST /invocations``."""

    def __init__(self, latency_seconds: float, barrier: threading.Barrier | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _ModelHandler)
        self.latency_seconds = latency_seconds
        self.barrier = barrier
        self.invocations: list[tuple[str, bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ModelHandler(http.server.BaseHTTPRequestHandler):
    server: TinyModelServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(200 if self.path == "/ping" else 404, b"", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.invocations.append((self.headers.get("Content-Type", ""), body))
        if self.server.barrier is not None:
            self.server.barrier.wait()
        time.sleep(self.server.latency_seconds)
        if self.path != "/invocations" or body == b"fail":
            self._answer(500, b"model exploded", "text/plain")
            return
        self._answer(200, b"score:" + body, "application/json")

    def _answer(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def model_server() -> Iterator[TinyModelServer]:
    server = TinyModelServer(latency_seconds=0.05)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_invocations_reach_the_model_server_with_its_latency(
    aws_emulator: AwsEmulator, aws_client: AwsClientFactory, in_service: str, model_server: TinyModelServer
) -> None:
    runtime = aws_client("sagemaker-runtime", retries=False)
    aws_emulator.sagemaker.route_invocations(in_service, model_server.url)
    for _ in range(3):
        started = time.perf_counter()
        answer = runtime.invoke_endpoint(EndpointName=in_service, Body=b"0.2,1,0,3", ContentType="text/csv")
        elapsed = time.perf_counter() - started
        assert elapsed >= model_server.latency_seconds
        assert answer["Body"].read() == b"score:0.2,1,0,3"
        assert answer["ContentType"] == "application/json"
        assert answer["InvokedProductionVariant"] == VARIANT
    assert model_server.invocations == [("text/csv", b"0.2,1,0,3")] * 3


def test_a_model_error_is_a_model_error(
    aws_emulator: AwsEmulator, aws_client: AwsClientFactory, in_service: str, model_server: TinyModelServer
) -> None:
    runtime = aws_client("sagemaker-runtime", retries=False)
    aws_emulator.sagemaker.route_invocations(None, model_server.url)  # the default route
    error = client_error(lambda: runtime.invoke_endpoint(EndpointName=in_service, Body=b"fail", ContentType="text/csv"))
    assert code_of(error) == "ModelError"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error.response["OriginalStatusCode"] == 500
    assert "model exploded" in error.response["Error"]["Message"]


def test_invocations_through_the_projects_model_server(
    aws_emulator: AwsEmulator, aws_client: AwsClientFactory, in_service: str
) -> None:
    runtime = aws_client("sagemaker-runtime", retries=False)
    with ModelServer(latency=Fixed(0.02)) as server:
        aws_emulator.sagemaker.route_invocations(in_service, server.url)
        answer = runtime.invoke_endpoint(EndpointName=in_service, Body=b"0.2,1,0,3", ContentType="text/csv")
        assert (answer["Body"].read(), answer["ContentType"]) == (b"0.2,1,0,3", "text/csv")
        assert server.invocations == 1
        server.errors = {503: 1.0}
        error = client_error(
            lambda: runtime.invoke_endpoint(EndpointName=in_service, Body=b"1", ContentType="text/csv")
        )
        assert (code_of(error), error.response["OriginalStatusCode"]) == ("ModelError", 503)


def test_invoking_an_endpoint_that_does_not_serve_is_a_validation_error(
    aws_emulator: AwsEmulator, aws_client: AwsClientFactory, sagemaker: Any, aws_clock: ManualClock
) -> None:
    runtime = aws_client("sagemaker-runtime", retries=False)
    missing = client_error(lambda: runtime.invoke_endpoint(EndpointName="nobody", Body=b"1"))
    assert code_of(missing) == "ValidationError"  # the runtime's code: botocore sagemaker-runtime ValidationError
    assert missing.response["Error"]["Message"] == "Endpoint nobody of account 123456789012 not found."
    make_config(sagemaker, "new-v1")
    sagemaker.create_endpoint(EndpointName="new", EndpointConfigName="new-v1")
    creating = client_error(lambda: runtime.invoke_endpoint(EndpointName="new", Body=b"1"))
    assert code_of(creating) == "ValidationError"
    aws_clock.advance(TEST_DELAYS.create)
    # No model server routed: moto's canned answer.
    assert runtime.invoke_endpoint(EndpointName="new", Body=b"1")["Body"].read() == b"body"


def test_invocations_are_served_concurrently(
    aws_emulator: AwsEmulator, aws_client: AwsClientFactory, in_service: str
) -> None:
    parallel = 4
    # Each invocation waits at the barrier for the others: if the emulator served them one at a time, it would break.
    server = TinyModelServer(latency_seconds=0.0, barrier=threading.Barrier(parallel, timeout=10))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        aws_emulator.sagemaker.route_invocations(in_service, server.url)
        runtime = aws_client("sagemaker-runtime", retries=False)
        bodies: list[bytes] = []

        def invoke(index: int) -> None:
            bodies.append(runtime.invoke_endpoint(EndpointName=in_service, Body=str(index).encode())["Body"].read())

        threads = [threading.Thread(target=invoke, args=(index,)) for index in range(parallel)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        assert sorted(bodies) == [f"score:{index}".encode() for index in range(parallel)]
    finally:
        server.shutdown()
        server.server_close()


# Concurrency of the control plane


def test_concurrent_describes_see_a_monotonic_lifecycle(
    aws_emulator: AwsEmulator, aws_client: AwsClientFactory
) -> None:
    aws_emulator.sagemaker.delays = Delays(create=0.3)
    sagemaker = aws_client("sagemaker", retries=False)
    make_config(sagemaker, "busy-v1")
    sagemaker.create_endpoint(EndpointName="busy", EndpointConfigName="busy-v1")
    order = {"Creating": 0, "InService": 1}
    seen: list[list[str]] = [[] for _ in range(6)]
    errors: list[BaseException] = []

    def watch(index: int) -> None:
        client = aws_client("sagemaker", retries=False)
        try:
            deadline = time.monotonic() + 0.6
            while time.monotonic() < deadline:
                seen[index].append(status(client, "busy"))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=watch, args=(index,)) for index in range(len(seen))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert errors == []
    for statuses in seen:
        assert statuses
        ranks = [order[value] for value in statuses]
        assert ranks == sorted(ranks)
    assert all(statuses[-1] == "InService" for statuses in seen)


# Call log and injected faults


def test_call_log_counts_calls_per_operation_and_resource(
    aws_emulator: AwsEmulator, sagemaker: Any, autoscaling: Any, in_service: str
) -> None:
    assert aws_emulator.count("CreateEndpoint", resource=in_service) == 1
    assert aws_emulator.count("CreateModel") == aws_emulator.count("CreateEndpointConfig") == 1
    aws_emulator.reset_calls()
    for _ in range(3):
        sagemaker.describe_endpoint(EndpointName=in_service)
    autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")
    client_error(lambda: sagemaker.describe_endpoint(EndpointName="nobody"))
    assert aws_emulator.counts() == {"DescribeEndpoint": 4, "DescribeScalableTargets": 1}
    assert aws_emulator.mutating_calls() == []
    failed = aws_emulator.calls(resource="nobody")[0]
    assert (failed.service, failed.status, failed.error_code) == ("sagemaker", 400, "ValidationException")
    served = aws_emulator.calls(service="sagemaker", resource=in_service)
    assert [(call.status, call.error_code) for call in served] == [(200, None)] * 3
    sagemaker.delete_endpoint(EndpointName=in_service)
    assert [call.operation for call in aws_emulator.mutating_calls()] == ["DeleteEndpoint"]


def test_injected_throttling_and_server_errors(
    aws_emulator: AwsEmulator, aws_client: AwsClientFactory, sagemaker: Any, in_service: str
) -> None:
    aws_emulator.faults.throttle("DescribeEndpoint", times=2)
    for _ in range(2):
        throttled = client_error(lambda: sagemaker.describe_endpoint(EndpointName=in_service))
        assert code_of(throttled) == "ThrottlingException"
        assert classify("sagemaker:DescribeEndpoint", throttled).kind is ErrorKind.TRANSIENT
    assert status(sagemaker, in_service) == "InService"
    aws_emulator.faults.server_error("ListTags")
    arn = sagemaker.describe_endpoint(EndpointName=in_service)["EndpointArn"]
    broken = client_error(lambda: sagemaker.list_tags(ResourceArn=arn))
    assert broken.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert classify("sagemaker:ListTags", broken).kind is ErrorKind.TRANSIENT
    # botocore's own retries get through a single throttled call.
    aws_emulator.faults.throttle("DescribeEndpoint", times=1)
    assert aws_client("sagemaker").describe_endpoint(EndpointName=in_service)["EndpointStatus"] == "InService"
    ec2 = aws_client("ec2", retries=False)
    aws_emulator.faults.throttle("DescribeVpcEndpoints", service="ec2")
    limited = client_error(ec2.describe_vpc_endpoints)
    assert code_of(limited) == "RequestLimitExceeded"
    assert [call.error_code for call in aws_emulator.calls(operation="DescribeVpcEndpoints")] == [
        "RequestLimitExceeded"
    ]


def test_injected_rejections_are_permanent_errors_that_then_stop(
    aws_emulator: AwsEmulator, aws_client: AwsClientFactory, sagemaker: Any, in_service: str
) -> None:
    make_config(sagemaker, "bid-v2", instance_type="ml.c5.2xlarge")
    aws_emulator.faults.reject("UpdateEndpoint", "ValidationException", "The instance type is not supported", times=2)
    # botocore does not retry a refusal: each call of the retrying client is one refused request.
    retrying = aws_client("sagemaker")
    for client in (sagemaker, retrying):
        refused = client_error(
            lambda client=client: client.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v2")
        )
        assert (code_of(refused), refused.response["Error"]["Message"]) == (
            "ValidationException",
            "The instance type is not supported",
        )
        assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert classify("sagemaker:UpdateEndpoint", refused).kind is ErrorKind.PERMANENT
    assert [call.error_code for call in aws_emulator.calls(operation="UpdateEndpoint")] == ["ValidationException"] * 2
    assert status(sagemaker, in_service) == "InService"
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v2")
    assert status(sagemaker, in_service) == "Updating"
    ec2 = aws_client("ec2", retries=False)
    aws_emulator.faults.reject("DescribeVpcEndpoints", "UnauthorizedOperation", "You are not authorized", service="ec2")
    assert code_of(client_error(ec2.describe_vpc_endpoints)) == "UnauthorizedOperation"
    assert ec2.describe_vpc_endpoints()["VpcEndpoints"] == []


def test_reset_forgets_everything(aws_emulator: AwsEmulator, sagemaker: Any, in_service: str) -> None:
    aws_emulator.sagemaker.fail_next_create("later", "no")
    aws_emulator.faults.throttle("ListModels")
    aws_emulator.reset()
    assert aws_emulator.calls() == []
    assert sagemaker.list_models()["Models"] == []
    assert client_error(lambda: sagemaker.describe_endpoint(EndpointName=in_service))
    assert aws_emulator.sagemaker.delays == TEST_DELAYS
    make_config(sagemaker, "later-v1")
    sagemaker.create_endpoint(EndpointName="later", EndpointConfigName="later-v1")
    deadline = time.monotonic() + 5
    while status(sagemaker, "later") == "Creating" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status(sagemaker, "later") == "InService"  # the injected failure was forgotten, the real clock is back


# The operator's own AWS layer (lowlatency.endpoints) against the emulator


@pytest.fixture
def region_clients(aws_emulator: AwsEmulator, monkeypatch: pytest.MonkeyPatch) -> RegionClients:
    """The operator's own clients, without retries (``max_attempts=0``: one attempt) to see every error as sent."""
    for variable, value in aws_emulator.environment().items():
        monkeypatch.setenv(variable, value)
    return AwsClients(AwsSettings(endpoint_url=aws_emulator.url, max_attempts=0)).for_region(aws_emulator.region)


def test_the_operators_endpoint_calls_through_a_rollout_under_autoscaling(
    aws_emulator: AwsEmulator, region_clients: RegionClients, aws_clock: ManualClock
) -> None:
    owner = Owner("adtech", "bid-filter", "uid-1")

    def observe(desired: DesiredEndpoint) -> planner.Observed:
        endpoint = endpoints.describe_endpoint(region_clients.sagemaker, desired.endpoint_name, with_tags=True)
        return endpoints.observe(region_clients, desired, owner, endpoint, look_wider=True)

    autoscaling_spec = {"minCapacity": 2, "maxCapacity": 8, "targetInvocationsPerInstance": 6000}
    first = build_desired(parsed(autoscaling=autoscaling_spec), owner, "us-east-1")
    for action in (
        planner.CreateModel(first.model_request),
        planner.CreateEndpointConfig(first.endpoint_config_request),
        planner.CreateEndpoint(first.endpoint_name, first.endpoint_config_name, first.tags),
    ):
        endpoints.apply(region_clients, action)
        endpoints.apply(region_clients, action)  # again, as after a crash: already existing counts as done
    creating = endpoints.describe_endpoint(region_clients.sagemaker, first.endpoint_name, with_tags=True)
    assert creating is not None
    assert (creating.status, creating.current_instance_count) == ("Creating", None)
    assert creating.tags is not None
    assert owner.owns(creating.tags)
    aws_clock.advance(TEST_DELAYS.create)
    live = observe(first)
    assert live.endpoint is not None
    assert (live.endpoint.status, live.endpoint.current_instance_count) == ("InService", 2)
    (variant,) = first.variants
    assert variant.scaling is not None
    resource_id = variant.scaling.resource_id
    endpoints.apply(region_clients, planner.RegisterScalableTarget(resource_id, 2, 8))
    endpoints.apply(region_clients, planner.PutScalingPolicy(resource_id, "invocations", 6000.0, 300, 60))
    schedule = ScheduledScaling("evening-peak", "cron(0 18 * * ? *)", 4, 8)
    endpoints.apply(region_clients, planner.PutScheduledAction(resource_id, schedule))
    (scaling,) = endpoints.describe_scaling(region_clients.autoscaling, [resource_id])
    assert (scaling.min_capacity, scaling.max_capacity, scaling.policy) == (2, 8, (6000.0, 300, 60))
    assert scaling.schedules == (schedule,)
    aws_emulator.sagemaker.scale(first.endpoint_name, 5)
    aws_clock.advance(TEST_DELAYS.capacity)

    model = {**bid_filter_spec()["model"], "image": NEW_IMAGE}
    canary = {"strategy": "Canary", "canarySizePercent": 10, "waitSeconds": 60}
    second = build_desired(parsed(model=model, autoscaling=autoscaling_spec, deployment=canary), owner, "us-east-1")
    endpoints.apply(region_clients, planner.CreateModel(second.model_request))
    endpoints.apply(region_clients, planner.CreateEndpointConfig(second.endpoint_config_request))
    update = planner.UpdateEndpoint(second.endpoint_name, second.endpoint_config_name, True, second.deployment_config)
    endpoints.apply(region_clients, update)
    moving = observe(second)
    assert moving.endpoint is not None
    assert (moving.endpoint.status, moving.endpoint.pending_config_name) == ("Updating", second.endpoint_config_name)
    assert moving.live_instance_types == {"AllTraffic": "ml.c5.xlarge"}
    aws_clock.advance(TEST_DELAYS.update)
    moved = observe(second)
    assert moved.endpoint is not None
    assert (moved.endpoint.status, moved.endpoint.config_name) == ("InService", second.endpoint_config_name)
    assert moved.endpoint.current_instance_count == 5  # the autoscaler's count survived the update
    assert moved.superseded_configs == (first.endpoint_config_name,)
    assert moved.superseded_models == (first.model_name,)
    for arn, tags in moved.tags.items():
        assert owner.owns(tags), arn
    for action in (
        planner.DeleteEndpointConfig(first.endpoint_config_name),
        planner.DeleteModel(first.model_name),
        planner.DeregisterScalableTarget(resource_id),
        planner.DeleteEndpoint(second.endpoint_name),
    ):
        endpoints.apply(region_clients, action)
        endpoints.apply(region_clients, action)  # again, as after a crash: what is gone counts as done
    aws_clock.advance(TEST_DELAYS.delete)
    assert endpoints.describe_endpoint(region_clients.sagemaker, second.endpoint_name, with_tags=False) is None


def test_a_request_without_a_required_parameter_is_a_validation_error(aws_emulator: AwsEmulator) -> None:
    # botocore never sends one; a hand-made request does, signed only as far as the emulator reads it.
    request = urllib.request.Request(
        aws_emulator.url,
        data=b"{}",
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "SageMaker.DescribeEndpoint",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261125/us-east-1/sagemaker/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == 400
    assert json.loads(raised.value.read())["__type"] == "ValidationException"
    assert aws_emulator.calls()[-1].error_code == "ValidationException"
