"""One reconciliation pass of a `LowLatencyEndpoint`: read the resource, observe AWS, plan, apply, report.

This is the domain object the kopf handlers delegate to. A pass is synchronous (boto3 blocks) and is run by the
handlers in a bounded worker pool; it returns what to write into status and whether something is still moving,
and never sleeps: waiting is the caller's schedule.

Adoption: the annotation ``lowlatency.io/adopt-endpoint: <name>`` on a resource that manages no endpoint yet makes
the operator take over that existing SageMaker endpoint instead of creating one. The endpoint is tagged as the
resource's own (so that it is found, updated and deleted like one the operator created) and moved onto a config
built from the spec. Its original config and model are not the operator's and are left alone.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pydantic

from lowlatency import endpoints, vpc
from lowlatency.api import DEFAULT_VARIANT, Condition, ConditionType, Phase, Rollout, Spec, Status, VariantStatus
from lowlatency.aws import AwsClients, AwsError, ErrorKind, RegionClients
from lowlatency.desired import DesiredEndpoint, Owner, build_desired, scaling_resource_id
from lowlatency.naming import endpoint_name, is_sagemaker_name
from lowlatency.observability import PassOutcome
from lowlatency.planner import (
    RECREATING,
    REJECTED,
    SERVING_STATUSES,
    Memory,
    Notice,
    Observed,
    ObservedEndpoint,
    Plan,
    Rejection,
    Verdict,
    plan,
    plan_deletion,
    plan_retention,
)
from lowlatency.schema import FieldValueError
from lowlatency.tenancy import PolicyFile, TenantPolicy, violations
from lowlatency.variants import ObservedScaling

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

EventType = Literal["Normal", "Warning"]
_REJECTED_PREFIX = "AWS rejected the request: "
QUOTA_EXCEEDED = "QuotaExceeded"
ADOPT_ANNOTATION = "lowlatency.io/adopt-endpoint"


@dataclass(frozen=True)
class Event:
    type: EventType
    reason: str
    message: str

    @classmethod
    def of(cls, notice: Notice) -> Event:
        return cls("Warning" if notice.warning else "Normal", notice.reason, notice.message)


@dataclass(frozen=True)
class EndpointResource:
    """The parts of the Kubernetes object a pass needs, parsed."""

    owner: Owner
    generation: int
    spec: Spec | None
    spec_error: str
    status: Status
    adopt_endpoint: str | None = None  # the adoption annotation's endpoint name

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> EndpointResource:
        metadata = body["metadata"]
        owner = Owner(namespace=metadata["namespace"], name=metadata["name"], uid=metadata["uid"])
        spec: Spec | None = None
        spec_error = ""
        try:
            spec = Spec.model_validate(dict(body.get("spec") or {}))
        except pydantic.ValidationError as error:
            spec_error = describe_validation_error(error, prefix="spec")
        adopt = (metadata.get("annotations") or {}).get(ADOPT_ANNOTATION) or None
        if adopt is not None and not is_sagemaker_name(adopt):
            spec = None
            spec_error = (
                f"metadata.annotations[{ADOPT_ANNOTATION}]: {adopt!r} is not a SageMaker endpoint name "
                "(up to 63 letters, digits and hyphens, starting with a letter or digit)"
            )
        try:
            status = Status.model_validate(dict(body.get("status") or {}))
        except pydantic.ValidationError:
            status = Status()  # written by an older operator: start from nothing rather than stop
        return cls(
            owner=owner,
            generation=int(metadata.get("generation", 1)),
            spec=spec,
            spec_error=spec_error,
            status=status,
            adopt_endpoint=adopt,
        )

    @property
    def managed_endpoint(self) -> str | None:
        """The endpoint this resource already manages (recorded once its ownership was established)."""
        return self.status.endpoint_name if self.status.endpoint_arn is not None else None

    @property
    def adopting(self) -> bool:
        """Whether the adoption annotation decides the endpoint: nothing is managed yet."""
        return self.adopt_endpoint is not None and self.managed_endpoint is None

    @property
    def endpoint_name(self) -> str:
        """The SageMaker endpoint of this resource: the one it manages, the one to adopt, or its derived name."""
        if self.managed_endpoint is not None:
            return self.managed_endpoint
        if self.adopt_endpoint is not None:
            return self.adopt_endpoint
        return endpoint_name(self.owner.namespace, self.owner.name)


def describe_validation_error(error: pydantic.ValidationError, prefix: str) -> str:
    """``spec.model.modelDataUrl: String should match pattern ...``: each problem with its field path."""
    problems = []
    for problem in error.errors():
        cause = problem.get("ctx", {}).get("error")
        at_field = [cause.field] if isinstance(cause, FieldValueError) else []
        path = ".".join([prefix, *(str(part) for part in problem["loc"]), *at_field])
        problems.append(f"{path}: {problem['msg']}")
    return "; ".join(problems)


@dataclass(frozen=True)
class PassResult:
    """What one pass found: the status to write, the events to post, and whether to look again soon."""

    status: dict[str, Any]
    events: tuple[Event, ...] = ()
    moving: bool = False  # AWS is changing something: poll at the fast cadence
    retry: bool = False  # a transient error interrupted the pass: retry with backoff
    done: bool = False  # (deletion only) nothing is left; the finalizer may go

    @property
    def outcome(self) -> PassOutcome:
        if self.retry:
            return "retry"
        if self.moving:
            return "moving"
        return "failed" if self.status.get("phase") == "Failed" else "ok"


Clock = Callable[[], datetime.datetime]


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC).replace(microsecond=0)


@dataclass
class EndpointReconciler:
    clients: AwsClients
    tenant_policy: PolicyFile | None = None
    clock: Clock = field(default=utc_now)
    # Who uses a VPC's runtime endpoint is read from the cluster (the operator passes it; tests a stand-in).
    vpc_endpoints: vpc.VpcEndpoints = field(default_factory=vpc.VpcEndpoints)

    def reconcile(self, resource: EndpointResource, *, audit: bool = False) -> PassResult:
        """One pass; ``audit`` looks beyond the endpoint's own description for drift (tags, autoscaling, leftovers,
        the VPC endpoint), which a steady pass does not, to keep AWS calls at one describe."""
        if resource.spec is None:
            return self._refused(resource, "InvalidSpec", f"Invalid spec: {resource.spec_error}")
        refused = violations(resource.spec, resource.owner.namespace, self._policy())
        if refused:
            return self._refused(
                resource, "NotAllowed", "Not allowed by the operator's tenant policy: " + "; ".join(refused)
            )
        clients = self.clients.for_region(self.clients.region(resource.spec.region))
        memory = _memory(resource)
        look_wider = audit or memory.endpoint_arn is None or _spec_changed(resource)
        observed: Observed | None = None
        try:
            endpoint = endpoints.describe_endpoint(clients.sagemaker, resource.endpoint_name, with_tags=look_wider)
            desired = self._desired(resource, resource.spec, endpoint)
            observed = endpoints.observe(
                clients, desired, resource.owner, endpoint, look_wider=look_wider, live_model=resource.status.model_name
            )
            decision = plan(desired, observed, resource.owner, memory)
            for action in decision.actions:
                endpoints.apply(clients, action)
            # The VPC endpoint follows the spec too: after a refusal, nothing moves towards this generation.
            vpc_status = (
                {}
                if memory.rejection is not None
                else self._reconcile_vpc_endpoint(resource, desired.region, clients.ec2, look_wider=look_wider)
            )
        except (AwsError, vpc.ClusterUnreadable) as error:
            serving = (
                observed is not None and observed.endpoint is not None and observed.endpoint.status in SERVING_STATUSES
            )
            return self._aws_failure(resource, error, serving=serving)
        result = self._report(resource, desired, observed, decision)
        result.status.update(vpc_status)
        return result

    def _desired(self, resource: EndpointResource, spec: Spec, endpoint: ObservedEndpoint | None) -> DesiredEndpoint:
        """What AWS should hold; a new config keeps the live endpoint's variant name (an adopted endpoint's own)."""
        rightsizing = resource.status.rightsizing
        return build_desired(
            spec,
            resource.owner,
            self.clients.settings.default_region,
            measured_target=None if rightsizing is None else rightsizing.target_invocations_per_instance,
            endpoint_name=resource.endpoint_name,
            variant_name=(endpoint.variant_name if endpoint is not None else None) or DEFAULT_VARIANT,
        )

    def _refused(self, resource: EndpointResource, reason: str, message: str) -> PassResult:
        """A spec the operator will not act on: Failed, with one Warning when the refusal is new (every resync finds
        it again; repeating the Event at each would bury the resource's other Events)."""
        ready = _condition(resource.status, "Ready")
        known = ready is not None and (ready.reason, ready.message, ready.observed_generation) == (
            reason,
            message,
            resource.generation,
        )
        return PassResult(
            self._status(resource, "Failed", Verdict(False, reason, message), failure_reason=message),
            events=() if known else (Event("Warning", reason, message),),
        )

    def _reconcile_vpc_endpoint(
        self, resource: EndpointResource, region: str, ec2: EC2Client, *, look_wider: bool
    ) -> dict[str, Any]:
        """Use, create or release the VPC's runtime endpoint; what to write about it in status."""
        assert resource.spec is not None
        spec = resource.spec.vpc_endpoint
        recorded = resource.status.vpc_endpoint_id
        if (spec is None and recorded is None) or (spec is not None and recorded is not None and not look_wider):
            return {}
        used = self.vpc_endpoints.use(ec2, region, spec) if spec is not None else None
        if recorded is not None and (used is None or used.id != recorded):
            # The spec names another VPC now, or none: let go of the endpoint of the previous one.
            previous = self.vpc_endpoints.vpc_of(ec2, region, recorded)
            if previous is not None and (spec is None or previous != spec.vpc_id):
                self.vpc_endpoints.leave(ec2, region, previous, resource.owner)
        if spec is None:
            return {"vpcEndpointId": None, "vpcEndpointDnsNames": None}
        if used is None:
            return {}
        return {"vpcEndpointId": used.id, "vpcEndpointDnsNames": list(used.dns_names)}

    def _vpcs_used(self, resource: EndpointResource, ec2: EC2Client, region: str) -> set[str]:
        """The VPCs whose runtime endpoint a resource may use: the one its spec names, the one of the endpoint it
        recorded (which may be another, after a change of spec)."""
        named = resource.spec.vpc_endpoint if resource.spec is not None else None
        recorded = resource.status.vpc_endpoint_id
        previous = self.vpc_endpoints.vpc_of(ec2, region, recorded) if recorded is not None else None
        return {vpc_id for vpc_id in (named.vpc_id if named is not None else None, previous) if vpc_id is not None}

    def _policy(self) -> TenantPolicy | None:
        return self.tenant_policy.current() if self.tenant_policy is not None else None

    def delete(self, resource: EndpointResource) -> PassResult:
        """One step of removing the AWS resources; ``done`` once nothing of them is left."""
        clients_region = self.clients.region(resource.spec.region if resource.spec else None)
        clients = self.clients.for_region(clients_region)
        if resource.spec is not None and resource.spec.deletion_policy == "Retain":
            return self._retain(resource, clients)
        name = resource.endpoint_name
        try:
            endpoint = endpoints.describe_endpoint(clients.sagemaker, name, with_tags=True)
            leftovers: tuple[list[str], list[str]] = ([], [])
            scaling: tuple[ObservedScaling, ...] = ()
            if endpoint is None:
                leftovers = endpoints.owned_leftovers(clients.sagemaker, name, resource.owner, keep=set())
            elif endpoint.status != "Deleting":
                variants = [variant.name for variant in endpoint.variants] + _spec_variants(resource.spec, endpoint)
                resource_ids = [scaling_resource_id(name, variant) for variant in variants]
                scaling = endpoints.describe_scaling(clients.autoscaling, resource_ids)
            decision = plan_deletion(endpoint, resource.owner, leftovers, scaling)
            for action in decision.actions:
                endpoints.apply(clients, action)
            if endpoint is None:
                for vpc_id in self._vpcs_used(resource, clients.ec2, clients_region):
                    self.vpc_endpoints.leave(clients.ec2, clients_region, vpc_id, resource.owner)
        except (AwsError, vpc.ClusterUnreadable) as error:
            return self._aws_failure(resource, error)
        status = self._status(resource, "Deleting", decision.ready)
        if decision.poll:
            return PassResult(status, moving=True)
        return PassResult(status, events=tuple(Event.of(notice) for notice in decision.notices), done=True)

    def _retain(self, resource: EndpointResource, clients: RegionClients) -> PassResult:
        try:
            endpoint = endpoints.describe_endpoint(clients.sagemaker, resource.endpoint_name, with_tags=True)
            serving = None
            if endpoint is not None and endpoint.config_name:
                serving = endpoints.config_variants(clients.sagemaker, endpoint.config_name)
            # The serving config's models; the one recorded in status when the config is gone.
            models = [model for _, model in serving.values()] if serving else [resource.status.model_name]
            for action in plan_retention(endpoint, resource.owner, [model for model in models if model]):
                endpoints.apply(clients, action)
            for vpc_id in self._vpcs_used(resource, clients.ec2, clients.region):
                self.vpc_endpoints.retain(clients.ec2, clients.region, vpc_id)
        except (AwsError, vpc.ClusterUnreadable) as error:
            return self._aws_failure(resource, error)
        message = "deletionPolicy is Retain: the SageMaker endpoint, configs and models are left in AWS"
        return PassResult({}, events=(Event("Normal", "Retained", message),), done=True)

    def _report(
        self, resource: EndpointResource, desired: DesiredEndpoint, observed: Observed, decision: Plan
    ) -> PassResult:
        endpoint = observed.endpoint
        status = self._status(
            resource,
            decision.phase,
            decision.ready,
            degraded=decision.degraded,
            failure_reason=decision.failure_reason,
        )
        status["endpointName"] = desired.endpoint_name
        if (
            endpoint is not None
            and not decision.adopted
            and (endpoint.tags is None or resource.owner.owns(endpoint.tags))
        ):
            status["endpointArn"] = endpoint.arn
            status["endpointConfigName"] = endpoint.config_name
            status["currentInstanceCount"] = endpoint.current_instance_count
            status["desiredInstanceCount"] = endpoint.desired_instance_count
            status["variants"] = _variants_report(resource.status.variants, desired, endpoint)
        elif endpoint is None:
            # Nothing serves (not yet, or deleted outside the operator): no config, instances or live generation to
            # report; without a live generation the passes until InService look at everything (autoscaling went
            # with a deleted endpoint). The ARN stays: it records that the endpoint was this resource's.
            status |= {
                "endpointConfigName": None,
                "currentInstanceCount": None,
                "desiredInstanceCount": None,
                "variants": _variants_report(resource.status.variants, desired, None),
                "observedGeneration": None,
            }
        if decision.live:
            status["observedGeneration"] = resource.generation
            status["modelName"] = desired.model_name
        if decision.rollout is not None:
            config_name, generation = decision.rollout
            status["rollout"] = Rollout(endpoint_config_name=config_name, generation=generation).model_dump(
                by_alias=True
            )
        return PassResult(status, events=transition_events(resource.status, decision), moving=decision.poll)

    def _aws_failure(
        self, resource: EndpointResource, error: AwsError | vpc.ClusterUnreadable, *, serving: bool = False
    ) -> PassResult:
        """A pass that AWS (or the cluster, asked who shares a VPC endpoint) stopped: rejected, over a quota, or
        retried with backoff (a cluster that cannot be read is always retried)."""
        if isinstance(error, AwsError) and error.kind is ErrorKind.PERMANENT:
            message = f"{_REJECTED_PREFIX}{error}"
            rejected = Verdict(serving, REJECTED, message)
            if serving:  # the previous configuration still takes traffic: degraded, not down
                ready = Verdict(True, "InService", "Serving the previous configuration")
                status = self._status(resource, "InService", ready, degraded=rejected, failure_reason=message)
            else:
                status = self._status(resource, "Failed", rejected, failure_reason=message)
            return PassResult(status, events=(Event("Warning", REJECTED, message),))
        if isinstance(error, AwsError) and error.kind is ErrorKind.QUOTA:
            return self._quota_exceeded(resource, error, serving=serving)
        previous = _condition(resource.status, "Ready")
        # A failed endpoint being replaced stays so through a retry, so that its absence is not taken for drift.
        reason = RECREATING if previous is not None and previous.reason == RECREATING else "Retrying"
        verdict = Verdict(previous is not None and previous.status == "True", reason, f"Retrying after: {error}")
        phase = resource.status.phase or "Pending"
        return PassResult(self._status(resource, phase, verdict), retry=True)

    def _quota_exceeded(self, resource: EndpointResource, error: AwsError, *, serving: bool) -> PassResult:
        """An account quota stands in the way: reported once, naming the quota, and asked again at the steady
        cadence, not with a quick backoff (raising a quota takes a person and hours) and not given up (it may be
        raised)."""
        quota = f"the account's quota '{error.quota}'" if error.quota else "an account quota"
        message = (
            f"{error} -- the request exceeds {quota} in this region; ask for more in Service Quotas (or use less): "
            "the operator sends it again at every resync until it goes through"
        )
        exceeded = Verdict(serving, QUOTA_EXCEEDED, message)
        reported = _condition(resource.status, "Degraded" if serving else "Ready")
        already = reported is not None and reported.reason == QUOTA_EXCEEDED
        events = () if already else (Event("Warning", QUOTA_EXCEEDED, message),)
        if serving:  # what serves keeps serving; what the request wanted waits for the quota
            ready = Verdict(True, "InService", "Serving the previous configuration")
            status = self._status(resource, "InService", ready, degraded=exceeded, failure_reason=message)
        else:
            status = self._status(resource, "Pending", exceeded, failure_reason=message)
        return PassResult(status, events=events)

    def _status(
        self,
        resource: EndpointResource,
        phase: Phase,
        ready: Verdict,
        *,
        degraded: Verdict | None = None,
        failure_reason: str = "",
    ) -> dict[str, Any]:
        conditions = list(resource.status.conditions)
        conditions = with_condition(conditions, "Ready", ready, resource.generation, self.clock)
        if degraded is not None:
            conditions = with_condition(conditions, "Degraded", degraded, resource.generation, self.clock)
        return {
            "phase": phase,
            "failureReason": failure_reason,
            "conditions": [c.model_dump(by_alias=True, exclude_none=True, mode="json") for c in conditions],
        }


def merge_variant_status(
    current: Sequence[VariantStatus],
    changes: Mapping[str, Mapping[str, Any]],
    names: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """status.variants as a whole: a JSON merge patch replaces a list whole, so each writer of it (the reconciler:
    kinds, counts and weights; the benchmark: each variant's benchmark) writes every entry with the other's fields
    kept. ``changes``: per variant name, the fields (as status names them) this writer sets, None removing one;
    ``names``: the variants and their order when this writer decides them, else the ones in ``current``."""
    kept = {entry.name: entry.model_dump(by_alias=True, exclude_none=True, mode="json") for entry in current}
    merged = []
    for name in names if names is not None else list(kept):
        entry = {**kept.get(name, {"name": name}), **changes.get(name, {})}
        merged.append({key: value for key, value in entry.items() if value is not None})
    return merged


def _variants_report(
    current: Sequence[VariantStatus], desired: DesiredEndpoint, endpoint: ObservedEndpoint | None
) -> list[dict[str, Any]]:
    """status.variants: the spec's variants in its order, then those that still serve without being in it (being
    removed), each with what DescribeEndpoint said of it (nothing while it does not serve)."""
    live = {variant.name: variant for variant in endpoint.variants} if endpoint is not None else {}
    names = [variant.name for variant in desired.variants] + [name for name in live if desired.variant(name) is None]
    changes = {}
    for name in names:
        wanted, observed = desired.variant(name), live.get(name)
        kind = wanted.kind if wanted is not None else live[name].kind
        reported = VariantStatus(name=name, kind=kind)
        if observed is not None:
            reported = VariantStatus(
                name=name,
                kind=kind,
                current_instance_count=observed.current_instance_count,
                desired_instance_count=observed.desired_instance_count,
                current_provisioned_concurrency=observed.current_provisioned_concurrency,
                desired_provisioned_concurrency=observed.desired_provisioned_concurrency,
                current_weight=observed.current_weight,
                desired_weight=observed.desired_weight,
            )
        changes[name] = reported.model_dump(by_alias=True, mode="json", exclude={"benchmark"})
    return merge_variant_status(current, changes, names)


def _spec_variants(spec: Spec | None, endpoint: ObservedEndpoint) -> list[str]:
    """The variant names the spec gives the endpoint (the shorthand's one named as the live variant is)."""
    if spec is None:
        return []
    production = spec.production_variants(endpoint.variant_name or DEFAULT_VARIANT)
    return [variant.name for variant in (*production, *spec.shadow_variants)]


def _spec_changed(resource: EndpointResource) -> bool:
    return resource.status.observed_generation != resource.generation


def _rejection(status: Status, generation: int) -> Rejection | None:
    """The request of this generation that AWS already refused (reported in Ready or Degraded), if any."""
    for condition in status.conditions:
        if condition.reason == REJECTED and condition.observed_generation == generation:
            # The message is _aws_failure's: the prefix, then the AwsError ("UpdateEndpoint failed: ...").
            operation = condition.message.removeprefix(_REJECTED_PREFIX).partition(" failed")[0]
            return Rejection(operation, condition.message)
    return None


def _memory(resource: EndpointResource) -> Memory:
    rollout = resource.status.rollout
    ready = _condition(resource.status, "Ready")
    return Memory(
        generation=resource.generation,
        endpoint_arn=resource.status.endpoint_arn,
        rollout_config_name=rollout.endpoint_config_name if rollout else None,
        rollout_generation=rollout.generation if rollout else None,
        observed_generation=resource.status.observed_generation,
        adopting=resource.adopting,
        recreating=ready is not None and ready.reason == RECREATING,
        rejection=_rejection(resource.status, resource.generation),
    )


def _condition(status: Status, type_: ConditionType) -> Condition | None:
    return next((c for c in status.conditions if c.type == type_), None)


def with_condition(
    conditions: list[Condition], type_: ConditionType, verdict: Verdict, generation: int, clock: Clock
) -> list[Condition]:
    """Set one condition, keeping its lastTransitionTime unless its status changes (the Kubernetes convention)."""
    value: Literal["True", "False"] = "True" if verdict.status else "False"
    previous = next((c for c in conditions if c.type == type_), None)
    transition = previous.last_transition_time if previous is not None and previous.status == value else clock()
    updated = Condition(
        type=type_,
        status=value,
        reason=verdict.reason,
        message=verdict.message,
        observed_generation=generation,
        last_transition_time=transition,
    )
    return (
        [c for c in conditions if c.type != type_] + [updated]
        if previous is None
        else [updated if c.type == type_ else c for c in conditions]
    )


def transition_events(previous: Status, decision: Plan) -> tuple[Event, ...]:
    """The Events of one pass: what the plan did worth telling, a new phase, a rollout that just failed."""
    events = [Event.of(notice) for notice in decision.notices]
    if decision.phase != previous.phase:
        message = decision.ready.message or f"SageMaker endpoint is {decision.phase}"
        if decision.phase == "Failed":
            events.append(Event("Warning", decision.ready.reason, message))
        else:
            events.append(Event("Normal", decision.phase, message))
    degraded = _condition(previous, "Degraded")
    if decision.degraded.status and (degraded is None or degraded.status != "True"):
        events.append(Event("Warning", decision.degraded.reason, decision.degraded.message))
    return tuple(events)
