"""Load generation against SageMaker real-time endpoints: SigV4-signed InvokeEndpoint requests, closed and open loop,
latencies in mergeable HdrHistograms. No kopf here: the operator and the command line both use it.

The operator's use, from a worker thread (``resolve_target`` may call STS or instance metadata; ``run_blocking``
runs its own event loop, bounded by the spec's requests and by ``max_seconds``)::

    target = benchmark.resolve_target(endpoint_name, region, endpoint_url=vpc_endpoint_url_or_none)
    payloads, load = benchmark.from_spec(spec.benchmark, max_seconds=300)
    result = benchmark.run_blocking(target, payloads, load)
    status_benchmark = result.summary().to_status(spec.benchmark.target_p99_ms, generation)

or ``await benchmark.run(target, payloads, load)`` on a running event loop. ``result.warnings`` says when the
generator, not the endpoint, was the limit. ``resolve_target(..., variant=name)`` sends every request to one
production variant (TargetVariant); ``Load(cold_start=True)`` sends one request alone first and reports it apart
(``result.cold_start_ms``), as a serverless variant's first request after idle.
"""

from __future__ import annotations

from lowlatency import api
from lowlatency.benchmark.engine import Load, Progress, RunResult, run, run_blocking
from lowlatency.benchmark.payloads import Payload, inline, load_jsonl
from lowlatency.benchmark.results import Measurement, Summary, merge, summarize
from lowlatency.benchmark.signing import Target, resolve_target

__all__ = [
    "Load",
    "Measurement",
    "Payload",
    "Progress",
    "RunResult",
    "Summary",
    "Target",
    "from_spec",
    "inline",
    "load_jsonl",
    "merge",
    "resolve_target",
    "run",
    "run_blocking",
    "summarize",
]

MAX_WARMUP_REQUESTS = 100


def from_spec(spec: api.BenchmarkSpec, max_seconds: float, timeout_seconds: float = 10.0) -> tuple[list[Payload], Load]:
    """The payload and closed-loop load of ``spec.benchmark``, bounded by ``max_seconds`` in all.

    Warm-up: a tenth of the measured requests, at most 100, and at least one per client, so that no measured
    request pays for opening a connection.
    """
    warmup = max(spec.concurrency, min(MAX_WARMUP_REQUESTS, spec.requests // 10))
    load = Load(
        concurrency=spec.concurrency,
        requests=spec.requests,
        warmup_requests=warmup,
        timeout_seconds=timeout_seconds,
        max_seconds=max_seconds,
    )
    return inline(spec.payload, spec.content_type), load
