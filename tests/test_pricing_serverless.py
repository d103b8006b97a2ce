"""What a serverless variant costs, the real-time instance comparable to it, and the monthly volume above which that
instance is cheaper (issue 13), from the bundled price table; every expected figure is computed here from the
table's JSON, not by the functions under test."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from lowlatency import pricing

REGION = "us-east-1"
HOURS_PER_MONTH = 730  # AWS's pricing examples' month
DURATION_SECONDS = 0.12


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    """The bundled table as JSON."""
    document: dict[str, Any] = json.loads((resources.files("lowlatency") / "data/prices.json").read_text())
    return document


@pytest.fixture(scope="module")
def table() -> pricing.PriceTable:
    return pricing.load()


def on_demand(raw: dict[str, Any], memory_mb: int) -> float:
    return float(raw["serverlessPerSecondUsd"][REGION][str(memory_mb)])


def provisioned(raw: dict[str, Any], memory_mb: int) -> tuple[float, float]:
    """(a second of one provisioned concurrency, a second of inference on it) at this memory size."""
    return (
        float(raw["serverlessProvisionedConcurrencyPerSecondUsd"][REGION][str(memory_mb)]),
        float(raw["serverlessProvisionedInferencePerSecondUsd"][REGION][str(memory_mb)]),
    )


def test_an_invocation_costs_the_memory_sizes_price_per_second_for_its_duration(
    raw: dict[str, Any], table: pricing.PriceTable
) -> None:
    cost = pricing.serverless_cost(table, REGION, 2048, DURATION_SECONDS, monthly_invocations=3_000_000)

    per_invocation = on_demand(raw, 2048) * DURATION_SECONDS
    assert cost.per_invocation_usd == pytest.approx(per_invocation)
    assert cost.per_million_invocations_usd == pytest.approx(per_invocation * 1_000_000)
    assert cost.provisioned_hourly_usd is None, "no provisioned concurrency, no hourly charge"
    assert cost.monthly_usd == pytest.approx(3_000_000 * per_invocation)
    larger = pricing.serverless_cost(table, REGION, 6144, DURATION_SECONDS)
    assert larger.per_invocation_usd == pytest.approx(on_demand(raw, 6144) * DURATION_SECONDS)
    assert larger.monthly_usd is None, "no volume stated"


def test_provisioned_concurrency_is_charged_by_the_hour_and_its_inference_at_its_own_rate(
    raw: dict[str, Any], table: pricing.PriceTable
) -> None:
    cost = pricing.serverless_cost(
        table, REGION, 2048, DURATION_SECONDS, provisioned_concurrency=3, monthly_invocations=5_000_000
    )

    unit_per_second, inference_per_second = provisioned(raw, 2048)
    per_invocation = inference_per_second * DURATION_SECONDS
    hourly = unit_per_second * 3600 * 3
    assert inference_per_second != on_demand(raw, 2048), "the table prices the two differently"
    assert cost.per_invocation_usd == pytest.approx(per_invocation)
    assert cost.provisioned_hourly_usd == pytest.approx(hourly)
    assert cost.monthly_usd == pytest.approx(5_000_000 * per_invocation + hourly * HOURS_PER_MONTH)
    idle = pricing.serverless_cost(
        table, REGION, 2048, DURATION_SECONDS, provisioned_concurrency=3, monthly_invocations=0
    )
    assert idle.monthly_usd == pytest.approx(hourly * HOURS_PER_MONTH), "provisioned concurrency costs when idle"


def test_the_comparable_instance_is_the_cheapest_with_at_least_the_variants_memory(
    raw: dict[str, Any], table: pricing.PriceTable
) -> None:
    memory, hourly = raw["instanceMemoryGiB"], raw["regions"][REGION]
    for memory_mb in (1024, 4096, 5120, 6144):
        fitting = {name: price for name, price in hourly.items() if memory[name] * 1024 >= memory_mb}
        cheapest = min(fitting, key=fitting.__getitem__)
        assert pricing.comparable_instance(table, REGION, memory_mb) == (cheapest, hourly[cheapest]), memory_mb
    smallest = min(memory[name] for name in hourly)
    exactly = pricing.comparable_instance(table, REGION, int(smallest * 1024))
    assert exactly is not None
    assert memory[exactly[0]] == smallest, "as much memory as the variant is enough"
    above = pricing.comparable_instance(table, REGION, int(smallest * 1024) + 1)
    assert above is not None
    assert memory[above[0]] > smallest
    largest = max(memory[name] for name in hourly)
    assert pricing.comparable_instance(table, REGION, int(largest * 1024) + 1) is None


def test_above_the_break_even_volume_the_instance_is_cheaper(raw: dict[str, Any], table: pricing.PriceTable) -> None:
    """As the serverless benchmarking toolkit reports it: the instance's monthly cost over the cost of an invocation,
    less the provisioned concurrency's monthly charge when there is one; at that volume both cost the same."""
    comparable = pricing.comparable_instance(table, REGION, 2048)
    assert comparable is not None
    instance_type, instance_hourly = comparable
    instance_monthly = float(raw["regions"][REGION][instance_type]) * HOURS_PER_MONTH
    for concurrency in (None, 1):
        cost = pricing.serverless_cost(table, REGION, 2048, DURATION_SECONDS, provisioned_concurrency=concurrency)
        provisioned_monthly = provisioned(raw, 2048)[0] * 3600 * HOURS_PER_MONTH if concurrency else 0.0
        rate = provisioned(raw, 2048)[1] if concurrency else on_demand(raw, 2048)

        volume = pricing.break_even_monthly_invocations(
            instance_hourly, cost.per_invocation_usd, cost.provisioned_hourly_usd
        )

        assert volume == pytest.approx((instance_monthly - provisioned_monthly) / (rate * DURATION_SECONDS))
        assert volume is not None
        assert volume > 0
        at_volume = pricing.serverless_cost(
            table,
            REGION,
            2048,
            DURATION_SECONDS,
            provisioned_concurrency=concurrency,
            monthly_invocations=round(volume),
        )
        assert at_volume.monthly_usd == pytest.approx(instance_monthly, rel=1e-6)


