"""SageMaker's invocation metrics in CloudWatch: what the emulator's runtime publishes for each invocation it serves,
and the percentile statistics CloudWatch answers over them.

What SageMaker publishes, and what is imitated here:

- **Where**: namespace ``AWS/SageMaker``, dimensions ``EndpointName`` and ``VariantName``; "Metrics are available at
  a 1-minute frequency" (https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html, SageMaker
  endpoint invocation metrics). Each data point is written into moto's CloudWatch backend, in the region of the
  InvokeEndpoint request, stamped with the minute (UTC) in which the runtime received the caller's request: a
  minute's data point covers the requests of that minute, and its time is the minute's start. A shadow variant's
  metrics are published under its own ``VariantName`` like a production variant's: SageMaker's shadow test dashboard
  compares ``Invocations``, ``InvocationsPerInstance``, ``ModelLatency``, ``Invocation4XXErrors`` and
  ``Invocation5XXErrors`` of the production and shadow variants
  (https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-view-monitor-edit-dashboard.html).
- **For each request sent to a variant's model container** (a caller's request that its production variant answers,
  and each copy sent to a shadow variant), when the container is called:

  - ``Invocations`` 1 (unit None): "The number of InvokeEndpoint requests sent to a model endpoint".
  - ``InvocationsPerInstance`` 1/n (unit None) for an instance-backed variant of n current instances: "1/
    numberOfInstances is sent as the value on each request, where numberOfInstances is the number of active
    instances for the ProductionVariant behind the endpoint at the time of the request"; not for a serverless
    variant, whose metrics are listed exhaustively without it
    (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-monitoring.html).
  - ``ModelSetupTime`` (Microseconds), serverless only, when the request waited for a cold start: "The time it takes
    to launch new compute resources for a serverless endpoint"; here the emulator's cold-start delay
    (:class:`.endpoint_state.Delays`).

  and when the container has answered, or failed to:

  - ``ModelLatency`` (Microseconds): "The interval of time taken by a model to respond as viewed from SageMaker.
    This interval includes the local communication times taken to send the request and to fetch the response from
    the container of a model and the time taken to complete the inference in the container": here the time the
    emulator measured around its ``POST /invocations`` to the model server, from sending it to the answer read. AWS
    does not document it for a call that got no answer at all; the emulator publishes the time until the failure,
    so that every invocation has its ModelLatency.
  - ``Invocation4XXErrors`` and ``Invocation5XXErrors`` (unit None): "The number of InvokeEndpoint requests where the
    model returned a 4xx [5xx] HTTP response code. For each 4xx [5xx] response, 1 is sent; otherwise, 0 is sent":
    by the container's status code (a call that got no answer sends 0 to both).
  - ``OverheadLatency`` (Microseconds), production variants only: "The interval of time added to the time taken to
    respond to a client request by SageMaker overheads. This interval is measured from the time SageMaker receives
    the request until it returns a response to the client, minus the ModelLatency"; here from the moment the
    runtime's handler received the request to the container's answer, minus ModelLatency (what the gateway does
    before and after the handler, parsing the request and writing the answer, is not in it). A serverless cold
    start is part of it: SageMaker's serverless monitoring page says that OverheadLatency tracks all the latency
    SageMaker adds, the cold start time of launching new compute resources included, and that it is much lower with
    provisioned concurrency (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-monitoring.html,
    paraphrased: the stored copy read is a translation). A shadow variant's
    answer goes to no client and its dashboard shows no OverheadLatency: none is published for a copy.

  Units are those of the metrics table (monitoring-cloudwatch.html above). Nothing is published for a request that
  reaches no model container: one refused before (an unknown endpoint, a serverless variant's ThrottlingException;
  AWS does not document whether throttled requests count), or one routed to no model server (moto's canned answer).
- **Percentiles**: CloudWatch answers percentile statistics of raw data points ("CloudWatch needs raw data points to
  calculate percentile statistics. If you publish data using a statistic set instead, you can only retrieve
  percentile statistics for this data if ... The SampleCount value of the statistic set is 1 [or] The Min and the
  Max values of the statistic set are equal. Percentile statistics are not available for metrics when any of the
  metric values are negative numbers"), asked for as GetMetricStatistics' ``ExtendedStatistics`` ("Specify values
  between p0.0 and p100. When calling GetMetricStatistics, you must specify either Statistics or
  ExtendedStatistics, but not both";
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html) or as a
  ``pNN.NN`` ``Stat`` of GetMetricData (botocore cloudwatch MetricStat.Stat). moto answers none: it drops
  ExtendedStatistics and fails on a percentile Stat. The emulator answers them over the raw values in moto's
  backend, by nearest rank (the smallest value at or above which that share of the values lies); CloudWatch's own
  method is not documented. Where a percentile is not available, GetMetricData gives no value for the period and
  GetMetricStatistics leaves it out of the data point (the emulator's reading; AWS documents neither answer). Both
  statistics and extended statistics in one GetMetricStatistics call are refused with
  ``InvalidParameterCombination``, a percentile out of range with ``InvalidParameterValue`` (AWS's codes for such
  parameters in the API reference's errors; the messages are the emulator's own).
- **StartTime rounding**: "Start time less than 15 days ago - Round down to the nearest whole minute ... Start time
  between 15 and 63 days ago - Round down to the nearest 5-minute clock interval ... Start time greater than 63
  days ago - Round down to the nearest 1-hour clock interval" (GetMetricData and GetMetricStatistics, StartTime,
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html); moto does not round.

Not modelled: the delay before a minute's data point can be read (AWS documents none; here data points are readable
as soon as the invocation is published), the 15-month retention, and high-resolution metrics.
"""

