"""The ``lowlatency-operator benchmark`` subcommand: one benchmark run, or a ramp to the maximum sustainable rate.

Exit status: 0 when the run completed (and met ``--target-p99-ms`` if one was given), 1 when it missed the target
given (or, with ``--find-max-rps``, no rate held), 2 when it could not run (payloads, credentials, region).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import botocore.exceptions

from lowlatency import pricing
from lowlatency.benchmark import payloads as payload_files
from lowlatency.benchmark import plot, rightsizing
from lowlatency.benchmark.engine import Load, Progress, RunResult, run_blocking
from lowlatency.benchmark.payloads import Payload, PayloadError
from lowlatency.benchmark.results import Summary, write_csv
from lowlatency.benchmark.signing import Target, resolve_target
from lowlatency.benchmark.workers import EndpointAddress, WorkerError, run_processes

DEFAULT_TARGET_P99_MS = 20.0
DEFAULT_REQUESTS = 1000
PROGRESS_BAR_WIDTH = 30


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "benchmark",
        help="Send SigV4-signed InvokeEndpoint requests to an endpoint and report latency percentiles.",
        description="Benchmark a SageMaker real-time endpoint with signed InvokeEndpoint requests: closed loop "
        "(--concurrency) or open loop at a fixed rate (--rate, latency from each request's intended send time). "
        "AWS_ENDPOINT_URL(_SAGEMAKER_RUNTIME) and the credential chain are honoured as boto3 does.",
    )
    where = parser.add_argument_group("endpoint")
    where.add_argument("--endpoint", required=True, help="SageMaker endpoint name.")
    where.add_argument("--region", default=None, help="AWS region (boto3's configuration otherwise).")
    where.add_argument(
        "--endpoint-url", default=None, help="Runtime URL to send to, e.g. https://<VPC endpoint DNS name>."
    )
    where.add_argument(
        "--target-variant",
        default=None,
        help="Send every request to this production variant (InvokeEndpoint's TargetVariant) instead of by weight.",
    )

    what = parser.add_argument_group("payload")
    bodies = what.add_mutually_exclusive_group(required=True)
    bodies.add_argument("--payload", help="Request body, sent as is.")
    bodies.add_argument(
        "--payloads", type=Path, help='JSON-lines file of {"Body": ..., "ContentType": ...} samples, sent in turn.'
    )
    what.add_argument(
        "--content-type",
        default="text/csv",
        help="Content type of --payload, and of samples without one (default text/csv).",
    )

    how = parser.add_argument_group("load")
    mode = how.add_mutually_exclusive_group()
    mode.add_argument("--rate", type=float, help="Open loop: requests per second.")
    mode.add_argument("--concurrency", type=int, help="Closed loop: concurrent clients (default 8).")
    how.add_argument("--connections", type=int, default=64, help="Open loop: keep-alive connections (default 64).")
    amount = how.add_mutually_exclusive_group()
    amount.add_argument("--duration", type=float, help="Seconds to measure.")
    amount.add_argument("--requests", type=int, help=f"Requests to measure (default {DEFAULT_REQUESTS}).")
    how.add_argument("--warmup", type=int, default=100, help="Requests sent first and discarded (default 100).")
    how.add_argument(
        "--cold-start",
        action="store_true",
        help="Send one request alone before the warm-up and report its latency apart (a serverless variant's first "
        "request after idle); one process only.",
    )
    how.add_argument(
        "--processes", type=int, default=1, help="Generator processes sharing the load, one per core (default 1)."
    )
    how.add_argument("--timeout", type=float, default=60.0, help="Seconds to wait for one answer (default 60).")
    how.add_argument(
        "--target-p99-ms",
        type=float,
        default=None,
        help=f"Latency objective (default {DEFAULT_TARGET_P99_MS:g}); when given, exit 1 if p99 is over it.",
    )

    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="Print one JSON object (status.benchmark's keys and more).")
    out.add_argument("--csv", type=Path, help="Write every measured request to this CSV file.")
    out.add_argument("--plot", type=Path, help="Write a PNG plot (needs the `plot` extra: matplotlib).")

    sizing = parser.add_argument_group("rightsizing")
    sizing.add_argument(
        "--find-max-rps",
        action="store_true",
        help="Raise the open-loop rate in steps until p99 exceeds the target or more than 1%% of requests fail.",
    )
    sizing.add_argument("--start-rps", type=float, default=10.0, help="First rate of the ramp (default 10).")
    sizing.add_argument("--step-rps", type=float, default=None, help="Rate added per step (default --start-rps).")
    sizing.add_argument("--max-rps", type=float, default=10000.0, help="Highest rate tried (default 10000).")
    sizing.add_argument("--step-seconds", type=float, default=10.0, help="Seconds per step (default 10).")
    sizing.add_argument("--instances", type=int, default=1, help="Instances behind the endpoint (default 1).")
    sizing.add_argument("--peak-rps", type=float, default=None, help="Expected peak rate to recommend capacity for.")
    sizing.add_argument(
        "--safety-factor",
        type=float,
        default=rightsizing.DEFAULT_SAFETY_FACTOR,
        help=f"Share of the measured maximum to target (default {rightsizing.DEFAULT_SAFETY_FACTOR:g}).",
    )
    sizing.add_argument("--instance-type", default=None, help="Instance type, for costs (e.g. ml.c5.xlarge).")
    sizing.add_argument("--prices", type=Path, default=None, help="Price table to use instead of the bundled one.")
    parser.set_defaults(func=run)
    return parser


def run(arguments: argparse.Namespace) -> int:
    if arguments.plot is not None and importlib.util.find_spec("matplotlib") is None:
        sys.stderr.write("benchmark: --plot needs matplotlib: pip install 'lowlatency-operator[plot]'\n")
        return 2
    try:
        payloads = _payloads(arguments)
        target = resolve_target(
            arguments.endpoint, arguments.region, arguments.endpoint_url, variant=arguments.target_variant
        )
        prices = pricing.load(arguments.prices)
    except (PayloadError, OSError, pricing.PriceTableError, botocore.exceptions.BotoCoreError) as error:
        sys.stderr.write(f"benchmark: {error}\n")
        return 2
    if arguments.find_max_rps:
        return _find_max_rps(arguments, target, payloads, prices)
    return _benchmark(arguments, target, payloads)


def _payloads(arguments: argparse.Namespace) -> list[Payload]:
    if arguments.payloads is not None:
        return payload_files.load_jsonl(arguments.payloads, arguments.content_type)
    return payload_files.inline(arguments.payload, arguments.content_type)


def _benchmark(arguments: argparse.Namespace, target: Target, payloads: list[Payload]) -> int:
    load = Load(
        rate=arguments.rate,
        concurrency=arguments.connections if arguments.rate is not None else (arguments.concurrency or 8),
        requests=arguments.requests or (None if arguments.duration else DEFAULT_REQUESTS),
        duration_seconds=arguments.duration,
        warmup_requests=arguments.warmup,
        timeout_seconds=arguments.timeout,
        record_requests=arguments.csv is not None or arguments.plot is not None,
        cold_start=arguments.cold_start,
    )
    if arguments.processes > 1:
        address = EndpointAddress(arguments.endpoint, arguments.region, arguments.endpoint_url, target.variant)
        try:
            result = run_processes(address, payloads, load, arguments.processes)
        except (ValueError, WorkerError) as error:
            sys.stderr.write(f"benchmark: {error}\n")
            return 2
    else:
        progress = _ProgressBar(sys.stderr) if sys.stderr.isatty() else None
        result = run_blocking(target, payloads, load, progress.update if progress else None)
        if progress is not None:
            progress.close()
    target_p99_ms = arguments.target_p99_ms or DEFAULT_TARGET_P99_MS
    summary = result.summary()
    for warning in result.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if arguments.json:
        sys.stdout.write(json.dumps(_run_json(target, result, summary, target_p99_ms)) + "\n")
    else:
        sys.stdout.write(_table(target, result, summary, target_p99_ms))
    if arguments.csv is not None:
        write_csv(arguments.csv, result.records)
    if arguments.plot is not None:
        plot.latency_plot(arguments.plot, result.records, summary, f"{target.endpoint_name}: {_mode(load)}")
    return 1 if arguments.target_p99_ms is not None and not summary.slo_met(target_p99_ms) else 0


def _mode(load: Load) -> str:
    if load.rate is None:
        return f"closed loop, {load.concurrency} clients"
    return f"open loop, {load.rate:g} requests/s over {load.concurrency} connections"


def _run_json(target: Target, result: RunResult, summary: Summary, target_p99_ms: float) -> dict[str, Any]:
    load = result.load
    return summary.to_json(target_p99_ms) | {
        "endpoint": target.endpoint_name,
        "url": target.url,
        "targetVariant": target.variant,
        "coldStartMs": result.cold_start_ms,
        "mode": "closed" if load.rate is None else "open",
        "askedRps": load.rate,
        "sentRps": result.send_rate_rps,
        "concurrency": load.concurrency,
        "warmupRequests": load.warmup_requests,
        "loopLagP99Ms": result.loop_lag.get_value_at_percentile(99.0) / 1000,
        "loopLagMaxMs": result.loop_lag.get_max_value() / 1000,
        "warnings": result.warnings,
        "measurement": result.measurement.encode(),
    }


def _table(target: Target, result: RunResult, summary: Summary, target_p99_ms: float) -> str:
    errors = ", ".join(f"{name} {count}" for name, count in summary.errors_by_class.items() if count)
    variant = "" if target.variant is None else f", variant {target.variant}"
    rows = [
        ("endpoint", f"{target.endpoint_name}{variant} ({target.url})"),
        ("mode", _mode(result.load)),
        (
            "requests",
            f"{summary.requests} ({summary.errors} failed, {summary.error_rate:.2%}{'; ' if errors else ''}{errors})",
        ),
        ("throughput", f"{summary.throughput_rps:.1f} requests/s"),
        (
            "latency ms",
            f"p50 {summary.p50_ms:.2f}  p90 {summary.p90_ms:.2f}  p99 {summary.p99_ms:.2f}  "
            f"p99.9 {summary.p999_ms:.2f}  max {summary.max_ms:.2f}  mean {summary.mean_ms:.2f}",
        ),
        ("objective", f"p99 <= {target_p99_ms:g} ms: {'met' if summary.slo_met(target_p99_ms) else 'NOT met'}"),
    ]
    if result.cold_start is not None:
        cold = result.cold_start_ms
        rows.insert(2, ("cold start", "failed" if cold is None else f"{cold:.2f} ms (first request, not measured)"))
    return "".join(f"{name:<12} {value}\n" for name, value in rows)


def _find_max_rps(
    arguments: argparse.Namespace, target: Target, payloads: list[Payload], prices: pricing.PriceTable
) -> int:
    ramp = rightsizing.Ramp(
        start_rps=arguments.start_rps,
        step_rps=arguments.step_rps or arguments.start_rps,
        max_rps=arguments.max_rps,
        step_seconds=arguments.step_seconds,
        target_p99_ms=arguments.target_p99_ms or DEFAULT_TARGET_P99_MS,
        connections=arguments.connections,
        warmup_requests=arguments.warmup,
        timeout_seconds=arguments.timeout,
    )

    def show_step(step: rightsizing.Step) -> None:
        summary = step.summary
        sys.stderr.write(
            f"{step.rate_rps:10.1f} requests/s: p50 {summary.p50_ms:.2f} ms  p99 {summary.p99_ms:.2f} ms  "
            f"errors {summary.error_rate:.2%}  -> {step.verdict}\n"
        )

    result = asyncio.run(rightsizing.find_max_rps(target, payloads, ramp, arguments.instances, show_step))
    report = _ramp_report(arguments, target, result, prices)
    if arguments.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(_ramp_table(report))
    if arguments.plot is not None:
        plot.ramp_plot(arguments.plot, result, f"{target.endpoint_name}: offered rate ramp")
    return 0 if result.max_rps is not None else 1


def _ramp_report(
    arguments: argparse.Namespace, target: Target, result: rightsizing.RampResult, prices: pricing.PriceTable
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "endpoint": target.endpoint_name,
        "targetP99Ms": result.ramp.target_p99_ms,
        "instances": result.instances,
        "steps": [
            {"rateRps": step.rate_rps, "verdict": step.verdict, "warnings": list(step.warnings)}
            | step.summary.to_json(result.ramp.target_p99_ms)
            for step in result.steps
        ],
        "maxRps": result.max_rps,
        "maxRpsPerInstance": result.max_rps_per_instance,
    }
    per_instance = result.max_rps_per_instance
    if per_instance is None or arguments.peak_rps is None:
        return report
    price = prices.price(arguments.instance_type, target.region) if arguments.instance_type else None
    recommendation = rightsizing.recommend(per_instance, arguments.peak_rps, arguments.safety_factor, price)
    report["recommendation"] = {
        "peakRps": recommendation.peak_rps,
        "safetyFactor": recommendation.safety_factor,
        "targetInvocationsPerInstance": recommendation.target_invocations_per_instance,
        "minInstances": recommendation.min_instances,
        "maxInstances": recommendation.max_instances,
        "instanceType": arguments.instance_type,
        "hourlyUsdPerInstance": price,
        "minHourlyUsd": recommendation.min_hourly_usd,
        "maxHourlyUsd": recommendation.max_hourly_usd,
        "prices": f"{prices.source}, compiled {prices.compiled.isoformat()}",
    }
    return report


def _ramp_table(report: dict[str, Any]) -> str:
    if report["maxRps"] is None:
        return f"no rate held within p99 <= {report['targetP99Ms']:g} ms and 1% errors\n"
    lines = [
        f"max sustained  {report['maxRps']:g} requests/s on {report['instances']} instance(s) "
        f"= {report['maxRpsPerInstance']:.1f} per instance (p99 <= {report['targetP99Ms']:g} ms, errors <= 1%)"
    ]
    advice = report.get("recommendation")
    if advice is not None:

        def cost(hourly: float | None) -> str:
            return f"${hourly:.3f}/hour" if hourly is not None else "cost unknown (no price for the instance type)"

        lines += [
            f"for a peak of {advice['peakRps']:g} requests/s (safety factor {advice['safetyFactor']:g}):",
            f"  autoscaling target     {advice['targetInvocationsPerInstance']} invocations per instance per minute",
            f"  min instances          {advice['minInstances']}  {cost(advice['minHourlyUsd'])}",
            f"  max instances          {advice['maxInstances']}  {cost(advice['maxHourlyUsd'])}",
            f"  prices                 {advice['prices']}",
        ]
    return "".join(line + "\n" for line in lines)


class _ProgressBar:
    """A one-line progress bar, redrawn in place (only on a terminal)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def update(self, progress: Progress) -> None:
        if progress.duration_seconds is not None:
            fraction = progress.elapsed_seconds / progress.duration_seconds
        else:
            fraction = progress.completed / progress.total if progress.total else 0.0
        filled = round(min(1.0, fraction) * PROGRESS_BAR_WIDTH)
        self._stream.write(
            f"\r[{'#' * filled}{'.' * (PROGRESS_BAR_WIDTH - filled)}] {progress.completed} requests "
            f"{progress.elapsed_seconds:.1f} s"
        )
        self._stream.flush()

    def close(self) -> None:
        self._stream.write("\n")
        self._stream.flush()
