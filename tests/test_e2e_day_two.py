"""End to end, day two: rollouts, failed rollouts, counts, tags, drift, autoscaling and the runtime VPC endpoint
(issue 4), driven with kubectl and judged by what the AWS emulator holds and was asked.
"""

from __future__ import annotations

from typing import Any

import pytest

from e2e_support import NAMESPACE, EndToEnd, Resource, Scaling, condition, create_network, describe_scaling, status_of
from lowlatency import endpoints
from lowlatency.api import DeploymentSpec
from lowlatency.aws import AwsClients, AwsSettings, RegionClients
from lowlatency.desired import MANAGER, TAG_MANAGED_BY
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.planner import Action, DeleteScheduledAction, DeregisterScalableTarget
from specs import bid_filter_spec

pytest_plugins = ["e2e_fixtures"]

NAME = "bid-filter"
ENDPOINT = f"{NAMESPACE}-{NAME}"
RESOURCE_ID = f"endpoint/{ENDPOINT}/variant/AllTraffic"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:{}"
RUNTIME_SERVICE = "com.amazonaws.us-east-1.sagemaker.runtime"
METRIC = "SageMakerVariantInvocationsPerInstance"
EVENING_PEAK = {"name": "evening-peak", "cron": "cron(0 18 * * ? *)", "minCapacity": 4, "maxCapacity": 6}
AUTOSCALING = {
    "minCapacity": 2,
    "maxCapacity": 6,
    "targetInvocationsPerInstance": 6000,
    "scaleInCooldownSeconds": 300,
    "scaleOutCooldownSeconds": 60,
    "schedules": [EVENING_PEAK],
}
REGISTERED = Scaling(
    capacity=(2, 6),
    policies=((METRIC, 6000.0, 300, 60),),
    schedules=(("evening-peak", "cron(0 18 * * ? *)", 4, 6),),
)
UNREGISTERED = Scaling(capacity=None, policies=(), schedules=())


def image(tag: str) -> dict[str, Any]:
    return {"model": {"image": IMAGE.format(tag)}}


def phase_is(phase: str) -> Any:
    return lambda found: status_of(found).get("phase") == phase


def degraded(found: Resource) -> bool:
    return condition(found, "Degraded").get("status") == "True"


def scaling(e2e: EndToEnd) -> Scaling:
    return describe_scaling(e2e.autoscaling, RESOURCE_ID)


def live_count(e2e: EndToEnd) -> int:
    count: int = e2e.sagemaker.describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"][0]["CurrentInstanceCount"]
    return count


def emulator_clients(aws_emulator: AwsEmulator, monkeypatch: pytest.MonkeyPatch) -> RegionClients:
    """The operator's own AWS clients, reaching the emulator, for tests of single AWS actions."""
    for variable, value in aws_emulator.environment().items():
        monkeypatch.setenv(variable, value)
    return AwsClients(AwsSettings(endpoint_url=aws_emulator.url)).for_region(aws_emulator.region)


def after(operations: list[str], operation: str, start: int) -> int:
    """Index of the first ``operation`` at or after ``start`` (fails the test when there is none)."""
    assert operation in operations[start:], (operation, operations[start:])
    return operations.index(operation, start)


# --- rollouts --------------------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_image_change_rolls_out_and_deletes_the_superseded_model_and_config_only_after(e2e: EndToEnd) -> None:
    before = status_of(e2e.create(NAME))
    clock = e2e.freeze_sagemaker()  # the update stays Updating until the clock moves

    assert e2e.patch(NAME, image("1.7-2")) == 2
    updating = e2e.wait_for_status(NAME, phase_is("Updating"), "Updating")
    assert status_of(updating)["observedGeneration"] == 1, "generation 1 is what still serves"
    assert condition(updating, "Ready")["status"] == "True"
    e2e.after_passes(2)
    _, configs, models = e2e.inventory()
    assert before["endpointConfigName"] in configs
    assert before["modelName"] in models
    assert (len(configs), len(models)) == (2, 2)
    assert e2e.aws.count("UpdateEndpoint") == 1

    clock.advance(60)
    status = status_of(e2e.wait_in_service(NAME, generation=2))

    assert status["endpointConfigName"] != before["endpointConfigName"]
    assert status["modelName"] != before["modelName"]
    assert e2e.inventory() == ([ENDPOINT], [status["endpointConfigName"]], [status["modelName"]])
    model = e2e.sagemaker.describe_model(ModelName=status["modelName"])
    assert model["PrimaryContainer"]["Image"] == IMAGE.format("1.7-2")
    assert e2e.aws.count("UpdateEndpoint") == 1
    assert e2e.aws.count("CreateEndpoint") == 1


