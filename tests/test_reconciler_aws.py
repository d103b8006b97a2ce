"""Reconciliation passes against moto in server mode: the AWS calls a pass makes, adoption, drift repair.

The AWS calls are counted by the operator's own metrics (its clients are instrumented), so these tests also show that
every call is measured.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from aws_passes import (
    aws_client,
    converge,
    create_foreign_endpoint,
    moto_server,
    operator_clients,
    resource_body,
    run_pass,
)
from lowlatency import observability
from lowlatency.desired import TAG_UID
from lowlatency.reconciler import ADOPT_ANNOTATION, EndpointReconciler, EndpointResource
from specs import bid_filter_spec

READ_PREFIXES = ("Describe", "List")
SCALING = {"minCapacity": 2, "maxCapacity": 8, "targetInvocationsPerInstance": 6000}


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    yield from moto_server()


@pytest.fixture
def reconciler(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> EndpointReconciler:
    return EndpointReconciler(operator_clients(moto_url, monkeypatch))


def aws_calls() -> Counter[str]:
    """Every AWS API call the operator made so far, by operation, from its metrics."""
    counted: Counter[str] = Counter()
    for family in observability.REGISTRY.collect():
        for sample in family.samples:
            if sample.name == "lowlatency_aws_api_calls_total":
                counted[sample.labels["operation"]] += int(sample.value)
    return counted


def calls_of_one_pass(reconciler: EndpointReconciler, body: dict[str, Any], *, audit: bool = False) -> Counter[str]:
    before = aws_calls()
    run_pass(reconciler, body, audit=audit)
    return aws_calls() - before


def mutating(calls: Counter[str]) -> Counter[str]:
    return Counter({operation: n for operation, n in calls.items() if not operation.startswith(READ_PREFIXES)})


@pytest.mark.timeout(60)
def test_a_steady_endpoint_costs_one_describe_per_pass(reconciler: EndpointReconciler) -> None:
    body = resource_body("steady", bid_filter_spec())
    converge(reconciler, body)
    for _ in range(3):
        assert calls_of_one_pass(reconciler, body) == Counter({"DescribeEndpoint": 1})


@pytest.mark.timeout(60)
def test_a_steady_autoscaled_endpoint_costs_one_describe_and_its_audit_changes_nothing(
    reconciler: EndpointReconciler,
) -> None:
    body = resource_body("scaled", bid_filter_spec(autoscaling=SCALING))
    converge(reconciler, body)
    assert calls_of_one_pass(reconciler, body) == Counter({"DescribeEndpoint": 1})
    audit = calls_of_one_pass(reconciler, body, audit=True)
    assert mutating(audit) == Counter()
    assert audit["DescribeScalableTargets"] == 1
    assert audit["ListTags"] >= 1


@pytest.mark.timeout(60)
def test_tags_edited_outside_are_restored_by_the_audit_with_an_event(
    reconciler: EndpointReconciler, moto_url: str
) -> None:
    body = resource_body("tagged", bid_filter_spec())
    converge(reconciler, body)
    client = aws_client("sagemaker", moto_url)
    arn = body["status"]["endpointArn"]
    client.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "intruders"}])

    assert calls_of_one_pass(reconciler, body) == Counter({"DescribeEndpoint": 1})  # a steady pass does not look
    result = run_pass(reconciler, body, audit=True)

    tags = {tag["Key"]: tag["Value"] for tag in client.list_tags(ResourceArn=arn)["Tags"]}
    assert tags["team"] == "bidding"
    assert [event.reason for event in result.events] == ["DriftRepaired"]


@pytest.mark.timeout(60)
def test_an_annotated_endpoint_is_adopted_and_recorded(reconciler: EndpointReconciler, moto_url: str) -> None:
    client = aws_client("sagemaker", moto_url)
    arn = create_foreign_endpoint(client, "legacy-bidder", tags=[{"Key": "owner", "Value": "legacy"}])
    body = resource_body("adopter", bid_filter_spec(), annotations={ADOPT_ANNOTATION: "legacy-bidder"})

    result = run_pass(reconciler, body)

    tags = {tag["Key"]: tag["Value"] for tag in client.list_tags(ResourceArn=arn)["Tags"]}
    assert tags[TAG_UID] == "uid-adopter"
    assert tags["team"] == "bidding"
    assert body["status"]["endpointName"] == "legacy-bidder"
    assert "endpointArn" not in body["status"]  # recorded once a pass sees the endpoint as its own
    assert [event.reason for event in result.events] == ["Adopted", "Updating"]
    assert result.moving

    resource = EndpointResource.from_body(body)
    assert resource.adopting
    assert resource.endpoint_name == "legacy-bidder"
    # The next pass finds the endpoint tagged as its own and moves it onto a config built from the spec (moto has
    # no UpdateEndpoint: that the call is made is what is checked here).
    calls = calls_of_one_pass(reconciler, body)
    assert mutating(calls) == Counter({"CreateModel": 1, "CreateEndpointConfig": 1, "UpdateEndpoint": 1})
    configs = client.list_endpoint_configs(NameContains="legacy-bidder-")["EndpointConfigs"]
    (config,) = configs
    assert config["EndpointConfigName"].startswith("legacy-bidder-")
    assert client.list_tags(ResourceArn=config["EndpointConfigArn"])["Tags"]


@pytest.mark.timeout(60)
def test_without_the_annotation_a_foreign_endpoint_is_a_name_conflict(
    reconciler: EndpointReconciler, moto_url: str
) -> None:
    client = aws_client("sagemaker", moto_url)
    create_foreign_endpoint(client, "adtech-squatted")
    body = resource_body("squatted", bid_filter_spec())

    before = aws_calls()
    run_pass(reconciler, body)

    assert mutating(aws_calls() - before) == Counter()
    assert body["status"]["phase"] == "Failed"
    assert (
        client.list_tags(ResourceArn=client.describe_endpoint(EndpointName="adtech-squatted")["EndpointArn"])["Tags"]
        == []
    )


def test_an_invalid_adoption_annotation_is_reported_on_the_field_and_nothing_is_called(
    reconciler: EndpointReconciler,
) -> None:
    body = resource_body("bad-adopter", bid_filter_spec(), annotations={ADOPT_ANNOTATION: "not_a.valid-name"})
    before = aws_calls()
    result = run_pass(reconciler, body)
    assert aws_calls() == before
    assert body["status"]["phase"] == "Failed"
    assert f"metadata.annotations[{ADOPT_ANNOTATION}]" in body["status"]["failureReason"]
    assert [event.reason for event in result.events] == ["InvalidSpec"]


def test_a_resource_that_manages_an_endpoint_keeps_it_whatever_the_annotation_says() -> None:
    body = resource_body("keeper", bid_filter_spec(), annotations={ADOPT_ANNOTATION: "another-endpoint"})
    body["status"] = {"endpointName": "adtech-keeper", "endpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/x"}
    resource = EndpointResource.from_body(body)
    assert not resource.adopting
    assert resource.endpoint_name == "adtech-keeper"


@pytest.mark.timeout(60)
def test_an_endpoint_deleted_outside_is_created_again_and_status_says_nothing_serves_meanwhile(
    reconciler: EndpointReconciler, moto_url: str
) -> None:
    body = resource_body("vanishing", bid_filter_spec())
    converge(reconciler, body)
    assert body["status"]["currentInstanceCount"] == 2
    aws_client("sagemaker", moto_url).delete_endpoint(EndpointName="adtech-vanishing")

    result = run_pass(reconciler, body)

    assert [(event.type, event.reason) for event in result.events] == [
        ("Warning", "DriftRepaired"),
        ("Normal", "Creating"),
    ]
    assert body["status"]["phase"] == "Creating"
    assert body["status"]["currentInstanceCount"] is None
    assert body["status"]["endpointArn"]
    converge(reconciler, body)
    assert body["status"]["currentInstanceCount"] == 2


def scalable_targets(moto_url: str, endpoint: str) -> list[tuple[int, int]]:
    found = aws_client("application-autoscaling", moto_url).describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[f"endpoint/{endpoint}/variant/AllTraffic"]
    )["ScalableTargets"]
    return [(target["MinCapacity"], target["MaxCapacity"]) for target in found]


@pytest.mark.timeout(60)
def test_an_endpoint_deleted_outside_gets_its_autoscaling_back_as_soon_as_it_serves_again(
    reconciler: EndpointReconciler, moto_url: str
) -> None:
    body = resource_body("rescaled", bid_filter_spec(autoscaling=SCALING))
    converge(reconciler, body)
    assert scalable_targets(moto_url, "adtech-rescaled") == [(2, 8)]
    # Deleting an endpoint deregisters its variants from Application Auto Scaling (moto's endpoint does not).
    aws_client("sagemaker", moto_url).delete_endpoint(EndpointName="adtech-rescaled")
    aws_client("application-autoscaling", moto_url).deregister_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/adtech-rescaled/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
    )

    run_pass(reconciler, body)
    assert body["status"]["observedGeneration"] is None  # nothing serves: no generation is live
    calls = calls_of_one_pass(reconciler, body)  # a steady pass, not an audit

    assert scalable_targets(moto_url, "adtech-rescaled") == [(2, 8)]
    assert mutating(calls) == Counter({"RegisterScalableTarget": 1, "PutScalingPolicy": 1})
    assert body["status"]["observedGeneration"] == 1
    assert calls_of_one_pass(reconciler, body) == Counter({"DescribeEndpoint": 1})
