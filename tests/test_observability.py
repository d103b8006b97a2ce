"""Metrics scraped from the real /metrics endpoint; AWS calls made by real boto3 clients against local servers."""

from __future__ import annotations

import io
import json
import logging
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import kopf
import pytest
from moto.server import ThreadedMotoServer
from prometheus_client.parser import text_string_to_metric_families

from lowlatency import observability

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def metrics_url() -> Iterator[str]:
    server = observability.start_metrics_server(0, address="127.0.0.1")
    yield f"http://127.0.0.1:{server.port}/metrics"
    server.close()


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    return samples.get((metric, frozenset(labels.items())), 0.0)


def series(samples: Samples, metric: str, /, **labels: str) -> list[dict[str, str]]:
    """The label sets of ``metric``'s samples that carry all of ``labels``."""
    wanted = set(labels.items())
    return [dict(key) for sample_name, key in samples if sample_name == metric and wanted <= key]


def sagemaker_client(endpoint_url: str, **config: Any) -> Any:
    return boto3.client(
        "sagemaker",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=botocore.config.Config(**config),
    )


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class FlakyThenFine(BaseHTTPRequestHandler):
    """A SageMaker-shaped JSON API that throttles the first ``failures`` requests and then answers."""

    failures = 2
    seen = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).seen += 1
        if type(self).seen <= self.failures:
            self._answer(400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
        else:
            self._answer(200, {"Models": []})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads the counters, not the access log."""


@pytest.fixture
def flaky_url() -> Iterator[str]:
    FlakyThenFine.seen = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyThenFine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_reconcile_passes_are_counted_by_outcome(metrics_url: str) -> None:
    before = scrape(metrics_url)
    for outcome in ("ok", "moving"):
        assert ("lowlatency_reconcile_passes_total", frozenset({("outcome", outcome)})) in before
    observability.record_pass("ok")
    observability.record_pass("retry")
    observability.record_pass("retry")
    after = scrape(metrics_url)
    for outcome, added in {"ok": 1, "retry": 2, "moving": 0, "failed": 0}.items():
        delta = value(after, "lowlatency_reconcile_passes_total", outcome=outcome) - value(
            before, "lowlatency_reconcile_passes_total", outcome=outcome
        )
        assert delta == added, outcome


def test_endpoint_phase_series_follow_the_resource_and_go_away_with_it(metrics_url: str) -> None:
    before = scrape(metrics_url)
    observability.set_phase("phase-test", "bid-filter", "Creating")
    observability.set_phase("phase-test", "bid-filter", "InService")
    observability.set_phase("phase-test", "ranker", "Failed")
    during = scrape(metrics_url)
    assert series(during, "lowlatency_endpoint_phase", namespace="phase-test", name="bid-filter") == [
        {"namespace": "phase-test", "name": "bid-filter", "phase": "InService"}
    ]
    for phase, added in {"InService": 1, "Failed": 1, "Creating": 0}.items():
        delta = value(during, "lowlatency_endpoints", phase=phase) - value(before, "lowlatency_endpoints", phase=phase)
        assert delta == added, phase
    observability.set_phase("phase-test", "bid-filter", None)
    observability.set_phase("phase-test", "ranker", None)
    after = scrape(metrics_url)
    assert series(after, "lowlatency_endpoint_phase", namespace="phase-test") == []
    assert value(after, "lowlatency_endpoints", phase="InService") == value(
        before, "lowlatency_endpoints", phase="InService"
    )


def test_benchmark_p99_is_exported_in_seconds_per_endpoint(metrics_url: str) -> None:
    observability.set_benchmark_p99("p99-test", "bid-filter", 6.8)
    assert value(
        scrape(metrics_url), "lowlatency_endpoint_benchmark_p99_seconds", namespace="p99-test", name="bid-filter"
    ) == pytest.approx(0.0068)
    observability.set_benchmark_p99("p99-test", "bid-filter", None)
    assert series(scrape(metrics_url), "lowlatency_endpoint_benchmark_p99_seconds", namespace="p99-test") == []


def test_process_metrics_are_served(metrics_url: str) -> None:
    assert series(scrape(metrics_url), "python_info")


def test_aws_calls_are_counted_by_operation_and_outcome_with_latency(metrics_url: str, moto_url: str) -> None:
    client = sagemaker_client(moto_url)
    observability.instrument_client(client)
    observability.instrument_client(client)  # idempotent: still one count per call
    before = scrape(metrics_url)
    client.list_models()
    client.list_models()
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.describe_endpoint(EndpointName="no-such-endpoint")
    code = raised.value.response["Error"]["Code"]
    after = scrape(metrics_url)

    def added(metric: str, /, **labels: str) -> float:
        return value(after, metric, **labels) - value(before, metric, **labels)

    calls = "lowlatency_aws_api_calls_total"
    assert added(calls, service="sagemaker", operation="ListModels", outcome="success") == 2
    assert added(calls, service="sagemaker", operation="DescribeEndpoint", outcome=code) == 1
    assert added(calls, service="sagemaker", operation="DescribeEndpoint", outcome="success") == 0
    latency = "lowlatency_aws_api_call_duration_seconds"
    assert added(f"{latency}_count", service="sagemaker", operation="ListModels") == 2
    assert added(f"{latency}_bucket", service="sagemaker", operation="ListModels", le="+Inf") == 2
    assert added(f"{latency}_sum", service="sagemaker", operation="ListModels") > 0


def test_a_call_retried_by_botocore_counts_once_with_its_final_outcome(metrics_url: str, flaky_url: str) -> None:
    client = sagemaker_client(flaky_url, retries={"mode": "standard", "max_attempts": 3})
    observability.instrument_client(client)
    before = scrape(metrics_url)
    client.list_models()
    after = scrape(metrics_url)
    assert FlakyThenFine.seen == 3  # two throttled attempts, then the answer
    for outcome, added in {"success": 1, "ThrottlingException": 0}.items():
        labels = {"service": "sagemaker", "operation": "ListModels", "outcome": outcome}
        delta = value(after, "lowlatency_aws_api_calls_total", **labels) - value(
            before, "lowlatency_aws_api_calls_total", **labels
        )
        assert delta == added, outcome


def test_a_call_that_gets_no_answer_counts_with_the_exception_name(metrics_url: str) -> None:
    refusing = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    closed_url = f"http://127.0.0.1:{refusing.server_port}"
    refusing.server_close()  # nothing listens there any more: the connection is refused
    client = sagemaker_client(closed_url, retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1)
    observability.instrument_client(client)
    before = scrape(metrics_url)
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        client.list_endpoints()
    after = scrape(metrics_url)
    labels = {"service": "sagemaker", "operation": "ListEndpoints", "outcome": "EndpointConnectionError"}
    assert (
        value(after, "lowlatency_aws_api_calls_total", **labels)
        - value(before, "lowlatency_aws_api_calls_total", **labels)
        == 1
    )


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def kopf_object_logger() -> kopf.ObjectLogger:
    """The logger kopf hands to handlers: its records carry the object in the ``k8s_ref`` extra."""
    body = kopf.Body(
        {
            "apiVersion": "lowlatency.io/v1alpha1",
            "kind": "LowLatencyEndpoint",
            "metadata": {"name": "bid-filter", "namespace": "adtech", "uid": "0f1e2d3c"},
        }
    )
    return kopf.ObjectLogger(body=body, settings=kopf.OperatorSettings())


@pytest.mark.usefixtures("restore_root_logger")
def test_json_logs_are_one_object_per_line_with_the_kubernetes_object(capsys: pytest.CaptureFixture[str]) -> None:
    observability.configure_logging("json", verbose=False)
    observability.configure_logging("json", verbose=False)  # configuring again replaces, not duplicates
    kopf_object_logger().info("SageMaker endpoint is %s", "InService")
    logging.getLogger("lowlatency.test").debug("not shown without --verbose")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("lowlatency.test").exception("pass failed")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"time", "level", "logger", "message", "object"}
    assert first["time"].endswith("+00:00")
    assert first["level"] == "info"
    assert first["logger"] == "kopf.objects"
    assert first["message"] == "SageMaker endpoint is InService"
    assert first["object"] == {
        "apiVersion": "lowlatency.io/v1alpha1",
        "kind": "LowLatencyEndpoint",
        "name": "bid-filter",
        "namespace": "adtech",
        "uid": "0f1e2d3c",
    }
    assert second["level"] == "error"
    assert "object" not in second
    assert "RuntimeError: boom" in second["exception"]


@pytest.mark.usefixtures("restore_root_logger")
def test_text_logs_prefix_the_object_and_verbose_shows_debug(capsys: pytest.CaptureFixture[str]) -> None:
    observability.configure_logging("text", verbose=True)
    kopf_object_logger().debug("looking at AWS")
    logging.getLogger("botocore.endpoint").debug("a whole request body")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("DEBUG kopf.objects: [adtech/bid-filter] looking at AWS")


@pytest.mark.usefixtures("restore_root_logger")
def test_the_poll_timers_successes_are_not_logged_but_its_failures_and_other_successes_are(
    capsys: pytest.CaptureFixture[str],
) -> None:
    observability.configure_logging("text", verbose=True)
    logger = kopf_object_logger()
    logger.info("Timer 'register.<locals>.poll' succeeded.")  # what kopf logs after every tick of the poll timer
    logger.error("Timer 'register.<locals>.poll' failed with an exception. Will retry.")
    logger.info("Handler 'register.<locals>.reconcile' succeeded.")
    logger.info("Timer 'register.<locals>.poll_other' succeeded.")
    lines = capsys.readouterr().err.splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == [
        "Timer 'register.<locals>.poll' failed with an exception. Will retry.",
        "Handler 'register.<locals>.reconcile' succeeded.",
        "Timer 'register.<locals>.poll_other' succeeded.",
    ]


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="xml"):
        observability.configure_logging("xml", verbose=False)


def test_the_json_formatter_never_fails_on_odd_arguments() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(observability.JsonFormatter())
    record = logging.makeLogRecord({"msg": "value %s", "args": (object(),), "levelno": 30, "levelname": "WARNING"})
    handler.emit(record)
    assert json.loads(stream.getvalue())["message"].startswith("value <object object")
