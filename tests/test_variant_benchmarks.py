"""Each variant's benchmark: which variants a benchmark measures, and what its outcome writes into status.variants,
the Benchmarked condition and the Event, beside what the reconciler wrote there."""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from aws_passes import converge, resource_body, run_pass
from benchmark_support import isolate_aws_environment
from e2e_support import NAMESPACE, EndToEnd, condition, status_of
from fixtures_aws import TEST_DELAYS, ManualClock
from lowlatency import api, benchmark
from lowlatency.config import Benchmarking
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.emulators.model_server import Fixed, ModelServer
from lowlatency.invocation_metrics import Polling, VariantMetrics, Window, shadow_note, shadow_result
from lowlatency.measuring import (
    Job,
    Measurer,
    Outcome,
    VariantOutcome,
    VariantToMeasure,
    measure,
    variants_to_measure,
)
from lowlatency.naming import endpoint_name
from lowlatency.reconciler import EndpointReconciler
from specs import bid_filter_spec

pytest_plugins = ["e2e_fixtures"]

NOW = datetime.datetime(2026, 11, 25, 8, 0, tzinfo=datetime.UTC)
TARGET_P99_MS = 20.0
BENCHMARK = {"payload": "0.2,1", "requests": 100, "concurrency": 4, "targetP99Ms": TARGET_P99_MS}
MODEL = bid_filter_spec()["model"]
AB = {
    "variants": [
        {"name": "Champion", "model": MODEL, "instanceType": "ml.c5.xlarge", "instanceCount": 2, "weight": 9},
        {"name": "Challenger", "model": MODEL, "instanceType": "ml.m5.large", "instanceCount": 1, "weight": 1},
    ],
    "benchmark": BENCHMARK,
}


def result(p99_ms: float, *, generation: int = 2, cold_start_ms: float | None = None) -> api.BenchmarkResult:
    return api.BenchmarkResult(
        generation=generation,
        p50_ms=p99_ms / 3,
        p90_ms=p99_ms / 2,
        p99_ms=p99_ms,
        throughput_rps=400.0,
        requests=100,
        errors=0,
        slo_met=p99_ms <= TARGET_P99_MS,
        cold_start_ms=cold_start_ms,
        completed_at=NOW,
    )


def live_status(*variants: api.VariantStatus) -> api.Status:
    ready = api.Condition(type="Ready", status="True", reason="InService", observed_generation=2)
    return api.Status(
        phase="InService",
        observed_generation=2,
        conditions=[ready],
        endpoint_name="adtech-bid-filter",
        variants=list(variants),
    )


def body(spec: dict[str, Any], status: api.Status) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "adtech", "name": "bid-filter", "uid": "uid-1", "generation": 2},
        "spec": spec,
        "status": status.model_dump(mode="json", by_alias=True, exclude_none=True),
    }


@pytest.fixture
def measurer() -> Iterator[Measurer]:
    """A measurer with no slot for a benchmark: its outcomes are handed over as finished futures."""
    measurer = Measurer(Benchmarking(at_once=0), "us-east-1", retry_seconds=300, clock=lambda: NOW)
    measurer.start()
    yield measurer
    measurer.shutdown()


def deliver(measurer: Measurer, resource: dict[str, Any], outcome: Outcome) -> tuple[dict[str, Any], list[str]]:
    """What the measurer writes for ``outcome``: status, and the Events' messages."""
    future: Future[Outcome] = Future()
    future.set_result(outcome)
    memo: dict[str, Any] = {}
    measurer.follow_up(resource, memo, now=0.0)
    memo["measuring"].running = future
    delivered = measurer.collect(resource, memo, now=1.0)
    assert delivered is not None
    return delivered.status, [event.message for event in delivered.events]


def benchmarked(status: dict[str, Any]) -> dict[str, Any]:
    return next(condition for condition in status["conditions"] if condition["type"] == "Benchmarked")


def nulls(value: Any, path: str = "") -> list[str]:
    """Where ``value`` holds a null (which a list item written to the API server may not: the schema has none)."""
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in nulls(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in nulls(item, f"{path}[{index}]")]
    return [path] if value is None else []


def job(*variants: VariantToMeasure) -> Job:
    return Job("adtech-bid-filter", "us-east-1", 2, api.BenchmarkSpec.model_validate(BENCHMARK), 1, variants=variants)


