"""End to end under faults: AWS failing in each of its recurring ways (through the fault proxy), and the Kubernetes
API cutting watches, refusing status writes and going away for a while. Every resource converges, status says what
is happening while the operator retries, and AWS ends up holding exactly what it should: nothing duplicated under
another name, nothing leaked (judged by a listing of everything the emulator holds, with owner tags).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kmock
import pytest

from e2e_support import EndToEnd, Resource, condition, create_network, status_of
from lowlatency.emulators.faults import ANSWER_LOST, Fault, FaultRates, is_mutating
from lowlatency.emulators.kubernetes import KubernetesEmulator
from reliability_support import (
    READ_TIMEOUT_SECONDS,
    ProxiedEndToEnd,
    expected_inventory,
    names_of_tests,
    report_rows,
    retrying,
    serves_the_spec,
    uid_of,
    wait_for_inventory,
)
from specs import bid_filter_spec

pytest_plugins = ["e2e_fixtures", "reliability_fixtures"]

NAME = "bid-filter"
NEW_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-2"
AUTOSCALING = {"minCapacity": 2, "maxCapacity": 4, "targetInvocationsPerInstance": 6000}
CREATE_ENDPOINT = frozenset({"CreateEndpoint"})
# One step (create, update or delete) under faults, retries and backoff included; throttling takes the longest.
CONVERGE_SECONDS = 60
PHASES = ("create", "update", "delete")


@dataclass(frozen=True)
class FaultClass:
    """A way AWS fails: at first on every CreateEndpoint, until status shows the operator retrying with the error
    named; then on the first mutating call of each phase (create, update, delete) and at ``rate`` of every call."""

    row: str  # the row of docs/reliability.md's Faults table
    fault: Fault
    rate: float
    named_as: str  # what the Ready condition's message names

    def rates(self, rate: float, operations: frozenset[str] = frozenset(), *, first: bool = False) -> FaultRates:
        """This fault at ``rate`` of the ``operations`` (all when empty); ``first``: and on the first mutating call."""
        return FaultRates.only(
            self.fault,
            rate,
            slow_seconds=2 * READ_TIMEOUT_SECONDS,
            operations=operations,
            fault_first_mutation=first,
        )

    def result(self, converged: list[str]) -> str:
        """How docs/reliability.md words the result: the phases that converged, each through injected faults."""
        return (
            f"{len(converged)} of {len(PHASES)} operations ({', '.join(converged)}) converge, each through at least "
            f"one injected fault; `Retrying` shown with `{self.named_as}`; nothing duplicated or leaked"
        )


FAULT_CLASSES = {
    fault.fault: fault
    for fault in (
        FaultClass("Throttling", "throttle", 0.3, "ThrottlingException"),
        FaultClass("Server errors (5xx) before AWS acts", "server-error", 0.2, "InternalFailure"),
        FaultClass("Server errors (5xx) after AWS acted", "server-error-after", 0.2, "InternalFailure"),
        FaultClass("Slow answers past the read timeout", "slow", 0.2, "ReadTimeoutError"),
        FaultClass("Connections dropped before AWS acts", "drop-before", 0.2, "ConnectionClosedError"),
        FaultClass("Connections dropped after AWS acted", "drop-after", 0.2, "ConnectionClosedError"),
    )
}
# The rows of the Faults table for test_every_mutating_call_whose_answer_is_lost_once_converges.
LOST_ONCE_ROWS: dict[Fault, str] = {
    "server-error-after": "Every answer lost once to a 5xx after AWS acted",
    "drop-after": "Every answer lost once to a dropped connection after AWS acted",
}


def autoscaled_spec(network: dict[str, Any]) -> dict[str, Any]:
    """Every kind of AWS resource the operator makes: model, config, endpoint, autoscaling, VPC endpoint."""
    return bid_filter_spec(autoscaling=AUTOSCALING, vpcEndpoint=network)


@dataclass(frozen=True)
class Phase:
    """What happened in one phase: the faults injected (``(operation, fault)`` → how many) and the mutating
    operations AWS carried out, from the emulator's call log."""

    injected: Counter[tuple[str, str]]
    carried_out: frozenset[str]

    def injected_of(self, fault: Fault) -> int:
        return sum(n for (_, what), n in self.injected.items() if what == fault)


