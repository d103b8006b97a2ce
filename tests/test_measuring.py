"""When the operator benchmarks a live endpoint, and what it writes from a benchmark's outcome (no AWS here: the
outcomes are handed to the measurer as finished futures, as its own thread hands them over)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from lowlatency import api, pricing
from lowlatency.config import Benchmarking
from lowlatency.costs import cost_of
from lowlatency.measuring import (
    Job,
    Measurer,
    Outcome,
    as_patched,
    benchmark_due,
    ramp_for,
    result_verdict,
    runtime_url,
)
from specs import bid_filter_spec, parsed

BENCHMARK = {"payload": "0.2,1", "requests": 100, "concurrency": 4, "targetP99Ms": 20}
NOW = datetime.datetime(2026, 11, 25, 8, 0, tzinfo=datetime.UTC)
PRICE = pricing.load().hourly_usd["us-east-1"]["ml.c5.xlarge"]


def live_status(generation: int = 2, **fields: Any) -> api.Status:
    ready = api.Condition(type="Ready", status="True", reason="InService", observed_generation=generation)
    values: dict[str, Any] = {
        "phase": "InService",
        "observed_generation": generation,
        "conditions": [ready],
        "endpoint_name": "adtech-bid-filter",
        "current_instance_count": 2,
    }
    return api.Status(**(values | fields))


def measured(generation: int, p99_ms: float = 6.0, *, slo_met: bool = True) -> api.BenchmarkResult:
    return api.BenchmarkResult(
        generation=generation,
        p50_ms=3.0,
        p90_ms=4.0,
        p99_ms=p99_ms,
        throughput_rps=500.0,
        requests=100,
        errors=0,
        slo_met=slo_met,
        completed_at=NOW,
    )


def body(status: api.Status, generation: int = 2, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "adtech", "name": "bid-filter", "uid": "uid-1", "generation": generation},
        "spec": bid_filter_spec(**spec),
        "status": status.model_dump(mode="json", by_alias=True, exclude_none=True),
    }


def benchmarked_condition(patch: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in patch["conditions"] if c["type"] == "Benchmarked")


@pytest.fixture
def measurer() -> Iterator[Measurer]:
    """A measurer with no slot for a benchmark: what it submits waits, and is cancelled at its shutdown."""
    measurer = Measurer(Benchmarking(at_once=0), "us-east-1", retry_seconds=300, clock=lambda: NOW)
    measurer.start()
    yield measurer
    measurer.shutdown()


def test_a_benchmark_is_due_once_per_live_generation() -> None:
    spec = parsed(benchmark=BENCHMARK)
    assert benchmark_due(spec, live_status(2), 2)
    assert benchmark_due(spec, live_status(2, benchmark=measured(1)), 2)
    assert not benchmark_due(spec, live_status(2, benchmark=measured(2)), 2)
    assert not benchmark_due(parsed(), live_status(2), 2)  # no spec.benchmark


@pytest.mark.parametrize(
    ("status", "why"),
    [
        (live_status(1), "the current generation is not live yet"),
        (live_status(2, phase="Updating"), "SageMaker is moving"),
        (live_status(2, conditions=[api.Condition(type="Ready", status="False")]), "not Ready"),
    ],
)
def test_no_benchmark_until_the_current_generation_serves(status: api.Status, why: str) -> None:
    assert not benchmark_due(parsed(benchmark=BENCHMARK), status, 2), why


def test_the_vpc_endpoint_is_used_only_when_the_operator_says_it_runs_in_the_vpc() -> None:
    names = [
        "vpce-0a1-b2c-us-east-1a.runtime.sagemaker.us-east-1.vpce.amazonaws.com",
        "vpce-0a1-b2c.runtime.sagemaker.us-east-1.vpce.amazonaws.com",
        "runtime.sagemaker.us-east-1.amazonaws.com",
    ]
    status = live_status(vpc_endpoint_dns_names=names)
    assert runtime_url(status, via_vpc_endpoint=True) == (
        "https://vpce-0a1-b2c.runtime.sagemaker.us-east-1.vpce.amazonaws.com"
    )
    assert runtime_url(status, via_vpc_endpoint=False) is None
    assert runtime_url(live_status(), via_vpc_endpoint=True) is None


def test_the_condition_names_the_slo_verdict_and_the_figures() -> None:
    met = result_verdict(measured(2), 20)
    assert (met.status, met.reason) == (True, "SLOMet")
    assert "p99 6.00 ms" in met.message
    assert "met the 20 ms p99 target" in met.message
    missed = result_verdict(measured(2, p99_ms=25.0, slo_met=False), 20)
    assert (missed.status, missed.reason) == (True, "SLOMissed")


def test_cost_is_the_live_count_at_the_table_price_and_per_million_at_the_measured_throughput() -> None:
    prices, spec = pricing.load(), parsed()
    cost = cost_of(spec, live_status(2, benchmark=measured(2)), 2, prices, "us-east-1")
    assert cost is not None
    assert cost.hourly_usd == pytest.approx(2 * PRICE)
    assert cost.per_million_invocations_usd == pytest.approx(2 * PRICE / (500 * 3600) * 1e6)
    assert cost.monthly_usd == pytest.approx(2 * PRICE * 730)
    # The shorthand's one variant is the endpoint, under the name SageMaker reports.
    [variant] = cost.variants
    assert (variant.name, variant.hourly_usd, variant.per_million_invocations_usd, variant.monthly_usd) == (
        "AllTraffic",
        cost.hourly_usd,
        cost.per_million_invocations_usd,
        cost.monthly_usd,
    )
    # A benchmark of an earlier generation says nothing of this one's throughput.
    stale = cost_of(spec, live_status(2, benchmark=measured(1)), 2, prices, "us-east-1")
    assert stale is not None
    assert stale.hourly_usd == pytest.approx(2 * PRICE)
    assert stale.per_million_invocations_usd is None
    # The autoscaler's count is followed.
    scaled = cost_of(spec, live_status(2, current_instance_count=5), 2, prices, "us-east-1")
    assert scaled is not None
    assert scaled.hourly_usd == pytest.approx(5 * PRICE)


def test_cost_while_a_rollout_moves_stays_as_written_and_is_unknown_without_instances_or_price() -> None:
    prices, written = pricing.load(), api.Cost(hourly_usd=1.0)
    assert cost_of(parsed(), live_status(1, cost=written), 2, prices, "us-east-1") == written
    assert cost_of(parsed(), live_status(2, current_instance_count=None), 2, prices, "us-east-1") is None
    unknown = cost_of(parsed(instanceType="ml.zz9.huge"), live_status(2), 2, prices, "us-east-1")
    assert unknown == api.Cost(variants=[api.VariantCost(name="AllTraffic")])


def test_the_ramp_goes_in_quarters_of_the_benchmark_throughput_up_to_twice_it() -> None:
    ramp = ramp_for(400.0, 20.0, 10.0)
    assert ramp.rates() == [100.0 * step for step in range(1, 9)]
    assert (ramp.target_p99_ms, ramp.step_seconds) == (20.0, 10.0)


def test_status_after_a_patch_replaces_fields_and_drops_removed_ones() -> None:
    patched = as_patched({"status": {"phase": "Creating", "cost": {"hourlyUsd": 1}}}, {"status": {"cost": None}})
    assert patched["status"] == {"phase": "Creating"}
    assert as_patched({"status": {}}, {"status": {"phase": "InService"}})["status"] == {"phase": "InService"}


def test_a_due_benchmark_starts_once_and_says_so_in_the_condition(measurer: Measurer) -> None:
    memo: dict[str, Any] = {}
    started = measurer.follow_up(body(live_status(2), benchmark=BENCHMARK), memo, now=0.0)
    condition = benchmarked_condition(started.status)
    assert (condition["status"], condition["reason"], condition["observedGeneration"]) == ("False", "Running", 2)
    assert started.status["cost"]["hourlyUsd"] == pytest.approx(2 * PRICE)
    # A list is written whole, and its items may hold no null: the variant's unknown figures are left out.
    [variant] = started.status["cost"]["variants"]
    assert variant == {
        "name": "AllTraffic",
        "hourlyUsd": pytest.approx(2 * PRICE),
        "monthlyUsd": pytest.approx(2 * PRICE * 730),
    }
    # Running: the next pass neither starts another nor touches the condition.
    again = measurer.follow_up(body(live_status(2), benchmark=BENCHMARK), memo, now=1.0)
    assert "conditions" not in again.status
    assert not measurer.finished(memo)


def finish(memo: dict[str, Any], outcome: Outcome) -> None:
    future: Future[Outcome] = Future()
    future.set_result(outcome)
    memo["measuring"].running = future


def test_a_finished_benchmark_becomes_status_condition_and_event(measurer: Measurer) -> None:
    memo: dict[str, Any] = {}
    measurer.follow_up(body(live_status(2), benchmark=BENCHMARK), memo, now=0.0)
    job = Job("adtech-bid-filter", "us-east-1", 2, api.BenchmarkSpec.model_validate(BENCHMARK), instances=2)
    finish(memo, Outcome(job, measured(2, p99_ms=25.0, slo_met=False)))
    assert measurer.finished(memo)

    delivered = measurer.collect(body(live_status(2), benchmark=BENCHMARK), memo, now=1.0)
    assert delivered is not None
    assert delivered.status["benchmark"]["p99Ms"] == 25.0
    assert delivered.status["benchmark"]["generation"] == 2
    condition = benchmarked_condition(delivered.status)
    assert (condition["status"], condition["reason"]) == ("True", "SLOMissed")
    assert [(event.type, event.reason) for event in delivered.events] == [("Warning", "SLOMissed")]
    assert not delivered.new_target
    assert measurer.collect(body(live_status(2), benchmark=BENCHMARK), memo, now=2.0) is None


def test_a_failed_benchmark_is_reported_and_tried_again_after_the_retry_delay(measurer: Measurer) -> None:
    memo: dict[str, Any] = {}
    resource = body(live_status(2), benchmark=BENCHMARK)
    measurer.follow_up(resource, memo, now=0.0)
    job = Job("adtech-bid-filter", "us-east-1", 2, api.BenchmarkSpec.model_validate(BENCHMARK), instances=2)
    finish(memo, Outcome(job, failure="all 100 requests failed (100 connection)"))

    delivered = measurer.collect(resource, memo, now=10.0)
    assert delivered is not None
    condition = benchmarked_condition(delivered.status)
    assert (condition["status"], condition["reason"]) == ("False", "BenchmarkFailed")
    assert "all 100 requests failed" in condition["message"]
    assert [(event.type, event.reason) for event in delivered.events] == [("Warning", "BenchmarkFailed")]
    assert "conditions" not in measurer.follow_up(resource, memo, now=300.0).status
    assert benchmarked_condition(measurer.follow_up(resource, memo, now=310.0).status)["reason"] == "Running"


def test_a_new_measured_maximum_asks_for_autoscaling_to_be_applied(measurer: Measurer) -> None:
    autoscaling = {"minCapacity": 1, "maxCapacity": 4, "targetInvocationsPerInstance": "auto"}
    resource = body(live_status(2), benchmark=BENCHMARK, autoscaling=autoscaling)
    memo: dict[str, Any] = {}
    measurer.follow_up(resource, memo, now=0.0)
    assert memo["measuring"].running is not None
    job = Job(
        "adtech-bid-filter", "us-east-1", 2, api.BenchmarkSpec.model_validate(BENCHMARK), instances=2, rightsize=True
    )
    rightsizing = api.Rightsizing(
        generation=2, max_rps_per_instance=100.0, safety_factor=0.5, target_invocations_per_instance=3000
    )
    finish(memo, Outcome(job, measured(2), rightsizing=rightsizing))
    delivered = measurer.collect(resource, memo, now=1.0)
    assert delivered is not None
    assert delivered.new_target
    assert delivered.status["rightsizing"]["targetInvocationsPerInstance"] == 3000
    assert [event.reason for event in delivered.events] == ["SLOMet", "Rightsized"]


def test_auto_without_a_benchmark_is_explained_once(measurer: Measurer) -> None:
    autoscaling = {"minCapacity": 1, "maxCapacity": 4, "targetInvocationsPerInstance": "auto"}
    memo: dict[str, Any] = {}
    first = measurer.follow_up(body(live_status(2), autoscaling=autoscaling), memo, now=0.0)
    condition = benchmarked_condition(first.status)
    assert (condition["status"], condition["reason"]) == ("False", "NoBenchmark")
    assert [event.reason for event in first.events] == ["NoBenchmark"]
    status = live_status(2, conditions=[*live_status(2).conditions, api.Condition.model_validate(condition)])
    again = measurer.follow_up(body(status, autoscaling=autoscaling), memo, now=1.0)
    assert "conditions" not in again.status
    assert again.events == ()


def test_a_benchmark_taken_out_of_the_spec_leaves_the_live_generation_unbenchmarked(measurer: Measurer) -> None:
    memo: dict[str, Any] = {}
    assert "conditions" not in measurer.follow_up(body(live_status(2)), memo, now=0.0).status  # never benchmarked
    earlier = api.Condition(type="Benchmarked", status="True", reason="SLOMet", observed_generation=1)
    status = live_status(2, benchmark=measured(1), conditions=[*live_status(2).conditions, earlier])
    removed = measurer.follow_up(body(status), memo, now=1.0)
    condition = benchmarked_condition(removed.status)
    assert (condition["status"], condition["reason"], condition["observedGeneration"]) == ("False", "NotRequested", 2)
    assert removed.events == ()
