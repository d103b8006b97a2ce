"""What the planner reports in each state AWS can be in: the phase, the Ready condition (status, reason, a message
naming what it is about), whether it polls, and the events it posts. Users read these with kubectl and wait on
them (``kubectl wait --for=condition=Ready``); tests/test_planner.py covers the actions themselves."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from lowlatency.api import Phase
from lowlatency.desired import DesiredEndpoint, Owner, ScheduledScaling, build_desired
from lowlatency.planner import (
    CreateEndpoint,
    CreateEndpointConfig,
    CreateModel,
    DeleteEndpoint,
    Memory,
    Observed,
    ObservedEndpoint,
    Rejection,
    TagResource,
    UpdateEndpoint,
    Verdict,
    plan,
    plan_deletion,
)
from lowlatency.variants import ObservedScaling, ObservedVariant, UpdateEndpointWeightsAndCapacities
from specs import parsed

OWNER = Owner("adtech", "bid-filter", "uid-1")
DESIRED = build_desired(parsed(), OWNER, "us-east-1")
NAME = DESIRED.endpoint_name
SCALING = {"minCapacity": 2, "maxCapacity": 8, "targetInvocationsPerInstance": 6000}
SCHEDULE = ScheduledScaling("evening-peak", "cron(0 18 * * ? *)", 4, 8)
EVENING_PEAK = {"name": SCHEDULE.name, "cron": SCHEDULE.schedule, "minCapacity": 4, "maxCapacity": 8}
SCALED = build_desired(parsed(autoscaling={**SCALING, "schedules": [EVENING_PEAK]}), OWNER, "us-east-1")
RESOURCE_ID = f"endpoint/{NAME}/variant/AllTraffic"
FOREIGN_TAGS = {"owner": "legacy-team"}


def observed_endpoint(
    status: str = "InService",
    config: str | None = DESIRED.endpoint_config_name,
    *,
    variant_names: tuple[str, ...] = ("AllTraffic",),
    instances: int = 2,
    **extra: object,
) -> ObservedEndpoint:
    """The endpoint as DescribeEndpoint reports it: variants of ``instances`` instances each, weight 1."""
    return ObservedEndpoint(
        name=NAME,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{NAME}",
        status=status,
        config_name=config,
        variants=tuple(ObservedVariant(name, False, False, instances, instances, 1.0, 1.0) for name in variant_names),
        **extra,  # type: ignore[arg-type]
    )


def found(endpoint: ObservedEndpoint | None = None, **extra: object) -> Observed:
    return Observed(endpoint=endpoint, missing_models=(), config_exists=True, **extra)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Case:
    observed: Observed
    memory: Memory
    phase: Phase
    ready: tuple[bool, str]  # status, reason
    mentions: str  # what the Ready message must name
    poll: bool
    live: bool = False
    desired: DesiredEndpoint = DESIRED
    failure_reason: str = ""
    degraded: tuple[bool, str] = (False, "NoFailedRollout")
    notices: tuple[str, ...] = ()
    actions: tuple[type, ...] = ()


REFUSED = Rejection("UpdateEndpoint", "AWS rejected the request: UpdateEndpoint failed: ValidationException")
OLD = "old-config"
ROLLED_OUT = Memory(generation=2, rollout_config_name=DESIRED.endpoint_config_name, rollout_generation=2)

CASES = {
    "nothing yet": Case(
        Observed(endpoint=None, missing_models=(DESIRED.model_name,), config_exists=False),
        Memory(1),
        "Creating",
        (False, "Creating"),
        NAME,
        poll=True,
        actions=(CreateModel, CreateEndpointConfig, CreateEndpoint),
    ),
    "being created": Case(found(observed_endpoint("Creating")), Memory(1), "Creating", (False, "Creating"), NAME, True),
    "moving by itself": Case(
        found(observed_endpoint("SystemUpdating")), Memory(1), "Updating", (True, "SystemUpdating"), NAME, True
    ),
    "deleted by someone else": Case(
        found(observed_endpoint("Deleting")), Memory(1), "Updating", (False, "Deleting"), NAME, True
    ),
    "replaced by the operator, the failed one still deleting": Case(
        found(observed_endpoint("Deleting")), Memory(2, recreating=True), "Creating", (False, "Recreating"), NAME, True
    ),
    "replaced by the operator and in service before status says so": Case(
        found(observed_endpoint()), Memory(2, recreating=True), "InService", (True, "InService"), "", False, live=True
    ),
    "failed in this generation": Case(
        found(observed_endpoint("Failed", failure_reason="Image not found")),
        ROLLED_OUT,
        "Failed",
        (False, "EndpointFailed"),
        "Image not found",
        False,
        failure_reason="Image not found",
    ),
    "failed on the spec's config, the rollout not recorded": Case(
        found(observed_endpoint("Failed", failure_reason="Image not found")),
        Memory(1),
        "Failed",
        (False, "EndpointFailed"),
        NAME,
        False,
        failure_reason="Image not found",
    ),
    "failed on an earlier config, the rollout not recorded": Case(
        found(observed_endpoint("Failed", config=OLD, failure_reason="boom")),
        Memory(2),
        "Creating",
        (False, "Recreating"),
        NAME,
        True,
        notices=("Recreating",),
        actions=(DeleteEndpoint,),
    ),
    "out of service": Case(
        found(observed_endpoint("OutOfService", failure_reason="instances lost")),
        Memory(1),
        "Failed",
        (False, "OutOfService"),
        f"{NAME} is OutOfService: instances lost",
        False,
        failure_reason="instances lost",
    ),
    "rolling deployment and rollback failed": Case(
        found(observed_endpoint("UpdateRollbackFailed", config=OLD, failure_reason="batch 2 failed")),
        Memory(2),
        "InService",
        (True, "UpdateRollbackFailed"),
        NAME,
        False,
        failure_reason="batch 2 failed",
        degraded=(True, "UpdateRollbackFailed"),
    ),
    "in service on the spec": Case(
        found(observed_endpoint()), Memory(1), "InService", (True, "InService"), "", False, True
    ),
    "in service, the count to change": Case(
        found(observed_endpoint()),
        Memory(2),
        "Updating",
        (True, "Scaling"),
        NAME,
        True,
        live=True,
        desired=build_desired(parsed(instanceCount=4), OWNER, "us-east-1"),
        actions=(UpdateEndpointWeightsAndCapacities,),
    ),
    "in service on another config": Case(
        found(observed_endpoint(config=OLD)),
        Memory(2),
        "Updating",
        (True, "Updating"),
        DESIRED.endpoint_config_name,
        True,
        actions=(UpdateEndpoint,),
    ),
    "the move of this generation failed": Case(
        found(observed_endpoint(config=OLD, failure_reason="health check failed")),
        ROLLED_OUT,
        "InService",
        (True, "InService"),
        f"Serving the previous configuration {OLD}",
        False,
        failure_reason="health check failed",
        degraded=(True, "RolloutFailed"),
    ),
    "the spec back at the config an earlier generation moved to": Case(
        found(observed_endpoint(config=OLD)),
        dataclasses.replace(ROLLED_OUT, generation=4),
        "Updating",
        (True, "Updating"),
        DESIRED.endpoint_config_name,
        True,
        actions=(UpdateEndpoint,),
    ),
    "someone else's endpoint under the name": Case(
        found(observed_endpoint(tags=FOREIGN_TAGS)),
        Memory(1),
        "Failed",
        (False, "NameConflict"),
        "not managed by lowlatency-operator",
        False,
    ),
    "adopting": Case(
        found(observed_endpoint(config=OLD, tags=FOREIGN_TAGS)),
        Memory(1, adopting=True),
        "Updating",
        (True, "Adopting"),
        NAME,
        True,
        notices=("Adopted",),
        actions=(TagResource,),
    ),
    "creation refused": Case(
        Observed(endpoint=None, missing_models=(DESIRED.model_name,), config_exists=False),
        Memory(1, rejection=REFUSED),
        "Failed",
        (False, "AWSRejected"),
        REFUSED.message,
        False,
        failure_reason=REFUSED.message,
    ),
    "update refused while the endpoint serves": Case(
        found(observed_endpoint(config=OLD)),
        Memory(2, rejection=REFUSED),
        "InService",
        (True, "InService"),
        f"Serving the previous configuration {OLD}",
        False,
        failure_reason=REFUSED.message,
        degraded=(True, "AWSRejected"),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_state_reports_its_phase_and_ready_condition(case: Case) -> None:
    result = plan(case.desired, case.observed, OWNER, case.memory)
    assert result.phase == case.phase
    assert (result.ready.status, result.ready.reason) == case.ready
    assert case.mentions in result.ready.message
    assert (result.poll, result.live) == (case.poll, case.live)
    assert (result.degraded.status, result.degraded.reason) == case.degraded
    assert [notice.reason for notice in result.notices] == list(case.notices)
    assert len(result.actions) == len(case.actions)
    for action, kind in zip(result.actions, case.actions, strict=True):
        assert isinstance(action, kind)
    if case.phase == "Failed" or case.degraded[0]:
        # status.failureReason: AWS's own words when it gave some, else what the condition says.
        assert result.failure_reason == (case.failure_reason or result.ready.message)
    else:
        assert result.failure_reason == ""


def test_a_failure_without_awss_words_still_has_a_reason() -> None:
    rolled_back = found(observed_endpoint("UpdateRollbackFailed", config=OLD))
    failed_move = found(observed_endpoint(config=OLD))
    for result in (plan(DESIRED, rolled_back, OWNER, Memory(2)), plan(DESIRED, failed_move, OWNER, ROLLED_OUT)):
        assert result.failure_reason
        assert result.failure_reason in result.degraded.message
    out = plan(DESIRED, found(observed_endpoint("OutOfService")), OWNER, Memory(1))
    assert out.ready.message == f"SageMaker endpoint {NAME} is OutOfService"


def test_a_move_under_autoscaling_keeps_the_live_count_even_before_the_target_is_registered() -> None:
    unregistered = found(
        observed_endpoint(config=OLD), live_instance_types={"AllTraffic": "ml.c5.xlarge"}, scaling_known=True
    )
    update = plan(SCALED, unregistered, OWNER, Memory(2)).actions[-1]
    assert isinstance(update, UpdateEndpoint)
    assert update.retain_variant_properties


# --- the serving config deleted outside the operator, found before a move ---

MISSING_LIVE_CONFIG = found(observed_endpoint(config=OLD, variant_names=("Primary",)), live_config_exists=False)


def test_a_deleted_serving_config_the_operator_built_is_created_again_before_the_move() -> None:
    request = {"EndpointConfigName": OLD, "ProductionVariants": [{"VariantName": "Primary"}]}
    observed = dataclasses.replace(MISSING_LIVE_CONFIG, live_config_request=request)
    result = plan(DESIRED, observed, OWNER, Memory(2))
    assert result.actions == (CreateEndpointConfig(request, OLD),)
    assert (result.phase, result.ready.status, result.ready.reason, result.poll) == ("Updating", True, "Updating", True)
    (notice,) = result.notices
    assert (notice.reason, notice.warning) == ("DriftRepaired", True)
    for name in (OLD, NAME, DESIRED.endpoint_config_name):
        assert name in notice.message
    assert result.ready.message == notice.message
    assert result.rollout is None  # the move itself comes at the next pass


@pytest.mark.parametrize(("variants", "variant"), [(("Primary",), "Primary"), ((), "AllTraffic")])
def test_a_deleted_serving_config_the_operator_cannot_build_is_reported_and_no_update_sent(
    variants: tuple[str, ...], variant: str
) -> None:
    observed = dataclasses.replace(MISSING_LIVE_CONFIG, endpoint=observed_endpoint(config=OLD, variant_names=variants))
    result = plan(DESIRED, observed, OWNER, Memory(2))
    assert result.actions == ()
    assert (result.phase, result.ready) == (
        "InService",
        Verdict(True, "InService", f"Serving the previous configuration {OLD}"),
    )
    assert (result.degraded.status, result.degraded.reason) == (True, "LiveConfigMissing")
    assert result.failure_reason == result.degraded.message
    assert f"create an endpoint config named {OLD} with the variant {variant}" in result.degraded.message
    assert (result.poll, result.rollout) == (False, None)


# --- drift: each repair is announced by what it repairs ---


def audited(endpoint: ObservedEndpoint | None = None, **extra: object) -> Observed:
    """What the drift audit of an endpoint in service on the spec's config found."""
    return found(endpoint or observed_endpoint(), **extra)


