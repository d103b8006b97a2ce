"""The planner's decisions, one case per situation the operator can find AWS in (no servers involved)."""

import dataclasses

import pytest

from lowlatency.desired import TAG_RETAINED, Owner, ScheduledScaling, build_desired
from lowlatency.planner import (
    CreateEndpoint,
    CreateEndpointConfig,
    CreateModel,
    DeleteEndpoint,
    DeleteEndpointConfig,
    DeleteModel,
    Memory,
    Notice,
    Observed,
    ObservedEndpoint,
    Rejection,
    TagResource,
    UpdateEndpoint,
    Verdict,
    plan,
    plan_deletion,
    plan_retention,
)
from lowlatency.variants import (
    DeleteScheduledAction,
    DeregisterScalableTarget,
    ObservedScaling,
    ObservedVariant,
    PutScalingPolicy,
    PutScheduledAction,
    RegisterScalableTarget,
    UpdateEndpointWeightsAndCapacities,
    VariantChange,
)
from specs import parsed

OWNER = Owner("adtech", "bid-filter", "uid-1")
DESIRED = build_desired(parsed(), OWNER, "us-east-1")


def endpoint(
    status: str = "InService", config: str | None = DESIRED.endpoint_config_name, *, instances: int = 2, **extra: object
) -> ObservedEndpoint:
    """The endpoint as DescribeEndpoint reports it, with its one variant of ``instances`` instances."""
    variant = ObservedVariant("AllTraffic", current_instance_count=instances, desired_instance_count=instances)
    return ObservedEndpoint(
        name=DESIRED.endpoint_name,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{DESIRED.endpoint_name}",
        status=status,
        config_name=config,
        variants=(dataclasses.replace(variant, current_weight=1.0, desired_weight=1.0),),
        **extra,  # type: ignore[arg-type]
    )


MISSING = (DESIRED.model_name,)
NOTHING = Observed(endpoint=None, missing_models=MISSING, config_exists=False)


def test_nothing_exists_creates_model_config_and_endpoint_in_order() -> None:
    result = plan(DESIRED, NOTHING, OWNER, Memory(generation=1))
    assert [type(action) for action in result.actions] == [CreateModel, CreateEndpointConfig, CreateEndpoint]
    assert result.phase == "Creating"
    assert result.poll
    assert not result.ready.status
    assert result.rollout == (DESIRED.endpoint_config_name, 1)


def test_after_a_crash_between_calls_only_the_missing_ones_are_created() -> None:
    observed = Observed(endpoint=None, missing_models=(), config_exists=False)
    result = plan(DESIRED, observed, OWNER, Memory(generation=1))
    assert [type(action) for action in result.actions] == [CreateEndpointConfig, CreateEndpoint]


def test_creating_endpoint_is_waited_for_without_actions() -> None:
    observed = Observed(endpoint=endpoint("Creating"), missing_models=(), config_exists=True)
    result = plan(DESIRED, observed, OWNER, Memory(generation=1))
    assert result.actions == ()
    assert result.phase == "Creating"
    assert result.poll
    assert not result.live


def test_in_service_on_the_desired_config_is_live_and_ready() -> None:
    observed = Observed(endpoint=endpoint(), missing_models=(), config_exists=True)
    result = plan(DESIRED, observed, OWNER, Memory(generation=3))
    assert result.actions == ()
    assert result.phase == "InService"
    assert result.ready.status
    assert result.live
    assert not result.poll


def test_superseded_configs_and_models_are_deleted_once_in_service_on_the_new_one() -> None:
    observed = Observed(
        endpoint=endpoint(),
        missing_models=(),
        config_exists=True,
        superseded_configs=("old-config",),
        superseded_models=("old-model",),
    )
    result = plan(DESIRED, observed, OWNER, Memory(generation=2))
    assert result.actions == (DeleteEndpointConfig("old-config"), DeleteModel("old-model"))


def test_failed_creation_becomes_failed_with_the_reason_and_is_not_retried() -> None:
    observed = Observed(
        endpoint=endpoint("Failed", failure_reason="Image not found"), missing_models=(), config_exists=True
    )
    memory = Memory(generation=1, rollout_config_name=DESIRED.endpoint_config_name, rollout_generation=1)
    result = plan(DESIRED, observed, OWNER, memory)
    assert result.actions == ()
    assert result.phase == "Failed"
    assert "Image not found" in result.ready.message
    assert result.failure_reason == "Image not found"


