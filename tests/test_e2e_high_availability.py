"""Two replicas of the operator with one kopf peering name: one works, the other waits; the active one is killed in
the middle of a create, and the other takes over within the peering lifetime and finishes without duplicates.

Each replica reaches the AWS emulator through a proxy of its own (the fault proxy, injecting nothing), so the test
knows which replica made each AWS call. The active replica's proxy holds back the answer to its second mutating
call (CreateEndpointConfig: the model and the config exist in AWS, the endpoint does not, and the replica has not
learnt that the config was created) and the replica is killed with SIGKILL at exactly that point.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e_support import NAMESPACE, manifest
from fixtures_aws import AwsClientFactory
from fixtures_kubernetes import ROOT, Kubectl
from lowlatency.desired import MANAGER, TAG_MANAGED_BY, TAG_UID
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.emulators.faults import FaultProxy
from operator_process import OperatorProcess, wait_for
from reliability_support import serves_the_spec
from specs import bid_filter_spec

PEERING_CRDS = ROOT / "manifests" / "ha" / "kopf-peering-crds.yaml"
PEERING = "lowlatency-operator"
LIFETIME_SECONDS = 3
# After the active replica's last keep-alive, kopf resumes the standby at its peering deadline; it then lists the
# resources again and runs the pass. This is the slack for that restart on a loaded two-core machine.
TAKEOVER_SLACK_SECONDS = 20
REPLICAS = ("replica-a", "replica-b")


@pytest.fixture
def proxies(aws_emulator: AwsEmulator) -> Iterator[dict[str, FaultProxy]]:
    started = {pod: FaultProxy(aws_emulator.url).start() for pod in REPLICAS}
    yield started
    for proxy in started.values():
        proxy.stop()


def forwarded(proxy: FaultProxy, operation: str | None = None) -> int:
    return sum(n for (op, what), n in proxy.counts.items() if what == "forwarded" and operation in (None, op))


def peers(kubectl: Kubectl) -> dict[str, Any]:
    result = kubectl("get", "clusterkopfpeering", PEERING, "-o", "json", check=False)
    if result.returncode != 0:
        return {}
    status: dict[str, Any] = json.loads(result.stdout).get("status") or {}
    return status


def resource(kubectl: Kubectl, name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(kubectl("get", "lle", name, "-n", NAMESPACE, "-o", "json").stdout)
    return found


def in_service(kubectl: Kubectl, name: str) -> dict[str, Any] | None:
    found = resource(kubectl, name)
    return found if (found.get("status") or {}).get("phase") == "InService" else None


def tags(sagemaker: Any, arn: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in sagemaker.list_tags(ResourceArn=arn)["Tags"]}


@pytest.fixture
def replicas(
    kubeconfig: Path, aws_emulator: AwsEmulator, proxies: dict[str, FaultProxy], tmp_path: Path
) -> Iterator[dict[str, OperatorProcess]]:
    """Both replicas, not started; each reaches AWS through its own proxy and is named by POD_ID as in a Deployment."""
    arguments = ["--peering", PEERING, "--peering-lifetime", str(LIFETIME_SECONDS)]
    made = {
        pod: OperatorProcess(
            kubeconfig,
            {**aws_emulator.environment(), "AWS_ENDPOINT_URL": proxies[pod].url, "POD_ID": pod},
            tmp_path / f"{pod}.log",
            arguments,
        )
        for pod in REPLICAS
    }
    yield made
    for replica in made.values():
        replica.stop()


@pytest.mark.timeout(90)
@pytest.mark.usefixtures("lowlatency_crd")
def test_standby_takes_over_a_half_done_create_without_duplicates(
    kubectl: Kubectl,
    aws_emulator: AwsEmulator,
    aws_client: AwsClientFactory,
    proxies: dict[str, FaultProxy],
    replicas: dict[str, OperatorProcess],
) -> None:
    kubectl("apply", "-f", str(PEERING_CRDS))
    kubectl("create", "namespace", NAMESPACE)
    for replica in replicas.values():
        replica.start()
    registered = wait_for(lambda: peers(kubectl) if len(peers(kubectl)) == 2 else None, what="both peers")
    active_pod = max(registered, key=lambda pod: registered[pod]["priority"])
    standby_pod = next(pod for pod in REPLICAS if pod != active_pod)
    active, standby = replicas[active_pod], replicas[standby_pod]

    held = proxies[active_pod].hold_after(2)
    kubectl("apply", "-f", "-", input=manifest("bid-filter", bid_filter_spec()))
    assert held.reached.wait(30), f"the active replica made no second mutating call\n{active.logs()}"
    assert held.operation == "CreateEndpointConfig"
    assert forwarded(proxies[standby_pod]) == 0, "the standby replica must make no AWS call"
    assert f"[{NAMESPACE}/bid-filter]" not in standby.logs(tail=100000), "the standby replica must not handle it"

    active.kill()
    held.release()
    wait_for(
        lambda: in_service(kubectl, "bid-filter"),
        timeout=LIFETIME_SECONDS + TAKEOVER_SLACK_SECONDS,
        what="InService after the takeover",
        operator=standby,
    )
    assert "Resuming operations after the pause" in standby.logs(tail=100000)

    # The standby found the model and the config by name and ownership and created only the endpoint.
    assert forwarded(proxies[standby_pod], "CreateModel") == 0
    assert forwarded(proxies[standby_pod], "CreateEndpointConfig") == 0
    assert forwarded(proxies[standby_pod], "CreateEndpoint") == 1
    for operation in ("CreateModel", "CreateEndpointConfig", "CreateEndpoint"):
        succeeded = [call for call in aws_emulator.calls(operation=operation) if call.status == 200]
        assert len(succeeded) == 1, (operation, succeeded)

    finished = resource(kubectl, "bid-filter")
    uid = finished["metadata"]["uid"]
    sagemaker = aws_client("sagemaker")
    serves_the_spec(sagemaker, finished)
    models = sagemaker.list_models()["Models"]
    configs = sagemaker.list_endpoint_configs()["EndpointConfigs"]
    endpoints = sagemaker.list_endpoints()["Endpoints"]
    assert (len(models), len(configs), len(endpoints)) == (1, 1, 1)
    for arn in (models[0]["ModelArn"], configs[0]["EndpointConfigArn"], endpoints[0]["EndpointArn"]):
        owner = tags(sagemaker, arn)
        assert (owner.get(TAG_MANAGED_BY), owner.get(TAG_UID)) == (MANAGER, uid), (arn, owner)
