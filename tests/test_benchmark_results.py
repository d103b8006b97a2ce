"""Measurements merge exactly, summarize into status.benchmark's form, and write one CSV row per request."""

from __future__ import annotations

import csv
import json
import math
import random
import statistics
from fractions import Fraction
from pathlib import Path

import pytest

from lowlatency import api
from lowlatency.benchmark.connection import Outcome
from lowlatency.benchmark.results import (
    CSV_HEADER,
    HIGHEST_MICROSECONDS,
    Measurement,
    RequestRecord,
    merge,
    microseconds,
    summarize,
    write_csv,
)

PERCENTILES = (0.0, 10.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0)


def _measurement(latencies: list[float], started: float, finished: float, failures: int = 0) -> Measurement:
    measurement = Measurement(started=started, finished=finished)
    for latency in latencies:
        measurement.record(latency, Outcome.OK)
    for _ in range(failures):
        measurement.record(0.001, Outcome.SERVER_ERROR)
    return measurement


def test_merged_histograms_equal_one_histogram_of_all_values() -> None:
    rng = random.Random(11)
    latencies = [rng.lognormvariate(-5, 1) for _ in range(30_000)]
    parts = [latencies[:5_000], latencies[5_000:21_000], latencies[21_000:]]
    workers = [_measurement(part, 100.0 + index, 110.0 + index) for index, part in enumerate(parts)]
    everything = _measurement(latencies, 100.0, 112.0)

    merged = merge(workers)

    assert merged.histogram.get_total_count() == everything.histogram.get_total_count() == 30_000
    for percentile in PERCENTILES:
        assert merged.histogram.get_value_at_percentile(percentile) == everything.histogram.get_value_at_percentile(
            percentile
        )
    assert merged.histogram.get_mean_value() == everything.histogram.get_mean_value()
    assert summarize(merged) == summarize(everything)
    # Averaging the workers' p99s, the thing never to do, gives another answer on skewed parts.
    average_p99 = sum(worker.histogram.get_value_at_percentile(99) for worker in workers) / len(workers)
    assert average_p99 != everything.histogram.get_value_at_percentile(99)


def test_a_merge_spans_the_union_of_the_windows_and_counts_errors() -> None:
    merged = merge([_measurement([0.002] * 100, 10.0, 12.0, failures=5), _measurement([0.004] * 300, 11.0, 14.0)])
    summary = summarize(merged)
    assert (merged.started, merged.finished) == (10.0, 14.0)
    assert summary.requests == 405
    assert summary.errors == 5
    assert summary.errors_by_class["5xx"] == 5
    assert summary.throughput_rps == 405 / 4.0
    assert merge([]).requests == 0


def test_an_encoded_measurement_decodes_to_an_equal_one() -> None:
    original = _measurement([0.001 * value for value in range(1, 500)], 5.0, 6.0, failures=3)
    decoded = Measurement.decode(json.loads(json.dumps(original.encode())))
    assert decoded.outcomes == original.outcomes
    assert (decoded.started, decoded.finished) == (5.0, 6.0)
    assert summarize(decoded) == summarize(original)


def test_the_summary_fills_status_benchmark_and_keeps_its_keys_in_json() -> None:
    summary = summarize(_measurement([0.003] * 98 + [0.015, 0.030], 1_795_000_000.0, 1_795_000_002.0))
    status = summary.to_status(target_p99_ms=20, generation=3)
    assert isinstance(status, api.BenchmarkResult)
    assert status.generation == 3
    assert status.requests == 100
    assert status.slo_met is True
    assert status.p50_ms is not None
    assert 2.99 <= status.p50_ms <= 3.01
    # The mean of the recorded latencies (98 x 3 ms, 15 ms, 30 ms), to the histogram's precision.
    assert status.mean_ms == pytest.approx((98 * 3 + 15 + 30) / 100, rel=0.01)
    assert summary.to_status(target_p99_ms=10).slo_met is False
    assert summary.to_status(target_p99_ms=20, cold_start_ms=812.5).cold_start_ms == 812.5
    assert status.cold_start_ms is None  # no request measured apart: none reported
    keys = summary.to_json(20)
    assert {"p50Ms", "p90Ms", "p99Ms", "throughputRps", "requests", "errors", "sloMet", "completedAt"} <= keys.keys()
    assert keys["completedAt"] == "2026-11-18T11:06:42Z"


