"""Desired state + observed AWS state → the actions to take and the status to report. Pure: no I/O.

Every decision about what to do lives here, so that each case (a crash between two calls, an endpoint deleted out
of band, a failed rollout) is a unit test of a function, and the executor only carries the actions out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from lowlatency.api import Phase
from lowlatency.desired import TAG_RETAINED, DesiredEndpoint, DesiredVariant, Owner, scaling_resource_id
from lowlatency.naming import sibling_arn
from lowlatency.schema import is_reserved_tag_key
from lowlatency.variants import (
    DeleteScheduledAction,
    DeregisterScalableTarget,
    ObservedScaling,
    ObservedVariant,
    PutScalingPolicy,
    PutScheduledAction,
    RegisterScalableTarget,
    ScalingAction,
    Setting,
    UpdateEndpointWeightsAndCapacities,
    settings,
    sync_variant_scaling,
    weights_and_capacities,
)

# SageMaker EndpointStatus values (DescribeEndpoint) that end by themselves: wait and look again.
TRANSITIONAL_STATUSES = {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"}
# Statuses in which the endpoint takes traffic.
SERVING_STATUSES = {"InService", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"}
# Where to read how to bring an UpdateRollbackFailed endpoint back to one configuration.
ROLLING_DEPLOYMENTS_GUIDE = "https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-rolling.html"
# Condition reason of a request AWS refused outright (not a failure of SageMaker's own doing).
REJECTED = "AWSRejected"
# Condition reason while the operator deletes a failed endpoint to create it anew.
RECREATING = "Recreating"


@dataclass(frozen=True)
class ObservedEndpoint:
    """What DescribeEndpoint (and, when ownership is not yet known, ListTags) said."""

    name: str
    arn: str
    status: str
    config_name: (
        str | None
    )  # optional in DescribeEndpoint (botocore sagemaker DescribeEndpointOutput.EndpointConfigName)
    failure_reason: str = ""
    pending_config_name: str | None = None
    tags: dict[str, str] | None = None  # None: not looked up because ownership was already established
    # The production variants, then the shadow (none while Creating or after a failed create).
    variants: tuple[ObservedVariant, ...] = ()

    @property
    def production(self) -> tuple[ObservedVariant, ...]:
        return tuple(variant for variant in self.variants if not variant.shadow)

    @property
    def variant_names(self) -> tuple[str, ...]:
        """The production variants' names."""
        return tuple(variant.name for variant in self.production)

    @property
    def variant_name(self) -> str | None:
        """The single production variant's name, which a new config must keep (None: none, or several)."""
        return self.variant_names[0] if len(self.variant_names) == 1 else None

    @property
    def current_instance_count(self) -> int | None:
        """Instances of the production variants now (None: no instance-backed production variant reported)."""
        return _total(variant.current_instance_count for variant in self.production)

    @property
    def desired_instance_count(self) -> int | None:
        """Instances of the production variants that SageMaker is moving to."""
        return _total(variant.desired_instance_count for variant in self.production)

    def variant(self, name: str) -> ObservedVariant | None:
        return next((variant for variant in self.variants if variant.name == name), None)


def _total(counts: Iterable[int | None]) -> int | None:
    known = [count for count in counts if count is not None]
    return sum(known) if known else None


@dataclass(frozen=True)
class Observed:
    endpoint: ObservedEndpoint | None
    missing_models: tuple[str, ...]  # the desired models that SageMaker does not have
    config_exists: bool
    # Owner-tagged configs and models that are neither desired nor live (left by earlier rollouts).
    superseded_configs: tuple[str, ...] = ()
    superseded_models: tuple[str, ...] = ()
    # Instance type of each variant of the config that serves (None: serverless), looked up only when moving to
    # another config.
    live_instance_types: dict[str, str | None] = field(default_factory=dict)
    # Whether the config that serves is there (looked up when moving off it: UpdateEndpoint needs it), and the
    # request that creates it again when it was deleted and is one the operator can rebuild from its name.
    live_config_exists: bool = True
    live_config_request: dict[str, Any] | None = field(default=None, repr=False)
    # Application Auto Scaling, when looked up (scaling_known): the scalable targets registered for the desired and
    # the live variants.
    scaling_known: bool = False
    scaling: tuple[ObservedScaling, ...] = ()
    # Tags per ARN of the serving endpoint, config and models, when looked up (after a spec change).
    tags: dict[str, dict[str, str]] = field(default_factory=dict)

    def registered(self, resource_id: str) -> tuple[ObservedScaling, ...]:
        """The scalable targets of one variant (one per dimension)."""
        return tuple(target for target in self.scaling if target.resource_id == resource_id)


