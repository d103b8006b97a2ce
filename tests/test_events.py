"""Which Kubernetes Events a pass posts: each transition a user cares about once, nothing at steady state."""

from __future__ import annotations

from typing import Any

import pytest

from lowlatency.api import Condition, Phase, Status
from lowlatency.aws import AwsClients, AwsSettings
from lowlatency.planner import Notice, Plan, Verdict
from lowlatency.reconciler import EndpointReconciler, EndpointResource, Event, transition_events
from specs import bid_filter_spec

IN_SERVICE = Plan((), "InService", Verdict(True, "InService"))


def status(phase: Phase | None, *, degraded: bool = False) -> Status:
    conditions = [Condition(type="Degraded", status="True" if degraded else "False", reason="RolloutFailed")]
    return Status(phase=phase, conditions=conditions)


def test_steady_state_posts_nothing() -> None:
    assert transition_events(status("InService"), IN_SERVICE) == ()


@pytest.mark.parametrize(
    ("before", "plan", "expected"),
    [
        (None, Plan((), "Creating", Verdict(False, "Creating", "Creating SageMaker endpoint x")), "Creating"),
        ("Creating", IN_SERVICE, "InService"),
        ("InService", Plan((), "Updating", Verdict(True, "Updating", "Moving x to y")), "Updating"),
        ("Updating", IN_SERVICE, "InService"),
    ],
)
def test_each_phase_change_is_one_normal_event(before: Phase | None, plan: Plan, expected: str) -> None:
    (event,) = transition_events(status(before), plan)
    assert event.type == "Normal"
    assert event.reason == expected


def test_a_failure_is_a_warning_with_its_reason() -> None:
    failed = Plan((), "Failed", Verdict(False, "EndpointFailed", "SageMaker endpoint x failed: ping"))
    assert transition_events(status("Creating"), failed) == (
        Event("Warning", "EndpointFailed", "SageMaker endpoint x failed: ping"),
    )
    assert transition_events(status("Failed"), failed) == (), "said once, not at every pass"


def test_a_failed_rollout_is_a_warning_once() -> None:
    rolled_back = Plan(
        (),
        "InService",
        Verdict(True, "InService", "Serving the previous configuration old"),
        degraded=Verdict(True, "RolloutFailed", "Rollout to new failed; old still serves: health check"),
    )
    events = transition_events(status("Updating"), rolled_back)
    assert [(event.type, event.reason) for event in events] == [("Normal", "InService"), ("Warning", "RolloutFailed")]
    assert transition_events(status("InService", degraded=True), rolled_back) == ()


def test_what_the_plan_notices_is_posted_as_it_says() -> None:
    drift = Plan((), "InService", Verdict(True, "InService"), notices=(Notice("DriftRepaired", "Tags restored"),))
    deleted = Notice("DriftRepaired", "deleted outside the operator", warning=True)
    recreate = Plan((), "Creating", Verdict(False, "Creating"), notices=(deleted,))
    assert transition_events(status("InService"), drift) == (Event("Normal", "DriftRepaired", "Tags restored"),)
    assert transition_events(status("InService"), recreate)[0] == Event(
        "Warning", "DriftRepaired", "deleted outside the operator"
    )


def test_a_refused_spec_is_one_warning_until_the_spec_changes() -> None:
    """Every resync finds an invalid spec again: its Warning is posted when the refusal is new, not at each pass."""
    reconciler = EndpointReconciler(AwsClients(AwsSettings()))
    body: dict[str, Any] = {
        "metadata": {"namespace": "adtech", "name": "bid-filter", "uid": "u-1", "generation": 1},
        "spec": bid_filter_spec(instanceCount=0),
    }
    first = reconciler.reconcile(EndpointResource.from_body(body))
    assert [(event.type, event.reason) for event in first.events] == [("Warning", "InvalidSpec")]
    again = reconciler.reconcile(EndpointResource.from_body(body | {"status": first.status}))
    assert again.events == ()
    assert again.status["phase"] == "Failed"
    changed = {**body, "metadata": {**body["metadata"], "generation": 2}, "spec": bid_filter_spec(instanceCount=-1)}
    (event,) = reconciler.reconcile(EndpointResource.from_body(changed | {"status": first.status})).events
    assert (event.type, event.reason) == ("Warning", "InvalidSpec")
