"""The interface VPC endpoint for the SageMaker Runtime, shared by every `LowLatencyEndpoint` in one VPC.

A VPC holds at most one usable interface endpoint per service with private DNS (the regional runtime host name
resolves to it inside the VPC), so resources in the same VPC share one.

Who uses it is read from the cluster, not written to AWS: the users of a VPC's endpoint are the LowLatencyEndpoints
of this operator installation whose ``spec.vpcEndpoint`` names the VPC and that are not being deleted. EC2 allows
50 tags per resource and 256 characters per value (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html,
botocore ec2 CreateTags), so the endpoint carries a bounded set of tags however many resources share it:

- ``lowlatency.io/managed-by``: the operator created it. One it found is used as it is, never changed or deleted;
- ``lowlatency.io/installation/<cluster>-<scope>``: one per operator installation that uses it (a digest of the
  cluster's kube-system namespace uid, and one of the namespaces the installation watches; the value names them),
  so that two clusters, or two installations of one cluster, sharing a VPC do not delete each other's endpoint;
- ``lowlatency.io/retained``: a user with ``deletionPolicy: Retain`` left it in place; it is never deleted.

Letting go: when an installation has no user of a VPC left, it removes its installation tag from the endpoint, then
deletes the endpoint if no other installation's tag remains (read again just before). Within one operator process
each VPC's endpoint is used and let go of under one lock, and the cluster is read after the lock is taken: a release
sees every resource created before it, and a resource created after it waits and creates the endpoint anew. Across
processes (replicas hand over, two clusters), a resource that joined an endpoint being deleted in the same instant
finds it gone at its next look (a resource looks at the VPC on every pass until it is live, and at every audit) and
creates it again.

At most one endpoint per VPC: creation carries a client token every creator derives alike, so that concurrent or
repeated attempts yield one endpoint; should two of this installation's endpoints exist in a VPC all the same (EC2
listed a deleted endpoint to one creator and not to another), the oldest is used and the others are deleted.
"""

from __future__ import annotations

import datetime
import hashlib
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

import botocore.exceptions

from lowlatency.api import VpcEndpointSpec
from lowlatency.aws import AwsError, ErrorKind, aws_call
from lowlatency.desired import MANAGER, TAG_MANAGED_BY, TAG_PREFIX, TAG_RETAINED, Owner

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import FilterTypeDef, TagTypeDef, VpcEndpointTypeDef

INSTALLATION_TAG_PREFIX = f"{TAG_PREFIX}installation/"
_GONE_STATES = {"deleting", "deleted", "failed", "rejected", "expired"}
# Creations answered with a deleted endpoint (a token EC2 still remembers) before the pass gives up and retries.
MAX_CREATE_ATTEMPTS = 5
# Private DNS conflicts in a row, with no runtime endpoint in the VPC to join, before the conflict is the user's to
# resolve: a few, since EC2 may not list the winner of a race at once.
MAX_DNS_CONFLICTS = 3
# EC2's answer to a creation that another creator's finished first with the same token and other subnets or groups.
_LOST_RACE = "IdempotentParameterMismatch"
# EC2's answer to a second endpoint with private DNS for the service in the VPC.
_DNS_CONFLICT = ("InvalidParameter", "conflicting DNS domain")
# EC2's refusal of private DNS in a VPC without enableDnsSupport and enableDnsHostnames (botocore ec2
# CreateVpcEndpointRequest.PrivateDnsEnabled names both).
_DNS_ATTRIBUTES = "enableDnsHostnames"
# The endpoint itself is gone (deleted meanwhile): the next pass looks again, unlike a missing subnet or group.
_ENDPOINT_NOT_FOUND = "InvalidVpcEndpointId.NotFound"
_TAG_VALUE_LENGTH = 256  # EC2's limit
T = TypeVar("T")


def runtime_service(region: str) -> str:
    return f"com.amazonaws.{region}.sagemaker.runtime"


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


@dataclass(frozen=True)
class Installation:
    """One installation of the operator: the cluster it runs in (its kube-system namespace's uid, which lives as long
    as the cluster) and the namespaces it watches (none: all of them)."""

    cluster_uid: str
    namespaces: tuple[str, ...] = ()

    @property
    def cluster_prefix(self) -> str:
        """What the tags of every installation in this cluster begin with."""
        return f"{INSTALLATION_TAG_PREFIX}{_digest(self.cluster_uid, 12)}-"

    @property
    def tag(self) -> str:
        return f"{self.cluster_prefix}{_digest(','.join(sorted(self.namespaces)) or '*', 8)}"

    @property
    def description(self) -> str:
        """The tag's value, for people reading the endpoint's tags."""
        watched = ", ".join(sorted(self.namespaces)) or "all namespaces"
        return f"lowlatency-operator watching {watched}"[:_TAG_VALUE_LENGTH]


