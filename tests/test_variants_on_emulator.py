"""Several production variants, a shadow variant and serverless endpoints reconciled pass by pass against the AWS
emulator (SageMaker's and Application Auto Scaling's rules for variants: tests/test_aws_emulator_variants.py): what
is changed in place and what moves to a new config, with and without guardrails, promotion by weights, autoscaling per
variant, status.variants and deletion (the Kubernetes side played by hand, the emulator's clock driven by hand)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from aws_passes import converge, resource_body, run_pass
from fixtures_aws import TEST_DELAYS, ManualClock
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.reconciler import EndpointReconciler, EndpointResource, PassResult
from specs import MODEL_ARTIFACTS, bid_filter_spec

pytestmark = pytest.mark.timeout(60)

CHAMPION_MODEL = bid_filter_spec()["model"]
CHALLENGER_MODEL = {**CHAMPION_MODEL, "modelDataUrl": MODEL_ARTIFACTS[1]}
SCALING = {"minCapacity": 1, "maxCapacity": 4, "targetInvocationsPerInstance": 6000}
MUTATING = ("Create", "Update", "Delete", "Register", "Deregister", "Put", "Add")


def variant(name: str, model: dict[str, Any], weight: float, **hosting: Any) -> dict[str, Any]:
    return {"name": name, "model": model, "weight": weight, **({"instanceType": "ml.c5.xlarge"} | hosting)}


def ab(champion: float = 90, challenger: float = 10, **overrides: Any) -> dict[str, Any]:
    return {
        "variants": [
            variant("Champion", CHAMPION_MODEL, champion, instanceCount=2),
            variant("Challenger", CHALLENGER_MODEL, challenger, instanceCount=1),
        ],
        "tags": {"team": "bidding"},
    } | overrides


def change(body: dict[str, Any], generation: int, **spec: Any) -> None:
    """A new generation of the spec, as kubectl apply makes it."""
    body["spec"] = {**body["spec"], **spec}
    body["metadata"]["generation"] = generation


def mutations(aws_emulator: AwsEmulator, since: int = 0) -> Counter[str]:
    calls = aws_emulator.calls()[since:]
    return Counter(call.operation for call in calls if call.operation.startswith(MUTATING) and call.status < 400)


def variants_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in body["status"]["variants"]}


def described_weights(sagemaker: Any, name: str) -> dict[str, float]:
    described = sagemaker.describe_endpoint(EndpointName=name)
    return {v["VariantName"]: v["CurrentWeight"] for v in described["ProductionVariants"]}


def events_of(results: list[PassResult]) -> list[tuple[str, str]]:
    return [(event.reason, event.message) for result in results for event in result.events]


def converge_collecting(reconciler: EndpointReconciler, body: dict[str, Any], clock: ManualClock) -> list[PassResult]:
    """Passes until InService and still, moving the clock past any transition; every pass's result."""
    results = []
    for _ in range(10):
        results.append(run_pass(reconciler, body))
        if body["status"].get("phase") == "InService" and not results[-1].moving:
            return results
        clock.advance(TEST_DELAYS.create + TEST_DELAYS.update)
    raise AssertionError(f"not InService: {body['status']}")


def test_an_ab_test_is_created_with_both_variants_weighted_and_reported_in_status(
    reconciler_on_emulator: EndpointReconciler, aws_clock: ManualClock, sagemaker: Any
) -> None:
    body = resource_body("ab", ab())

    converge(reconciler_on_emulator, body, aws_clock.advance)

    config = sagemaker.describe_endpoint_config(EndpointConfigName=body["status"]["endpointConfigName"])
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in config["ProductionVariants"]] == [
        ("Champion", 90.0),
        ("Challenger", 10.0),
    ]
    assert len({v["ModelName"] for v in config["ProductionVariants"]}) == 2
    assert body["status"]["variants"] == [
        {
            "name": "Champion",
            "kind": "Instance",
            "currentInstanceCount": 2,
            "desiredInstanceCount": 2,
            "currentWeight": 90.0,
            "desiredWeight": 90.0,
        },
        {
            "name": "Challenger",
            "kind": "Instance",
            "currentInstanceCount": 1,
            "desiredInstanceCount": 1,
            "currentWeight": 10.0,
            "desiredWeight": 10.0,
        },
    ]
    assert body["status"]["currentInstanceCount"] == 3
    assert body["status"]["modelName"] == config["ProductionVariants"][0]["ModelName"]


