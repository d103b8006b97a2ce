"""Operator configuration: command-line flags, each with an environment variable as its default."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from lowlatency.aws import AwsSettings


@dataclass(frozen=True)
class Timing:
    """How often the operator looks at AWS.

    While SageMaker is moving (Creating, Updating, Deleting) an endpoint is described every ``poll_seconds``;
    at steady state every ``resync_seconds`` (one DescribeEndpoint: state, the autoscaler's instance count, an
    endpoint deleted or moved outside the operator). Every ``audit_seconds`` a pass also reads tags, autoscaling,
    leftovers and the VPC endpoint to repair drift there. All are jittered by ``jitter`` (a fraction) so that a
    thousand endpoints do not poll in lockstep. ``tick_seconds`` is how often each resource's timer wakes to see
    whether its next look is due.
    """

    poll_seconds: float = 30.0
    resync_seconds: float = 300.0
    audit_seconds: float = 3600.0
    tick_seconds: float = 5.0
    jitter: float = 0.1
    max_backoff_seconds: float = 300.0


@dataclass(frozen=True)
class Peering:
    """kopf peering: several replicas, one active (the highest priority); the others take over when its keep-alive
    is older than ``lifetime_seconds``. ``name`` None: standalone, a single replica."""

    name: str | None = None
    lifetime_seconds: int = 30
    priority: int | None = None  # None: a random one, so that replicas never tie (kopf pauses all on a tie)


@dataclass(frozen=True)
class Benchmarking:
    """How the operator benchmarks live endpoints (see :mod:`lowlatency.measuring`).

    ``via_vpc_endpoint``: send the benchmark through the VPC endpoint's own DNS name (status.vpcEndpointDnsNames),
    which resolves only inside that VPC; off, it goes where boto3 sends InvokeEndpoint from the operator's pod.
    """

    max_seconds: float = 60.0  # one benchmark, warm-up included
    via_vpc_endpoint: bool = False
    at_once: int = 1  # benchmarks running together share the operator's core and disturb each other
    prices: Path | None = None  # None: the bundled price table
    safety_factor: float = 0.5  # autoscaling 'auto': share of the measured maximum to target
    ramp_step_seconds: float = 10.0  # autoscaling 'auto': time at each offered rate


AWS_WORKERS = 16


@dataclass(frozen=True)
class OperatorConfig:
    # Each AWS worker makes one call at a time: as many pooled connections per client as workers.
    aws: AwsSettings = field(default_factory=lambda: AwsSettings(max_pool_connections=AWS_WORKERS))
    timing: Timing = field(default_factory=Timing)
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    aws_workers: int = AWS_WORKERS  # concurrent blocking AWS passes (threads)
    liveness_endpoint: str | None = None
    metrics_port: int | None = None
    log_format: str = "text"
    peering: Peering = field(default_factory=Peering)
    tenant_policy: Path | None = None
    benchmarking: Benchmarking = field(default_factory=Benchmarking)


def _env(name: str, default: str) -> str:
    return os.environ.get(f"LOWLATENCY_{name}", default)


def add_aws_arguments(parser: argparse.ArgumentParser) -> None:
    """Where AWS is: shared by `run` and the commands that call AWS themselves."""
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or AwsSettings().default_region,
        help="AWS region for resources without spec.region (env AWS_REGION).",
    )
    parser.add_argument(
        "--aws-endpoint-url",
        default=_env("AWS_ENDPOINT_URL", "") or None,
        help="Send every AWS call to this URL (env LOWLATENCY_AWS_ENDPOINT_URL); boto3's own AWS_ENDPOINT_URL "
        "and AWS_ENDPOINT_URL_<SERVICE> are honoured without it.",
    )
    parser.add_argument(
        "--aws-read-timeout",
        type=float,
        default=float(_env("AWS_READ_TIMEOUT", str(AwsSettings().read_timeout_seconds))),
        metavar="SECONDS",
        help="Give up waiting for an AWS answer after this long and retry the call (env LOWLATENCY_AWS_READ_TIMEOUT).",
    )


def aws_settings(arguments: argparse.Namespace) -> AwsSettings:
    return AwsSettings(
        default_region=arguments.region,
        endpoint_url=arguments.aws_endpoint_url,
        read_timeout_seconds=arguments.aws_read_timeout,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = OperatorConfig()
    parser.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[value for value in _env("NAMESPACES", "").split(",") if value],
        help="Watch only this namespace (repeatable; env LOWLATENCY_NAMESPACES, comma-separated). Default: all.",
    )
    add_aws_arguments(parser)
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=float(_env("POLL_SECONDS", str(defaults.timing.poll_seconds))),
        help="Seconds between looks at an endpoint that SageMaker is changing (env LOWLATENCY_POLL_SECONDS).",
    )
    parser.add_argument(
        "--resync-seconds",
        type=float,
        default=float(_env("RESYNC_SECONDS", str(defaults.timing.resync_seconds))),
        help="Seconds between looks at a steady endpoint (env LOWLATENCY_RESYNC_SECONDS).",
    )
    parser.add_argument(
        "--audit-seconds",
        type=float,
        default=float(_env("AUDIT_SECONDS", str(defaults.timing.audit_seconds))),
        help="Seconds between drift audits of a steady endpoint: tags, autoscaling, leftovers, VPC endpoint; "
        "0: never (env LOWLATENCY_AUDIT_SECONDS).",
    )
    parser.add_argument(
        "--tick-seconds",
        type=float,
        default=float(_env("TICK_SECONDS", str(defaults.timing.tick_seconds))),
        help="Timer granularity per resource (env LOWLATENCY_TICK_SECONDS).",
    )
    parser.add_argument(
        "--aws-workers",
        type=int,
        default=int(_env("AWS_WORKERS", str(defaults.aws_workers))),
        help="Reconciliation passes (blocking AWS calls) run at once (env LOWLATENCY_AWS_WORKERS).",
    )
    parser.add_argument(
        "--peering",
        default=_env("PEERING", "") or None,
        metavar="NAME",
        help="Run as one of several replicas through kopf peering object NAME (a ClusterKopfPeering, or a "
        "KopfPeering in each watched namespace); one replica is active at a time (env LOWLATENCY_PEERING). "
        "Default: standalone, a single replica.",
    )
    parser.add_argument(
        "--peering-lifetime",
        type=int,
        default=int(_env("PEERING_LIFETIME", str(defaults.peering.lifetime_seconds))),
        help="Seconds after the active replica's last keep-alive before another takes over "
        "(env LOWLATENCY_PEERING_LIFETIME).",
    )
    parser.add_argument(
        "--liveness",
        default=_env("LIVENESS", "") or None,
        help="Serve kopf's liveness probe here, e.g. http://0.0.0.0:8080/healthz (env LOWLATENCY_LIVENESS).",
    )

    parser.add_argument(
        "--metrics-port",
        type=int,
        default=int(_env("METRICS_PORT", "0")) or None,
        help="Serve Prometheus metrics on this port at /metrics (env LOWLATENCY_METRICS_PORT). Default: off.",
    )
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=_env("LOG_FORMAT", "text"),
        help="Log as text lines or as one JSON object per line (env LOWLATENCY_LOG_FORMAT).",
    )

    parser.add_argument(
        "--tenant-policy",
        type=Path,
        default=_env("TENANT_POLICY", "") or None,
        help="YAML file of what each namespace may use (roles, model locations, instance types, counts); "
        "re-read when it changes (env LOWLATENCY_TENANT_POLICY). Default: no restrictions.",
    )
    add_benchmarking_arguments(parser, defaults.benchmarking)


def add_benchmarking_arguments(parser: argparse.ArgumentParser, defaults: Benchmarking) -> None:
    parser.add_argument(
        "--benchmark-max-seconds",
        type=float,
        default=float(_env("BENCHMARK_MAX_SECONDS", str(defaults.max_seconds))),
        help="Upper bound of one benchmark after a rollout, warm-up included; spec.benchmark.requests bounds it "
        "too (env LOWLATENCY_BENCHMARK_MAX_SECONDS).",
    )
    parser.add_argument(
        "--benchmark-via-vpc-endpoint",
        action=argparse.BooleanOptionalAction,
        default=_env("BENCHMARK_VIA_VPC_ENDPOINT", "false").lower() in {"1", "true", "yes"},
        help="The operator runs inside the VPC of spec.vpcEndpoint: benchmark through that VPC endpoint's DNS "
        "name, as clients in the VPC invoke the endpoint (env LOWLATENCY_BENCHMARK_VIA_VPC_ENDPOINT). Default: "
        "off, the runtime URL boto3 resolves.",
    )
    parser.add_argument(
        "--benchmarks-at-once",
        type=int,
        default=int(_env("BENCHMARKS_AT_ONCE", str(defaults.at_once))),
        help="Benchmarks run at the same time; more share the operator's core and disturb each other's latencies "
        "(env LOWLATENCY_BENCHMARKS_AT_ONCE).",
    )
    parser.add_argument(
        "--prices",
        type=Path,
        default=_env("PRICES", "") or None,
        metavar="FILE",
        help="JSON price table for status.cost, in the bundled table's format (env LOWLATENCY_PRICES). Default: "
        "the bundled, dated table of on-demand prices.",
    )
    parser.add_argument(
        "--rightsizing-safety-factor",
        type=float,
        default=float(_env("RIGHTSIZING_SAFETY_FACTOR", str(defaults.safety_factor))),
        help="targetInvocationsPerInstance auto: the target is the measured maximum per instance x this x 60 "
        "(env LOWLATENCY_RIGHTSIZING_SAFETY_FACTOR).",
    )
    parser.add_argument(
        "--rightsizing-step-seconds",
        type=float,
        default=float(_env("RIGHTSIZING_STEP_SECONDS", str(defaults.ramp_step_seconds))),
        help="targetInvocationsPerInstance auto: seconds at each rate of the ramp that finds the maximum "
        "(env LOWLATENCY_RIGHTSIZING_STEP_SECONDS).",
    )


def from_arguments(arguments: argparse.Namespace) -> OperatorConfig:
    return OperatorConfig(
        aws=replace(aws_settings(arguments), max_pool_connections=arguments.aws_workers),
        timing=Timing(
            poll_seconds=arguments.poll_seconds,
            resync_seconds=arguments.resync_seconds,
            audit_seconds=arguments.audit_seconds,
            tick_seconds=min(arguments.tick_seconds, arguments.poll_seconds),
        ),
        peering=Peering(name=arguments.peering or None, lifetime_seconds=arguments.peering_lifetime),
        namespaces=tuple(arguments.namespace),
        aws_workers=arguments.aws_workers,
        liveness_endpoint=arguments.liveness,
        metrics_port=arguments.metrics_port,
        log_format=arguments.log_format,
        tenant_policy=arguments.tenant_policy,
        benchmarking=Benchmarking(
            max_seconds=arguments.benchmark_max_seconds,
            via_vpc_endpoint=arguments.benchmark_via_vpc_endpoint,
            at_once=arguments.benchmarks_at_once,
            prices=arguments.prices,
            safety_factor=arguments.rightsizing_safety_factor,
            ramp_step_seconds=arguments.rightsizing_step_seconds,
        ),
    )
