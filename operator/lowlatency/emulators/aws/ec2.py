"""Interface VPC endpoints as EC2 makes them, on top of moto's EC2 backend.

What real EC2 does for ``CreateVpcEndpoint`` of type Interface, and what moto lacks that is added here:

- **ClientToken** makes the call idempotent: repeating it with the same token and the same parameters returns the
  endpoint the first call made (whatever its state since, even ``deleted``), with different parameters it answers
  ``IdempotentParameterMismatch`` (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html).
- **Private DNS**: with ``PrivateDnsEnabled`` the service's regional host name (``runtime.sagemaker.<region>.
  amazonaws.com``) resolves to the endpoint inside the VPC (botocore ec2 CreateVpcEndpointRequest.PrivateDnsEnabled),
  so a VPC can hold only one such endpoint per service; a second answers ``InvalidParameter`` ("... conflicting DNS
  domain ..."). So does one in a VPC already associated with a private hosted zone of that name, since a VPC takes
  one private hosted zone per name (botocore route53 ConflictingDomainExists); the zone is looked up in moto's
  Route 53. Private DNS needs the VPC's ``enableDnsSupport`` and ``enableDnsHostnames`` attributes (the same
  shape's documentation; a VPC made with CreateVpc has the second off, as moto's has): without both, EC2 answers
  ``InvalidParameter``; its exact text is not documented, the message here has its shape.
- **DnsEntries**: a regional name ``vpce-<id>-<suffix>.runtime.sagemaker.<region>.vpce.amazonaws.com``, one zonal
  name per subnet's availability zone (following ModifyVpcEndpoint's subnets), and the private host name when
  private DNS is on.
- **States**: an endpoint is ``pending`` after CreateVpcEndpoint before it is ``available``, and ``deleting`` after
  DeleteVpcEndpoints before it is ``deleted`` (botocore ec2 VpcEndpoint.State); for how long is
  :data:`TRANSITIONS`' to say (at once by default; AWS documents no duration). While pending or deleting, an endpoint
  with private DNS still holds the service's name in the VPC.
- **One subnet per Availability Zone**: an interface endpoint has at most one subnet in each zone; a request that
  would give it two (in CreateVpcEndpoint's SubnetIds, or ModifyVpcEndpoint's AddSubnetIds next to the subnets it
  has) answers ``DuplicateSubnetsInSameZone`` (EC2's error codes,
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html, and "one subnet per Availability
  Zone" in https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html). The message is the
  shape EC2 answers with ("Found another VPC endpoint subnet in the availability zone of <subnet>").
- **DeleteVpcEndpoints answers 200 with an ``Unsuccessful`` list** (botocore ec2 DeleteVpcEndpointsResult.Unsuccessful)
  for the endpoints it did not delete: an id that does not exist is listed with ``InvalidVpcEndpoint.NotFound``
  (EC2's error codes: "If you are performing a bulk request that is partially successful or unsuccessful, the
  response includes a list of the unsuccessful items"), where moto ignored it; and :func:`refuse_next_deletion`
  makes the next deletion of one endpoint unsuccessful with the error a test gives (EC2 documents no list of the
  reasons).
- **Tags**: at most 50 per resource (moto counts them already: ``TagLimitExceeded``), keys of at most 127
  characters and values of at most 256 (botocore ec2 Tag.Key, botocore ec2 Tag.Value; the 50 in
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html), checked here on CreateTags and on the
  TagSpecifications of CreateVpcEndpoint, before anything is made. EC2's message for a long key or value is not
  documented: the code is ``InvalidParameterValue`` and the message says which tag and which limit.

The VPC, subnets and security groups must exist, as in EC2: moto checks the first two on CreateVpcEndpoint; the
groups are checked here, and so are the subnets ModifyVpcEndpoint adds (``InvalidSubnetID.NotFound``, moto's
message). DescribeSubnets names the subnet that does not exist (moto names any of the requested ones).
DescribeVpcEndpoints with filters, DeleteVpcEndpoints (the endpoint stays visible as ``deleted``, one of the states
of botocore ec2 VpcEndpoint.State), CreateTags/DeleteTags are moto's and already answer in EC2's shapes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError, InvalidSecurityGroupNotFoundError
from moto.ec2.models import ec2_backends
from moto.ec2.models.subnets import SubnetBackend
from moto.ec2.models.tags import TagBackend
from moto.ec2.models.vpcs import VPCBackend, VPCEndPoint
from moto.ec2.responses.vpcs import VPCs
from moto.ec2.utils import random_resource_id
from moto.route53.models import route53_backends

PARTITION = "aws"  # moto keeps Route 53, a global service, under its partition's name


@dataclass
class Transitions:
    """How long an interface endpoint stays ``pending`` after its creation and ``deleting`` after its deletion."""

    pending_seconds: float = 0.0
    deleting_seconds: float = 0.0


# Process-wide, as moto's backends are; a test that changes it puts it back (monkeypatch.setattr).
TRANSITIONS = Transitions()
_STATE = "lowlatency_state"  # the state moto set, and when: the one DescribeVpcEndpoints shows follows from it


def _state(endpoint: Any) -> str:
    settled, since = endpoint.__dict__.get(_STATE, ("available", 0.0))
    elapsed = time.time() - since
    if settled == "available" and elapsed < TRANSITIONS.pending_seconds:
        return "pending"
    if settled == "deleted" and elapsed < TRANSITIONS.deleting_seconds:
        return "deleting"
    return str(settled)


def _set_state(endpoint: Any, state: str) -> None:
    if endpoint.__dict__.get(_STATE, (None,))[0] != state:  # deleting a deleted endpoint again changes nothing
        endpoint.__dict__[_STATE] = (state, time.time())


def extend_moto() -> None:
    """Wrap moto's CreateVpcEndpoint with EC2's idempotency, private DNS rule and DNS names, both it and
    ModifyVpcEndpoint with EC2's checks of subnets (they exist, one per zone) and security groups, DescribeSubnets
    with the name of the missing subnet, DeleteVpcEndpoints with its Unsuccessful list, tagging with EC2's length
    limits, and an endpoint's state with its pending and deleting stages (once per process)."""
    create = VPCBackend.create_vpc_endpoint
    modify = VPCBackend.modify_vpc_endpoint
    describe_subnets = SubnetBackend.describe_subnets
    delete = VPCBackend.delete_vpc_endpoints
    create_tags = TagBackend.create_tags

    def create_vpc_endpoint(backend: Any, **request: Any) -> Any:
        existing = _by_client_token(backend, request)
        if existing is not None:
            return existing
        _refuse_long_tags(request.get("tags") or {})
        _require_security_groups(backend, request.get("security_group_ids"))
        interface = str(request.get("endpoint_type") or "").lower() == "interface"
        if interface:
            _refuse_two_subnets_in_a_zone(backend, [], request.get("subnet_ids") or [])
        if interface and request.get("private_dns_enabled"):
            _require_dns_attributes(backend, str(request.get("vpc_id")))
            _refuse_conflicting_private_dns(backend, request)
        endpoint = create(backend, **request)
        setattr(endpoint, _REQUEST_SIGNATURE, _signature(request))
        if interface:
            endpoint.dns_entries = _dns_entries(backend, endpoint)
        return endpoint

    def modify_vpc_endpoint(backend: Any, **request: Any) -> None:
        endpoint = backend.get_vpc_end_point(request["vpc_id"])  # moto names the endpoint id "vpc_id" here
        _require_security_groups(backend, request.get("add_security_groups"))
        if str(endpoint.vpc_endpoint_type or "").lower() == "interface":
            staying = [s for s in endpoint.subnet_ids or [] if s not in (request.get("remove_subnets") or [])]
            added = [s for s in request.get("add_subnets") or [] if s not in staying]
            _refuse_two_subnets_in_a_zone(backend, staying, added)
        modify(backend, **request)
        if str(endpoint.vpc_endpoint_type or "").lower() == "interface":
            endpoint.dns_entries = _dns_entries(backend, endpoint)

    def describe_subnets_naming_the_missing(
        backend: Any, subnet_ids: list[str] | None = None, filters: Any | None = None
    ) -> Any:
        for subnet_id in subnet_ids or []:
            backend.get_subnet(subnet_id)  # raises InvalidSubnetID.NotFound naming it
        return describe_subnets(backend, subnet_ids=subnet_ids, filters=filters)

    def delete_vpc_endpoints_listing_failures(backend: Any, vpce_ids: list[str] | None = None) -> list[Any]:
        unsuccessful = []
        for endpoint_id in vpce_ids or []:
            endpoint = backend.vpc_end_points.get(endpoint_id)
            refusal = getattr(endpoint, _REFUSED_DELETION, None) if endpoint is not None else None
            if endpoint is None:
                refusal = ("InvalidVpcEndpoint.NotFound", f"The VPC endpoint '{endpoint_id}' does not exist")
            if refusal is None:
                delete(backend, vpce_ids=[endpoint_id])
                continue
            if endpoint is not None:
                delattr(endpoint, _REFUSED_DELETION)
            code, message = refusal
            unsuccessful.append({"Error": {"Code": code, "Message": message}, "ResourceId": endpoint_id})
        return unsuccessful

    def answer_delete_vpc_endpoints(response: Any) -> ActionResult:
        ids = response._get_param("VpcEndpointIds", [])
        return ActionResult({"Unsuccessful": response.ec2_backend.delete_vpc_endpoints(vpce_ids=ids)})

    def create_tags_within_limits(backend: Any, resource_ids: list[str], tags: dict[str, str]) -> bool:
        _refuse_long_tags(tags)
        return create_tags(backend, resource_ids, tags)

    VPCEndPoint.state = property(_state, _set_state)  # type: ignore[assignment]
    VPCBackend.create_vpc_endpoint = create_vpc_endpoint  # type: ignore[method-assign,assignment]
    VPCBackend.delete_vpc_endpoints = delete_vpc_endpoints_listing_failures  # type: ignore[method-assign,assignment]
    VPCs.delete_vpc_endpoints = answer_delete_vpc_endpoints  # type: ignore[method-assign,assignment]
    TagBackend.create_tags = create_tags_within_limits  # type: ignore[method-assign,assignment]
    VPCBackend.modify_vpc_endpoint = modify_vpc_endpoint  # type: ignore[method-assign,assignment]
    SubnetBackend.describe_subnets = describe_subnets_naming_the_missing  # type: ignore[method-assign,assignment]


