"""Several generator processes at once, for loads beyond one core; their measurements merged exactly.

One Python process drives one core. For more, the load is split (rate, clients, requests and warm-up shared out,
duration and bounds the same) over processes started with ``spawn``, each resolving its own target (credentials
do not cross processes) and starting together at a barrier. Their histograms are added, never their percentiles
averaged, and their per-request records put on one time line.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import multiprocessing.synchronize
import queue
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from lowlatency.benchmark.connection import Outcome
from lowlatency.benchmark.engine import Load, RunResult, run_blocking
from lowlatency.benchmark.payloads import Payload
from lowlatency.benchmark.results import Measurement, RequestRecord, merge, new_histogram
from lowlatency.benchmark.signing import resolve_target

STARTUP_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class EndpointAddress:
    """What a process needs to resolve the target itself."""

    name: str
    region: str | None = None
    endpoint_url: str | None = None
    variant: str | None = None


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


def split(load: Load, processes: int) -> list[Load]:
    """``load`` shared out over ``processes`` (each with at least one client)."""
    if processes < 1 or processes > load.concurrency:
        raise ValueError(f"processes must be from 1 to the {load.concurrency} clients or connections")
    if load.cold_start:
        raise ValueError("a cold start is one request sent alone: measure it with one process")
    requests = _shares(load.requests, processes) if load.requests is not None else [None] * processes
    return [
        replace(
            load,
            rate=None if load.rate is None else load.rate / processes,
            concurrency=concurrency,
            requests=share,
            warmup_requests=warmup,
        )
        for concurrency, share, warmup in zip(
            _shares(load.concurrency, processes), requests, _shares(load.warmup_requests, processes), strict=True
        )
    ]


def _encode(result: RunResult) -> dict[str, Any]:
    return {
        "measurement": result.measurement.encode(),
        "records": [
            (
                record.intended_offset_seconds,
                record.latency_seconds,
                record.outcome.value,
                record.request_id,
                record.completed_offset_seconds,
            )
            for record in result.records
        ],
        "loopLag": result.loop_lag.encode().decode("ascii"),
        "connectionWait": result.connection_wait.encode().decode("ascii"),
        "sendRateRps": result.send_rate_rps,
        "signaturesMade": result.signatures_made,
        "warnings": result.warnings,
        "startedAt": result.started_at,
        "startedMonotonic": result.started_monotonic,
    }


def _work(
    address: EndpointAddress,
    payloads: Sequence[Payload],
    load: Load,
    barrier: multiprocessing.synchronize.Barrier,
    results: multiprocessing.queues.Queue[dict[str, Any] | str],
) -> None:
    try:
        target = resolve_target(address.name, address.region, address.endpoint_url, variant=address.variant)
        barrier.wait(STARTUP_TIMEOUT_SECONDS)
        results.put(_encode(run_blocking(target, payloads, load)))
    except Exception as error:  # the parent reports it; a worker has nobody else to tell
        barrier.abort()
        results.put(f"{type(error).__name__}: {error}")


class WorkerError(RuntimeError):
    """A generator process that failed, with what it said."""


def run_processes(address: EndpointAddress, payloads: Sequence[Payload], load: Load, processes: int) -> RunResult:
    """Run ``load`` over ``processes`` generator processes and merge what they measured."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results: multiprocessing.queues.Queue[dict[str, Any] | str] = context.Queue()
    workers = [
        context.Process(target=_work, args=(address, list(payloads), share, barrier, results), daemon=True)
        for share in split(load, processes)
    ]
    for worker in workers:
        worker.start()
    bound = STARTUP_TIMEOUT_SECONDS + (load.max_seconds or load.duration_seconds or 3600) + load.timeout_seconds
    try:
        parts = [results.get(timeout=bound) for _ in workers]
    except queue.Empty:
        raise WorkerError("a generator process neither finished nor failed in time") from None
    finally:
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
    failures = [part for part in parts if isinstance(part, str)]
    if failures:
        raise WorkerError("; ".join(failures))
    return _merge(load, [part for part in parts if not isinstance(part, str)])


def _merge(load: Load, parts: list[dict[str, Any]]) -> RunResult:
    started_at = min(part["startedAt"] for part in parts)
    started_monotonic = min(part["startedMonotonic"] for part in parts)
    result = RunResult(
        load,
        merge(Measurement.decode(part["measurement"]) for part in parts),
        started_at=started_at,
        started_monotonic=started_monotonic,
    )
    send_rates = [part["sendRateRps"] for part in parts if part["sendRateRps"] is not None]
    result.send_rate_rps = sum(send_rates) if send_rates else None
    result.loop_lag, result.connection_wait = new_histogram(), new_histogram()
    for index, part in enumerate(parts):
        shift = part["startedAt"] - started_at
        result.records.extend(
            RequestRecord(offset + shift, latency, Outcome(outcome), request_id, None if done is None else done + shift)
            for offset, latency, outcome, request_id, done in part["records"]
        )
        result.loop_lag.decode_and_add(part["loopLag"])
        result.connection_wait.decode_and_add(part["connectionWait"])
        result.signatures_made += part["signaturesMade"]
        result.warnings.extend(f"process {index + 1}: {warning}" for warning in part["warnings"])
    return result
