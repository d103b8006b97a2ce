"""SageMaker's invocation metrics of an endpoint's variants, read from CloudWatch; with them, the benchmark of a shadow
variant, which no caller can invoke.

What SageMaker publishes (namespace ``AWS/SageMaker``, dimensions ``EndpointName`` and ``VariantName``;
https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html), for production and shadow variants
alike (its shadow test dashboard compares these of both:
https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-view-monitor-edit-dashboard.html):

- ``Invocations``: one per request sent to the variant's model (Sum: how many).
- ``ModelLatency``, in microseconds: "The interval of time taken by a model to respond as viewed from SageMaker",
  from sending the request to the model container to its answer. Not in it: the network between the caller and
  SageMaker, and SageMaker's own time (``OverheadLatency``). For a shadow variant it is the only latency there is: its
  answers reach no caller.
- ``Invocation4XXErrors`` and ``Invocation5XXErrors``: 1 for each answer of the model with a 4xx (5xx) status.

How they are read: one GetMetricData call (IAM action ``cloudwatch:GetMetricData``, which has no resource-level
permissions: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html; granted
on ``*`` in docs/iam-policy.json) asks, for each variant, the Sum
of Invocations and of each error metric, and ModelLatency's SampleCount, Average and percentiles p50, p90 and p99
(CloudWatch's percentile statistics, a ``pNN`` Stat: botocore cloudwatch MetricStat.Stat), all over one period that
spans the whole minutes of the window. The data points are per minute ("Metrics are available at a 1-minute
frequency", the same page), and CloudWatch rounds StartTime down to the minute
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html): what is read covers the
whole minutes the window touches, including any other request of those minutes.

When: AWS documents no bound on how long a minute's data points take to be readable. A read is taken as complete
once the production variant's Invocations count at least the requests the run had answered (its requests have
reached CloudWatch) and every shadow invocation has its ModelLatency (their sample count equals its Invocations);
until then it is read again, at intervals that double from ``Polling.first_seconds`` up to ``longest_seconds``, for
at most ``bound_seconds``, after which the shadow is reported as not yet measured rather than measured wrong.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import boto3
import botocore.config

from lowlatency import api
from lowlatency.aws import AwsError, ErrorKind, aws_call

logger = logging.getLogger(__name__)

NAMESPACE: Final = "AWS/SageMaker"
MINUTE: Final = datetime.timedelta(minutes=1)
# (key, metric, statistic) asked of each variant.
_ASKED: Final = (
    ("invocations", "Invocations", "Sum"),
    ("errors4xx", "Invocation4XXErrors", "Sum"),
    ("errors5xx", "Invocation5XXErrors", "Sum"),
    ("samples", "ModelLatency", "SampleCount"),
    ("average", "ModelLatency", "Average"),
    ("p50", "ModelLatency", "p50"),
    ("p90", "ModelLatency", "p90"),
    ("p99", "ModelLatency", "p99"),
)


class MetricDataClient(Protocol):
    """What is asked of a boto3 CloudWatch client."""

    def get_metric_data(self, **request: Any) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Window:
    """A stretch of wall-clock time (``time.time()``)."""

    started: float
    finished: float

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    def minutes(self) -> tuple[datetime.datetime, datetime.datetime]:
        """The whole minutes it touches: from its first minute's start to its last minute's end."""
        first = datetime.datetime.fromtimestamp(self.started, datetime.UTC).replace(second=0, microsecond=0)
        last = datetime.datetime.fromtimestamp(self.finished, datetime.UTC).replace(second=0, microsecond=0)
        return first, last + MINUTE


@dataclass(frozen=True)
class VariantMetrics:
    """One variant's invocation metrics over a window."""

    invocations: int
    errors: int
    """Answers of the model with a 4xx or 5xx status."""
    latency_samples: int
    average_us: float | None
    p50_us: float | None
    p90_us: float | None
    p99_us: float | None


def read_variant_metrics(
    cloudwatch: MetricDataClient, endpoint_name: str, variants: Sequence[str], window: Window
) -> dict[str, VariantMetrics]:
    """Each variant's invocation metrics over the whole minutes of ``window``, in one GetMetricData call."""
    start, end = window.minutes()
    period = int((end - start).total_seconds())
    queries = [
        {
            "Id": f"v{index}_{key}",
            "MetricStat": {
                "Metric": {
                    "Namespace": NAMESPACE,
                    "MetricName": metric,
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": endpoint_name},
                        {"Name": "VariantName", "Value": variant},
                    ],
                },
                "Period": period,
                "Stat": stat,
            },
        }
        for index, variant in enumerate(variants)
        for key, metric, stat in _ASKED
    ]
    with aws_call("cloudwatch:GetMetricData"):
        answer = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)
    values: dict[str, list[float]] = {result["Id"]: result["Values"] for result in answer["MetricDataResults"]}

    def total(index: int, key: str) -> int:
        return round(sum(values.get(f"v{index}_{key}", [])))

    def single(index: int, key: str) -> float | None:
        found = values.get(f"v{index}_{key}", [])
        return found[0] if found else None

    return {
        variant: VariantMetrics(
            invocations=total(index, "invocations"),
            errors=total(index, "errors4xx") + total(index, "errors5xx"),
            latency_samples=total(index, "samples"),
            average_us=single(index, "average"),
            p50_us=single(index, "p50"),
            p90_us=single(index, "p90"),
            p99_us=single(index, "p99"),
        )
        for index, variant in enumerate(variants)
    }


