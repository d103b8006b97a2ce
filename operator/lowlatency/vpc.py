"""The interface VPC endpoint for the SageMaker Runtime, shared by every `LowLatencyEndpoint` in one VPC.

A VPC holds at most one usable interface endpoint per service with private DNS (the regional runtime host name
resolves to it inside the VPC), so resources in the same VPC share one. Who uses it is recorded in tags on the
VPC endpoint itself (``lowlatency.io/user/<uid>``), so that any replica, after any restart, can tell when the last
user is gone. The operator deletes a VPC endpoint only if it created it (``lowlatency.io/managed-by``) and no user
tag remains; one it found is used and never modified or deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lowlatency.api import VpcEndpointSpec
from lowlatency.aws import AwsError, ErrorKind, aws_call
from lowlatency.desired import MANAGER, TAG_MANAGED_BY, TAG_PREFIX, Owner

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import FilterTypeDef, VpcEndpointTypeDef

USER_TAG_PREFIX = f"{TAG_PREFIX}user/"
_GONE_STATES = {"deleting", "deleted", "failed", "rejected", "expired"}
# Creations answered with a deleted endpoint (a token EC2 still remembers) before the pass gives up and retries.
MAX_CREATE_ATTEMPTS = 5
# EC2's answers to a creation that another creator's finished first: the same token with other subnets or groups,
# or a second endpoint with private DNS in the VPC.
_LOST_RACE = {"IdempotentParameterMismatch": "", "InvalidParameter": "conflicting DNS domain"}
# The endpoint itself is gone (deleted meanwhile): the next pass looks again, unlike a missing subnet or group.
_ENDPOINT_NOT_FOUND = "InvalidVpcEndpointId.NotFound"


def runtime_service(region: str) -> str:
    return f"com.amazonaws.{region}.sagemaker.runtime"


def user_tag(owner: Owner) -> str:
    return f"{USER_TAG_PREFIX}{owner.uid}"


@dataclass(frozen=True)
class ObservedVpcEndpoint:
    id: str
    subnet_ids: frozenset[str]
    security_group_ids: frozenset[str]
    dns_names: tuple[str, ...]
    tags: dict[str, str]

    @property
    def managed(self) -> bool:
        return self.tags.get(TAG_MANAGED_BY) == MANAGER

    @property
    def users(self) -> set[str]:
        return {key for key in self.tags if key.startswith(USER_TAG_PREFIX)}


@dataclass(frozen=True)
class CreateVpcEndpoint:
    spec: VpcEndpointSpec
    service: str
    user_tag: str
    user: str


@dataclass(frozen=True)
class AddVpcEndpointUser:
    id: str
    user_tag: str
    user: str


@dataclass(frozen=True)
class ExtendVpcEndpoint:
    """Add subnets or security groups a user needs; never remove any (other users may rely on them)."""

    id: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]


@dataclass(frozen=True)
class RemoveVpcEndpointUser:
    id: str
    user_tag: str


@dataclass(frozen=True)
class DeleteVpcEndpoint:
    id: str


VpcAction = CreateVpcEndpoint | AddVpcEndpointUser | ExtendVpcEndpoint | RemoveVpcEndpointUser | DeleteVpcEndpoint


def plan_vpc_endpoint(
    spec: VpcEndpointSpec | None,
    observed: ObservedVpcEndpoint | None,
    owner: Owner,
    region: str,
    zones: Mapping[str, str] | None = None,
) -> list[VpcAction]:
    """Use (or create) the VPC's runtime endpoint when the spec asks for one; let go of it when it does not.

    ``zones`` maps the subnets of the endpoint and of the spec to their Availability Zones (see
    :func:`subnet_zones`); it is needed only when the spec names a subnet the endpoint does not have."""
    tag = user_tag(owner)
    if spec is None:
        return release(observed, owner)
    if observed is None:
        return [CreateVpcEndpoint(spec, runtime_service(region), tag, f"{owner.namespace}/{owner.name}")]
    if not observed.managed:
        return []
    actions: list[VpcAction] = []
    if tag not in observed.tags:
        actions.append(AddVpcEndpointUser(observed.id, tag, f"{owner.namespace}/{owner.name}"))
    missing_subnets = uncovered_subnets(spec, observed, zones or {})
    missing_groups = tuple(sorted(set(spec.security_group_ids) - observed.security_group_ids))
    if missing_subnets or missing_groups:
        actions.append(ExtendVpcEndpoint(observed.id, missing_subnets, missing_groups))
    return actions


def needs_zones(spec: VpcEndpointSpec | None, observed: ObservedVpcEndpoint | None) -> bool:
    """Whether planning must know the subnets' zones: the spec names a subnet the shared endpoint lacks."""
    return spec is not None and observed is not None and not set(spec.subnet_ids) <= observed.subnet_ids


