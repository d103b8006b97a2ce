"""SageMaker rules the AWS emulator enforces because SageMaker does (issue 11), seen through real boto3 clients.

Each test names the rule's source as the emulator's docstring does, and shows the refusal with SageMaker's error
code, then that the request goes through once the rule is met.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

import pytest

from emulator_requests import IMAGE, NEW_IMAGE, ROLE, client_error, code_of, make_config, message_of, status
from fixtures_aws import TEST_DELAYS, ManualClock
from lowlatency.aws import ErrorKind, classify
from lowlatency.desired import Owner, build_desired
from lowlatency.emulators.aws import AwsEmulator
from specs import parsed

pytestmark = pytest.mark.timeout(60)

MISSING_ARTIFACT = "s3://acme-models/rtb/xgboost/never-uploaded.tar.gz"


def test_create_model_refuses_an_artifact_that_is_not_in_s3(aws_emulator: AwsEmulator, sagemaker: Any) -> None:
    """botocore sagemaker ContainerDefinition.ModelDataUrl: the artifact must be in S3 when the model is created."""
    container = {"Image": IMAGE, "ModelDataUrl": MISSING_ARTIFACT}

    refused = client_error(
        lambda: sagemaker.create_model(ModelName="bid", ExecutionRoleArn=ROLE, PrimaryContainer=container)
    )

    assert code_of(refused) == "ValidationException"
    assert message_of(refused) == f"Could not find model data at {MISSING_ARTIFACT}."
    assert classify("sagemaker:CreateModel", refused).kind is ErrorKind.PERMANENT
    assert sagemaker.list_models()["Models"] == []
    aws_emulator.put_model_artifact(MISSING_ARTIFACT)
    sagemaker.create_model(ModelName="bid", ExecutionRoleArn=ROLE, PrimaryContainer=container)
    assert [model["ModelName"] for model in sagemaker.list_models()["Models"]] == ["bid"]


def test_a_reset_forgets_uploaded_artifacts_and_puts_back_the_ones_the_emulator_keeps(
    aws_emulator: AwsEmulator, aws_client: Any
) -> None:
    s3 = aws_client("s3", retries=False)
    aws_emulator.put_model_artifact(MISSING_ARTIFACT)
    assert s3.head_object(Bucket="acme-models", Key="rtb/xgboost/never-uploaded.tar.gz")["ContentLength"] > 0

    aws_emulator.reset()

    gone = client_error(lambda: s3.head_object(Bucket="acme-models", Key="rtb/xgboost/never-uploaded.tar.gz"))
    assert code_of(gone) == "404"
    assert s3.head_object(Bucket="acme-models", Key="rtb/xgboost/model.tar.gz")["ContentLength"] > 0


def canary(wait: int, timeout: int | None = None) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "TrafficRoutingConfiguration": {
            "Type": "CANARY",
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
            "WaitIntervalInSeconds": wait,
        },
        "TerminationWaitInSeconds": 120,
    }
    if timeout is not None:
        policy["MaximumExecutionTimeoutInSeconds"] = timeout
    return {"BlueGreenUpdatePolicy": policy}


def linear_by_instances(wait: int, timeout: int) -> dict[str, Any]:
    routing = {
        "Type": "LINEAR",
        "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": 1},
        "WaitIntervalInSeconds": wait,
    }
    return {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing, "MaximumExecutionTimeoutInSeconds": timeout}
    }


@pytest.mark.parametrize(
    ("deployment", "waits"),
    [
        (canary(wait=400, timeout=920), 2 * 400 + 120),  # the canary's bake, then the final one
        (linear_by_instances(wait=700, timeout=1400), 2 * 700),  # two instances, one step each
        (
            {
                "RollingUpdatePolicy": {
                    "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 5},
                    "WaitIntervalInSeconds": 1500,
                    "MaximumExecutionTimeoutInSeconds": 28800,
                }
            },
            20 * 1500,
        ),
    ],
    ids=["canary", "linear-by-instance", "rolling-5-percent"],
)
def test_a_deployment_whose_waits_reach_its_time_limit_is_refused(
    sagemaker: Any, in_service: str, deployment: dict[str, Any], waits: int
) -> None:
    """API reference, BlueGreenUpdatePolicy / RollingUpdatePolicy: MaximumExecutionTimeoutInSeconds must be larger
    than the deployment's total waiting time."""
    make_config(sagemaker, "bid-v2", image=NEW_IMAGE)

    refused = client_error(
        lambda: sagemaker.update_endpoint(
            EndpointName=in_service, EndpointConfigName="bid-v2", DeploymentConfig=deployment
        )
    )

    assert code_of(refused) == "ValidationException"
    assert f"total waiting time of the deployment ({waits} seconds" in message_of(refused)
    assert status(sagemaker, in_service) == "InService"