class ClusterUnreadable(Exception):
    """The cluster could not be asked who uses a VPC (no permission, API server unreachable)."""

    def __init__(self, operation: str, reason: str) -> None:
        super().__init__(f"{operation} failed: {reason}")
        self.operation = operation
        self.reason = reason


class Cluster(Protocol):
    """What the operator asks its cluster about VPC endpoints (:class:`lowlatency.cluster.ClusterVpcUsers`)."""

    def installation(self) -> Installation: ...

    def user_of(self, vpc_id: str, besides: Owner) -> str | None:
        """``namespace/name`` of a resource of this installation other than ``besides`` whose spec names the VPC and
        that is not being deleted; None when there is none. Raises :class:`ClusterUnreadable`."""
        ...


@dataclass(frozen=True)
class ObservedVpcEndpoint:
    id: str
    vpc_id: str
    subnet_ids: frozenset[str]
    security_group_ids: frozenset[str]
    dns_names: tuple[str, ...]
    tags: dict[str, str]
    created: datetime.datetime | None = None

    @property
    def managed(self) -> bool:
        return self.tags.get(TAG_MANAGED_BY) == MANAGER

    @property
    def retained(self) -> bool:
        return TAG_RETAINED in self.tags

    @property
    def installations(self) -> set[str]:
        return {key for key in self.tags if key.startswith(INSTALLATION_TAG_PREFIX)}

    def used_by(self, installation: Installation) -> bool:
        """Made by the operator, not retained, and used by this installation (or by none: see :meth:`belongs_to`)."""
        return self.managed and not self.retained and (installation.tag in self.installations or not self.installations)

    def belongs_to(self, installation: Installation) -> bool:
        """Made by the operator and not in use by another installation as far as its tags tell (an endpoint whose
        last installation tag was removed by a release that did not get to delete it belongs to whoever finds it)."""
        return self.managed and not self.retained and self.installations <= {installation.tag}


@dataclass(frozen=True)
class CreateVpcEndpoint:
    spec: VpcEndpointSpec
    service: str
    installation: Installation


@dataclass(frozen=True)
class TagVpcEndpoint:
    id: str
    key: str
    value: str


@dataclass(frozen=True)
class ExtendVpcEndpoint:
    """Add subnets or security groups a user needs; never remove any (other users may rely on them)."""

    id: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]


@dataclass(frozen=True)
class UntagVpcEndpoint:
    id: str
    key: str


@dataclass(frozen=True)
class DeleteVpcEndpoint:
    id: str


VpcAction = CreateVpcEndpoint | TagVpcEndpoint | ExtendVpcEndpoint | UntagVpcEndpoint | DeleteVpcEndpoint


# --- planning (pure) -------------------------------------------------------------------------------------------


def choose(
    usable: Iterable[ObservedVpcEndpoint], installation: Installation
) -> tuple[ObservedVpcEndpoint | None, list[ObservedVpcEndpoint]]:
    """The VPC's endpoint to use, and this installation's surplus ones to delete.

    One the operator manages comes first (every installation converges on the same), the oldest of them; without
    one, a foreign endpoint is used as it is."""
    ordered = sorted(
        usable,
        key=lambda e: (not e.managed, e.created or datetime.datetime.max.replace(tzinfo=datetime.UTC), e.id),
    )
    if not ordered:
        return None, []
    chosen = ordered[0]
    surplus = [endpoint for endpoint in ordered[1:] if chosen.managed and endpoint.belongs_to(installation)]
    return chosen, surplus


def plan_use(
    spec: VpcEndpointSpec,
    chosen: ObservedVpcEndpoint,
    installation: Installation,
    zones: Mapping[str, str] | None = None,
) -> list[VpcAction]:
    """Join the VPC's endpoint: this installation's tag, the spec's subnets in zones it does not cover, its groups.

    ``zones`` maps the subnets of the endpoint and of the spec to their Availability Zones (see
    :func:`subnet_zones`); it is needed only when :func:`needs_zones`."""
    if not chosen.managed:
        return []
    actions: list[VpcAction] = []
    if installation.tag not in chosen.tags:
        actions.append(TagVpcEndpoint(chosen.id, installation.tag, installation.description))
    missing_subnets = uncovered_subnets(spec, chosen, zones or {})
    missing_groups = tuple(sorted(set(spec.security_group_ids) - chosen.security_group_ids))
    if missing_subnets or missing_groups:
        actions.append(ExtendVpcEndpoint(chosen.id, missing_subnets, missing_groups))
    return actions


