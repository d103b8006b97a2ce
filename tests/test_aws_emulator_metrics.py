"""SageMaker's invocation metrics in the AWS emulator's CloudWatch (:mod:`lowlatency.emulators.aws.metrics`), read
back over the wire with boto3's CloudWatch client as the operator reads them.

Invocations go to one model server per variant; each server's own record of what it handled (how many requests,
their status, how long each took between receiving it and having its answer) is the truth the published metrics are
judged by. SageMaker's sources: the invocation metrics table
(https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html), the shadow test dashboard
(https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-view-monitor-edit-dashboard.html) and serverless
monitoring (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-monitoring.html); CloudWatch's:
GetMetricStatistics and GetMetricData in its API reference.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import pytest

from emulator_requests import IMAGE, ROLE, client_error, code_of
from fixtures_aws import TEST_DELAYS, AwsClientFactory, ManualClock
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.emulators.aws.metrics import rounded_start
from lowlatency.emulators.model_server import Fixed, ModelServer

pytestmark = pytest.mark.timeout(120)

NAMESPACE = "AWS/SageMaker"
FAST_MS, SLOW_MS = 5.0, 15.0
REQUESTS = 40
PERCENTILES = (50.0, 90.0, 99.0)


@pytest.fixture
def cloudwatch(aws_client: AwsClientFactory) -> Any:
    return aws_client("cloudwatch", retries=False)


@pytest.fixture
def runtime(aws_client: AwsClientFactory) -> Any:
    return aws_client("sagemaker-runtime", retries=False)


@pytest.fixture
def servers() -> Iterator[dict[str, ModelServer]]:
    """A fast model server for the production variant and a slower one for the shadow variant."""
    with ModelServer(latency=Fixed(FAST_MS)) as production, ModelServer(latency=Fixed(SLOW_MS)) as shadow:
        yield {"Live": production, "Candidate": shadow}


def serving(
    sagemaker: Any,
    clock: ManualClock,
    name: str,
    production: dict[str, Any],
    shadow: dict[str, Any] | None = None,
) -> str:
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    config: dict[str, Any] = {"ProductionVariants": [{"ModelName": name, **production}]}
    if shadow is not None:
        config["ShadowProductionVariants"] = [{"ModelName": name, **shadow}]
    sagemaker.create_endpoint_config(EndpointConfigName=name, **config)
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    clock.advance(TEST_DELAYS.create)
    return name


def instances(name: str, count: int, weight: float = 1.0) -> dict[str, Any]:
    return {
        "VariantName": name,
        "InstanceType": "ml.c5.xlarge",
        "InitialInstanceCount": count,
        "InitialVariantWeight": weight,
    }


def dimensions(endpoint: str, variant: str) -> list[dict[str, str]]:
    return [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]


def window() -> dict[str, datetime.datetime]:
    """The minutes around now, as one period."""
    now = datetime.datetime.now(datetime.UTC).replace(second=0, microsecond=0)
    return {"StartTime": now - datetime.timedelta(minutes=2), "EndTime": now + datetime.timedelta(minutes=2)}


def statistics(cloudwatch: Any, endpoint: str, variant: str, metric: str, **asked: Any) -> dict[str, Any] | None:
    """The one data point of ``metric`` over :func:`window` (None: no data), with the statistics ``asked``."""
    answer = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=metric,
        Dimensions=dimensions(endpoint, variant),
        Period=240,
        **window(),
        **asked,
    )
    points: list[dict[str, Any]] = answer["Datapoints"]
    assert len(points) <= 1
    return points[0] if points else None


def summed(cloudwatch: Any, endpoint: str, variant: str, metric: str) -> dict[str, Any] | None:
    return statistics(cloudwatch, endpoint, variant, metric, Statistics=["Sum", "SampleCount", "Maximum"])


def nearest_rank(values: Sequence[float], rank: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(rank / 100 * len(ordered))) - 1]


def invoke(runtime: Any, endpoint: str, count: int) -> list[float]:
    """``count`` requests one after the other; each one's latency as this client saw it, microseconds."""
    latencies = []
    for index in range(count):
        sent = time.perf_counter()
        runtime.invoke_endpoint(EndpointName=endpoint, Body=f"{index},1".encode(), ContentType="text/csv")
        latencies.append((time.perf_counter() - sent) * 1e6)
    return latencies