def _require_security_groups(backend: Any, group_ids: list[str] | None) -> None:
    for group_id in group_ids or []:
        if backend.get_security_group_from_id(group_id) is None:
            raise InvalidSecurityGroupNotFoundError(group_id)


# A deletion a test made unsuccessful, kept on moto's endpoint object (moto's reset forgets it with the endpoint).
_REFUSED_DELETION = "lowlatency_refused_deletion"


def refuse_next_deletion(endpoint_id: str, code: str, message: str) -> None:
    """The next DeleteVpcEndpoints of this endpoint lists it as ``Unsuccessful`` with this error, and leaves it."""
    for regions in ec2_backends.values():
        for backend in regions.values():
            endpoint = backend.vpc_end_points.get(endpoint_id)
            if endpoint is not None:
                setattr(endpoint, _REFUSED_DELETION, (code, message))
                return
    raise KeyError(f"no VPC endpoint {endpoint_id}")


TAG_KEY_LENGTH, TAG_VALUE_LENGTH = 127, 256


def _refuse_long_tags(tags: dict[str, str]) -> None:
    for key, value in tags.items():
        if len(key) > TAG_KEY_LENGTH:
            raise EC2ClientError(
                "InvalidParameterValue", f"Tag key {key[:32]!r}... is longer than {TAG_KEY_LENGTH} characters"
            )
        if value is not None and len(value) > TAG_VALUE_LENGTH:
            raise EC2ClientError(
                "InvalidParameterValue", f"Tag value of key {key!r} is longer than {TAG_VALUE_LENGTH} characters"
            )


