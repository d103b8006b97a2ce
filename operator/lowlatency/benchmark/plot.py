"""PNG plots of benchmark results (matplotlib, the ``plot`` extra, imported only when a plot is asked for)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from lowlatency.benchmark.connection import Outcome
from lowlatency.benchmark.results import RequestRecord, Summary

if TYPE_CHECKING:
    from lowlatency.benchmark.rightsizing import RampResult


def _pyplot() -> ModuleType:
    import matplotlib  # noqa: PLC0415  (the optional `plot` extra)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def latency_plot(path: Path, records: Sequence[RequestRecord], summary: Summary, title: str) -> None:
    """A latency histogram with the percentiles marked, and every request's latency over its intended send time."""
    plt = _pyplot()
    figure, (histogram, timeline) = plt.subplots(2, 1, figsize=(10, 8))
    succeeded = [record for record in records if record.outcome is Outcome.OK]
    failed = [record for record in records if record.outcome is not Outcome.OK]
    histogram.hist([record.latency_seconds * 1000 for record in succeeded], bins=100, color="tab:blue")
    histogram.set_yscale("log")
    for label, value, colour in (
        ("p50", summary.p50_ms, "tab:green"),
        ("p90", summary.p90_ms, "tab:olive"),
        ("p99", summary.p99_ms, "tab:orange"),
        ("p99.9", summary.p999_ms, "tab:red"),
    ):
        histogram.axvline(value, color=colour, linestyle="--", label=f"{label} {value:.2f} ms")
    histogram.set_xlabel("latency (ms)")
    histogram.set_ylabel("requests")
    histogram.legend()
    histogram.set_title(title)
    timeline.scatter(
        [record.intended_offset_seconds for record in succeeded],
        [record.latency_seconds * 1000 for record in succeeded],
        s=2,
        color="tab:blue",
        label="succeeded",
    )
    if failed:
        timeline.scatter(
            [record.intended_offset_seconds for record in failed],
            [record.latency_seconds * 1000 for record in failed],
            s=6,
            color="tab:red",
            marker="x",
            label="failed",
        )
    timeline.set_xlabel("intended send time (s)")
    timeline.set_ylabel("latency (ms)")
    timeline.legend()
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)


def ramp_plot(path: Path, ramp: RampResult, title: str) -> None:
    """Latency percentiles and achieved throughput at each offered rate of a find-max-rps ramp."""
    plt = _pyplot()
    figure, latency = plt.subplots(figsize=(10, 5))
    rates = [step.rate_rps for step in ramp.steps]
    for label, values in (
        ("p50", [step.summary.p50_ms for step in ramp.steps]),
        ("p99", [step.summary.p99_ms for step in ramp.steps]),
    ):
        latency.plot(rates, values, marker="o", label=label)
    latency.axhline(ramp.ramp.target_p99_ms, color="tab:red", linestyle="--", label="p99 target")
    if ramp.max_rps is not None:
        latency.axvline(ramp.max_rps, color="tab:green", linestyle=":", label=f"max sustained {ramp.max_rps:g}/s")
    latency.set_xlabel("offered rate (requests/s)")
    latency.set_ylabel("latency (ms)")
    latency.set_title(title)
    latency.legend()
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)
