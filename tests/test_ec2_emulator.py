"""The AWS emulator's EC2 interface VPC endpoints refuse what EC2 refuses (each rule's source is in the docstring
of :mod:`lowlatency.emulators.aws.ec2`)."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from fixtures_aws import AwsClientFactory

RUNTIME = "com.amazonaws.us-east-1.sagemaker.runtime"
ZONES = ("us-east-1a", "us-east-1b")


@pytest.fixture
def ec2(aws_client: AwsClientFactory) -> Any:
    return aws_client("ec2", retries=False)


@pytest.fixture
def network(ec2: Any) -> dict[str, Any]:
    """A VPC with two subnets in each of two zones (``a1``, ``a2``, ``b1``, ``b2``) and a security group."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = {}
    for index, (zone, number) in enumerate((zone, number) for zone in ZONES for number in (1, 2)):
        created = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{index}.0/24", AvailabilityZone=zone)["Subnet"]
        subnets[f"{zone[-1]}{number}"] = created["SubnetId"]
    group = ec2.create_security_group(GroupName="runtime", Description="runtime clients", VpcId=vpc)["GroupId"]
    return {"vpc": vpc, "group": group, **subnets}


def create_endpoint(ec2: Any, network: dict[str, Any], subnets: list[str], **overrides: Any) -> Any:
    request: dict[str, Any] = {
        "VpcEndpointType": "Interface",
        "VpcId": network["vpc"],
        "ServiceName": RUNTIME,
        "SubnetIds": subnets,
        "SecurityGroupIds": [network["group"]],
        "PrivateDnsEnabled": False,
    }
    return ec2.create_vpc_endpoint(**(request | overrides))["VpcEndpoint"]


def refusal(call: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def test_an_interface_endpoint_has_one_subnet_per_availability_zone(ec2: Any, network: dict[str, Any]) -> None:
    code, message = refusal(lambda: create_endpoint(ec2, network, [network["a1"], network["a2"]]))
    assert code == "DuplicateSubnetsInSameZone"
    assert network["a1"] in message

    endpoint_id = create_endpoint(ec2, network, [network["a1"]])["VpcEndpointId"]
    code, message = refusal(lambda: ec2.modify_vpc_endpoint(VpcEndpointId=endpoint_id, AddSubnetIds=[network["a2"]]))
    assert (code, network["a1"] in message) == ("DuplicateSubnetsInSameZone", True)

    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint_id, AddSubnetIds=[network["b1"]])
    # A subnet removed in the same call frees its zone for another.
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint_id, AddSubnetIds=[network["a2"]], RemoveSubnetIds=[network["a1"]])
    (found,) = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
    assert set(found["SubnetIds"]) == {network["a2"], network["b1"]}


def test_subnets_must_exist_and_a_missing_one_is_named(ec2: Any, network: dict[str, Any]) -> None:
    endpoint_id = create_endpoint(ec2, network, [network["a1"]])["VpcEndpointId"]
    missing = "subnet-0123456789abcdef0"
    code, message = refusal(lambda: ec2.modify_vpc_endpoint(VpcEndpointId=endpoint_id, AddSubnetIds=[missing]))
    assert (code, missing in message) == ("InvalidSubnetID.NotFound", True)

    code, message = refusal(lambda: ec2.describe_subnets(SubnetIds=[network["a1"], missing, network["b1"]]))
    assert (code, missing in message) == ("InvalidSubnetID.NotFound", True)
