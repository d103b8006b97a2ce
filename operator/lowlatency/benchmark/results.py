"""What a benchmark measured: a lossless, mergeable latency histogram, error counts by class, the time window.

Latencies of successful requests are recorded in an HdrHistogram in microseconds (1 µs to 10 minutes, three
significant digits). Histograms of several runs or workers merge by adding their counts, so the percentiles of a
merge are exactly those of one histogram of all values; percentiles are never averaged. The window is wall-clock
time, so that measurements made in other processes merge too; the throughput of a merge is its requests over the
union of the windows, which is the aggregate rate of concurrent workers.
"""

from __future__ import annotations

import csv
import datetime
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from hdrh.histogram import HdrHistogram

from lowlatency import api
from lowlatency.benchmark.connection import Outcome

LOWEST_MICROSECONDS = 1
HIGHEST_MICROSECONDS = 600_000_000
SIGNIFICANT_DIGITS = 3


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_MICROSECONDS, HIGHEST_MICROSECONDS, SIGNIFICANT_DIGITS)


def microseconds(seconds: float) -> int:
    return min(HIGHEST_MICROSECONDS, max(LOWEST_MICROSECONDS, round(seconds * 1e6)))


class RequestRecord(NamedTuple):
    """One measured request: when it was meant to be sent (seconds after the run's start), its latency, outcome, the
    id the runtime answered it under (``x-amzn-RequestId``; empty when none came), by which the endpoint's side knows
    it, and when its answer was read (seconds after the run's start)."""

    intended_offset_seconds: float
    latency_seconds: float
    outcome: Outcome
    request_id: str = ""
    completed_offset_seconds: float | None = None


@dataclass
class Measurement:
    histogram: HdrHistogram = field(default_factory=new_histogram)
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    started: float = 0.0
    finished: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())

    @property
    def errors(self) -> int:
        return self.requests - self.outcomes[Outcome.OK]

    def record(self, latency_seconds: float, outcome: Outcome) -> None:
        self.outcomes[outcome] += 1
        if outcome is Outcome.OK:
            self.histogram.record_value(microseconds(latency_seconds))

    def add(self, other: Measurement) -> None:
        if other.requests:
            if self.requests:
                self.started = min(self.started, other.started)
                self.finished = max(self.finished, other.finished)
            else:
                self.started, self.finished = other.started, other.finished
        self.histogram.add(other.histogram)
        self.outcomes.update(other.outcomes)

    def encode(self) -> dict[str, Any]:
        """A JSON-ready form that :meth:`decode` turns back into an equal measurement (the histogram compressed)."""
        return {
            "histogram": self.histogram.encode().decode("ascii"),
            "outcomes": {outcome.value: count for outcome, count in self.outcomes.items()},
            "started": self.started,
            "finished": self.finished,
        }

    @classmethod
    def decode(cls, encoded: dict[str, Any]) -> Measurement:
        histogram = new_histogram()
        histogram.decode_and_add(encoded["histogram"])
        outcomes = Counter({Outcome(name): int(count) for name, count in encoded["outcomes"].items()})
        return cls(histogram, outcomes, float(encoded["started"]), float(encoded["finished"]))


def merge(measurements: Iterable[Measurement]) -> Measurement:
    merged = Measurement()
    for measurement in measurements:
        merged.add(measurement)
    return merged


@dataclass(frozen=True)
class Summary:
    """The figures of one measurement, milliseconds and requests per second."""

    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float
    throughput_rps: float
    requests: int
    errors: int
    errors_by_class: dict[str, int]
    completed_at: datetime.datetime

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def slo_met(self, target_p99_ms: float) -> bool:
        """Whether p99 stayed at or under the target; a run with failed requests or no success never meets it."""
        return self.requests > self.errors == 0 and self.p99_ms <= target_p99_ms

    def to_status(
        self, target_p99_ms: float, generation: int | None = None, cold_start_ms: float | None = None
    ) -> api.BenchmarkResult:
        """The form of status.benchmark; ``cold_start_ms``: the request measured apart before these (a serverless
        variant's first after idle)."""
        return api.BenchmarkResult(
            generation=generation,
            source="Client",
            p50_ms=self.p50_ms,
            p90_ms=self.p90_ms,
            p99_ms=self.p99_ms,
            mean_ms=self.mean_ms,
            throughput_rps=self.throughput_rps,
            requests=self.requests,
            errors=self.errors,
            slo_met=self.slo_met(target_p99_ms),
            cold_start_ms=cold_start_ms,
            completed_at=self.completed_at,
        )

    def to_json(self, target_p99_ms: float) -> dict[str, Any]:
        """status.benchmark's keys, then the figures status has no room for."""
        keys = self.to_status(target_p99_ms).model_dump(mode="json", by_alias=True, exclude_none=True)
        return keys | {
            "p999Ms": self.p999_ms,
            "maxMs": self.max_ms,
            "errorRate": self.error_rate,
            "errorsByClass": self.errors_by_class,
            "targetP99Ms": target_p99_ms,
        }


def summarize(measurement: Measurement) -> Summary:
    histogram = measurement.histogram
    # One by one: hdrh's percentile dictionary fails on an empty histogram (a run where every request failed).
    percentiles = {percentile: histogram.get_value_at_percentile(percentile) for percentile in (50.0, 90.0, 99.0, 99.9)}
    window = measurement.finished - measurement.started
    return Summary(
        p50_ms=percentiles[50.0] / 1000,
        p90_ms=percentiles[90.0] / 1000,
        p99_ms=percentiles[99.0] / 1000,
        p999_ms=percentiles[99.9] / 1000,
        max_ms=histogram.get_max_value() / 1000,
        mean_ms=histogram.get_mean_value() / 1000,
        throughput_rps=measurement.requests / window if window > 0 else 0.0,
        requests=measurement.requests,
        errors=measurement.errors,
        errors_by_class={
            outcome.value: measurement.outcomes[outcome] for outcome in Outcome if outcome is not Outcome.OK
        },
        completed_at=datetime.datetime.fromtimestamp(measurement.finished, datetime.UTC).replace(microsecond=0),
    )


CSV_HEADER = ("intended_send_s", "latency_ms", "outcome")


def write_csv(path: Path, records: Sequence[RequestRecord]) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_HEADER)
        for record in records:
            writer.writerow(
                (f"{record.intended_offset_seconds:.6f}", f"{record.latency_seconds * 1000:.3f}", record.outcome.value)
            )
