"""Drift: AWS resources changed outside the operator are put back by its periodic audit (a short
``--audit-seconds`` here), each repair announced by a ``DriftRepaired`` Event naming what was changed.

An endpoint deleted outside the operator is covered by ``test_e2e_day_two`` (recreated, with the same Event); these
are the other kinds of drift: autoscaling removed in part or in whole, tags edited, the instance count changed.
"""

from __future__ import annotations

from typing import Any

import pytest

from e2e_support import EndToEnd, Scaling, describe_scaling, status_of
from fixtures_kubernetes import ROOT
from lowlatency.desired import MANAGER, TAG_MANAGED_BY, TAG_UID
from reliability_support import ProxiedEndToEnd, names_of_tests, report_rows, uid_of
from specs import bid_filter_spec

pytest_plugins = ["e2e_fixtures", "reliability_fixtures"]

NAME = "bid-filter"
ENDPOINT = f"adtech-{NAME}"
RESOURCE_ID = f"endpoint/{ENDPOINT}/variant/AllTraffic"
POLICY = f"{ENDPOINT}-invocations-per-instance"
SCOPE = {"ServiceNamespace": "sagemaker", "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
METRIC = "SageMakerVariantInvocationsPerInstance"
PEAK = {"name": "evening-peak", "cron": "cron(0 18 * * ? *)", "minCapacity": 3, "maxCapacity": 4}
AUTOSCALING = {
    "minCapacity": 2,
    "maxCapacity": 4,
    "targetInvocationsPerInstance": 6000,
    "scaleInCooldownSeconds": 300,
    "scaleOutCooldownSeconds": 60,
    "schedules": [PEAK],
}
REGISTERED = Scaling(
    capacity=(2, 4),
    policies=((METRIC, 6000.0, 300, 60),),
    schedules=(("evening-peak", "cron(0 18 * * ? *)", 3, 4),),
)
# The audit comes every 2 s (± jitter), the first one anywhere in the first period.
REPAIR_SECONDS = 20


def repairs(e2e: EndToEnd, *about: str) -> list[dict[str, Any]]:
    """The DriftRepaired Events whose message names all of ``about``, once there is one."""
    return e2e.wait(
        lambda: [
            event
            for event in e2e.events(NAME)
            if event.get("reason") == "DriftRepaired" and all(text in event.get("message", "") for text in about)
        ],
        f"a DriftRepaired event about {about}",
        timeout=REPAIR_SECONDS,
    )


def no_mutation_once_repaired(e2e: EndToEnd) -> None:
    """The repair is made once, not on every audit."""
    made = len(e2e.aws.mutating_calls())
    audits = e2e.aws.count("ListTags")
    e2e.wait(lambda: e2e.aws.count("ListTags") > audits, "another audit", timeout=REPAIR_SECONDS)
    e2e.after_passes(2)
    assert len(e2e.aws.mutating_calls()) == made, e2e.aws.mutating_calls()[made:]


@pytest.mark.timeout(60)
def test_scaling_policy_removed_out_of_band_is_put_back(proxied: ProxiedEndToEnd) -> None:
    e2e = proxied
    e2e.create(NAME, bid_filter_spec(autoscaling=AUTOSCALING))
    e2e.wait(lambda: describe_scaling(e2e.autoscaling, RESOURCE_ID) == REGISTERED, "autoscaling registered")

    e2e.autoscaling.delete_scaling_policy(PolicyName=POLICY, ResourceId=RESOURCE_ID, **SCOPE)
    (event,) = repairs(e2e, POLICY, "restored")
    assert event["type"] == "Normal"
    assert describe_scaling(e2e.autoscaling, RESOURCE_ID) == REGISTERED
    no_mutation_once_repaired(e2e)


@pytest.mark.timeout(60)
def test_scalable_target_deregistered_out_of_band_is_registered_with_its_policy_and_schedule(
    proxied: ProxiedEndToEnd,
) -> None:
    e2e = proxied
    e2e.create(NAME, bid_filter_spec(autoscaling=AUTOSCALING))
    e2e.wait(lambda: describe_scaling(e2e.autoscaling, RESOURCE_ID) == REGISTERED, "autoscaling registered")

    # Application Auto Scaling removes the target's policies and scheduled actions with it.
    e2e.autoscaling.deregister_scalable_target(ResourceId=RESOURCE_ID, **SCOPE)
    repairs(e2e, ENDPOINT, "registered (2-4)")
    repairs(e2e, POLICY, "restored")
    repairs(e2e, "evening-peak", "restored")
    assert describe_scaling(e2e.autoscaling, RESOURCE_ID) == REGISTERED
    no_mutation_once_repaired(e2e)


@pytest.mark.timeout(60)
def test_tags_edited_out_of_band_are_restored(proxied: ProxiedEndToEnd) -> None:
    e2e = proxied
    created = e2e.create(NAME, bid_filter_spec(tags={"team": "bidding", "tier": "gold"}))
    arn = status_of(created)["endpointArn"]

    e2e.sagemaker.add_tags(
        ResourceArn=arn, Tags=[{"Key": "team", "Value": "someone-else"}, {"Key": "rogue", "Value": "1"}]
    )
    e2e.sagemaker.delete_tags(ResourceArn=arn, TagKeys=["tier"])
    (event,) = repairs(e2e, f"Tags of endpoint/{ENDPOINT} were changed outside the operator", "restored")
    for key in ("team", "tier", "rogue"):
        assert key in event["message"], event

    tags = e2e.tags(arn)
    assert {key: value for key, value in tags.items() if "/" not in key} == {"team": "bidding", "tier": "gold"}
    assert (tags[TAG_MANAGED_BY], tags[TAG_UID]) == (MANAGER, uid_of(created))
    no_mutation_once_repaired(e2e)


@pytest.mark.timeout(60)
def test_instance_count_changed_out_of_band_is_set_back(proxied: ProxiedEndToEnd) -> None:
    e2e = proxied
    e2e.create(NAME, bid_filter_spec(instanceCount=2))

    e2e.sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 5}]
    )
    (event,) = repairs(e2e, ENDPOINT, "set back to 2")
    assert event["type"] == "Normal"
    e2e.wait(
        lambda: (
            e2e.sagemaker.describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"][0].get("CurrentInstanceCount")
            == 2
        ),
        "two instances again",
    )
    e2e.wait_in_service(NAME)
    no_mutation_once_repaired(e2e)


DAY_TWO_DELETION = "test_endpoint_deleted_out_of_band_is_recreated_with_an_event"


def test_the_reliability_report_names_these_drift_tests() -> None:
    named = {test for row in report_rows("Drift").values() for test in names_of_tests(row)}
    drift_tests = {name for name, value in globals().items() if name.startswith("test_") and callable(value)}
    assert named == drift_tests - {"test_the_reliability_report_names_these_drift_tests"} | {DAY_TWO_DELETION}
    assert f"def {DAY_TWO_DELETION}(" in (ROOT / "tests" / "test_e2e_day_two.py").read_text()
