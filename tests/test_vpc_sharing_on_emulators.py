"""Resources sharing their VPC's runtime endpoint, reconciled pass by pass by the operator's reconciler on the AWS
emulator, with the cluster that says who uses a VPC played by the test (:class:`vpc_users.BodiesCluster`).

Whatever EC2 refuses while the endpoint is shared (two subnets of a zone, a 51st tag, a second endpoint with private
DNS), a VPC never holds more than one runtime endpoint, and deleting its last user leaves none.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from aws_passes import resource_body, run_pass
from fixtures_aws import AwsClientFactory
from lowlatency import orphans
from lowlatency.api import VpcEndpointSpec
from lowlatency.aws import AwsClients, AwsSettings
from lowlatency.desired import Owner
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.emulators.aws import ec2 as ec2_emulator
from lowlatency.reconciler import EndpointReconciler, EndpointResource, PassResult
from lowlatency.vpc import (
    INSTALLATION_TAG_PREFIX,
    MAX_DNS_CONFLICTS,
    ClusterUnreadable,
    Installation,
    VpcEndpoints,
)
from specs import bid_filter_spec
from vpc_users import CLUSTER_UID, BodiesCluster

RUNTIME = "com.amazonaws.us-east-1.sagemaker.runtime"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
USERS = 60  # past EC2's 50 tags per resource, which one tag per user would have exceeded


@pytest.fixture
def cluster() -> BodiesCluster:
    return BodiesCluster()


@pytest.fixture
def reconciler(
    aws_emulator: AwsEmulator, monkeypatch: pytest.MonkeyPatch, cluster: BodiesCluster
) -> EndpointReconciler:
    """The operator's reconciler with its own AWS clients on the emulator, and the test's cluster."""
    for variable, value in aws_emulator.environment().items():
        monkeypatch.setenv(variable, value)
    clients = AwsClients(AwsSettings(endpoint_url=aws_emulator.url, max_pool_connections=16))
    return EndpointReconciler(clients, vpc_endpoints=VpcEndpoints(cluster))


@pytest.fixture
def ec2(aws_client: AwsClientFactory) -> Any:
    return aws_client("ec2")


def create_vpc(ec2: Any, cidr: str = "10.20.0.0/16") -> str:
    """A VPC whose DNS attributes allow private DNS, as a user prepares it."""
    vpc_id: str = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    return vpc_id


def network(ec2: Any, vpc_id: str, subnets: int, *, first: int = 0) -> list[dict[str, Any]]:
    """``spec.vpcEndpoint`` of ``subnets`` users, each with a subnet of its own (spread over three zones)."""
    group = ec2.create_security_group(GroupName=f"runtime-{first}", Description="HTTPS", VpcId=vpc_id)["GroupId"]
    prefix = vpc_id_prefix(ec2, vpc_id)
    blocks = []
    for number in range(first, first + subnets):
        zone = ZONES[number % len(ZONES)]
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"{prefix}.{number}.0/24", AvailabilityZone=zone)
        blocks.append({"vpcId": vpc_id, "subnetIds": [subnet["Subnet"]["SubnetId"]], "securityGroupIds": [group]})
    return blocks


def vpc_id_prefix(ec2: Any, vpc_id: str) -> str:
    cidr: str = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["CidrBlock"]
    return ".".join(cidr.split(".")[:2])


def usable_endpoints(ec2: Any, vpc_id: str) -> list[dict[str, Any]]:
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "service-name", "Values": [RUNTIME]}]
    found = ec2.describe_vpc_endpoints(Filters=filters)["VpcEndpoints"]
    return [endpoint for endpoint in found if endpoint["State"].lower() not in {"deleting", "deleted"}]


@pytest.fixture
def most_endpoints_seen(ec2: Any) -> Iterator[Callable[[str], int]]:
    """Watch a VPC for the whole test: the most usable runtime endpoints it held at any look (every 20 ms)."""
    watched: dict[str, int] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.02):
            for vpc_id in list(watched):
                watched[vpc_id] = max(watched[vpc_id], len(usable_endpoints(ec2, vpc_id)))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()

    def most(vpc_id: str) -> int:
        watched.setdefault(vpc_id, 0)
        return watched[vpc_id]

    yield most
    stop.set()
    watcher.join()


def settle(bodies: list[dict[str, Any]], step: Callable[[dict[str, Any]], bool], timeout: float) -> None:
    """Run ``step`` on every body, eight at a time as the operator's workers do, until each answers that it is
    done."""
    deadline = time.monotonic() + timeout
    pending = list(bodies)
    with ThreadPoolExecutor(max_workers=8) as pool:
        while pending:
            assert time.monotonic() < deadline, f"not settled: {[b['metadata']['name'] for b in pending]}"
            pending = [body for body, done in zip(pending, pool.map(step, pending), strict=True) if not done]
            if pending:
                time.sleep(0.05)


def serving_with_vpc_endpoint(reconciler: EndpointReconciler) -> Callable[[dict[str, Any]], bool]:
    def step(body: dict[str, Any]) -> bool:
        result = run_pass(reconciler, body)
        status = body["status"]
        return status.get("phase") == "InService" and bool(status.get("vpcEndpointId")) and not result.moving

    return step


def converge(reconciler: EndpointReconciler, *bodies: dict[str, Any]) -> None:
    settle(list(bodies), serving_with_vpc_endpoint(reconciler), timeout=60)


def deleted(reconciler: EndpointReconciler, cluster: BodiesCluster) -> Callable[[dict[str, Any]], bool]:
    def step(body: dict[str, Any]) -> bool:
        result: PassResult = reconciler.delete(EndpointResource.from_body(body))
        body["status"].update(result.status)
        if result.done:
            cluster.remove(body)  # the finalizer is gone, and the object with it
        return result.done

    return step


@pytest.mark.timeout(300)
def test_sixty_users_of_one_vpc_share_one_endpoint_with_bounded_tags_and_the_last_leaves_none(
    reconciler: EndpointReconciler,
    cluster: BodiesCluster,
    ec2: Any,
    aws_emulator: AwsEmulator,
    most_endpoints_seen: Callable[[str], int],
) -> None:
    vpc_id = create_vpc(ec2)
    most_endpoints_seen(vpc_id)
    bodies = [
        resource_body(f"bidder-{number:02}", bid_filter_spec(vpcEndpoint=block))
        for number, block in enumerate(network(ec2, vpc_id, USERS))
    ]
    cluster.add(*bodies)

    settle(bodies, serving_with_vpc_endpoint(reconciler), timeout=180)

    (shared,) = usable_endpoints(ec2, vpc_id)
    assert {body["status"]["vpcEndpointId"] for body in bodies} == {shared["VpcEndpointId"]}
    zones = {subnet["AvailabilityZone"] for subnet in ec2.describe_subnets(SubnetIds=shared["SubnetIds"])["Subnets"]}
    assert (len(shared["SubnetIds"]), zones) == (len(ZONES), set(ZONES))  # one subnet per zone
    assert {tag["Key"] for tag in shared["Tags"]} == {"lowlatency.io/managed-by", cluster.installation().tag}
    ec2_refusals = [call for call in aws_emulator.calls(service="ec2") if call.error_code is not None]
    assert {call.error_code for call in ec2_refusals} <= {"InvalidParameter", "IdempotentParameterMismatch"}

    for body in bodies:
        body["metadata"]["deletionTimestamp"] = "2026-11-25T10:00:00Z"
    settle(bodies, deleted(reconciler, cluster), timeout=120)

    assert usable_endpoints(ec2, vpc_id) == []
    assert most_endpoints_seen(vpc_id) == 1


@pytest.mark.timeout(120)
def test_deleting_the_last_user_deletes_its_vpcs_endpoint_whatever_endpoint_its_status_recorded(
    reconciler: EndpointReconciler, cluster: BodiesCluster, ec2: Any
) -> None:
    vpc_id = create_vpc(ec2)
    (block,) = network(ec2, vpc_id, 1)
    body = resource_body("bidder", bid_filter_spec(vpcEndpoint=block))
    cluster.add(body)
    converge(reconciler, body)
    # The endpoint it recorded was deleted outside, and another made for the VPC since (by another resource, gone).
    ec2.delete_vpc_endpoints(VpcEndpointIds=[body["status"]["vpcEndpointId"]])
    other = resource_body("ranker", bid_filter_spec(vpcEndpoint=block))
    cluster.add(other)
    converge(reconciler, other)
    cluster.remove(other)
    assert len(usable_endpoints(ec2, vpc_id)) == 1

    body["metadata"]["deletionTimestamp"] = "2026-11-25T10:00:00Z"
    settle([body], deleted(reconciler, cluster), timeout=60)

    assert usable_endpoints(ec2, vpc_id) == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("shared", [False, True], ids=["last-user", "shared"])
def test_moving_to_another_vpc_lets_go_of_the_vpc_endpoint_of_the_first(
    reconciler: EndpointReconciler, cluster: BodiesCluster, ec2: Any, shared: bool
) -> None:
    first, second = create_vpc(ec2, "10.40.0.0/16"), create_vpc(ec2, "10.50.0.0/16")
    (first_block,), (second_block,) = network(ec2, first, 1), network(ec2, second, 1)
    staying = [resource_body("stayer", bid_filter_spec(vpcEndpoint=first_block))] if shared else []
    mover = resource_body("mover", bid_filter_spec(vpcEndpoint=first_block))
    cluster.add(*staying, mover)
    converge(reconciler, *staying, mover)
    before = mover["status"]["vpcEndpointId"]

    mover["spec"]["vpcEndpoint"] = second_block
    mover["metadata"]["generation"] += 1
    converge(reconciler, mover)

    (moved,) = usable_endpoints(ec2, second)
    assert mover["status"]["vpcEndpointId"] == moved["VpcEndpointId"] != before
    assert [endpoint["VpcEndpointId"] for endpoint in usable_endpoints(ec2, first)] == ([before] if shared else [])


@pytest.mark.timeout(60)
def test_a_steady_endpoint_with_a_vpc_endpoint_looks_at_it_only_in_the_audit(
    reconciler: EndpointReconciler, cluster: BodiesCluster, ec2: Any, aws_emulator: AwsEmulator
) -> None:
    (block,) = network(ec2, create_vpc(ec2), 1)
    body = resource_body("private", bid_filter_spec(vpcEndpoint=block))
    cluster.add(body)
    converge(reconciler, body)

    aws_emulator.reset_calls()
    run_pass(reconciler, body)
    assert aws_emulator.counts() == {"DescribeEndpoint": 1}
    aws_emulator.reset_calls()
    run_pass(reconciler, body, audit=True)
    assert aws_emulator.count("DescribeVpcEndpoints") == 1
    assert aws_emulator.mutating_calls() == []
    assert cluster.questions == 0  # who uses the VPC matters only when one lets go of it


class UnreadableCluster:
    """A cluster the operator may not list LowLatencyEndpoints in."""

    def installation(self) -> Installation:
        return Installation(CLUSTER_UID)

    def user_of(self, vpc_id: str, besides: Owner) -> str | None:
        raise ClusterUnreadable("ListLowLatencyEndpoints", "403 Forbidden")


@pytest.mark.timeout(60)
def test_a_cluster_it_cannot_read_keeps_the_endpoint_and_says_why_while_retrying(
    reconciler: EndpointReconciler, cluster: BodiesCluster, ec2: Any
) -> None:
    vpc_id = create_vpc(ec2)
    (block,) = network(ec2, vpc_id, 1)
    body = resource_body("bidder", bid_filter_spec(vpcEndpoint=block))
    cluster.add(body)
    converge(reconciler, body)
    body["metadata"]["deletionTimestamp"] = "2026-11-25T10:00:00Z"
    blind = EndpointReconciler(reconciler.clients, vpc_endpoints=VpcEndpoints(UnreadableCluster()))
    results: list[PassResult] = []

    def until_the_vpc_endpoints_turn(found: dict[str, Any]) -> bool:  # the SageMaker endpoint goes first
        results.append(blind.delete(EndpointResource.from_body(found)))
        return results[-1].done or "ListLowLatencyEndpoints" in json.dumps(results[-1].status)

    settle([body], until_the_vpc_endpoints_turn, timeout=30)

    result = results[-1]
    assert (result.retry, result.done) == (True, False)
    ready = next(condition for condition in result.status["conditions"] if condition["type"] == "Ready")
    assert ready["message"] == "Retrying after: ListLowLatencyEndpoints failed: 403 Forbidden"
    (kept,) = usable_endpoints(ec2, vpc_id)
    assert any(tag["Key"].startswith(INSTALLATION_TAG_PREFIX) for tag in kept["Tags"])


@pytest.mark.timeout(60)
def test_a_retained_user_leaves_its_vpc_endpoint_in_place_for_good(
    reconciler: EndpointReconciler, cluster: BodiesCluster, ec2: Any
) -> None:
    vpc_id = create_vpc(ec2)
    (block,) = network(ec2, vpc_id, 1)
    kept = resource_body("kept", bid_filter_spec(vpcEndpoint=block, deletionPolicy="Retain"))
    other = resource_body("other", bid_filter_spec(vpcEndpoint=block))
    cluster.add(kept, other)
    converge(reconciler, kept, other)

    for body in (kept, other):  # the retained one first: the other is the last user when it goes
        body["metadata"]["deletionTimestamp"] = "2026-11-25T10:00:00Z"
        settle([body], deleted(reconciler, cluster), timeout=60)

    (left,) = usable_endpoints(ec2, vpc_id)
    assert {"Key": "lowlatency.io/retained", "Value": "true"} in left["Tags"]


@pytest.mark.timeout(60)
def test_a_deletion_ec2_lists_as_unsuccessful_keeps_the_finalizer_until_the_endpoint_is_gone(
    reconciler: EndpointReconciler, cluster: BodiesCluster, ec2: Any
) -> None:
    vpc_id = create_vpc(ec2)
    (block,) = network(ec2, vpc_id, 1)
    body = resource_body("bidder", bid_filter_spec(vpcEndpoint=block))
    cluster.add(body)
    converge(reconciler, body)
    refusal = "You are not authorized to perform this operation."
    ec2_emulator.refuse_next_deletion(body["status"]["vpcEndpointId"], "UnauthorizedOperation", refusal)
    body["metadata"]["deletionTimestamp"] = "2026-11-25T10:00:00Z"
    results: list[PassResult] = []

    def until_the_vpc_endpoints_turn(found: dict[str, Any]) -> bool:  # the SageMaker endpoint goes first
        results.append(reconciler.delete(EndpointResource.from_body(found)))
        return results[-1].done or "DeleteVpcEndpoints" in json.dumps(results[-1].status)

    settle([body], until_the_vpc_endpoints_turn, timeout=30)

    assert not results[-1].done  # EC2 answered 200, but the endpoint is still there, and billed
    assert f"DeleteVpcEndpoints failed: UnauthorizedOperation: {refusal}" in results[-1].status["failureReason"]
    assert len(usable_endpoints(ec2, vpc_id)) == 1
    settle([body], deleted(reconciler, cluster), timeout=30)
    assert usable_endpoints(ec2, vpc_id) == []


@pytest.mark.timeout(60)
def test_private_dns_in_a_vpc_without_dns_hostnames_is_refused_naming_what_to_change(
    reconciler: EndpointReconciler, cluster: BodiesCluster, ec2: Any, aws_emulator: AwsEmulator
) -> None:
    vpc_id = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]  # CreateVpc leaves DNS hostnames off
    (block,) = network(ec2, vpc_id, 1)
    body = resource_body("bidder", bid_filter_spec(vpcEndpoint=block))
    cluster.add(body)

    settle([body], lambda found: bool(run_pass(reconciler, found).status.get("failureReason")), timeout=30)

    reason = body["status"]["failureReason"]
    assert "CreateVpcEndpoint failed: InvalidParameter" in reason
    assert "enableDnsSupport and enableDnsHostnames" in reason
    assert f"set both attributes of {vpc_id} to true, or spec.vpcEndpoint.privateDns to false" in reason
    attempts = aws_emulator.count("CreateVpcEndpoint")
    run_pass(reconciler, body)  # refused for this generation: not asked again until the spec changes
    assert aws_emulator.count("CreateVpcEndpoint") == attempts
    assert usable_endpoints(ec2, vpc_id) == []


@pytest.mark.timeout(60)
def test_a_dns_conflict_with_no_endpoint_to_share_stops_being_retried_after_a_few_attempts(
    reconciler: EndpointReconciler,
    cluster: BodiesCluster,
    ec2: Any,
    aws_emulator: AwsEmulator,
    aws_client: AwsClientFactory,
) -> None:
    vpc_id = create_vpc(ec2)
    aws_client("route53").create_hosted_zone(  # the network team's own zone for the runtime's name
        Name="runtime.sagemaker.us-east-1.amazonaws.com",
        CallerReference="network-team",
        HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": "us-east-1", "VPCId": vpc_id},
    )
    (block,) = network(ec2, vpc_id, 1)
    body = resource_body("bidder", bid_filter_spec(vpcEndpoint=block))
    cluster.add(body)

    settle([body], lambda found: bool(run_pass(reconciler, found).status.get("failureReason")), timeout=30)

    assert aws_emulator.count("CreateVpcEndpoint") == MAX_DNS_CONFLICTS  # retried as a lost race until then
    reason = body["status"]["failureReason"]
    assert "conflicting DNS domain for runtime.sagemaker.us-east-1.amazonaws.com" in reason
    assert "private hosted zone" in reason
    assert "spec.vpcEndpoint.privateDns" in reason
    run_pass(reconciler, body)
    assert aws_emulator.count("CreateVpcEndpoint") == MAX_DNS_CONFLICTS


@pytest.mark.timeout(90)
def test_a_vpc_endpoint_still_deleting_is_waited_for_and_a_new_one_made_after_it(
    reconciler: EndpointReconciler,
    cluster: BodiesCluster,
    ec2: Any,
    aws_emulator: AwsEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        ec2_emulator, "TRANSITIONS", ec2_emulator.Transitions(pending_seconds=0.5, deleting_seconds=1.5)
    )
    vpc_id = create_vpc(ec2)
    (block,) = network(ec2, vpc_id, 1)
    first = resource_body("bidder", bid_filter_spec(vpcEndpoint=block))
    cluster.add(first)
    converge(reconciler, first)
    first["metadata"]["deletionTimestamp"] = "2026-11-25T10:00:00Z"
    settle([first], deleted(reconciler, cluster), timeout=30)
    (old,) = ec2.describe_vpc_endpoints(VpcEndpointIds=[first["status"]["vpcEndpointId"]])["VpcEndpoints"]
    assert old["State"] == "deleting"  # it still holds the runtime's private DNS name in the VPC

    second = resource_body("ranker", bid_filter_spec(vpcEndpoint=block))
    cluster.add(second)
    converge(reconciler, second)

    refused = [call for call in aws_emulator.calls(operation="CreateVpcEndpoint") if call.error_code is not None]
    assert len(refused) >= MAX_DNS_CONFLICTS  # as many as an unexplained conflict is given, and more: not refused
    (new,) = usable_endpoints(ec2, vpc_id)
    assert second["status"]["vpcEndpointId"] == new["VpcEndpointId"] != old["VpcEndpointId"]
    assert not second["status"]["failureReason"]


@pytest.mark.timeout(60)
def test_an_orphaned_vpc_endpoint_is_deleted_and_one_another_cluster_uses_only_loses_this_clusters_tag(
    reconciler: EndpointReconciler, cluster: BodiesCluster, ec2: Any
) -> None:
    """The last user went without its finalizer (force-deleted): the orphans command finds what it left."""
    alone, shared = create_vpc(ec2, "10.70.0.0/16"), create_vpc(ec2, "10.80.0.0/16")
    bodies = [
        resource_body(f"user-{number}", bid_filter_spec(vpcEndpoint=network(ec2, vpc_id, 1)[0]))
        for number, vpc_id in enumerate((alone, shared))
    ]
    cluster.add(*bodies)
    converge(reconciler, *bodies)
    other_cluster = BodiesCluster(Installation("another-kube-system-uid"))
    other_cluster.add(resource_body("elsewhere", bid_filter_spec(vpcEndpoint=bodies[1]["spec"]["vpcEndpoint"])))
    VpcEndpoints(other_cluster).use(ec2, "us-east-1", VpcEndpointSpec.model_validate(bodies[1]["spec"]["vpcEndpoint"]))
    region = reconciler.clients.for_region("us-east-1")
    gone = orphans.Inventory(set(), set(), cluster.installation().cluster_prefix)  # both users force-deleted

    found = [o for o in orphans.find_orphans(orphans.collect(region, "us-east-1"), gone) if o.kind == "vpc-endpoint"]
    assert sorted(orphan.owner.name for orphan in found) == sorted([alone, shared])
    for orphan in found:
        orphans.delete(region, "us-east-1", orphan)

    assert usable_endpoints(ec2, alone) == []
    (kept,) = usable_endpoints(ec2, shared)
    installations = {tag["Key"] for tag in kept["Tags"] if tag["Key"].startswith(INSTALLATION_TAG_PREFIX)}
    assert installations == {other_cluster.installation().tag}
