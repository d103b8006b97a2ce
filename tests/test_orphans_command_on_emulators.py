"""`lowlatency-operator orphans` as a user runs it: the current kubeconfig (the Kubernetes API emulator) says which
LowLatencyEndpoints exist, moto holds what the operator made for them and for one that is gone."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from aws_passes import converge, moto_server, resource_body
from fixtures_kubernetes import Kubectl
from lowlatency import cli
from lowlatency.aws import AwsClients, AwsSettings
from lowlatency.reconciler import EndpointReconciler
from specs import bid_filter_spec


@pytest.fixture
def moto_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    yield from moto_server()


def endpoint_names(moto_url: str) -> list[str]:
    sagemaker = AwsClients(AwsSettings(endpoint_url=moto_url)).client("sagemaker", "us-east-1")
    return sorted(endpoint["EndpointName"] for endpoint in sagemaker.list_endpoints()["Endpoints"])


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("lowlatency_crd")
def test_orphans_are_listed_kept_without_a_yes_and_deleted_with_one(
    kubectl: Kubectl,
    kubeconfig: Path,
    moto_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    kubectl("create", "namespace", "adtech")
    document = {
        "apiVersion": "lowlatency.io/v1alpha1",
        "kind": "LowLatencyEndpoint",
        "metadata": {"namespace": "adtech", "name": "kept"},
        "spec": bid_filter_spec(),
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(document))
    kept_uid = json.loads(kubectl("get", "lle", "kept", "-n", "adtech", "-o", "json").stdout)["metadata"]["uid"]
    reconciler = EndpointReconciler(AwsClients(AwsSettings(endpoint_url=moto_url)))
    kept = resource_body("kept", bid_filter_spec())
    kept["metadata"]["uid"] = kept_uid
    converge(reconciler, kept)
    converge(reconciler, resource_body("gone", bid_filter_spec()))
    command = ["orphans", "--region", "us-east-1", "--aws-endpoint-url", moto_url]

    assert cli.main(command) == 0
    listing = capsys.readouterr().out
    assert "adtech-gone" in listing
    assert "adtech/gone" in listing
    assert "adtech-kept" not in listing
    assert "3 orphaned" in listing

    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert cli.main([*command, "--delete"]) == 1
    assert "Nothing deleted" in capsys.readouterr().out
    assert endpoint_names(moto_url) == ["adtech-gone", "adtech-kept"]

    assert cli.main([*command, "--delete", "--yes"]) == 0
    assert endpoint_names(moto_url) == ["adtech-kept"]
    assert cli.main(command) == 0
    assert "No orphaned AWS resources" in capsys.readouterr().out
