"""Desired state + observed AWS state → the actions to take and the status to report. Pure: no I/O.

Every decision about what to do lives here, so that each case (a crash between two calls, an endpoint deleted out
of band, a failed rollout) is a unit test of a function, and the executor only carries the actions out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from lowlatency.api import Phase
from lowlatency.desired import TAG_RETAINED, DesiredEndpoint, DesiredScaling, Owner, ScheduledScaling
from lowlatency.naming import sibling_arn
from lowlatency.schema import is_reserved_tag_key

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
    current_instance_count: int | None = None
    desired_instance_count: int | None = None
    pending_config_name: str | None = None
    tags: dict[str, str] | None = None  # None: not looked up because ownership was already established
    variant_names: tuple[str, ...] = ()  # the production variants (none while Creating or after a failed create)

    @property
    def variant_name(self) -> str | None:
        """The single production variant's name, which a new config must keep (None: none, or several)."""
        return self.variant_names[0] if len(self.variant_names) == 1 else None


@dataclass(frozen=True)
class ObservedScaling:
    """The variant's scalable target as Application Auto Scaling reports it."""

    resource_id: str
    min_capacity: int
    max_capacity: int
    policy: tuple[float, int, int] | None  # target value, scale-in cooldown, scale-out cooldown
    schedules: tuple[ScheduledScaling, ...] = ()


@dataclass(frozen=True)
class Observed:
    endpoint: ObservedEndpoint | None
    model_exists: bool
    config_exists: bool
    # Owner-tagged configs and models that are neither desired nor live (left by earlier rollouts).
    superseded_configs: tuple[str, ...] = ()
    superseded_models: tuple[str, ...] = ()
    # Instance type of the config that serves, looked up only when moving to another config.
    live_instance_type: str | None = None
    # Whether the config that serves is there (looked up when moving off it: UpdateEndpoint needs it), and the
    # request that creates it again when it was deleted and is one the operator can rebuild from its name.
    live_config_exists: bool = True
    live_config_request: dict[str, Any] | None = field(default=None, repr=False)
    # Application Auto Scaling, when looked up (scaling_known): None means no scalable target.
    scaling_known: bool = False
    scaling: ObservedScaling | None = None
    # Tags per ARN of the serving endpoint, config and model, when looked up (after a spec change).
    tags: dict[str, dict[str, str]] = field(default_factory=dict)


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
    retain_variant_properties: bool = False  # keep the live instance count (it belongs to the autoscaler)
    deployment_config: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class UpdateInstanceCount:
    """UpdateEndpointWeightsAndCapacities: a count change needs no new config."""

    name: str
    variant: str
    count: int


@dataclass(frozen=True)
class RegisterScalableTarget:
    resource_id: str
    min_capacity: int
    max_capacity: int


@dataclass(frozen=True)
class DeregisterScalableTarget:
    """Also removes the target's scaling policies and scheduled actions (Application Auto Scaling does)."""

    resource_id: str


@dataclass(frozen=True)
class PutScalingPolicy:
    resource_id: str
    policy_name: str
    target_value: float
    scale_in_cooldown: int
    scale_out_cooldown: int


@dataclass(frozen=True)
class PutScheduledAction:
    resource_id: str
    schedule: ScheduledScaling


@dataclass(frozen=True)
class DeleteScheduledAction:
    resource_id: str
    name: str


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
    | UpdateInstanceCount
    | DeleteEndpoint
    | DeleteEndpointConfig
    | DeleteModel
    | RegisterScalableTarget
    | DeregisterScalableTarget
    | PutScalingPolicy
    | PutScheduledAction
    | DeleteScheduledAction
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
    actions: list[Action] = []
    if not observed.model_exists:
        actions.append(CreateModel(desired.model_request, desired.model_name))
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
    """InService on the desired config: tidy up and bring count, autoscaling and tags to the spec."""
    cleanup: list[Action] = [DeleteEndpointConfig(name) for name in observed.superseded_configs]
    cleanup += [DeleteModel(name) for name in observed.superseded_models]
    # The serving config (or its model) deleted outside the operator: the next UpdateEndpoint would need it.
    changes: list[Action] = _create_missing(desired, observed)
    changes += sync_tags(desired.tags, observed.tags)
    if observed.scaling_known:
        changes += sync_scaling(desired.scaling, observed.scaling)
    count = endpoint.desired_instance_count
    recount = desired.scaling is None and count is not None and count != desired.instance_count
    if recount:
        changes.append(UpdateInstanceCount(endpoint.name, desired.variant_name, desired.instance_count))
    # The spec was already live: what differs now was changed outside the operator.
    drifted = memory.observed_generation == memory.generation
    notices = (
        tuple(Notice("DriftRepaired", _drift_message(endpoint.name, change)) for change in changes) if drifted else ()
    )
    actions = tuple(cleanup + changes)
    if recount:
        message = f"Changing the instance count of {endpoint.name} from {count} to {desired.instance_count}"
        return Plan(actions, "Updating", Verdict(True, "Scaling", message), live=True, poll=True, notices=notices)
    return Plan(actions, "InService", Verdict(True, "InService"), live=True, notices=notices)