def _create(e2e: ProxiedEndToEnd, network: dict[str, Any]) -> None:
    e2e.apply(NAME, autoscaled_spec(network))  # unchanged if it was applied before
    created = e2e.wait_in_service(NAME, timeout=CONVERGE_SECONDS)
    wait_for_inventory(e2e, expected_inventory(uid_of(created), status_of(created), vpc_id=network["vpcId"]), "created")
    serves_the_spec(e2e.sagemaker, created)


def _update(e2e: ProxiedEndToEnd, network: dict[str, Any]) -> None:
    before = status_of(e2e.get(NAME))
    e2e.patch(NAME, {"model": {"image": NEW_IMAGE}})
    updated = e2e.wait_in_service(NAME, generation=2, timeout=CONVERGE_SECONDS)
    assert status_of(updated)["modelName"] != before["modelName"]
    assert status_of(updated)["endpointConfigName"] != before["endpointConfigName"]
    wait_for_inventory(e2e, expected_inventory(uid_of(updated), status_of(updated), vpc_id=network["vpcId"]), "updated")
    serves_the_spec(e2e.sagemaker, updated)


def _delete(e2e: ProxiedEndToEnd, network: dict[str, Any]) -> None:
    e2e.kubectl("delete", "lle", NAME, "-n", "adtech", "--wait", f"--timeout={CONVERGE_SECONDS}s", timeout=90)
    wait_for_inventory(e2e, set(), "deleted")


PHASE_STEPS: dict[str, Callable[[ProxiedEndToEnd, dict[str, Any]], None]] = {
    "create": _create,
    "update": _update,
    "delete": _delete,
}


def through_the_phases(e2e: ProxiedEndToEnd, network: dict[str, Any], rates: FaultRates) -> dict[str, Phase]:
    """The resource created (applied, or already applied), its image changed, and deleted, with ``rates`` set anew
    at the start of each phase; each phase ends with AWS holding exactly what it should, and the endpoint serving
    the spec."""
    phases = {}
    for name in PHASES:
        injected_before, calls_before = Counter(e2e.proxy.counts), len(e2e.aws.calls())
        e2e.proxy.set_rates(rates)
        PHASE_STEPS[name](e2e, network)
        calls = e2e.aws.calls()[calls_before:]
        phases[name] = Phase(
            injected=Counter(e2e.proxy.counts) - injected_before,
            carried_out=frozenset(c.operation for c in calls if c.status == 200 and is_mutating(c.operation)),
        )
    return phases


@pytest.mark.timeout(180)
@pytest.mark.parametrize("fault", list(FAULT_CLASSES))
def test_create_update_and_delete_converge_under(fault: Fault, proxied: ProxiedEndToEnd) -> None:
    e2e, faults = proxied, FAULT_CLASSES[fault]
    network = create_network(e2e.ec2)

    e2e.proxy.set_rates(faults.rates(1.0, CREATE_ENDPOINT))
    e2e.apply(NAME, autoscaled_spec(network))
    stuck = e2e.wait_for_status(NAME, retrying, "Ready=False, Retrying, while every CreateEndpoint fails", timeout=40)
    ready = condition(stuck, "Ready")
    assert ready["status"] == "False"
    assert "CreateEndpoint failed" in ready["message"], ready
    assert faults.named_as in ready["message"], ready
    assert status_of(stuck)["phase"] in {"Pending", "Creating"}

    phases = through_the_phases(e2e, network, faults.rates(faults.rate, first=True))

    assert e2e.succeeded("CreateEndpoint") == 1
    assert e2e.succeeded("UpdateEndpoint") == 1
    injected = {name: phase.injected_of(fault) for name, phase in phases.items()}
    assert all(injected.values()), f"a phase met no {fault}: {injected}"
    converged = [name for name in PHASES if injected[name]]
    # docs/reliability.md states this result; a change in what the test shows must change the report too.
    assert faults.result(converged) in report_rows("Faults")[faults.row], faults.result(converged)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("fault", list(LOST_ONCE_ROWS))
