"""Who uses a VPC's runtime endpoint, and which installation asks, read from the cluster with the official client
(:class:`lowlatency.cluster.ClusterVpcUsers`, :func:`lowlatency.cluster.inventory`) against the local API server;
objects are made with the real kubectl, as a user makes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fixtures_kubernetes import Kubectl
from lowlatency import cluster
from lowlatency.desired import Owner
from lowlatency.vpc import ClusterUnreadable, Installation
from specs import bid_filter_spec


@pytest.fixture
def kube_environment(kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))


def apply(kubectl: Kubectl, namespace: str, name: str, vpc_id: str) -> Owner:
    """A LowLatencyEndpoint whose spec names the VPC; its owner (with the uid the API server gave it)."""
    if kubectl("get", "namespace", namespace, check=False).returncode != 0:
        kubectl("create", "namespace", namespace)
    vpc_endpoint = {"vpcId": vpc_id, "subnetIds": ["subnet-0a1b"], "securityGroupIds": ["sg-0c2d"]}
    document = {
        "apiVersion": "lowlatency.io/v1alpha1",
        "kind": "LowLatencyEndpoint",
        "metadata": {"namespace": namespace, "name": name, "finalizers": ["lowlatency.io/finalizer"]},
        "spec": bid_filter_spec(vpcEndpoint=vpc_endpoint),
    }
    created = json.loads(kubectl("apply", "-f", "-", "-o", "json", input=yaml.safe_dump(document)).stdout)
    return Owner(namespace, name, created["metadata"]["uid"])


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("kube_environment", "lowlatency_crd")
def test_a_vpcs_users_are_the_watched_resources_that_name_it_and_are_not_being_deleted(kubectl: Kubectl) -> None:
    bidder = apply(kubectl, "adtech", "bidder", "vpc-0a1")
    ranker = apply(kubectl, "search", "ranker", "vpc-0a1")
    alone = apply(kubectl, "adtech", "alone", "vpc-0b2")
    every_namespace = cluster.ClusterVpcUsers()

    assert every_namespace.user_of("vpc-0a1", besides=bidder) == "search/ranker"
    assert every_namespace.user_of("vpc-0b2", besides=alone) is None
    assert cluster.ClusterVpcUsers(["adtech"]).user_of("vpc-0a1", besides=bidder) is None  # not watched there
    assert cluster.inventory().vpc_ids == {"vpc-0a1", "vpc-0b2"}

    kubectl("delete", "lle", "ranker", "-n", "search", "--wait=false")  # held by its finalizer, being deleted

    assert every_namespace.user_of("vpc-0a1", besides=bidder) is None
    assert every_namespace.user_of("vpc-0a1", besides=ranker) == "adtech/bidder"
    assert cluster.inventory().vpc_ids == {"vpc-0a1", "vpc-0b2"}


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("kube_environment")
def test_the_installation_is_the_clusters_kube_system_uid_and_the_watched_namespaces(kubectl: Kubectl) -> None:
    uid = kubectl("get", "namespace", "kube-system", "-o", "jsonpath={.metadata.uid}").stdout
    assert uid

    assert cluster.ClusterVpcUsers().installation() == Installation(uid)
    assert cluster.ClusterVpcUsers(["search", "adtech"]).installation() == Installation(uid, ("search", "adtech"))


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("kube_environment")
def test_a_cluster_that_cannot_answer_is_unreadable_not_empty() -> None:
    with pytest.raises(ClusterUnreadable) as raised:  # no CRD: the API server answers 404
        cluster.ClusterVpcUsers().user_of("vpc-0a1", besides=Owner("adtech", "bidder", "uid-1"))
    assert raised.value.operation == "ListLowLatencyEndpoints"
    assert raised.value.reason.startswith("404")