def test_a_new_generation_replaces_a_failed_endpoint() -> None:
    observed = Observed(endpoint=endpoint("Failed", failure_reason="boom"), missing_models=(), config_exists=True)
    memory = Memory(generation=2, rollout_config_name=DESIRED.endpoint_config_name, rollout_generation=1)
    result = plan(DESIRED, observed, OWNER, memory)
    assert result.actions == (DeleteEndpoint(DESIRED.endpoint_name),)
    assert result.poll


def test_an_endpoint_of_another_owner_is_never_touched() -> None:
    foreign = endpoint(tags={"lowlatency.io/managed-by": "lowlatency-operator", "lowlatency.io/uid": "uid-2"})
    result = plan(DESIRED, Observed(endpoint=foreign, missing_models=(), config_exists=True), OWNER, Memory(1))
    assert result.actions == ()
    assert result.phase == "Failed"
    assert result.ready.reason == "NameConflict"


def test_an_untagged_endpoint_with_our_name_is_never_touched() -> None:
    foreign = endpoint(tags={})
    result = plan(DESIRED, Observed(endpoint=foreign, missing_models=(), config_exists=True), OWNER, Memory(1))
    assert result.actions == ()
    assert "not managed by lowlatency-operator" in result.ready.message


def test_endpoint_deleted_out_of_band_is_recreated_with_an_event() -> None:
    memory = Memory(generation=1, endpoint_arn="arn:aws:sagemaker:us-east-1:1:endpoint/x")
    result = plan(DESIRED, Observed(endpoint=None, missing_models=(), config_exists=True), OWNER, memory)
    assert result.actions == (CreateEndpoint(DESIRED.endpoint_name, DESIRED.endpoint_config_name, DESIRED.tags),)
    (notice,) = result.notices
    assert notice.reason == "DriftRepaired"
    assert notice.warning
    assert "deleted outside the operator" in notice.message


def test_a_failed_endpoint_the_operator_replaces_is_not_reported_as_deleted_outside() -> None:
    recreating = Memory(generation=2, endpoint_arn=endpoint().arn, recreating=True)
    deleting = plan(
        DESIRED, Observed(endpoint=endpoint("Deleting"), missing_models=(), config_exists=True), OWNER, recreating
    )
    assert (deleting.ready.reason, deleting.notices) == ("Recreating", ())
    gone = plan(DESIRED, NOTHING, OWNER, recreating)
    assert [type(action) for action in gone.actions] == [CreateModel, CreateEndpointConfig, CreateEndpoint]
    assert gone.notices == ()


def test_in_service_on_another_config_is_updated() -> None:
    observed = Observed(endpoint=endpoint(config="old-config"), missing_models=MISSING, config_exists=False)
    result = plan(DESIRED, observed, OWNER, Memory(generation=2))
    assert [type(action) for action in result.actions] == [CreateModel, CreateEndpointConfig, UpdateEndpoint]
    assert result.phase == "Updating"
    assert result.ready.status  # the old config keeps serving
    assert result.rollout == (DESIRED.endpoint_config_name, 2)


def test_an_endpoint_described_without_its_config_name_is_moved_to_the_desired_config() -> None:
    """DescribeEndpoint may leave EndpointConfigName out: what serves is then not known to be the spec's."""
    observed = Observed(endpoint=endpoint(config=None), missing_models=(), config_exists=True)
    result = plan(DESIRED, observed, OWNER, Memory(generation=1))
    assert [type(action) for action in result.actions] == [UpdateEndpoint]
    assert result.ready == Verdict(True, "Updating", result.ready.message)
    failed = plan(
        DESIRED,
        observed,
        OWNER,
        Memory(generation=1, rollout_config_name=DESIRED.endpoint_config_name, rollout_generation=1),
    )
    assert failed.ready.message == "Serving the previous configuration"


