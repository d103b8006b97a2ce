"""What a spec asks of AWS: names, requests and tags, built without AWS."""

from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from lowlatency.api import Spec
from lowlatency.desired import TAG_UID, Owner, build_desired, rebuild_config_request
from specs import bid_filter_spec, parsed

OWNER = Owner("adtech", "bid-filter", "uid-1")


def test_requests_carry_the_spec_and_ownership_tags() -> None:
    desired = build_desired(parsed(), OWNER, "eu-west-1")
    assert desired.region == "eu-west-1"
    assert desired.endpoint_name == "adtech-bid-filter"
    container = desired.model_request["PrimaryContainer"]
    assert container["Image"].endswith("sagemaker-xgboost:1.7-1")
    assert container["ModelDataUrl"] == "s3://acme-models/rtb/xgboost/model.tar.gz"
    variant = desired.endpoint_config_request["ProductionVariants"][0]
    assert variant == {
        "VariantName": "AllTraffic",
        "ModelName": desired.model_name,
        "InstanceType": "ml.c5.xlarge",
        "InitialInstanceCount": 2,
        "InitialVariantWeight": 1.0,
    }
    tags = {tag["Key"]: tag["Value"] for tag in desired.model_request["Tags"]}
    assert tags["team"] == "bidding"
    assert tags[TAG_UID] == "uid-1"
    assert tags["lowlatency.io/namespace"] == "adtech"


def test_spec_region_wins_over_the_default() -> None:
    assert build_desired(parsed(region="ap-northeast-1"), OWNER, "us-east-1").region == "ap-northeast-1"


def test_a_model_change_makes_a_new_model_and_config() -> None:
    before = build_desired(parsed(), OWNER, "us-east-1")
    model = {**parsed().model.model_dump(by_alias=True), "image": "example.com/xgboost:2"}
    after = build_desired(parsed(model=model), OWNER, "us-east-1")
    assert after.model_name != before.model_name
    assert after.endpoint_config_name != before.endpoint_config_name


def test_an_instance_type_change_makes_a_new_config_but_keeps_the_model() -> None:
    before = build_desired(parsed(), OWNER, "us-east-1")
    after = build_desired(parsed(instanceType="ml.c6i.xlarge"), OWNER, "us-east-1")
    assert after.model_name == before.model_name
    assert after.endpoint_config_name != before.endpoint_config_name


def test_count_and_tag_changes_keep_model_and_config() -> None:
    before = build_desired(parsed(), OWNER, "us-east-1")
    after = build_desired(parsed(instanceCount=5, tags={"team": "other"}), OWNER, "us-east-1")
    assert (after.model_name, after.endpoint_config_name) == (before.model_name, before.endpoint_config_name)


def test_two_resources_with_the_same_spec_get_different_names() -> None:
    first = build_desired(parsed(), OWNER, "us-east-1")
    second = build_desired(parsed(), Owner("adtech", "bid-filter-2", "uid-2"), "us-east-1")
    assert {first.model_name, first.endpoint_config_name}.isdisjoint({second.model_name, second.endpoint_config_name})


def test_the_deployment_config_bounds_the_rollout_and_bakes_only_with_alarms() -> None:
    """MaximumExecutionTimeoutInSeconds covers every bake; with no rollback alarms there is no bake at all."""
    quiet = build_desired(parsed(deployment={"strategy": "Canary", "canarySizePercent": 10}), OWNER, "us-east-1")
    policy = quiet.deployment_config["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"]["WaitIntervalInSeconds"] == 0
    assert policy["MaximumExecutionTimeoutInSeconds"] == 1800
    watched = build_desired(
        parsed(deployment={"strategy": "Rolling", "rollingBatchPercent": 25, "rollbackAlarms": ["p99"]}),
        OWNER,
        "us-east-1",
    )
    rolling = watched.deployment_config["RollingUpdatePolicy"]
    assert rolling["WaitIntervalInSeconds"] == 300
    assert rolling["MaximumExecutionTimeoutInSeconds"] == 4 * 300 + 1800


