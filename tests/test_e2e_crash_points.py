"""Crash points: the operator is killed right after each AWS call of a create, an update and a delete, in turn, and
started again; every run ends in the right state with nothing duplicated and nothing orphaned.

For each flow a clean run first records the mutating AWS calls that AWS carried out (K of them, from the emulator's
call log, which the fault proxy's record must match; not a number written here). Then, for k = 1..K, the proxy
holds back the answer to the k-th mutating call AWS carried out, the test checks that the calls AWS carried out so
far are the clean run's first k (so the kill follows the clean run's call k, not some other call), the operator is
SIGKILLed at exactly that point (the call took effect, the operator never learnt of it), and a new operator process
takes over. The end state is judged by a listing of everything AWS holds, with owner tags, and by what the endpoint
serves. One Kubernetes API emulator and one proxy serve all the cases of a flow; each case has a resource of its own
and an emptied AWS emulator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from e2e_support import NAMESPACE, EndToEnd, Resource, create_network, status_of
from lowlatency.emulators.faults import FaultProxy, is_mutating
from reliability_support import (
    AUDIT_SECONDS,
    Held,
    ProxiedEndToEnd,
    expected_inventory,
    report_rows,
    serves_the_spec,
    uid_of,
    wait_for_inventory,
)
from specs import bid_filter_spec

pytest_plugins = ["e2e_fixtures", "reliability_fixtures"]

NEW_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-2"
AUTOSCALING = {"minCapacity": 2, "maxCapacity": 4, "targetInvocationsPerInstance": 6000}
FLOWS = ("create", "update", "delete")
# The operator's default read timeout: a held answer must not time out (and be retried) before the kill.
OPERATOR_ARGUMENTS = ["--audit-seconds", str(AUDIT_SECONDS)]


@dataclass
class CrashRig:
    """One operator process (killed and started again at will) reaching AWS through the proxy."""

    e2e: EndToEnd
    proxy: FaultProxy
    network: dict[str, Any]

    def spec(self) -> dict[str, Any]:
        return bid_filter_spec(autoscaling=AUTOSCALING, vpcEndpoint=self.network)

    def expected(self, resource: Resource) -> set[Held]:
        return expected_inventory(uid_of(resource), status_of(resource), vpc_id=self.network["vpcId"])

    def carried_out(self, since: int) -> list[str]:
        """The mutating calls AWS carried out (answered 200) from call ``since`` of the emulator's log on."""
        calls = self.e2e.aws.calls()[since:]
        return [call.operation for call in calls if call.status == 200 and is_mutating(call.operation)]

    def fresh_case(self) -> None:
        """Forget the previous case: its object released, AWS emptied, the network made again."""
        self.e2e.operator.kill()
        for item in self.e2e.kubectl("get", "lle", "-n", NAMESPACE, "-o", "name").stdout.split():
            self.e2e.kubectl(
                "patch", item, "-n", NAMESPACE, "--type", "merge", "-p", '{"metadata":{"finalizers":null}}'
            )
            self.e2e.kubectl("delete", item, "-n", NAMESPACE, "--wait=false", check=False)
        self.e2e.aws.reset()
        self.network = create_network(self.e2e.ec2)
        self.e2e.operator.start()


@pytest.fixture
def operator_arguments() -> list[str]:
    return OPERATOR_ARGUMENTS


@pytest.fixture
def rig(proxied: ProxiedEndToEnd) -> CrashRig:
    return CrashRig(proxied, proxied.proxy, network={})


@dataclass(frozen=True)
class Flow:
    """How to bring a flow's resource to where the flow starts, start the flow, and judge its end (``ends`` says
    in docs/reliability.md what that end is)."""

    prepare: Callable[[CrashRig, str], Resource | None]
    start: Callable[[CrashRig, str], None]
    finish: Callable[[CrashRig, str, Resource | None], None]
    ends: str


def _nothing_to_prepare(rig: CrashRig, name: str) -> None:
    return None


def _created(rig: CrashRig, name: str) -> Resource:
    created = rig.e2e.create(name, rig.spec())
    wait_for_inventory(rig.e2e, rig.expected(created), f"{name} created")
    return created


def _apply(rig: CrashRig, name: str) -> None:
    rig.e2e.apply(name, rig.spec())


def _change_image(rig: CrashRig, name: str) -> None:
    rig.e2e.patch(name, {"model": {"image": NEW_IMAGE}})


def _delete(rig: CrashRig, name: str) -> None:
    rig.e2e.kubectl("delete", "lle", name, "-n", NAMESPACE, "--wait=false")