def test_an_endpoint_whose_rolling_deployment_and_rollback_failed_serves_degraded_with_the_remedy() -> None:
    """UpdateRollbackFailed: in service with a mix of the old and new configs, which SageMaker does not repair."""
    reason = "Alarm bid-filter-p99-high fired; rolling back batch 2 failed"
    observed = Observed(
        endpoint=endpoint("UpdateRollbackFailed", config="old-config", failure_reason=reason),
        missing_models=(),
        config_exists=True,
    )
    result = plan(DESIRED, observed, OWNER, Memory(generation=2, rollout_config_name=DESIRED.endpoint_config_name))
    assert result.actions == ()
    assert result.phase != "Failed"
    assert result.ready.status
    assert (result.degraded.status, result.degraded.reason) == (True, "UpdateRollbackFailed")
    assert reason in result.degraded.message
    assert "deployment-guardrails-rolling.html" in result.degraded.message
    assert result.failure_reason == reason


def test_failed_update_is_degraded_and_not_retried_for_the_same_generation() -> None:
    observed = Observed(
        endpoint=endpoint(config="old-config", failure_reason="health check failed"),
        missing_models=(),
        config_exists=True,
    )
    memory = Memory(generation=2, rollout_config_name=DESIRED.endpoint_config_name, rollout_generation=2)
    result = plan(DESIRED, observed, OWNER, memory)
    assert result.actions == ()
    assert result.ready.status
    assert result.degraded.status
    assert "health check failed" in result.degraded.message
    assert not result.live


@pytest.mark.parametrize("status", ["Updating", "SystemUpdating", "RollingBack"])
def test_moving_endpoints_keep_serving(status: str) -> None:
    observed = Observed(endpoint=endpoint(status), missing_models=(), config_exists=True)
    result = plan(DESIRED, observed, OWNER, Memory(generation=1))
    assert result.phase == "Updating"
    assert result.ready.status
    assert result.poll


def test_deletion_deletes_the_endpoint_first_and_waits() -> None:
    result = plan_deletion(endpoint(), OWNER, ([], []))
    assert result.actions == (DeleteEndpoint(DESIRED.endpoint_name),)
    assert result.poll
    deleting = plan_deletion(endpoint("Deleting"), OWNER, ([], []))
    assert deleting.actions == ()
    assert deleting.poll


def test_deletion_removes_configs_then_models_once_the_endpoint_is_gone() -> None:
    result = plan_deletion(None, OWNER, (["c1", "c2"], ["m1"]))
    assert result.actions == (DeleteEndpointConfig("c1"), DeleteEndpointConfig("c2"), DeleteModel("m1"))
    assert not result.poll


def test_deletion_leaves_a_foreign_endpoint_alone() -> None:
    result = plan_deletion(dataclasses.replace(endpoint(), tags={}), OWNER, ([], []))
    assert result.actions == ()
    assert not result.poll


# --- day two: counts, autoscaling, tags, rollouts under autoscaling ---

SCALING = {"minCapacity": 2, "maxCapacity": 8, "targetInvocationsPerInstance": 6000}
SCALED = build_desired(parsed(autoscaling=SCALING), OWNER, "us-east-1")
RESOURCE_ID = f"endpoint/{DESIRED.endpoint_name}/variant/AllTraffic"


def registered(
    min_capacity: int = 2, max_capacity: int = 8, policy: tuple[float, int, int] | None = (6000.0, 300, 60)
) -> ObservedScaling:
    return ObservedScaling(RESOURCE_ID, min_capacity, max_capacity, policy)


def test_a_count_change_without_autoscaling_uses_weights_and_capacities() -> None:
    desired = build_desired(parsed(instanceCount=4), OWNER, "us-east-1")
    result = plan(desired, Observed(endpoint=endpoint(), missing_models=(), config_exists=True), OWNER, Memory(2))
    assert result.actions == (
        UpdateEndpointWeightsAndCapacities(DESIRED.endpoint_name, (VariantChange("AllTraffic", instance_count=4),)),
    )
    assert result.phase == "Updating"
    assert result.poll


def test_with_autoscaling_the_live_count_is_never_set_back() -> None:
    scaled_out = endpoint(instances=7)
    observed = Observed(
        endpoint=scaled_out, missing_models=(), config_exists=True, scaling_known=True, scaling=(registered(),)
    )
    result = plan(SCALED, observed, OWNER, Memory(2))
    assert result.actions == ()
    assert result.phase == "InService"


