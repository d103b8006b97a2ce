"""The AWS emulator's EC2 interface VPC endpoints refuse what EC2 refuses (each rule's source is in the docstring
of :mod:`lowlatency.emulators.aws.ec2`)."""

from __future__ import annotations

import functools
import time
from typing import Any

import botocore.exceptions
import pytest

from fixtures_aws import AwsClientFactory
from lowlatency.emulators.aws import ec2 as ec2_emulator

RUNTIME = "com.amazonaws.us-east-1.sagemaker.runtime"
ZONES = ("us-east-1a", "us-east-1b")
MANAGED = [
    {"ResourceType": "vpc-endpoint", "Tags": [{"Key": "lowlatency.io/managed-by", "Value": "lowlatency-operator"}]}
]


@pytest.fixture
def ec2(aws_client: AwsClientFactory) -> Any:
    return aws_client("ec2", retries=False)


@pytest.fixture
def network(ec2: Any) -> dict[str, Any]:
    """A VPC with two subnets in each of two zones (``a1``, ``a2``, ``b1``, ``b2``) and a security group."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # private DNS needs it
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


def test_creation_is_idempotent_by_client_token_and_private_dns_is_one_per_vpc(
    ec2: Any, network: dict[str, Any]
) -> None:
    first = create_endpoint(ec2, network, [network["a1"]], PrivateDnsEnabled=True, ClientToken="token-1")
    second = create_endpoint(ec2, network, [network["a1"]], PrivateDnsEnabled=True, ClientToken="token-1")
    assert first["VpcEndpointId"] == second["VpcEndpointId"]
    assert len(ec2.describe_vpc_endpoints()["VpcEndpoints"]) == 1
    mismatch = refusal(
        lambda: create_endpoint(ec2, network, [network["b1"]], PrivateDnsEnabled=True, ClientToken="token-1")
    )
    assert mismatch[0] == "IdempotentParameterMismatch"
    unknown_group = refusal(lambda: create_endpoint(ec2, network, [network["b1"]], SecurityGroupIds=["sg-0c2d"]))
    assert unknown_group[0] == "InvalidGroup.NotFound"
    code, message = refusal(lambda: create_endpoint(ec2, network, [network["b1"]], PrivateDnsEnabled=True))
    assert (code, "conflicting DNS domain" in message) == ("InvalidParameter", True)


def test_an_endpoint_reports_dns_names_per_zone_of_its_subnets_and_is_found_by_filters(
    ec2: Any, network: dict[str, Any]
) -> None:
    created = create_endpoint(ec2, network, [network["a1"]], PrivateDnsEnabled=True, TagSpecifications=MANAGED)
    names = [entry["DnsName"] for entry in created["DnsEntries"]]
    assert names[0].startswith(f"{created['VpcEndpointId']}-")
    assert names[0].endswith(".runtime.sagemaker.us-east-1.vpce.amazonaws.com")
    assert [name for name in names if "-us-east-1" in name.partition(".")[0]] == [
        names[0].replace(".runtime.", "-us-east-1a.runtime.", 1)
    ]
    assert names[-1] == "runtime.sagemaker.us-east-1.amazonaws.com"

    ec2.modify_vpc_endpoint(VpcEndpointId=created["VpcEndpointId"], AddSubnetIds=[network["b1"]])

    filters = [
        {"Name": "service-name", "Values": [RUNTIME]},
        {"Name": "vpc-id", "Values": [network["vpc"]]},
        {"Name": "tag:lowlatency.io/managed-by", "Values": ["lowlatency-operator"]},
    ]
    (found,) = ec2.describe_vpc_endpoints(Filters=filters, VpcEndpointIds=[])["VpcEndpoints"]
    assert (found["VpcEndpointId"], found["State"]) == (created["VpcEndpointId"], "available")
    assert found["Groups"][0]["GroupId"] == network["group"]
    # The zonal names follow the subnets; the others keep their names.
    assert [entry["DnsName"] for entry in found["DnsEntries"]] == [
        names[0],
        names[0].replace(".runtime.", "-us-east-1a.runtime.", 1),
        names[0].replace(".runtime.", "-us-east-1b.runtime.", 1),
        names[-1],
    ]
    assert ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": ["vpc-000000"]}])["VpcEndpoints"] == []


def test_a_deleted_endpoint_stays_listed_and_its_client_token_answers_with_it(
    ec2: Any, network: dict[str, Any]
) -> None:
    endpoint_id = create_endpoint(ec2, network, [network["a1"]], ClientToken="token-1")["VpcEndpointId"]
    code, _ = refusal(lambda: ec2.modify_vpc_endpoint(VpcEndpointId=endpoint_id, AddSecurityGroupIds=["sg-0c2d"]))
    assert code == "InvalidGroup.NotFound"

    assert ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])["Unsuccessful"] == []

    (after,) = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
    assert after["State"] == "deleted"
    replayed = create_endpoint(ec2, network, [network["a1"]], ClientToken="token-1")
    assert (replayed["VpcEndpointId"], replayed["State"]) == (endpoint_id, "deleted")
    code, _ = refusal(lambda: ec2.describe_vpc_endpoints(VpcEndpointIds=["vpce-0000000000000000f"]))
    assert code == "InvalidVpcEndpointId.NotFound"


def test_a_resource_holds_at_most_50_tags_with_keys_and_values_of_limited_length(
    ec2: Any, network: dict[str, Any]
) -> None:
    endpoint_id = create_endpoint(ec2, network, [network["a1"]], TagSpecifications=MANAGED)["VpcEndpointId"]
    tags = [{"Key": f"user/{number}", "Value": "adtech/bid-filter"} for number in range(49)]
    ec2.create_tags(Resources=[endpoint_id], Tags=tags)
    ec2.create_tags(Resources=[endpoint_id], Tags=tags[:1])  # an existing key: still 50
    code, _ = refusal(lambda: ec2.create_tags(Resources=[endpoint_id], Tags=[{"Key": "user/49", "Value": "x"}]))
    assert code == "TagLimitExceeded"

    other = create_endpoint(ec2, network, [network["b1"]])["VpcEndpointId"]
    for too_long in ({"Key": "k" * 128, "Value": "v"}, {"Key": "key", "Value": "v" * 257}):
        tagging = [{"ResourceType": "vpc-endpoint", "Tags": [too_long]}]
        tag = functools.partial(ec2.create_tags, Resources=[other], Tags=[too_long])
        create = functools.partial(create_endpoint, ec2, network, [network["b2"]], TagSpecifications=tagging)
        assert (refusal(tag)[0], refusal(create)[0]) == ("InvalidParameterValue", "InvalidParameterValue")
    ec2.create_tags(Resources=[other], Tags=[{"Key": "k" * 127, "Value": "v" * 256}])
    assert len(ec2.describe_vpc_endpoints()["VpcEndpoints"]) == 2  # a refused creation made nothing


def test_deleting_answers_which_endpoints_it_did_not_delete(ec2: Any, network: dict[str, Any]) -> None:
    kept, deleted = (
        create_endpoint(ec2, network, [subnet])["VpcEndpointId"] for subnet in (network["a1"], network["b1"])
    )
    missing = "vpce-0123456789abcdef0"
    ec2_emulator.refuse_next_deletion(
        kept, "UnauthorizedOperation", "You are not authorized to perform this operation."
    )

    answer = ec2.delete_vpc_endpoints(VpcEndpointIds=[kept, deleted, missing])

    assert [(item["ResourceId"], item["Error"]["Code"]) for item in answer["Unsuccessful"]] == [
        (kept, "UnauthorizedOperation"),
        (missing, "InvalidVpcEndpoint.NotFound"),
    ]
    states = {
        e["VpcEndpointId"]: e["State"]
        for e in ec2.describe_vpc_endpoints(VpcEndpointIds=[kept, deleted])["VpcEndpoints"]
    }
    assert states == {kept: "available", deleted: "deleted"}
    assert ec2.delete_vpc_endpoints(VpcEndpointIds=[kept])["Unsuccessful"] == []  # refused once


def test_private_dns_needs_the_vpcs_dns_support_and_dns_hostnames(ec2: Any, network: dict[str, Any]) -> None:
    bare = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]  # DNS hostnames off, as CreateVpc leaves them
    subnet = ec2.create_subnet(VpcId=bare, CidrBlock="10.1.0.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="runtime", Description="runtime clients", VpcId=bare)["GroupId"]
    request = {"VpcId": bare, "SecurityGroupIds": [group], "PrivateDnsEnabled": True}

    code, message = refusal(lambda: create_endpoint(ec2, network, [subnet], **request))
    assert code == "InvalidParameter"
    assert "enableDnsSupport and enableDnsHostnames" in message

    ec2.modify_vpc_attribute(VpcId=bare, EnableDnsHostnames={"Value": True})
    ec2.modify_vpc_attribute(VpcId=bare, EnableDnsSupport={"Value": False})
    assert refusal(lambda: create_endpoint(ec2, network, [subnet], **request))[0] == "InvalidParameter"
    create_endpoint(ec2, network, [subnet], **request | {"PrivateDnsEnabled": False})  # without private DNS: fine

    ec2.modify_vpc_attribute(VpcId=bare, EnableDnsSupport={"Value": True})
    assert create_endpoint(ec2, network, [subnet], **request)["PrivateDnsEnabled"] is True


def test_a_private_hosted_zone_of_the_services_name_in_the_vpc_conflicts_with_private_dns(
    ec2: Any, network: dict[str, Any], aws_client: AwsClientFactory
) -> None:
    aws_client("route53").create_hosted_zone(
        Name="runtime.sagemaker.us-east-1.amazonaws.com",
        CallerReference="network-team",
        HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": "us-east-1", "VPCId": network["vpc"]},
    )

    code, message = refusal(lambda: create_endpoint(ec2, network, [network["a1"]], PrivateDnsEnabled=True))

    assert (code, "conflicting DNS domain" in message) == ("InvalidParameter", True)
    assert create_endpoint(ec2, network, [network["a1"]])["PrivateDnsEnabled"] is False  # without private DNS: fine


def test_an_endpoint_is_pending_before_it_is_available_and_deleting_before_it_is_deleted(
    ec2: Any, network: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        ec2_emulator, "TRANSITIONS", ec2_emulator.Transitions(pending_seconds=0.3, deleting_seconds=0.3)
    )

    def state(endpoint_id: str) -> str:
        (found,) = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
        return str(found["State"])

    created = create_endpoint(ec2, network, [network["a1"]], PrivateDnsEnabled=True)
    assert (created["State"], state(created["VpcEndpointId"])) == ("pending", "pending")
    time.sleep(0.3)
    assert state(created["VpcEndpointId"]) == "available"

    ec2.delete_vpc_endpoints(VpcEndpointIds=[created["VpcEndpointId"]])
    assert state(created["VpcEndpointId"]) == "deleting"
    code, _ = refusal(lambda: create_endpoint(ec2, network, [network["a1"]], PrivateDnsEnabled=True))
    assert code == "InvalidParameter"  # the name is the deleting endpoint's until it is gone
    time.sleep(0.3)
    assert state(created["VpcEndpointId"]) == "deleted"
    assert create_endpoint(ec2, network, [network["a1"]], PrivateDnsEnabled=True)["State"] == "pending"
