"""The operator's own validation (the second layer after the API server) names the field that is wrong."""

from typing import Any

import pydantic
import pytest

from lowlatency.api import Spec
from lowlatency.reconciler import describe_validation_error
from specs import bid_filter_spec


def error_for(spec: dict[str, Any]) -> str:
    with pytest.raises(pydantic.ValidationError) as raised:
        Spec.model_validate(spec)
    return describe_validation_error(raised.value, prefix="spec")


def test_the_example_spec_is_valid() -> None:
    spec = Spec.model_validate(bid_filter_spec())
    assert spec.instance_count == 2
    assert spec.deployment.strategy == "AllAtOnce"
    assert spec.deletion_policy == "Delete"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"instanceType": "c5.xlarge"}, "spec.instanceType"),
        ({"instanceCount": 0}, "spec.instanceCount"),
        ({"region": "mars-1"}, "spec.region"),
        ({"tags": {"aws:team": "x"}}, "spec.tags"),
        ({"deletionPolicy": "Keep"}, "spec.deletionPolicy"),
        ({"surprise": True}, "spec.surprise"),
        ({"autoscaling": {"minCapacity": 5, "maxCapacity": 2}}, "spec.autoscaling"),
        ({"autoscaling": {"minCapacity": 1, "maxCapacity": 4, "targetInvocationsPerInstance": 0}}, "spec.autoscaling"),
        ({"autoscaling": {"minCapacity": 3, "maxCapacity": 4}}, "spec"),
        ({"deployment": {"strategy": "Canary"}}, "spec.deployment"),
    ],
)
def test_invalid_specs_name_the_field(overrides: dict[str, Any], field: str) -> None:
    message = error_for(bid_filter_spec(**overrides))
    assert message.startswith(field), message


@pytest.mark.parametrize(
    ("model_overrides", "field"),
    [
        ({"modelDataUrl": "https://acme/model.tar.gz"}, "spec.model.modelDataUrl"),
        ({"executionRoleArn": "arn:aws:iam::123:role/x"}, "spec.model.executionRoleArn"),
        ({"environment": {"1BAD": "x"}}, "spec.model.environment.1BAD"),
        ({"vpcConfig": {"subnets": [], "securityGroupIds": ["sg-1"]}}, "spec.model.vpcConfig.subnets"),
    ],
)
def test_invalid_models_name_the_field(model_overrides: dict[str, Any], field: str) -> None:
    model = {**bid_filter_spec()["model"], **model_overrides}
    message = error_for(bid_filter_spec(model=model))
    assert message.startswith(field), message


def test_target_invocations_accepts_auto_and_numbers() -> None:
    scaling = {"minCapacity": 2, "maxCapacity": 4}
    automatic = Spec.model_validate(bid_filter_spec(autoscaling=scaling))
    assert automatic.autoscaling is not None
    assert automatic.autoscaling.target_invocations_per_instance == "auto"
    numeric = Spec.model_validate(bid_filter_spec(autoscaling={**scaling, "targetInvocationsPerInstance": 6000}))
    assert numeric.autoscaling is not None
    assert numeric.autoscaling.target_invocations_per_instance == 6000