@pytest.fixture
def mirror(aws_emulator: AwsEmulator, sagemaker: Any, aws_clock: ManualClock, servers: dict[str, ModelServer]) -> str:
    """InService endpoint ``mirror``: production variant Live (2 instances) and shadow variant Candidate (1 instance,
    the same weight: every request is copied to it), each with its model server."""
    endpoint = serving(sagemaker, aws_clock, "mirror", instances("Live", 2), instances("Candidate", 1))
    for variant, server in servers.items():
        aws_emulator.sagemaker.route_invocations(endpoint, server.url, variant=variant)
    return endpoint


def test_production_and_shadow_invocations_are_published_per_variant_as_the_servers_handled_them(
    aws_emulator: AwsEmulator, runtime: Any, cloudwatch: Any, servers: dict[str, ModelServer], mirror: str
) -> None:
    endpoint = mirror
    client_latencies = invoke(runtime, endpoint, REQUESTS)
    aws_emulator.sagemaker.wait_for_shadow_copies()
    handled = {variant: [served.seconds * 1e6 for served in server.served] for variant, server in servers.items()}

    assert len(handled["Live"]) == REQUESTS
    assert len(handled["Candidate"]) == aws_emulator.sagemaker.traffic(endpoint)["Candidate"].invocations == REQUESTS
    for variant, times in handled.items():
        invocations = summed(cloudwatch, endpoint, variant, "Invocations")
        latency = summed(cloudwatch, endpoint, variant, "ModelLatency")
        per_instance = summed(cloudwatch, endpoint, variant, "InvocationsPerInstance")
        assert invocations is not None
        assert latency is not None
        assert per_instance is not None
        assert (invocations["Sum"], invocations["Unit"]) == (len(times), "None")
        assert (latency["SampleCount"], latency["Unit"]) == (len(times), "Microseconds")
        instance_count = 2 if variant == "Live" else 1
        assert per_instance["Sum"] == pytest.approx(len(times) / instance_count)
        for metric in ("Invocation4XXErrors", "Invocation5XXErrors"):
            errors = summed(cloudwatch, endpoint, variant, metric)
            assert errors is not None
            assert (errors["Sum"], errors["SampleCount"]) == (0, len(times))
        # Each request's ModelLatency holds its server's time for it, so each percentile is at least the server's.
        percentiles = statistics(
            cloudwatch, endpoint, variant, "ModelLatency", ExtendedStatistics=[f"p{rank:g}" for rank in PERCENTILES]
        )
        assert percentiles is not None
        for rank in PERCENTILES:
            assert percentiles["ExtendedStatistics"][f"p{rank:g}"] >= nearest_rank(times, rank)
    # The production variant's ModelLatency is inside what its caller waited for: each percentile lies between the
    # server's and the client's, and with OverheadLatency it adds up to no more than the client's time.
    production = statistics(
        cloudwatch, endpoint, "Live", "ModelLatency", ExtendedStatistics=[f"p{rank:g}" for rank in PERCENTILES]
    )
    assert production is not None
    for rank in PERCENTILES:
        assert production["ExtendedStatistics"][f"p{rank:g}"] <= nearest_rank(client_latencies, rank)
    model = summed(cloudwatch, endpoint, "Live", "ModelLatency")
    overhead = summed(cloudwatch, endpoint, "Live", "OverheadLatency")
    assert model is not None
    assert overhead is not None
    assert (overhead["SampleCount"], overhead["Unit"]) == (REQUESTS, "Microseconds")
    assert sum(handled["Live"]) <= model["Sum"] < model["Sum"] + overhead["Sum"] <= sum(client_latencies)
    # A shadow's answer goes to no caller: no OverheadLatency.
    assert summed(cloudwatch, endpoint, "Candidate", "OverheadLatency") is None
    listed = cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]
    assert {tuple(sorted(named["Name"] for named in entry["Dimensions"])) for entry in listed} == {
        ("EndpointName", "VariantName")
    }


