"""Sharing the SageMaker Runtime VPC endpoint: who creates, who uses, who deletes; then creating it against the AWS
emulator's EC2, which keeps client tokens and private DNS as EC2 does."""

from typing import Any

import pytest

from e2e_support import create_network
from fixtures_aws import AwsClientFactory
from lowlatency.api import VpcEndpointSpec
from lowlatency.aws import AwsError, ErrorKind
from lowlatency.desired import Owner
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.vpc import (
    MAX_CREATE_ATTEMPTS,
    AddVpcEndpointUser,
    CreateVpcEndpoint,
    DeleteVpcEndpoint,
    ExtendVpcEndpoint,
    ObservedVpcEndpoint,
    RemoveVpcEndpointUser,
    apply,
    find,
    plan_vpc_endpoint,
    release,
    subnet_zones,
    uncovered_subnets,
    user_tag,
)

SPEC = VpcEndpointSpec.model_validate(
    {"vpcId": "vpc-0e3f", "subnetIds": ["subnet-0a1b"], "securityGroupIds": ["sg-0c2d"]}
)
FIRST = Owner("adtech", "bid-filter", "uid-1")
SECOND = Owner("adtech", "pacing", "uid-2")
MANAGED = {"lowlatency.io/managed-by": "lowlatency-operator"}


def shared(tags: dict[str, str], subnets: tuple[str, ...] = ("subnet-0a1b",)) -> ObservedVpcEndpoint:
    return ObservedVpcEndpoint("vpce-1", frozenset(subnets), frozenset({"sg-0c2d"}), ("vpce-1.example",), tags)


def test_the_first_user_creates_it_in_the_runtime_service_of_its_region() -> None:
    (action,) = plan_vpc_endpoint(SPEC, None, FIRST, "eu-west-1")
    assert isinstance(action, CreateVpcEndpoint)
    assert action.service == "com.amazonaws.eu-west-1.sagemaker.runtime"
    assert action.user_tag == "lowlatency.io/user/uid-1"


def test_a_second_user_joins_and_adds_missing_subnets() -> None:
    observed = shared({**MANAGED, "lowlatency.io/user/uid-1": "adtech/bid-filter"}, subnets=())
    assert plan_vpc_endpoint(SPEC, observed, SECOND, "us-east-1", {"subnet-0a1b": "us-east-1a"}) == [
        AddVpcEndpointUser("vpce-1", "lowlatency.io/user/uid-2", "adtech/pacing"),
        ExtendVpcEndpoint("vpce-1", ("subnet-0a1b",), ()),
    ]


def test_only_subnets_of_zones_the_endpoint_does_not_cover_are_added() -> None:
    spec = SPEC.model_copy(update={"subnet_ids": ["subnet-a2", "subnet-b1", "subnet-c1"]})
    observed = shared(MANAGED, subnets=("subnet-a1",))
    zones = {"subnet-a1": "eu-west-1a", "subnet-a2": "eu-west-1a", "subnet-b1": "eu-west-1b", "subnet-c1": "eu-west-1c"}
    assert uncovered_subnets(spec, observed, zones) == ("subnet-b1", "subnet-c1")


def test_an_endpoint_the_operator_did_not_create_is_used_as_is() -> None:
    assert plan_vpc_endpoint(SPEC, shared({"team": "network"}), FIRST, "us-east-1") == []
    assert release(shared({"team": "network"}), FIRST) == []


def test_leaving_keeps_it_for_the_remaining_user() -> None:
    observed = shared({**MANAGED, "lowlatency.io/user/uid-1": "a", "lowlatency.io/user/uid-2": "b"})
    assert release(observed, FIRST) == [RemoveVpcEndpointUser("vpce-1", "lowlatency.io/user/uid-1")]


def test_the_last_user_deletes_it() -> None:
    observed = shared({**MANAGED, "lowlatency.io/user/uid-2": "b"})
    assert release(observed, SECOND) == [
        RemoveVpcEndpointUser("vpce-1", "lowlatency.io/user/uid-2"),
        DeleteVpcEndpoint("vpce-1"),
    ]


def test_removing_the_block_from_the_spec_releases_it() -> None:
    observed = shared({**MANAGED, "lowlatency.io/user/uid-1": "a"})
    assert plan_vpc_endpoint(None, observed, FIRST, "us-east-1") == release(observed, FIRST)


# --- creating it, against the AWS emulator's EC2 (client tokens, races, deleted endpoints) ---------------------

RUNTIME = "com.amazonaws.us-east-1.sagemaker.runtime"


@pytest.fixture
def ec2(aws_client: AwsClientFactory) -> Any:
    return aws_client("ec2", retries=False)


@pytest.fixture
def network(ec2: Any) -> VpcEndpointSpec:
    return VpcEndpointSpec.model_validate(create_network(ec2))


def creation(spec: VpcEndpointSpec, owner: Owner = FIRST) -> CreateVpcEndpoint:
    (action,) = plan_vpc_endpoint(spec, None, owner, "us-east-1")
    assert isinstance(action, CreateVpcEndpoint)
    return action


def runtime_endpoints(ec2: Any, vpc_id: str) -> dict[str, str]:
    """Every runtime endpoint EC2 lists in the VPC, deleted ones included: id → state."""
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "service-name", "Values": [RUNTIME]}]
    return {
        found["VpcEndpointId"]: found["State"] for found in ec2.describe_vpc_endpoints(Filters=filters)["VpcEndpoints"]
    }