ALARMS = {"rollbackAlarms": ["bid-filter-p99-high"]}
ROLLBACK = {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "bid-filter-p99-high"}]}}
PERCENT = "CAPACITY_PERCENT"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("deployment", "expected"),
    [
        (
            {"strategy": "Canary", "canarySizePercent": 10, "waitSeconds": 120, **ALARMS},
            {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "CANARY",
                        "CanarySize": {"Type": PERCENT, "Value": 10},
                        "WaitIntervalInSeconds": 120,
                    },
                    "TerminationWaitInSeconds": 0,
                },
                **ROLLBACK,
            },
        ),
        (
            {"strategy": "Linear", "linearStepPercent": 20, "waitSeconds": 60, "terminationWaitSeconds": 30},
            {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "LINEAR",
                        "LinearStepSize": {"Type": PERCENT, "Value": 20},
                        "WaitIntervalInSeconds": 60,
                    },
                    "TerminationWaitInSeconds": 30,
                }
            },
        ),
        (
            {"strategy": "Rolling", "rollingBatchPercent": 25, "waitSeconds": 30, **ALARMS},
            {
                "RollingUpdatePolicy": {
                    "MaximumBatchSize": {"Type": PERCENT, "Value": 25},
                    "WaitIntervalInSeconds": 30,
                },
                **ROLLBACK,
            },
        ),
    ],
    ids=["Canary", "Linear", "Rolling"],
)
def test_deployment_strategy_reaches_update_endpoint(
    e2e: EndToEnd, deployment: dict[str, Any], expected: dict[str, Any]
) -> None:
    e2e.create(NAME, bid_filter_spec(deployment=deployment))

    e2e.patch(NAME, image("1.7-2"))
    e2e.wait_in_service(NAME, generation=2)

    # The time limit covers the strategy's waits (its figures: test_desired, test_aws_emulator_sagemaker_rules).
    timeout = DeploymentSpec.model_validate(deployment).execution_timeout_seconds()
    policy = next(name for name in ("BlueGreenUpdatePolicy", "RollingUpdatePolicy") if name in expected)
    expected = {**expected, policy: {**expected[policy], "MaximumExecutionTimeoutInSeconds": timeout}}
    assert e2e.sagemaker.describe_endpoint(EndpointName=ENDPOINT)["LastDeploymentConfig"] == expected


@pytest.mark.timeout(60)
def test_failed_update_keeps_the_old_config_serving_degraded_until_the_next_change(e2e: EndToEnd) -> None:
    before = status_of(e2e.create(NAME))
    reason = "Alarm bid-filter-p99-high went into ALARM during the baking period"
    e2e.aws.sagemaker.fail_next_update(ENDPOINT, reason)

    e2e.patch(NAME, image("1.7-2"))
    found = e2e.wait_for_status(NAME, degraded, "Degraded")

    status = status_of(found)
    assert status["phase"] == "InService"
    assert condition(found, "Ready")["status"] == "True"
    assert condition(found, "Degraded")["reason"] == "RolloutFailed"
    assert reason in condition(found, "Degraded")["message"]
    assert status["endpointConfigName"] == before["endpointConfigName"]
    assert status["observedGeneration"] == 1
    described = e2e.sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", before["endpointConfigName"])
    e2e.after_passes(2)
    assert e2e.aws.count("UpdateEndpoint") == 1, "the failed generation must not be retried"

    e2e.patch(NAME, image("1.7-3"))
    recovered = e2e.wait_in_service(NAME, generation=3)

    assert e2e.aws.count("UpdateEndpoint") == 2
    assert condition(recovered, "Degraded")["status"] == "False"
    status = status_of(recovered)
    assert e2e.inventory() == ([ENDPOINT], [status["endpointConfigName"]], [status["modelName"]])