def test_the_variants_measured_are_the_specs_under_the_names_sagemaker_reports() -> None:
    ab = api.Spec.model_validate(AB)
    assert variants_to_measure(ab, live_status()) == (
        VariantToMeasure("Champion", "Instance"),
        VariantToMeasure("Challenger", "Instance"),
    )
    shadowed = api.Spec.model_validate(
        bid_filter_spec(shadowVariants=[{"name": "Shadow", "model": MODEL, "instanceType": "ml.c5.large"}])
    )
    # An adopted endpoint keeps its own variant's name; the shorthand's variant is measured under it.
    adopted = live_status(api.VariantStatus(name="variant-1", kind="Instance"))
    assert variants_to_measure(shadowed, adopted) == (
        VariantToMeasure("variant-1", "Instance"),
        VariantToMeasure("Shadow", "Shadow"),
    )
    serverless = api.Spec.model_validate(
        {"model": MODEL, "serverless": {"memorySizeInMB": 2048, "maxConcurrency": 3}, "benchmark": BENCHMARK}
    )
    assert variants_to_measure(serverless, live_status()) == (VariantToMeasure("AllTraffic", "Serverless", 3),)


def test_each_variants_benchmark_joins_what_the_reconciler_wrote_of_it(measurer: Measurer) -> None:
    written = [
        api.VariantStatus(
            name="Champion", kind="Instance", current_instance_count=3, desired_instance_count=3, current_weight=9.0
        ),
        api.VariantStatus(name="Challenger", kind="Instance", current_instance_count=1, current_weight=1.0),
    ]
    champion, challenger = VariantToMeasure("Champion", "Instance"), VariantToMeasure("Challenger", "Instance")
    outcome = Outcome(
        job(champion, challenger),
        result(12.0),
        variants=(VariantOutcome(champion, result(10.0)), VariantOutcome(challenger, result(25.0))),
    )
    status, events = deliver(measurer, body(AB, live_status(*written)), outcome)

    assert nulls(status["variants"]) == []
    variants = [api.VariantStatus.model_validate(entry) for entry in status["variants"]]
    assert [entry.model_copy(update={"benchmark": None}) for entry in variants] == written
    assert [entry.benchmark for entry in variants] == [result(10.0), result(25.0)]
    assert status["benchmark"]["p99Ms"] == 12.0
    condition = benchmarked(status)
    assert (condition["status"], condition["reason"]) == ("True", "SLOMet")  # the endpoint's verdict
    assert "variant Champion on its own met the target: p50 3.33 ms, p90 5.00 ms, p99 10.00 ms" in condition["message"]
    assert (
        "variant Challenger on its own missed the target: p50 8.33 ms, p90 12.50 ms, p99 25.00 ms"
        in (condition["message"])
    )
    assert events == [condition["message"]]


def test_a_variant_without_a_new_benchmark_keeps_its_last_one_and_says_why(measurer: Measurer) -> None:
    earlier = result(9.0, generation=1)
    written = [
        api.VariantStatus(name="Champion", kind="Instance", benchmark=earlier),
        api.VariantStatus(name="Challenger", kind="Instance", benchmark=earlier),
    ]
    champion, challenger = VariantToMeasure("Champion", "Instance"), VariantToMeasure("Challenger", "Instance")
    outcome = Outcome(
        job(champion, challenger),
        result(12.0),
        variants=(
            VariantOutcome(champion, result(10.0)),
            VariantOutcome(challenger, note="all 100 requests failed (100 4xx)"),
        ),
    )
    status, _ = deliver(measurer, body(AB, live_status(*written)), outcome)
    assert [entry["benchmark"]["generation"] for entry in status["variants"]] == [2, 1]
    assert "variant Challenger: all 100 requests failed (100 4xx)" in benchmarked(status)["message"]


def test_one_production_variant_has_the_endpoints_benchmark_and_a_shadow_none(measurer: Measurer) -> None:
    spec = bid_filter_spec(
        benchmark=BENCHMARK, shadowVariants=[{"name": "Shadow", "model": MODEL, "instanceType": "ml.c5.large"}]
    )
    production, shadow = VariantToMeasure("AllTraffic", "Instance"), VariantToMeasure("Shadow", "Shadow")
    # The reconciler has not written status.variants yet: the benchmark makes the production variant's entry.
    status, _ = deliver(
        measurer,
        body(spec, live_status()),
        Outcome(
            job(production, shadow),
            result(12.0),
            variants=(
                VariantOutcome(production, result(12.0), note="the endpoint's only production variant"),
                VariantOutcome(shadow, note="not measured: a shadow's answers never reach a caller"),
            ),
        ),
    )
    [entry] = status["variants"]
    assert (entry["name"], entry["kind"]) == ("AllTraffic", "Instance")
    assert api.BenchmarkResult.model_validate(entry["benchmark"]) == api.BenchmarkResult.model_validate(
        status["benchmark"]
    )
    message = benchmarked(status)["message"]
    assert "variant AllTraffic: the endpoint's only production variant" in message
    assert "shadow variant Shadow: not measured: a shadow's answers never reach a caller" in message


