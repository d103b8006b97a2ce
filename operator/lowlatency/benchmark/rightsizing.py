"""Rightsizing: the highest rate an endpoint sustains within its latency objective, and what follows for scaling.

The method is the one of AWS's SageMaker load-testing guidance: raise the offered (open-loop) rate in steps until
p99 exceeds the target or more than 1% of requests fail; the last step that held is the maximum sustainable rate.
Divided by the endpoint's instance count it is the maximum per instance, and AWS's formula turns it into the
target of target tracking on SageMakerVariantInvocationsPerInstance (invocations per instance per minute):
``max_rps_per_instance x safety_factor x 60``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lowlatency.benchmark.engine import Load, RunResult, run
from lowlatency.benchmark.payloads import Payload
from lowlatency.benchmark.results import Summary
from lowlatency.benchmark.signing import Target

MAX_ERROR_RATE = 0.01
DEFAULT_SAFETY_FACTOR = 0.5
# AWS advises two or more instances per production endpoint, so that it spans Availability Zones.
MIN_INSTANCES_FOR_AVAILABILITY = 2


@dataclass(frozen=True)
class Ramp:
    """Rates to try, from ``start_rps`` up by ``step_rps`` to at most ``max_rps``, each for ``step_seconds``."""

    start_rps: float
    step_rps: float
    max_rps: float
    step_seconds: float = 10.0
    target_p99_ms: float = 20.0
    connections: int = 64
    warmup_requests: int = 50
    timeout_seconds: float = 10.0

    def rates(self) -> list[float]:
        count = math.floor((self.max_rps - self.start_rps) / self.step_rps + 1e-9) + 1
        return [self.start_rps + index * self.step_rps for index in range(max(count, 0))]


@dataclass(frozen=True)
class Step:
    rate_rps: float
    summary: Summary
    warnings: tuple[str, ...]
    verdict: str
    """Why the step held or not, in words."""

    @property
    def held(self) -> bool:
        return self.verdict == "held"


@dataclass
class RampResult:
    ramp: Ramp
    instances: int
    steps: list[Step] = field(default_factory=list)

    @property
    def max_rps(self) -> float | None:
        """The highest rate that held, if any did (steps are tried in rising order and stop at the first failure)."""
        held = [step.rate_rps for step in self.steps if step.held]
        return max(held) if held else None

    @property
    def max_rps_per_instance(self) -> float | None:
        return None if self.max_rps is None else self.max_rps / self.instances


def judge(rate_rps: float, run_result: RunResult, target_p99_ms: float) -> str:
    summary = run_result.summary()
    if summary.error_rate > MAX_ERROR_RATE:
        return f"{summary.error_rate:.1%} of requests failed (more than {MAX_ERROR_RATE:.0%})"
    if summary.p99_ms > target_p99_ms:
        return f"p99 {summary.p99_ms:.1f} ms over the {target_p99_ms:g} ms target"
    if run_result.send_rate_rps is not None and run_result.send_rate_rps < 0.95 * rate_rps:
        return f"only {run_result.send_rate_rps:.0f} requests/s could be sent"
    return "held"


async def find_max_rps(
    target: Target,
    payloads: Sequence[Payload],
    ramp: Ramp,
    instances: int = 1,
    on_step: Callable[[Step], None] | None = None,
) -> RampResult:
    """Offer each rate of the ramp in turn, stopping at the first that does not hold."""
    result = RampResult(ramp, instances)
    for rate in ramp.rates():
        load = Load(
            rate=rate,
            concurrency=ramp.connections,
            duration_seconds=ramp.step_seconds,
            warmup_requests=ramp.warmup_requests,
            timeout_seconds=ramp.timeout_seconds,
        )
        run_result = await run(target, payloads, load)
        step = Step(rate, run_result.summary(), tuple(run_result.warnings), judge(rate, run_result, ramp.target_p99_ms))
        result.steps.append(step)
        if on_step is not None:
            on_step(step)
        if not step.held:
            break
    return result


@dataclass(frozen=True)
class Recommendation:
    """Instance counts and the autoscaling target for an expected peak rate, with what each count costs."""

    max_rps_per_instance: float
    peak_rps: float
    safety_factor: float
    target_invocations_per_instance: int
    """Per instance per minute: max_rps_per_instance x safety_factor x 60."""

    min_instances: int
    """The fewest instances that serve the peak at the measured maximum (and at least two, across zones)."""

    max_instances: int
    """The instances that serve the peak with each held at the autoscaling target."""

    min_hourly_usd: float | None
    max_hourly_usd: float | None


def target_invocations_per_instance(max_rps_per_instance: float, safety_factor: float = DEFAULT_SAFETY_FACTOR) -> int:
    """AWS's target for SageMakerVariantInvocationsPerInstance (per minute): max_rps x safety_factor x 60."""
    return max(1, math.floor(max_rps_per_instance * safety_factor * 60))


def _instances_for(rate_rps: float, rps_per_instance: float) -> int:
    # Rounded first, so that float noise (1000 / 250.00000001) does not add an instance.
    return math.ceil(round(rate_rps / rps_per_instance, 6))


def recommend(
    max_rps_per_instance: float,
    peak_rps: float,
    safety_factor: float = DEFAULT_SAFETY_FACTOR,
    hourly_price_usd: float | None = None,
) -> Recommendation:
    if max_rps_per_instance <= 0 or not 0 < safety_factor <= 1 or peak_rps < 0:
        raise ValueError("need a positive maximum rate, a safety factor in (0, 1] and a peak rate of at least 0")
    min_instances = max(MIN_INSTANCES_FOR_AVAILABILITY, _instances_for(peak_rps, max_rps_per_instance))
    max_instances = max(min_instances, _instances_for(peak_rps, max_rps_per_instance * safety_factor))
    return Recommendation(
        max_rps_per_instance=max_rps_per_instance,
        peak_rps=peak_rps,
        safety_factor=safety_factor,
        target_invocations_per_instance=target_invocations_per_instance(max_rps_per_instance, safety_factor),
        min_instances=min_instances,
        max_instances=max_instances,
        min_hourly_usd=None if hourly_price_usd is None else hourly_price_usd * min_instances,
        max_hourly_usd=None if hourly_price_usd is None else hourly_price_usd * max_instances,
    )
