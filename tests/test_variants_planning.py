"""Several production variants, a shadow variant and serverless variants, planned without AWS: what makes a new
config and what is changed in place, autoscaling per variant, promotion by weights (tests/test_planner.py holds the
single variant's cases, which are the one-element case of these)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from lowlatency.api import Spec, Status
from lowlatency.desired import (
    INSTANCE_COUNT,
    PROVISIONED_CONCURRENCY,
    DesiredEndpoint,
    Owner,
    ScheduledScaling,
    build_desired,
)
from lowlatency.planner import (
    CreateEndpointConfig,
    CreateModel,
    Memory,
    Observed,
    ObservedEndpoint,
    UpdateEndpoint,
    plan,
    plan_deletion,
    plan_retention,
)
from lowlatency.reconciler import merge_variant_status
from lowlatency.tenancy import TenantPolicy, violations
from lowlatency.variants import (
    DeleteScheduledAction,
    DeregisterScalableTarget,
    ObservedScaling,
    ObservedVariant,
    PutScalingPolicy,
    RegisterScalableTarget,
    UpdateEndpointWeightsAndCapacities,
    VariantChange,
    weights_and_capacities,
)
from specs import MODEL_ARTIFACTS, bid_filter_spec
from test_desired import assert_valid

OWNER = Owner("adtech", "bid-filter", "uid-1")
NAME = "adtech-bid-filter"
CHAMPION_MODEL = bid_filter_spec()["model"]
CHALLENGER_MODEL = {**CHAMPION_MODEL, "modelDataUrl": MODEL_ARTIFACTS[1]}
SCALING = {"minCapacity": 2, "maxCapacity": 8, "targetInvocationsPerInstance": 6000}


def variant(name: str, model: dict[str, Any], weight: float, **hosting: Any) -> dict[str, Any]:
    return {"name": name, "model": model, "weight": weight, **({"instanceType": "ml.c5.xlarge"} | hosting)}


def ab(champion: float = 90, challenger: float = 10, **overrides: Any) -> Spec:
    """An A/B test: the champion's model on two instances, a challenger's on one."""
    spec: dict[str, Any] = {
        "variants": [
            variant("Champion", CHAMPION_MODEL, champion, instanceCount=2),
            variant("Challenger", CHALLENGER_MODEL, challenger, instanceCount=1),
        ],
        "tags": {"team": "bidding"},
    }
    return Spec.model_validate(spec | overrides)


def shadowed(weight: float = 50, count: int = 1) -> Spec:
    """A shadow test: one production variant (SageMaker allows no more beside a shadow) and a shadow that receives a
    copy of a share of its traffic."""
    return ab(
        variants=[variant("Production", CHAMPION_MODEL, 1, instanceCount=2)],
        shadowVariants=[variant("Shadow", CHALLENGER_MODEL, weight, instanceCount=count)],
    )


def serverless(**config: Any) -> Spec:
    settings = {"memorySizeInMB": 2048, "maxConcurrency": 20} | config
    return Spec.model_validate({"model": CHAMPION_MODEL, "serverless": settings, "tags": {"team": "bidding"}})


def desired(spec: Spec) -> DesiredEndpoint:
    return build_desired(spec, OWNER, "us-east-1")


def described(
    wanted: DesiredEndpoint, status: str = "InService", config: str | None = None, **overrides: ObservedVariant
) -> ObservedEndpoint:
    """The endpoint as DescribeEndpoint reports it once it serves ``wanted`` (on ``config``, else wanted's), with
    the variants of ``overrides`` reported instead."""
    variants = []
    for spec in wanted.variants:
        serverless_config = spec.serverless
        reported = ObservedVariant(
            spec.name,
            shadow=spec.shadow,
            serverless=serverless_config is not None,
            current_instance_count=spec.instance_count,
            desired_instance_count=spec.instance_count,
            current_weight=spec.weight,
            desired_weight=spec.weight,
        )
        if serverless_config is not None:
            concurrency = serverless_config.max_concurrency
            provisioned = serverless_config.provisioned_concurrency
            reported = dataclasses.replace(
                reported,
                current_max_concurrency=concurrency,
                desired_max_concurrency=concurrency,
                current_provisioned_concurrency=provisioned,
                desired_provisioned_concurrency=provisioned,
            )
        variants.append(overrides.get(spec.name, reported))
    return ObservedEndpoint(
        name=NAME,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{NAME}",
        status=status,
        config_name=config or wanted.endpoint_config_name,
        variants=tuple(variants),
    )


def live_on(wanted: DesiredEndpoint, **extra: Any) -> Observed:
    return Observed(endpoint=described(wanted), missing_models=(), config_exists=True, **extra)


def moving_from(live: DesiredEndpoint, wanted: DesiredEndpoint, **extra: Any) -> Observed:
    """The endpoint serving ``live``'s config while the spec asks for ``wanted``'s (models and config to create)."""
    missing = tuple(name for name in wanted.models if name not in live.models)
    return Observed(
        endpoint=described(live),
        missing_models=missing,
        config_exists=False,
        live_instance_types={spec.name: spec.instance_type for spec in live.variants},
        **extra,
    )


def target(name: str, dimension: str = INSTANCE_COUNT, low: int = 2, high: int = 8) -> ObservedScaling:
    return ObservedScaling(f"endpoint/{NAME}/variant/{name}", low, high, (6000.0, 300, 60), (), dimension)


# --- desired: what the config's hash covers ---


def test_each_variant_serves_its_own_model_and_a_shared_model_is_made_once() -> None:
    endpoint = desired(ab())
    champion, challenger = endpoint.variants
    assert champion.model_name != challenger.model_name
    assert list(endpoint.models) == [champion.model_name, challenger.model_name]
    same = ab(variants=[variant("A", CHAMPION_MODEL, 1), variant("B", CHAMPION_MODEL, 1, instanceType="ml.c6i.large")])
    first, second = desired(same).variants
    assert first.model_name == second.model_name == champion.model_name
    assert list(desired(same).models) == [champion.model_name]


def test_weights_counts_and_concurrencies_keep_the_config_and_what_sagemaker_cannot_change_makes_a_new_one() -> None:
    base = desired(ab()).endpoint_config_name
    reweighted = ab(0, 100)
    rescaled = ab(
        variants=[
            variant("Champion", CHAMPION_MODEL, 90, instanceCount=5),
            variant("Challenger", CHALLENGER_MODEL, 10, instanceCount=3),
        ]
    )
    assert desired(reweighted).endpoint_config_name == base
    assert desired(rescaled).endpoint_config_name == base
    retyped = ab(
        variants=[
            variant("Champion", CHAMPION_MODEL, 90, instanceType="ml.c6i.xlarge"),
            variant("Challenger", CHALLENGER_MODEL, 10),
        ]
    )
    renamed = ab(variants=[variant("Champion", CHAMPION_MODEL, 90), variant("Challenger2", CHALLENGER_MODEL, 10)])
    remodelled = ab(
        variants=[
            variant("Champion", CHAMPION_MODEL, 90),
            variant("Challenger", {**CHALLENGER_MODEL, "image": "example.com/x:2"}, 10),
        ]
    )
    names = {desired(spec).endpoint_config_name for spec in (retyped, renamed, remodelled)}
    assert len(names) == 3
    assert base not in names

    small = desired(serverless(provisionedConcurrency=2)).endpoint_config_name
    assert desired(serverless(maxConcurrency=50, provisionedConcurrency=5)).endpoint_config_name == small
    assert desired(serverless(memorySizeInMB=4096, provisionedConcurrency=2)).endpoint_config_name != small
    # Provisioned concurrency cannot be taken away in place (ServerlessUpdateConfig: at least 1): a new config.
    assert desired(serverless()).endpoint_config_name != small


def test_a_shadow_variant_is_in_the_config_and_its_name() -> None:
    plain = desired(ab(variants=[variant("Production", CHAMPION_MODEL, 1, instanceCount=2)]))
    shadow_test = desired(shadowed())
    assert shadow_test.endpoint_config_name != plain.endpoint_config_name
    assert [spec.kind for spec in shadow_test.variants] == ["Instance", "Shadow"]
    request = shadow_test.endpoint_config_request
    assert [v["VariantName"] for v in request["ShadowProductionVariants"]] == ["Shadow"]
    assert [v["VariantName"] for v in request["ProductionVariants"]] == ["Production"]


REQUESTS = {
    "A/B": ab(),
    "a shadow test": shadowed(),
    "serverless with provisioned concurrency": serverless(provisionedConcurrency=2),
}


@pytest.mark.parametrize("spec", REQUESTS.values(), ids=REQUESTS.keys())
def test_every_variant_request_is_one_sagemakers_model_accepts(spec: Spec) -> None:
    endpoint = desired(spec)
    assert_valid("CreateEndpointConfig", endpoint.endpoint_config_request)
    for request in endpoint.models.values():
        assert_valid("CreateModel", request)


def test_a_serverless_variant_is_configured_and_scaled_on_its_provisioned_concurrency() -> None:
    scaling = {"minCapacity": 1, "maxCapacity": 10, "targetUtilization": 0.6}
    (only,) = desired(serverless(provisionedConcurrency=2, autoscaling=scaling)).variants
    assert only.request() == {
        "VariantName": "AllTraffic",
        "ModelName": only.model_name,
        "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 20, "ProvisionedConcurrency": 2},
        "InitialVariantWeight": 1.0,
    }
    assert only.scaling is not None
    assert (only.scaling.dimension, only.scaling.min_capacity, only.scaling.max_capacity) == (
        PROVISIONED_CONCURRENCY,
        1,
        10,
    )
    assert only.scaling.target_value == 0.6
    assert only.scaling.policy_name == f"{NAME}-provisioned-concurrency-utilization"


# --- in place: weights, counts, concurrencies ---


def test_a_weights_only_change_is_one_update_of_weights_and_no_new_config() -> None:
    before, after = desired(ab(90, 10)), desired(ab(50, 50))
    result = plan(after, live_on(before), OWNER, Memory(2))
    assert result.actions == (
        UpdateEndpointWeightsAndCapacities(
            NAME, (VariantChange("Champion", weight=50.0), VariantChange("Challenger", weight=50.0))
        ),
    )
    assert (result.phase, result.ready.reason, result.live, result.rollout) == ("Updating", "Reweighting", True, None)
    assert "weight of variant Champion from 90.0 to 50.0" in result.ready.message


def rescaled(champion: tuple[float, int], challenger: tuple[float, int]) -> DesiredEndpoint:
    """The A/B test with each variant's (weight, instance count)."""
    return desired(
        ab(
            variants=[
                variant("Champion", CHAMPION_MODEL, champion[0], instanceCount=champion[1]),
                variant("Challenger", CHALLENGER_MODEL, challenger[0], instanceCount=challenger[1]),
            ]
        )
    )


def serving(wanted: DesiredEndpoint, **variants: tuple[float, int]) -> Observed:
    """``wanted``'s config in service with each named variant at (weight, instance count)."""
    reported = {
        name: ObservedVariant(name, False, False, count, count, float(weight), float(weight))
        for name, (weight, count) in variants.items()
    }
    return Observed(endpoint=described(wanted, **reported), missing_models=(), config_exists=True)


def test_weights_go_first_in_one_call_then_each_variants_capacity_in_a_call_of_its_own() -> None:
    """UpdateEndpointWeightsAndCapacities changes "variant weight of one or more variants ..., or capacity of one
    variant" (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpointWeightsAndCapacities.html):
    one call per pass, the next once the endpoint is InService again, and the spec live with the last."""
    after = rescaled((80, 3), (20, 2))
    assert after.endpoint_config_name == rescaled((90, 2), (10, 1)).endpoint_config_name
    memory = Memory(2, observed_generation=1)
    champion_count = VariantChange("Champion", instance_count=3)
    challenger_count = VariantChange("Challenger", instance_count=2)

    weights = plan(after, serving(after, Champion=(90, 2), Challenger=(10, 1)), OWNER, memory)
    first_count = plan(after, serving(after, Champion=(80, 2), Challenger=(20, 1)), OWNER, memory)
    second_count = plan(after, serving(after, Champion=(80, 3), Challenger=(20, 1)), OWNER, memory)
    done = plan(after, serving(after, Champion=(80, 3), Challenger=(20, 2)), OWNER, Memory(2, observed_generation=2))

    assert weights.actions == (
        UpdateEndpointWeightsAndCapacities(
            NAME, (VariantChange("Champion", weight=80.0), VariantChange("Challenger", weight=20.0))
        ),
    )
    assert first_count.actions == (UpdateEndpointWeightsAndCapacities(NAME, (champion_count,)),)
    assert second_count.actions == (UpdateEndpointWeightsAndCapacities(NAME, (challenger_count,)),)
    assert [(step.phase, step.ready.reason, step.live, step.poll) for step in (weights, first_count, second_count)] == [
        ("Updating", "Reweighting", False, True),
        ("Updating", "Scaling", False, True),
        ("Updating", "Scaling", True, True),
    ]
    assert [step.notices for step in (weights, first_count, second_count)] == [(), (), ()]
    assert (done.actions, done.phase, done.live) == ((), "InService", True)
    assert weights.ready.message == (
        f"Changing the weight of variant Champion from 90.0 to 80.0; the weight of variant Challenger from 10.0 to "
        f"20.0 of SageMaker endpoint {NAME}; then, in calls of their own (SageMaker changes one variant's capacity "
        "per call), the instance count of variant Champion from 2 to 3; the instance count of variant Challenger from "
        "1 to 2"
    )
    assert second_count.ready.message == (
        f"Changing the instance count of variant Challenger from 1 to 2 of SageMaker endpoint {NAME}"
    )


def test_two_variants_counts_change_one_variant_per_pass() -> None:
    after = rescaled((90, 4), (10, 3))
    memory = Memory(2, observed_generation=1)

    first = plan(after, serving(after, Champion=(90, 2), Challenger=(10, 1)), OWNER, memory)
    second = plan(after, serving(after, Champion=(90, 4), Challenger=(10, 1)), OWNER, memory)

    assert first.actions == (UpdateEndpointWeightsAndCapacities(NAME, (VariantChange("Champion", instance_count=4),)),)
    assert second.actions == (
        UpdateEndpointWeightsAndCapacities(NAME, (VariantChange("Challenger", instance_count=3),)),
    )
    assert (first.live, second.live) == (False, True)
    assert "then, in calls of their own" in first.ready.message
    assert "the instance count of variant Challenger from 1 to 3" in first.ready.message


def test_drift_of_several_variants_counts_is_repaired_one_variant_per_pass_each_with_its_event() -> None:
    wanted = rescaled((90, 2), (10, 1))
    memory = Memory(3, observed_generation=3)

    first = plan(wanted, serving(wanted, Champion=(90, 5), Challenger=(10, 4)), OWNER, memory)
    second = plan(wanted, serving(wanted, Champion=(90, 2), Challenger=(10, 4)), OWNER, memory)

    assert first.actions == (UpdateEndpointWeightsAndCapacities(NAME, (VariantChange("Champion", instance_count=2),)),)
    assert second.actions == (
        UpdateEndpointWeightsAndCapacities(NAME, (VariantChange("Challenger", instance_count=1),)),
    )
    assert [notice.message for notice in first.notices + second.notices] == [
        f"Instance count of {NAME} variant Champion was changed outside the operator to 5; set back to 2",
        f"Instance count of {NAME} variant Challenger was changed outside the operator to 4; set back to 1",
    ]
    assert (first.poll, second.poll) == (True, True)


def test_an_autoscaled_variants_count_is_never_set_back_while_the_others_is() -> None:
    spec = ab(
        variants=[
            variant("Champion", CHAMPION_MODEL, 90, autoscaling=SCALING),
            variant("Challenger", CHALLENGER_MODEL, 10, instanceCount=1),
        ]
    )
    wanted = desired(spec)
    scaled_out = ObservedVariant("Champion", False, False, 7, 7, 90.0, 90.0)
    drifted = ObservedVariant("Challenger", False, False, 3, 3, 10.0, 10.0)
    observed = Observed(
        endpoint=described(wanted, Champion=scaled_out, Challenger=drifted),
        missing_models=(),
        config_exists=True,
        scaling_known=True,
        scaling=(target("Champion"),),
    )
    result = plan(wanted, observed, OWNER, Memory(3, observed_generation=3))
    assert result.actions == (
        UpdateEndpointWeightsAndCapacities(NAME, (VariantChange("Challenger", instance_count=1),)),
    )
    (notice,) = result.notices
    assert notice.message == (
        f"Instance count of {NAME} variant Challenger was changed outside the operator to 3; set back to 1"
    )


def test_a_serverless_variants_concurrencies_change_in_place_unless_the_autoscaler_owns_the_provisioned_one() -> None:
    before = desired(serverless(provisionedConcurrency=2))
    after = desired(serverless(maxConcurrency=50, provisionedConcurrency=5))
    result = plan(after, live_on(before), OWNER, Memory(2))
    assert result.actions == (
        UpdateEndpointWeightsAndCapacities(
            NAME, (VariantChange("AllTraffic", max_concurrency=50, provisioned_concurrency=5),)
        ),
    )
    assert (result.ready.reason, result.ready.message) == (
        "Scaling",
        f"Changing the maximum concurrency of variant AllTraffic from 20 to 50; the provisioned concurrency of "
        f"variant AllTraffic from 2 to 5 of SageMaker endpoint {NAME}",
    )

    scaling = {"minCapacity": 1, "maxCapacity": 10}
    autoscaled = desired(serverless(maxConcurrency=50, provisionedConcurrency=5, autoscaling=scaling))
    registered = target("AllTraffic", PROVISIONED_CONCURRENCY, 1, 10)
    registered = dataclasses.replace(registered, policy=(0.5, 300, 60))
    observed = live_on(before, scaling_known=True, scaling=(registered,))
    assert plan(autoscaled, observed, OWNER, Memory(2)).actions == (
        UpdateEndpointWeightsAndCapacities(NAME, (VariantChange("AllTraffic", max_concurrency=50),)),
    )


def test_a_serverless_memory_change_is_a_new_config_and_an_update() -> None:
    before = desired(serverless(memorySizeInMB=2048))
    after = desired(serverless(memorySizeInMB=4096))
    result = plan(after, moving_from(before, after), OWNER, Memory(2))
    assert [type(action) for action in result.actions] == [CreateEndpointConfig, UpdateEndpoint]
    assert result.rollout == (after.endpoint_config_name, 2)


def test_provisioned_concurrency_is_autoscaled_on_its_own_dimension_and_metric() -> None:
    scaling = {"minCapacity": 1, "maxCapacity": 10, "targetUtilization": 0.6}
    wanted = desired(serverless(provisionedConcurrency=2, autoscaling=scaling))
    result = plan(wanted, live_on(wanted, scaling_known=True), OWNER, Memory(2))
    resource_id = f"endpoint/{NAME}/variant/AllTraffic"
    assert result.actions == (
        RegisterScalableTarget(resource_id, 1, 10, PROVISIONED_CONCURRENCY),
        PutScalingPolicy(
            resource_id, f"{NAME}-provisioned-concurrency-utilization", 0.6, 300, 60, PROVISIONED_CONCURRENCY
        ),
    )


def test_a_target_in_a_dimension_the_variant_no_longer_has_is_deregistered() -> None:
    """The shorthand moved from instances (autoscaled) to serverless: its instance-count target goes."""
    wanted = desired(serverless())
    result = plan(wanted, live_on(wanted, scaling_known=True, scaling=(target("AllTraffic"),)), OWNER, Memory(2))
    assert result.actions == (DeregisterScalableTarget(f"endpoint/{NAME}/variant/AllTraffic", INSTANCE_COUNT),)


def test_a_provisioned_concurrency_target_is_deregistered_and_its_schedules_deleted_in_its_own_dimension() -> None:
    """Application Auto Scaling names a target by resource and dimension: the provisioned concurrency's, not the
    instance count's, when the spec has no autoscaling of it or a schedule was added outside the operator."""
    resource_id = f"endpoint/{NAME}/variant/AllTraffic"
    registered = target("AllTraffic", PROVISIONED_CONCURRENCY, 1, 10)
    unscaled = desired(serverless(provisionedConcurrency=2))
    result = plan(unscaled, live_on(unscaled, scaling_known=True, scaling=(registered,)), OWNER, Memory(2))
    assert result.actions == (DeregisterScalableTarget(resource_id, PROVISIONED_CONCURRENCY),)

    scaling = {"minCapacity": 1, "maxCapacity": 10, "targetUtilization": 0.6}
    scaled = desired(serverless(provisionedConcurrency=2, autoscaling=scaling))
    night = ScheduledScaling("night", "cron(0 2 * * ? *)", 1, 2)
    scheduled = dataclasses.replace(registered, policy=(0.6, 300, 60), schedules=(night,))
    result = plan(scaled, live_on(scaled, scaling_known=True, scaling=(scheduled,)), OWNER, Memory(2))
    assert result.actions == (DeleteScheduledAction(resource_id, "night", PROVISIONED_CONCURRENCY),)


def test_a_variant_sagemaker_does_not_report_is_left_alone_and_the_others_still_brought_to_the_spec() -> None:
    wanted = rescaled((90, 2), (10, 3))
    only_challenger = [ObservedVariant("Challenger", False, False, 1, 1, 10.0, 10.0)]
    assert weights_and_capacities(NAME, wanted.variants, only_challenger) == (
        UpdateEndpointWeightsAndCapacities(NAME, (VariantChange("Challenger", instance_count=3),)),
    )


def test_the_endpoints_instance_counts_are_those_of_its_instance_backed_production_variants() -> None:
    """status.currentInstanceCount and desiredInstanceCount: a shadow's instances are its own, a serverless variant
    has none (None when no production variant runs on instances)."""
    endpoint = dataclasses.replace(
        described(desired(ab())),
        variants=(
            ObservedVariant("Champion", False, False, 2, 4, 90.0, 90.0),
            ObservedVariant("Challenger", False, False, 3, 3, 10.0, 10.0),
            ObservedVariant("Shadow", True, False, 7, 7, 50.0, 50.0),
        ),
    )
    assert (endpoint.current_instance_count, endpoint.desired_instance_count) == (5, 7)
    spiky = described(desired(serverless()))
    assert (spiky.current_instance_count, spiky.desired_instance_count) == (None, None)


# --- a new config: models, guardrails, variants added or removed ---


def test_a_model_change_of_one_variant_is_a_new_config_moved_to_with_guardrails_and_names_kept() -> None:
    canary = {"strategy": "Canary", "canarySizePercent": 10}
    before = desired(ab(deployment=canary))
    new_model = {**CHALLENGER_MODEL, "image": "example.com/xgboost:2"}
    after = desired(
        ab(
            deployment=canary,
            variants=[variant("Champion", CHAMPION_MODEL, 90, instanceCount=2), variant("Challenger", new_model, 10)],
        )
    )
    assert after.variants[0].model_name == before.variants[0].model_name
    result = plan(after, moving_from(before, after), OWNER, Memory(2))
    assert [type(action) for action in result.actions] == [CreateModel, CreateEndpointConfig, UpdateEndpoint]
    create_model, _, update = result.actions
    assert isinstance(create_model, CreateModel)
    assert create_model.name == after.variants[1].model_name
    assert isinstance(update, UpdateEndpoint)
    assert update.deployment_config == after.deployment_config
    assert "BlueGreenUpdatePolicy" in update.deployment_config
    assert result.notices == ()


VARIANT_SETS = {
    "a challenger added": (
        Spec.model_validate(bid_filter_spec()),
        ab(
            variants=[
                variant("AllTraffic", CHAMPION_MODEL, 90, instanceCount=2),
                variant("Challenger", CHALLENGER_MODEL, 10),
            ]
        ),
        "production variant Challenger added",
    ),
    "the old champion removed": (
        ab(),
        ab(variants=[variant("Challenger", CHALLENGER_MODEL, 100)]),
        "production variant Champion removed",
    ),
    "a shadow added": (
        ab(variants=[variant("Production", CHAMPION_MODEL, 1, instanceCount=2)]),
        shadowed(),
        "shadow variant Shadow added",
    ),
}


@pytest.mark.parametrize(("before", "after", "said"), VARIANT_SETS.values(), ids=VARIANT_SETS.keys())
def test_adding_or_removing_a_variant_moves_without_guardrails_and_says_so(
    before: Spec, after: Spec, said: str
) -> None:
    live, wanted = desired(before), desired(after)
    result = plan(wanted, moving_from(live, wanted), OWNER, Memory(2))
    update = result.actions[-1]
    assert isinstance(update, UpdateEndpoint)
    assert update.deployment_config == {}
    (notice,) = result.notices
    assert (notice.reason, notice.warning) == ("VariantsChanged", False)
    assert said in notice.message
    assert "all at once" in notice.message
    assert result.rollout == (wanted.endpoint_config_name, 2)


def test_a_variants_target_is_deregistered_before_its_instance_type_changes_or_it_is_removed() -> None:
    scaled = {"autoscaling": SCALING}
    before = desired(
        ab(
            variants=[
                variant("Champion", CHAMPION_MODEL, 90, **scaled),
                variant("Challenger", CHALLENGER_MODEL, 10, **scaled),
            ]
        )
    )
    retyped = desired(
        ab(
            variants=[
                variant("Champion", CHAMPION_MODEL, 90, instanceType="ml.c6i.xlarge", **scaled),
                variant("Challenger", CHALLENGER_MODEL, 10, **scaled),
            ]
        )
    )
    registered = (target("Champion"), target("Challenger"))
    result = plan(retyped, moving_from(before, retyped, scaling_known=True, scaling=registered), OWNER, Memory(2))
    assert result.actions[-2:] == (
        DeregisterScalableTarget(f"endpoint/{NAME}/variant/Champion"),
        UpdateEndpoint(NAME, retyped.endpoint_config_name, retain_variant_properties=True),
    )

    removed = desired(ab(variants=[variant("Challenger", CHALLENGER_MODEL, 100, **scaled)]))
    result = plan(removed, moving_from(before, removed, scaling_known=True, scaling=registered), OWNER, Memory(2))
    assert [action for action in result.actions if isinstance(action, DeregisterScalableTarget)] == [
        DeregisterScalableTarget(f"endpoint/{NAME}/variant/Champion")
    ]


def test_a_failed_move_gives_autoscaling_back_only_to_the_variants_that_serve() -> None:
    scaled = {"autoscaling": SCALING}
    before = desired(ab(variants=[variant("Champion", CHAMPION_MODEL, 90, **scaled)]))
    after = desired(
        ab(
            variants=[
                variant("Champion", CHAMPION_MODEL, 90, instanceType="ml.c6i.xlarge", **scaled),
                variant("Challenger", CHALLENGER_MODEL, 10, **scaled),
            ]
        )
    )
    observed = moving_from(before, after, scaling_known=True)
    memory = Memory(2, rollout_config_name=after.endpoint_config_name, rollout_generation=2)
    result = plan(after, observed, OWNER, memory)
    assert result.degraded.reason == "RolloutFailed"
    assert {action.resource_id for action in result.actions if isinstance(action, RegisterScalableTarget)} == {
        f"endpoint/{NAME}/variant/Champion"
    }


def test_promotion_is_a_change_of_weights_then_the_removal_of_the_old_variant() -> None:
    trial, promoted = desired(ab(90, 10)), desired(ab(0, 100))
    (shift,) = plan(promoted, live_on(trial), OWNER, Memory(2)).actions
    assert shift == UpdateEndpointWeightsAndCapacities(
        NAME, (VariantChange("Champion", weight=0.0), VariantChange("Challenger", weight=100.0))
    )
    assert plan(promoted, live_on(promoted), OWNER, Memory(2)).actions == ()

    alone = desired(ab(variants=[variant("Challenger", CHALLENGER_MODEL, 100, instanceCount=1)]))
    assert alone.variants[0].model_name == trial.variants[1].model_name  # the challenger's model is kept
    result = plan(alone, moving_from(promoted, alone), OWNER, Memory(3))
    assert [type(action) for action in result.actions] == [CreateEndpointConfig, UpdateEndpoint]
    assert [notice.reason for notice in result.notices] == ["VariantsChanged"]


def test_a_shadows_weight_and_count_change_in_place_the_weight_first() -> None:
    before, after = desired(shadowed(50, 1)), desired(shadowed(100, 2))
    assert plan(after, live_on(before), OWNER, Memory(2)).actions == (
        UpdateEndpointWeightsAndCapacities(NAME, (VariantChange("Shadow", weight=100.0),)),
    )
    reweighted = ObservedVariant("Shadow", True, False, 1, 1, 100.0, 100.0)
    observed = Observed(endpoint=described(after, Shadow=reweighted), missing_models=(), config_exists=True)
    assert plan(after, observed, OWNER, Memory(2)).actions == (
        UpdateEndpointWeightsAndCapacities(NAME, (VariantChange("Shadow", instance_count=2),)),
    )


def test_a_serverless_variant_moved_to_instances_is_deregistered_in_its_own_dimension_and_its_counts_retained() -> None:
    """A serverless endpoint may become instance-backed
    (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-update.html): its provisioned
    concurrency's target goes before the move, and UpdateEndpoint retains the live properties while a target is
    registered even when the spec has no autoscaling any more."""
    scaling = {"minCapacity": 1, "maxCapacity": 10, "targetUtilization": 0.6}
    before = desired(serverless(provisionedConcurrency=2, autoscaling=scaling))
    after = desired(Spec.model_validate(bid_filter_spec()))
    registered = target("AllTraffic", PROVISIONED_CONCURRENCY, 1, 10)
    observed = dataclasses.replace(
        moving_from(before, after, scaling_known=True, scaling=(registered,)), live_instance_types={"AllTraffic": None}
    )
    result = plan(after, observed, OWNER, Memory(2))
    assert result.actions[-2:] == (
        DeregisterScalableTarget(f"endpoint/{NAME}/variant/AllTraffic", PROVISIONED_CONCURRENCY),
        UpdateEndpoint(NAME, after.endpoint_config_name, retain_variant_properties=True),
    )


def test_several_variants_added_and_removed_are_each_named_in_one_event() -> None:
    live = desired(ab())
    wanted = desired(
        ab(
            variants=[
                variant("Champion", CHAMPION_MODEL, 80, instanceCount=2),
                variant("Blue", CHALLENGER_MODEL, 10),
                variant("Green", CHALLENGER_MODEL, 10),
            ]
        )
    )
    (notice,) = plan(wanted, moving_from(live, wanted), OWNER, Memory(2)).notices
    assert notice.message == (
        f"Moving SageMaker endpoint {NAME} to {wanted.endpoint_config_name}: production variants Blue, Green added; "
        "production variant Challenger removed. SageMaker moves an endpoint whose variants change all at once, "
        "without the deployment guardrails of spec.deployment (they need the same variant names)"
    )


def test_a_deleted_live_config_of_several_variants_is_reported_with_every_variant_to_create_it_with() -> None:
    live = desired(ab())
    wanted = desired(ab(variants=[variant("Champion", CHAMPION_MODEL, 90), variant("Challenger", CHAMPION_MODEL, 10)]))
    observed = dataclasses.replace(moving_from(live, wanted), live_config_exists=False)
    result = plan(wanted, observed, OWNER, Memory(2))
    assert result.actions == ()
    assert result.degraded.reason == "LiveConfigMissing"
    assert (
        f"create an endpoint config named {live.endpoint_config_name} with the variants Champion, Challenger again"
        in result.degraded.message
    )


# --- deletion, retention, status, tenancy ---


def test_deletion_deregisters_every_variants_target_before_deleting_the_endpoint() -> None:
    endpoint = described(desired(ab()))
    registered = (target("Champion"), target("Challenger"))
    result = plan_deletion(endpoint, OWNER, ([], []), registered)
    assert result.actions[:2] == (
        DeregisterScalableTarget(f"endpoint/{NAME}/variant/Champion"),
        DeregisterScalableTarget(f"endpoint/{NAME}/variant/Challenger"),
    )


def test_deleting_a_serverless_endpoint_deregisters_its_provisioned_concurrency_target() -> None:
    endpoint = described(desired(serverless(provisionedConcurrency=2)))
    registered = (target("AllTraffic", PROVISIONED_CONCURRENCY, 1, 10),)
    assert plan_deletion(endpoint, OWNER, ([], []), registered).actions[0] == DeregisterScalableTarget(
        f"endpoint/{NAME}/variant/AllTraffic", PROVISIONED_CONCURRENCY
    )


def test_retention_marks_every_model_once() -> None:
    owned = dataclasses.replace(described(desired(ab())), tags=OWNER.tags())
    models = ["model-a", "model-b", "model-a"]
    marked = [action.arn.rpartition("/")[2] for action in plan_retention(owned, OWNER, models)]  # type: ignore[union-attr]
    assert marked == [NAME, desired(ab()).endpoint_config_name, "model-a", "model-b"]


def test_status_variants_keep_what_another_writer_put_there() -> None:
    status = Status.model_validate(
        {"variants": [{"name": "Champion", "kind": "Instance", "currentWeight": 90, "benchmark": {"p99Ms": 12.5}}]}
    )
    changes = {
        "Champion": {"kind": "Instance", "currentWeight": 50.0, "currentInstanceCount": None},
        "Challenger": {"kind": "Instance", "currentWeight": 50.0},
    }
    assert merge_variant_status(status.variants, changes, ["Champion", "Challenger"]) == [
        {"name": "Champion", "kind": "Instance", "currentWeight": 50.0, "benchmark": {"p99Ms": 12.5}},
        {"name": "Challenger", "kind": "Instance", "currentWeight": 50.0},
    ]
    # A writer that does not decide the variants (the benchmark) keeps the current ones and their fields.
    assert merge_variant_status(status.variants, {"Champion": {"benchmark": {"p99Ms": 9.0}}}) == [
        {"name": "Champion", "kind": "Instance", "currentWeight": 90.0, "benchmark": {"p99Ms": 9.0}}
    ]


def test_the_tenant_policy_names_the_field_of_the_variant_that_exceeds_it() -> None:
    policy = TenantPolicy.model_validate(
        {
            "namespaces": {
                "adtech": {
                    "modelDataPrefixes": [CHAMPION_MODEL["modelDataUrl"]],
                    "instanceTypes": ["ml.c5.*"],
                    "maxInstanceCount": 4,
                }
            }
        }
    )
    spec = ab(
        variants=[
            variant("Champion", CHAMPION_MODEL, 90, instanceCount=2),
            variant("Challenger", CHAMPION_MODEL, 10, instanceType="ml.p4d.24xlarge", instanceCount=5),
        ],
    )
    assert [problem.partition(": ")[0] for problem in violations(spec, "adtech", policy)] == [
        "spec.variants[Challenger].instanceType",
        "spec.variants[Challenger].instanceCount",
    ]
    assert [problem.partition(": ")[0] for problem in violations(shadowed(), "adtech", policy)] == [
        "spec.shadowVariants[Shadow].model.modelDataUrl"
    ]
    assert violations(serverless(), "adtech", policy) == []