def _drift_message(endpoint: str, repair: Action) -> str:
    """What was found changed outside the operator, and how it is put back."""
    match repair:
        case TagResource(arn=arn, add=add, remove=remove):
            changed = ", ".join([*sorted(add), *remove])
            return f"Tags of {arn.rpartition(':')[2]} were changed outside the operator ({changed}); restored"
        case RegisterScalableTarget(min_capacity=low, max_capacity=high):
            return f"Autoscaling of {endpoint} was removed or changed outside the operator; registered ({low}-{high})"
        case DeregisterScalableTarget():
            return f"Autoscaling of {endpoint} was registered outside the operator; removed as the spec has none"
        case PutScalingPolicy(policy_name=name):
            return f"Scaling policy {name} was removed or changed outside the operator; restored"
        case PutScheduledAction(schedule=schedule):
            return f"Scheduled action {schedule.name} was removed or changed outside the operator; restored"
        case DeleteScheduledAction(name=name):
            return f"Scheduled action {name} was added outside the operator; removed as the spec does not have it"
        case UpdateInstanceCount(count=count):
            return f"Instance count of {endpoint} was changed outside the operator; set back to {count}"
        case CreateEndpointConfig(name=name):
            return f"Endpoint config {name}, which {endpoint} serves, was deleted outside the operator; created again"
        case CreateModel(name=name):
            return f"Model {name}, which {endpoint} serves, was deleted outside the operator; created again"
    return f"{endpoint} was changed outside the operator; repaired with {type(repair).__name__}"


def sync_scaling(desired: DesiredScaling | None, observed: ObservedScaling | None) -> list[Action]:
    """Bring the scalable target, its policy and scheduled actions to the spec, touching only what differs."""
    if desired is None:
        return [DeregisterScalableTarget(observed.resource_id)] if observed is not None else []
    actions: list[Action] = []
    if observed is None or (observed.min_capacity, observed.max_capacity) != (
        desired.min_capacity,
        desired.max_capacity,
    ):
        actions.append(RegisterScalableTarget(desired.resource_id, desired.min_capacity, desired.max_capacity))
    policy = (desired.target_value, desired.scale_in_cooldown, desired.scale_out_cooldown)
    if desired.target_value is not None and (observed is None or observed.policy != policy):
        actions.append(
            PutScalingPolicy(
                desired.resource_id,
                desired.policy_name,
                desired.target_value,
                desired.scale_in_cooldown,
                desired.scale_out_cooldown,
            )
        )
    existing = {schedule.name: schedule for schedule in observed.schedules} if observed is not None else {}
    wanted = {schedule.name: schedule for schedule in desired.schedules}
    actions += [PutScheduledAction(desired.resource_id, s) for name, s in wanted.items() if existing.get(name) != s]
    actions += [DeleteScheduledAction(desired.resource_id, name) for name in existing if name not in wanted]
    return actions


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
        f"can build again (not its own, or its model is gone too): create an endpoint config named {name} with the "
        f"variant {endpoint.variant_name or desired.variant_name} again, or delete this resource to replace the "
        "endpoint"
    )
    return Plan(
        (),
        "InService",
        Verdict(True, "InService", f"Serving {_serving(endpoint)}"),
        degraded=Verdict(True, "LiveConfigMissing", message),
        failure_reason=message,
    )


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
            tuple(_restore_scaling(desired, observed)),
            "InService",
            Verdict(True, "InService", f"Serving {_serving(endpoint)}"),
            degraded=Verdict(True, "RolloutFailed", message),
            failure_reason=reason,
        )
    if not observed.live_config_exists:
        return _plan_missing_live_config(desired, observed, endpoint)
    actions = _create_missing(desired, observed)
    registered = observed.scaling if observed.scaling_known else None
    if registered is not None and observed.live_instance_type != desired.instance_type:
        # Application Auto Scaling refuses an instance type change of a registered variant: deregister first,
        # register again once the endpoint is InService on the new config (_plan_live does).
        actions.append(DeregisterScalableTarget(registered.resource_id))
    actions.append(
        UpdateEndpoint(
            endpoint.name,
            desired.endpoint_config_name,
            retain_variant_properties=registered is not None or desired.scaling is not None,
            deployment_config=desired.deployment_config,
        )
    )
    return Plan(
        tuple(actions),
        "Updating",
        Verdict(True, "Updating", f"Moving SageMaker endpoint {endpoint.name} to {desired.endpoint_config_name}"),
        poll=True,
        rollout=(desired.endpoint_config_name, memory.generation),
    )


