"""End to end, as a user would: kubectl against the Kubernetes API emulator, the operator process, plain moto.

moto puts SageMaker endpoints InService at once, so this is the shortest path through create, status and delete.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from aws_passes import moto_server
from fixtures_kubernetes import ROOT, Kubectl
from operator_process import OperatorProcess, wait_for

EXAMPLE = ROOT / "examples" / "bid-filter.yaml"


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    """Plain moto on loopback, emptied first: its state is process-wide, other tests' leftovers would be found."""
    yield from moto_server()


def _endpoint(kubectl: Kubectl) -> dict[str, Any] | None:
    result = kubectl("get", "lle", "bid-filter", "-n", "adtech", "-o", "json", check=False)
    if result.returncode != 0:
        assert "NotFound" in result.stderr, result.stderr
        return None
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def _serving(kubectl: Kubectl) -> dict[str, Any] | None:
    found = _endpoint(kubectl)
    status = (found or {}).get("status", {})
    ready = [condition for condition in status.get("conditions", []) if condition.get("type") == "Ready"]
    generation = (found or {}).get("metadata", {}).get("generation")
    if status.get("phase") == "InService" and ready and ready[0]["status"] == "True":
        return found if status.get("observedGeneration") == generation else None
    return None


@pytest.mark.timeout(180)
@pytest.mark.usefixtures("lowlatency_crd")
def test_bid_filter_goes_in_service_and_deletes_cleanly(
    kubectl: Kubectl, kubeconfig: Path, moto_endpoint: str, tmp_path: Path
) -> None:
    aws_environment = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }
    operator = OperatorProcess(kubeconfig, aws_environment, tmp_path / "operator.log")
    operator.start()
    try:
        kubectl("create", "namespace", "adtech")
        kubectl("apply", "-f", str(EXAMPLE))

        serving = wait_for(lambda: _serving(kubectl), timeout=60, what="bid-filter InService", operator=operator)
        assert serving["status"]["endpointName"]
        listed = kubectl("get", "lle", "-n", "adtech").stdout
        assert "InService" in listed, listed

        kubectl("delete", "-f", str(EXAMPLE), "--timeout=90s", timeout=120)
        assert _endpoint(kubectl) is None
        sagemaker = boto3.client(
            "sagemaker",
            endpoint_url=moto_endpoint,
            region_name=aws_environment["AWS_REGION"],
            aws_access_key_id=aws_environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=aws_environment["AWS_SECRET_ACCESS_KEY"],
        )
        assert sagemaker.list_endpoints()["Endpoints"] == []
    finally:
        operator.stop()