def test_a_deployment_within_its_time_limit_or_without_one_is_accepted(
    sagemaker: Any, in_service: str, aws_clock: ManualClock
) -> None:
    make_config(sagemaker, "bid-v2", image=NEW_IMAGE)
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v2", DeploymentConfig=canary(400, 921))
    aws_clock.advance(TEST_DELAYS.update)
    make_config(sagemaker, "bid-v3")
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v3", DeploymentConfig=canary(3600))
    aws_clock.advance(TEST_DELAYS.update)
    assert sagemaker.describe_endpoint(EndpointName=in_service)["EndpointConfigName"] == "bid-v3"


@pytest.mark.parametrize(
    "deployment",
    [
        {"strategy": "AllAtOnce", "rollbackAlarms": ["bid-filter-p99-high"]},
        {"strategy": "Canary", "canarySizePercent": 50, "waitSeconds": 3600, "terminationWaitSeconds": 3600},
        {"strategy": "Linear", "linearStepPercent": 10, "waitSeconds": 2700},
        {"strategy": "Rolling", "rollingBatchPercent": 5, "waitSeconds": 1350},
    ],
    ids=["all-at-once", "canary", "linear", "rolling"],
)
def test_the_operators_deployment_config_fits_its_time_limit_at_the_longest_the_crd_allows(
    sagemaker: Any, in_service: str, aws_clock: ManualClock, deployment: dict[str, Any]
) -> None:
    """The CRD admits deployments whose waits fit 28800 s with time to provision; the operator's timeout covers them."""
    desired = build_desired(parsed(deployment=deployment), Owner("adtech", "bid", "uid-bid"), "us-east-1")
    make_config(sagemaker, "bid-v2", image=NEW_IMAGE)

    sagemaker.update_endpoint(
        EndpointName=in_service, EndpointConfigName="bid-v2", DeploymentConfig=desired.deployment_config
    )

    aws_clock.advance(TEST_DELAYS.update)
    assert sagemaker.describe_endpoint(EndpointName=in_service)["LastDeploymentConfig"] == desired.deployment_config


def test_a_blue_green_or_rolling_deployment_must_keep_the_variant_name(
    sagemaker: Any, in_service: str, aws_clock: ManualClock
) -> None:
    """Developer guide, deployment guardrails exclusions: the new config must have the old config's variant name."""
    make_config(sagemaker, "bid-renamed", image=NEW_IMAGE, variant="Primary")
    make_config(sagemaker, "bid-kept", image=NEW_IMAGE)

    renamed = client_error(
        lambda: sagemaker.update_endpoint(
            EndpointName=in_service, EndpointConfigName="bid-renamed", DeploymentConfig=canary(wait=0)
        )
    )

    assert code_of(renamed) == "ValidationException"
    assert "['Primary'] must be the same as those of the current one ['AllTraffic']" in message_of(renamed)
    assert classify("sagemaker:UpdateEndpoint", renamed).kind is ErrorKind.PERMANENT
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-kept", DeploymentConfig=canary(wait=0))
    aws_clock.advance(TEST_DELAYS.update)
    assert sagemaker.describe_endpoint(EndpointName=in_service)["EndpointConfigName"] == "bid-kept"


@pytest.mark.parametrize("key", ["aws:cloudformation:stack-name", "AWS:Origin", "Aws:team"])
def test_tag_keys_with_the_aws_prefix_in_any_case_cannot_be_added_or_deleted(
    aws_emulator: AwsEmulator, sagemaker: Any, in_service: str, key: str
) -> None:
    """Tagging AWS resources: the aws: prefix, in any combination of upper and lower case, is reserved for AWS."""
    arn = sagemaker.describe_endpoint(EndpointName=in_service)["EndpointArn"]
    added = client_error(lambda: sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": key, "Value": "x"}]))
    aws_emulator.sagemaker_tags.add_system_tags(arn, {key: "stack-1"})

    deleted = client_error(lambda: sagemaker.delete_tags(ResourceArn=arn, TagKeys=[key, "team"]))

    assert code_of(added) == code_of(deleted) == "ValidationException"
    assert classify("sagemaker:DeleteTags", deleted).kind is ErrorKind.PERMANENT
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == [{"Key": key, "Value": "stack-1"}]


def test_instances_beyond_the_accounts_quota_are_refused_until_it_is_raised(
    aws_emulator: AwsEmulator, sagemaker: Any, in_service: str, aws_clock: ManualClock
) -> None:
    """botocore sagemaker ResourceLimitExceeded: '<instance type> for endpoint usage' counts every endpoint's
    instances of the type; the endpoint `bid` holds 2 of ml.c5.xlarge."""
    aws_emulator.sagemaker.quotas.limit("ml.c5.xlarge", 3)
    make_config(sagemaker, "second", count=2)

    created = client_error(lambda: sagemaker.create_endpoint(EndpointName="second", EndpointConfigName="second"))
    scaled = client_error(
        lambda: sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=in_service,
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 4}],
        )
    )

    assert code_of(created) == code_of(scaled) == "ResourceLimitExceeded"
    assert message_of(created).startswith(
        "The account-level service limit 'ml.c5.xlarge for endpoint usage' is 3 Instances, with current utilization "
        "of 2 Instances and a request delta of 2 Instances."
    )
    assert classify("sagemaker:CreateEndpoint", created).kind is ErrorKind.QUOTA
    aws_emulator.sagemaker.quotas.limit("ml.c5.xlarge", 4)
    sagemaker.create_endpoint(EndpointName="second", EndpointConfigName="second")
    aws_clock.advance(TEST_DELAYS.create)
    assert status(sagemaker, "second") == "InService"