def uncovered_subnets(
    spec: VpcEndpointSpec, observed: ObservedVpcEndpoint, zones: Mapping[str, str]
) -> tuple[str, ...]:
    """The spec's subnets in Availability Zones where the endpoint has no subnet yet.

    EC2 gives an interface endpoint one subnet per zone (``DuplicateSubnetsInSameZone``): a user whose subnet is in
    a zone the endpoint covers reaches the endpoint's interface in that zone through the VPC's local route. Two
    subnets of the spec in one uncovered zone are both asked for, and EC2's refusal names the spec's mistake."""
    covered = {zones[subnet] for subnet in observed.subnet_ids}
    return tuple(
        sorted(subnet for subnet in set(spec.subnet_ids) - observed.subnet_ids if zones[subnet] not in covered)
    )


def subnet_zones(ec2: EC2Client, subnet_ids: Iterable[str]) -> dict[str, str]:
    """Each subnet's Availability Zone (botocore ec2 Subnet.AvailabilityZone). A subnet that does not exist is the
    spec's mistake: a refusal naming it (EC2 answers ``InvalidSubnetID.NotFound`` with its id)."""
    try:
        with aws_call("ec2:DescribeSubnets"):
            subnets = ec2.describe_subnets(SubnetIds=sorted(set(subnet_ids)))["Subnets"]
    except AwsError as error:
        if error.kind is not ErrorKind.NOT_FOUND:
            raise
        raise AwsError(error.action, ErrorKind.PERMANENT, error.code, error.aws_message) from error
    return {subnet["SubnetId"]: subnet["AvailabilityZone"] for subnet in subnets}


def release(observed: ObservedVpcEndpoint | None, owner: Owner) -> list[VpcAction]:
    """Stop using the VPC endpoint; delete it if the operator made it and nobody else uses it."""
    if observed is None or not observed.managed:
        return []
    tag = user_tag(owner)
    actions: list[VpcAction] = [RemoveVpcEndpointUser(observed.id, tag)] if tag in observed.tags else []
    if not observed.users - {tag}:
        actions.append(DeleteVpcEndpoint(observed.id))
    return actions


def find(
    ec2: EC2Client, region: str, *, vpc_id: str | None = None, endpoint_id: str | None = None
) -> ObservedVpcEndpoint | None:
    """The runtime endpoint of a VPC, or the one with a known id (when the spec no longer names the VPC)."""
    usable = [
        endpoint
        for endpoint in _runtime_endpoints(ec2, runtime_service(region), vpc_id, endpoint_id)
        if not _gone(endpoint)
    ]
    if not usable:
        return None
    # Prefer the one the operator manages, so that every user converges on the same endpoint.
    usable.sort(key=lambda e: any(t["Key"] == TAG_MANAGED_BY for t in e.get("Tags", [])), reverse=True)
    chosen = usable[0]
    return ObservedVpcEndpoint(
        id=chosen["VpcEndpointId"],
        subnet_ids=frozenset(chosen.get("SubnetIds", [])),
        security_group_ids=frozenset(group["GroupId"] for group in chosen.get("Groups", [])),
        dns_names=tuple(entry["DnsName"] for entry in chosen.get("DnsEntries", []) if "DnsName" in entry),
        tags={tag["Key"]: tag["Value"] for tag in chosen.get("Tags", [])},
    )


def _runtime_endpoints(
    ec2: EC2Client, service: str, vpc_id: str | None, endpoint_id: str | None = None
) -> list[VpcEndpointTypeDef]:
    """The runtime endpoints of a VPC (or the one with a known id), in every state, deleted ones included."""
    filters: list[FilterTypeDef] = [{"Name": "service-name", "Values": [service]}]
    if vpc_id is not None:
        filters.append({"Name": "vpc-id", "Values": [vpc_id]})
    ids = [endpoint_id] if endpoint_id is not None else []
    try:
        with aws_call("ec2:DescribeVpcEndpoints"):
            return ec2.describe_vpc_endpoints(Filters=filters, VpcEndpointIds=ids)["VpcEndpoints"]
    except AwsError as error:
        if error.kind is not ErrorKind.NOT_FOUND:
            raise
        return []


