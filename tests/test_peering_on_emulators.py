"""Two operator replicas with kopf peering on the emulators: one works, the other waits, and takes over when the
active one is killed, finishing the work without duplicates.

The replicas are `lowlatency-operator run --peering` processes against the Kubernetes API emulator (which serves
kopf's peering CRDs from manifests/ha/) and moto; each is named by POD_ID as in a Deployment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from aws_passes import aws_client, moto_server
from fixtures_kubernetes import Kubectl
from operator_process import OperatorProcess, wait_for
from specs import bid_filter_spec

PEERING_CRDS = Path(__file__).resolve().parent.parent / "manifests" / "ha" / "kopf-peering-crds.yaml"
PEERING = "lowlatency-operator"
LIFETIME_SECONDS = 4


@pytest.fixture
def moto_url() -> Iterator[str]:
    yield from moto_server()


def apply_endpoint(kubectl: Kubectl, name: str) -> None:
    document = {
        "apiVersion": "lowlatency.io/v1alpha1",
        "kind": "LowLatencyEndpoint",
        "metadata": {"namespace": "adtech", "name": name},
        "spec": bid_filter_spec(),
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(document))


def in_service(kubectl: Kubectl, name: str) -> dict[str, Any] | None:
    found: dict[str, Any] = json.loads(kubectl("get", "lle", name, "-n", "adtech", "-o", "json").stdout)
    return found if found.get("status", {}).get("phase") == "InService" else None


def peers(kubectl: Kubectl) -> dict[str, Any]:
    result = kubectl("get", "clusterkopfpeering", PEERING, "-o", "json", check=False)
    if result.returncode != 0:
        return {}
    status: dict[str, Any] = json.loads(result.stdout).get("status") or {}
    return status


def handled(operator: OperatorProcess, name: str) -> bool:
    return f"[adtech/{name}] Handler" in operator.logs(tail=100000)


@pytest.mark.timeout(150)
@pytest.mark.usefixtures("lowlatency_crd")
def test_one_replica_works_and_the_other_takes_over_when_it_dies(
    kubectl: Kubectl, kubeconfig: Path, moto_url: str, tmp_path: Path
) -> None:
    kubectl("apply", "-f", str(PEERING_CRDS))
    kubectl("create", "namespace", "adtech")
    aws = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }
    arguments = ["--peering", PEERING, "--peering-lifetime", str(LIFETIME_SECONDS)]
    replicas = {
        pod: OperatorProcess(kubeconfig, {**aws, "POD_ID": pod}, tmp_path / f"{pod}.log", arguments)
        for pod in ("replica-a", "replica-b")
    }
    try:
        for replica in replicas.values():
            replica.start()
        registered = wait_for(lambda: peers(kubectl) if len(peers(kubectl)) == 2 else None, what="two peers")
        active_pod = max(registered, key=lambda pod: registered[pod]["priority"])
        active, standby = replicas[active_pod], next(r for pod, r in replicas.items() if pod != active_pod)

        apply_endpoint(kubectl, "first")
        wait_for(lambda: in_service(kubectl, "first"), timeout=30, what="first InService", operator=active)
        assert handled(active, "first")
        assert not handled(standby, "first"), "the standby replica must not handle anything"

        active.kill()
        apply_endpoint(kubectl, "second")
        wait_for(
            lambda: in_service(kubectl, "second"),
            timeout=LIFETIME_SECONDS + 30,
            what="second InService after the takeover",
            operator=standby,
        )
        assert handled(standby, "second")
    finally:
        for replica in replicas.values():
            replica.stop()

    sagemaker = aws_client("sagemaker", moto_url)
    assert sorted(e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]) == [
        "adtech-first",
        "adtech-second",
    ]
    assert len(sagemaker.list_endpoint_configs()["EndpointConfigs"]) == 2
    assert len(sagemaker.list_models()["Models"]) == 2