def test_autoscaling_is_registered_with_policy_once_live() -> None:
    observed = Observed(endpoint=endpoint(), missing_models=(), config_exists=True, scaling_known=True, scaling=())
    result = plan(SCALED, observed, OWNER, Memory(2))
    assert result.actions == (
        RegisterScalableTarget(RESOURCE_ID, 2, 8),
        PutScalingPolicy(RESOURCE_ID, f"{DESIRED.endpoint_name}-invocations-per-instance", 6000.0, 300, 60),
    )


def test_changed_bounds_and_policy_are_updated_in_place() -> None:
    observed = Observed(
        endpoint=endpoint(),
        missing_models=(),
        config_exists=True,
        scaling_known=True,
        scaling=(registered(1, 4, (100.0, 300, 60)),),
    )
    actions = plan(SCALED, observed, OWNER, Memory(2)).actions
    assert [type(action) for action in actions] == [RegisterScalableTarget, PutScalingPolicy]


def test_removing_autoscaling_deregisters_the_target() -> None:
    observed = Observed(
        endpoint=endpoint(), missing_models=(), config_exists=True, scaling_known=True, scaling=(registered(),)
    )
    assert plan(DESIRED, observed, OWNER, Memory(2)).actions == (DeregisterScalableTarget(RESOURCE_ID),)


def test_schedules_are_put_and_removed_by_name() -> None:
    schedules = [{"name": "evening-peak", "cron": "cron(0 18 * * ? *)", "minCapacity": 4, "maxCapacity": 8}]
    desired = build_desired(parsed(autoscaling={**SCALING, "schedules": schedules}), OWNER, "us-east-1")
    stale = ScheduledScaling("night", "cron(0 2 * * ? *)", 2, 4)
    observed = Observed(
        endpoint=endpoint(),
        missing_models=(),
        config_exists=True,
        scaling_known=True,
        scaling=(dataclasses.replace(registered(), schedules=(stale,)),),
    )
    assert plan(desired, observed, OWNER, Memory(2)).actions == (
        PutScheduledAction(RESOURCE_ID, ScheduledScaling("evening-peak", "cron(0 18 * * ? *)", 4, 8)),
        DeleteScheduledAction(RESOURCE_ID, "night"),
    )


def test_an_image_change_under_autoscaling_retains_the_count_and_keeps_the_target() -> None:
    observed = Observed(
        endpoint=endpoint(config="old"),
        missing_models=MISSING,
        config_exists=False,
        live_instance_types={"AllTraffic": "ml.c5.xlarge"},
        scaling_known=True,
        scaling=(registered(),),
    )
    result = plan(SCALED, observed, OWNER, Memory(2))
    update = result.actions[-1]
    assert isinstance(update, UpdateEndpoint)
    assert update.retain_variant_properties
    assert not any(isinstance(action, DeregisterScalableTarget) for action in result.actions)


def test_an_instance_type_change_under_autoscaling_deregisters_before_updating() -> None:
    desired = build_desired(parsed(autoscaling=SCALING, instanceType="ml.c5.2xlarge"), OWNER, "us-east-1")
    observed = Observed(
        endpoint=endpoint(config="old"),
        missing_models=(),
        config_exists=False,
        live_instance_types={"AllTraffic": "ml.c5.xlarge"},
        scaling_known=True,
        scaling=(registered(),),
    )
    kinds = [type(action) for action in plan(desired, observed, OWNER, Memory(2)).actions]
    assert kinds == [CreateEndpointConfig, DeregisterScalableTarget, UpdateEndpoint]


def test_updates_carry_the_deployment_config() -> None:
    desired = build_desired(
        parsed(deployment={"strategy": "Canary", "canarySizePercent": 10, "waitSeconds": 120}), OWNER, "us-east-1"
    )
    observed = Observed(endpoint=endpoint(config="old"), missing_models=(), config_exists=True)
    update = plan(desired, observed, OWNER, Memory(2)).actions[-1]
    assert isinstance(update, UpdateEndpoint)
    routing = update.deployment_config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 120,
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
    }
    assert not update.retain_variant_properties


def test_tags_are_added_and_removed_on_every_resource() -> None:
    arn = "arn:aws:sagemaker:us-east-1:1:endpoint/x"
    # aws: keys are AWS's own in any case (DeleteTags of one is refused): never removed.
    current = {**DESIRED.tags, "team": "old", "obsolete": "1", "aws:cloudformation:stack": "s", "AWS:Origin": "x"}
    observed = Observed(endpoint=endpoint(), missing_models=(), config_exists=True, tags={arn: current})
    (action,) = plan(DESIRED, observed, OWNER, Memory(2)).actions
    assert action == TagResource(arn, {"team": "bidding"}, ("obsolete",))