def usable(ec2: Any, vpc_id: str) -> list[str]:
    return [endpoint_id for endpoint_id, state in runtime_endpoints(ec2, vpc_id).items() if state != "deleted"]


@pytest.mark.timeout(30)
def test_repeated_and_concurrent_creations_yield_one_endpoint(
    ec2: Any, network: VpcEndpointSpec, aws_emulator: AwsEmulator
) -> None:
    apply(ec2, creation(network))
    apply(ec2, creation(network))  # a retry after a crash
    apply(ec2, creation(network, SECOND))  # another resource of the VPC that did not see it yet

    (only,) = usable(ec2, network.vpc_id)
    assert [call.error_code for call in aws_emulator.calls(operation="CreateVpcEndpoint")] == [None] * 3
    observed = find(ec2, "us-east-1", vpc_id=network.vpc_id)
    assert observed is not None
    assert (observed.id, observed.users) == (only, {user_tag(FIRST)})  # the others join by tagging it


@pytest.mark.timeout(30)
def test_a_creation_after_the_deletion_makes_a_new_endpoint(ec2: Any, network: VpcEndpointSpec) -> None:
    apply(ec2, creation(network))
    (first,) = usable(ec2, network.vpc_id)
    apply(ec2, DeleteVpcEndpoint(first))

    apply(ec2, creation(network, SECOND))
    apply(ec2, creation(network, SECOND))

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
def test_losing_the_private_dns_race_is_transient_and_the_next_look_finds_the_winner(
    ec2: Any, network: VpcEndpointSpec
) -> None:
    winner = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface",
        VpcId=network.vpc_id,
        ServiceName=RUNTIME,
        SubnetIds=network.subnet_ids,
        SecurityGroupIds=network.security_group_ids,
        PrivateDnsEnabled=True,
        ClientToken="another-creator",
    )["VpcEndpoint"]["VpcEndpointId"]

    with pytest.raises(AwsError) as raised:
        apply(ec2, creation(network))

    assert (raised.value.kind, raised.value.code) == (ErrorKind.TRANSIENT, "InvalidParameter")
    observed = find(ec2, "us-east-1", vpc_id=network.vpc_id)
    assert observed is not None
    assert observed.id == winner


@pytest.mark.timeout(30)
def test_a_creation_ec2_refuses_for_another_reason_stays_a_rejection(
    ec2: Any, network: VpcEndpointSpec, aws_emulator: AwsEmulator
) -> None:
    refusal = "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true"
    aws_emulator.faults.reject("CreateVpcEndpoint", "InvalidParameter", refusal, service="ec2")
    with pytest.raises(AwsError) as raised:
        apply(ec2, creation(network))
    assert (raised.value.kind, raised.value.aws_message) == (ErrorKind.PERMANENT, refusal)
    assert usable(ec2, network.vpc_id) == []


# --- subnets: one per Availability Zone ------------------------------------------------------------------------


def subnet_in(ec2: Any, vpc_id: str, cidr: str, zone: str) -> str:
    subnet_id: str = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
    return subnet_id


def join(ec2: Any, spec: VpcEndpointSpec, owner: Owner) -> None:
    """What a pass of the reconciler does with a spec that names the VPC."""
    observed = find(ec2, "us-east-1", vpc_id=spec.vpc_id)
    zones = subnet_zones(ec2, [*spec.subnet_ids, *observed.subnet_ids]) if observed is not None else {}
    for action in plan_vpc_endpoint(spec, observed, owner, "us-east-1", zones):
        apply(ec2, action)


@pytest.mark.timeout(30)
def test_users_with_subnets_in_one_zone_share_the_endpoint_with_one_subnet_per_zone(
    ec2: Any, network: VpcEndpointSpec, aws_emulator: AwsEmulator
) -> None:
    first_zone = ec2.describe_subnets(SubnetIds=network.subnet_ids)["Subnets"][0]["AvailabilityZone"]
    same_zone = subnet_in(ec2, network.vpc_id, "10.20.2.0/24", first_zone)
    other_zone = subnet_in(
        ec2, network.vpc_id, "10.20.3.0/24", "us-east-1c" if first_zone != "us-east-1c" else "us-east-1b"
    )

    join(ec2, network, FIRST)
    join(ec2, network.model_copy(update={"subnet_ids": [same_zone]}), SECOND)
    join(ec2, network.model_copy(update={"subnet_ids": [same_zone, other_zone]}), Owner("adtech", "ranker", "uid-3"))

    observed = find(ec2, "us-east-1", vpc_id=network.vpc_id)
    assert observed is not None
    assert observed.subnet_ids == {*network.subnet_ids, other_zone}
    assert [call.error_code for call in aws_emulator.calls(operation="ModifyVpcEndpoint")] == [None]


@pytest.mark.timeout(30)
def test_a_subnet_that_does_not_exist_is_the_specs_mistake_not_retried(ec2: Any, network: VpcEndpointSpec) -> None:
    join(ec2, network, FIRST)
    observed = find(ec2, "us-east-1", vpc_id=network.vpc_id)
    assert observed is not None
    missing = "subnet-0123456789abcdef0"

    with pytest.raises(AwsError) as looked_up:
        join(ec2, network.model_copy(update={"subnet_ids": [missing]}), SECOND)
    with pytest.raises(AwsError) as added:  # a subnet deleted between the look-up and the change
        apply(ec2, ExtendVpcEndpoint(observed.id, (missing,), ()))

    for raised in (looked_up, added):
        assert (raised.value.kind, raised.value.code) == (ErrorKind.PERMANENT, "InvalidSubnetID.NotFound")
        assert missing in str(raised.value)