def needs_zones(spec: VpcEndpointSpec, chosen: ObservedVpcEndpoint) -> bool:
    """Whether planning must know the subnets' zones: the spec names a subnet the shared endpoint lacks."""
    return chosen.managed and not set(spec.subnet_ids) <= chosen.subnet_ids


def uncovered_subnets(
    spec: VpcEndpointSpec, observed: ObservedVpcEndpoint, zones: Mapping[str, str]
) -> tuple[str, ...]:
    """The spec's subnets in Availability Zones where the endpoint has no subnet yet.

    EC2 gives an interface endpoint one subnet per zone (``DuplicateSubnetsInSameZone``): a user whose subnet is in
    a zone the endpoint covers reaches the endpoint's interface in that zone through the VPC's local route. Two
    subnets of the spec in one uncovered zone are both asked for, and EC2's refusal names the spec's mistake."""
    missing = set(spec.subnet_ids) - observed.subnet_ids
    if not missing:
        return ()
    covered = {zones[subnet] for subnet in observed.subnet_ids}
    return tuple(sorted(subnet for subnet in missing if zones[subnet] not in covered))


def release(observed: ObservedVpcEndpoint, installation: Installation) -> list[VpcAction]:
    """This installation stops using the endpoint: its tag goes. Whether the endpoint goes too is decided on a fresh
    look afterwards (:func:`deletable`), since another installation may have joined meanwhile."""
    return [UntagVpcEndpoint(observed.id, installation.tag)] if installation.tag in observed.tags else []


def deletable(observed: ObservedVpcEndpoint) -> bool:
    """Made by the operator, not retained, and no installation uses it."""
    return observed.managed and not observed.retained and not observed.installations


# --- observing and changing EC2 --------------------------------------------------------------------------------


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


def find(
    ec2: EC2Client, region: str, *, vpc_id: str | None = None, endpoint_id: str | None = None
) -> list[ObservedVpcEndpoint]:
    """The usable runtime endpoints of a VPC, or the one with a known id if it is usable."""
    return [
        observe(endpoint)
        for endpoint in _runtime_endpoints(ec2, runtime_service(region), vpc_id, endpoint_id)
        if not gone(endpoint)
    ]


def observe(endpoint: VpcEndpointTypeDef) -> ObservedVpcEndpoint:
    return ObservedVpcEndpoint(
        id=endpoint["VpcEndpointId"],
        vpc_id=endpoint.get("VpcId", ""),
        subnet_ids=frozenset(endpoint.get("SubnetIds", [])),
        security_group_ids=frozenset(group["GroupId"] for group in endpoint.get("Groups", [])),
        dns_names=tuple(entry["DnsName"] for entry in endpoint.get("DnsEntries", []) if "DnsName" in entry),
        tags={tag["Key"]: tag["Value"] for tag in endpoint.get("Tags", [])},
        created=endpoint.get("CreationTimestamp"),
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


def gone(endpoint: VpcEndpointTypeDef) -> bool:
    return endpoint.get("State", "").lower() in _GONE_STATES


def _create(ec2: EC2Client, action: CreateVpcEndpoint) -> None:
    """Create the VPC's runtime endpoint with a client token that every creator derives alike from what EC2 shows,
    so that concurrent or repeated attempts (two resources at once, a retry after a crash) yield one endpoint.

    EC2 answers a repeated token with the endpoint it first made, even after that was deleted; so the token covers
    the endpoints of this VPC and service that are gone, and a creation after the last user deleted the
    endpoint makes a new one. EC2 may stop listing a deleted endpoint while still remembering its token: a creation
    that answers with a gone endpoint counts it among the gone ones and is made again with the token that follows.
    """
    spec = action.spec
    gone_ids = {
        endpoint["VpcEndpointId"] for endpoint in _runtime_endpoints(ec2, action.service, spec.vpc_id) if gone(endpoint)
    }
    for _ in range(MAX_CREATE_ATTEMPTS):
        token = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"lowlatency.io/{spec.vpc_id}/{action.service}/{','.join(sorted(gone_ids))}")
        )
        tags: list[TagTypeDef] = [
            {"Key": TAG_MANAGED_BY, "Value": MANAGER},
            {"Key": action.installation.tag, "Value": action.installation.description},
        ]
        with aws_call("ec2:CreateVpcEndpoint"):
            created = ec2.create_vpc_endpoint(
                VpcEndpointType="Interface",
                VpcId=spec.vpc_id,
                ServiceName=action.service,
                SubnetIds=list(spec.subnet_ids),
                SecurityGroupIds=list(spec.security_group_ids),
                PrivateDnsEnabled=spec.private_dns,
                ClientToken=token,
                TagSpecifications=[{"ResourceType": "vpc-endpoint", "Tags": tags}],
            )["VpcEndpoint"]
        if not gone(created):
            return
        gone_ids.add(created["VpcEndpointId"])
    raise AwsError(
        "ec2:CreateVpcEndpoint",
        ErrorKind.TRANSIENT,
        "StaleClientToken",
        f"EC2 answered {MAX_CREATE_ATTEMPTS} creations with deleted endpoints ({', '.join(sorted(gone_ids))})",
    )