def test_every_mutating_call_whose_answer_is_lost_once_converges(fault: Fault, proxied: ProxiedEndToEnd) -> None:
    """In each phase, the first answer to every operation is lost after AWS carried the call out (a 5xx, or the
    connection reset): the operator converges through its own requests that took effect unseen, with nothing
    duplicated and nothing leaked, and every mutating operation AWS carried out in the phase had its answer lost."""
    e2e = proxied
    network = create_network(e2e.ec2)

    phases = through_the_phases(e2e, network, FaultRates.only(fault, 1.0, once_per_operation=True))

    for name, phase in phases.items():
        lost = {operation for (operation, what) in phase.injected if what == fault}
        assert phase.carried_out, f"{name}: no mutating call"
        assert phase.carried_out <= lost, f"{name}: answers not lost: {sorted(phase.carried_out - lost)}"
    assert e2e.succeeded("CreateEndpoint") == 1
    assert e2e.succeeded("UpdateEndpoint") == 1
    result = lost_once_result(phases)
    assert result in report_rows("Faults")[LOST_ONCE_ROWS[fault]], result


def lost_once_result(phases: dict[str, Phase]) -> str:
    """How docs/reliability.md words the result of a lost-once test: the phases that converged and how many
    mutating operations of each lost their answer."""
    counts = ", ".join(f"{name} {len(phase.carried_out)}" for name, phase in phases.items())
    return (
        f"{len(phases)} of {len(PHASES)} operations ({', '.join(phases)}) converge with the answer to each of their "
        f"mutating operations lost once ({counts}); nothing duplicated or leaked"
    )


@pytest.mark.timeout(60)
def test_a_rollout_whose_answer_is_lost_is_followed_not_reported_as_rejected(proxied: ProxiedEndToEnd) -> None:
    """UpdateEndpoint carried out, its answer lost: the client's retry meets SageMaker's 'Cannot update in-progress
    endpoint', which means the endpoint is busy (with this very rollout), not that the spec was refused."""
    e2e = proxied
    created = e2e.create(NAME)
    hold = e2e.proxy.hold_after(3)  # CreateModel, CreateEndpointConfig, then UpdateEndpoint
    e2e.patch(NAME, {"model": {"image": NEW_IMAGE}})
    assert hold.reached.wait(20), e2e.operator.logs()
    assert hold.operation == "UpdateEndpoint"
    hold.release()

    updated = e2e.wait_in_service(NAME, generation=2)
    assert condition(updated, "Degraded").get("status") == "False", condition(updated, "Degraded")
    assert status_of(updated)["modelName"] != status_of(created)["modelName"]
    exactly_one_of_everything(e2e, updated)
    assert e2e.succeeded("UpdateEndpoint") == 1


# --- the Kubernetes API -----------------------------------------------------------------------------------------

LOWLATENCY = kmock.resource("lowlatency.io", "v1alpha1", "lowlatencyendpoints")
THIRD_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-3"
FAULT_SECONDS = 4