def bring_to(status_wanted: str, aws_emulator: AwsEmulator, sagemaker: Any, endpoint: str, clock: ManualClock) -> None:
    """Put the InService endpoint ``bid`` in a status where a change is in progress."""
    make_config(sagemaker, "bid-v2", image=NEW_IMAGE)
    if status_wanted == "Updating":
        sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName="bid-v2")
    elif status_wanted == "RollingBack":
        aws_emulator.sagemaker.fail_next_update(endpoint, "the new fleet did not pass the ping health check")
        sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName="bid-v2")
        clock.advance(TEST_DELAYS.update)
    else:
        aws_emulator.sagemaker.start_maintenance(endpoint)
    assert status(sagemaker, endpoint) == status_wanted


@pytest.mark.parametrize("busy", ["Updating", "SystemUpdating", "RollingBack"])
def test_an_endpoint_with_a_change_in_progress_refuses_delete_update_and_scaling(
    aws_emulator: AwsEmulator, sagemaker: Any, in_service: str, aws_clock: ManualClock, busy: str
) -> None:
    """botocore sagemaker DescribeEndpointOutput.EndpointStatus: such an endpoint "cannot be updated or deleted or
    re-scaled until it has completed"."""
    bring_to(busy, aws_emulator, sagemaker, in_service, aws_clock)
    make_config(sagemaker, "bid-v3")
    capacity = [{"VariantName": "AllTraffic", "DesiredInstanceCount": 3}]

    refusals = [
        client_error(lambda: sagemaker.delete_endpoint(EndpointName=in_service)),
        client_error(lambda: sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v3")),
        client_error(
            lambda: sagemaker.update_endpoint_weights_and_capacities(
                EndpointName=in_service, DesiredWeightsAndCapacities=capacity
            )
        ),
    ]

    for refused in refusals:
        assert code_of(refused) == "ValidationException"
        assert message_of(refused).startswith("Cannot update in-progress endpoint")
        assert classify("sagemaker:DeleteEndpoint", refused).kind is ErrorKind.TRANSIENT
    aws_clock.advance(max(TEST_DELAYS.update, aws_emulator.sagemaker.delays.maintenance))
    assert status(sagemaker, in_service) == "InService"
    sagemaker.delete_endpoint(EndpointName=in_service)
    assert status(sagemaker, in_service) == "Deleting"


def test_an_endpoint_being_created_can_be_deleted_only_once_it_is_in_service_or_failed(
    aws_emulator: AwsEmulator, sagemaker: Any, aws_clock: ManualClock
) -> None:
    make_config(sagemaker, "short-v1")
    make_config(sagemaker, "doomed-v1")
    sagemaker.create_endpoint(EndpointName="short", EndpointConfigName="short-v1")
    aws_emulator.sagemaker.fail_next_create("doomed", "The primary container did not pass the ping health check")
    sagemaker.create_endpoint(EndpointName="doomed", EndpointConfigName="doomed-v1")

    for name in ("short", "doomed"):
        refused = client_error(functools.partial(sagemaker.delete_endpoint, EndpointName=name))
        assert message_of(refused).startswith("Cannot update in-progress endpoint")

    aws_clock.advance(TEST_DELAYS.create)
    assert (status(sagemaker, "short"), status(sagemaker, "doomed")) == ("InService", "Failed")
    for name in ("short", "doomed"):
        sagemaker.delete_endpoint(EndpointName=name)
    aws_clock.advance(TEST_DELAYS.delete)
    assert sagemaker.list_endpoints()["Endpoints"] == []


ROLLING = {
    "RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 50}, "WaitIntervalInSeconds": 0}
}


def test_a_rolling_deployment_whose_rollback_fails_serves_a_mix_as_update_rollback_failed(
    aws_emulator: AwsEmulator, sagemaker: Any, in_service: str, aws_clock: ManualClock
) -> None:
    """botocore sagemaker DescribeEndpointOutput.EndpointStatus: UpdateRollbackFailed is "in service with a mix of the
    old and new endpoint configurations"; SageMaker does not leave it by itself."""
    reason = "Rolling back batch 2 failed: instance i-0a did not pass the ping health check"
    aws_emulator.sagemaker.fail_next_update(in_service, reason, outcome="rollback-failed")
    make_config(sagemaker, "bid-v2", image=NEW_IMAGE)
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v2", DeploymentConfig=ROLLING)

    aws_clock.advance(TEST_DELAYS.update)
    assert status(sagemaker, in_service) == "RollingBack"
    aws_clock.advance(TEST_DELAYS.rollback + TEST_DELAYS.update)

    described = sagemaker.describe_endpoint(EndpointName=in_service)
    assert (described["EndpointStatus"], described["FailureReason"]) == ("UpdateRollbackFailed", reason)
    assert described["ProductionVariants"]
    sagemaker.delete_endpoint(EndpointName=in_service)
    assert status(sagemaker, in_service) == "Deleting"


def test_a_blue_green_deployment_keeps_its_old_fleet_and_an_update_can_leave_the_endpoint_failed(
    aws_emulator: AwsEmulator, sagemaker: Any, in_service: str, aws_clock: ManualClock
) -> None:
    make_config(sagemaker, "bid-v2", image=NEW_IMAGE)
    aws_emulator.sagemaker.fail_next_update(in_service, "alarm fired", outcome="rollback-failed")
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v2", DeploymentConfig=canary(wait=0))
    aws_clock.advance(TEST_DELAYS.update + TEST_DELAYS.rollback)
    assert (
        status(sagemaker, in_service),
        sagemaker.describe_endpoint(EndpointName=in_service)["EndpointConfigName"],
    ) == (
        "InService",
        "bid-v1",
    )

    aws_emulator.sagemaker.fail_next_update(in_service, "Failed to provision the new fleet", outcome="failed")
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v2")
    aws_clock.advance(TEST_DELAYS.update)

    failed = sagemaker.describe_endpoint(EndpointName=in_service)
    assert (failed["EndpointStatus"], failed["FailureReason"]) == ("Failed", "Failed to provision the new fleet")
    assert "ProductionVariants" not in failed


def test_an_update_needs_the_config_that_serves_as_well_as_the_new_one(
    sagemaker: Any, in_service: str, aws_clock: ManualClock
) -> None:
    """API reference, UpdateEndpoint: an EndpointConfig in use must not be deleted; SageMaker allows the delete, and
    the next update cannot find the config that serves."""
    make_config(sagemaker, "bid-v2", image=NEW_IMAGE)
    sagemaker.delete_endpoint_config(EndpointConfigName="bid-v1")

    refused = client_error(lambda: sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v2"))

    assert code_of(refused) == "ValidationException"
    assert message_of(refused) == (
        'Could not find endpoint configuration "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/bid-v1".'
    )
    assert status(sagemaker, in_service) == "InService"
    sagemaker.create_endpoint_config(
        EndpointConfigName="bid-v1",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "bid-v1",
                "InstanceType": "ml.c5.xlarge",
                "InitialInstanceCount": 2,
            }
        ],
    )
    sagemaker.update_endpoint(EndpointName=in_service, EndpointConfigName="bid-v2")
    aws_clock.advance(TEST_DELAYS.update)
    assert sagemaker.describe_endpoint(EndpointName=in_service)["EndpointConfigName"] == "bid-v2"


def test_create_endpoint_may_not_see_a_config_or_model_created_a_moment_ago(
    aws_emulator: AwsEmulator, sagemaker: Any, aws_clock: ManualClock
) -> None:
    """API reference, CreateEndpoint: its read of the endpoint configuration is eventually consistent; "If you repeat
    your read request after a short time, the response should return the latest data"."""
    aws_emulator.sagemaker.delays = replace(TEST_DELAYS, config_visibility=1.0)
    make_config(sagemaker, "fresh-v1")

    unseen = client_error(lambda: sagemaker.create_endpoint(EndpointName="fresh", EndpointConfigName="fresh-v1"))

    assert code_of(unseen) == "ValidationException"
    assert message_of(unseen).startswith("Could not find endpoint configuration")
    assert classify("sagemaker:CreateEndpoint", unseen).kind is ErrorKind.TRANSIENT
    assert sagemaker.describe_endpoint_config(EndpointConfigName="fresh-v1")["EndpointConfigName"] == "fresh-v1"
    aws_clock.advance(1.0)
    sagemaker.create_endpoint(EndpointName="fresh", EndpointConfigName="fresh-v1")
    assert status(sagemaker, "fresh") == "Creating"
