"""AWS resources the operator made for Kubernetes objects that no longer exist: found by their owner tags.

An orphan is left when a `LowLatencyEndpoint` disappears without its finalizer running (the finalizer was removed
by hand, the namespace was force-deleted, the CRD was deleted) or when a crash came between a create and the
status write that would have recorded it. Every resource the operator creates carries its owner's uid in tags, so an
owner-tagged resource whose uid matches no object in the cluster is an orphan:

- SageMaker endpoints, endpoint configs and models tagged ``lowlatency.io/managed-by``;
- Application Auto Scaling targets of those endpoints' variants (targets carry no tags: they belong to their
  endpoint);
- shared runtime VPC endpoints the operator created, which have no owner but their users: one is an orphan when no
  LowLatencyEndpoint of the cluster names its VPC any more while it still carries one of this cluster's
  installation tags (or none at all). Deleting it removes this cluster's tags, then the endpoint unless another
  installation's tag remains (see :mod:`lowlatency.vpc`).

Resources left on purpose (``deletionPolicy: Retain`` tags them ``lowlatency.io/retained``) are not orphans unless
asked for. Only the owner tags decide: a resource without them is never listed, so never deleted. The SageMaker tags
do not name the cluster: with several clusters' operators in one AWS account and region, resources of the others'
objects are listed too (the owner column says whose they are), so read the list before confirming.

:func:`find_orphans` and :func:`deletion_order` are pure; :func:`collect` reads AWS and :func:`delete` changes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from lowlatency import endpoints, vpc
from lowlatency.aws import RegionClients, aws_call
from lowlatency.desired import MANAGER, TAG_MANAGED_BY, TAG_NAME, TAG_NAMESPACE, TAG_RETAINED, TAG_UID, Owner
from lowlatency.planner import DeleteEndpoint, DeleteEndpointConfig, DeleteModel
from lowlatency.variants import DeregisterScalableTarget

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import FilterTypeDef

Kind = Literal["scalable-target", "endpoint", "endpoint-config", "model", "vpc-endpoint"]
# Deletion order: a variant's scaling before its endpoint, an endpoint before its config, a config before its model.
KINDS: tuple[Kind, ...] = ("scalable-target", "endpoint", "endpoint-config", "model", "vpc-endpoint")


@dataclass(frozen=True)
class OwnedResource:
    """An AWS resource and the Kubernetes object its tags name as owner (for a VPC endpoint: its VPC, in
    ``owner.name``, since its owners are whoever uses that VPC)."""

    kind: Kind
    name: str  # endpoint, config or model name; scalable target resource id; VPC endpoint id
    owner: Owner
    retained: bool = False  # left on purpose by deletionPolicy Retain
    installations: frozenset[str] = frozenset()  # a VPC endpoint's installation tags (find_orphans: this cluster's)

    @property
    def owner_reference(self) -> str:
        if self.kind == "vpc-endpoint":
            return f"users of {self.owner.name}"
        return f"{self.owner.namespace}/{self.owner.name}"


@dataclass(frozen=True)
class Inventory:
    """What exists in the cluster (:func:`lowlatency.cluster.inventory`)."""

    uids: set[str]  # of every LowLatencyEndpoint
    vpc_ids: set[str]  # named by a LowLatencyEndpoint that is not being deleted
    installation_prefix: str  # what this cluster's installation tags begin with


def owner_of(tags: dict[str, str]) -> Owner | None:
    """The owner named by a SageMaker resource's tags, if the operator manages it."""
    if tags.get(TAG_MANAGED_BY) != MANAGER or not tags.get(TAG_UID):
        return None
    return Owner(namespace=tags.get(TAG_NAMESPACE, ""), name=tags.get(TAG_NAME, ""), uid=tags[TAG_UID])


def scalable_targets_of(resource_ids: Iterable[str], owned: Iterable[OwnedResource]) -> list[OwnedResource]:
    """The scalable targets (``endpoint/<name>/variant/<variant>``) of owned endpoints, owned by the same."""
    endpoints_by_name = {resource.name: resource for resource in owned if resource.kind == "endpoint"}
    targets = []
    for resource_id in resource_ids:
        parts = resource_id.split("/")
        endpoint = endpoints_by_name.get(parts[1]) if len(parts) == 4 and parts[0] == "endpoint" else None
        if endpoint is not None:
            targets.append(OwnedResource("scalable-target", resource_id, endpoint.owner, endpoint.retained))
    return targets


def shared_vpc_endpoint(endpoint: vpc.ObservedVpcEndpoint) -> OwnedResource | None:
    """A runtime VPC endpoint the operator created, owned by the users of its VPC."""
    if not endpoint.managed:
        return None
    return OwnedResource(
        "vpc-endpoint",
        endpoint.id,
        Owner(namespace="", name=endpoint.vpc_id, uid=""),
        retained=endpoint.retained,
        installations=frozenset(endpoint.installations),
    )