@pytest.mark.timeout(60)
def test_reverting_a_failed_update_clears_degraded_without_a_rollout(e2e: EndToEnd) -> None:
    before = status_of(e2e.create(NAME))
    e2e.aws.sagemaker.fail_next_update(ENDPOINT, "The new model container failed the ping health check")
    e2e.patch(NAME, image("1.7-2"))
    e2e.wait_for_status(NAME, degraded, "Degraded")

    e2e.patch(NAME, {"model": {"image": bid_filter_spec()["model"]["image"]}})
    found = e2e.wait_in_service(NAME, generation=3)

    assert condition(found, "Degraded")["status"] == "False"
    assert e2e.aws.count("UpdateEndpoint") == 1
    assert e2e.inventory() == ([ENDPOINT], [before["endpointConfigName"]], [before["modelName"]])


@pytest.mark.timeout(60)
def test_a_change_during_a_rollout_follows_once_it_is_in_service(e2e: EndToEnd) -> None:
    e2e.create(NAME)
    clock = e2e.freeze_sagemaker()
    e2e.patch(NAME, image("1.7-2"))
    e2e.wait(lambda: e2e.aws.count("UpdateEndpoint") == 1, "the first UpdateEndpoint")

    e2e.patch(NAME, image("1.7-3"))
    e2e.after_passes(2)
    assert e2e.aws.count("UpdateEndpoint") == 1, "an Updating endpoint cannot be updated again"
    clock.advance(60)
    e2e.wait(lambda: e2e.aws.count("UpdateEndpoint") == 2, "the second UpdateEndpoint")
    clock.advance(60)
    found = e2e.wait_in_service(NAME, generation=3)

    status = status_of(found)
    model = e2e.sagemaker.describe_model(ModelName=status["modelName"])
    assert model["PrimaryContainer"]["Image"] == IMAGE.format("1.7-3")
    assert e2e.inventory() == ([ENDPOINT], [status["endpointConfigName"]], [status["modelName"]])
    assert [call.error_code for call in e2e.aws.calls(operation="UpdateEndpoint")] == [None, None]


@pytest.mark.timeout(60)
def test_a_spec_change_replaces_a_failed_endpoint(e2e: EndToEnd) -> None:
    e2e.aws.sagemaker.fail_next_create(ENDPOINT, "Failed to download model data from s3://acme-models")
    e2e.apply(NAME, bid_filter_spec())
    e2e.wait_for_status(NAME, phase_is("Failed"), "Failed")

    e2e.patch(NAME, {"model": {"modelDataUrl": "s3://acme-models/rtb/xgboost/model-2.tar.gz"}})
    found = e2e.wait_in_service(NAME, generation=2)

    status = status_of(found)
    assert (e2e.aws.count("DeleteEndpoint"), e2e.succeeded("CreateEndpoint")) == (1, 2)
    assert condition(found, "Ready")["status"] == "True"
    assert e2e.inventory() == ([ENDPOINT], [status["endpointConfigName"]], [status["modelName"]])


@pytest.mark.timeout(60)
def test_operator_killed_before_update_endpoint_and_restarted_rolls_out_once(e2e: EndToEnd) -> None:
    e2e.create(NAME)
    e2e.aws.faults.server_error("UpdateEndpoint", times=1_000_000)
    e2e.patch(NAME, image("1.7-2"))
    e2e.wait(lambda: e2e.aws.count("UpdateEndpoint") >= 1, "UpdateEndpoint attempted")
    e2e.operator.kill()
    e2e.aws.faults.clear()
    e2e.operator.start()

    status = status_of(e2e.wait_in_service(NAME, generation=2))

    assert e2e.succeeded("UpdateEndpoint") == 1
    assert (e2e.succeeded("CreateEndpointConfig"), e2e.succeeded("CreateModel")) == (2, 2)
    assert e2e.inventory() == ([ENDPOINT], [status["endpointConfigName"]], [status["modelName"]])


@pytest.mark.timeout(60)
def test_operator_killed_while_updating_and_restarted_finishes_the_rollout(e2e: EndToEnd) -> None:
    e2e.create(NAME)
    clock = e2e.freeze_sagemaker()
    e2e.patch(NAME, image("1.7-2"))
    e2e.wait(lambda: e2e.succeeded("UpdateEndpoint") == 1, "UpdateEndpoint")
    e2e.operator.kill()
    e2e.operator.start()
    e2e.after_passes(1)

    clock.advance(60)
    status = status_of(e2e.wait_in_service(NAME, generation=2))

    assert e2e.aws.count("UpdateEndpoint") == 1
    assert e2e.inventory() == ([ENDPOINT], [status["endpointConfigName"]], [status["modelName"]])


