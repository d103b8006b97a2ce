"""The operator's own Kubernetes API calls (peering object, uids for orphans) against the local API server, with the
kubeconfig a user would have; objects are made and read back with the real kubectl."""

from __future__ import annotations

import json
from pathlib import Path

import kmock
import kubernetes
import pytest
import yaml

from fixtures_kubernetes import Kubectl
from lowlatency import cluster
from lowlatency.emulators.kubernetes import KubernetesEmulator
from specs import bid_filter_spec

PEERING_CRDS = Path(__file__).resolve().parent.parent / "manifests" / "ha" / "kopf-peering-crds.yaml"


@pytest.fixture
def kube_environment(kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("kube_environment")
def test_the_peering_object_is_created_once_cluster_wide_or_in_each_namespace(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", str(PEERING_CRDS))
    kubectl("create", "namespace", "adtech")
    kubectl("create", "namespace", "search")

    cluster.ensure_peering("lowlatency-operator", ())
    cluster.ensure_peering("lowlatency-operator", ())  # a second replica finds it made
    cluster.ensure_peering("lowlatency-operator", ("adtech", "search"))

    found = json.loads(kubectl("get", "clusterkopfpeerings", "-o", "json").stdout)["items"]
    assert [item["metadata"]["name"] for item in found] == ["lowlatency-operator"]
    per_namespace = json.loads(kubectl("get", "kopfpeerings", "-A", "-o", "json").stdout)["items"]
    assert sorted((i["metadata"]["namespace"], i["metadata"]["name"]) for i in per_namespace) == [
        ("adtech", "lowlatency-operator"),
        ("search", "lowlatency-operator"),
    ]


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("kube_environment")
def test_peering_without_kopfs_crds_stops_with_what_to_install() -> None:
    with pytest.raises(cluster.PeeringUnavailable, match=r"kopf-peering-crds\.yaml"):
        cluster.ensure_peering("lowlatency-operator", ())


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("kube_environment")
def test_a_replica_that_may_not_create_the_peering_object_starts_anyway(
    kubectl: Kubectl, kubernetes_emulator: KubernetesEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    kubectl("apply", "-f", str(PEERING_CRDS))
    forbidden = {"kind": "Status", "apiVersion": "v1", "code": 403, "reason": "Forbidden"}
    kubernetes_emulator.api["post", kmock.resource("kopf.dev", "v1", "clusterkopfpeerings")] << 403 << forbidden
    cluster.ensure_peering("lowlatency-operator", ())
    assert "May not create ClusterKopfPeering lowlatency-operator" in caplog.text
    assert json.loads(kubectl("get", "clusterkopfpeerings", "-o", "json").stdout)["items"] == []


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("kube_environment", "lowlatency_crd")
def test_the_uids_of_every_lowlatency_endpoint_in_every_namespace(kubectl: Kubectl) -> None:
    for namespace, name in (("adtech", "bid-filter"), ("search", "ranker")):
        kubectl("create", "namespace", namespace)
        document = {
            "apiVersion": "lowlatency.io/v1alpha1",
            "kind": "LowLatencyEndpoint",
            "metadata": {"namespace": namespace, "name": name},
            "spec": bid_filter_spec(),
        }
        kubectl("apply", "-f", "-", input=yaml.safe_dump(document))
    listed = json.loads(kubectl("get", "lle", "-A", "-o", "json").stdout)["items"]

    assert cluster.inventory().uids == {item["metadata"]["uid"] for item in listed}
    assert len(listed) == 2


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("kube_environment")
def test_without_the_crd_listing_fails_rather_than_finding_nothing() -> None:
    with pytest.raises(kubernetes.client.ApiException) as raised:
        cluster.inventory()
    assert raised.value.status == 404


def test_the_chart_ships_the_same_peering_crds_as_the_manifests() -> None:
    chart_copy = PEERING_CRDS.parents[2] / "charts" / "lowlatency-operator" / "files" / PEERING_CRDS.name
    assert chart_copy.read_bytes() == PEERING_CRDS.read_bytes()
    kinds = {document["spec"]["names"]["kind"] for document in yaml.safe_load_all(PEERING_CRDS.read_text())}
    assert kinds == {"ClusterKopfPeering", "KopfPeering"}
