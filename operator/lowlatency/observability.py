"""What the operator tells the people who run it: Prometheus metrics and log lines.

Metrics live in a dedicated :data:`REGISTRY` (not prometheus-client's global one), served by
:func:`start_metrics_server` at ``/metrics``:

- ``lowlatency_reconcile_passes_total{outcome}``: reconciliation passes by outcome (ok, moving, retry, failed);
- ``lowlatency_aws_api_calls_total{service,operation,outcome}``: AWS API calls by their final outcome (``success``
  or the AWS error code, or the exception's name when no answer came), counted once per call whatever botocore's
  retries did, and ``lowlatency_aws_api_call_duration_seconds{service,operation}``, the latency of each call
  including those retries (what a reconciliation pass waits);
- ``lowlatency_endpoints{phase}``: how many endpoints are in each phase, and ``lowlatency_endpoint_phase{namespace,
  name,phase}`` = 1 for each endpoint's current phase;
- ``lowlatency_endpoint_benchmark_p99_seconds{namespace,name}``: each endpoint's last benchmark p99;
- the process, platform and garbage-collector metrics of prometheus-client.

Logs: :func:`configure_logging` writes text lines, or one JSON object per line carrying the Kubernetes object that
kopf attaches to its per-object log records.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import prometheus_client
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from lowlatency.api import Phase

REGISTRY = CollectorRegistry()

PassOutcome = Literal["ok", "moving", "retry", "failed"]
"""ok: in sync at steady state; moving: AWS is changing something; retry: a transient error interrupted the pass;
failed: the resource cannot be served as specified."""

_RECONCILE_PASSES = prometheus_client.Counter(
    "lowlatency_reconcile_passes",
    "Reconciliation passes by outcome: ok, moving (AWS is changing something), retry (transient error), failed.",
    ["outcome"],
    registry=REGISTRY,
)
for _outcome in get_args(PassOutcome):
    _RECONCILE_PASSES.labels(_outcome)  # every outcome is exported from the start, so that rate() sees the first one

_AWS_CALLS = prometheus_client.Counter(
    "lowlatency_aws_api_calls",
    "AWS API calls by final outcome: success, the AWS error code, or the exception when no answer came.",
    ["service", "operation", "outcome"],
    registry=REGISTRY,
)
_AWS_CALL_SECONDS = prometheus_client.Histogram(
    "lowlatency_aws_api_call_duration_seconds",
    "Duration of AWS API calls, botocore's retries included.",
    ["service", "operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=REGISTRY,
)

prometheus_client.ProcessCollector(registry=REGISTRY)
prometheus_client.PlatformCollector(registry=REGISTRY)
prometheus_client.GCCollector(registry=REGISTRY)


def record_pass(outcome: PassOutcome) -> None:
    """Count one reconciliation pass."""
    _RECONCILE_PASSES.labels(outcome).inc()


class _EndpointCollector(Collector):
    """Per-endpoint series, kept as plain state and exported at scrape time, so that a deleted endpoint's series go
    away with one call and a phase change never leaves the old phase's series behind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._phases: dict[tuple[str, str], str] = {}
        self._p99_ms: dict[tuple[str, str], float] = {}

    def set_phase(self, key: tuple[str, str], phase: str | None) -> None:
        with self._lock:
            if phase is None:
                self._phases.pop(key, None)
            else:
                self._phases[key] = phase

    def set_p99(self, key: tuple[str, str], p99_ms: float | None) -> None:
        with self._lock:
            if p99_ms is None:
                self._p99_ms.pop(key, None)
            else:
                self._p99_ms[key] = p99_ms

    def collect(self) -> Iterable[GaugeMetricFamily]:
        with self._lock:
            phases = dict(self._phases)
            p99_ms = dict(self._p99_ms)
        counts = dict.fromkeys(get_args(Phase), 0)
        per_endpoint = GaugeMetricFamily(
            "lowlatency_endpoint_phase",
            "1 for the current phase of each LowLatencyEndpoint.",
            labels=["namespace", "name", "phase"],
        )
        for (namespace, name), phase in sorted(phases.items()):
            counts[phase] = counts.get(phase, 0) + 1
            per_endpoint.add_metric([namespace, name, phase], 1)
        by_phase = GaugeMetricFamily("lowlatency_endpoints", "LowLatencyEndpoints by phase.", labels=["phase"])
        for phase, count in counts.items():
            by_phase.add_metric([phase], count)
        p99 = GaugeMetricFamily(
            "lowlatency_endpoint_benchmark_p99_seconds",
            "99th percentile latency of each endpoint's last benchmark.",
            labels=["namespace", "name"],
        )
        for (namespace, name), milliseconds in sorted(p99_ms.items()):
            p99.add_metric([namespace, name], milliseconds / 1000.0)
        yield from (by_phase, per_endpoint, p99)


_ENDPOINTS = _EndpointCollector()
REGISTRY.register(_ENDPOINTS)