def test_get_metric_data_answers_the_same_percentiles_as_get_metric_statistics(
    aws_emulator: AwsEmulator, sagemaker: Any, aws_clock: ManualClock, runtime: Any, cloudwatch: Any
) -> None:
    endpoint = serving(sagemaker, aws_clock, "single", instances("AllTraffic", 1))
    with ModelServer(latency=Fixed(FAST_MS)) as server:
        aws_emulator.sagemaker.route_invocations(endpoint, server.url)
        invoke(runtime, endpoint, REQUESTS)
    metric = {"Namespace": NAMESPACE, "MetricName": "ModelLatency", "Dimensions": dimensions(endpoint, "AllTraffic")}
    stats = ["p50", "p90", "p99", "SampleCount"]
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {"Id": f"q{index}", "MetricStat": {"Metric": metric, "Period": 240, "Stat": stat}}
            for index, stat in enumerate(stats)
        ],
        **window(),
    )
    by_stat = {stats[int(result["Id"][1:])]: result["Values"] for result in answer["MetricDataResults"]}
    extended = statistics(cloudwatch, endpoint, "AllTraffic", "ModelLatency", ExtendedStatistics=stats[:3])
    assert extended is not None
    assert by_stat == {
        **{stat: [extended["ExtendedStatistics"][stat]] for stat in stats[:3]},
        "SampleCount": [REQUESTS],
    }
    assert by_stat["p50"][0] <= by_stat["p90"][0] <= by_stat["p99"][0]