def _in_service_once(rig: CrashRig, name: str, before: Resource | None) -> None:
    created = rig.e2e.wait_in_service(name)
    wait_for_inventory(rig.e2e, rig.expected(created), f"{name}: exactly one of everything")
    serves_the_spec(rig.e2e.sagemaker, created)
    for operation in ("CreateModel", "CreateEndpointConfig", "CreateEndpoint", "CreateVpcEndpoint"):
        assert rig.e2e.succeeded(operation) == 1, (operation, rig.e2e.succeeded(operation))


def _rolled_out_once(rig: CrashRig, name: str, before: Resource | None) -> None:
    assert before is not None
    updated = rig.e2e.wait_in_service(name, generation=2)
    assert status_of(updated)["modelName"] != status_of(before)["modelName"]
    wait_for_inventory(rig.e2e, rig.expected(updated), f"{name}: the new config and model only")
    serves_the_spec(rig.e2e.sagemaker, updated)
    assert rig.e2e.succeeded("UpdateEndpoint") == 1
    assert rig.e2e.succeeded("CreateEndpoint") == 1


def _all_gone(rig: CrashRig, name: str, before: Resource | None) -> None:
    rig.e2e.wait(lambda: rig.e2e.get(name) is None, f"{name} released by its finalizer", timeout=30)
    wait_for_inventory(rig.e2e, set(), f"{name}: nothing left in AWS")


FLOW_STEPS = {
    "create": Flow(
        _nothing_to_prepare, _apply, _in_service_once, "end InService with exactly one of everything, serving the spec"
    ),
    "update": Flow(
        _created,
        _change_image,
        _rolled_out_once,
        "end InService at generation 2 with only the new config and model, one rollout, serving the new image",
    ),
    "delete": Flow(_created, _delete, _all_gone, "end with the object released and nothing left in AWS"),
}


def prepared(rig: CrashRig, flow: Flow, name: str) -> Resource | None:
    before = flow.prepare(rig, name)
    if before is not None:
        rig.e2e.after_passes(2)  # settled: what follows is the flow's own
    return before


def mutations_of_a_clean_run(rig: CrashRig, flow: Flow) -> list[str]:
    """The mutating calls AWS carries out for the flow when nothing goes wrong, once it has settled."""
    rig.fresh_case()
    name = "clean-run"
    before = prepared(rig, flow, name)
    since, recorded = len(rig.e2e.aws.calls()), len(rig.proxy.mutations)
    flow.start(rig, name)
    flow.finish(rig, name, before)
    if rig.e2e.get(name) is not None:
        rig.e2e.after_passes(3)  # anything the flow still does after its end state shows
    carried_out = rig.carried_out(since)
    assert rig.proxy.mutations[recorded:] == carried_out, "the proxy counts the calls AWS carried out, and only those"
    return carried_out


@dataclass(frozen=True)
class CrashPoints:
    """The mutating calls of a flow in the order of its clean run, and those after which a killed operator's
    successor brought the flow to its end."""

    calls: list[str]
    ended_right: list[str]

    def result(self, flow: Flow) -> str:
        """How docs/reliability.md words the result."""
        return (
            f"{len(self.calls)} crash points ({', '.join(self.calls)}): "
            f"{len(self.ended_right)} of {len(self.calls)} {flow.ends}, no duplicate, no orphan"
        )


def crash_points(rig: CrashRig, flow_name: str) -> CrashPoints:
    """Run the flow once per mutating call AWS carries out in it, killing the operator right after that call."""
    flow = FLOW_STEPS[flow_name]
    clean = mutations_of_a_clean_run(rig, flow)
    assert clean, f"the {flow_name} flow made no mutating call"
    ended_right = []
    for k, operation in enumerate(clean, start=1):
        rig.fresh_case()
        name = f"{flow_name}-after-{k}"
        before = prepared(rig, flow, name)
        since = len(rig.e2e.aws.calls())
        hold = rig.proxy.hold_after(k)
        flow.start(rig, name)
        assert hold.reached.wait(30), f"crash point {k} ({operation}) never reached\n{rig.e2e.operator.logs()}"
        carried_out = rig.carried_out(since)
        assert carried_out == clean[:k], f"crash point {k}: AWS carried out {carried_out}, the clean run {clean[:k]}"
        assert hold.operation == operation
        rig.e2e.operator.kill()
        hold.release()
        rig.e2e.operator.start()
        try:
            flow.finish(rig, name, before)
        except AssertionError as failed:
            raise AssertionError(f"killed after mutating call {k} of {flow_name} ({operation}): {failed}") from None
        ended_right.append(operation)
    return CrashPoints(clean, ended_right)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("flow", FLOWS)
def test_killed_after_each_mutating_call_ends_right_with_no_duplicate_or_orphan(flow: str, rig: CrashRig) -> None:
    points = crash_points(rig, flow)
    # docs/reliability.md reports the measured crash points; a flow that changes must change the report too.
    result = points.result(FLOW_STEPS[flow])
    assert result in report_rows("Crash points")[flow.capitalize()], result