def test_a_config_for_an_adopted_endpoint_keeps_its_variant_name_and_autoscaling_follows_it() -> None:
    """Blue/green and rolling deployments require the new config to keep the live variant's name."""
    spec = parsed(autoscaling={"minCapacity": 2, "maxCapacity": 8, "targetInvocationsPerInstance": 6000})
    ours = build_desired(spec, OWNER, "us-east-1")
    adopted = build_desired(spec, OWNER, "us-east-1", endpoint_name="legacy-bidder", variant_name="Primary")

    (our_variant,), (adopted_variant,) = ours.variants, adopted.variants
    assert our_variant.name == ours.endpoint_config_request["ProductionVariants"][0]["VariantName"] == "AllTraffic"
    assert adopted.endpoint_config_request["ProductionVariants"][0]["VariantName"] == "Primary"
    assert adopted_variant.name == "Primary"
    assert adopted_variant.scaling is not None
    assert adopted_variant.scaling.resource_id == "endpoint/legacy-bidder/variant/Primary"


def test_a_deleted_config_of_the_operators_is_rebuilt_from_its_name() -> None:
    """Config names end in a hash of their content (variant, model, instance type): the content is found again."""
    desired = build_desired(parsed(instanceType="ml.c6i.2xlarge"), OWNER, "us-east-1")
    rebuilt = rebuild_config_request(
        desired.endpoint_name,
        desired.endpoint_config_name,
        variant_name="AllTraffic",
        model_name=desired.model_name,
        instance_count=3,
        instance_types=["ml.c5.xlarge", "ml.c6i.2xlarge", "ml.g5.xlarge"],
        tags=desired.tags,
    )
    variant = {
        key: value
        for key, value in desired.endpoint_config_request["ProductionVariants"][0].items()
        if key != "InitialVariantWeight"  # SageMaker's default, 1.0, as before weights were written
    }
    assert rebuilt == {
        **desired.endpoint_config_request,
        "ProductionVariants": [{**variant, "InitialInstanceCount": 3}],
    }
    foreign = rebuild_config_request(
        desired.endpoint_name,
        "hand-made-config",
        variant_name="AllTraffic",
        model_name=desired.model_name,
        instance_count=1,
        instance_types=["ml.c6i.2xlarge"],
        tags={},
    )
    assert foreign is None


SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
# A model with everything CreateModel may carry from the spec: environment and a VPC.
FULL_MODEL = {
    **bid_filter_spec()["model"],
    "environment": {"OMP_NUM_THREADS": "2", "MODEL_SERVER_WORKERS": "1"},
    "vpcConfig": {"subnets": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"], "securityGroupIds": ["sg-0a1b2c3d"]},
}


def assert_valid(operation: str, request: dict[str, Any]) -> None:
    """botocore's check of a request against SageMaker's service model: required members, no unknown member."""
    shape = SAGEMAKER.operation_model(operation).input_shape
    assert shape is not None
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()


DEPLOYMENTS = [
    {},
    {"strategy": "Canary", "canarySizePercent": 10, "rollbackAlarms": ["p99-high"]},
    {"strategy": "Linear", "linearStepPercent": 20, "terminationWaitSeconds": 600, "rollbackAlarms": ["p99", "5xx"]},
    {"strategy": "Rolling", "rollingBatchPercent": 25, "rollbackAlarms": ["p99-high"]},
]


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_every_request_is_one_sagemakers_model_accepts(deployment: dict[str, Any]) -> None:
    spec = parsed(model=FULL_MODEL, deployment=deployment, autoscaling={"minCapacity": 1, "maxCapacity": 4})
    desired = build_desired(spec, OWNER, "us-east-1")
    assert_valid("CreateModel", desired.model_request)
    assert_valid("CreateEndpointConfig", desired.endpoint_config_request)
    assert_valid(
        "UpdateEndpoint",
        {
            "EndpointName": desired.endpoint_name,
            "EndpointConfigName": desired.endpoint_config_name,
            "DeploymentConfig": desired.deployment_config,
        },
    )


def test_the_model_request_carries_the_environment_and_the_vpc() -> None:
    desired = build_desired(parsed(model=FULL_MODEL), OWNER, "us-east-1")
    request = desired.model_request
    assert request["ModelName"] == desired.model_name
    assert request["PrimaryContainer"]["Environment"] == FULL_MODEL["environment"]
    assert request["VpcConfig"] == {
        "Subnets": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"],
        "SecurityGroupIds": ["sg-0a1b2c3d"],
    }
    without = build_desired(parsed(), OWNER, "us-east-1").model_request
    assert "Environment" not in without["PrimaryContainer"]
    assert "VpcConfig" not in without


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_each_strategy_becomes_the_deployment_config_sagemaker_names_it(deployment: dict[str, Any]) -> None:
    spec = parsed(deployment=deployment)
    strategy, bake = spec.deployment.strategy, spec.deployment.bake_seconds()
    percent = {"Type": "CAPACITY_PERCENT"}
    routing_by_strategy: dict[str, dict[str, Any]] = {
        "AllAtOnce": {"Type": "ALL_AT_ONCE"},
        "Canary": {"Type": "CANARY", "CanarySize": {**percent, "Value": 10}},
        "Linear": {"Type": "LINEAR", "LinearStepSize": {**percent, "Value": 20}},
    }
    expected: dict[str, Any]
    if strategy == "Rolling":
        expected = {
            "RollingUpdatePolicy": {
                "MaximumBatchSize": {**percent, "Value": 25},
                "WaitIntervalInSeconds": bake,
                "MaximumExecutionTimeoutInSeconds": spec.deployment.execution_timeout_seconds(),
            }
        }
    else:
        expected = {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {**routing_by_strategy[strategy], "WaitIntervalInSeconds": bake},
                "TerminationWaitInSeconds": deployment.get("terminationWaitSeconds", 0),
                "MaximumExecutionTimeoutInSeconds": spec.deployment.execution_timeout_seconds(),
            }
        }
    if alarms := deployment.get("rollbackAlarms"):
        expected["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": alarm} for alarm in alarms]}
    assert build_desired(spec, OWNER, "us-east-1").deployment_config == expected


