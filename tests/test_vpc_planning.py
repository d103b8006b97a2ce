"""Sharing the SageMaker Runtime VPC endpoint: who creates, who uses, who deletes."""

from lowlatency.api import VpcEndpointSpec
from lowlatency.desired import Owner
from lowlatency.vpc import (
    AddVpcEndpointUser,
    CreateVpcEndpoint,
    DeleteVpcEndpoint,
    ExtendVpcEndpoint,
    ObservedVpcEndpoint,
    RemoveVpcEndpointUser,
    plan_vpc_endpoint,
    release,
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
    assert plan_vpc_endpoint(SPEC, observed, SECOND, "us-east-1") == [
        AddVpcEndpointUser("vpce-1", "lowlatency.io/user/uid-2", "adtech/pacing"),
        ExtendVpcEndpoint("vpce-1", ("subnet-0a1b",), ()),
    ]


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
