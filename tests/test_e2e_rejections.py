"""End to end: requests AWS refuses outright (a permanent error, unlike a rollout SageMaker rolls back), injected
with the AWS emulator's ``faults.reject``, driven with kubectl and judged by what the emulator holds and was asked.
"""

from __future__ import annotations

from typing import Any

import pytest

from e2e_support import NAMESPACE, EndToEnd, Resource, Scaling, condition, describe_scaling, status_of
from specs import bid_filter_spec

pytest_plugins = ["e2e_fixtures"]

NAME = "bid-filter"
RESOURCE_ID = f"endpoint/{NAMESPACE}-{NAME}/variant/AllTraffic"
AUTOSCALING = {
    "minCapacity": 2,
    "maxCapacity": 6,
    "targetInvocationsPerInstance": 6000,
    "schedules": [{"name": "evening-peak", "cron": "cron(0 18 * * ? *)", "minCapacity": 4, "maxCapacity": 6}],
}
REGISTERED = Scaling(
    capacity=(2, 6),
    policies=(("SageMakerVariantInvocationsPerInstance", 6000.0, 300, 60),),
    schedules=(("evening-peak", "cron(0 18 * * ? *)", 4, 6),),
)
REFUSAL = "The instance type ml.c5.2xlarge is not supported for endpoints in this Region"


def rejected(found: Resource) -> bool:
    degraded = condition(found, "Degraded")
    return degraded.get("status") == "True" and degraded.get("reason") == "AWSRejected"


def scaling(e2e: EndToEnd) -> Scaling:
    return describe_scaling(e2e.autoscaling, RESOURCE_ID)


def refused_instance_type_change(e2e: EndToEnd) -> tuple[dict[str, Any], Resource]:
    """An autoscaled endpoint whose move to a bigger instance type AWS refuses: its status before, the resource
    once the refusal is reported."""
    before = status_of(e2e.create(NAME, bid_filter_spec(autoscaling=AUTOSCALING)))
    assert scaling(e2e) == REGISTERED
    e2e.aws.faults.reject("UpdateEndpoint", "ValidationException", REFUSAL)
    e2e.patch(NAME, {"instanceType": "ml.c5.2xlarge"})
    return before, e2e.wait_for_status(NAME, rejected, "Degraded: AWSRejected")


@pytest.mark.timeout(90)
def test_a_refused_update_is_reported_not_retried_and_autoscaling_comes_back(e2e: EndToEnd) -> None:
    before, found = refused_instance_type_change(e2e)

    degraded = condition(found, "Degraded")
    assert "UpdateEndpoint" in degraded["message"]
    assert REFUSAL in degraded["message"]
    assert degraded["observedGeneration"] == 2
    e2e.wait(lambda: scaling(e2e) == REGISTERED, "autoscaling back on the config that serves")
    e2e.after_passes(3)
    assert e2e.aws.count("UpdateEndpoint") == 1
    assert scaling(e2e) == REGISTERED
    now = e2e.get(NAME)
    status = status_of(now)
    assert (status["phase"], status["observedGeneration"]) == ("InService", 1)
    assert status["endpointConfigName"] == before["endpointConfigName"]
    assert condition(now, "Ready")["status"] == "True"
    assert condition(now, "Degraded") == degraded
    refusals = [event for event in e2e.events(NAME) if event["reason"] == "AWSRejected"]
    assert [(event["type"], event.get("count", 1)) for event in refusals] == [("Warning", 1)]
    assert REFUSAL in refusals[0]["message"]


@pytest.mark.timeout(90)
def test_the_next_spec_change_after_a_refusal_is_tried(e2e: EndToEnd) -> None:
    before, _ = refused_instance_type_change(e2e)

    generation = e2e.patch(NAME, {"instanceType": "ml.c5.4xlarge"})
    found = e2e.wait_in_service(NAME, generation=generation)

    assert e2e.aws.count("UpdateEndpoint") == 2
    assert status_of(found)["endpointConfigName"] != before["endpointConfigName"]
    assert condition(found, "Degraded")["status"] == "False"
    e2e.wait(lambda: scaling(e2e) == REGISTERED, "autoscaling on the new config")
