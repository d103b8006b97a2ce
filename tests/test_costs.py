"""status.cost per variant and in total, computed here by hand from the test's own price table: instance variants
by the hour at their live counts, serverless variants per invocation of their measured mean duration."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from lowlatency import api, pricing
from lowlatency.costs import cost_of
from specs import bid_filter_spec

REGION = "us-east-1"
HOURS_PER_MONTH = 730  # AWS's pricing examples' month
C5_XLARGE, M5_LARGE, C5_LARGE = 0.5, 0.25, 0.125  # USD per hour, unlike any real price
ON_DEMAND_2048, PROVISIONED_2048, PROVISIONED_INFERENCE_2048 = 4e-5, 1e-5, 2.5e-5  # USD per second
TABLE = {
    "source": "the test",
    "compiled": "2026-11-25",
    "regions": {REGION: {"ml.c5.xlarge": C5_XLARGE, "ml.m5.large": M5_LARGE, "ml.c5.large": C5_LARGE}},
    "instanceMemoryGiB": {"ml.c5.xlarge": 8, "ml.m5.large": 8, "ml.c5.large": 4},
    "serverlessPerSecondUsd": {REGION: {"2048": ON_DEMAND_2048}},
    "serverlessProvisionedConcurrencyPerSecondUsd": {REGION: {"2048": PROVISIONED_2048}},
    "serverlessProvisionedInferencePerSecondUsd": {REGION: {"2048": PROVISIONED_INFERENCE_2048}},
}
PRICES = pricing.parse(TABLE, "the test")
CONCURRENCY = 4
BENCHMARK = {"payload": "0.2,1", "requests": 100, "concurrency": CONCURRENCY}


def model() -> dict[str, Any]:
    return dict(bid_filter_spec()["model"])


def measured(generation: int, throughput_rps: float, mean_ms: float = 3.2) -> api.BenchmarkResult:
    return api.BenchmarkResult(
        generation=generation,
        mean_ms=mean_ms,
        p50_ms=3.0,
        p90_ms=4.0,
        p99_ms=6.0,
        throughput_rps=throughput_rps,
        requests=100,
        errors=0,
        slo_met=True,
        completed_at=datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC),
    )


def live(*variants: api.VariantStatus, benchmark: api.BenchmarkResult | None = None) -> api.Status:
    return api.Status(phase="InService", observed_generation=2, variants=list(variants), benchmark=benchmark)


def spec(**fields: Any) -> api.Spec:
    return api.Spec.model_validate({"benchmark": BENCHMARK} | fields)


def by_name(cost: api.Cost | None) -> dict[str, api.VariantCost]:
    assert cost is not None
    return {variant.name: variant for variant in cost.variants}


def per_million(hourly: float, throughput_rps: float) -> float:
    return hourly / (throughput_rps * 3600) * 1e6


def test_each_production_variant_is_priced_at_its_live_count_and_its_own_throughput() -> None:
    ab = spec(
        variants=[
            {"name": "Champion", "model": model(), "instanceType": "ml.c5.xlarge", "instanceCount": 2, "weight": 9},
            {"name": "Challenger", "model": model(), "instanceType": "ml.m5.large", "instanceCount": 1, "weight": 1},
        ]
    )
    status = live(
        # The autoscaler moved the champion to 3 instances: the live count is what is billed.
        api.VariantStatus(name="Champion", kind="Instance", current_instance_count=3, benchmark=measured(2, 400.0)),
        api.VariantStatus(name="Challenger", kind="Instance", current_instance_count=1, benchmark=measured(2, 150.0)),
        benchmark=measured(2, 500.0),
    )
    cost = cost_of(ab, status, 2, PRICES, REGION)
    variants = by_name(cost)
    champion, challenger = variants["Champion"], variants["Challenger"]
    assert champion.hourly_usd == pytest.approx(3 * C5_XLARGE)
    assert champion.per_million_invocations_usd == pytest.approx(per_million(3 * C5_XLARGE, 400.0))
    assert champion.monthly_usd == pytest.approx(3 * C5_XLARGE * HOURS_PER_MONTH)
    assert challenger.hourly_usd == pytest.approx(M5_LARGE)
    assert challenger.per_million_invocations_usd == pytest.approx(per_million(M5_LARGE, 150.0))
    assert cost is not None
    total = 3 * C5_XLARGE + M5_LARGE
    assert cost.hourly_usd == pytest.approx(total)
    assert cost.per_million_invocations_usd == pytest.approx(per_million(total, 500.0))
    assert cost.monthly_usd == pytest.approx(total * HOURS_PER_MONTH)

    # A variant's benchmark of an earlier generation says nothing of this one's throughput.
    stale = live(
        api.VariantStatus(name="Champion", kind="Instance", current_instance_count=3, benchmark=measured(1, 400.0)),
        api.VariantStatus(name="Challenger", kind="Instance", current_instance_count=1, benchmark=measured(2, 150.0)),
        benchmark=measured(2, 500.0),
    )
    variants = by_name(cost_of(ab, stale, 2, PRICES, REGION))
    assert variants["Champion"].per_million_invocations_usd is None
    assert variants["Champion"].hourly_usd == pytest.approx(3 * C5_XLARGE)
    assert variants["Challenger"].per_million_invocations_usd == pytest.approx(per_million(M5_LARGE, 150.0))


def test_a_shadow_variant_is_billed_by_the_hour_with_the_rest() -> None:
    shadowed = spec(
        model=model(),
        instanceType="ml.c5.xlarge",
        instanceCount=2,
        shadowVariants=[{"name": "Shadow", "model": model(), "instanceType": "ml.c5.large", "instanceCount": 1}],
    )
    status = live(
        api.VariantStatus(name="AllTraffic", kind="Instance", current_instance_count=2),
        api.VariantStatus(name="Shadow", kind="Shadow", current_instance_count=1),
        benchmark=measured(2, 500.0),
    )
    cost = cost_of(shadowed, status, 2, PRICES, REGION)
    variants = by_name(cost)
    assert variants["Shadow"].hourly_usd == pytest.approx(C5_LARGE)
    assert variants["Shadow"].per_million_invocations_usd is None  # not measured
    assert variants["AllTraffic"].per_million_invocations_usd == pytest.approx(per_million(2 * C5_XLARGE, 500.0))
    assert cost is not None
    assert cost.hourly_usd == pytest.approx(2 * C5_XLARGE + C5_LARGE)
    assert cost.monthly_usd == pytest.approx((2 * C5_XLARGE + C5_LARGE) * HOURS_PER_MONTH)
    # An instance count SageMaker has not reported makes the total unknown, not smaller.
    unreported = live(api.VariantStatus(name="AllTraffic", kind="Instance", current_instance_count=2))
    assert cost_of(shadowed, unreported, 2, PRICES, REGION) == api.Cost(
        variants=[
            variants["AllTraffic"].model_copy(update={"per_million_invocations_usd": None}),
            api.VariantCost(name="Shadow"),
        ]
    )


def test_an_endpoint_with_one_variant_has_the_endpoints_count_where_the_variant_has_none() -> None:
    # The benchmark's entry of the variant, before a pass wrote its counts (or by an operator that wrote none).
    status = live(api.VariantStatus(name="AllTraffic", kind="Instance"), benchmark=measured(2, 500.0)).model_copy(
        update={"current_instance_count": 2}
    )
    cost = cost_of(spec(model=model(), instanceType="ml.c5.xlarge", instanceCount=1), status, 2, PRICES, REGION)
    assert cost is not None
    assert cost.hourly_usd == pytest.approx(2 * C5_XLARGE)
    assert by_name(cost)["AllTraffic"].per_million_invocations_usd == pytest.approx(per_million(2 * C5_XLARGE, 500.0))


def serverless(**config: Any) -> api.Spec:
    return spec(
        model=model(),
        serverless={"memorySizeInMB": 2048, "maxConcurrency": 10} | config,
        expectedMonthlyInvocations=5_000_000,
    )


def test_a_serverless_variant_costs_its_measured_mean_duration_of_compute_per_invocation() -> None:
    status = live(api.VariantStatus(name="AllTraffic", kind="Serverless"), benchmark=measured(2, 100.0, mean_ms=40))
    cost = cost_of(serverless(), status, 2, PRICES, REGION)
    [variant] = by_name(cost).values()
    per_invocation = ON_DEMAND_2048 * 0.040  # the mean latency, billed per second of the configured memory
    assert variant.hourly_usd is None  # nothing provisioned: nothing billed by the hour
    assert variant.per_million_invocations_usd == pytest.approx(per_invocation * 1e6)
    assert variant.monthly_usd == pytest.approx(5_000_000 * per_invocation)
    # The cheapest instance with at least 2 GiB, and the volume above which a month of it costs less.
    assert (variant.comparable_instance_type, variant.comparable_instance_hourly_usd) == ("ml.c5.large", C5_LARGE)
    assert variant.break_even_monthly_invocations == pytest.approx(C5_LARGE * HOURS_PER_MONTH / per_invocation)
    assert cost is not None
    assert cost.hourly_usd is None
    assert cost.per_million_invocations_usd == variant.per_million_invocations_usd
    assert cost.monthly_usd == variant.monthly_usd


def test_provisioned_concurrency_is_billed_by_the_hour_at_its_live_value() -> None:
    # The spec provisions 2; the autoscaler has moved it to 3.
    status = live(
        api.VariantStatus(name="AllTraffic", kind="Serverless", current_provisioned_concurrency=3),
        benchmark=measured(2, 200.0, mean_ms=20),
    )
    [variant] = by_name(cost_of(serverless(provisionedConcurrency=2), status, 2, PRICES, REGION)).values()
    hourly = PROVISIONED_2048 * 3600 * 3
    per_invocation = PROVISIONED_INFERENCE_2048 * 0.020
    assert variant.hourly_usd == pytest.approx(hourly)
    assert variant.per_million_invocations_usd == pytest.approx(per_invocation * 1e6)
    assert variant.monthly_usd == pytest.approx(5_000_000 * per_invocation + hourly * HOURS_PER_MONTH)
    assert variant.break_even_monthly_invocations == pytest.approx(
        (C5_LARGE - hourly) * HOURS_PER_MONTH / per_invocation
    )


def test_a_serverless_cost_waits_for_its_measurement_and_a_stated_volume() -> None:
    unmeasured = live(api.VariantStatus(name="AllTraffic", kind="Serverless"), benchmark=measured(1, 100.0))
    cost = cost_of(serverless(), unmeasured, 2, PRICES, REGION)
    assert cost == api.Cost(
        variants=[
            api.VariantCost(
                name="AllTraffic", comparable_instance_type="ml.c5.large", comparable_instance_hourly_usd=C5_LARGE
            )
        ]
    )
    no_volume = serverless().model_copy(update={"expected_monthly_invocations": None})
    status = live(api.VariantStatus(name="AllTraffic", kind="Serverless"), benchmark=measured(2, 100.0))
    cost = cost_of(no_volume, status, 2, PRICES, REGION)
    assert cost is not None
    assert cost.per_million_invocations_usd is not None
    assert cost.monthly_usd is None
    # Nothing serves yet: no cost at all.
    assert cost_of(serverless(), api.Status(observed_generation=2), 2, PRICES, REGION) is None


def test_a_price_the_table_lacks_leaves_that_cost_and_the_totals_unknown() -> None:
    ab = spec(
        variants=[
            {"name": "Champion", "model": model(), "instanceType": "ml.c5.xlarge", "instanceCount": 1},
            {"name": "Challenger", "model": model(), "instanceType": "ml.g5.xlarge", "instanceCount": 1},
        ]
    )
    status = live(
        api.VariantStatus(name="Champion", kind="Instance", current_instance_count=1, benchmark=measured(2, 100.0)),
        api.VariantStatus(name="Challenger", kind="Instance", current_instance_count=1, benchmark=measured(2, 100.0)),
        benchmark=measured(2, 200.0),
    )
    cost = cost_of(ab, status, 2, PRICES, REGION)
    variants = by_name(cost)
    assert variants["Champion"].hourly_usd == pytest.approx(C5_XLARGE)
    assert (variants["Challenger"].hourly_usd, variants["Challenger"].monthly_usd) == (None, None)
    assert cost is not None
    assert (cost.hourly_usd, cost.per_million_invocations_usd, cost.monthly_usd) == (None, None, None)
    # Nor does a region the table does not know price anything.
    elsewhere = cost_of(ab, status, 2, PRICES, "ap-south-2")
    assert elsewhere is not None
    assert [variant.hourly_usd for variant in elsewhere.variants] == [None, None]