@dataclass(frozen=True)
class Rejection:
    """A request of the current generation that AWS refused outright (as reported in status)."""

    operation: str  # the AWS operation, e.g. UpdateEndpoint; actions are named after the operation they call
    message: str


@dataclass(frozen=True)
class Memory:
    """What earlier passes recorded in status, for what AWS itself cannot tell."""

    generation: int
    endpoint_arn: str | None = None  # set once ownership of the endpoint was established
    rollout_config_name: str | None = None  # the config the operator last moved the endpoint to
    rollout_generation: int | None = None  # the generation of that move
    observed_generation: int | None = None  # the generation last seen live: a difference at live state is drift
    adopting: bool = False  # the endpoint was named by the adoption annotation and is not yet the operator's
    recreating: bool = False  # the operator deleted its failed endpoint to create it anew
    rejection: Rejection | None = None  # asking AWS again would only be refused again; a spec change retries


@dataclass(frozen=True)
class CreateModel:
    request: dict[str, Any] = field(repr=False)
    name: str = ""


@dataclass(frozen=True)
class CreateEndpointConfig:
    request: dict[str, Any] = field(repr=False)
    name: str = ""


@dataclass(frozen=True)
class CreateEndpoint:
    name: str
    config_name: str
    tags: dict[str, str]


@dataclass(frozen=True)
class UpdateEndpoint:
    name: str
    config_name: str
    retain_variant_properties: bool = False  # keep the live counts (they belong to the autoscaler), not the weights
    # The spec's deployment guardrails; empty: none, SageMaker moves the endpoint all at once.
    deployment_config: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class TagResource:
    """AddTags and DeleteTags on one SageMaker resource."""

    arn: str
    add: dict[str, str]
    remove: tuple[str, ...]


@dataclass(frozen=True)
class DeleteEndpoint:
    name: str


@dataclass(frozen=True)
class DeleteEndpointConfig:
    name: str


@dataclass(frozen=True)
class DeleteModel:
    name: str


Action = (
    CreateModel
    | CreateEndpointConfig
    | CreateEndpoint
    | UpdateEndpoint
    | UpdateEndpointWeightsAndCapacities
    | DeleteEndpoint
    | DeleteEndpointConfig
    | DeleteModel
    | ScalingAction
    | TagResource
)


@dataclass(frozen=True)
class Verdict:
    """A condition's value as the planner sees it."""

    status: bool
    reason: str
    message: str = ""


@dataclass(frozen=True)
class Notice:
    """Something the resource's users should hear about (posted as a Kubernetes Event)."""

    reason: str
    message: str
    warning: bool = False


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    phase: Phase
    ready: Verdict
    degraded: Verdict = Verdict(False, "NoFailedRollout")
    live: bool = False  # the current generation's configuration is what serves
    poll: bool = False  # something is moving: look again soon
    failure_reason: str = ""
    rollout: tuple[str, int] | None = None  # (config name, generation) of a move the actions start
    notices: tuple[Notice, ...] = ()
    adopted: bool = False  # the actions make a found endpoint the operator's (adoption)


def _create_missing(desired: DesiredEndpoint, observed: Observed) -> list[Action]:
    actions: list[Action] = [
        CreateModel(request, name) for name, request in desired.models.items() if name in observed.missing_models
    ]
    if not observed.config_exists:
        actions.append(CreateEndpointConfig(desired.endpoint_config_request, desired.endpoint_config_name))
    return actions