def test_a_provisioned_charge_above_the_instances_makes_the_instance_cheaper_at_any_volume() -> None:
    assert pricing.break_even_monthly_invocations(0.056, 0.000005, provisioned_hourly_usd=0.06) == 0.0
    assert pricing.break_even_monthly_invocations(0.056, 0.000005, provisioned_hourly_usd=0.056) == 0.0
    assert pricing.break_even_monthly_invocations(0.056, 0.0) is None, "free invocations never cost as much"


def test_what_the_table_lacks_is_unknown_never_guessed(raw: dict[str, Any], table: pricing.PriceTable) -> None:
    """us-east-1 has no on-demand price for 4096 MB and no provisioned prices for 3072 MB; eu-west-1 has nothing."""
    assert table.serverless_usd_per_second[REGION].get(4096) is None
    assert table.provisioned_concurrency_usd_per_second[REGION].get(3072) is None
    assert table.serverless_usd_per_second[REGION].get(3072) is not None

    unpriced = pricing.serverless_cost(table, REGION, 4096, DURATION_SECONDS, monthly_invocations=1000)
    assert (unpriced.per_invocation_usd, unpriced.per_million_invocations_usd, unpriced.monthly_usd) == (
        None,
        None,
        None,
    )
    not_provisioned = pricing.serverless_cost(
        table, REGION, 3072, DURATION_SECONDS, provisioned_concurrency=2, monthly_invocations=1000
    )
    assert not_provisioned == pricing.ServerlessCost(None, None, None)
    elsewhere = pricing.serverless_cost(table, "eu-west-1", 2048, DURATION_SECONDS, monthly_invocations=1000)
    assert elsewhere == pricing.ServerlessCost(None, None, None)
    assert pricing.comparable_instance(table, "eu-west-1", 1024) is None
    assert pricing.break_even_monthly_invocations(None, 0.000005) is None
    assert pricing.break_even_monthly_invocations(0.056, None) is None
    uncharged = pricing.parse({**raw, "serverlessProvisionedConcurrencyPerSecondUsd": {}}, "no provisioned charge")
    without_charge = pricing.serverless_cost(
        uncharged, REGION, 2048, DURATION_SECONDS, provisioned_concurrency=1, monthly_invocations=1000
    )
    assert without_charge.per_invocation_usd == pytest.approx(provisioned(raw, 2048)[1] * DURATION_SECONDS)
    assert (without_charge.provisioned_hourly_usd, without_charge.monthly_usd) == (None, None)

    old = pricing.parse(
        {"source": "mine", "compiled": "2026-10-01", "regions": {REGION: {"ml.c5.xlarge": 0.204}}}, "old"
    )
    assert pricing.comparable_instance(old, REGION, 1024) is None, "an instance of unknown memory is not comparable"
    assert pricing.serverless_cost(old, REGION, 1024, DURATION_SECONDS, provisioned_concurrency=1) == (
        pricing.ServerlessCost(None, None, None)
    )
