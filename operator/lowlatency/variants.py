"""The variants of an endpoint in service: what SageMaker reports of each, and the in-place changes that bring each to
the spec (weights, instance counts, serverless concurrencies, autoscaling). Pure: no I/O.

A variant is a value handled by the same code whatever the endpoint holds: the shorthand's single variant is the
one-element case of several production variants, a shadow variant or a serverless one. :mod:`lowlatency.planner`
decides when these changes apply (in service on the desired config; autoscaling also around a move).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from lowlatency.api import VariantKind
from lowlatency.desired import INSTANCE_COUNT, DesiredScaling, DesiredVariant, ScheduledScaling


@dataclass(frozen=True)
class ObservedVariant:
    """A production or shadow variant as DescribeEndpoint reports it (botocore sagemaker ProductionVariantSummary):
    what serves now (current) and what SageMaker is moving to (desired)."""

    name: str
    shadow: bool = False
    serverless: bool = False  # reported with a serverless config instead of instances
    current_instance_count: int | None = None
    desired_instance_count: int | None = None
    current_weight: float | None = None
    desired_weight: float | None = None
    current_max_concurrency: int | None = None
    desired_max_concurrency: int | None = None
    current_provisioned_concurrency: int | None = None
    desired_provisioned_concurrency: int | None = None

    @property
    def kind(self) -> VariantKind:
        if self.shadow:
            return "Shadow"
        return "Serverless" if self.serverless else "Instance"


@dataclass(frozen=True)
class ObservedScaling:
    """A variant's scalable target as Application Auto Scaling reports it."""

    resource_id: str
    min_capacity: int
    max_capacity: int
    policy: tuple[float, int, int] | None  # target value, scale-in cooldown, scale-out cooldown
    schedules: tuple[ScheduledScaling, ...] = ()
    dimension: str = INSTANCE_COUNT

    @property
    def variant(self) -> str:
        return variant_of(self.resource_id)


def variant_of(resource_id: str) -> str:
    """The variant a scalable target's resource id (``endpoint/<endpoint>/variant/<variant>``) names."""
    return resource_id.rpartition("/")[2]


@dataclass(frozen=True)
class VariantChange:
    """One variant's entry of UpdateEndpointWeightsAndCapacities (botocore sagemaker DesiredWeightAndCapacity, with
    ServerlessUpdateConfig for the concurrencies): only what differs from the spec is set."""

    variant: str
    weight: float | None = None
    instance_count: int | None = None
    max_concurrency: int | None = None
    provisioned_concurrency: int | None = None


@dataclass(frozen=True)
class UpdateEndpointWeightsAndCapacities:
    """One call of SageMaker's: the weights of any number of variants, or the capacity of one variant (see
    :func:`weights_and_capacities`). SageMaker refuses another while the endpoint is Updating from the first."""

    name: str
    changes: tuple[VariantChange, ...]


@dataclass(frozen=True)
class RegisterScalableTarget:
    resource_id: str
    min_capacity: int
    max_capacity: int
    dimension: str = INSTANCE_COUNT


@dataclass(frozen=True)
class DeregisterScalableTarget:
    """Also removes the target's scaling policies and scheduled actions (Application Auto Scaling does)."""

    resource_id: str
    dimension: str = INSTANCE_COUNT


@dataclass(frozen=True)
class PutScalingPolicy:
    resource_id: str
    policy_name: str
    target_value: float
    scale_in_cooldown: int
    scale_out_cooldown: int
    dimension: str = INSTANCE_COUNT


@dataclass(frozen=True)
class PutScheduledAction:
    resource_id: str
    schedule: ScheduledScaling
    dimension: str = INSTANCE_COUNT


@dataclass(frozen=True)
class DeleteScheduledAction:
    resource_id: str
    name: str
    dimension: str = INSTANCE_COUNT


ScalingAction = (
    RegisterScalableTarget | DeregisterScalableTarget | PutScalingPolicy | PutScheduledAction | DeleteScheduledAction
)

Number = TypeVar("Number", int, float)


def _differing(wanted: Number | None, live: Number | None) -> Number | None:
    """The spec's value where SageMaker reports another one (nothing where either is not known)."""
    return wanted if wanted is not None and live is not None and wanted != live else None


