"""Sharing the SageMaker Runtime VPC endpoint: which endpoint is used, what joining and letting go change, when it is
deleted; then the same against the AWS emulator's EC2, which keeps client tokens, private DNS, one subnet per zone
and tag limits as EC2 does."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from e2e_support import create_network
from fixtures_aws import AwsClientFactory
from lowlatency import vpc
from lowlatency.api import VpcEndpointSpec
from lowlatency.aws import AwsError, ErrorKind
from lowlatency.desired import Owner
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.emulators.aws import ec2 as ec2_emulator
from lowlatency.vpc import (
    INSTALLATION_TAG_PREFIX,
    MAX_CREATE_ATTEMPTS,
    CreateVpcEndpoint,
    DeleteVpcEndpoint,
    ExtendVpcEndpoint,
    Installation,
    ObservedVpcEndpoint,
    TagVpcEndpoint,
    UntagVpcEndpoint,
    VpcEndpoints,
    apply,
    choose,
    deletable,
    find,
    plan_use,
    release,
    uncovered_subnets,
)
from vpc_users import BodiesCluster

SPEC = VpcEndpointSpec.model_validate(
    {"vpcId": "vpc-0e3f", "subnetIds": ["subnet-0a1b"], "securityGroupIds": ["sg-0c2d"]}
)
FIRST = Owner("adtech", "bid-filter", "uid-1")
SECOND = Owner("adtech", "pacing", "uid-2")
OURS = Installation("cluster-uid-1")
THEIRS = Installation("cluster-uid-2")
MANAGED = {"lowlatency.io/managed-by": "lowlatency-operator"}
EARLY = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def endpoint(
    tags: dict[str, str],
    subnets: tuple[str, ...] = ("subnet-0a1b",),
    endpoint_id: str = "vpce-1",
    created: datetime.datetime = EARLY,
) -> ObservedVpcEndpoint:
    return ObservedVpcEndpoint(
        endpoint_id, "vpc-0e3f", frozenset(subnets), frozenset({"sg-0c2d"}), ("vpce-1.example",), tags, created
    )


def tagged(*installations: Installation) -> dict[str, str]:
    return MANAGED | {installation.tag: installation.description for installation in installations}


def test_an_installation_is_named_by_a_bounded_tag_per_cluster_and_watched_namespaces() -> None:
    many = Installation("cluster-uid-1", tuple(f"team-{number:03}-with-a-long-namespace-name" for number in range(99)))
    tags = {OURS.tag, THEIRS.tag, Installation("cluster-uid-1", ("adtech",)).tag, many.tag}
    assert len(tags) == 4  # another cluster, or other namespaces of the same cluster: another installation
    assert all(tag.startswith(INSTALLATION_TAG_PREFIX) and len(tag) <= 127 for tag in tags)
    assert many.tag.startswith(OURS.cluster_prefix)
    assert not THEIRS.tag.startswith(OURS.cluster_prefix)
    assert len(many.description) == 256
    assert OURS.description == "lowlatency-operator watching all namespaces"


def test_the_oldest_managed_endpoint_is_used_and_this_installations_surplus_deleted() -> None:
    later = EARLY + datetime.timedelta(minutes=1)
    foreign = endpoint({"team": "network"}, endpoint_id="vpce-0", created=EARLY - datetime.timedelta(days=1))
    oldest = endpoint(tagged(OURS), endpoint_id="vpce-2")
    surplus = endpoint(tagged(OURS), endpoint_id="vpce-3", created=later)
    untagged = endpoint(MANAGED, endpoint_id="vpce-4", created=later)  # a release that did not get to delete it
    shared_with_others = endpoint(tagged(OURS, THEIRS), endpoint_id="vpce-5", created=later)
    retained = endpoint(tagged(OURS) | {"lowlatency.io/retained": "true"}, endpoint_id="vpce-6", created=later)

    chosen, extra = choose([retained, surplus, foreign, shared_with_others, untagged, oldest], OURS)

    assert chosen == oldest
    assert extra == [surplus, untagged]
    assert choose([foreign], OURS) == (foreign, [])
    assert choose([], OURS) == (None, [])


def test_joining_tags_the_installation_once_and_adds_what_the_spec_lacks() -> None:
    wider = SPEC.model_copy(update={"subnet_ids": ["subnet-0a1b", "subnet-b1"], "security_group_ids": ["sg-9"]})
    zones = {"subnet-0a1b": "us-east-1a", "subnet-b1": "us-east-1b"}
    assert plan_use(wider, endpoint(tagged(THEIRS)), OURS, zones) == [
        TagVpcEndpoint("vpce-1", OURS.tag, OURS.description),
        ExtendVpcEndpoint("vpce-1", ("subnet-b1",), ("sg-9",)),
    ]
    assert plan_use(SPEC, endpoint(tagged(OURS)), OURS) == []


def test_only_subnets_of_zones_the_endpoint_does_not_cover_are_added() -> None:
    spec = SPEC.model_copy(update={"subnet_ids": ["subnet-a2", "subnet-b1", "subnet-c1"]})
    observed = endpoint(MANAGED, subnets=("subnet-a1",))
    zones = {"subnet-a1": "eu-west-1a", "subnet-a2": "eu-west-1a", "subnet-b1": "eu-west-1b", "subnet-c1": "eu-west-1c"}
    assert uncovered_subnets(spec, observed, zones) == ("subnet-b1", "subnet-c1")


def test_an_endpoint_the_operator_did_not_create_is_used_as_is_and_never_deleted() -> None:
    foreign = endpoint({"team": "network"}, subnets=())
    assert plan_use(SPEC, foreign, OURS) == []
    assert not foreign.belongs_to(OURS)
    assert not deletable(foreign)


def test_letting_go_removes_this_installations_tag_and_the_endpoint_goes_when_no_installation_is_left() -> None:
    assert release(endpoint(tagged(OURS, THEIRS)), OURS) == [UntagVpcEndpoint("vpce-1", OURS.tag)]
    assert release(endpoint(tagged(THEIRS)), OURS) == []
    assert not deletable(endpoint(tagged(THEIRS)))
    assert deletable(endpoint(MANAGED))
    assert not deletable(endpoint(MANAGED | {"lowlatency.io/retained": "true"}))


# --- against the AWS emulator's EC2 (client tokens, races, deleted endpoints, zones) ----------------------------

RUNTIME = "com.amazonaws.us-east-1.sagemaker.runtime"


@pytest.fixture
def ec2(aws_client: AwsClientFactory) -> Any:
    return aws_client("ec2", retries=False)


@pytest.fixture
def network(ec2: Any) -> VpcEndpointSpec:
    return VpcEndpointSpec.model_validate(create_network(ec2))


@pytest.fixture
def cluster() -> BodiesCluster:
    return BodiesCluster(OURS)


@pytest.fixture
def shared(cluster: BodiesCluster) -> VpcEndpoints:
    return VpcEndpoints(cluster)


def creation(spec: VpcEndpointSpec, installation: Installation = OURS) -> CreateVpcEndpoint:
    return CreateVpcEndpoint(spec, RUNTIME, installation)


def runtime_endpoints(ec2: Any, vpc_id: str) -> dict[str, str]:
    """Every runtime endpoint EC2 lists in the VPC, deleted ones included: id → state."""
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "service-name", "Values": [RUNTIME]}]
    return {
        found["VpcEndpointId"]: found["State"] for found in ec2.describe_vpc_endpoints(Filters=filters)["VpcEndpoints"]
    }


def usable(ec2: Any, vpc_id: str) -> list[str]:
    return [endpoint_id for endpoint_id, state in runtime_endpoints(ec2, vpc_id).items() if state != "deleted"]


def hand_made(ec2: Any, network: VpcEndpointSpec, *, private_dns: bool, tags: dict[str, str]) -> str:
    """A runtime endpoint made without the operator's client token; its id."""
    tagging = [{"ResourceType": "vpc-endpoint", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
    endpoint_id: str = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface",
        VpcId=network.vpc_id,
        ServiceName=RUNTIME,
        SubnetIds=network.subnet_ids,
        SecurityGroupIds=network.security_group_ids,
        PrivateDnsEnabled=private_dns,
        TagSpecifications=tagging if tags else [],
    )["VpcEndpoint"]["VpcEndpointId"]
    return endpoint_id


def user(owner: Owner, spec: VpcEndpointSpec) -> dict[str, Any]:
    """A resource of the cluster whose spec names the VPC."""
    metadata = {"namespace": owner.namespace, "name": owner.name, "uid": owner.uid}
    return {"metadata": metadata, "spec": {"vpcEndpoint": spec.model_dump(by_alias=True)}}


@pytest.mark.timeout(30)
def test_repeated_and_concurrent_creations_yield_one_endpoint(
    ec2: Any, network: VpcEndpointSpec, aws_emulator: AwsEmulator
) -> None:
    apply(ec2, creation(network))
    apply(ec2, creation(network))  # a retry after a crash
    apply(ec2, creation(network))  # another resource of the VPC that did not see it yet

    (only,) = usable(ec2, network.vpc_id)
    assert [call.error_code for call in aws_emulator.calls(operation="CreateVpcEndpoint")] == [None] * 3
    (observed,) = find(ec2, "us-east-1", vpc_id=network.vpc_id)
    assert (observed.id, observed.installations) == (only, {OURS.tag})


@pytest.mark.timeout(30)
def test_a_creation_after_the_deletion_makes_a_new_endpoint(ec2: Any, network: VpcEndpointSpec) -> None:
    apply(ec2, creation(network))
    (first,) = usable(ec2, network.vpc_id)
    apply(ec2, DeleteVpcEndpoint(first))

    apply(ec2, creation(network))
    apply(ec2, creation(network))

    (second,) = usable(ec2, network.vpc_id)
    assert second != first
    assert runtime_endpoints(ec2, network.vpc_id) == {first: "deleted", second: "available"}


@pytest.mark.timeout(30)
def test_a_creation_answered_with_a_deleted_endpoint_is_made_again(
    ec2: Any, network: VpcEndpointSpec, aws_emulator: AwsEmulator
) -> None:
    apply(ec2, creation(network))
    (first,) = usable(ec2, network.vpc_id)
    apply(ec2, DeleteVpcEndpoint(first))
    # EC2 no longer lists the deleted endpoint (here: the lookup finds nothing) but still remembers its token.
    aws_emulator.faults.reject("DescribeVpcEndpoints", "InvalidVpcEndpointId.NotFound", "not found", service="ec2")

    apply(ec2, creation(network))

    assert aws_emulator.count("CreateVpcEndpoint") == 3
    (second,) = usable(ec2, network.vpc_id)
    assert second != first


@pytest.mark.timeout(30)
def test_creations_answered_only_with_deleted_endpoints_give_up_as_transient(
    ec2: Any, network: VpcEndpointSpec, aws_emulator: AwsEmulator
) -> None:
    for _ in range(MAX_CREATE_ATTEMPTS):  # each made with the token that follows the ones deleted before it
        apply(ec2, creation(network))
        apply(ec2, DeleteVpcEndpoint(usable(ec2, network.vpc_id)[0]))
    aws_emulator.reset_calls()
    aws_emulator.faults.reject("DescribeVpcEndpoints", "InvalidVpcEndpointId.NotFound", "not found", service="ec2")

    with pytest.raises(AwsError) as raised:
        apply(ec2, creation(network))

    assert (raised.value.kind, raised.value.code) == (ErrorKind.TRANSIENT, "StaleClientToken")
    assert aws_emulator.count("CreateVpcEndpoint") == MAX_CREATE_ATTEMPTS
    assert usable(ec2, network.vpc_id) == []


@pytest.mark.timeout(30)
def test_losing_the_private_dns_race_is_transient_and_the_next_look_joins_the_winner(
    ec2: Any, network: VpcEndpointSpec, shared: VpcEndpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner: list[str] = []

    def look_then_lose_the_race(*args: Any, **kwargs: Any) -> list[ObservedVpcEndpoint]:
        found = find(*args, **kwargs)
        if not winner:  # another replica's creation lands between this look and this creation
            winner.append(hand_made(ec2, network, private_dns=True, tags=MANAGED))
        return found

    monkeypatch.setattr(vpc, "find", look_then_lose_the_race)
    with pytest.raises(AwsError) as raised:
        shared.use(ec2, "us-east-1", network)
    monkeypatch.undo()

    assert (raised.value.kind, raised.value.code) == (ErrorKind.TRANSIENT, "InvalidParameter")
    joined = shared.use(ec2, "us-east-1", network)
    assert joined is not None
    assert (joined.id, joined.installations) == (winner[0], {OURS.tag})


@pytest.mark.timeout(30)
def test_losing_the_race_to_a_creation_with_other_subnets_is_transient_and_the_next_look_joins_it(
    ec2: Any, network: VpcEndpointSpec, shared: VpcEndpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two resources of one VPC, with different subnets, create its endpoint in the same moment (one in another
    replica): EC2 refuses the second creation of the token; that one looks again and joins, not fail its spec."""
    other_subnet = subnet_in(ec2, network.vpc_id, "10.20.2.0/24", zone_besides(ec2, network))
    apply(ec2, creation(network))  # the other replica's, not listed yet to this one's first look
    listed = [False]

    def not_listed_at_first(*args: Any, **kwargs: Any) -> list[ObservedVpcEndpoint]:
        found, listed[0] = find(*args, **kwargs) if listed[0] else [], True
        return found

    monkeypatch.setattr(vpc, "find", not_listed_at_first)
    with pytest.raises(AwsError) as raised:
        shared.use(ec2, "us-east-1", network.model_copy(update={"subnet_ids": [other_subnet]}))
    monkeypatch.undo()

    assert (raised.value.kind, raised.value.code) == (ErrorKind.TRANSIENT, "IdempotentParameterMismatch")
    joined = shared.use(ec2, "us-east-1", network.model_copy(update={"subnet_ids": [other_subnet]}))
    assert joined is not None
    assert usable(ec2, network.vpc_id) == [joined.id]
    assert joined.subnet_ids == {*network.subnet_ids, other_subnet}


@pytest.mark.timeout(30)
def test_a_creation_ec2_refuses_for_another_reason_stays_a_rejection(
    ec2: Any, network: VpcEndpointSpec, aws_emulator: AwsEmulator, shared: VpcEndpoints
) -> None:
    refusal = "The security group 'sg-0c2d' does not exist in VPC 'vpc-0e3f'"
    aws_emulator.faults.reject("CreateVpcEndpoint", "InvalidParameter", refusal, service="ec2")
    with pytest.raises(AwsError) as raised:
        shared.use(ec2, "us-east-1", network)
    assert (raised.value.kind, raised.value.aws_message) == (ErrorKind.PERMANENT, refusal)
    assert usable(ec2, network.vpc_id) == []


@pytest.mark.timeout(30)
def test_a_deletion_listed_unsuccessful_is_the_calls_error_unless_the_endpoint_is_already_gone(
    ec2: Any, network: VpcEndpointSpec
) -> None:
    apply(ec2, creation(network))
    (endpoint_id,) = usable(ec2, network.vpc_id)
    ec2_emulator.refuse_next_deletion(endpoint_id, "UnauthorizedOperation", "You are not authorized.")

    with pytest.raises(AwsError) as raised:
        apply(ec2, DeleteVpcEndpoint(endpoint_id))

    assert (raised.value.kind, raised.value.code) == (ErrorKind.PERMANENT, "UnauthorizedOperation")
    assert usable(ec2, network.vpc_id) == [endpoint_id]
    apply(ec2, DeleteVpcEndpoint(endpoint_id))
    apply(ec2, DeleteVpcEndpoint("vpce-0123456789abcdef0"))  # listed with InvalidVpcEndpoint.NotFound: gone
    assert usable(ec2, network.vpc_id) == []


# --- users: the cluster's resources, one installation tag per installation ---------------------------------------


@pytest.mark.timeout(30)
def test_the_endpoint_stays_while_a_resource_of_the_cluster_names_its_vpc_and_goes_with_the_last(
    ec2: Any, network: VpcEndpointSpec, cluster: BodiesCluster, shared: VpcEndpoints
) -> None:
    cluster.add(user(FIRST, network), user(SECOND, network))
    first = shared.use(ec2, "us-east-1", network)
    assert first is not None
    assert shared.use(ec2, "us-east-1", network) == first

    shared.leave(ec2, "us-east-1", network.vpc_id, FIRST)
    (kept,) = find(ec2, "us-east-1", vpc_id=network.vpc_id)
    assert (kept.id, kept.installations) == (first.id, {OURS.tag})

    cluster.remove(user(FIRST, network))
    shared.leave(ec2, "us-east-1", network.vpc_id, SECOND)
    assert runtime_endpoints(ec2, network.vpc_id) == {first.id: "deleted"}


@pytest.mark.timeout(30)
def test_two_installations_share_the_endpoint_and_neither_deletes_it_under_the_other(
    ec2: Any, network: VpcEndpointSpec
) -> None:
    ours, theirs = BodiesCluster(OURS), BodiesCluster(THEIRS)
    ours.add(user(FIRST, network))
    theirs.add(user(Owner("search", "ranker", "uid-9"), network))
    created = VpcEndpoints(ours).use(ec2, "us-east-1", network)
    joined = VpcEndpoints(theirs).use(ec2, "us-east-1", network)
    assert created is not None
    assert joined is not None
    assert (joined.id, joined.installations) == (created.id, {OURS.tag, THEIRS.tag})

    VpcEndpoints(ours).leave(ec2, "us-east-1", network.vpc_id, FIRST)
    (kept,) = find(ec2, "us-east-1", vpc_id=network.vpc_id)
    assert kept.installations == {THEIRS.tag}

    VpcEndpoints(theirs).leave(ec2, "us-east-1", network.vpc_id, Owner("search", "ranker", "uid-9"))
    assert usable(ec2, network.vpc_id) == []


@pytest.mark.timeout(30)
def test_a_surplus_endpoint_of_this_installation_is_deleted_and_the_oldest_kept(
    ec2: Any, network: VpcEndpointSpec, shared: VpcEndpoints
) -> None:
    without_private_dns = network.model_copy(update={"private_dns": False})
    apply(ec2, creation(without_private_dns))
    # A creator shown another set of deleted endpoints derives another client token: a second endpoint.
    ec2.delete_vpc_endpoints(VpcEndpointIds=[hand_made(ec2, network, private_dns=False, tags={})])
    apply(ec2, creation(without_private_dns))
    both = find(ec2, "us-east-1", vpc_id=network.vpc_id)
    assert len(both) == 2
    oldest = min(both, key=lambda endpoint: (endpoint.created, endpoint.id)).id  # the id decides a tie

    used = shared.use(ec2, "us-east-1", without_private_dns)

    assert used is not None
    assert used.id == oldest
    assert usable(ec2, network.vpc_id) == [oldest]


# --- subnets: one per Availability Zone ------------------------------------------------------------------------


def zone_of(ec2: Any, network: VpcEndpointSpec) -> str:
    """The zone of the network's subnet (EC2 chose it when the subnet was made without one)."""
    zone: str = ec2.describe_subnets(SubnetIds=network.subnet_ids)["Subnets"][0]["AvailabilityZone"]
    return zone


def zone_besides(ec2: Any, network: VpcEndpointSpec) -> str:
    return "us-east-1c" if zone_of(ec2, network) != "us-east-1c" else "us-east-1b"


def subnet_in(ec2: Any, vpc_id: str, cidr: str, zone: str) -> str:
    subnet_id: str = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
    return subnet_id


@pytest.mark.timeout(30)
def test_users_with_subnets_in_one_zone_share_the_endpoint_with_one_subnet_per_zone(
    ec2: Any, network: VpcEndpointSpec, aws_emulator: AwsEmulator, shared: VpcEndpoints
) -> None:
    same_zone = subnet_in(ec2, network.vpc_id, "10.20.2.0/24", zone_of(ec2, network))
    another_zone = zone_besides(ec2, network)
    other_zone = subnet_in(ec2, network.vpc_id, "10.20.3.0/24", another_zone)

    shared.use(ec2, "us-east-1", network)
    shared.use(ec2, "us-east-1", network.model_copy(update={"subnet_ids": [same_zone]}))
    used = shared.use(ec2, "us-east-1", network.model_copy(update={"subnet_ids": [same_zone, other_zone]}))

    assert used is not None
    assert used.subnet_ids == {*network.subnet_ids, other_zone}
    assert [call.error_code for call in aws_emulator.calls(operation="ModifyVpcEndpoint")] == [None]
    assert any(
        name.endswith(f"-{another_zone}.runtime.sagemaker.us-east-1.vpce.amazonaws.com") for name in used.dns_names
    )


@pytest.mark.timeout(30)
def test_a_subnet_that_does_not_exist_is_the_specs_mistake_not_retried(
    ec2: Any, network: VpcEndpointSpec, shared: VpcEndpoints
) -> None:
    used = shared.use(ec2, "us-east-1", network)
    assert used is not None
    missing = "subnet-0123456789abcdef0"

    with pytest.raises(AwsError) as looked_up:
        shared.use(ec2, "us-east-1", network.model_copy(update={"subnet_ids": [missing]}))
    with pytest.raises(AwsError) as added:  # a subnet deleted between the look-up and the change
        apply(ec2, ExtendVpcEndpoint(used.id, (missing,), ()))

    for raised in (looked_up, added):
        assert (raised.value.kind, raised.value.code) == (ErrorKind.PERMANENT, "InvalidSubnetID.NotFound")
        assert missing in str(raised.value)