@pytest.mark.timeout(60)
def test_deleting_during_a_rollout_removes_both_configs_and_models(e2e: EndToEnd) -> None:
    """SageMaker refuses DeleteEndpoint while an update is in progress: the finalizer waits for the rollout to end,
    then deletes the endpoint and both configs and models."""
    e2e.create(NAME)
    clock = e2e.freeze_sagemaker()
    e2e.patch(NAME, image("1.7-2"))
    e2e.wait(lambda: e2e.aws.count("UpdateEndpoint") == 1, "UpdateEndpoint")

    e2e.kubectl("delete", "lle", NAME, "-n", NAMESPACE, "--wait=false")
    e2e.after_passes(2)
    assert e2e.aws.count("DeleteEndpoint") == 0
    clock.advance(60)  # the rollout ends
    e2e.wait(lambda: e2e.aws.count("DeleteEndpoint") == 1, "DeleteEndpoint once the endpoint is InService")
    clock.advance(60)
    e2e.wait(lambda: e2e.get(NAME) is None, "the resource gone")

    assert e2e.inventory() == ([], [], [])


@pytest.mark.timeout(60)
def test_instance_count_change_without_autoscaling_needs_no_new_config(e2e: EndToEnd) -> None:
    e2e.create(NAME)

    e2e.patch(NAME, {"instanceCount": 3})
    found = e2e.wait_for_status(
        NAME,
        lambda found: status_of(found).get("currentInstanceCount") == 3 and phase_is("InService")(found),
        "3 instances InService",
    )

    assert status_of(found)["observedGeneration"] == 2
    assert live_count(e2e) == 3
    assert e2e.aws.count("UpdateEndpointWeightsAndCapacities") == 1
    assert e2e.aws.count("UpdateEndpoint") == 0
    assert e2e.aws.count("CreateEndpointConfig") == 1


@pytest.mark.timeout(60)
def test_tag_change_reaches_endpoint_config_and_model(e2e: EndToEnd) -> None:
    status = status_of(e2e.create(NAME, bid_filter_spec(tags={"team": "bidding", "tier": "gold"})))
    sagemaker = e2e.sagemaker
    arns = [
        status["endpointArn"],
        sagemaker.describe_endpoint_config(EndpointConfigName=status["endpointConfigName"])["EndpointConfigArn"],
        sagemaker.describe_model(ModelName=status["modelName"])["ModelArn"],
    ]

    e2e.patch(NAME, {"tags": {"team": None, "tier": "platinum", "cost-center": "42"}})
    e2e.wait_in_service(NAME, generation=2)

    for arn in arns:
        tags = e2e.tags(arn)
        assert {key: value for key, value in tags.items() if "/" not in key} == {
            "tier": "platinum",
            "cost-center": "42",
        }
        assert tags[TAG_MANAGED_BY] == MANAGER
    resources = {status["endpointName"], status["endpointConfigName"], status["modelName"]}
    assert {call.resource for call in e2e.aws.calls(operation="AddTags")} == resources
    assert {call.resource for call in e2e.aws.calls(operation="DeleteTags")} == resources
    assert e2e.aws.count("CreateEndpointConfig") == 1


@pytest.mark.timeout(60)
def test_endpoint_deleted_out_of_band_is_recreated_with_an_event(e2e: EndToEnd) -> None:
    e2e.create(NAME)

    e2e.sagemaker.delete_endpoint(EndpointName=ENDPOINT)
    e2e.wait(lambda: e2e.aws.count("CreateEndpoint") == 2, "the endpoint created again")
    e2e.wait(
        lambda: e2e.sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "InService",
        "the new endpoint InService",
    )
    e2e.wait_for_status(NAME, phase_is("InService"), "InService again")

    events = e2e.wait(
        lambda: [event for event in e2e.events(NAME) if "deleted outside the operator" in event.get("message", "")],
        "an Event about the recreation",
    )
    assert (events[0]["type"], events[0]["reason"]) == ("Warning", "DriftRepaired")
    assert ENDPOINT in events[0]["message"]


# --- autoscaling -----------------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_autoscaling_registers_target_policy_and_schedules(e2e: EndToEnd) -> None:
    e2e.create(NAME, bid_filter_spec(autoscaling=AUTOSCALING))

    assert scaling(e2e) == REGISTERED
    (policy,) = e2e.autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=RESOURCE_ID)[
        "ScalingPolicies"
    ]
    assert policy["PolicyType"] == "TargetTrackingScaling"