def find_orphans(
    owned: Iterable[OwnedResource], existing: Inventory, *, include_retained: bool = False
) -> list[OwnedResource]:
    """The owned resources whose owner is not among the objects that exist, in :func:`deletion_order`.

    A shared VPC endpoint is returned with the installation tags of this cluster only: the ones deleting it
    removes."""
    found = []
    for resource in owned:
        if resource.retained and not include_retained:
            continue
        if resource.kind != "vpc-endpoint":
            if resource.owner.uid not in existing.uids:
                found.append(resource)
            continue
        ours = frozenset(tag for tag in resource.installations if tag.startswith(existing.installation_prefix))
        if resource.owner.name not in existing.vpc_ids and (ours or not resource.installations):
            found.append(replace(resource, installations=ours))
    return deletion_order(found)


def deletion_order(resources: Iterable[OwnedResource]) -> list[OwnedResource]:
    return sorted(resources, key=lambda resource: (KINDS.index(resource.kind), resource.name, resource.owner.uid))


def collect(clients: RegionClients, region: str) -> list[OwnedResource]:
    """Every owner-tagged resource of the operator in one region (one ListTags per SageMaker resource)."""
    owned = _sagemaker_resources(clients)
    owned += scalable_targets_of(_scalable_target_ids(clients), owned)
    owned += _shared_vpc_endpoints(clients.ec2, region)
    return owned


def _sagemaker_resources(clients: RegionClients) -> list[OwnedResource]:
    sagemaker = clients.sagemaker
    named_arns: list[tuple[Kind, str, str]] = []
    with aws_call("sagemaker:ListEndpoints"):
        for endpoints_page in sagemaker.get_paginator("list_endpoints").paginate():
            named_arns += [("endpoint", e["EndpointName"], e["EndpointArn"]) for e in endpoints_page["Endpoints"]]
    with aws_call("sagemaker:ListEndpointConfigs"):
        for configs_page in sagemaker.get_paginator("list_endpoint_configs").paginate():
            named_arns += [
                ("endpoint-config", c["EndpointConfigName"], c["EndpointConfigArn"])
                for c in configs_page["EndpointConfigs"]
            ]
    with aws_call("sagemaker:ListModels"):
        for models_page in sagemaker.get_paginator("list_models").paginate():
            named_arns += [("model", m["ModelName"], m["ModelArn"]) for m in models_page["Models"]]
    owned = []
    for kind, name, arn in named_arns:
        tags = endpoints.tags_of(sagemaker, arn)
        owner = owner_of(tags)
        if owner is not None:
            owned.append(OwnedResource(kind, name, owner, retained=TAG_RETAINED in tags))
    return owned


def _scalable_target_ids(clients: RegionClients) -> list[str]:
    paginator = clients.autoscaling.get_paginator("describe_scalable_targets")
    with aws_call("application-autoscaling:DescribeScalableTargets"):
        found = [
            target["ResourceId"]
            for page in paginator.paginate(ServiceNamespace=endpoints.NAMESPACE)
            for target in page["ScalableTargets"]
        ]
    return list(dict.fromkeys(found))  # a variant registered in two dimensions is one orphan


def _shared_vpc_endpoints(ec2: EC2Client, region: str) -> list[OwnedResource]:
    runtime: list[FilterTypeDef] = [{"Name": "service-name", "Values": [vpc.runtime_service(region)]}]
    shared = []
    with aws_call("ec2:DescribeVpcEndpoints"):
        for page in ec2.get_paginator("describe_vpc_endpoints").paginate(Filters=runtime):
            for found in page["VpcEndpoints"]:
                if not vpc.gone(found):
                    shared += [resource for resource in [shared_vpc_endpoint(vpc.observe(found))] if resource]
    return shared


def delete(clients: RegionClients, region: str, orphan: OwnedResource) -> None:
    """Delete one orphan (or, for a VPC endpoint user, release it); what is already gone counts as deleted."""
    match orphan.kind:
        case "scalable-target":
            # In each dimension it is registered in (instance count, or a serverless variant's provisioned concurrency).
            for target in endpoints.describe_scaling(clients.autoscaling, [orphan.name]):
                endpoints.apply(clients, DeregisterScalableTarget(target.resource_id, target.dimension))
        case "endpoint":
            endpoints.apply(clients, DeleteEndpoint(orphan.name))
        case "endpoint-config":
            endpoints.apply(clients, DeleteEndpointConfig(orphan.name))
        case "model":
            endpoints.apply(clients, DeleteModel(orphan.name))
        case "vpc-endpoint":
            _release_vpc_endpoint(clients.ec2, region, orphan)


def _release_vpc_endpoint(ec2: EC2Client, region: str, orphan: OwnedResource) -> None:
    """Remove this cluster's installation tags, then delete the endpoint if no installation uses it (read again; a
    retained one was asked for)."""
    for tag in sorted(orphan.installations):
        vpc.apply(ec2, vpc.UntagVpcEndpoint(orphan.name, tag))
    if any(not endpoint.installations for endpoint in vpc.find(ec2, region, endpoint_id=orphan.name)):
        vpc.apply(ec2, vpc.DeleteVpcEndpoint(orphan.name))