def test_a_shadows_benchmark_is_sagemakers_model_latency_and_said_to_be(measurer: Measurer) -> None:
    spec = bid_filter_spec(
        benchmark=BENCHMARK, shadowVariants=[{"name": "Shadow", "model": MODEL, "instanceType": "ml.c5.large"}]
    )
    production, shadow = VariantToMeasure("AllTraffic", "Instance"), VariantToMeasure("Shadow", "Shadow")
    window = Window(NOW.timestamp(), NOW.timestamp() + 20)
    figures = VariantMetrics(
        invocations=400, errors=0, latency_samples=400, average_us=6000, p50_us=5500, p90_us=9000, p99_us=26000
    )
    from_cloudwatch = shadow_result(figures, window, target_p99_ms=TARGET_P99_MS, generation=2)
    note = shadow_note(from_cloudwatch, "08:00 to 08:01 UTC", TARGET_P99_MS)
    written = [api.VariantStatus(name="AllTraffic", kind="Instance"), api.VariantStatus(name="Shadow", kind="Shadow")]
    status, _ = deliver(
        measurer,
        body(spec, live_status(*written)),
        Outcome(
            job(production, shadow),
            result(12.0),
            variants=(
                VariantOutcome(production, result(12.0), note="the endpoint's only production variant"),
                VariantOutcome(shadow, from_cloudwatch, note=note),
            ),
        ),
    )
    entry = next(entry for entry in status["variants"] if entry["name"] == "Shadow")
    benchmark_of_shadow = api.BenchmarkResult.model_validate(entry["benchmark"])
    assert (benchmark_of_shadow.p50_ms, benchmark_of_shadow.p99_ms, benchmark_of_shadow.mean_ms) == (5.5, 26.0, 6.0)
    assert (benchmark_of_shadow.requests, benchmark_of_shadow.throughput_rps) == (400, 20.0)
    assert benchmark_of_shadow.slo_met is False  # its model alone is slower than the target: missed for sure
    assert "sloMet" in entry["benchmark"]
    message = benchmarked(status)["message"]
    assert (
        "shadow variant Shadow: model latency as SageMaker measured it (CloudWatch ModelLatency of the requests "
        "copied to it, 08:00 to 08:01 UTC: the model's own time, without the network or SageMaker's overhead, so not "
        "comparable with the client-side figures above): p50 5.50 ms, p90 9.00 ms, p99 26.00 ms"
    ) in message
    assert "its model alone misses the 20 ms p99 target" in message
    # The endpoint's verdict stays its own, from the client side.
    assert benchmarked(status)["reason"] == "SLOMet"


def test_a_serverless_cold_start_and_throttled_requests_are_named(measurer: Measurer) -> None:
    spec = {"model": MODEL, "serverless": {"memorySizeInMB": 2048, "maxConcurrency": 2}, "benchmark": BENCHMARK}
    variant = VariantToMeasure("AllTraffic", "Serverless", max_concurrency=2)
    measured = result(30.0, cold_start_ms=1875.5).model_copy(update={"errors": 12, "slo_met": False})
    outcome = Outcome(
        job(variant),
        measured,
        throttled=12,
        variants=(VariantOutcome(variant, measured, note="the endpoint's only production variant", throttled=12),),
    )
    status, events = deliver(measurer, body(spec, live_status()), outcome)
    assert status["benchmark"]["coldStartMs"] == 1875.5
    assert status["variants"][0]["benchmark"]["coldStartMs"] == 1875.5
    [event] = events
    assert "cold start 1875.50 ms (the first request after idle, not in the percentiles)" in event
    assert (
        "12 requests were throttled (ThrottlingException) by variant AllTraffic: it serves at most maxConcurrency 2 "
        "at once, and spec.benchmark.concurrency sends 4"
    ) in event
    assert event.count("throttled") == 1