def plan(desired: DesiredEndpoint, observed: Observed, owner: Owner, memory: Memory) -> Plan:
    """Decide the next step towards ``desired``."""
    if memory.rejection is not None:
        return _plan_rejected(desired, observed, owner, memory.rejection)
    endpoint = observed.endpoint
    if endpoint is None:
        return _plan_create(desired, observed, memory)
    if endpoint.tags is not None and not owner.owns(endpoint.tags):
        if memory.adopting and owner.may_adopt(endpoint.tags):
            return _plan_adoption(desired, endpoint)
        message = (
            f"SageMaker endpoint {endpoint.name} already exists and is {Owner.describe(endpoint.tags)}; "
            "it is left untouched. Rename this resource or remove the other endpoint."
        )
        return Plan((), "Failed", Verdict(False, "NameConflict", message), failure_reason=message)

    if endpoint.status == "Deleting" and memory.recreating:
        return _recreating(endpoint)

    if endpoint.status in TRANSITIONAL_STATUSES:
        phase: Phase = "Creating" if endpoint.status == "Creating" else "Updating"
        message = f"SageMaker endpoint {endpoint.name} is {endpoint.status}"
        return Plan((), phase, Verdict(endpoint.status in SERVING_STATUSES, endpoint.status, message), poll=True)

    if endpoint.status == "Failed":
        return _plan_failed(desired, observed, endpoint, memory)

    if endpoint.status == "UpdateRollbackFailed":
        return _plan_rollback_failed(endpoint)

    if endpoint.status != "InService":  # OutOfService: SageMaker needs a person
        message = f"SageMaker endpoint {endpoint.name} is {endpoint.status}: {endpoint.failure_reason}".rstrip(": ")
        return Plan((), "Failed", Verdict(False, endpoint.status, message), failure_reason=endpoint.failure_reason)

    if endpoint.config_name == desired.endpoint_config_name:
        return _plan_live(desired, observed, endpoint, memory)

    return _plan_update(desired, observed, endpoint, memory)


def _plan_live(desired: DesiredEndpoint, observed: Observed, endpoint: ObservedEndpoint, memory: Memory) -> Plan:
    """InService on the desired config: tidy up and bring every variant's weight, capacity and autoscaling, and the
    tags, to the spec."""
    cleanup: list[Action] = [DeleteEndpointConfig(name) for name in observed.superseded_configs]
    cleanup += [DeleteModel(name) for name in observed.superseded_models]
    # The serving config (or a model of it) deleted outside the operator: the next UpdateEndpoint would need it.
    changes: list[Action] = _create_missing(desired, observed)
    changes += sync_tags(desired.tags, observed.tags)
    if observed.scaling_known:
        for variant in desired.variants:
            resource_id = scaling_resource_id(desired.endpoint_name, variant.name)
            changes += sync_variant_scaling(variant.scaling, observed.registered(resource_id))
    # One call per pass: SageMaker refuses the next while the endpoint is Updating from the one before.
    in_place = weights_and_capacities(endpoint.name, desired.variants, endpoint.variants)
    changes += in_place[:1]
    # The spec was already live: what differs now was changed outside the operator.
    drifted = memory.observed_generation == memory.generation
    notices = (
        tuple(Notice("DriftRepaired", message) for change in changes for message in _drift_messages(endpoint, change))
        if drifted
        else ()
    )
    actions = tuple(cleanup + changes)
    if in_place:
        # The spec is live once its last call is sent: until then what the calls still to come change is the spec's,
        # not drift.
        verdict = _in_place_verdict(endpoint, in_place)
        return Plan(actions, "Updating", verdict, live=len(in_place) == 1, poll=True, notices=notices)
    return Plan(actions, "InService", Verdict(True, "InService"), live=True, notices=notices)


def _in_place_verdict(endpoint: ObservedEndpoint, calls: tuple[UpdateEndpointWeightsAndCapacities, ...]) -> Verdict:
    """What changes in place, for the Ready condition: Scaling, or Reweighting when only weights change now; the
    calls still to come after this one are named too."""
    now, *later = [_settings_of(endpoint, call) for call in calls]
    listed = "; ".join(_described(setting) for setting in now)
    reason = "Reweighting" if all(setting.what == "weight" for setting in now) else "Scaling"
    message = f"Changing {listed} of SageMaker endpoint {endpoint.name}"
    if later:
        then = "; ".join(_described(setting) for settings_of_call in later for setting in settings_of_call)
        message += f"; then, in calls of their own (SageMaker changes one variant's capacity per call), {then}"
    return Verdict(True, reason, message)


def _settings_of(endpoint: ObservedEndpoint, call: UpdateEndpointWeightsAndCapacities) -> list[Setting]:
    return [setting for change in call.changes for setting in settings(change, endpoint.variant(change.variant))]