REGISTERED = ObservedScaling(RESOURCE_ID, 2, 8, (6000.0, 300, 60), (SCHEDULE,))
NIGHT = ScheduledScaling("night", "cron(0 2 * * ? *)", 2, 4)
DRIFTS = {
    "instance count": (
        DESIRED,
        audited(observed_endpoint(instances=5)),
        ["set back to 2"],
    ),
    "target deregistered": (
        SCALED,
        audited(scaling_known=True),
        ["(2-8)", f"{NAME}-invocations-per-instance", "evening-peak"],
    ),
    "target registered": (DESIRED, audited(scaling_known=True, scaling=(REGISTERED,)), [f"Autoscaling of {NAME}"]),
    "schedule added": (
        SCALED,
        audited(scaling_known=True, scaling=(dataclasses.replace(REGISTERED, schedules=(SCHEDULE, NIGHT)),)),
        ["Scheduled action night"],
    ),
    "model deleted": (
        DESIRED,
        dataclasses.replace(audited(), missing_models=(DESIRED.model_name,)),
        [f"Model {DESIRED.model_name}"],
    ),
    "config deleted": (
        DESIRED,
        dataclasses.replace(audited(), config_exists=False),
        [f"Endpoint config {DESIRED.endpoint_config_name}"],
    ),
    "tags edited": (
        DESIRED,
        audited(tags={observed_endpoint().arn: {**DESIRED.tags, "team": "x", "added-by-hand": "yes"}}),
        [f"Tags of endpoint/{NAME} were changed outside the operator (team, added-by-hand)"],
    ),
}