def _refuse_two_subnets_in_a_zone(backend: Any, present: list[str], added: list[str]) -> None:
    """EC2's one subnet per Availability Zone of an interface endpoint; every added subnet must exist."""
    zones = {backend.get_subnet(subnet_id).availability_zone: subnet_id for subnet_id in present}
    for subnet_id in added:
        zone = backend.get_subnet(subnet_id).availability_zone  # InvalidSubnetID.NotFound when it does not exist
        if zone in zones:
            raise EC2ClientError(
                "DuplicateSubnetsInSameZone",
                f"Found another VPC endpoint subnet in the availability zone of {zones[zone]}",
            )
        zones[zone] = subnet_id


# The parameters an idempotent repeat must match, kept on moto's endpoint object as they were first requested
# (the endpoint itself may have changed since, by ModifyVpcEndpoint).
_REQUEST_SIGNATURE = "lowlatency_request_signature"


def _signature(request: dict[str, Any]) -> tuple[Any, ...]:
    return (
        request.get("vpc_id"),
        request.get("service_name"),
        str(request.get("endpoint_type") or "").lower(),
        frozenset(request.get("subnet_ids") or []),
        frozenset(request.get("security_group_ids") or []),
        bool(request.get("private_dns_enabled")),
    )


def _by_client_token(backend: Any, request: dict[str, Any]) -> Any:
    token = request.get("client_token")
    if not token:
        return None
    for endpoint in backend.vpc_end_points.values():
        if endpoint.client_token == token:
            if getattr(endpoint, _REQUEST_SIGNATURE, None) != _signature(request):
                raise EC2ClientError(
                    "IdempotentParameterMismatch",
                    "The client token you have provided is associated with a resource that has different parameters.",
                )
            return endpoint
    return None