def _described(setting: Setting) -> str:
    return f"the {setting.what} of variant {setting.variant} from {setting.live} to {setting.wanted}"


def _drift_messages(endpoint: ObservedEndpoint, repair: Action) -> list[str]:
    """What was found changed outside the operator, and how it is put back (one message per variant's property)."""
    name = endpoint.name
    match repair:
        case TagResource(arn=arn, add=add, remove=remove):
            changed = ", ".join([*sorted(add), *remove])
            return [f"Tags of {arn.rpartition(':')[2]} were changed outside the operator ({changed}); restored"]
        case RegisterScalableTarget(resource_id=resource_id, min_capacity=low, max_capacity=high):
            return [
                f"Autoscaling of {_variant_of(name, resource_id)} was removed or changed outside the operator; "
                f"registered ({low}-{high})"
            ]
        case DeregisterScalableTarget(resource_id=resource_id):
            return [
                f"Autoscaling of {_variant_of(name, resource_id)} was registered outside the operator; removed as "
                "the spec has none"
            ]
        case PutScalingPolicy(policy_name=policy):
            return [f"Scaling policy {policy} was removed or changed outside the operator; restored"]
        case PutScheduledAction(schedule=schedule):
            return [f"Scheduled action {schedule.name} was removed or changed outside the operator; restored"]
        case DeleteScheduledAction(name=scheduled):
            return [
                f"Scheduled action {scheduled} was added outside the operator; removed as the spec does not have it"
            ]
        case UpdateEndpointWeightsAndCapacities(changes=changes):
            return [
                f"{setting.what.capitalize()} of {_variant_of(name, setting.variant)} was changed outside the "
                f"operator to {setting.live}; set back to {setting.wanted}"
                for change in changes
                for setting in settings(change, endpoint.variant(change.variant))
            ]
        case CreateEndpointConfig(name=config):
            return [f"Endpoint config {config}, which {name} serves, was deleted outside the operator; created again"]
        case CreateModel(name=model):
            return [f"Model {model}, which {name} serves, was deleted outside the operator; created again"]
    return [f"{name} was changed outside the operator; repaired with {type(repair).__name__}"]


def _variant_of(endpoint: str, variant_or_resource_id: str) -> str:
    """A variant named in messages (given its name or its scalable target's resource id)."""
    return f"{endpoint} variant {variant_or_resource_id.rpartition('/')[2]}"


def sync_tags(wanted: dict[str, str], observed: dict[str, dict[str, str]]) -> list[Action]:
    """The spec is the source of truth for the tags of what the operator owns (aws: tags, in any case, are AWS's own
    and cannot be deleted)."""
    actions: list[Action] = []
    for arn, tags in observed.items():
        add = {key: value for key, value in wanted.items() if tags.get(key) != value}
        remove = tuple(sorted(key for key in tags if key not in wanted and not is_reserved_tag_key(key)))
        if add or remove:
            actions.append(TagResource(arn, add, remove))
    return actions


def _plan_create(desired: DesiredEndpoint, observed: Observed, memory: Memory) -> Plan:
    actions = _create_missing(desired, observed)
    actions.append(CreateEndpoint(desired.endpoint_name, desired.endpoint_config_name, desired.tags))
    notices: tuple[Notice, ...] = ()
    if memory.endpoint_arn is not None and not memory.recreating:
        message = f"SageMaker endpoint {desired.endpoint_name} was deleted outside the operator; creating it again"
        notices = (Notice("DriftRepaired", message, warning=True),)
    return Plan(
        tuple(actions),
        "Creating",
        Verdict(False, "Creating", f"Creating SageMaker endpoint {desired.endpoint_name}"),
        poll=True,
        rollout=(desired.endpoint_config_name, memory.generation),
        notices=notices,
    )


def _plan_adoption(desired: DesiredEndpoint, endpoint: ObservedEndpoint) -> Plan:
    """Make a found endpoint the operator's by tagging it; from the next pass on it is managed like any other."""
    message = f"Adopting SageMaker endpoint {endpoint.name}: tagging it as managed by this resource"
    serving = endpoint.status in SERVING_STATUSES
    retained = (TAG_RETAINED,) if endpoint.tags is not None and TAG_RETAINED in endpoint.tags else ()
    return Plan(
        (TagResource(endpoint.arn, desired.tags, retained),),
        "Updating",
        Verdict(serving, "Adopting", message),
        poll=True,
        notices=(Notice("Adopted", f"Adopted the existing SageMaker endpoint {endpoint.name}"),),
        adopted=True,
    )