def kubernetes_failure(code: int, reason: str, message: str) -> dict[str, Any]:
    """The Status object kube-apiserver answers a failed request with."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }


def for_a_while(seconds: float) -> Callable[[Any], bool]:
    """A kmock request filter that matches until ``seconds`` from now."""
    until = time.monotonic() + seconds
    return lambda _request: time.monotonic() < until


def for_a_while_from_the_first(seconds: float) -> Callable[[Any], bool]:
    """A kmock request filter that matches for ``seconds`` from the first request it sees, however late that comes
    (an operator process that starts slowly on a busy machine still meets the whole fault)."""
    started: list[float] = []

    def matches(_request: Any) -> bool:
        if not started:
            started.append(time.monotonic())
        return time.monotonic() < started[0] + seconds

    return matches


def exactly_one_of_everything(e2e: EndToEnd, resource: Resource) -> None:
    wait_for_inventory(e2e, expected_inventory(uid_of(resource), status_of(resource), autoscaled=False), "the end")
    serves_the_spec(e2e.sagemaker, resource)
    assert e2e.succeeded("CreateEndpoint") == 1


@pytest.mark.timeout(90)
def test_watch_streams_cut_mid_rollout_are_reopened_and_the_next_change_is_seen(
    proxied: ProxiedEndToEnd, kubernetes_emulator: KubernetesEmulator
) -> None:
    e2e = proxied
    e2e.create(NAME)
    e2e.freeze_sagemaker()  # the rollout stays Updating while the watches are cut
    e2e.patch(NAME, {"model": {"image": NEW_IMAGE}})
    e2e.wait_for_status(NAME, lambda found: status_of(found).get("phase") == "Updating", "Updating")

    def watches() -> int:
        return len(list(kubernetes_emulator.api["get", LOWLATENCY, {"watch": "true"}]))

    opened = watches()
    kubernetes_emulator.stop_watches()
    e2e.wait(lambda: watches() > opened, "the operator watching again")
    # Only a watch opened again delivers this change to the operator.
    assert e2e.patch(NAME, {"model": {"image": THIRD_IMAGE}}) == 3
    opened = watches()
    kubernetes_emulator.stop_watches()
    e2e.wait(lambda: watches() > opened, "the operator watching again")
    e2e.aws.sagemaker.clock = time.time  # SageMaker's time runs again: the first rollout completes

    final = e2e.wait_in_service(NAME, generation=3, timeout=CONVERGE_SECONDS)
    assert final["spec"]["model"]["image"] == THIRD_IMAGE
    exactly_one_of_everything(e2e, final)
    assert e2e.succeeded("UpdateEndpoint") == 2


@pytest.mark.timeout(90)
def test_conflicts_on_status_writes_for_a_while_then_converges(
    proxied: ProxiedEndToEnd, kubernetes_emulator: KubernetesEmulator
) -> None:
    e2e = proxied
    conflict = kubernetes_failure(
        409,
        "Conflict",
        'Operation cannot be fulfilled on lowlatencyendpoints.lowlatency.io "bid-filter": the object has been '
        "modified; please apply your changes to the latest version and try again",
    )
    refusals = (
        kubernetes_emulator.api[
            "patch", LOWLATENCY, kmock.subresource("status"), for_a_while_from_the_first(FAULT_SECONDS)
        ]
        << 409
        << conflict
    )
    e2e.apply(NAME, bid_filter_spec())
    final = e2e.wait_in_service(NAME, timeout=CONVERGE_SECONDS)

    assert len(list(refusals)) >= 2, "the operator's status writes were refused for a while"
    exactly_one_of_everything(e2e, final)


@pytest.mark.timeout(90)
def test_api_server_unavailable_for_a_while_mid_create_then_converges(
    proxied: ProxiedEndToEnd, kubernetes_emulator: KubernetesEmulator
) -> None:
    e2e = proxied
    clock = e2e.freeze_sagemaker()  # Creating until the API server is back
    e2e.apply(NAME, bid_filter_spec())
    e2e.wait_for_status(NAME, lambda found: status_of(found).get("phase") == "Creating", "Creating")

    unavailable = kubernetes_failure(503, "ServiceUnavailable", "the server is currently unable to handle the request")
    refusals = kubernetes_emulator.api[for_a_while(FAULT_SECONDS)] << 503 << unavailable
    kubernetes_emulator.stop_watches()  # open streams end as a restarting server ends them
    clock.advance(60)
    time.sleep(FAULT_SECONDS)

    final = e2e.wait_in_service(NAME, timeout=CONVERGE_SECONDS)
    assert len(list(refusals)) >= 2, "the operator's requests met the unavailable server"
    exactly_one_of_everything(e2e, final)


# --- the report: docs/reliability.md states what these tests prove -------------------------------------------------


def test_the_reliability_report_states_the_faults_tested() -> None:
    """The rows and how each was tested; the results are checked by the tests that produce them."""
    rows = report_rows("Faults")
    assert sorted(rows) == sorted([faults.row for faults in FAULT_CLASSES.values()] + list(LOST_ONCE_ROWS.values()))
    for faults in FAULT_CLASSES.values():
        assert f"{faults.rate:.0%} of all calls" in rows[faults.row], rows[faults.row]
    assert set(LOST_ONCE_ROWS) == ANSWER_LOST
    kubernetes = report_rows("Kubernetes API faults")
    assert len(kubernetes) == 3
    for row in kubernetes.values():
        (named,) = names_of_tests(row)
        assert callable(globals().get(named)), f"docs/reliability.md names {named}, which is not in this module"