def test_a_pass_and_a_benchmark_each_keep_what_the_other_wrote_of_the_variants(
    reconciler_on_emulator: EndpointReconciler, aws_clock: ManualClock, measurer: Measurer
) -> None:
    resource = resource_body("bid-filter", AB)
    converge(reconciler_on_emulator, resource, aws_clock.advance)
    by_the_pass = resource["status"]["variants"]
    assert [(entry["name"], entry["currentWeight"], entry["currentInstanceCount"]) for entry in by_the_pass] == [
        ("Champion", 9.0, 2),
        ("Challenger", 1.0, 1),
    ]

    champion, challenger = VariantToMeasure("Champion", "Instance"), VariantToMeasure("Challenger", "Instance")
    outcome = Outcome(
        job(champion, challenger),
        result(12.0, generation=1),
        variants=(
            VariantOutcome(champion, result(10.0, generation=1)),
            VariantOutcome(challenger, result(25.0, generation=1)),
        ),
    )
    delivered, _ = deliver(measurer, resource, outcome)
    resource["status"].update(delivered)
    with_benchmarks = resource["status"]["variants"]
    assert [{key: value for key, value in entry.items() if key != "benchmark"} for entry in with_benchmarks] == (
        by_the_pass
    )
    assert [entry["benchmark"]["p99Ms"] for entry in with_benchmarks] == [10.0, 25.0]

    run_pass(reconciler_on_emulator, resource)
    assert resource["status"]["variants"] == with_benchmarks


# What the benchmark measures, on the AWS emulator: its runtime routes InvokeEndpoint by weight or by TargetVariant
# to each variant's own model server, starts a serverless variant's compute cold after idle and throttles it above
# its maxConcurrency; the model servers' and the runtime's records are what the figures are judged by.

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
FAST_MS, SLOW_MS = 5.0, 40.0
SETTINGS = Benchmarking(max_seconds=30)


@pytest.fixture
def runtime(aws_emulator: AwsEmulator, monkeypatch: pytest.MonkeyPatch) -> AwsEmulator:
    """The emulator as where boto3's configuration sends InvokeEndpoint, with the benchmark's static credentials."""
    isolate_aws_environment(monkeypatch)
    for name, value in aws_emulator.environment().items():
        monkeypatch.setenv(name, value)
    return aws_emulator


def serving(
    sagemaker: Any,
    aws_clock: ManualClock,
    name: str,
    production: list[dict[str, Any]],
    shadows: Sequence[dict[str, Any]] = (),
) -> str:
    """An InService endpoint of these variants (each given its hosting, weight and name)."""
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    config: dict[str, Any] = {"ProductionVariants": [{"ModelName": name, **variant} for variant in production]}
    if shadows:
        config["ShadowProductionVariants"] = [{"ModelName": name, **variant} for variant in shadows]
    sagemaker.create_endpoint_config(EndpointConfigName=name, **config)
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    aws_clock.advance(TEST_DELAYS.create)
    assert sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    return name


def instances(name: str, weight: float) -> dict[str, Any]:
    return {
        "VariantName": name,
        "InstanceType": "ml.c5.xlarge",
        "InitialInstanceCount": 1,
        "InitialVariantWeight": weight,
    }


def measuring_job(endpoint: str, *variants: VariantToMeasure, requests: int = 100, concurrency: int = 2) -> Job:
    spec = api.BenchmarkSpec(payload="0.2,1", requests=requests, concurrency=concurrency, target_p99_ms=1000)
    return Job(endpoint, "us-east-1", 1, spec, 1, variants=variants)