from __future__ import annotations

import datetime
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue
from moto.cloudwatch.models import (
    CloudWatchBackend,
    MetricAggregatedDatum,
    MetricDatum,
    MetricDatumBase,
    Statistics,
    cloudwatch_backends,
)
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult

from lowlatency.emulators.aws.endpoint_state import Variant
from lowlatency.emulators.aws.gateway import ApiRequest, Reply, ServiceError
from lowlatency.emulators.aws.invocations import forward_invocation

NAMESPACE: Final = "AWS/SageMaker"
MICROSECONDS: Final = "Microseconds"
COUNT: Final = "None"  # CloudWatch's unit of a count
PERCENTILE: Final = re.compile(r"^p(?P<rank>\d+(\.\d+)?)$")


@dataclass(frozen=True)
class Invocation:
    """A request on its way to one variant's model container."""

    region: str
    endpoint_name: str
    variant: str
    received_at: float
    """When the runtime received the caller's request (``time.time()``; a shadow's copy: the caller's request)."""
    instances: int | None
    """The variant's current instances; None for a serverless variant."""

    @classmethod
    def of(cls, request: ApiRequest, endpoint_name: str, variant: Variant, received_at: float) -> Invocation:
        instances = None if variant.current_serverless is not None else variant.current_count
        return cls(request.region, endpoint_name, variant.name, received_at, instances)