def _plan_failed(desired: DesiredEndpoint, observed: Observed, endpoint: ObservedEndpoint, memory: Memory) -> Plan:
    """A Failed endpoint serves nothing and cannot be updated: only a new spec makes it worth recreating."""
    tried_this_generation = memory.rollout_generation == memory.generation
    unknown_but_same = memory.rollout_generation is None and endpoint.config_name == desired.endpoint_config_name
    if tried_this_generation or unknown_but_same:
        message = f"SageMaker endpoint {endpoint.name} failed: {endpoint.failure_reason}"
        return Plan((), "Failed", Verdict(False, "EndpointFailed", message), failure_reason=endpoint.failure_reason)
    recreating = _recreating(endpoint)
    notice = Notice(RECREATING, recreating.ready.message)
    return replace(recreating, actions=(DeleteEndpoint(endpoint.name),), notices=(notice,))


def _recreating(endpoint: ObservedEndpoint) -> Plan:
    """The failed endpoint is being deleted by the operator itself, to be created anew: no drift to report."""
    message = f"Deleting failed SageMaker endpoint {endpoint.name} to create it anew"
    return Plan((), "Creating", Verdict(False, RECREATING, message), poll=True)


def _plan_missing_live_config(desired: DesiredEndpoint, observed: Observed, endpoint: ObservedEndpoint) -> Plan:
    """UpdateEndpoint needs the config that serves as well as the new one, and it was deleted outside the operator
    (SageMaker allows that): created again from its content when the operator built it, else reported -- a request
    that cannot succeed is not sent."""
    name = endpoint.config_name
    request = observed.live_config_request
    if request is not None:
        message = (
            f"Endpoint config {name}, which SageMaker endpoint {endpoint.name} serves, was deleted outside the "
            f"operator; creating it again from its content, as moving the endpoint to {desired.endpoint_config_name} "
            "needs it"
        )
        return Plan(
            (CreateEndpointConfig(request, str(name)),),
            "Updating",
            Verdict(True, "Updating", message),
            poll=True,
            notices=(Notice("DriftRepaired", message, warning=True),),
        )
    message = (
        f"Endpoint config {name}, which SageMaker endpoint {endpoint.name} serves, was deleted outside the operator, "
        "and SageMaker moves an endpoint to a new config only while the old one exists. It is not one the operator "
        f"can build again (not its own, or its model is gone too): create an endpoint config named {name} with "
        f"{_named_variants(endpoint, desired)} again, or delete this resource to replace the endpoint"
    )
    return Plan(
        (),
        "InService",
        Verdict(True, "InService", f"Serving {_serving(endpoint)}"),
        degraded=Verdict(True, "LiveConfigMissing", message),
        failure_reason=message,
    )


def _named_variants(endpoint: ObservedEndpoint, desired: DesiredEndpoint) -> str:
    """The variants of the config that serves, for messages: as DescribeEndpoint named them, else the spec's."""
    names = [variant.name for variant in endpoint.variants] or [variant.name for variant in desired.variants]
    return f"the variant {names[0]}" if len(names) == 1 else f"the variants {', '.join(names)}"


def _plan_rollback_failed(endpoint: ObservedEndpoint) -> Plan:
    """A rolling deployment and its automatic rollback both failed: the endpoint serves a mix of the old and the new
    config (botocore sagemaker DescribeEndpointOutput.EndpointStatus) and SageMaker does not repair it by itself:
    the operator reports it and leaves the repair to a person, who follows AWS's guide."""
    reason = endpoint.failure_reason or "the rolling deployment and its rollback failed"
    message = (
        f"SageMaker endpoint {endpoint.name} is UpdateRollbackFailed: both the rolling deployment and its automatic "
        f"rollback failed, and it serves a mix of the old and new configurations ({reason}). Bring it back to one "
        f"configuration as {ROLLING_DEPLOYMENTS_GUIDE} describes, or delete this resource to replace the endpoint"
    )
    return Plan(
        (),
        "InService",
        Verdict(True, "UpdateRollbackFailed", f"SageMaker endpoint {endpoint.name} serves, with a mix of configs"),
        degraded=Verdict(True, "UpdateRollbackFailed", message),
        failure_reason=reason,
    )