async def test_each_production_variant_is_measured_on_its_own(
    runtime: AwsEmulator, sagemaker: Any, aws_clock: ManualClock
) -> None:
    name = serving(sagemaker, aws_clock, "ab", [instances("Champion", 9.0), instances("Challenger", 1.0)])
    champion, challenger = VariantToMeasure("Champion", "Instance"), VariantToMeasure("Challenger", "Instance")
    with ModelServer(latency=Fixed(FAST_MS)) as fast, ModelServer(latency=Fixed(SLOW_MS)) as slow:
        runtime.sagemaker.route_invocations(name, fast.url, variant="Champion")
        runtime.sagemaker.route_invocations(name, slow.url, variant="Challenger")
        outcome = await measure(measuring_job(name, champion, challenger), SETTINGS)
        traffic = runtime.sagemaker.traffic(name)
        served = {"Champion": list(fast.served), "Challenger": list(slow.served)}

    assert outcome.result is not None, outcome.failure
    by_variant = {measured.variant.name: measured.result for measured in outcome.variants}
    alone_champion, alone_challenger = by_variant["Champion"], by_variant["Challenger"]
    assert alone_champion is not None
    assert alone_challenger is not None
    assert (alone_champion.requests, alone_challenger.requests, outcome.result.requests) == (100, 100, 100)
    # Every request reached the variant the runtime says it chose, and its model server saw it: three runs of a
    # warm-up and 100 measured requests in all.
    _, load = benchmark.from_spec(measuring_job(name).spec, SETTINGS.max_seconds)
    assert {variant: len(requests) for variant, requests in served.items()} == {
        variant: traffic[variant].invocations for variant in served
    }
    assert sum(len(requests) for requests in served.values()) == 3 * (load.warmup_requests + 100)
    # On its own, each variant is as fast as its own server (the servers' records above prove the routing; the
    # medians, which a busy machine does not move by 35 ms, that each run timed its own server).
    assert alone_champion.p50_ms is not None
    assert alone_champion.p50_ms < SLOW_MS
    assert alone_challenger.p50_ms is not None
    assert alone_challenger.p50_ms >= SLOW_MS
    assert len(served["Challenger"]) >= load.warmup_requests + 100
    assert len(served["Champion"]) >= load.warmup_requests + 100


async def test_a_serverless_variant_has_its_cold_start_apart_and_its_throttled_requests_as_errors(
    runtime: AwsEmulator, sagemaker: Any, aws_clock: ManualClock
) -> None:
    config = {"MemorySizeInMB": 2048, "MaxConcurrency": 2}
    name = serving(sagemaker, aws_clock, "spiky", [{"VariantName": "AllTraffic", "ServerlessConfig": config}])
    variant = VariantToMeasure("AllTraffic", "Serverless", max_concurrency=2)
    with ModelServer(latency=Fixed(FAST_MS)) as server:
        runtime.sagemaker.route_invocations(name, server.url)
        # Four clients for a variant that serves two at once: some of their requests are throttled.
        outcome = await measure(measuring_job(name, variant, concurrency=4), SETTINGS)
        served = list(server.served)
    calls = sorted(runtime.calls(operation="InvokeEndpoint"), key=lambda call: call.at)
    cold_delay_ms = runtime.sagemaker.delays.serverless_cold_start * 1000

    assert outcome.result is not None, outcome.failure
    # The runtime's record: the first request waited for the variant's compute to start; the benchmark measured it
    # alone, as the cold start, longer than the runtime's time for it.
    first = calls[0]
    assert (first.status, first.duration_seconds * 1000 >= cold_delay_ms) == (200, True)
    assert outcome.result.cold_start_ms is not None
    assert (
        first.duration_seconds * 1000 <= outcome.result.cold_start_ms <= first.duration_seconds * 1000 + cold_delay_ms
    )
    assert all(call.at >= first.at + first.duration_seconds for call in calls[1:])
    # Not in the percentiles: the measured requests found the compute warm (the warm-up met the other cold starts).
    assert outcome.result.p99_ms is not None
    assert outcome.result.p99_ms < cold_delay_ms
    # Throttled requests are errors, and each one is the runtime's ThrottlingException.
    throttled = [call for call in calls if call.error_code == "ThrottlingException"]
    assert outcome.result.errors is not None
    assert 0 < outcome.throttled == outcome.result.errors <= len(throttled)
    assert len(served) == len(calls) - len(throttled)
    assert runtime.sagemaker.traffic(name)["AllTraffic"].throttled == len(throttled)
    # The endpoint's one variant is measured once: its benchmark is the endpoint's.
    [only] = outcome.variants
    assert (only.result, only.throttled) == (outcome.result, outcome.throttled)


def nearest_rank(values: Sequence[float], rank: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(rank / 100 * len(ordered))) - 1]


QUICK_POLLING = Polling(first_seconds=0.05, longest_seconds=0.2, bound_seconds=10)