def test_the_models_errors_are_counted_by_the_class_of_its_status(
    aws_emulator: AwsEmulator, sagemaker: Any, aws_clock: ManualClock, runtime: Any, cloudwatch: Any
) -> None:
    endpoint = serving(sagemaker, aws_clock, "flaky", instances("AllTraffic", 1))
    with ModelServer(errors={500: 0.3, 400: 0.2}) as server:
        aws_emulator.sagemaker.route_invocations(endpoint, server.url)
        for index in range(REQUESTS):
            with contextlib.suppress(runtime.exceptions.ModelError):
                runtime.invoke_endpoint(EndpointName=endpoint, Body=f"{index}".encode())
        statuses = [served.status for served in server.served]
    assert {status // 100 for status in statuses} == {2, 4, 5}
    for metric, status_class in (("Invocation4XXErrors", 4), ("Invocation5XXErrors", 5)):
        errors = summed(cloudwatch, endpoint, "AllTraffic", metric)
        assert errors is not None
        assert (errors["Sum"], errors["SampleCount"]) == (
            sum(status // 100 == status_class for status in statuses),
            len(statuses),
        )
    invocations = summed(cloudwatch, endpoint, "AllTraffic", "Invocations")
    assert invocations is not None
    assert invocations["Sum"] == len(statuses) == REQUESTS


def test_a_serverless_cold_start_is_model_setup_time_within_the_overhead_and_throttled_requests_are_not_counted(
    aws_emulator: AwsEmulator, sagemaker: Any, aws_clock: ManualClock, runtime: Any, cloudwatch: Any
) -> None:
    serverless = {"VariantName": "Only", "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 2}}
    endpoint = serving(sagemaker, aws_clock, "spiky", serverless)
    cold_start = aws_emulator.sagemaker.delays.serverless_cold_start
    with ModelServer(latency=Fixed(FAST_MS)) as server:
        aws_emulator.sagemaker.route_invocations(endpoint, server.url)
        invoke(runtime, endpoint, 3)  # the first starts cold, the others find its compute warm
        aws_emulator.sagemaker.delays = replace(aws_emulator.sagemaker.delays, serverless_cold_start=0.0)
        server.stall(1)  # two requests in flight: the variant's MaxConcurrency, a third is throttled
        in_flight = [
            threading.Thread(target=runtime.invoke_endpoint, kwargs={"EndpointName": endpoint, "Body": b"1"})
            for _ in range(2)
        ]
        for thread in in_flight:
            thread.start()
        deadline = time.monotonic() + 3
        while server.invocations < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert code_of(client_error(lambda: runtime.invoke_endpoint(EndpointName=endpoint, Body=b"2"))) == (
            "ThrottlingException"
        )
        for thread in in_flight:
            thread.join(10)
        served = len(server.served)
    traffic = aws_emulator.sagemaker.traffic(endpoint)["Only"]
    assert (served, traffic.throttled) == (5, 1)
    assert traffic.cold_starts >= 1

    # One sample per cold start (the first, then any request that found no idle warm compute), each the time the
    # variant waited for its compute.
    setup = summed(cloudwatch, endpoint, "Only", "ModelSetupTime")
    assert setup is not None
    assert (setup["SampleCount"], setup["Maximum"], setup["Unit"]) == (
        traffic.cold_starts,
        cold_start * 1e6,
        "Microseconds",
    )
    overhead = summed(cloudwatch, endpoint, "Only", "OverheadLatency")
    assert overhead is not None
    assert overhead["Maximum"] >= cold_start * 1e6  # the cold start is SageMaker's overhead, not the model's
    invocations = summed(cloudwatch, endpoint, "Only", "Invocations")
    assert invocations is not None
    assert invocations["Sum"] == served  # the throttled request reached no model
    assert summed(cloudwatch, endpoint, "Only", "InvocationsPerInstance") is None  # serverless has no instances


def test_percentiles_are_computed_over_raw_values_and_not_over_statistic_sets(cloudwatch: Any) -> None:
    """CloudWatch API reference, GetMetricStatistics: percentiles need raw data points; a statistic set counts only
    with one sample or equal minimum and maximum."""
    now = datetime.datetime.now(datetime.UTC)
    cloudwatch.put_metric_data(
        Namespace="Test",
        MetricData=[
            {"MetricName": "Raw", "Values": [float(value) for value in range(1, 101)], "Timestamp": now},
            {
                "MetricName": "Set",
                "StatisticValues": {"SampleCount": 4, "Sum": 10.0, "Minimum": 1.0, "Maximum": 4.0},
                "Timestamp": now,
            },
            {
                "MetricName": "Equal",
                "StatisticValues": {"SampleCount": 3, "Sum": 6.0, "Minimum": 2.0, "Maximum": 2.0},
                "Timestamp": now,
            },
        ],
    )

    def extended(metric: str) -> dict[str, float] | None:
        answer = cloudwatch.get_metric_statistics(
            Namespace="Test", MetricName=metric, Period=240, ExtendedStatistics=["p50", "p99", "p100"], **window()
        )
        [point] = answer["Datapoints"]
        found: dict[str, float] | None = point.get("ExtendedStatistics")
        return found

    assert extended("Raw") == {"p50": 50.0, "p99": 99.0, "p100": 100.0}
    assert extended("Equal") == {"p50": 2.0, "p99": 2.0, "p100": 2.0}
    assert extended("Set") is None


def test_percentiles_out_of_range_or_beside_statistics_are_refused(cloudwatch: Any) -> None:
    """CloudWatch API reference, GetMetricStatistics.ExtendedStatistics: between p0.0 and p100, and either
    Statistics or ExtendedStatistics, not both."""
    asked = {"Namespace": NAMESPACE, "MetricName": "ModelLatency", "Period": 60, **window()}
    both = client_error(
        lambda: cloudwatch.get_metric_statistics(Statistics=["Average"], ExtendedStatistics=["p99"], **asked)
    )
    beyond = client_error(lambda: cloudwatch.get_metric_statistics(ExtendedStatistics=["p100.5"], **asked))
    assert (code_of(both), code_of(beyond)) == ("InvalidParameterCombination", "InvalidParameterValue")
    assert cloudwatch.get_metric_statistics(ExtendedStatistics=["p99.9"], **asked)["Datapoints"] == []


def test_start_time_is_rounded_down_as_cloudwatch_rounds_it(
    aws_emulator: AwsEmulator, sagemaker: Any, aws_clock: ManualClock, runtime: Any, cloudwatch: Any
) -> None:
    """CloudWatch API reference, GetMetricData.StartTime: less than 15 days ago, rounded down to the minute; the data
    point of a minute is stamped with the minute's start."""
    endpoint = serving(sagemaker, aws_clock, "single", instances("AllTraffic", 1))
    with ModelServer(latency=Fixed(FAST_MS)) as server:
        aws_emulator.sagemaker.route_invocations(endpoint, server.url)
        before = datetime.datetime.now(datetime.UTC)
        invoke(runtime, endpoint, 1)
    minute = before.replace(second=0, microsecond=0)
    late_start = minute + datetime.timedelta(seconds=59)  # after the minute's data point's time stamp
    answer = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="Invocations",
        Dimensions=dimensions(endpoint, "AllTraffic"),
        StartTime=late_start,
        EndTime=minute + datetime.timedelta(minutes=2),
        Period=120,
        Statistics=["Sum"],
    )
    [point] = answer["Datapoints"]
    assert point["Sum"] == 1

    now = datetime.datetime(2026, 11, 25, 8, 0, tzinfo=datetime.UTC)
    start = datetime.datetime(2026, 11, 1, 7, 37, 42, tzinfo=datetime.UTC)
    assert rounded_start(now - datetime.timedelta(days=3, seconds=17), now) == datetime.datetime(
        2026, 11, 22, 7, 59, tzinfo=datetime.UTC
    )
    assert rounded_start(start, now) == datetime.datetime(2026, 11, 1, 7, 35, tzinfo=datetime.UTC)  # 24 days
    assert rounded_start(start - datetime.timedelta(days=60), now) == datetime.datetime(
        2026, 9, 2, 7, 0, tzinfo=datetime.UTC
    )