def test_deletion_deregisters_autoscaling_before_deleting_the_endpoint() -> None:
    result = plan_deletion(endpoint(), OWNER, ([], []), (registered(),))
    assert result.actions == (DeregisterScalableTarget(RESOURCE_ID), DeleteEndpoint(DESIRED.endpoint_name))


@pytest.mark.parametrize("status", ["Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"])
def test_deletion_waits_while_sagemaker_changes_the_endpoint(status: str) -> None:
    """SageMaker refuses DeleteEndpoint while a change is in progress: the finalizer waits for it to end."""
    result = plan_deletion(endpoint(status, tags=DESIRED.tags), OWNER, ([], []), (registered(),))
    assert result.actions == ()
    assert result.poll


FOREIGN_TAGS = {"owner": "legacy-team"}


def test_an_adopted_endpoint_is_tagged_as_ours_and_nothing_else_is_done() -> None:
    adopted = endpoint(config="legacy-config", tags=FOREIGN_TAGS)
    observed = Observed(endpoint=adopted, missing_models=MISSING, config_exists=False)
    result = plan(DESIRED, observed, OWNER, Memory(generation=1, adopting=True))
    assert result.actions == (TagResource(adopted.arn, DESIRED.tags, ()),)
    assert result.adopted
    assert result.poll
    assert result.ready.status  # it keeps serving while being adopted
    assert [notice.reason for notice in result.notices] == ["Adopted"]


def test_an_adopted_endpoint_is_then_moved_to_the_spec_like_any_other() -> None:
    adopted = endpoint(config="legacy-config", tags={**FOREIGN_TAGS, **OWNER.tags()})
    observed = Observed(endpoint=adopted, missing_models=MISSING, config_exists=False)
    result = plan(DESIRED, observed, OWNER, Memory(generation=1, adopting=True))
    assert [type(action) for action in result.actions] == [CreateModel, CreateEndpointConfig, UpdateEndpoint]
    assert not result.adopted


def test_an_endpoint_of_another_resource_is_never_adopted() -> None:
    other = {"lowlatency.io/managed-by": "lowlatency-operator", "lowlatency.io/namespace": "ranking"}
    taken = endpoint(tags={**other, "lowlatency.io/name": "ranker", "lowlatency.io/uid": "uid-9"})
    result = plan(
        DESIRED, Observed(endpoint=taken, missing_models=(), config_exists=True), OWNER, Memory(1, adopting=True)
    )
    assert result.actions == ()
    assert result.ready.reason == "NameConflict"
    assert "ranking/ranker" in result.ready.message


def test_an_endpoint_retained_by_an_earlier_object_of_the_same_name_may_be_adopted() -> None:
    earlier = Owner(OWNER.namespace, OWNER.name, "uid-of-the-deleted-object")
    retained = endpoint(tags=earlier.tags())
    observed = Observed(endpoint=retained, missing_models=(), config_exists=True)
    result = plan(DESIRED, observed, OWNER, Memory(1, adopting=True))
    assert result.adopted
    (tagging,) = result.actions
    assert isinstance(tagging, TagResource)
    assert tagging.add["lowlatency.io/uid"] == OWNER.uid


def test_without_the_annotation_a_foreign_endpoint_is_not_adopted() -> None:
    result = plan(
        DESIRED, Observed(endpoint=endpoint(tags={}), missing_models=(), config_exists=True), OWNER, Memory(1)
    )
    assert result.actions == ()
    assert result.ready.reason == "NameConflict"


def test_a_steady_endpoint_with_nothing_changed_needs_no_action_and_no_event() -> None:
    observed = Observed(endpoint=endpoint(), missing_models=(), config_exists=True)
    result = plan(DESIRED, observed, OWNER, Memory(generation=4, observed_generation=4))
    assert result.actions == ()
    assert result.notices == ()
    assert not result.poll