async def test_a_shadow_variant_is_measured_by_sagemakers_model_latency_never_invoked_directly(
    runtime: AwsEmulator, sagemaker: Any, aws_clock: ManualClock
) -> None:
    name = serving(sagemaker, aws_clock, "shadowed", [instances("AllTraffic", 1.0)], [instances("Shadow", 1.0)])
    production, shadow = VariantToMeasure("AllTraffic", "Instance"), VariantToMeasure("Shadow", "Shadow")
    with ModelServer(latency=Fixed(FAST_MS)) as fast, ModelServer(latency=Fixed(SLOW_MS)) as slow:
        runtime.sagemaker.route_invocations(name, fast.url, variant="AllTraffic")
        runtime.sagemaker.route_invocations(name, slow.url, variant="Shadow")
        outcome = await measure(measuring_job(name, production, shadow), SETTINGS, QUICK_POLLING)
        runtime.sagemaker.wait_for_shadow_copies()
        copies = [served.seconds * 1000 for served in slow.served]
    assert outcome.result is not None, outcome.failure
    measured = {variant.variant.name: variant for variant in outcome.variants}
    assert measured["AllTraffic"].result == outcome.result
    # One run, every request answered by the production variant (the runtime refuses a shadow as TargetVariant), and
    # every one copied to the shadow (the same weight).
    calls = runtime.calls(operation="InvokeEndpoint")
    _, load = benchmark.from_spec(measuring_job(name).spec, SETTINGS.max_seconds)
    assert len(calls) == load.warmup_requests + 100
    assert {call.error_code for call in calls} == {None}
    assert len(copies) == runtime.sagemaker.traffic(name)["Shadow"].invocations == len(calls)

    # The shadow's benchmark is SageMaker's record of the copies: as many requests as its server handled, and
    # percentiles no shorter than the server's own times for them (ModelLatency holds each).
    from_cloudwatch = measured["Shadow"].result
    assert from_cloudwatch is not None, measured["Shadow"].note
    assert (from_cloudwatch.requests, from_cloudwatch.errors, from_cloudwatch.generation) == (len(copies), 0, 1)
    assert (from_cloudwatch.source, measured["AllTraffic"].result.source) == ("CloudWatchModelLatency", "Client")
    for rank, figure in ((50, from_cloudwatch.p50_ms), (90, from_cloudwatch.p90_ms), (99, from_cloudwatch.p99_ms)):
        assert figure is not None
        assert figure >= nearest_rank(copies, rank) >= SLOW_MS
    assert from_cloudwatch.mean_ms is not None
    assert from_cloudwatch.mean_ms >= sum(copies) / len(copies)
    # Its throughput is the copies over the run's window, which spans at least the runtime's calls.
    span = max(call.at + call.duration_seconds for call in calls) - min(call.at for call in calls)
    assert from_cloudwatch.throughput_rps is not None
    assert 0 < from_cloudwatch.throughput_rps <= len(copies) / span
    # The model's latency alone cannot say the SLO is met; it is not said to be.
    assert from_cloudwatch.slo_met is None
    assert "CloudWatch ModelLatency" in measured["Shadow"].note
    assert "not comparable with the client-side figures" in measured["Shadow"].note
    assert runtime.count("GetMetricData") >= 1


async def test_a_shadows_metrics_not_yet_complete_leave_it_not_yet_measured(
    runtime: AwsEmulator, sagemaker: Any, aws_clock: ManualClock
) -> None:
    name = serving(sagemaker, aws_clock, "shadowed", [instances("AllTraffic", 1.0)], [instances("Shadow", 1.0)])
    production, shadow = VariantToMeasure("AllTraffic", "Instance"), VariantToMeasure("Shadow", "Shadow")
    polling = Polling(first_seconds=0.05, longest_seconds=0.1, bound_seconds=2.0)
    with ModelServer(latency=Fixed(FAST_MS)) as fast, ModelServer(latency=Fixed(FAST_MS)) as held:
        runtime.sagemaker.route_invocations(name, fast.url, variant="AllTraffic")
        runtime.sagemaker.route_invocations(name, held.url, variant="Shadow")
        held.stall(10)  # the copies get no answer while CloudWatch is read: their ModelLatency is not there yet
        outcome = await measure(measuring_job(name, production, shadow, requests=20), SETTINGS, polling)
        runtime.sagemaker.wait_for_shadow_copies()
    assert outcome.result is not None, outcome.failure
    [not_yet] = [variant for variant in outcome.variants if variant.variant.name == "Shadow"]
    assert not_yet.result is None
    assert not_yet.note.startswith("not yet measured: CloudWatch had not published SageMaker's metrics")
    assert runtime.count("GetMetricData") >= 2  # read again before giving up


# End to end: the operator process benchmarks the variants of what it deployed, and prices them from the test's own
# price table (through its environment variable); status is read with kubectl.