def _gone(endpoint: VpcEndpointTypeDef) -> bool:
    return endpoint.get("State", "").lower() in _GONE_STATES


def _create(ec2: EC2Client, action: CreateVpcEndpoint) -> None:
    """Create the VPC's runtime endpoint with a client token that every creator derives alike from what EC2 shows,
    so that concurrent or repeated attempts (two resources at once, a retry after a crash) yield one endpoint.

    EC2 answers a repeated token with the endpoint it first made, even after that was deleted; so the token covers
    the endpoints of this VPC and service that are gone, and a creation after the last user deleted the endpoint
    makes a new one. EC2 may stop listing a deleted endpoint while still remembering its token: a creation that
    answers with a gone endpoint counts it among the gone ones and is made again with the token that follows.
    """
    spec = action.spec
    gone = {
        endpoint["VpcEndpointId"]
        for endpoint in _runtime_endpoints(ec2, action.service, spec.vpc_id)
        if _gone(endpoint)
    }
    for _ in range(MAX_CREATE_ATTEMPTS):
        token = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"lowlatency.io/{spec.vpc_id}/{action.service}/{','.join(sorted(gone))}")
        )
        try:
            with aws_call("ec2:CreateVpcEndpoint"):
                created = ec2.create_vpc_endpoint(
                    VpcEndpointType="Interface",
                    VpcId=spec.vpc_id,
                    ServiceName=action.service,
                    SubnetIds=list(spec.subnet_ids),
                    SecurityGroupIds=list(spec.security_group_ids),
                    PrivateDnsEnabled=spec.private_dns,
                    ClientToken=token,
                    TagSpecifications=[
                        {
                            "ResourceType": "vpc-endpoint",
                            "Tags": [
                                {"Key": TAG_MANAGED_BY, "Value": MANAGER},
                                {"Key": action.user_tag, "Value": action.user},
                            ],
                        }
                    ],
                )["VpcEndpoint"]
        except AwsError as error:
            if error.code in _LOST_RACE and _LOST_RACE[error.code] in error.aws_message:
                # Another resource of this VPC created it in the same moment: the next pass finds and uses it.
                raise AwsError(error.action, ErrorKind.TRANSIENT, error.code, error.aws_message) from error
            raise
        if not _gone(created):
            return
        gone.add(created["VpcEndpointId"])
    raise AwsError(
        "ec2:CreateVpcEndpoint",
        ErrorKind.TRANSIENT,
        "StaleClientToken",
        f"EC2 answered {MAX_CREATE_ATTEMPTS} creations with deleted endpoints ({', '.join(sorted(gone))})",
    )


def apply(ec2: EC2Client, action: VpcAction) -> None:
    match action:
        case CreateVpcEndpoint():
            _create(ec2, action)
        case AddVpcEndpointUser(id=endpoint_id, user_tag=tag, user=user):
            with aws_call("ec2:CreateTags"):
                ec2.create_tags(Resources=[endpoint_id], Tags=[{"Key": tag, "Value": user}])
        case ExtendVpcEndpoint(id=endpoint_id, subnet_ids=subnets, security_group_ids=groups):
            try:
                with aws_call("ec2:ModifyVpcEndpoint"):
                    ec2.modify_vpc_endpoint(
                        VpcEndpointId=endpoint_id, AddSubnetIds=list(subnets), AddSecurityGroupIds=list(groups)
                    )
            except AwsError as error:
                if error.kind is ErrorKind.NOT_FOUND and error.code != _ENDPOINT_NOT_FOUND:
                    # A subnet or security group of the spec that does not exist: only the user can correct it.
                    raise AwsError(error.action, ErrorKind.PERMANENT, error.code, error.aws_message) from error
                raise
        case RemoveVpcEndpointUser(id=endpoint_id, user_tag=tag):
            with aws_call("ec2:DeleteTags"):
                ec2.delete_tags(Resources=[endpoint_id], Tags=[{"Key": tag}])
        case DeleteVpcEndpoint(id=endpoint_id):
            try:
                with aws_call("ec2:DeleteVpcEndpoints"):
                    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])
            except AwsError as error:
                if error.kind is not ErrorKind.NOT_FOUND:
                    raise
