"""Orphans: owner-tagged AWS resources whose Kubernetes object is gone, found by tags and deleted in order.

The pure part (which resources are orphans, in which order they go) is tested on plain values; collecting and
deleting against moto in server mode, with resources made by real reconciliation passes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aws_passes import (
    aws_client,
    converge,
    create_foreign_endpoint,
    moto_server,
    operator_clients,
    resource_body,
)
from lowlatency import cli, orphans
from lowlatency.aws import AwsClients, RegionClients
from lowlatency.desired import Owner
from lowlatency.orphans import Inventory, OwnedResource
from lowlatency.reconciler import EndpointReconciler, EndpointResource
from lowlatency.vpc import Installation, ObservedVpcEndpoint
from specs import bid_filter_spec

GONE = Owner("adtech", "gone", "uid-gone")
KEPT = Owner("adtech", "kept", "uid-kept")
THIS_CLUSTER = Installation("kube-system-uid-1")
OTHER_CLUSTER = Installation("kube-system-uid-2")


def existing(*uids: str, vpc_ids: tuple[str, ...] = ()) -> Inventory:
    """The cluster holds LowLatencyEndpoints with these uids, naming these VPCs."""
    return Inventory(set(uids), set(vpc_ids), THIS_CLUSTER.cluster_prefix)


def vpc_endpoint(vpc_id: str, *installations: Installation, retained: bool = False) -> OwnedResource:
    tags = frozenset(installation.tag for installation in installations)
    return OwnedResource("vpc-endpoint", f"vpce-of-{vpc_id}", Owner("", vpc_id, ""), retained, tags)


def test_only_resources_of_objects_that_no_longer_exist_are_orphans_in_deletion_order() -> None:
    owned = [
        OwnedResource("model", "adtech-gone-1", GONE),
        vpc_endpoint("vpc-gone", THIS_CLUSTER),
        OwnedResource("endpoint", "adtech-gone", GONE),
        OwnedResource("endpoint-config", "adtech-gone-2", GONE),
        OwnedResource("scalable-target", "endpoint/adtech-gone/variant/AllTraffic", GONE),
        OwnedResource("endpoint", "adtech-kept", KEPT),
        vpc_endpoint("vpc-kept", THIS_CLUSTER),
    ]
    found = orphans.find_orphans(owned, existing(KEPT.uid, vpc_ids=("vpc-kept",)))
    assert [(orphan.kind, orphan.name) for orphan in found] == [
        ("scalable-target", "endpoint/adtech-gone/variant/AllTraffic"),
        ("endpoint", "adtech-gone"),
        ("endpoint-config", "adtech-gone-2"),
        ("model", "adtech-gone-1"),
        ("vpc-endpoint", "vpce-of-vpc-gone"),
    ]
    assert all(orphan.owner in (GONE, Owner("", "vpc-gone", "")) for orphan in found)


def test_what_was_retained_on_purpose_is_an_orphan_only_when_asked_for() -> None:
    retained = [
        OwnedResource("endpoint", "adtech-gone", GONE, retained=True),
        OwnedResource("model", "adtech-gone-1", GONE, retained=True),
        OwnedResource("model", "adtech-gone-0", GONE),
    ]
    assert [orphan.name for orphan in orphans.find_orphans(retained, existing())] == ["adtech-gone-0"]
    assert len(orphans.find_orphans(retained, existing(), include_retained=True)) == 3


def test_a_scalable_target_is_retained_with_its_endpoint() -> None:
    owned = [OwnedResource("endpoint", "adtech-gone", GONE, retained=True)]
    (target,) = orphans.scalable_targets_of(["endpoint/adtech-gone/variant/AllTraffic"], owned)
    assert target.retained


def test_nothing_is_an_orphan_while_its_object_exists() -> None:
    owned = [OwnedResource("endpoint", "adtech-kept", KEPT)]
    assert orphans.find_orphans(owned, existing(KEPT.uid)) == []


def test_only_the_operators_tags_name_an_owner() -> None:
    assert orphans.owner_of(GONE.tags()) == GONE
    assert orphans.owner_of({"team": "bidding"}) is None
    assert orphans.owner_of({"lowlatency.io/managed-by": "someone-else", "lowlatency.io/uid": "x"}) is None


def test_scalable_targets_belong_to_their_owned_endpoint_only() -> None:
    owned = [OwnedResource("endpoint", "adtech-gone", GONE)]
    ids = ["endpoint/adtech-gone/variant/AllTraffic", "endpoint/foreign/variant/AllTraffic", "table/orders"]
    assert orphans.scalable_targets_of(ids, owned) == [
        OwnedResource("scalable-target", "endpoint/adtech-gone/variant/AllTraffic", GONE)
    ]


def test_a_shared_vpc_endpoint_is_an_orphan_of_this_cluster_when_none_of_its_resources_names_its_vpc() -> None:
    shared_by_both = vpc_endpoint("vpc-1", THIS_CLUSTER, OTHER_CLUSTER)
    other_clusters = vpc_endpoint("vpc-2", OTHER_CLUSTER)
    untagged = vpc_endpoint("vpc-3")  # its last installation let go of it without getting to delete it
    retained = vpc_endpoint("vpc-4", THIS_CLUSTER, retained=True)

    found = orphans.find_orphans([shared_by_both, other_clusters, untagged, retained], existing())

    # Deleting removes this cluster's tags only: the endpoint stays while the other cluster's tag is on it.
    assert [(orphan.name, orphan.installations) for orphan in found] == [
        ("vpce-of-vpc-1", frozenset({THIS_CLUSTER.tag})),
        ("vpce-of-vpc-3", frozenset()),
    ]
    assert orphans.find_orphans([shared_by_both], existing(vpc_ids=("vpc-1",))) == []
    assert found[0].owner_reference == "users of vpc-1"


def test_only_the_endpoints_the_operator_created_are_listed() -> None:
    tags = {"lowlatency.io/managed-by": "lowlatency-operator", THIS_CLUSTER.tag: THIS_CLUSTER.description}
    made = ObservedVpcEndpoint("vpce-1", "vpc-1", frozenset(), frozenset(), (), tags)
    assert orphans.shared_vpc_endpoint(made) == OwnedResource(
        "vpc-endpoint", "vpce-1", Owner("", "vpc-1", ""), installations=frozenset({THIS_CLUSTER.tag})
    )
    assert orphans.shared_vpc_endpoint(ObservedVpcEndpoint("vpce-2", "vpc-1", frozenset(), frozenset(), (), {})) is None


def test_deleting_needs_a_yes() -> None:
    assert cli.confirmed(3, ask=lambda _: "y")
    assert cli.confirmed(3, ask=lambda _: "YES ")
    assert not cli.confirmed(3, ask=lambda _: "")
    assert not cli.confirmed(3, ask=lambda _: "n")

    def closed_stdin(_: str) -> str:
        raise EOFError

    assert not cli.confirmed(3, ask=closed_stdin)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    yield from moto_server()


@pytest.fixture
def clients(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> AwsClients:
    return operator_clients(moto_url, monkeypatch)


def everything(region: RegionClients) -> set[tuple[str, str]]:
    sagemaker = region.sagemaker
    return (
        {("endpoint", e["EndpointName"]) for e in sagemaker.list_endpoints()["Endpoints"]}
        | {("endpoint-config", c["EndpointConfigName"]) for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]}
        | {("model", m["ModelName"]) for m in sagemaker.list_models()["Models"]}
    )


@pytest.mark.timeout(60)
def test_orphans_are_collected_by_tags_and_deleted_leaving_the_living_and_the_foreign(
    clients: AwsClients, moto_url: str
) -> None:
    reconciler = EndpointReconciler(clients)
    gone = resource_body("gone", bid_filter_spec(autoscaling={"minCapacity": 2, "maxCapacity": 4}))
    kept = resource_body("kept", bid_filter_spec())
    converge(reconciler, gone)
    converge(reconciler, kept)
    create_foreign_endpoint(aws_client("sagemaker", moto_url), "hand-made")
    region = clients.for_region("us-east-1")

    owned = orphans.collect(region, "us-east-1")
    assert {resource.owner.uid for resource in owned} == {"uid-gone", "uid-kept"}
    assert not any("hand-made" in resource.name for resource in owned)
    found = orphans.find_orphans(owned, existing("uid-kept"))
    assert [orphan.kind for orphan in found] == ["scalable-target", "endpoint", "endpoint-config", "model"]

    before = everything(region)
    for orphan in found:
        orphans.delete(region, "us-east-1", orphan)

    assert before - everything(region) == {(o.kind, o.name) for o in found if o.kind != "scalable-target"}
    assert orphans.find_orphans(orphans.collect(region, "us-east-1"), existing("uid-kept")) == []
    targets = region.autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert targets == []
    assert ("endpoint", "hand-made") in everything(region)
    assert ("endpoint", "adtech-kept") in everything(region)


@pytest.mark.timeout(60)
def test_a_retained_endpoint_is_marked_and_not_offered_for_deletion(clients: AwsClients) -> None:
    reconciler = EndpointReconciler(clients)
    body = resource_body("retained", bid_filter_spec(deletionPolicy="Retain"))
    converge(reconciler, body)

    result = reconciler.delete(EndpointResource.from_body(body))

    assert result.done
    assert [event.reason for event in result.events] == ["Retained"]
    region = clients.for_region("us-east-1")
    owned = [resource for resource in orphans.collect(region, "us-east-1") if resource.owner.uid == "uid-retained"]
    assert {(resource.kind, resource.retained) for resource in owned} == {
        ("endpoint", True),
        ("endpoint-config", True),
        ("model", True),
    }
    assert orphans.find_orphans(owned, existing()) == []
    assert len(orphans.find_orphans(owned, existing(), include_retained=True)) == 3
