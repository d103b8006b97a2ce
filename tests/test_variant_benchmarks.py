"""Each variant's benchmark: which variants a benchmark measures, and what its outcome writes into status.variants,
the Benchmarked condition and the Event, beside what the reconciler wrote there."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from aws_passes import converge, resource_body, run_pass
from fixtures_aws import ManualClock
from lowlatency import api
from lowlatency.config import Benchmarking
from lowlatency.measuring import Job, Measurer, Outcome, VariantOutcome, VariantToMeasure, variants_to_measure
from lowlatency.reconciler import EndpointReconciler
from specs import bid_filter_spec

NOW = datetime.datetime(2026, 11, 25, 8, 0, tzinfo=datetime.UTC)
BENCHMARK = {"payload": "0.2,1", "requests": 100, "concurrency": 4, "targetP99Ms": 20}
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
        slo_met=p99_ms <= BENCHMARK["targetP99Ms"],
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