def apply(ec2: EC2Client, action: VpcAction) -> None:
    match action:
        case CreateVpcEndpoint():
            _create(ec2, action)
        case TagVpcEndpoint(id=endpoint_id, key=key, value=value):
            with aws_call("ec2:CreateTags"):
                ec2.create_tags(Resources=[endpoint_id], Tags=[{"Key": key, "Value": value}])
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
        case UntagVpcEndpoint(id=endpoint_id, key=key):
            with aws_call("ec2:DeleteTags"):
                ec2.delete_tags(Resources=[endpoint_id], Tags=[{"Key": key}])
        case DeleteVpcEndpoint(id=endpoint_id):
            try:
                _delete(ec2, endpoint_id)
            except AwsError as error:
                if error.kind is not ErrorKind.NOT_FOUND:
                    raise


def _delete(ec2: EC2Client, endpoint_id: str) -> None:
    """DeleteVpcEndpoints answers 200 and lists the endpoints it did not delete, each with its error (botocore ec2
    DeleteVpcEndpointsResult.Unsuccessful): one listed is still there, and billed; its error is classified as if
    the call had failed with it."""
    with aws_call("ec2:DeleteVpcEndpoints"):
        unsuccessful = ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id]).get("Unsuccessful", [])
        for item in unsuccessful:
            error = item.get("Error", {})
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": error.get("Code", ""), "Message": error.get("Message", "")}}, "DeleteVpcEndpoints"
            )


# --- sharing, as one operator process does it -------------------------------------------------------------------