def test_an_audited_steady_endpoint_in_sync_needs_no_action() -> None:
    config_arn = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/{DESIRED.endpoint_config_name}"
    observed = Observed(
        endpoint=endpoint(),
        missing_models=(),
        config_exists=True,
        scaling_known=True,
        scaling=(registered(),),
        tags={endpoint().arn: dict(SCALED.tags), config_arn: dict(SCALED.tags)},
    )
    result = plan(SCALED, observed, OWNER, Memory(generation=4, observed_generation=4))
    assert result.actions == ()
    assert result.notices == ()


def test_tags_edited_outside_the_operator_are_restored_with_an_event() -> None:
    arn = endpoint().arn
    edited = {**DESIRED.tags, "team": "someone-else", "added-by-hand": "yes"}
    observed = Observed(endpoint=endpoint(), missing_models=(), config_exists=True, tags={arn: edited})
    result = plan(DESIRED, observed, OWNER, Memory(generation=4, observed_generation=4))
    assert result.actions == (TagResource(arn, {"team": "bidding"}, ("added-by-hand",)),)
    (notice,) = result.notices
    assert notice.reason == "DriftRepaired"
    assert "team" in notice.message
    assert "added-by-hand" in notice.message


def test_a_scaling_policy_removed_outside_the_operator_is_restored_with_an_event() -> None:
    observed = Observed(
        endpoint=endpoint(),
        missing_models=(),
        config_exists=True,
        scaling_known=True,
        scaling=(registered(policy=None),),
    )
    result = plan(SCALED, observed, OWNER, Memory(generation=4, observed_generation=4))
    assert [type(action) for action in result.actions] == [PutScalingPolicy]
    assert [notice.reason for notice in result.notices] == ["DriftRepaired"]


def test_changes_that_follow_a_spec_change_are_not_called_drift() -> None:
    arn = endpoint().arn
    observed = Observed(endpoint=endpoint(), missing_models=(), config_exists=True, tags={arn: {**OWNER.tags()}})
    result = plan(DESIRED, observed, OWNER, Memory(generation=5, observed_generation=4))
    assert [type(action) for action in result.actions] == [TagResource]
    assert result.notices == ()


def test_deletion_says_what_it_did() -> None:
    done = plan_deletion(None, OWNER, ([], []))
    assert done.notices == (Notice("Deleted", "SageMaker endpoint, configs and models deleted"),)
    foreign = plan_deletion(endpoint(tags={}), OWNER, ([], []))
    assert foreign.actions == ()
    assert [notice.reason for notice in foreign.notices] == ["LeftInPlace"]


def test_retention_marks_the_endpoint_its_config_and_its_model() -> None:
    owned = endpoint(tags=OWNER.tags())
    actions = plan_retention(owned, OWNER, [DESIRED.model_name])
    assert [action.arn.rpartition(":")[2] for action in actions if isinstance(action, TagResource)] == [
        f"endpoint/{DESIRED.endpoint_name}",
        f"endpoint-config/{DESIRED.endpoint_config_name}",
        f"model/{DESIRED.model_name}",
    ]
    assert all(action == TagResource(action.arn, {TAG_RETAINED: "true"}, ()) for action in actions)


def test_retention_touches_nothing_that_is_not_ours() -> None:
    assert plan_retention(endpoint(tags={}), OWNER, [DESIRED.model_name]) == ()
    assert plan_retention(None, OWNER, [DESIRED.model_name]) == ()


def test_adopting_a_retained_endpoint_takes_the_retained_mark_off() -> None:
    earlier = Owner(OWNER.namespace, OWNER.name, "uid-of-the-deleted-object")
    retained = endpoint(tags={**earlier.tags(), TAG_RETAINED: "true"})
    result = plan(
        DESIRED, Observed(endpoint=retained, missing_models=(), config_exists=True), OWNER, Memory(1, adopting=True)
    )
    assert result.actions == (TagResource(retained.arn, DESIRED.tags, (TAG_RETAINED,)),)