def _serving(endpoint: ObservedEndpoint) -> str:
    """The configuration that serves, for messages (DescribeEndpoint may leave its name out)."""
    return (
        f"the previous configuration {endpoint.config_name}" if endpoint.config_name else "the previous configuration"
    )


def _restore_scaling(desired: DesiredEndpoint, observed: Observed) -> list[Action]:
    """Autoscaling for the config that still serves after a move that did not happen: an instance type change
    deregistered it before the move, and the config that serves needs it back now, not at the next spec change."""
    return sync_scaling(desired.scaling, observed.scaling) if observed.scaling_known else []


def _plan_rejected(desired: DesiredEndpoint, observed: Observed, owner: Owner, rejection: Rejection) -> Plan:
    """AWS refused a request of this generation: nothing moves towards it any more, but what serves gets back what
    the refused step took away (as after a failed rollout) -- unless that is what AWS refused."""
    endpoint = observed.endpoint
    if endpoint is None or endpoint.status not in SERVING_STATUSES:
        return Plan((), "Failed", Verdict(False, REJECTED, rejection.message), failure_reason=rejection.message)
    ours = endpoint.tags is None or owner.owns(endpoint.tags)
    restore = _restore_scaling(desired, observed) if ours and endpoint.status == "InService" else []
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
    scaling: ObservedScaling | None = None,
) -> Plan:
    """The finalizer's next step: autoscaling and the endpoint go first (and the endpoint must be gone), then its
    configs, then its models. Deletion is finished when the plan does not ask to poll."""
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
        actions: list[Action] = [DeregisterScalableTarget(scaling.resource_id)] if scaling is not None else []
        actions.append(DeleteEndpoint(endpoint.name))
        return Plan(tuple(actions), "Deleting", Verdict(False, "Deleting", message), poll=True)
    configs, models = leftovers
    cleanup: list[Action] = [DeleteEndpointConfig(name) for name in configs]
    cleanup += [DeleteModel(name) for name in models]
    deleted = Notice("Deleted", "SageMaker endpoint, configs and models deleted")
    return Plan(tuple(cleanup), "Deleting", Verdict(False, "Deleting", "Endpoint deleted"), notices=(deleted,))


def plan_retention(endpoint: ObservedEndpoint | None, owner: Owner, model_name: str | None) -> tuple[Action, ...]:
    """deletionPolicy Retain: mark the endpoint, its config and its model as left on purpose, so that the orphans
    command does not offer them for deletion."""
    if endpoint is None or endpoint.tags is None or not owner.owns(endpoint.tags):
        return ()
    arns = [endpoint.arn]
    if endpoint.config_name:
        arns.append(sibling_arn(endpoint.arn, "endpoint-config", endpoint.config_name))
    if model_name:
        arns.append(sibling_arn(endpoint.arn, "model", model_name))
    return tuple(TagResource(arn, {TAG_RETAINED: "true"}, ()) for arn in arns)