class InvocationMetrics:
    """Publishes the metrics of each invocation into moto's CloudWatch backend, under the lock that guards moto's
    backends (the gateway's)."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._regions: set[str] = set()

    def forward(
        self,
        url: str,
        request: ApiRequest,
        invocation: Invocation,
        *,
        received: float | None = None,
        setup_seconds: float | None = None,
    ) -> Reply:
        """Call the variant's model container (:func:`.invocations.forward_invocation`) and publish what SageMaker
        publishes for it. ``received``: ``time.perf_counter()`` when the runtime's handler received the request whose
        answer goes back to the caller (a production variant's: OverheadLatency); ``setup_seconds``: the cold start
        the request waited for."""
        sent: list[tuple[str, float, str]] = [("Invocations", 1.0, COUNT)]
        if invocation.instances:
            sent.append(("InvocationsPerInstance", 1.0 / invocation.instances, COUNT))
        if setup_seconds is not None:
            sent.append(("ModelSetupTime", setup_seconds * 1e6, MICROSECONDS))
        self._publish(invocation, sent)
        status = 0  # no answer from the container
        started = time.perf_counter()
        try:
            reply = forward_invocation(url, request, invocation.variant, invocation.endpoint_name)
            status = reply.status
            return reply
        except ServiceError as error:
            status = int(error.extra.get("OriginalStatusCode", 0))
            raise
        finally:
            answered = time.perf_counter()
            model_seconds = answered - started
            done = [
                ("ModelLatency", model_seconds * 1e6, MICROSECONDS),
                ("Invocation4XXErrors", float(400 <= status < 500), COUNT),
                ("Invocation5XXErrors", float(500 <= status < 600), COUNT),
            ]
            if received is not None:
                done.append(("OverheadLatency", (answered - received - model_seconds) * 1e6, MICROSECONDS))
            self._publish(invocation, done)

    def _publish(self, invocation: Invocation, metrics: Sequence[tuple[str, float, str]]) -> None:
        received = datetime.datetime.fromtimestamp(invocation.received_at, datetime.UTC)
        minute = received.replace(second=0, microsecond=0, tzinfo=None)  # moto keeps its times naive, in UTC
        dimensions = [
            {"Name": "EndpointName", "Value": invocation.endpoint_name},
            {"Name": "VariantName", "Value": invocation.variant},
        ]
        with self._lock:
            self._regions.add(invocation.region)
            cloudwatch_backends[DEFAULT_ACCOUNT_ID][invocation.region].metric_data.extend(
                MetricDatum(NAMESPACE, name, value, dimensions, minute, unit) for name, value, unit in metrics
            )

    def clear(self) -> None:
        """Forget what was published (a copy answered after moto's backends were reset would otherwise stay)."""
        with self._lock:
            for region in self._regions:
                backend = cloudwatch_backends[DEFAULT_ACCOUNT_ID][region]
                backend.metric_data = [datum for datum in backend.metric_data if datum.namespace != NAMESPACE]
            self._regions.clear()


def percentile(data: Sequence[MetricDatumBase], rank: float) -> float | None:
    """The ``rank`` percentile (0-100) of the data points by nearest rank; None where CloudWatch has none (no value,
    a negative value, or a statistic set of different values)."""
    values: list[float] = []
    for datum in data:
        if isinstance(datum, MetricDatum):
            values.append(datum.value)
        elif isinstance(datum, MetricAggregatedDatum) and datum.min == datum.max:
            values += [datum.min] * int(datum.sample_count)
        else:
            return None
    if not values or min(values) < 0:
        return None
    values.sort()
    return values[max(1, math.ceil(rank / 100 * len(values))) - 1]


def requested_percentile(stat: str) -> float | None:
    """The rank of a percentile statistic (``p99``, ``p99.9``), None for another statistic; one out of p0-p100 is
    refused."""
    match = PERCENTILE.match(stat)
    if match is None:
        return None
    rank = float(match["rank"])
    if rank > 100:
        raise InvalidParameterValue(f"The percentile statistic {stat} is not between p0.0 and p100.")
    return rank


def rounded_start(start: datetime.datetime, now: datetime.datetime) -> datetime.datetime:
    """StartTime as CloudWatch rounds it down, by its age (the module's docstring)."""
    age = now - start
    if age < datetime.timedelta(days=15):
        return start.replace(second=0, microsecond=0)
    if age < datetime.timedelta(days=63):
        return start.replace(minute=start.minute - start.minute % 5, second=0, microsecond=0)
    return start.replace(minute=0, second=0, microsecond=0)


_moto_get_statistics_for_type = Statistics.get_statistics_for_type
_moto_get_metric_data = CloudWatchBackend.get_metric_data
_moto_get_metric_statistics = CloudWatchBackend.get_metric_statistics


def extend_moto() -> None:
    """Install percentile statistics and StartTime rounding into moto's CloudWatch (process-wide, as moto's backends
    are)."""

    def get_statistics_for_type(statistics: Statistics, stat: str) -> Any:
        rank = requested_percentile(stat)
        if rank is None:
            return _moto_get_statistics_for_type(statistics, stat)
        return percentile(statistics.metric_data, rank)

    def extended_statistics(statistics: Statistics) -> dict[str, float] | None:
        found = {stat: percentile(statistics.metric_data, rank) for stat, rank in _percentiles(statistics.stats)}
        answered = {stat: value for stat, value in found.items() if value is not None}
        return answered or None

    def get_metric_data(
        backend: CloudWatchBackend,
        queries: list[dict[str, Any]],
        start_time: datetime.datetime,
        end_time: datetime.datetime,
        scan_by: str = "TimestampAscending",
    ) -> list[dict[str, Any]]:
        for query in queries:
            if "MetricStat" in query:
                requested_percentile(query["MetricStat"]["Stat"])  # refuses one out of range
        start = rounded_start(start_time, _now_as(start_time))
        results = _moto_get_metric_data(backend, queries, start, end_time, scan_by)
        for result in results:  # a period without the statistic has no value
            pairs = [
                (at, value)
                for at, value in zip(result["timestamps"], result["values"], strict=True)
                if value is not None
            ]
            result["timestamps"], result["values"] = [at for at, _ in pairs], [value for _, value in pairs]
        return results

    def get_metric_statistics(response: CloudWatchResponse) -> ActionResult:
        statistics = response._get_param("Statistics", [])
        extended = response._get_param("ExtendedStatistics", [])
        if statistics and extended:
            raise InvalidParameterCombination("Specify either Statistics or ExtendedStatistics, but not both.")
        if not statistics and not extended:
            raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
        for stat in extended:
            if requested_percentile(stat) is None:
                raise InvalidParameterValue(f"The value {stat} for parameter ExtendedStatistics is not supported.")
        start_time = response._get_param("StartTime")
        start = rounded_start(start_time, _now_as(start_time))
        datapoints = _moto_get_metric_statistics(
            response.cloudwatch_backend,
            response._get_param("Namespace"),
            response._get_param("MetricName"),
            start,
            response._get_param("EndTime"),
            response._get_int_param("Period"),
            statistics + extended,
            unit=response._get_param("Unit"),
            dimensions=response._get_param("Dimensions", []),
        )
        return ActionResult({"Label": response._get_param("MetricName"), "Datapoints": datapoints})

    patches: list[tuple[type, str, Callable[..., Any] | property]] = [
        (Statistics, "get_statistics_for_type", get_statistics_for_type),
        (Statistics, "extended_statistics", property(extended_statistics)),
        (CloudWatchBackend, "get_metric_data", get_metric_data),
        (CloudWatchResponse, "get_metric_statistics", get_metric_statistics),
    ]
    for cls, name, replacement in patches:
        setattr(cls, name, replacement)


def _now_as(moment: datetime.datetime) -> datetime.datetime:
    """Now in UTC, naive or aware as ``moment`` is (moto parses times either way, by protocol)."""
    now = datetime.datetime.now(datetime.UTC)
    return now if moment.tzinfo is not None else now.replace(tzinfo=None)


def _percentiles(stats: Sequence[str]) -> list[tuple[str, float]]:
    return [(stat, rank) for stat in stats if (rank := requested_percentile(stat)) is not None]
