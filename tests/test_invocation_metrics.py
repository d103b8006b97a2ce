"""Reading SageMaker's invocation metrics from CloudWatch (:mod:`lowlatency.invocation_metrics`): the one request a
read makes, checked against botocore's model of GetMetricData, and how the shadow's benchmark waits for complete
figures, with a CloudWatch that answers what each test gives it."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

import botocore.exceptions
import botocore.session
import botocore.validate
import pytest

from lowlatency import invocation_metrics
from lowlatency.invocation_metrics import (
    Polling,
    ShadowRun,
    VariantMetrics,
    Window,
    measure_shadow,
    read_variant_metrics,
)

START = datetime.datetime(2026, 11, 25, 8, 0, 42, 500000, tzinfo=datetime.UTC).timestamp()
WINDOW = Window(START, START + 80)  # 08:00:42.5 to 08:02:02.5
QUICK = Polling(first_seconds=0.01, longest_seconds=0.02, bound_seconds=0.5)
RUN = ShadowRun("adtech-bid-filter", "eu-west-1", "AllTraffic", "Shadow", WINDOW, answered=95)
COMPLETE = {
    "AllTraffic": {"invocations": 105, "samples": 105, "p50": 2000, "p90": 3000, "p99": 4000, "average": 2100},
    "Shadow": {
        "invocations": 105,
        "errors4xx": 2,
        "errors5xx": 1,
        "samples": 105,
        "p50": 7000,
        "p90": 9000,
        "p99": 31000,
        "average": 7500,
    },
}
LATE = {  # the production variant's requests are in, some of the shadow's copies have no ModelLatency yet
    "AllTraffic": COMPLETE["AllTraffic"],
    "Shadow": {**COMPLETE["Shadow"], "samples": 90},
}


class CloudWatch:
    """GetMetricData answering, read after read, the figures given per variant (a key missing: no data point)."""

    def __init__(self, *reads: Mapping[str, Mapping[str, float]] | Exception) -> None:
        self._reads = iter(reads)
        self.requests: list[dict[str, Any]] = []

    def get_metric_data(self, **request: Any) -> Mapping[str, Any]:
        self.requests.append(request)
        read = next(self._reads)
        if isinstance(read, Exception):
            raise read
        variants = {
            query["Id"]: next(
                dimension["Value"]
                for dimension in query["MetricStat"]["Metric"]["Dimensions"]
                if dimension["Name"] == "VariantName"
            )
            for query in request["MetricDataQueries"]
        }
        results = []
        for query_id, variant in variants.items():
            key = query_id.partition("_")[2]
            found = read.get(variant, {}).get(key)
            results.append(
                {"Id": query_id, "Values": [] if found is None else [float(found)], "StatusCode": "Complete"}
            )
        return {"MetricDataResults": results}


@pytest.fixture
def cloudwatch(monkeypatch: pytest.MonkeyPatch) -> list[CloudWatch]:
    """The CloudWatch the next measurement reads: append one."""
    given: list[CloudWatch] = []
    monkeypatch.setattr(invocation_metrics, "_client", lambda region: given[0])
    return given


def client_error(code: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": f"{code} says no"}}, "GetMetricData")


def test_a_read_asks_each_variants_metrics_over_the_whole_minutes_in_one_valid_request() -> None:
    fake = CloudWatch(COMPLETE)
    read = read_variant_metrics(fake, "adtech-bid-filter", ["AllTraffic", "Shadow"], WINDOW)

    [request] = fake.requests
    model = botocore.session.get_session().get_service_model("cloudwatch")
    shape = model.operation_model("GetMetricData").input_shape
    assert shape is not None
    report = botocore.validate.ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    # CloudWatch's data points are per minute: from the window's first minute to the end of its last, one period.
    assert (request["StartTime"], request["EndTime"]) == (
        datetime.datetime(2026, 11, 25, 8, 0, tzinfo=datetime.UTC),
        datetime.datetime(2026, 11, 25, 8, 3, tzinfo=datetime.UTC),
    )
    queries = request["MetricDataQueries"]
    assert {query["MetricStat"]["Period"] for query in queries} == {180}
    assert all(re.fullmatch(r"[a-z][a-zA-Z0-9_]*", query["Id"]) for query in queries)  # GetMetricData's Id pattern
    asked = {
        (query["MetricStat"]["Metric"]["MetricName"], query["MetricStat"]["Stat"])
        for query in queries
        if query["MetricStat"]["Metric"]["Dimensions"][1]["Value"] == "Shadow"
    }
    assert asked == {
        ("Invocations", "Sum"),
        ("Invocation4XXErrors", "Sum"),
        ("Invocation5XXErrors", "Sum"),
        ("ModelLatency", "SampleCount"),
        ("ModelLatency", "Average"),
        ("ModelLatency", "p50"),
        ("ModelLatency", "p90"),
        ("ModelLatency", "p99"),
    }
    assert {query["MetricStat"]["Metric"]["Namespace"] for query in queries} == {"AWS/SageMaker"}
    assert read["Shadow"] == VariantMetrics(
        invocations=105, errors=3, latency_samples=105, average_us=7500, p50_us=7000, p90_us=9000, p99_us=31000
    )
    assert read["AllTraffic"].errors == 0  # no data point of an error metric: none


async def test_the_shadows_figures_are_read_again_until_complete(cloudwatch: list[CloudWatch]) -> None:
    cloudwatch.append(CloudWatch(LATE, client_error("Throttling"), COMPLETE))
    measured = await measure_shadow(RUN, target_p99_ms=20, generation=3, polling=QUICK)

    assert len(cloudwatch[0].requests) == 3  # incomplete, throttled, complete
    result = measured.result
    assert result is not None, measured.note
    assert (result.generation, result.requests, result.errors) == (3, 105, 3)
    assert (result.p50_ms, result.p90_ms, result.p99_ms, result.mean_ms) == (7.0, 9.0, 31.0, 7.5)
    assert result.throughput_rps == pytest.approx(105 / 80)
    assert result.completed_at == datetime.datetime(2026, 11, 25, 8, 2, 2, tzinfo=datetime.UTC)
    assert result.slo_met is False  # errors, and its model alone slower than the target
    assert measured.note.startswith(
        "model latency as SageMaker measured it (CloudWatch ModelLatency of the requests copied to it, 08:00 to 08:03 "
        "UTC: the model's own time, without the network or SageMaker's overhead, so not comparable with the "
        "client-side figures above): p50 7.00 ms, p90 9.00 ms, p99 31.00 ms; 105 requests copied (1/s), 3 answered "
        "with an error; its model alone misses the 20 ms p99 target"
    )


async def test_a_production_variant_whose_requests_are_not_all_in_yet_is_incomplete_until_the_bound(
    cloudwatch: list[CloudWatch],
) -> None:
    behind = {**COMPLETE, "AllTraffic": {**COMPLETE["AllTraffic"], "invocations": 90}}
    cloudwatch.append(CloudWatch(*[behind] * 100))
    measured = await measure_shadow(RUN, target_p99_ms=20, generation=3, polling=QUICK)
    assert measured.result is None
    assert measured.note == (
        "not yet measured: CloudWatch had not published SageMaker's metrics of the run's minutes (08:00 to 08:03 UTC) "
        "within 0.5 s (they come at a 1-minute frequency)"
    )
    assert 2 <= len(cloudwatch[0].requests) < 100


async def test_a_refused_read_is_reported_and_not_tried_again(cloudwatch: list[CloudWatch]) -> None:
    cloudwatch.append(CloudWatch(client_error("AccessDenied")))
    measured = await measure_shadow(RUN, target_p99_ms=20, generation=3, polling=QUICK)
    assert measured.result is None
    assert measured.note == "not measured: GetMetricData failed: AccessDenied: AccessDenied says no"


async def test_a_shadow_without_copies_says_so(cloudwatch: list[CloudWatch]) -> None:
    cloudwatch.append(CloudWatch({"AllTraffic": COMPLETE["AllTraffic"]}))
    measured = await measure_shadow(RUN, target_p99_ms=20, generation=3, polling=QUICK)
    assert measured.result is None
    assert measured.note == "no request of the run was copied to it (08:00 to 08:03 UTC): its weight sends it none"


def test_a_shadow_within_the_target_without_errors_is_not_said_to_meet_it() -> None:
    fast = VariantMetrics(
        invocations=10, errors=0, latency_samples=10, average_us=1000, p50_us=900, p90_us=1500, p99_us=1900
    )
    result = invocation_metrics.shadow_result(fast, WINDOW, target_p99_ms=20, generation=1)
    assert result.slo_met is None  # without the network and SageMaker's overhead, a caller's p99 is not known
    assert "misses" not in invocation_metrics.shadow_note(result, "08:00 to 08:03 UTC", 20)
