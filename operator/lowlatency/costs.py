"""status.cost: what the live endpoint costs, per variant and in total, from the price table, the live counts that
status holds and the benchmarks of the live generation. Pure: no AWS call, no I/O.

- An instance-backed variant (production or shadow) is billed by the hour: its live instances x the on-demand price
  of its instance type; per million invocations, that hourly cost at the variant's own measured throughput; a month
  is 730 hours of it, whatever the traffic.
- A serverless variant is billed by SageMaker's serverless pricing (:func:`lowlatency.pricing.serverless_cost`):
  compute of its configured memory for the measured mean duration of an invocation, and, with provisioned
  concurrency, the provisioned units by the hour; a month at spec.expectedMonthlyInvocations. Beside it, the
  comparable real-time instance (the cheapest with at least its memory) and the monthly volume above which that
  instance costs less.
- The endpoint: by the hour, its instance variants added up; per million invocations, that hourly cost at the
  endpoint's measured throughput (a serverless endpoint: its variant's figure); by the month, its variants added up,
  unknown when any of them is.

The duration of an invocation is the benchmark's mean latency, the time a caller sees: it bounds from above the
compute time SageMaker bills (the request's way to and from the endpoint is not billed).
"""

from __future__ import annotations

from lowlatency import api, pricing

VariantOfSpec = tuple[api.VariantSpec, api.VariantKind]


def live_variants(spec: api.Spec, status: api.Status) -> tuple[VariantOfSpec, ...]:
    """The spec's production and shadow variants with their kinds; the shorthand's variant under the name the
    endpoint gives it (an adopted endpoint keeps its own)."""
    reported = [entry.name for entry in status.variants if entry.kind != "Shadow"]
    single_name = reported[0] if len(reported) == 1 else api.DEFAULT_VARIANT
    production: list[VariantOfSpec] = [
        (variant, "Serverless" if variant.serverless is not None else "Instance")
        for variant in spec.production_variants(single_name)
    ]
    return (*production, *((shadow, "Shadow") for shadow in spec.shadow_variants))


def cost_of(
    spec: api.Spec, status: api.Status, generation: int, prices: pricing.PriceTable, default_region: str
) -> api.Cost | None:
    """status.cost now: nothing while nothing serves, the cost last written while a rollout moves, and once the
    generation is live its variants' costs and their total."""
    if not status.variants and status.current_instance_count is None:
        return None
    if status.observed_generation != generation:
        return status.cost
    region = spec.region or default_region
    variants = live_variants(spec, status)
    single_production = sum(kind != "Shadow" for _, kind in variants) == 1
    priced: list[tuple[api.VariantCost, api.VariantKind]] = []
    for variant, kind in variants:
        entry = next((entry for entry in status.variants if entry.name == variant.name), None)
        # The endpoint's one production variant is measured as the endpoint (its benchmark is status.benchmark).
        if single_production and kind != "Shadow":
            measured = _of(status.benchmark, generation)
        else:
            measured = None if entry is None else _of(entry.benchmark, generation)
        if variant.serverless is None:
            count = entry.current_instance_count if entry is not None else None
            if count is None and len(variants) == 1:
                count = status.current_instance_count  # the endpoint's count, where no variant's is written
            priced.append((_instance_cost(prices, region, variant, count, measured), kind))
        else:
            provisioned = variant.serverless.provisioned_concurrency
            if entry is not None:
                provisioned = entry.current_provisioned_concurrency
            priced.append(
                (_serverless_cost(spec, prices, region, variant, provisioned=provisioned, measured=measured), kind)
            )
    return _total(priced, _of(status.benchmark, generation))


def _of(measured: api.BenchmarkResult | None, generation: int) -> api.BenchmarkResult | None:
    """A benchmark of ``generation``: one of an earlier generation says nothing of this one's throughput."""
    return measured if measured is not None and measured.generation == generation else None


def _throughput(measured: api.BenchmarkResult | None) -> float | None:
    return None if measured is None else measured.throughput_rps


def _sum(costs: list[float | None]) -> float | None:
    """The costs added up; unknown when any is, or when there is none."""
    known = [cost for cost in costs if cost is not None]
    return sum(known) if costs and len(known) == len(costs) else None


def _instance_cost(
    prices: pricing.PriceTable,
    region: str,
    variant: api.VariantSpec,
    count: int | None,
    measured: api.BenchmarkResult | None,
) -> api.VariantCost:
    assert variant.instance_type is not None  # instance-backed: the spec's hosting rules
    hourly = None if count is None else prices.hourly_cost(variant.instance_type, count, region)
    throughput = _throughput(measured)
    return api.VariantCost(
        name=variant.name,
        hourly_usd=hourly,
        per_million_invocations_usd=None
        if hourly is None or throughput is None
        else pricing.cost_per_million_invocations(hourly, throughput),
        monthly_usd=None if hourly is None else hourly * pricing.HOURS_PER_MONTH,
    )


def _serverless_cost(
    spec: api.Spec,
    prices: pricing.PriceTable,
    region: str,
    variant: api.VariantSpec,
    *,
    provisioned: int | None,
    measured: api.BenchmarkResult | None,
) -> api.VariantCost:
    assert variant.serverless is not None
    memory = variant.serverless.memory_size_in_mb
    comparable = pricing.comparable_instance(prices, region, memory)
    instance_type, instance_hourly = comparable if comparable is not None else (None, None)
    unpriced = api.VariantCost(
        name=variant.name, comparable_instance_type=instance_type, comparable_instance_hourly_usd=instance_hourly
    )
    if measured is None or measured.mean_ms is None:
        return unpriced
    cost = pricing.serverless_cost(
        prices,
        region,
        memory,
        measured.mean_ms / 1000,
        provisioned_concurrency=provisioned,
        monthly_invocations=spec.expected_monthly_invocations,
    )
    return unpriced.model_copy(
        update={
            "hourly_usd": cost.provisioned_hourly_usd,
            "per_million_invocations_usd": cost.per_million_invocations_usd,
            "monthly_usd": cost.monthly_usd,
            "break_even_monthly_invocations": pricing.break_even_monthly_invocations(
                instance_hourly, cost.per_invocation_usd, cost.provisioned_hourly_usd
            ),
        }
    )


def _total(priced: list[tuple[api.VariantCost, api.VariantKind]], endpoint: api.BenchmarkResult | None) -> api.Cost:
    variants = [cost for cost, _ in priced]
    hourly = _sum([cost.hourly_usd for cost, kind in priced if kind != "Serverless"])
    serverless = [cost for cost, kind in priced if kind == "Serverless"]
    if serverless:
        per_million = serverless[0].per_million_invocations_usd  # SageMaker serves a serverless variant alone
    else:
        throughput = _throughput(endpoint)
        per_million = (
            None if hourly is None or throughput is None else pricing.cost_per_million_invocations(hourly, throughput)
        )
    return api.Cost(
        hourly_usd=hourly,
        per_million_invocations_usd=per_million,
        monthly_usd=_sum([cost.monthly_usd for cost in variants]),
        variants=variants,
    )