def test_failures_never_meet_the_objective() -> None:
    assert not summarize(_measurement([0.001] * 99, 0.0, 1.0, failures=1)).slo_met(20)
    assert not summarize(_measurement([], 0.0, 1.0, failures=10)).slo_met(20)
    assert not summarize(Measurement()).slo_met(20)


def test_every_request_is_a_csv_row(tmp_path: Path) -> None:
    records = [RequestRecord(0.0, 0.0021, Outcome.OK), RequestRecord(0.005, 0.25, Outcome.THROTTLED)]
    write_csv(tmp_path / "requests.csv", records)
    with (tmp_path / "requests.csv").open() as file:
        rows = list(csv.reader(file))
    assert rows == [list(CSV_HEADER), ["0.000000", "2.100", "ok"], ["0.005000", "250.000", "throttled"]]


def test_the_summary_gives_the_percentiles_of_the_recorded_latencies_in_milliseconds() -> None:
    """Under 2,048 µs the histogram keeps every microsecond, so its percentiles are the nearest-rank ones exactly."""
    latencies_us = list(range(1, 1001))
    random.Random(5).shuffle(latencies_us)
    summary = summarize(_measurement([us / 1e6 for us in latencies_us], 20.0, 20.5))

    def nearest_rank_ms(percentile: float) -> float:
        rank = math.ceil(Fraction(str(percentile)) / 100 * len(latencies_us))  # exact: 99.9 % of 1000 is 999
        return sorted(latencies_us)[rank - 1] / 1000

    assert (summary.p50_ms, summary.p90_ms, summary.p99_ms, summary.p999_ms) == tuple(
        nearest_rank_ms(percentile) for percentile in (50, 90, 99, 99.9)
    )
    assert summary.max_ms == max(latencies_us) / 1000
    assert summary.mean_ms == pytest.approx(statistics.mean(latencies_us) / 1000)
    assert summary.throughput_rps == len(latencies_us) / 0.5
    assert summary.slo_met(summary.p99_ms)  # at the target meets it
    assert not summary.slo_met(summary.p99_ms - 0.001)


def test_latencies_are_kept_to_the_microsecond_within_the_histograms_range() -> None:
    assert microseconds(1.234567) == 1_234_567
    assert microseconds(0.0) == 1
    assert microseconds(3_600.0) == HIGHEST_MICROSECONDS


def test_a_measurement_without_a_window_has_no_throughput() -> None:
    assert summarize(Measurement()).throughput_rps == 0.0


def test_the_json_report_is_status_benchmark_and_the_figures_status_has_no_room_for() -> None:
    summary = summarize(_measurement([0.003] * 95 + [0.040] * 3, 1_795_000_000.0, 1_795_000_002.0, failures=2))
    assert summary.to_json(25) == {
        "source": "Client",
        "p50Ms": summary.p50_ms,
        "p90Ms": summary.p90_ms,
        "p99Ms": summary.p99_ms,
        "throughputRps": 50.0,
        "requests": 100,
        "errors": 2,
        "sloMet": False,
        "completedAt": "2026-11-18T11:06:42Z",
        "p999Ms": summary.p999_ms,
        "maxMs": summary.max_ms,
        "meanMs": summary.mean_ms,
        "errorRate": 0.02,
        "errorsByClass": summary.errors_by_class,
        "targetP99Ms": 25,
    }
    assert summary.errors_by_class["5xx"] == 2