@dataclass(frozen=True)
class Polling:
    """How long to wait for a window's metrics: the first interval, the longest, and the bound on the whole wait."""

    first_seconds: float = 2.0
    longest_seconds: float = 30.0
    bound_seconds: float = 300.0


@dataclass(frozen=True)
class ShadowRun:
    """A run against an endpoint with a shadow variant: what the shadow's benchmark is read for."""

    endpoint_name: str
    region: str
    production: str
    shadow: str
    window: Window
    answered: int
    """Requests of the run the production variant answered (at least these reached its model)."""


@dataclass(frozen=True)
class ShadowMeasurement:
    """The shadow's benchmark, or none; ``note`` says where it comes from, or why there is none."""

    result: api.BenchmarkResult | None = None
    note: str = ""


async def measure_shadow(
    run: ShadowRun, *, target_p99_ms: float, generation: int, polling: Polling
) -> ShadowMeasurement:
    """The shadow variant's benchmark of the run: its ModelLatency, Invocations and errors as SageMaker published them
    for the run's minutes, once complete (the module's docstring)."""
    minutes = _minutes(run.window)
    interval = polling.first_seconds
    try:
        cloudwatch = await asyncio.to_thread(_client, run.region)
        deadline = time.monotonic() + polling.bound_seconds  # a bound on waiting for the metrics, not on set-up
        while True:
            try:
                read = await asyncio.to_thread(
                    read_variant_metrics, cloudwatch, run.endpoint_name, (run.production, run.shadow), run.window
                )
                if _complete(read[run.production], read[run.shadow], run.answered):
                    break
            except AwsError as error:
                if error.kind is not ErrorKind.TRANSIENT:
                    raise
                logger.debug("reading the metrics of %s failed, read again", run.endpoint_name, exc_info=True)
            remaining = deadline - time.monotonic()
            if remaining <= 0:  # the last read was at or after the bound
                return ShadowMeasurement(
                    note=f"not yet measured: CloudWatch had not published SageMaker's metrics of the run's minutes "
                    f"({minutes}) within {polling.bound_seconds:g} s (they come at a 1-minute frequency)"
                )
            await asyncio.sleep(min(interval, remaining))  # the last wait ends at the bound, for one more read
            interval = min(2 * interval, polling.longest_seconds)
    except AwsError as error:
        return ShadowMeasurement(note=f"not measured: {error}")
    figures = read[run.shadow]
    if not figures.invocations:
        return ShadowMeasurement(note=f"no request of the run was copied to it ({minutes}): its weight sends it none")
    result = shadow_result(figures, run.window, target_p99_ms=target_p99_ms, generation=generation)
    return ShadowMeasurement(result, shadow_note(result, minutes, target_p99_ms))


def shadow_result(
    figures: VariantMetrics, window: Window, *, target_p99_ms: float, generation: int
) -> api.BenchmarkResult:
    """status.variants[].benchmark of a shadow variant. Its latency is the model's alone, a bound from below of what
    a caller would see: a p99 above the target or a failed request misses the SLO for sure, otherwise whether it is
    met is not known (slo_met unset)."""
    p99_ms = _ms(figures.p99_us)
    missed = figures.errors > 0 or (p99_ms is not None and p99_ms > target_p99_ms)
    return api.BenchmarkResult(
        generation=generation,
        source="CloudWatchModelLatency",
        p50_ms=_ms(figures.p50_us),
        p90_ms=_ms(figures.p90_us),
        p99_ms=p99_ms,
        mean_ms=_ms(figures.average_us),
        throughput_rps=figures.invocations / window.seconds if window.seconds > 0 else None,
        requests=figures.invocations,
        errors=figures.errors,
        slo_met=False if missed else None,
        completed_at=datetime.datetime.fromtimestamp(window.finished, datetime.UTC).replace(microsecond=0),
    )


def shadow_note(result: api.BenchmarkResult, minutes: str, target_p99_ms: float) -> str:
    """What the condition says of a shadow's benchmark: where its figures come from, and that they do not compare
    with the client-side figures of the endpoint and its production variants."""
    note = (
        f"model latency as SageMaker measured it (CloudWatch ModelLatency of the requests copied to it, {minutes}: "
        "the model's own time, without the network or SageMaker's overhead, so not comparable with the client-side "
        f"figures above): p50 {result.p50_ms or 0:.2f} ms, p90 {result.p90_ms or 0:.2f} ms, "
        f"p99 {result.p99_ms or 0:.2f} ms; {result.requests} requests copied ({result.throughput_rps or 0:.0f}/s), "
        f"{result.errors} answered with an error"
    )
    if result.p99_ms is not None and result.p99_ms > target_p99_ms:
        note += f"; its model alone misses the {target_p99_ms:g} ms p99 target"
    return note


def _complete(production: VariantMetrics, shadow: VariantMetrics, answered: int) -> bool:
    return production.invocations >= answered and shadow.latency_samples == shadow.invocations


def _minutes(window: Window) -> str:
    start, end = window.minutes()
    return f"{start:%H:%M} to {end:%H:%M} UTC"


def _ms(microseconds: float | None) -> float | None:
    return None if microseconds is None else microseconds / 1000


def _client(region: str) -> MetricDataClient:
    """A CloudWatch client where boto3's configuration sends it, as the benchmark's runtime requests go."""
    config = botocore.config.Config(
        retries={"mode": "standard", "max_attempts": 3}, user_agent_extra="lowlatency-operator"
    )
    client: MetricDataClient = boto3.session.Session().client("cloudwatch", region_name=region, config=config)
    return client