def set_phase(namespace: str, name: str, phase: str | None) -> None:
    """Record an endpoint's phase; ``None`` (the resource is gone) removes its series."""
    _ENDPOINTS.set_phase((namespace, name), phase)


def set_benchmark_p99(namespace: str, name: str, p99_ms: float | None) -> None:
    """Record an endpoint's last benchmark p99 in milliseconds; ``None`` removes its series."""
    _ENDPOINTS.set_p99((namespace, name), p99_ms)


@dataclass
class MetricsServer:
    """The running ``/metrics`` HTTP server (a daemon thread)."""

    port: int
    _server: Any

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start_metrics_server(port: int, address: str = "0.0.0.0") -> MetricsServer:
    """Serve :data:`REGISTRY` at ``http://address:port/metrics`` from a daemon thread (port 0: any free port)."""
    server, _ = prometheus_client.start_http_server(port, addr=address, registry=REGISTRY)
    return MetricsServer(port=server.server_port, _server=server)


# botocore emits `before-call` once per API call, before its first attempt, and `after-call` (an HTTP answer, error
# responses included) or `after-call-error` (no answer: connection failures, timeouts) once after the last attempt;
# retries happen in between. One `context` dict travels with the call through all three.
_CALL_START = "lowlatency.observability.start"
_CALL_NAME = "lowlatency.observability.name"


def _before_call(model: Any, context: dict[str, Any], **_: Any) -> None:
    context[_CALL_NAME] = (model.service_model.service_name, model.name)
    context[_CALL_START] = time.perf_counter()


def _after_call(http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    if http_response.status_code < 300:
        outcome = "success"
    else:
        outcome = str(parsed.get("Error", {}).get("Code") or f"HTTP{http_response.status_code}")
    _finish(context, outcome)


def _after_call_error(exception: BaseException, context: dict[str, Any], **_: Any) -> None:
    _finish(context, type(exception).__name__)


def _finish(context: dict[str, Any], outcome: str) -> None:
    start = context.pop(_CALL_START, None)
    name = context.pop(_CALL_NAME, None)
    if start is None or name is None:
        return  # another before-call handler answered the call (botocore's Stubber): nothing was sent
    service, operation = name
    _AWS_CALLS.labels(service, operation, outcome).inc()
    _AWS_CALL_SECONDS.labels(service, operation).observe(time.perf_counter() - start)


def instrument_client(client: Any) -> None:
    """Measure every API call of a boto3 client (idempotent: a client is instrumented once)."""
    events = client.meta.events
    events.register("before-call", _before_call, unique_id="lowlatency-metrics-before-call")
    events.register("after-call", _after_call, unique_id="lowlatency-metrics-after-call")
    events.register("after-call-error", _after_call_error, unique_id="lowlatency-metrics-after-call-error")


LOG_FORMATS = ("text", "json")

# The loggers of the AWS SDK log whole requests at DEBUG (bodies included: model environments may hold secrets).
_QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# kopf logs every handler's success at INFO; the poll timer succeeds once per resource per tick, quietly by design
# (its passes log what they do), and would otherwise make nearly every line of a steady operator's log.
_POLL_TIMER_SUCCEEDED = re.compile(r"Timer '(?:[\w.<>]+\.)?poll' succeeded\.")


def _not_a_poll_timer_success(record: logging.LogRecord) -> bool:
    return not (record.name == "kopf.objects" and _POLL_TIMER_SUCCEEDED.fullmatch(record.getMessage()))


def _object_reference(record: logging.LogRecord) -> dict[str, str] | None:
    """The Kubernetes object of a kopf per-object log record (kopf's ``ObjectLogger`` puts it in ``k8s_ref``)."""
    reference = getattr(record, "k8s_ref", None)
    if not isinstance(reference, dict):
        return None
    return {key: str(value) for key, value in reference.items() if value is not None}


class TextFormatter(logging.Formatter):
    """Plain lines; a per-object record is prefixed with ``[namespace/name]`` as kopf does."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        reference = _object_reference(record)
        if reference is None:
            return super().formatMessage(record)
        prefix = "/".join(part for part in (reference.get("namespace"), reference.get("name")) if part)
        original = record.message
        record.message = f"[{prefix}] {original}"
        try:
            return super().formatMessage(record)
        finally:
            record.message = original


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, RFC 3339), level, logger, message, and object and exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        reference = _object_reference(record)
        if reference is not None:
            entry["object"] = reference
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class _OperatorLogHandler(logging.StreamHandler[Any]):
    """Marks the handler this module installed, so that configuring again replaces it instead of adding another."""


def configure_logging(log_format: str, verbose: bool) -> None:
    """Send every log record to stderr as text lines or JSON objects; debug messages only when ``verbose``."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r} is not one of {', '.join(LOG_FORMATS)}")
    handler = _OperatorLogHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(_not_a_poll_timer_success)
    root = logging.getLogger()
    root.handlers[:] = [existing for existing in root.handlers if not isinstance(existing, _OperatorLogHandler)]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
