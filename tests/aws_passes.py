"""Reconciliation passes against a local AWS server, with the Kubernetes side played by hand: each pass gets the
object as kopf would hand it over, and what the pass returns for status is merged into the object for the next."""

from __future__ import annotations

import copy
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from fixtures_aws import TEST_DELAYS
from lowlatency.aws import AwsClients, AwsSettings
from lowlatency.reconciler import EndpointReconciler, EndpointResource, PassResult


def moto_server() -> Iterator[str]:
    """A moto server on loopback for the duration of a fixture; its URL. moto's state is process-wide (other tests'
    moto servers and the AWS emulator share it), so it starts empty and is left empty."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    _reset(url)
    yield url
    _reset(url)
    server.stop()


def _reset(url: str) -> None:
    with urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10):
        pass


def operator_clients(url: str, monkeypatch: pytest.MonkeyPatch) -> AwsClients:
    """The operator's own AWS clients, as `lowlatency-operator run` builds them, pointed at the moto server."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return AwsClients(AwsSettings(endpoint_url=url))


def aws_client(service: str, url: str) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def create_foreign_endpoint(
    client: Any, name: str, tags: list[dict[str, str]] | None = None, *, variant_name: str = "AllTraffic"
) -> str:
    """An endpoint made without the operator, with its own model and config; its ARN."""
    client.create_model(
        ModelName=f"model-of-{name}",
        PrimaryContainer={"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/Legacy",
    )
    variant = {"VariantName": variant_name, "ModelName": f"model-of-{name}", "InstanceType": "ml.c5.xlarge"}
    client.create_endpoint_config(
        EndpointConfigName=f"config-of-{name}", ProductionVariants=[variant | {"InitialInstanceCount": 1}]
    )
    arn: str = client.create_endpoint(EndpointName=name, EndpointConfigName=f"config-of-{name}", Tags=tags or [])[
        "EndpointArn"
    ]
    return arn


def resource_body(name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"namespace": "adtech", "name": name, "uid": f"uid-{name}", "generation": 1}
    if annotations:
        metadata["annotations"] = annotations
    return {"metadata": metadata, "spec": spec, "status": {}}


def run_pass(reconciler: EndpointReconciler, body: dict[str, Any], *, audit: bool = False) -> PassResult:
    result = reconciler.reconcile(EndpointResource.from_body(copy.deepcopy(body)), audit=audit)
    body["status"].update(result.status)
    return result


def converge(
    reconciler: EndpointReconciler, body: dict[str, Any], clock: Callable[[float], None] | None = None
) -> None:
    """Passes until the resource is InService and nothing moves; ``clock``: moves the AWS emulator's hand-driven
    clock between passes by the given seconds (moto's resources need no time)."""
    for _ in range(8):
        result = run_pass(reconciler, body)
        if body["status"].get("phase") == "InService" and not result.moving:
            return
        if clock is not None:
            clock(TEST_DELAYS.create + TEST_DELAYS.update)
    raise AssertionError(f"not InService: {body['status']}")