@pytest.mark.parametrize(("desired", "observed", "named"), DRIFTS.values(), ids=DRIFTS.keys())
def test_each_drift_repair_is_announced_by_what_it_repairs(
    desired: DesiredEndpoint, observed: Observed, named: list[str]
) -> None:
    result = plan(desired, observed, OWNER, Memory(generation=4, observed_generation=4))
    assert len(result.notices) == len(result.actions) == len(named)
    for notice, action, what in zip(result.notices, result.actions, named, strict=True):
        assert notice.reason == "DriftRepaired"
        assert what in notice.message
        assert type(action).__name__ not in notice.message  # what changed, not the operator's call


def test_every_drift_found_in_one_audit_is_repaired_in_one_pass() -> None:
    arn = observed_endpoint().arn
    observed = Observed(
        endpoint=observed_endpoint(),
        missing_models=(DESIRED.model_name,),
        config_exists=True,
        scaling_known=True,
        scaling=(dataclasses.replace(REGISTERED, policy=None),),
        tags={arn: {**SCALED.tags, "added-by-hand": "yes"}},
    )
    result = plan(SCALED, observed, OWNER, Memory(generation=4, observed_generation=4))
    assert [type(action).__name__ for action in result.actions] == ["CreateModel", "TagResource", "PutScalingPolicy"]
    assert [notice.reason for notice in result.notices] == ["DriftRepaired"] * 3