def test_a_weight_change_is_one_update_of_weights_in_place_and_the_benchmark_in_status_stays(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, sagemaker: Any
) -> None:
    body = resource_body("reweighted", ab())
    converge(reconciler_on_emulator, body, aws_clock.advance)
    config = body["status"]["endpointConfigName"]
    benchmark = {"p99Ms": 12.5, "requests": 100}
    variants_of(body)["Challenger"]["benchmark"] = benchmark  # as the benchmark writes it
    before = len(aws_emulator.calls())
    change(body, 2, variants=ab(50, 50)["variants"])

    moving = run_pass(reconciler_on_emulator, body)

    assert mutations(aws_emulator, before) == Counter({"UpdateEndpointWeightsAndCapacities": 1})
    assert (moving.moving, body["status"]["phase"]) == (True, "Updating")
    run_pass(reconciler_on_emulator, body)  # SageMaker moving the weights
    assert (variants_of(body)["Champion"]["currentWeight"], variants_of(body)["Champion"]["desiredWeight"]) == (
        90.0,
        50.0,
    )
    aws_clock.advance(TEST_DELAYS.capacity)
    converge(reconciler_on_emulator, body, aws_clock.advance)
    assert described_weights(sagemaker, "adtech-reweighted") == {"Champion": 50.0, "Challenger": 50.0}
    assert body["status"]["endpointConfigName"] == config
    assert variants_of(body)["Challenger"]["benchmark"] == benchmark
    assert mutations(aws_emulator, before) == Counter({"UpdateEndpointWeightsAndCapacities": 1})


def desired_of(sagemaker: Any, name: str) -> dict[str, tuple[float, int]]:
    """Each production variant's desired weight and instance count, as DescribeEndpoint reports them."""
    described = sagemaker.describe_endpoint(EndpointName=name)
    return {v["VariantName"]: (v["DesiredWeight"], v["DesiredInstanceCount"]) for v in described["ProductionVariants"]}


def in_place_calls(
    reconciler: EndpointReconciler,
    body: dict[str, Any],
    *,
    aws_emulator: AwsEmulator,
    clock: ManualClock,
    sagemaker: Any,
) -> tuple[list[dict[str, tuple[float, int]]], list[PassResult]]:
    """Passes until InService and still; after each pass that sent UpdateEndpointWeightsAndCapacities, what SageMaker
    was asked for (its desired weights and counts), and one more pass while the endpoint is Updating, which must send
    nothing. Every pass's result."""
    asked, results = [], []
    for _ in range(10):
        since = len(aws_emulator.calls())
        results.append(run_pass(reconciler, body))
        if mutations(aws_emulator, since)["UpdateEndpointWeightsAndCapacities"]:
            asked.append(desired_of(sagemaker, body["status"]["endpointName"]))
            since = len(aws_emulator.calls())
            results.append(run_pass(reconciler, body))
            assert (results[-1].moving, mutations(aws_emulator, since)) == (True, Counter())
        elif body["status"].get("phase") == "InService" and not results[-1].moving:
            return asked, results
        clock.advance(TEST_DELAYS.capacity)
    raise AssertionError(f"not InService: {body['status']}")