def private_host(service_name: str) -> str:
    """``com.amazonaws.us-east-1.sagemaker.runtime`` → ``runtime.sagemaker.us-east-1.amazonaws.com``."""
    _, _, region, *service = service_name.split(".")
    return ".".join([*reversed(service), region, "amazonaws.com"])


def _require_dns_attributes(backend: Any, vpc_id: str) -> None:
    vpc = backend.get_vpc(vpc_id)  # InvalidVpcID.NotFound first, as EC2 checks the VPC before its attributes
    if not (_true(vpc.enable_dns_support) and _true(vpc.enable_dns_hostnames)):
        raise EC2ClientError(
            "InvalidParameter",
            "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true "
            f"for {vpc_id}",
        )


def _true(attribute: Any) -> bool:
    """moto keeps a VPC attribute as it was given: a bool when it made the VPC, the query's text once modified."""
    return attribute is True or str(attribute).lower() == "true"


def _refuse_conflicting_private_dns(backend: Any, request: dict[str, Any]) -> None:
    """The service's host name is already resolved in the VPC: by an endpoint with private DNS, or by a private
    hosted zone of that name associated with the VPC (in moto's Route 53)."""
    vpc_id, host = request.get("vpc_id"), private_host(str(request.get("service_name")))
    endpoints = any(
        endpoint.vpc_id == vpc_id
        and endpoint.service_name == request.get("service_name")
        and endpoint.private_dns_enabled
        and endpoint.state not in {"deleted", "failed", "rejected"}
        for endpoint in backend.vpc_end_points.values()
    )
    zones = any(
        zone.private_zone and zone.name.rstrip(".") == host and any(vpc.get("vpc_id") == vpc_id for vpc in zone.vpcs)
        for zone in route53_backends[backend.account_id][PARTITION].zones.values()
    )
    if endpoints or zones:
        raise EC2ClientError(
            "InvalidParameter",
            f"private-dns-enabled cannot be set because there is already a conflicting DNS domain for {host} in the "
            f"VPC {vpc_id}",
        )


# The random parts of an endpoint's DNS names, drawn once: its names keep them when its subnets change.
_DNS_SUFFIX, _HOSTED_ZONES = "lowlatency_dns_suffix", "lowlatency_hosted_zones"


def _dns_entries(backend: Any, endpoint: Any) -> list[dict[str, str]]:
    """EC2's names of an interface endpoint: regional, one per zone of its subnets (kept up to date as subnets are
    added), and the private host name."""
    host = private_host(endpoint.service_name)
    service_part, _, region_part = host.rpartition(".amazonaws.com")[0].rpartition(".")
    if not hasattr(endpoint, _DNS_SUFFIX):
        setattr(endpoint, _DNS_SUFFIX, random_resource_id(8))
        setattr(endpoint, _HOSTED_ZONES, (random_resource_id(13).upper(), random_resource_id(13).upper()))
    base = f"{endpoint.id}-{getattr(endpoint, _DNS_SUFFIX)}"
    vpce_domain = f"{service_part}.{region_part}.vpce.amazonaws.com"
    regional_zone, private_zone = getattr(endpoint, _HOSTED_ZONES)
    entries = [{"dns_name": f"{base}.{vpce_domain}", "hosted_zone_id": regional_zone}]
    zones = sorted({backend.get_subnet(subnet_id).availability_zone for subnet_id in endpoint.subnet_ids or []})
    entries += [{"dns_name": f"{base}-{zone}.{vpce_domain}", "hosted_zone_id": regional_zone} for zone in zones]
    if endpoint.private_dns_enabled:
        entries.append({"dns_name": host, "hosted_zone_id": private_zone})
    return entries