EVENING_PEAK = {"name": "evening-peak", "cron": "cron(0 18 * * ? *)", "minCapacity": 4, "maxCapacity": 8}
BIGGER_SCHEDULED = build_desired(
    parsed(autoscaling={**SCALING, "schedules": [EVENING_PEAK]}, instanceType="ml.c5.2xlarge"), OWNER, "us-east-1"
)
# An instance type change deregistered autoscaling before the move; the endpoint still serves the first config.
DEREGISTERED_FOR_THE_MOVE = Observed(
    endpoint=endpoint(config=DESIRED.endpoint_config_name),
    missing_models=(),
    config_exists=True,
    scaling_known=True,
    scaling=(),
)
RESTORED = (
    RegisterScalableTarget(RESOURCE_ID, 2, 8),
    PutScalingPolicy(RESOURCE_ID, f"{DESIRED.endpoint_name}-invocations-per-instance", 6000.0, 300, 60),
    PutScheduledAction(RESOURCE_ID, ScheduledScaling("evening-peak", "cron(0 18 * * ? *)", 4, 8)),
)
REFUSED_UPDATE = Rejection("UpdateEndpoint", "AWS rejected the request: UpdateEndpoint failed: ValidationException")


def test_a_failed_instance_type_change_puts_back_target_policy_and_schedules() -> None:
    memory = Memory(generation=2, rollout_config_name=BIGGER_SCHEDULED.endpoint_config_name, rollout_generation=2)
    result = plan(BIGGER_SCHEDULED, DEREGISTERED_FOR_THE_MOVE, OWNER, memory)
    assert result.actions == RESTORED
    assert (result.phase, result.ready.status, result.degraded.reason) == ("InService", True, "RolloutFailed")
    assert result.rollout is None


def test_a_failed_rollout_without_autoscaling_looked_up_restores_nothing() -> None:
    observed = dataclasses.replace(DEREGISTERED_FOR_THE_MOVE, scaling_known=False)
    memory = Memory(generation=2, rollout_config_name=BIGGER_SCHEDULED.endpoint_config_name, rollout_generation=2)
    assert plan(BIGGER_SCHEDULED, observed, OWNER, memory).actions == ()


def test_a_refused_update_is_not_sent_again_but_autoscaling_comes_back_on_what_serves() -> None:
    result = plan(BIGGER_SCHEDULED, DEREGISTERED_FOR_THE_MOVE, OWNER, Memory(generation=2, rejection=REFUSED_UPDATE))
    assert result.actions == RESTORED
    assert result.phase == "InService"
    assert result.ready.status
    assert (result.degraded.status, result.degraded.reason) == (True, "AWSRejected")
    assert result.degraded.message == REFUSED_UPDATE.message
    assert result.failure_reason == REFUSED_UPDATE.message
    assert (result.rollout, result.live, result.poll) == (None, False, False)


def test_a_refused_generation_with_autoscaling_in_place_does_nothing() -> None:
    in_place = dataclasses.replace(
        DEREGISTERED_FOR_THE_MOVE,
        scaling=(
            dataclasses.replace(
                registered(), schedules=(ScheduledScaling("evening-peak", "cron(0 18 * * ? *)", 4, 8),)
            ),
        ),
    )
    assert plan(BIGGER_SCHEDULED, in_place, OWNER, Memory(generation=2, rejection=REFUSED_UPDATE)).actions == ()


def test_a_refused_restore_is_not_sent_again() -> None:
    refused = Rejection("RegisterScalableTarget", "AWS rejected the request: RegisterScalableTarget failed: denied")
    result = plan(BIGGER_SCHEDULED, DEREGISTERED_FOR_THE_MOVE, OWNER, Memory(generation=2, rejection=refused))
    assert result.actions == ()
    assert result.degraded.message == refused.message


def test_a_refused_creation_fails_without_asking_again() -> None:
    refused = Rejection("CreateModel", "AWS rejected the request: CreateModel failed: ValidationException: no image")
    result = plan(DESIRED, NOTHING, OWNER, Memory(generation=1, rejection=refused))
    assert result.actions == ()
    assert result.phase == "Failed"
    assert (result.ready.status, result.ready.reason, result.ready.message) == (False, "AWSRejected", refused.message)


def test_a_refused_generation_leaves_an_endpoint_that_is_not_ours_alone() -> None:
    foreign = dataclasses.replace(DEREGISTERED_FOR_THE_MOVE, endpoint=endpoint(tags={"owner": "legacy"}))
    refused = Rejection("AddTags", "AWS rejected the request: AddTags failed: AccessDeniedException")
    assert plan(BIGGER_SCHEDULED, foreign, OWNER, Memory(generation=1, adopting=True, rejection=refused)).actions == ()