E2E_PRICES = {
    "source": "the test",
    "compiled": "2026-11-25",
    "regions": {"us-east-1": {"ml.c5.xlarge": 1.25, "ml.m5.large": 0.75, "ml.c5.large": 0.5}},
    "instanceMemoryGiB": {"ml.c5.xlarge": 8, "ml.m5.large": 8, "ml.c5.large": 4},
    "serverlessPerSecondUsd": {"us-east-1": {"2048": 4e-5}},
}
E2E_BENCHMARK = {"payload": "0.2,1", "requests": 100, "concurrency": 2, "targetP99Ms": 2000}


@pytest.fixture
def e2e_priced(
    aws_emulator: AwsEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> EndToEnd:
    """The operator process, started with the test's price table."""
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(E2E_PRICES))
    monkeypatch.setenv("LOWLATENCY_PRICES", str(prices))
    e2e: EndToEnd = request.getfixturevalue("e2e")
    return e2e


def benchmarked_at(e2e: EndToEnd, name: str, generation: int = 1) -> dict[str, Any]:
    def done(found: dict[str, Any]) -> bool:
        verdict = condition(found, "Benchmarked")
        return (status_of(found).get("benchmark") or {}).get("generation") == generation and verdict.get(
            "status"
        ) == "True"

    return status_of(e2e.wait_for_status(name, done, f"benchmarked at generation {generation}", timeout=60))


@pytest.mark.timeout(120)
def test_an_ab_endpoints_variants_are_each_benchmarked_and_priced(
    e2e_priced: EndToEnd, aws_emulator: AwsEmulator
) -> None:
    name = "bid-filter"
    spec = {
        "variants": [
            {"name": "Champion", "model": MODEL, "instanceType": "ml.c5.xlarge", "instanceCount": 2, "weight": 9},
            {"name": "Challenger", "model": MODEL, "instanceType": "ml.m5.large", "instanceCount": 1, "weight": 1},
        ],
        "benchmark": E2E_BENCHMARK,
    }
    endpoint = endpoint_name(NAMESPACE, name)
    with ModelServer(latency=Fixed(FAST_MS)) as fast, ModelServer(latency=Fixed(SLOW_MS)) as slow:
        aws_emulator.sagemaker.route_invocations(endpoint, fast.url, variant="Champion")
        aws_emulator.sagemaker.route_invocations(endpoint, slow.url, variant="Challenger")
        e2e_priced.apply(name, spec)
        status = benchmarked_at(e2e_priced, name)
        served = {"Champion": len(fast.served), "Challenger": len(slow.served)}
    traffic = aws_emulator.sagemaker.traffic(endpoint)
    assert served == {variant: traffic[variant].invocations for variant in served}

    # Each variant's entry: the counts and weights SageMaker reports, and its own benchmark beside them.
    variants = {entry["name"]: entry for entry in status["variants"]}
    assert [(entry["currentInstanceCount"], entry["currentWeight"]) for entry in variants.values()] == [(2, 9), (1, 1)]
    champion, challenger = variants["Champion"]["benchmark"], variants["Challenger"]["benchmark"]
    assert (champion["requests"], challenger["requests"], champion["generation"]) == (100, 100, 1)
    assert champion["p50Ms"] < SLOW_MS <= challenger["p50Ms"]
    message = condition(e2e_priced.get(name), "Benchmarked")["message"]
    assert "variant Champion on its own met the target" in message
    assert "variant Challenger on its own met the target" in message

    # Each variant priced at its live count and its own throughput; the endpoint at its own.
    cost = status["cost"]
    by_name = {entry["name"]: entry for entry in cost["variants"]}
    for variant, hourly in (("Champion", 2 * 1.25), ("Challenger", 0.75)):
        throughput = variants[variant]["benchmark"]["throughputRps"]
        assert by_name[variant]["hourlyUsd"] == pytest.approx(hourly)
        assert by_name[variant]["perMillionInvocationsUsd"] == pytest.approx(hourly / (throughput * 3600) * 1e6)
        assert by_name[variant]["monthlyUsd"] == pytest.approx(hourly * 730)
    total = 2 * 1.25 + 0.75
    assert cost["hourlyUsd"] == pytest.approx(total)
    assert cost["perMillionInvocationsUsd"] == pytest.approx(
        total / (status["benchmark"]["throughputRps"] * 3600) * 1e6
    )
    assert cost["monthlyUsd"] == pytest.approx(total * 730)