def test_weights_then_each_variants_count_are_changed_one_call_per_pass_to_the_spec(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, sagemaker: Any
) -> None:
    """UpdateEndpointWeightsAndCapacities changes weights, or the capacity of one variant
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpointWeightsAndCapacities.html): the
    weights go first, then each variant's count once the endpoint is InService again; nothing refused, no drift."""
    body = resource_body("rescaled", ab())
    converge(reconciler_on_emulator, body, aws_clock.advance)
    before = len(aws_emulator.calls())
    change(
        body,
        2,
        variants=[
            variant("Champion", CHAMPION_MODEL, 70, instanceCount=3),
            variant("Challenger", CHALLENGER_MODEL, 30, instanceCount=2),
        ],
    )

    asked, results = in_place_calls(
        reconciler_on_emulator, body, aws_emulator=aws_emulator, clock=aws_clock, sagemaker=sagemaker
    )

    assert asked == [
        {"Champion": (70.0, 2), "Challenger": (30.0, 1)},
        {"Champion": (70.0, 3), "Challenger": (30.0, 1)},
        {"Champion": (70.0, 3), "Challenger": (30.0, 2)},
    ]
    assert mutations(aws_emulator, before) == Counter({"UpdateEndpointWeightsAndCapacities": 3})
    assert all(call.status == 200 for call in aws_emulator.calls()[before:])
    assert [
        (entry["currentWeight"], entry["desiredWeight"], entry["currentInstanceCount"], entry["desiredInstanceCount"])
        for entry in body["status"]["variants"]
    ] == [(70.0, 70.0, 3, 3), (30.0, 30.0, 2, 2)]
    assert body["status"]["currentInstanceCount"] == 5
    assert body["status"]["observedGeneration"] == 2
    assert "DriftRepaired" not in [reason for reason, _ in events_of(results)]


def test_counts_of_two_variants_changed_outside_the_operator_are_set_back_one_variant_per_pass(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, sagemaker: Any
) -> None:
    body = resource_body("drifted", ab())
    converge(reconciler_on_emulator, body, aws_clock.advance)
    for name, count in (("Champion", 4), ("Challenger", 3)):  # someone else, one variant per call as SageMaker takes
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName="adtech-drifted",
            DesiredWeightsAndCapacities=[{"VariantName": name, "DesiredInstanceCount": count}],
        )
        aws_clock.advance(TEST_DELAYS.capacity)
    before = len(aws_emulator.calls())

    asked, results = in_place_calls(
        reconciler_on_emulator, body, aws_emulator=aws_emulator, clock=aws_clock, sagemaker=sagemaker
    )

    assert asked == [{"Champion": (90.0, 2), "Challenger": (10.0, 3)}, {"Champion": (90.0, 2), "Challenger": (10.0, 1)}]
    assert mutations(aws_emulator, before) == Counter({"UpdateEndpointWeightsAndCapacities": 2})
    assert all(call.status == 200 for call in aws_emulator.calls()[before:])
    assert [message for reason, message in events_of(results) if reason == "DriftRepaired"] == [
        "Instance count of adtech-drifted variant Champion was changed outside the operator to 4; set back to 2",
        "Instance count of adtech-drifted variant Challenger was changed outside the operator to 3; set back to 1",
    ]
    assert [entry["currentInstanceCount"] for entry in body["status"]["variants"]] == [2, 1]