# --- deletion ---

DELETIONS = {
    "in service": (observed_endpoint(), f"Deleting SageMaker endpoint {NAME}", True, (DeleteEndpoint,)),
    "already deleting": (observed_endpoint("Deleting"), f"Deleting SageMaker endpoint {NAME}", True, ()),
    "moving": (observed_endpoint("Updating"), f"Waiting for SageMaker endpoint {NAME} to leave Updating", True, ()),
    "someone else's": (
        observed_endpoint(tags=FOREIGN_TAGS),
        f"{NAME} is not managed by lowlatency-operator",
        False,
        (),
    ),
    "gone": (None, "deleted", False, ()),
}


@pytest.mark.parametrize(("endpoint", "message", "poll", "actions"), DELETIONS.values(), ids=DELETIONS.keys())
def test_each_step_of_deletion_reports_deleting_and_what_it_waits_for(
    endpoint: ObservedEndpoint | None, message: str, poll: bool, actions: tuple[type, ...]
) -> None:
    result = plan_deletion(endpoint, OWNER, ([], []))
    assert result.phase == "Deleting"
    assert (result.ready.status, result.ready.reason) == (False, "Deleting")
    assert message in result.ready.message
    assert result.poll == poll
    assert tuple(type(action) for action in result.actions) == actions