@pytest.mark.timeout(60)
def test_autoscaling_changes_in_place_and_removal_deregisters(e2e: EndToEnd) -> None:
    e2e.create(NAME, bid_filter_spec(autoscaling=AUTOSCALING))
    morning = {"name": "morning-peak", "cron": "cron(0 8 * * ? *)", "minCapacity": 3, "maxCapacity": 8}

    e2e.patch(NAME, {"autoscaling": {"maxCapacity": 8, "targetInvocationsPerInstance": 7000, "schedules": [morning]}})
    changed = Scaling(
        capacity=(2, 8),
        policies=((METRIC, 7000.0, 300, 60),),
        schedules=(("morning-peak", "cron(0 8 * * ? *)", 3, 8),),
    )
    e2e.wait(lambda: scaling(e2e) == changed, "autoscaling changed in place")
    e2e.wait_in_service(NAME, generation=2)
    assert e2e.aws.count("DeregisterScalableTarget") == 0
    assert e2e.aws.count("UpdateEndpoint") == 0

    e2e.patch(NAME, {"autoscaling": None})
    e2e.wait(lambda: scaling(e2e) == UNREGISTERED, "autoscaling removed")
    e2e.wait_in_service(NAME, generation=3)
    assert e2e.aws.count("DeregisterScalableTarget") == 1
    assert e2e.aws.count("UpdateEndpoint") == 0


@pytest.mark.timeout(60)
def test_image_change_under_autoscaling_keeps_the_scaled_out_count(e2e: EndToEnd) -> None:
    e2e.create(NAME, bid_filter_spec(autoscaling=AUTOSCALING))
    e2e.aws.sagemaker.scale(ENDPOINT, 5)
    e2e.wait_for_status(NAME, lambda found: status_of(found).get("currentInstanceCount") == 5, "the live count")

    e2e.patch(NAME, image("1.7-2"))
    found = e2e.wait_in_service(NAME, generation=2)

    assert live_count(e2e) == 5
    assert status_of(found)["currentInstanceCount"] == 5
    assert scaling(e2e) == REGISTERED
    assert e2e.aws.count("UpdateEndpoint") == 1
    assert e2e.aws.count("DeregisterScalableTarget") == 0, "a model change may keep the target registered"


@pytest.mark.timeout(60)
def test_instance_type_change_under_autoscaling_deregisters_first_and_registers_after_in_service(
    e2e: EndToEnd,
) -> None:
    e2e.create(NAME, bid_filter_spec(autoscaling=AUTOSCALING))
    clock = e2e.freeze_sagemaker()
    start = len(e2e.operations())

    e2e.patch(NAME, {"instanceType": "ml.c5.2xlarge"})
    e2e.wait(lambda: e2e.aws.count("UpdateEndpoint") == 1, "UpdateEndpoint")
    e2e.after_passes(2)  # the endpoint is Updating all this while: autoscaling must stay off
    operations = e2e.operations()
    update = after(operations, "UpdateEndpoint", start)
    assert after(operations, "DeregisterScalableTarget", start) < update
    assert "RegisterScalableTarget" not in operations[update:]
    assert scaling(e2e) == UNREGISTERED

    clock.advance(60)
    found = e2e.wait_in_service(NAME, generation=2)
    e2e.wait(lambda: scaling(e2e) == REGISTERED, "autoscaling registered again")

    operations = e2e.operations()
    registered = after(operations, "RegisterScalableTarget", update)
    assert after(operations, "PutScalingPolicy", registered) > registered
    assert after(operations, "PutScheduledAction", registered) > registered
    assert status_of(found)["currentInstanceCount"] == 2
    described = e2e.sagemaker.describe_endpoint_config(EndpointConfigName=status_of(found)["endpointConfigName"])
    assert described["ProductionVariants"][0]["InstanceType"] == "ml.c5.2xlarge"