def test_a_model_change_of_one_variant_moves_with_the_specs_guardrails_and_keeps_the_names(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, sagemaker: Any
) -> None:
    canary = {"strategy": "Canary", "canarySizePercent": 10}
    body = resource_body("remodelled", ab(deployment=canary))
    converge(reconciler_on_emulator, body, aws_clock.advance)
    before = len(aws_emulator.calls())
    new_model = {**CHALLENGER_MODEL, "image": f"{CHALLENGER_MODEL['image']}-2"}
    change(
        body,
        2,
        variants=[variant("Champion", CHAMPION_MODEL, 90, instanceCount=2), variant("Challenger", new_model, 10)],
    )

    results = converge_collecting(reconciler_on_emulator, body, aws_clock)

    assert mutations(aws_emulator, before)["UpdateEndpoint"] == 1
    assert mutations(aws_emulator, before)["CreateModel"] == 1  # the champion's model is kept
    described = sagemaker.describe_endpoint(EndpointName="adtech-remodelled")
    assert described["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["Champion", "Challenger"]
    assert "VariantsChanged" not in [reason for reason, _ in events_of(results)]
    assert body["status"]["observedGeneration"] == 2


def test_a_challenger_is_promoted_by_weights_and_the_old_champion_removed_without_guardrails(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, sagemaker: Any
) -> None:
    canary = {"strategy": "Canary", "canarySizePercent": 10}
    body = resource_body("promoted", ab(deployment=canary))
    converge(reconciler_on_emulator, body, aws_clock.advance)
    champion_model = sagemaker.describe_endpoint_config(EndpointConfigName=body["status"]["endpointConfigName"])[
        "ProductionVariants"
    ][0]["ModelName"]

    change(body, 2, variants=ab(0, 100)["variants"])
    converge(reconciler_on_emulator, body, aws_clock.advance)
    assert described_weights(sagemaker, "adtech-promoted") == {"Champion": 0.0, "Challenger": 100.0}

    before = len(aws_emulator.calls())
    change(body, 3, variants=[variant("Challenger", CHALLENGER_MODEL, 100, instanceCount=1)])
    results = converge_collecting(reconciler_on_emulator, body, aws_clock)

    (said,) = [message for reason, message in events_of(results) if reason == "VariantsChanged"]
    assert "production variant Champion removed" in said
    assert mutations(aws_emulator, before)["UpdateEndpoint"] == 1
    described = sagemaker.describe_endpoint(EndpointName="adtech-promoted")
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["Challenger"]
    assert body["status"]["observedGeneration"] == 3
    assert list(variants_of(body)) == ["Challenger"]
    run_pass(reconciler_on_emulator, body, audit=True)  # the audit tidies up what earlier rollouts left
    assert champion_model not in [
        m["ModelName"] for m in sagemaker.list_models(NameContains="adtech-promoted")["Models"]
    ]


def test_an_autoscaled_variant_is_deregistered_before_its_instance_type_changes_and_registered_again(
    reconciler_on_emulator: EndpointReconciler,
    aws_emulator: AwsEmulator,
    aws_clock: ManualClock,
    autoscaling: Any,
) -> None:
    """Application Auto Scaling refuses an update that changes the instance type of a registered variant; the other
    variant's target stays registered through the move."""
    scaled = {"autoscaling": SCALING}
    body = resource_body(
        "retyped",
        ab(
            variants=[
                variant("Champion", CHAMPION_MODEL, 90, **scaled),
                variant("Challenger", CHALLENGER_MODEL, 10, **scaled),
            ]
        ),
    )
    converge(reconciler_on_emulator, body, aws_clock.advance)
    assert registered(autoscaling, "adtech-retyped") == {"Champion", "Challenger"}
    change(
        body,
        2,
        variants=[
            variant("Champion", CHAMPION_MODEL, 90, instanceType="ml.c6i.xlarge", **scaled),
            variant("Challenger", CHALLENGER_MODEL, 10, **scaled),
        ],
    )

    converge(reconciler_on_emulator, body, aws_clock.advance)

    assert body["status"]["observedGeneration"] == 2
    assert [call.resource for call in aws_emulator.calls(operation="DeregisterScalableTarget")] == [
        "endpoint/adtech-retyped/variant/Champion"
    ]
    assert registered(autoscaling, "adtech-retyped") == {"Champion", "Challenger"}
    assert all(call.status < 400 for call in aws_emulator.calls(operation="UpdateEndpoint"))


def test_a_move_under_autoscaling_keeps_the_autoscalers_counts_and_takes_the_new_configs_weights(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, sagemaker: Any
) -> None:
    """UpdateEndpoint retains the live counts (RetainAllVariantProperties) but not the weights
    (ExcludeRetainedVariantProperties DesiredWeight): a generation that changes a model and the weights needs no
    second call."""
    scaled = {"autoscaling": SCALING}
    body = resource_body(
        "retained",
        ab(
            variants=[
                variant("Champion", CHAMPION_MODEL, 90, **scaled),
                variant("Challenger", CHALLENGER_MODEL, 10, **scaled),
            ]
        ),
    )
    converge(reconciler_on_emulator, body, aws_clock.advance)
    aws_emulator.sagemaker.scale("adtech-retained", 3, variant="Champion")
    aws_clock.advance(TEST_DELAYS.capacity)
    new_model = {**CHALLENGER_MODEL, "image": f"{CHALLENGER_MODEL['image']}-2"}
    before = len(aws_emulator.calls())
    change(
        body,
        2,
        variants=[variant("Champion", CHAMPION_MODEL, 50, **scaled), variant("Challenger", new_model, 50, **scaled)],
    )

    converge(reconciler_on_emulator, body, aws_clock.advance)

    assert body["status"]["observedGeneration"] == 2
    assert mutations(aws_emulator, before)["UpdateEndpointWeightsAndCapacities"] == 0
    assert described_weights(sagemaker, "adtech-retained") == {"Champion": 50.0, "Challenger": 50.0}
    assert variants_of(body)["Champion"]["currentInstanceCount"] == 3


def registered(autoscaling: Any, endpoint: str) -> set[str]:
    prefix = f"endpoint/{endpoint}/variant/"
    found = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    return {t["ResourceId"].removeprefix(prefix) for t in found if t["ResourceId"].startswith(prefix)}


def test_deleting_an_ab_test_deregisters_every_variants_target_first(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, sagemaker: Any
) -> None:
    scaled = {"autoscaling": SCALING}
    body = resource_body(
        "gone",
        ab(
            variants=[
                variant("Champion", CHAMPION_MODEL, 90, **scaled),
                variant("Challenger", CHALLENGER_MODEL, 10, **scaled),
            ]
        ),
    )
    converge(reconciler_on_emulator, body, aws_clock.advance)

    for _ in range(6):
        if reconciler_on_emulator.delete(EndpointResource.from_body(body)).done:
            break
        aws_clock.advance(TEST_DELAYS.delete)

    deregistered = aws_emulator.calls(operation="DeregisterScalableTarget")
    assert sorted(str(call.resource) for call in deregistered) == [
        "endpoint/adtech-gone/variant/Challenger",
        "endpoint/adtech-gone/variant/Champion",
    ]
    assert all(call.status == 200 for call in deregistered)
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_models(NameContains="adtech-gone")["Models"] == []


# --- a shadow variant ---


def shadowed(shadow_weight: float = 50, shadow_model: dict[str, Any] = CHALLENGER_MODEL) -> dict[str, Any]:
    """One production variant and a shadow that receives a copy of a share of its traffic (SageMaker allows one
    production variant beside a shadow: https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-create.html)."""
    return {
        "variants": [variant("Production", CHAMPION_MODEL, 1, instanceCount=1)],
        "shadowVariants": [variant("Shadow", shadow_model, shadow_weight, instanceCount=1)],
    }


def test_a_shadow_variant_is_created_reported_and_reweighted_in_place(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, sagemaker: Any
) -> None:
    body = resource_body("shadowed", shadowed())
    converge(reconciler_on_emulator, body, aws_clock.advance)

    config = sagemaker.describe_endpoint_config(EndpointConfigName=body["status"]["endpointConfigName"])
    assert [v["VariantName"] for v in config["ShadowProductionVariants"]] == ["Shadow"]
    assert [(entry["name"], entry["kind"]) for entry in body["status"]["variants"]] == [
        ("Production", "Instance"),
        ("Shadow", "Shadow"),
    ]
    assert body["status"]["currentInstanceCount"] == 1  # production instances; the shadow's are its own
    before = len(aws_emulator.calls())
    change(body, 2, **shadowed(100))

    converge(reconciler_on_emulator, body, aws_clock.advance)

    assert mutations(aws_emulator, before) == Counter({"UpdateEndpointWeightsAndCapacities": 1})
    assert variants_of(body)["Shadow"]["currentWeight"] == 100.0


def test_promoting_a_shadow_moves_its_model_into_production_and_removes_the_shadow(
    reconciler_on_emulator: EndpointReconciler, aws_clock: ManualClock, sagemaker: Any
) -> None:
    body = resource_body("shadow-promoted", shadowed())
    converge(reconciler_on_emulator, body, aws_clock.advance)
    change(body, 2, variants=[variant("Production", CHALLENGER_MODEL, 1, instanceCount=1)], shadowVariants=[])

    results = converge_collecting(reconciler_on_emulator, body, aws_clock)

    assert any("shadow variant Shadow removed" in message for _, message in events_of(results))
    config = sagemaker.describe_endpoint_config(EndpointConfigName=body["status"]["endpointConfigName"])
    assert "ShadowProductionVariants" not in config or not config["ShadowProductionVariants"]
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["PrimaryContainer"]["ModelDataUrl"] == CHALLENGER_MODEL["modelDataUrl"]
    assert list(variants_of(body)) == ["Production"]


# --- serverless ---


def serverless(**config: Any) -> dict[str, Any]:
    return {"model": CHAMPION_MODEL, "serverless": {"memorySizeInMB": 2048, "maxConcurrency": 10} | config}


def test_a_serverless_endpoint_changes_its_concurrency_in_place_and_its_memory_by_a_new_config(
    reconciler_on_emulator: EndpointReconciler, aws_emulator: AwsEmulator, aws_clock: ManualClock, sagemaker: Any
) -> None:
    body = resource_body("serverless", serverless(provisionedConcurrency=2))
    converge(reconciler_on_emulator, body, aws_clock.advance)
    (reported,) = body["status"]["variants"]
    assert (reported["name"], reported["kind"]) == ("AllTraffic", "Serverless")
    assert (reported["currentProvisionedConcurrency"], reported["desiredProvisionedConcurrency"]) == (2, 2)
    assert "currentInstanceCount" not in reported
    assert body["status"].get("currentInstanceCount") is None
    config = body["status"]["endpointConfigName"]

    before = len(aws_emulator.calls())
    change(body, 2, **serverless(maxConcurrency=20, provisionedConcurrency=4))
    converge(reconciler_on_emulator, body, aws_clock.advance)
    assert mutations(aws_emulator, before) == Counter({"UpdateEndpointWeightsAndCapacities": 1})
    assert body["status"]["endpointConfigName"] == config
    current = sagemaker.describe_endpoint(EndpointName="adtech-serverless")["ProductionVariants"][0]
    assert current["CurrentServerlessConfig"]["MaxConcurrency"] == 20

    before = len(aws_emulator.calls())
    change(body, 3, **serverless(memorySizeInMB=4096, maxConcurrency=20, provisionedConcurrency=4))
    converge(reconciler_on_emulator, body, aws_clock.advance)
    assert mutations(aws_emulator, before)["UpdateEndpoint"] == 1
    assert body["status"]["endpointConfigName"] != config
    assert body["status"]["observedGeneration"] == 3


def test_a_serverless_variants_provisioned_concurrency_is_autoscaled_and_not_set_back(
    reconciler_on_emulator: EndpointReconciler,
    aws_emulator: AwsEmulator,
    aws_clock: ManualClock,
    autoscaling: Any,
    sagemaker: Any,
) -> None:
    scaling = {"minCapacity": 1, "maxCapacity": 8, "targetUtilization": 0.6}
    body = resource_body("warm", serverless(provisionedConcurrency=2, autoscaling=scaling))
    converge(reconciler_on_emulator, body, aws_clock.advance)

    scope = {"ServiceNamespace": "sagemaker", "ScalableDimension": "sagemaker:variant:DesiredProvisionedConcurrency"}
    (target,) = autoscaling.describe_scalable_targets(**scope)["ScalableTargets"]
    assert (target["ResourceId"], target["MinCapacity"], target["MaxCapacity"]) == (
        "endpoint/adtech-warm/variant/AllTraffic",
        1,
        8,
    )
    (policy,) = autoscaling.describe_scaling_policies(**scope)["ScalingPolicies"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 0.6
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "SageMakerVariantProvisionedConcurrencyUtilization"
    )

    # The autoscaler's own change: UpdateEndpointWeightsAndCapacities of the provisioned concurrency.
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="adtech-warm",
        DesiredWeightsAndCapacities=[
            {"VariantName": "AllTraffic", "ServerlessUpdateConfig": {"ProvisionedConcurrency": 6}}
        ],
    )
    aws_clock.advance(TEST_DELAYS.capacity)
    before = len(aws_emulator.calls())
    run_pass(reconciler_on_emulator, body, audit=True)
    assert mutations(aws_emulator, before) == Counter()
    assert body["status"]["variants"][0]["currentProvisionedConcurrency"] == 6
