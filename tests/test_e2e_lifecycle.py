"""End to end, as users meet it: create, failure, delete, retain, crash and invalid input (issue 3).

kubectl against the Kubernetes API emulator, the operator process, and the AWS emulator with SageMaker's lifecycle.
"""

from __future__ import annotations

import pytest

from admission import names_the_field
from e2e_support import NAMESPACE, EndToEnd, Resource, condition, manifest, status_of
from fixtures_kubernetes import Kubectl
from lowlatency.desired import MANAGER, TAG_MANAGED_BY, TAG_NAME, TAG_NAMESPACE, TAG_UID
from specs import bid_filter_spec

pytest_plugins = ["e2e_fixtures"]

NAME = "bid-filter"
ENDPOINT = f"{NAMESPACE}-{NAME}"
SCHEDULE = {"name": "evening-peak", "cron": "cron(0 18 * * ? *)", "minCapacity": 2, "maxCapacity": 4}


@pytest.mark.timeout(60)
def test_create_reaches_in_service_with_the_live_status(e2e: EndToEnd) -> None:
    found = e2e.create(NAME)

    status = status_of(found)
    described = e2e.sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    config = e2e.sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    assert described["EndpointStatus"] == "InService"
    assert status["phase"] == "InService"
    assert status["endpointName"] == ENDPOINT
    assert status["endpointArn"] == described["EndpointArn"]
    assert status["endpointConfigName"] == described["EndpointConfigName"]
    assert status["modelName"] == config["ProductionVariants"][0]["ModelName"]
    assert status["currentInstanceCount"] == 2
    assert status["observedGeneration"] == found["metadata"]["generation"]
    ready = condition(found, "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "InService")

    uid = found["metadata"]["uid"]
    expected_tags = {TAG_MANAGED_BY: MANAGER, TAG_NAMESPACE: NAMESPACE, TAG_NAME: NAME, TAG_UID: uid, "team": "bidding"}
    model_arn = e2e.sagemaker.describe_model(ModelName=status["modelName"])["ModelArn"]
    for arn in (described["EndpointArn"], config["EndpointConfigArn"], model_arn):
        assert e2e.tags(arn) == expected_tags, arn

    header, row = e2e.kubectl("get", "lle", "-n", NAMESPACE).stdout.splitlines()
    assert header.split() == ["NAME", "PHASE", "INSTANCE", "TYPE", "INSTANCES", "P99", "MS", "AGE"], header
    assert row.split()[:4] == [NAME, "InService", "ml.c5.xlarge", "2"], row


@pytest.mark.timeout(60)
def test_sagemaker_failure_is_reported_and_not_retried(e2e: EndToEnd) -> None:
    reason = "The primary container for production variant AllTraffic did not pass the ping health check."
    e2e.aws.sagemaker.fail_next_create(ENDPOINT, reason)
    e2e.apply(NAME, bid_filter_spec())

    failed = e2e.wait_for_status(NAME, lambda found: status_of(found).get("phase") == "Failed", "Failed")
    ready = condition(failed, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "EndpointFailed")
    assert reason in ready["message"]
    assert status_of(failed)["failureReason"] == reason

    e2e.after_passes(2)
    assert e2e.aws.count("CreateEndpoint") == 1
    assert e2e.aws.count("DeleteEndpoint") == 0
    assert status_of(e2e.get(NAME))["phase"] == "Failed"


@pytest.mark.timeout(60)
def test_delete_leaves_nothing_in_sagemaker(e2e: EndToEnd) -> None:
    e2e.create(NAME)
    assert e2e.inventory() != ([], [], [])

    e2e.delete(NAME)

    assert e2e.inventory() == ([], [], [])


@pytest.mark.timeout(60)
def test_retain_leaves_the_endpoint_config_and_model(e2e: EndToEnd) -> None:
    status = status_of(e2e.create(NAME, bid_filter_spec(deletionPolicy="Retain")))

    e2e.delete(NAME)

    assert e2e.inventory() == ([ENDPOINT], [status["endpointConfigName"]], [status["modelName"]])
    assert e2e.sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "InService"
    assert e2e.aws.count("DeleteEndpoint") == e2e.aws.count("DeleteEndpointConfig") == e2e.aws.count("DeleteModel") == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("failing", ["CreateEndpointConfig", "CreateEndpoint"])
def test_operator_killed_between_creations_and_restarted_creates_nothing_twice(e2e: EndToEnd, failing: str) -> None:
    # SageMaker fails every attempt of one creation, so the operator dies with the ones before it done.
    e2e.aws.faults.server_error(failing, times=1_000_000)
    e2e.apply(NAME, bid_filter_spec())
    e2e.wait(lambda: e2e.aws.count(failing) >= 1, f"{failing} attempted")
    e2e.operator.kill()
    e2e.aws.faults.clear()
    e2e.operator.start()

    assert_created_once(e2e, e2e.wait_in_service(NAME))


@pytest.mark.timeout(60)
def test_operator_killed_while_the_endpoint_is_creating_and_restarted_creates_nothing_twice(e2e: EndToEnd) -> None:
    clock = e2e.freeze_sagemaker()  # the endpoint stays Creating until the clock moves
    e2e.apply(NAME, bid_filter_spec())
    e2e.wait(lambda: e2e.succeeded("CreateEndpoint") == 1, "CreateEndpoint")
    e2e.operator.kill()
    e2e.operator.start()
    e2e.after_passes(1)

    clock.advance(60)

    assert_created_once(e2e, e2e.wait_in_service(NAME))


def assert_created_once(e2e: EndToEnd, found: Resource) -> None:
    for operation in ("CreateModel", "CreateEndpointConfig", "CreateEndpoint"):
        assert e2e.succeeded(operation) == 1, operation
    status = status_of(found)
    assert e2e.inventory() == ([ENDPOINT], [status["endpointConfigName"]], [status["modelName"]])


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("field", "spec"),
    [
        ("spec.instanceType", bid_filter_spec(instanceType="c5.xlarge")),
        ("spec.model.modelDataUrl", bid_filter_spec(model={**bid_filter_spec()["model"], "modelDataUrl": "bucket"})),
        ("spec.instanceCount", bid_filter_spec(instanceCount=0)),
    ],
    ids=["instance type pattern", "S3 URL pattern", "instance count minimum"],
)
def test_kubectl_apply_refuses_an_invalid_spec_naming_the_field(
    kubectl: Kubectl, lowlatency_crd: object, field: str, spec: dict[str, object]
) -> None:
    kubectl("create", "namespace", NAMESPACE)

    refused = kubectl("apply", "-f", "-", input=manifest(NAME, spec), check=False)

    assert refused.returncode != 0
    assert "Invalid" in refused.stderr, refused.stderr
    assert names_the_field(refused.stderr, field), refused.stderr
    missing = kubectl("get", "lle", NAME, "-n", NAMESPACE, check=False)
    assert "NotFound" in missing.stderr, missing.stderr


@pytest.mark.timeout(60)
def test_operator_refuses_what_the_schema_cannot_check_naming_the_field(e2e: EndToEnd) -> None:
    autoscaling = {"minCapacity": 2, "maxCapacity": 4, "schedules": [{**SCHEDULE, "cron": "cron(0 25 * * ? *)"}]}
    e2e.apply(NAME, bid_filter_spec(autoscaling=autoscaling))

    failed = e2e.wait_for_status(NAME, lambda found: status_of(found).get("phase") == "Failed", "Failed")

    ready = condition(failed, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert names_the_field(ready["message"], "spec.autoscaling.schedules[0].cron"), ready["message"]
    assert "25" in ready["message"]
    warnings = e2e.wait(
        lambda: [event for event in e2e.events(NAME) if event.get("reason") == "InvalidSpec"], "InvalidSpec Event"
    )
    assert warnings[0]["type"] == "Warning"
    assert e2e.aws.mutating_calls() == []