def _plan_update(desired: DesiredEndpoint, observed: Observed, endpoint: ObservedEndpoint, memory: Memory) -> Plan:
    """InService on another config: move it, unless this very generation's move already failed."""
    if memory.rollout_generation == memory.generation and memory.rollout_config_name == desired.endpoint_config_name:
        reason = endpoint.failure_reason or "the update did not complete"
        message = f"Rollout to {desired.endpoint_config_name} failed; {_serving(endpoint)} still serves: {reason}"
        return Plan(
            tuple(_restore_scaling(desired, observed, endpoint)),
            "InService",
            Verdict(True, "InService", f"Serving {_serving(endpoint)}"),
            degraded=Verdict(True, "RolloutFailed", message),
            failure_reason=reason,
        )
    if not observed.live_config_exists:
        return _plan_missing_live_config(desired, observed, endpoint)
    actions = _create_missing(desired, observed)
    registered = observed.scaling if observed.scaling_known else ()
    for target in registered:
        # Application Auto Scaling refuses an update that changes the instance type of a registered variant or
        # removes it: deregister first, register again once InService on the new config (_plan_live does).
        wanted = desired.variant(target.variant)
        if wanted is None or observed.live_instance_types.get(target.variant) != wanted.instance_type:
            actions.append(DeregisterScalableTarget(target.resource_id, target.dimension))
    guarded = _same_variants(endpoint, desired)
    actions.append(
        UpdateEndpoint(
            endpoint.name,
            desired.endpoint_config_name,
            retain_variant_properties=bool(registered) or any(variant.scaling for variant in desired.variants),
            deployment_config=desired.deployment_config if guarded else {},
        )
    )
    moving = f"Moving SageMaker endpoint {endpoint.name} to {desired.endpoint_config_name}"
    return Plan(
        tuple(actions),
        "Updating",
        Verdict(True, "Updating", moving),
        poll=True,
        rollout=(desired.endpoint_config_name, memory.generation),
        notices=() if guarded else (Notice("VariantsChanged", _variants_changed(moving, endpoint, desired)),),
    )


def _variant_roles(variants: Iterable[ObservedVariant] | Iterable[DesiredVariant]) -> dict[str, set[str]]:
    roles: dict[str, set[str]] = {"production": set(), "shadow": set()}
    for variant in variants:
        roles["shadow" if variant.shadow else "production"].add(variant.name)
    return roles


def _same_variants(endpoint: ObservedEndpoint, desired: DesiredEndpoint) -> bool:
    """Whether the new config keeps the live production and shadow variant names, as SageMaker's deployment
    guardrails require (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html); an
    endpoint described without its variants is taken to keep them (SageMaker then says otherwise)."""
    return not endpoint.variants or _variant_roles(endpoint.variants) == _variant_roles(desired.variants)


def _variants_changed(moving: str, endpoint: ObservedEndpoint, desired: DesiredEndpoint) -> str:
    live, wanted = _variant_roles(endpoint.variants), _variant_roles(desired.variants)
    changes = [
        f"{role} variant{'s' if len(names) > 1 else ''} {', '.join(sorted(names))} {verb}"
        for role in ("production", "shadow")
        for names, verb in ((wanted[role] - live[role], "added"), (live[role] - wanted[role], "removed"))
        if names
    ]
    return (
        f"{moving}: {'; '.join(changes)}. SageMaker moves an endpoint whose variants change all at once, without the "
        "deployment guardrails of spec.deployment (they need the same variant names)"
    )


def _serving(endpoint: ObservedEndpoint) -> str:
    """The configuration that serves, for messages (DescribeEndpoint may leave its name out)."""
    return (
        f"the previous configuration {endpoint.config_name}" if endpoint.config_name else "the previous configuration"
    )