def weights_and_capacities(
    endpoint: str, desired: Iterable[DesiredVariant], live: Sequence[ObservedVariant]
) -> tuple[UpdateEndpointWeightsAndCapacities, ...]:
    """The calls that bring every live variant to the spec in place, in the order to send them, each once the
    endpoint is InService again after the one before: weights always; instance counts and provisioned concurrency
    only where the autoscaler does not own them; a serverless variant's maximum concurrency always. Empty: nothing
    differs.

    SageMaker's UpdateEndpointWeightsAndCapacities "Updates variant weight of one or more variants associated with an
    existing endpoint, or capacity of one variant associated with an existing endpoint"
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpointWeightsAndCapacities.html). Read
    strictly (as the AWS emulator does), one call sets either weights or the capacity (DesiredInstanceCount, or
    ServerlessUpdateConfig) of a single variant, never both. No source says more: botocore sagemaker
    DesiredWeightAndCapacity lets an entry carry every member, and the A/B testing guide's calls
    (https://docs.aws.amazon.com/sagemaker/latest/dg/model-ab-testing.html) change weights alone. Calls that keep
    them apart succeed under either reading, so the weights of every variant go first, in one call; then each
    variant's capacity in a call of its own, in the spec's order."""
    reported = {variant.name: variant for variant in live}
    weights: list[VariantChange] = []
    capacities: list[VariantChange] = []
    for variant in desired:
        observed = reported.get(variant.name)
        if observed is None:
            continue
        autoscaled = variant.scaling is not None
        serverless = variant.serverless
        weight = _differing(variant.weight, observed.desired_weight)
        if weight is not None:
            weights.append(VariantChange(variant.name, weight=weight))
        capacity = VariantChange(
            variant.name,
            instance_count=None if autoscaled else _differing(variant.instance_count, observed.desired_instance_count),
            max_concurrency=None
            if serverless is None
            else _differing(serverless.max_concurrency, observed.desired_max_concurrency),
            provisioned_concurrency=None
            if serverless is None or autoscaled
            else _differing(serverless.provisioned_concurrency, observed.desired_provisioned_concurrency),
        )
        if capacity != VariantChange(variant.name):
            capacities.append(capacity)
    calls = ([tuple(weights)] if weights else []) + [(capacity,) for capacity in capacities]
    return tuple(UpdateEndpointWeightsAndCapacities(endpoint, changes) for changes in calls)


class Setting(NamedTuple):
    """One property of one variant that a change sets, for messages."""

    variant: str
    what: str
    live: float | None
    wanted: float


def settings(change: VariantChange, live: ObservedVariant | None) -> list[Setting]:
    """What ``change`` sets, with the value SageMaker reported before."""

    def setting(what: str, wanted: float | None, before: float | None) -> list[Setting]:
        return [] if wanted is None else [Setting(change.variant, what, before, wanted)]

    known = live or ObservedVariant(change.variant)
    return [
        *setting("weight", change.weight, known.desired_weight),
        *setting("instance count", change.instance_count, known.desired_instance_count),
        *setting("maximum concurrency", change.max_concurrency, known.desired_max_concurrency),
        *setting("provisioned concurrency", change.provisioned_concurrency, known.desired_provisioned_concurrency),
    ]


def sync_variant_scaling(desired: DesiredScaling | None, registered: Iterable[ObservedScaling]) -> list[ScalingAction]:
    """One variant's autoscaling brought to the spec: its target in the spec's dimension synced, a target in another
    dimension (the spec has none, or the variant moved between instances and serverless) deregistered."""
    targets = list(registered)
    stray: list[ScalingAction] = [
        DeregisterScalableTarget(target.resource_id, target.dimension)
        for target in targets
        if desired is None or target.dimension != desired.dimension
    ]
    if desired is None:
        return stray
    current = next((target for target in targets if target.dimension == desired.dimension), None)
    return stray + sync_scaling(desired, current)


def sync_scaling(desired: DesiredScaling, observed: ObservedScaling | None) -> list[ScalingAction]:
    """Bring one scalable target, its policy and scheduled actions to the spec, touching only what differs."""
    resource_id, dimension = desired.resource_id, desired.dimension
    actions: list[ScalingAction] = []
    if observed is None or (observed.min_capacity, observed.max_capacity) != (
        desired.min_capacity,
        desired.max_capacity,
    ):
        actions.append(RegisterScalableTarget(resource_id, desired.min_capacity, desired.max_capacity, dimension))
    policy = (desired.target_value, desired.scale_in_cooldown, desired.scale_out_cooldown)
    if desired.target_value is not None and (observed is None or observed.policy != policy):
        actions.append(
            PutScalingPolicy(
                resource_id,
                desired.policy_name,
                desired.target_value,
                desired.scale_in_cooldown,
                desired.scale_out_cooldown,
                dimension,
            )
        )
    existing = {schedule.name: schedule for schedule in observed.schedules} if observed is not None else {}
    wanted = {schedule.name: schedule for schedule in desired.schedules}
    actions += [PutScheduledAction(resource_id, s, dimension) for name, s in wanted.items() if existing.get(name) != s]
    actions += [DeleteScheduledAction(resource_id, name, dimension) for name in existing if name not in wanted]
    return actions