class VpcEndpoints:
    """The runtime VPC endpoints as one operator process uses and lets go of them: the cluster that says who uses a
    VPC, and one lock per VPC (see the module's docstring for why)."""

    def __init__(self, cluster: Cluster | None = None) -> None:
        self._cluster = cluster
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_lock = threading.Lock()
        # Per VPC: private DNS conflicts in a row with no runtime endpoint to join (held under the VPC's lock).
        self._unexplained_conflicts: dict[tuple[str, str], int] = {}

    def use(self, ec2: EC2Client, region: str, spec: VpcEndpointSpec) -> ObservedVpcEndpoint | None:
        """Make the VPC's runtime endpoint serve the spec (created, or joined); the endpoint, once EC2 lists it."""
        installation = self.installation()
        with self._vpc_lock(region, spec.vpc_id):
            chosen, surplus = choose(find(ec2, region, vpc_id=spec.vpc_id), installation)
            if chosen is None:
                self._create(ec2, region, CreateVpcEndpoint(spec, runtime_service(region), installation))
                return choose(find(ec2, region, vpc_id=spec.vpc_id), installation)[0]
            self._unexplained_conflicts.pop((region, spec.vpc_id), None)
            zones = subnet_zones(ec2, [*spec.subnet_ids, *chosen.subnet_ids]) if needs_zones(spec, chosen) else {}
            actions = plan_use(spec, chosen, installation, zones) + [DeleteVpcEndpoint(e.id) for e in surplus]
            for action in actions:
                apply(ec2, action)
            if not actions:
                return chosen
            changed = find(ec2, region, endpoint_id=chosen.id)  # its DNS names follow its subnets' zones
            return changed[0] if changed else None

    def leave(self, ec2: EC2Client, region: str, vpc_id: str, owner: Owner) -> None:
        """``owner`` no longer uses the VPC's endpoint: if no other resource of this installation does, this
        installation lets go of it, and the endpoint is deleted when no installation uses it."""
        installation = self.installation()
        with self._vpc_lock(region, vpc_id):
            ours = [e for e in find(ec2, region, vpc_id=vpc_id) if e.used_by(installation)]
            if not ours or self._user_of(vpc_id, owner) is not None:
                return
            for endpoint in ours:
                for action in release(endpoint, installation):
                    apply(ec2, action)
                if any(deletable(fresh) for fresh in find(ec2, region, endpoint_id=endpoint.id)):
                    apply(ec2, DeleteVpcEndpoint(endpoint.id))

    def retain(self, ec2: EC2Client, region: str, vpc_id: str) -> None:
        """A user with ``deletionPolicy: Retain`` leaves: the endpoint it used stays, and the operator never deletes
        it (its retained SageMaker endpoint may still be called through it)."""
        installation = self.installation()
        with self._vpc_lock(region, vpc_id):
            for endpoint in find(ec2, region, vpc_id=vpc_id):
                if endpoint.used_by(installation):
                    apply(ec2, TagVpcEndpoint(endpoint.id, TAG_RETAINED, "true"))

    def vpc_of(self, ec2: EC2Client, region: str, endpoint_id: str) -> str | None:
        """The VPC of a runtime endpoint known by its id (in any state, as long as EC2 lists it)."""
        listed = _runtime_endpoints(ec2, runtime_service(region), None, endpoint_id)
        return listed[0].get("VpcId") if listed else None

    def installation(self) -> Installation:
        return self._ask_cluster(lambda cluster: cluster.installation())

    def _user_of(self, vpc_id: str, owner: Owner) -> str | None:
        return self._ask_cluster(lambda cluster: cluster.user_of(vpc_id, owner))

    def _ask_cluster(self, question: Callable[[Cluster], T]) -> T:
        """The cluster's answer; :class:`ClusterUnreadable` (which the reconciler reports and retries) without one."""
        if self._cluster is None:
            raise ClusterUnreadable(
                "ListLowLatencyEndpoints",
                "VPC endpoints are shared by the resources of a cluster, and this operator was given none",
            )
        return question(self._cluster)

    def _create(self, ec2: EC2Client, region: str, action: CreateVpcEndpoint) -> None:
        try:
            apply(ec2, action)
            self._unexplained_conflicts.pop((region, action.spec.vpc_id), None)
        except AwsError as error:
            code, text = _DNS_CONFLICT
            if error.code == code and text in error.aws_message:
                raise self._dns_conflict(ec2, region, action.spec, error) from error
            if error.code == _LOST_RACE:
                # Another resource of this VPC created it in the same moment: the next pass finds and uses it.
                raise AwsError(error.action, ErrorKind.TRANSIENT, error.code, error.aws_message) from error
            if error.code == code and _DNS_ATTRIBUTES in error.aws_message:
                remedy = (
                    f"{error.aws_message} (set both attributes of {action.spec.vpc_id} to true, or "
                    "spec.vpcEndpoint.privateDns to false)"
                )
                raise AwsError(error.action, ErrorKind.PERMANENT, error.code, remedy) from error
            raise

    def _dns_conflict(self, ec2: EC2Client, region: str, spec: VpcEndpointSpec, error: AwsError) -> AwsError:
        """What EC2's "conflicting DNS domain" means: another creator's endpoint, which the next pass joins, or one
        still deleting, which holds the name until it is gone, as long as one is listed; after a few in a row with
        none, the name is held by something that is not a runtime endpoint the operator can see, which only the
        user can remove (not retried for the generation)."""
        key = (region, spec.vpc_id)
        states = {
            endpoint.get("State", "").lower()
            for endpoint in _runtime_endpoints(ec2, runtime_service(region), spec.vpc_id)
        }
        if states - _GONE_STATES or "deleting" in states:
            # One to join, or one on its way out that may hold the name until it is gone: look again later.
            self._unexplained_conflicts.pop(key, None)
            return AwsError(error.action, ErrorKind.TRANSIENT, error.code, error.aws_message)
        conflicts = self._unexplained_conflicts[key] = self._unexplained_conflicts.get(key, 0) + 1
        if conflicts < MAX_DNS_CONFLICTS:
            return AwsError(error.action, ErrorKind.TRANSIENT, error.code, error.aws_message)
        del self._unexplained_conflicts[key]
        explained = (
            f"{error.aws_message}; after {conflicts} attempts no SageMaker Runtime endpoint of {spec.vpc_id} is there "
            "to share: the name is held by a private hosted zone associated with the VPC, or by an endpoint with "
            "private DNS the operator cannot list (another account's, in a shared VPC). Remove it, or set "
            "spec.vpcEndpoint.privateDns to false"
        )
        return AwsError(error.action, ErrorKind.PERMANENT, error.code, explained)

    @contextmanager
    def _vpc_lock(self, region: str, vpc_id: str) -> Iterator[None]:
        with self._locks_lock:
            lock = self._locks.setdefault((region, vpc_id), threading.Lock())
        with lock:
            yield