@pytest.mark.timeout(60)
def test_failed_instance_type_change_under_autoscaling_puts_autoscaling_back(e2e: EndToEnd) -> None:
    before = status_of(e2e.create(NAME, bid_filter_spec(autoscaling=AUTOSCALING)))
    e2e.aws.sagemaker.fail_next_update(ENDPOINT, "Insufficient capacity for ml.c5.2xlarge")

    e2e.patch(NAME, {"instanceType": "ml.c5.2xlarge"})
    found = e2e.wait_for_status(NAME, degraded, "Degraded")

    assert status_of(found)["endpointConfigName"] == before["endpointConfigName"]
    e2e.wait(lambda: scaling(e2e) == REGISTERED, "autoscaling of the config that still serves")
    e2e.after_passes(2)
    assert e2e.aws.count("UpdateEndpoint") == 1
    assert scaling(e2e) == REGISTERED


@pytest.mark.timeout(60)
def test_endpoint_deleted_out_of_band_comes_back_with_its_autoscaling(e2e: EndToEnd) -> None:
    """Deleting an endpoint deregisters its variants from Application Auto Scaling; the recreated one needs them."""
    e2e.create(NAME, bid_filter_spec(autoscaling=AUTOSCALING))

    e2e.sagemaker.delete_endpoint(EndpointName=ENDPOINT)
    e2e.wait(lambda: e2e.aws.count("CreateEndpoint") == 2, "the endpoint created again")

    e2e.wait(lambda: scaling(e2e) == REGISTERED, "autoscaling registered again")
    e2e.wait_in_service(NAME)