def _restore_scaling(desired: DesiredEndpoint, observed: Observed, endpoint: ObservedEndpoint) -> list[Action]:
    """Autoscaling for the config that still serves after a move that did not happen: an instance type change
    deregistered it before the move, and the variants that serve need it back now, not at the next spec change.
    Only variants that serve, in the kind the spec has them in (a dimension fits one kind of variant)."""
    if not observed.scaling_known:
        return []
    actions: list[Action] = []
    for variant in desired.variants:
        live = endpoint.variant(variant.name)
        if live is not None and live.serverless == (variant.serverless is not None):
            resource_id = scaling_resource_id(desired.endpoint_name, variant.name)
            actions += sync_variant_scaling(variant.scaling, observed.registered(resource_id))
    return actions


def _plan_rejected(desired: DesiredEndpoint, observed: Observed, owner: Owner, rejection: Rejection) -> Plan:
    """AWS refused a request of this generation: nothing moves towards it any more, but what serves gets back what
    the refused step took away (as after a failed rollout) -- unless that is what AWS refused."""
    endpoint = observed.endpoint
    if endpoint is None or endpoint.status not in SERVING_STATUSES:
        return Plan((), "Failed", Verdict(False, REJECTED, rejection.message), failure_reason=rejection.message)
    ours = endpoint.tags is None or owner.owns(endpoint.tags)
    restore = _restore_scaling(desired, observed, endpoint) if ours and endpoint.status == "InService" else []
    if any(type(action).__name__ == rejection.operation for action in restore):
        restore = []
    return Plan(
        tuple(restore),
        "InService",
        Verdict(True, "InService", f"Serving {_serving(endpoint)}"),
        degraded=Verdict(True, REJECTED, rejection.message),
        failure_reason=rejection.message,
    )


def plan_deletion(
    endpoint: ObservedEndpoint | None,
    owner: Owner,
    leftovers: tuple[list[str], list[str]],
    scaling: Iterable[ObservedScaling] = (),
) -> Plan:
    """The finalizer's next step: every variant's autoscaling and the endpoint go first (and the endpoint must be
    gone), then its configs, then its models. Deletion is finished when the plan does not ask to poll."""
    if endpoint is not None:
        if endpoint.tags is not None and not owner.owns(endpoint.tags):
            message = f"SageMaker endpoint {endpoint.name} is {Owner.describe(endpoint.tags)}; left in place"
            return Plan((), "Deleting", Verdict(False, "Deleting", message), notices=(Notice("LeftInPlace", message),))
        message = f"Deleting SageMaker endpoint {endpoint.name}"
        if endpoint.status == "Deleting":
            return Plan((), "Deleting", Verdict(False, "Deleting", message), poll=True)
        if endpoint.status in TRANSITIONAL_STATUSES:
            # SageMaker refuses DeleteEndpoint until a change in progress ends ("Cannot update in-progress endpoint").
            waiting = f"Waiting for SageMaker endpoint {endpoint.name} to leave {endpoint.status} to delete it"
            return Plan((), "Deleting", Verdict(False, "Deleting", waiting), poll=True)
        actions: list[Action] = [DeregisterScalableTarget(target.resource_id, target.dimension) for target in scaling]
        actions.append(DeleteEndpoint(endpoint.name))
        return Plan(tuple(actions), "Deleting", Verdict(False, "Deleting", message), poll=True)
    configs, models = leftovers
    cleanup: list[Action] = [DeleteEndpointConfig(name) for name in configs]
    cleanup += [DeleteModel(name) for name in models]
    deleted = Notice("Deleted", "SageMaker endpoint, configs and models deleted")
    return Plan(tuple(cleanup), "Deleting", Verdict(False, "Deleting", "Endpoint deleted"), notices=(deleted,))


def plan_retention(endpoint: ObservedEndpoint | None, owner: Owner, model_names: Iterable[str]) -> tuple[Action, ...]:
    """deletionPolicy Retain: mark the endpoint, its config and its models as left on purpose, so that the orphans
    command does not offer them for deletion."""
    if endpoint is None or endpoint.tags is None or not owner.owns(endpoint.tags):
        return ()
    arns = [endpoint.arn]
    if endpoint.config_name:
        arns.append(sibling_arn(endpoint.arn, "endpoint-config", endpoint.config_name))
    arns += [sibling_arn(endpoint.arn, "model", name) for name in dict.fromkeys(model_names)]
    return tuple(TagResource(arn, {TAG_RETAINED: "true"}, ()) for arn in arns)