def test_the_scaling_target_is_the_specs_number_or_for_auto_the_measured_one() -> None:
    bounds = {"minCapacity": 2, "maxCapacity": 8}
    fixed = parsed(autoscaling={**bounds, "targetInvocationsPerInstance": 6000})
    auto = parsed(autoscaling={**bounds, "targetInvocationsPerInstance": "auto"})

    def target(spec: Spec, measured: float | None) -> float | None:
        (variant,) = build_desired(spec, OWNER, "us-east-1", measured_target=measured).variants
        scaling = variant.scaling
        assert scaling is not None
        return scaling.target_value

    assert target(fixed, 1234.0) == 6000.0
    assert target(auto, 1234.0) == 1234.0
    assert target(auto, None) is None  # no benchmark yet: the target is registered without a policy


def test_an_owner_is_described_by_its_tags_for_error_messages() -> None:
    assert Owner.describe({"owner": "legacy-team"}) == "not managed by lowlatency-operator"
    other = Owner("ranking", "ranker", "uid-9")
    assert Owner.describe(other.tags()) == "owned by ranking/ranker (uid uid-9)"


def test_the_names_of_a_single_instance_variant_are_the_ones_earlier_versions_gave() -> None:
    """An upgraded operator must find the model and config it made before: a changed name would roll every endpoint
    (the names were computed by the operator before variants, shadows and serverless existed)."""
    ours = build_desired(parsed(), OWNER, "us-east-1")
    adopted = build_desired(parsed(), OWNER, "us-east-1", endpoint_name="legacy-bidder", variant_name="Primary")
    assert (ours.model_name, ours.endpoint_config_name) == ("adtech-bid-filter-6348ec81", "adtech-bid-filter-af20577b")
    assert (adopted.model_name, adopted.endpoint_config_name) == ("legacy-bidder-3537e716", "legacy-bidder-e6bee246")


def test_the_names_of_serverless_and_shadow_configs_stay_from_version_to_version() -> None:
    """Pinned as the single variant's are: a later version that hashed a serverless or shadow config otherwise (a
    field added to its content, another order) would roll every such endpoint when it is upgraded."""
    model = bid_filter_spec()["model"]
    serverless = Spec.model_validate(
        {"model": model, "serverless": {"memorySizeInMB": 2048, "maxConcurrency": 20, "provisionedConcurrency": 2}}
    )
    candidate = {**model, "modelDataUrl": "s3://acme-models/rtb/xgboost/model-2.tar.gz"}
    shadow = parsed(
        shadowVariants=[
            {"name": "candidate", "model": candidate, "instanceType": "ml.c5.xlarge", "instanceCount": 1, "weight": 0.5}
        ]
    )
    built = build_desired(serverless, OWNER, "us-east-1")
    assert built.endpoint_config_name == "adtech-bid-filter-5ebe8b2c"
    assert [variant.model_name for variant in built.variants] == ["adtech-bid-filter-6348ec81"]
    built = build_desired(shadow, OWNER, "us-east-1")
    assert built.endpoint_config_name == "adtech-bid-filter-c8ee4501"
    assert [variant.model_name for variant in built.variants] == [
        "adtech-bid-filter-6348ec81",
        "adtech-bid-filter-6d765dac",
    ]