@pytest.mark.timeout(120)
def test_a_serverless_endpoint_reports_its_cold_start_throttling_and_cost_per_invocation(
    e2e_priced: EndToEnd, aws_emulator: AwsEmulator
) -> None:
    name = "bid-filter"
    spec = {
        "model": MODEL,
        "serverless": {"memorySizeInMB": 2048, "maxConcurrency": 2},
        "benchmark": E2E_BENCHMARK | {"concurrency": 4},
        "expectedMonthlyInvocations": 3_000_000,
    }
    with ModelServer(latency=Fixed(FAST_MS)) as server:
        aws_emulator.sagemaker.route_invocations(endpoint_name(NAMESPACE, name), server.url)
        e2e_priced.apply(name, spec)
        status = benchmarked_at(e2e_priced, name)
    calls = sorted(aws_emulator.calls(operation="InvokeEndpoint"), key=lambda call: call.at)
    cold_delay_ms = aws_emulator.sagemaker.delays.serverless_cold_start * 1000

    measured = status["benchmark"]
    first = calls[0]
    assert first.duration_seconds * 1000 >= cold_delay_ms
    assert first.duration_seconds * 1000 <= measured["coldStartMs"] <= first.duration_seconds * 1000 + cold_delay_ms
    assert measured["p99Ms"] < cold_delay_ms
    throttled = sum(call.error_code == "ThrottlingException" for call in calls)
    assert 0 < measured["errors"] <= throttled
    [entry] = status["variants"]
    assert (entry["name"], entry["kind"]) == ("AllTraffic", "Serverless")
    assert api.BenchmarkResult.model_validate(entry["benchmark"]) == api.BenchmarkResult.model_validate(measured)
    [event] = [event for event in e2e_priced.events(name) if event.get("reason") == "SLOMissed"]
    assert (
        f"{measured['errors']} requests were throttled (ThrottlingException) by variant AllTraffic" in event["message"]
    )

    per_invocation = 4e-5 * measured["meanMs"] / 1000  # a second of 2048 MB, for the measured mean latency
    cost = status["cost"]
    [priced] = cost["variants"]
    assert priced["perMillionInvocationsUsd"] == pytest.approx(per_invocation * 1e6)
    assert priced["monthlyUsd"] == pytest.approx(3_000_000 * per_invocation)
    assert (priced["comparableInstanceType"], priced["comparableInstanceHourlyUsd"]) == ("ml.c5.large", 0.5)
    assert priced["breakEvenMonthlyInvocations"] == pytest.approx(0.5 * 730 / per_invocation)
    assert "hourlyUsd" not in cost
    assert (cost["perMillionInvocationsUsd"], cost["monthlyUsd"]) == (
        priced["perMillionInvocationsUsd"],
        priced["monthlyUsd"],
    )


@pytest.mark.timeout(120)
def test_a_shadow_endpoints_shadow_is_benchmarked_from_sagemakers_metrics(
    e2e_priced: EndToEnd, aws_emulator: AwsEmulator
) -> None:
    name = "bid-filter"
    shadow = {"name": "Shadow", "model": MODEL, "instanceType": "ml.c5.large", "weight": 1}
    spec = bid_filter_spec(instanceCount=1, shadowVariants=[shadow], benchmark=E2E_BENCHMARK)
    endpoint = endpoint_name(NAMESPACE, name)
    with ModelServer(latency=Fixed(FAST_MS)) as fast, ModelServer(latency=Fixed(SLOW_MS)) as slow:
        aws_emulator.sagemaker.route_invocations(endpoint, fast.url, variant="AllTraffic")
        aws_emulator.sagemaker.route_invocations(endpoint, slow.url, variant="Shadow")
        e2e_priced.apply(name, spec)
        status = benchmarked_at(e2e_priced, name)
        aws_emulator.sagemaker.wait_for_shadow_copies()
        copies = [served.seconds * 1000 for served in slow.served]

    variants = {entry["name"]: entry for entry in status["variants"]}
    measured = variants["Shadow"]["benchmark"]
    assert (variants["Shadow"]["kind"], measured["generation"], measured["requests"]) == ("Shadow", 1, len(copies))
    assert measured["p50Ms"] >= nearest_rank(copies, 50) >= SLOW_MS
    assert measured["p99Ms"] >= nearest_rank(copies, 99)
    # The production variant's is the endpoint's, measured from the client: the shadow's is not mixed into it.
    assert variants["AllTraffic"]["benchmark"]["requests"] == status["benchmark"]["requests"] == 100
    message = condition(e2e_priced.get(name), "Benchmarked")["message"]
    assert "shadow variant Shadow: model latency as SageMaker measured it (CloudWatch ModelLatency" in message
    assert aws_emulator.count("GetMetricData") >= 1
