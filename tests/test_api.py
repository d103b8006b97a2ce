"""The operator's reading of valid specs: defaults and the forms a field accepts.

Invalid specs, and the layer (schema, CEL or this one) that must refuse each first, are in test_bad_input.py.
"""

import pydantic
import pytest

from lowlatency.api import DeploymentSpec, Spec
from lowlatency.reconciler import describe_validation_error
from lowlatency.schema import is_reserved_tag_key
from specs import bid_filter_spec


def test_the_example_spec_is_valid() -> None:
    spec = Spec.model_validate(bid_filter_spec())
    assert spec.instance_count == 2
    assert spec.deployment.strategy == "AllAtOnce"
    assert spec.deletion_policy == "Delete"


def test_target_invocations_accepts_auto_and_numbers() -> None:
    scaling = {"minCapacity": 2, "maxCapacity": 4}
    automatic = Spec.model_validate(bid_filter_spec(autoscaling=scaling))
    assert automatic.autoscaling is not None
    assert automatic.autoscaling.target_invocations_per_instance == "auto"
    numeric = Spec.model_validate(bid_filter_spec(autoscaling={**scaling, "targetInvocationsPerInstance": 6000}))
    assert numeric.autoscaling is not None
    assert numeric.autoscaling.target_invocations_per_instance == 6000


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("cron(0 25 * * ? *)", "cron hours field '25' is outside 0-23"),
        ("cron(0 18 ? 1-13 MON *)", "cron month field '1-13' is outside 1-12"),
        ("cron(0 18 ? * 8 *)", "cron day-of-week field '8' is outside 1-7"),
        ("at(2027-02-30T10:00:00)", "at(2027-02-30T10:00:00) is not a date and time: day is out of range for month"),
    ],
)
def test_what_only_the_operator_checks_is_explained(cron: str, message: str) -> None:
    schedule = {"name": "peak", "cron": cron, "minCapacity": 2, "maxCapacity": 4}
    with pytest.raises(pydantic.ValidationError) as raised:
        Spec.model_validate(bid_filter_spec(autoscaling={"minCapacity": 2, "maxCapacity": 4, "schedules": [schedule]}))
    assert describe_validation_error(raised.value, prefix="spec") == (
        f"spec.autoscaling.schedules.0.cron: Value error, {message}"
    )


def test_duplicates_are_named() -> None:
    vpc = {"vpcId": "vpc-1", "subnetIds": ["subnet-1", "subnet-2", "subnet-1"], "securityGroupIds": ["sg-1"]}
    with pytest.raises(pydantic.ValidationError) as raised:
        Spec.model_validate(bid_filter_spec(vpcEndpoint=vpc))
    assert describe_validation_error(raised.value, prefix="spec") == (
        "spec.vpcEndpoint.subnetIds: Value error, duplicate values ['subnet-1']"
    )


def test_a_bake_watches_alarms_and_is_skipped_without_them() -> None:
    """Both fleets are billed while a baking period runs: without rollback alarms it watches nothing."""
    assert DeploymentSpec().bake_seconds() == 0
    assert DeploymentSpec(rollback_alarms=["p99-high"]).bake_seconds() == 300
    assert DeploymentSpec(wait_seconds=45).bake_seconds() == 45
    assert DeploymentSpec(wait_seconds=0, rollback_alarms=["p99-high"]).bake_seconds() == 0


@pytest.mark.parametrize(
    ("deployment", "periods", "timeout"),
    [
        ({}, 1, 1800),
        ({"rollbackAlarms": ["a"]}, 1, 300 + 1800),
        ({"strategy": "Canary", "canarySizePercent": 10, "waitSeconds": 600}, 2, 2 * 600 + 1800),
        ({"strategy": "Linear", "linearStepPercent": 30, "waitSeconds": 100, "terminationWaitSeconds": 50}, 4, 2250),
        ({"strategy": "Rolling", "rollingBatchPercent": 5, "waitSeconds": 1350}, 20, 28800),
    ],
)
def test_the_deployment_timeout_covers_every_bake_and_the_provisioning(
    deployment: dict[str, object], periods: int, timeout: int
) -> None:
    """One baking period per traffic shift (canary: the canary and the rest; linear and rolling: each step or batch,
    rounded up), then the termination wait, then 30 minutes to provision: MaximumExecutionTimeoutInSeconds."""
    parsed = DeploymentSpec.model_validate(deployment)
    assert parsed.baking_periods() == periods
    assert parsed.execution_timeout_seconds() == timeout
    assert parsed.execution_timeout_seconds() > parsed.total_wait_seconds()


def test_a_short_deployment_still_gets_sagemakers_minimum_timeout() -> None:
    assert DeploymentSpec(wait_seconds=0).execution_timeout_seconds() >= 600


@pytest.mark.parametrize("key", ["aws:team", "AWS:team", "aWs:x", "lowlatency.io/uid"])
def test_reserved_tag_keys(key: str) -> None:
    assert is_reserved_tag_key(key)


@pytest.mark.parametrize("key", ["team", "aws", "awsteam", "Lowlatency.io/x", "my-aws:x"])
def test_tag_keys_that_are_not_reserved(key: str) -> None:
    assert not is_reserved_tag_key(key)
