"""Scaling activities of Application Auto Scaling pass through Updating, and the operator lets them.

The autoscaler changes a variant's count with its own UpdateEndpointWeightsAndCapacities: the endpoint is Updating,
DescribeEndpoint shows the new count as desired and the old one as current until the instances are there, and only
then is it InService at the new count. The emulator does so (first part, on a clock driven by hand); the operator
process, driven with kubectl, reports both counts as they move, sends nothing while the autoscaler scales and keeps
the autoscaler's count afterwards (second part).
"""

from __future__ import annotations

from typing import Any

import pytest

from e2e_support import NAMESPACE, EndToEnd, Resource, condition, status_of
from emulator_requests import VARIANT, client_error, code_of, counts, message_of, register, status
from fixtures_aws import TEST_DELAYS, ManualClock
from lowlatency.emulators.aws import AwsEmulator
from specs import bid_filter_spec

pytest_plugins = ["e2e_fixtures"]

NAME = "bid-filter"
ENDPOINT = f"{NAMESPACE}-{NAME}"
AUTOSCALING = {"minCapacity": 1, "maxCapacity": 6, "targetInvocationsPerInstance": 6000}


# The emulator


@pytest.mark.timeout(60)
def test_a_scaling_activity_is_updating_until_the_desired_count_is_reached(
    aws_emulator: AwsEmulator, sagemaker: Any, autoscaling: Any, in_service: str, aws_clock: ManualClock
) -> None:
    register(autoscaling, in_service, low=1, high=10)
    aws_emulator.sagemaker.scale(in_service, 7)

    assert status(sagemaker, in_service) == "Updating"
    assert counts(sagemaker, in_service) == (2, 7)
    [listed] = sagemaker.list_endpoints()["Endpoints"]
    assert listed["EndpointStatus"] == "Updating"
    refused = client_error(
        lambda: sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=in_service, DesiredWeightsAndCapacities=[{"VariantName": VARIANT, "DesiredInstanceCount": 3}]
        )
    )
    assert (code_of(refused), "in-progress" in message_of(refused)) == ("ValidationException", True)
    with pytest.raises(RuntimeError, match="blocked"):
        aws_emulator.sagemaker.scale(in_service, 8)

    aws_clock.advance(TEST_DELAYS.capacity / 2)
    assert (status(sagemaker, in_service), counts(sagemaker, in_service)) == ("Updating", (2, 7))
    aws_clock.advance(TEST_DELAYS.capacity / 2)
    assert (status(sagemaker, in_service), counts(sagemaker, in_service)) == ("InService", (7, 7))

    aws_emulator.sagemaker.scale(in_service, 1)  # scaling in goes the same way
    assert (status(sagemaker, in_service), counts(sagemaker, in_service)) == ("Updating", (7, 1))
    aws_clock.advance(TEST_DELAYS.capacity)
    assert (status(sagemaker, in_service), counts(sagemaker, in_service)) == ("InService", (1, 1))
    assert aws_emulator.count("UpdateEndpointWeightsAndCapacities") == 1, "the autoscaler's calls are not logged"


@pytest.mark.timeout(60)
def test_a_registration_that_leaves_out_the_live_count_starts_a_scaling_activity(
    sagemaker: Any, autoscaling: Any, in_service: str, aws_clock: ManualClock
) -> None:
    register(autoscaling, in_service, low=4, high=10)
    assert (status(sagemaker, in_service), counts(sagemaker, in_service)) == ("Updating", (2, 4))
    aws_clock.advance(TEST_DELAYS.capacity)
    assert (status(sagemaker, in_service), counts(sagemaker, in_service)) == ("InService", (4, 4))

    register(autoscaling, in_service, low=1, high=3)
    assert (status(sagemaker, in_service), counts(sagemaker, in_service)) == ("Updating", (4, 3))
    aws_clock.advance(TEST_DELAYS.capacity)
    register(autoscaling, in_service, low=1, high=5)  # the count is within the range: nothing to do
    assert (status(sagemaker, in_service), counts(sagemaker, in_service)) == ("InService", (3, 3))


# The operator


def counts_in_status(found: Resource) -> tuple[Any, Any, Any]:
    current = status_of(found)
    return current.get("phase"), current.get("currentInstanceCount"), current.get("desiredInstanceCount")


def scaling_seen(e2e: EndToEnd, phase: str, current: int, desired: int) -> Resource:
    return e2e.wait_for_status(
        NAME,
        lambda found: counts_in_status(found) == (phase, current, desired),
        f"{phase} with {current} instances of {desired} in status",
    )


@pytest.mark.timeout(90)
def test_the_operator_reports_an_autoscaler_scaling_and_never_fights_it(e2e: EndToEnd) -> None:
    e2e.create(NAME, bid_filter_spec(autoscaling=AUTOSCALING))
    clock = e2e.freeze_sagemaker()
    e2e.aws.reset_calls()

    e2e.aws.sagemaker.scale(ENDPOINT, 5)
    moving = scaling_seen(e2e, "Updating", 2, 5)
    assert condition(moving, "Ready")["status"] == "True", "an endpoint that scales keeps serving"
    e2e.after_passes(3)
    assert e2e.aws.mutating_calls() == [], "nothing is sent while the autoscaler scales"

    clock.advance(TEST_DELAYS.capacity)
    e2e.wait_in_service(NAME)
    scaling_seen(e2e, "InService", 5, 5)
    e2e.after_passes(3)  # resyncs, 2 s apart: the spec's instanceCount (2) must not win over the autoscaler's 5

    e2e.aws.sagemaker.scale(ENDPOINT, 1)
    scaling_seen(e2e, "Updating", 5, 1)
    clock.advance(TEST_DELAYS.capacity)
    scaling_seen(e2e, "InService", 1, 1)
    e2e.after_passes(3)
    assert e2e.aws.mutating_calls() == []
    assert counts(e2e.sagemaker, ENDPOINT) == (1, 1)


@pytest.mark.timeout(90)
def test_a_minimum_raised_above_the_live_count_is_reached_by_the_autoscaler(e2e: EndToEnd) -> None:
    """The operator registers the new range; the service scales into it (Updating), and the operator waits for it
    instead of setting the count itself."""
    e2e.create(NAME, bid_filter_spec(autoscaling=AUTOSCALING))
    clock = e2e.freeze_sagemaker()
    e2e.aws.reset_calls()

    generation = e2e.patch(NAME, {"instanceCount": 4, "autoscaling": {"minCapacity": 4}})
    e2e.wait(lambda: e2e.aws.count("RegisterScalableTarget") == 1, "the new range registered")
    scaling_seen(e2e, "Updating", 2, 4)
    e2e.after_passes(3)
    assert e2e.aws.count("RegisterScalableTarget") == 1
    assert e2e.aws.count("UpdateEndpointWeightsAndCapacities") == 0
    assert e2e.aws.count("UpdateEndpoint") == 0

    clock.advance(TEST_DELAYS.capacity)
    found = e2e.wait_in_service(NAME, generation=generation)
    assert counts_in_status(found) == ("InService", 4, 4)
    assert [call.operation for call in e2e.aws.mutating_calls()] == ["RegisterScalableTarget"]