@pytest.mark.timeout(60)
def test_deleting_an_autoscaled_endpoint_removes_its_autoscaling(e2e: EndToEnd) -> None:
    e2e.create(NAME, bid_filter_spec(autoscaling=AUTOSCALING))

    e2e.delete(NAME)

    assert e2e.inventory() == ([], [], [])
    assert scaling(e2e) == UNREGISTERED


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "removal",
    [DeregisterScalableTarget(RESOURCE_ID), DeleteScheduledAction(RESOURCE_ID, "evening-peak")],
    ids=["target", "scheduled action"],
)
def test_removing_autoscaling_that_is_already_gone_counts_as_done(
    removal: Action, aws_emulator: AwsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass that removes what another pass (or a person) removed a moment before must not fail on it."""
    endpoints.apply(emulator_clients(aws_emulator, monkeypatch), removal)

    (call,) = aws_emulator.calls(service="application-autoscaling")
    assert call.error_code == "ObjectNotFoundException"


# --- the runtime VPC endpoint ----------------------------------------------------------------------------------


def usable_vpc_endpoints(ec2: Any, vpc_id: str) -> list[dict[str, Any]]:
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "service-name", "Values": [RUNTIME_SERVICE]}]
    found = ec2.describe_vpc_endpoints(Filters=filters)["VpcEndpoints"]
    return [endpoint for endpoint in found if endpoint["State"].lower() not in {"deleting", "deleted"}]


def with_vpc_endpoint(found: Resource) -> bool:
    return phase_is("InService")(found) and bool(status_of(found).get("vpcEndpointId"))


@pytest.mark.timeout(60)
def test_vpc_endpoint_is_created_for_the_runtime_and_reported(e2e: EndToEnd) -> None:
    network = create_network(e2e.ec2)
    e2e.apply(NAME, bid_filter_spec(vpcEndpoint=network))

    status = status_of(e2e.wait_for_status(NAME, with_vpc_endpoint, "a VPC endpoint"))

    (endpoint,) = usable_vpc_endpoints(e2e.ec2, network["vpcId"])
    assert endpoint["VpcEndpointId"] == status["vpcEndpointId"]
    assert endpoint["ServiceName"] == RUNTIME_SERVICE
    assert endpoint["VpcEndpointType"] == "Interface"
    assert endpoint["SubnetIds"] == network["subnetIds"]
    assert [group["GroupId"] for group in endpoint["Groups"]] == network["securityGroupIds"]
    assert endpoint["PrivateDnsEnabled"] is True
    assert status["vpcEndpointDnsNames"] == [entry["DnsName"] for entry in endpoint["DnsEntries"]]
    assert "runtime.sagemaker.us-east-1.amazonaws.com" in status["vpcEndpointDnsNames"]


@pytest.mark.timeout(90)
def test_endpoints_in_one_vpc_share_its_vpc_endpoint_until_the_last_leaves(e2e: EndToEnd) -> None:
    network = create_network(e2e.ec2)
    for name in ("bid-filter", "bid-ranker"):
        e2e.apply(name, bid_filter_spec(vpcEndpoint=network))
    shared = {
        status_of(e2e.wait_for_status(name, with_vpc_endpoint, "a VPC endpoint"))["vpcEndpointId"]
        for name in ("bid-filter", "bid-ranker")
    }

    assert len(shared) == 1
    assert [endpoint["VpcEndpointId"] for endpoint in usable_vpc_endpoints(e2e.ec2, network["vpcId"])] == list(shared)

    e2e.delete("bid-filter")
    assert [endpoint["VpcEndpointId"] for endpoint in usable_vpc_endpoints(e2e.ec2, network["vpcId"])] == list(shared)

    e2e.delete("bid-ranker")
    assert usable_vpc_endpoints(e2e.ec2, network["vpcId"]) == []


@pytest.mark.timeout(60)
def test_removing_the_vpc_endpoint_block_releases_it(e2e: EndToEnd) -> None:
    network = create_network(e2e.ec2)
    e2e.apply(NAME, bid_filter_spec(vpcEndpoint=network))
    e2e.wait_for_status(NAME, with_vpc_endpoint, "a VPC endpoint")

    e2e.patch(NAME, {"vpcEndpoint": None})
    e2e.wait_in_service(NAME, generation=2)

    e2e.wait(lambda: usable_vpc_endpoints(e2e.ec2, network["vpcId"]) == [], "the VPC endpoint deleted")
    found = e2e.wait_for_status(NAME, lambda found: "vpcEndpointId" not in status_of(found), "no VPC endpoint")
    assert not status_of(found).get("vpcEndpointDnsNames")


@pytest.mark.timeout(60)
def test_moving_to_another_vpc_releases_the_vpc_endpoint_of_the_first(e2e: EndToEnd) -> None:
    first, second = create_network(e2e.ec2, "10.20.0.0/16"), create_network(e2e.ec2, "10.30.0.0/16")
    e2e.apply(NAME, bid_filter_spec(vpcEndpoint=first))
    before = status_of(e2e.wait_for_status(NAME, with_vpc_endpoint, "a VPC endpoint"))["vpcEndpointId"]

    e2e.patch(NAME, {"vpcEndpoint": second})
    e2e.wait_in_service(NAME, generation=2)
    (moved,) = e2e.wait(lambda: usable_vpc_endpoints(e2e.ec2, second["vpcId"]), "a VPC endpoint in the second VPC")

    e2e.wait(lambda: usable_vpc_endpoints(e2e.ec2, first["vpcId"]) == [], "the first VPC's endpoint deleted")
    after = e2e.wait_for_status(NAME, lambda found: status_of(found).get("vpcEndpointId") != before, "the new id")
    assert status_of(after)["vpcEndpointId"] == moved["VpcEndpointId"]


@pytest.mark.timeout(90)
def test_vpc_endpoint_is_created_anew_after_the_last_user_deleted_it(e2e: EndToEnd) -> None:
    network = create_network(e2e.ec2)
    e2e.apply(NAME, bid_filter_spec(vpcEndpoint=network))
    first = status_of(e2e.wait_for_status(NAME, with_vpc_endpoint, "a VPC endpoint"))
    e2e.delete(NAME)
    assert usable_vpc_endpoints(e2e.ec2, network["vpcId"]) == []

    e2e.apply("bid-ranker", bid_filter_spec(vpcEndpoint=network))
    second = status_of(e2e.wait_for_status("bid-ranker", with_vpc_endpoint, "a new VPC endpoint"))

    assert second["vpcEndpointId"] != first["vpcEndpointId"]
    assert [endpoint["VpcEndpointId"] for endpoint in usable_vpc_endpoints(e2e.ec2, network["vpcId"])] == [
        second["vpcEndpointId"]
    ]
    e2e.after_passes(2)
    assert e2e.succeeded("CreateVpcEndpoint") == 2


@pytest.mark.timeout(60)
def test_model_vpc_config_reaches_create_model(e2e: EndToEnd) -> None:
    network = create_network(e2e.ec2)
    vpc_config = {"subnets": network["subnetIds"], "securityGroupIds": network["securityGroupIds"]}
    model = {**bid_filter_spec()["model"], "vpcConfig": vpc_config}

    status = status_of(e2e.create(NAME, bid_filter_spec(model=model)))

    described = e2e.sagemaker.describe_model(ModelName=status["modelName"])
    assert described["VpcConfig"] == {"Subnets": network["subnetIds"], "SecurityGroupIds": network["securityGroupIds"]}
