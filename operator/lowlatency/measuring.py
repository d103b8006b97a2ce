"""Benchmarks of live endpoints: when the operator runs one, where, how, and what it writes from the result.

When: a resource whose spec has a benchmark is measured once per live generation, as soon as it is InService and
Ready with its current generation live (status.observedGeneration is metadata.generation) and status.benchmark is
of another generation. Status is the record, so a restarted operator does not measure a generation again, and every
spec change (benchmark settings alone included) makes a new generation that is measured in turn. A benchmark that
failed is tried again after ``retry_seconds`` (and once after a restart, which forgets the failure).

Where: on an event loop of its own, in one daemon thread, at most ``at_once`` benchmarks at a time; never in the
pool of reconciliation passes nor on kopf's event loop, so that a benchmark holds up no pass of any resource. Each
run is bounded by spec.benchmark.requests and by ``max_seconds``. The finished result waits in the resource's kopf
memo for its next handler call (the timer's next tick), which writes it with that call's patch.

How: first the endpoint as callers see it (InvokeEndpoint, routed by the variants' weights), then each production
variant on its own (InvokeEndpoint with TargetVariant), each run with spec.benchmark's requests and clients. An
endpoint with one production variant is measured once: that variant's benchmark is the endpoint's. A shadow variant
cannot be invoked (TargetVariant names a production variant, botocore sagemaker-runtime
InvokeEndpointInput.TargetVariant, and a shadow's answers never reach a caller): its benchmark is what SageMaker
measured of the requests the endpoint's run copied to it, read from CloudWatch (ModelLatency percentiles, Invocations,
errors: :mod:`lowlatency.invocation_metrics`), once published; it is the model's own latency, without the network or
SageMaker's overhead, which the condition says beside its figures. A serverless variant's run starts with one
request alone, the first after the variant was idle (created, updated or unused): its latency is coldStartMs, kept
out of the percentiles, and the requests measured after it find the compute warm. Requests beyond a serverless
variant's maxConcurrency are throttled (ThrottlingException): they count as errors, and the Event names them.

What: status.benchmark and each variant's status.variants[].benchmark, the ``Benchmarked`` condition (True when
status.benchmark is of the live generation, with the endpoint's SLO verdict as its reason; False with reason Running
while one runs and BenchmarkFailed after a failure), an Event (Warning when p99 misses spec.benchmark.targetP99Ms),
and through status the p99 metric. After every pass, status.cost follows the live counts (which the pass read
anyway) and the price table, without an AWS call of its own (:mod:`lowlatency.costs`). For autoscaling
``targetInvocationsPerInstance: auto`` the benchmark goes on with a ramp of offered rates that finds the maximum per
instance (status.rightsizing); the reconciler derives the scaling policy from it.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import threading
from collections.abc import Mapping, MutableMapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

from lowlatency import api, benchmark, costs, invocation_metrics, pricing
from lowlatency.benchmark import rightsizing
from lowlatency.benchmark.connection import Outcome as RequestOutcome
from lowlatency.config import Benchmarking
from lowlatency.invocation_metrics import Polling, ShadowRun, Window
from lowlatency.planner import Verdict
from lowlatency.reconciler import Clock, EndpointResource, Event, merge_variant_status, utc_now, with_condition
from lowlatency.schema import Schema

logger = logging.getLogger(__name__)

# The ramp of autoscaling 'auto': rates in quarters of the benchmark's throughput, up to twice it (a closed loop of
# spec.benchmark.concurrency clients cannot drive more than that concurrency, so the maximum may lie above it).
RAMP_STEPS = 8
RAMP_STEPS_PER_THROUGHPUT = 4


@dataclass(frozen=True)
class VariantToMeasure:
    """A variant of the live endpoint, as the benchmark sees it."""

    name: str
    kind: api.VariantKind
    max_concurrency: int | None = None  # serverless: requests beyond it at once are throttled


@dataclass(frozen=True)
class Job:
    """One benchmark of one live generation."""

    endpoint_name: str
    region: str
    generation: int
    spec: api.BenchmarkSpec
    instances: int
    endpoint_url: str | None = None  # the VPC endpoint's; None: where boto3 sends InvokeEndpoint
    rightsize: bool = False  # autoscaling 'auto': find the maximum rate too
    variants: tuple[VariantToMeasure, ...] = ()  # production, then shadow

    @property
    def production(self) -> tuple[VariantToMeasure, ...]:
        return tuple(variant for variant in self.variants if variant.kind != "Shadow")


@dataclass(frozen=True)
class Measured:
    """One run's figures for status, or why there are none."""

    result: api.BenchmarkResult | None = None
    failure: str = ""
    throttled: int = 0  # requests answered ThrottlingException
    warnings: tuple[str, ...] = ()  # the generator's own: it, not the endpoint, may have been the limit
    window: Window | None = None  # from the run's first request sent to its last answer
    answered: int = 0  # measured requests answered without an error


@dataclass(frozen=True)
class VariantOutcome:
    """What became of one variant's benchmark."""

    variant: VariantToMeasure
    result: api.BenchmarkResult | None = None
    note: str = ""  # why there is no result, or where it comes from
    throttled: int = 0


@dataclass(frozen=True)
class Outcome:
    job: Job
    result: api.BenchmarkResult | None = None
    failure: str = ""  # why there is no result
    warnings: tuple[str, ...] = ()  # the generator's own: it, not the endpoint, may have been the limit
    rightsizing: api.Rightsizing | None = None
    rightsizing_failure: str = ""
    throttled: int = 0  # of the endpoint's requests
    variants: tuple[VariantOutcome, ...] = ()


@dataclass
class Measuring:
    """A resource's benchmark in flight and its last failure (in kopf's per-object memo)."""

    running: Future[Outcome] | None = None
    failed_generation: int | None = None
    retry_at: float = 0.0


@dataclass(frozen=True)
class Delivery:
    """What to write into status and which Events to post."""

    status: dict[str, Any]
    events: tuple[Event, ...] = ()
    new_target: bool = False  # status.rightsizing changed the autoscaling target: the next pass must apply it


def live(status: api.Status, generation: int) -> bool:
    """Whether ``generation`` is what serves: InService, Ready and observed."""
    ready = next((c for c in status.conditions if c.type == "Ready"), None)
    return (
        status.phase == "InService"
        and ready is not None
        and ready.status == "True"
        and status.observed_generation == generation
    )


def benchmark_due(spec: api.Spec, status: api.Status, generation: int) -> bool:
    """Whether the live ``generation`` asks for a benchmark that status does not have yet."""
    if spec.benchmark is None or not live(status, generation):
        return False
    return status.benchmark is None or status.benchmark.generation != generation


def wants_rightsizing(spec: api.Spec) -> bool:
    return spec.autoscaling is not None and spec.autoscaling.target_invocations_per_instance == "auto"


def runtime_url(status: api.Status, via_vpc_endpoint: bool) -> str | None:
    """The VPC endpoint's regional DNS name (``vpce-<id>-<suffix>.runtime.sagemaker.<region>.vpce.amazonaws.com``;
    its zonal names add the zone, the private DNS name is the public host) when the operator runs in that VPC."""
    names = [name for name in status.vpc_endpoint_dns_names if name.startswith("vpce-")]
    if not via_vpc_endpoint or not names:
        return None
    return f"https://{min(names, key=len)}"


def result_verdict(result: api.BenchmarkResult, target_p99_ms: float) -> Verdict:
    """The Benchmarked condition for a result: True, with the SLO verdict as reason."""
    figures = _figures(result)
    if result.slo_met:
        return Verdict(
            True, "SLOMet", f"Generation {result.generation} met the {target_p99_ms:g} ms p99 target: {figures}"
        )
    return Verdict(
        True, "SLOMissed", f"Generation {result.generation} missed the {target_p99_ms:g} ms p99 target: {figures}"
    )


def _figures(result: api.BenchmarkResult) -> str:
    figures = (
        f"p50 {result.p50_ms:.2f} ms, p90 {result.p90_ms:.2f} ms, p99 {result.p99_ms:.2f} ms at "
        f"{result.throughput_rps:.0f} requests/s; {result.errors} of {result.requests} requests failed"
    )
    if result.cold_start_ms is None:
        return figures
    return f"{figures}; cold start {result.cold_start_ms:.2f} ms (the first request after idle, not in the percentiles)"


SHADOW_POLLING = Polling()


def variant_notes(outcome: Outcome) -> list[str]:
    """What the condition and the Event say of the variants and of throttled requests, after the endpoint's figures."""
    notes = []
    production = outcome.job.production
    if outcome.throttled:
        notes.append(_throttled(outcome.throttled, production[0] if len(production) == 1 else None, outcome.job))
    for measured in outcome.variants:
        variant = measured.variant
        label = f"{'shadow ' if variant.kind == 'Shadow' else ''}variant {variant.name}"
        if measured.result is None or measured.note:  # not measured, or measured as the endpoint
            notes.append(f"{label}: {measured.note}")
            continue
        verdict = "met" if measured.result.slo_met else "missed"
        notes.append(f"{label} on its own {verdict} the target: {_figures(measured.result)}")
        if measured.throttled:
            notes.append(_throttled(measured.throttled, variant, outcome.job))
    return notes


def _throttled(throttled: int, variant: VariantToMeasure | None, job: Job) -> str:
    """The throttled requests, and the serverless maximum they met when one variant serves them."""
    note = f"{throttled} requests were throttled (ThrottlingException)"
    if variant is None or variant.max_concurrency is None:
        return note
    return (
        f"{note} by variant {variant.name}: it serves at most maxConcurrency {variant.max_concurrency} at once, and "
        f"spec.benchmark.concurrency sends {job.spec.concurrency}"
    )


NO_BENCHMARK = "NoBenchmark"
NOT_REQUESTED = "NotRequested"


def unmeasured_verdict(spec: api.Spec) -> Verdict:
    """The Benchmarked condition of a live generation whose spec has no benchmark."""
    if wants_rightsizing(spec):
        return Verdict(
            False,
            NO_BENCHMARK,
            "targetInvocationsPerInstance is auto but spec.benchmark is not set: nothing measures the endpoint, "
            "so its scalable target has no scaling policy",
        )
    return Verdict(False, NOT_REQUESTED, "spec.benchmark is not set: the live generation is not benchmarked")


def ramp_for(throughput_rps: float, target_p99_ms: float, step_seconds: float) -> rightsizing.Ramp:
    step = max(1.0, throughput_rps / RAMP_STEPS_PER_THROUGHPUT)
    return rightsizing.Ramp(
        start_rps=step, step_rps=step, max_rps=step * RAMP_STEPS, step_seconds=step_seconds, target_p99_ms=target_p99_ms
    )


async def measure(job: Job, settings: Benchmarking, shadow_polling: Polling = SHADOW_POLLING) -> Outcome:
    """Benchmark the endpoint, then each of its production variants on its own, read its shadow variant's figures
    from CloudWatch, and for autoscaling 'auto' find its maximum rate; failures become the outcome."""
    try:
        # resolve_target may call STS or instance metadata: off this loop, which may be measuring another endpoint.
        target = await asyncio.to_thread(benchmark.resolve_target, job.endpoint_name, job.region, job.endpoint_url)
        payloads, load = benchmark.from_spec(job.spec, settings.max_seconds)
    except Exception as error:  # whatever stops a benchmark is reported in status, never raised into the operator
        logger.debug("benchmark of %s failed", job.endpoint_name, exc_info=True)
        return Outcome(job, failure=f"{type(error).__name__}: {error}")
    serverless = bool(job.production) and all(variant.kind == "Serverless" for variant in job.production)
    endpoint = await _run(job, target, payloads, replace(load, cold_start=serverless))
    if endpoint.result is None:
        return Outcome(job, failure=endpoint.failure)
    variants = []
    warnings = list(endpoint.warnings)
    for variant in job.variants:
        if variant.kind == "Shadow":
            variants.append(await _shadow(job, variant, endpoint, shadow_polling))
        elif len(job.production) == 1:
            note = "the endpoint's only production variant: its benchmark is the endpoint's"
            variants.append(VariantOutcome(variant, endpoint.result, note, endpoint.throttled))
        else:
            alone_load = replace(load, cold_start=variant.kind == "Serverless")
            alone = await _run(job, replace(target, variant=variant.name), payloads, alone_load)
            variants.append(VariantOutcome(variant, alone.result, alone.failure, alone.throttled))
            warnings += [f"variant {variant.name}: {warning}" for warning in alone.warnings]
    outcome = Outcome(
        job, endpoint.result, warnings=tuple(warnings), throttled=endpoint.throttled, variants=tuple(variants)
    )
    if not job.rightsize:
        return outcome
    assert endpoint.result.throughput_rps is not None  # every measured result has one
    ramp = ramp_for(endpoint.result.throughput_rps, job.spec.target_p99_ms, settings.ramp_step_seconds)
    try:
        found = await rightsizing.find_max_rps(target, payloads, ramp, job.instances)
    except Exception as error:  # as above
        logger.debug("rightsizing of %s failed", job.endpoint_name, exc_info=True)
        return replace(outcome, rightsizing_failure=f"{type(error).__name__}: {error}")
    if found.max_rps_per_instance is None:
        failure = f"not even {ramp.start_rps:.0f} requests/s held: {found.steps[0].verdict}"
        return replace(outcome, rightsizing_failure=failure)
    measured = api.Rightsizing(
        generation=job.generation,
        max_rps_per_instance=found.max_rps_per_instance,
        safety_factor=settings.safety_factor,
        target_invocations_per_instance=rightsizing.target_invocations_per_instance(
            found.max_rps_per_instance, settings.safety_factor
        ),
        measured_at=datetime.datetime.now(datetime.UTC).replace(microsecond=0),
    )
    return replace(outcome, rightsizing=measured)


async def _run(
    job: Job, target: benchmark.Target, payloads: Sequence[benchmark.Payload], load: benchmark.Load
) -> Measured:
    """One run against ``target`` (the endpoint, or one variant of it)."""
    try:
        run = await benchmark.run(target, payloads, load)
    except Exception as error:  # as in measure()
        logger.debug("benchmark of %s (variant %s) failed", job.endpoint_name, target.variant, exc_info=True)
        return Measured(failure=f"{type(error).__name__}: {error}")
    summary = run.summary()
    if summary.errors == summary.requests:
        classes = ", ".join(f"{count} {kind}" for kind, count in summary.errors_by_class.items() if count)
        return Measured(failure=f"all {summary.requests} requests failed ({classes or 'none sent'})")
    return Measured(
        summary.to_status(job.spec.target_p99_ms, job.generation, run.cold_start_ms),
        throttled=summary.errors_by_class[RequestOutcome.THROTTLED.value],
        warnings=tuple(run.warnings),
        window=Window(run.started_at, run.measurement.finished),
        answered=summary.requests - summary.errors,
    )


async def _shadow(job: Job, shadow: VariantToMeasure, endpoint: Measured, polling: Polling) -> VariantOutcome:
    """The shadow variant's figures of the endpoint's run, as SageMaker published them (an endpoint with a shadow has
    one production variant, https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-create.html)."""
    assert endpoint.window is not None  # every run that has a result has its window
    run = ShadowRun(
        job.endpoint_name, job.region, job.production[0].name, shadow.name, endpoint.window, endpoint.answered
    )
    measured = await invocation_metrics.measure_shadow(
        run, target_p99_ms=job.spec.target_p99_ms, generation=job.generation, polling=polling
    )
    return VariantOutcome(shadow, measured.result, measured.note)


def with_variant_benchmarks(
    current: Sequence[api.VariantStatus], measured: Sequence[VariantOutcome]
) -> list[dict[str, Any]]:
    """status.variants with each measured variant's benchmark and every other field as the reconciler wrote it (a
    variant it has not written yet gets an entry of its own). A variant measured without a result keeps its last
    benchmark, whose generation says how old it is."""
    written = [entry.name for entry in current]
    changes: dict[str, dict[str, Any]] = {}
    for outcome in measured:
        if outcome.result is None:
            continue
        changes[outcome.variant.name] = {"benchmark": _dump(outcome.result)}
        if outcome.variant.name not in written:
            changes[outcome.variant.name]["kind"] = outcome.variant.kind
    return merge_variant_status(current, changes, [*written, *(name for name in changes if name not in written)])


def as_patched(body: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """The object as it will be once ``patch`` is applied, as far as status goes (its top-level fields replaced,
    None removing one, as the operator's status patches are written)."""
    status = {**(body.get("status") or {}), **(patch.get("status") or {})}
    return {**body, "status": {key: value for key, value in status.items() if value is not None}}


def _dump(model: Schema | None) -> dict[str, Any] | None:
    """A status field as its JSON merge patch: a null removes a field of an object, but a list is replaced whole and
    its items keep no null (the schema allows none)."""
    return None if model is None else _items_without_nulls(model.model_dump(mode="json", by_alias=True))


def _items_without_nulls(value: Any, in_list: bool = False) -> Any:
    if isinstance(value, dict):
        return {
            key: _items_without_nulls(item, in_list) for key, item in value.items() if not in_list or item is not None
        }
    if isinstance(value, list):
        return [_items_without_nulls(item, in_list=True) for item in value]
    return value


def _conditions(conditions: list[api.Condition]) -> list[dict[str, Any]]:
    return [c.model_dump(by_alias=True, exclude_none=True, mode="json") for c in conditions]


@dataclass
class Measurer:
    """Runs benchmarks of live endpoints on an event loop of its own and turns their outcomes into status."""

    settings: Benchmarking
    default_region: str
    retry_seconds: float
    clock: Clock = field(default=utc_now)

    def __post_init__(self) -> None:
        self.prices = pricing.load(self.settings.prices)
        self._slots = asyncio.Semaphore(self.settings.at_once)
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.new_event_loop()
        # A daemon: a benchmark still running when the operator stops must not hold up its exit.
        threading.Thread(target=self._serve, args=(self._loop,), name="benchmarks", daemon=True).start()

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.run_forever()
        finally:
            loop.close()

    def shutdown(self) -> None:
        """Cancel the benchmarks still running or waiting (their connections close) and stop the loop."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._cancel_and_stop, self._loop)

    @staticmethod
    def _cancel_and_stop(loop: asyncio.AbstractEventLoop) -> None:
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.call_soon(loop.stop)

    def submit(self, job: Job) -> Future[Outcome]:
        assert self._loop is not None, "start() the measurer first"
        return asyncio.run_coroutine_threadsafe(self._measure(job), self._loop)

    async def _measure(self, job: Job) -> Outcome:
        async with self._slots:
            return await measure(job, self.settings)

    @staticmethod
    def finished(memo: MutableMapping[str, Any]) -> bool:
        """Whether a benchmark of this resource has an outcome to deliver."""
        running = _state(memo).running
        return running is not None and running.done()

    def collect(self, body: Mapping[str, Any], memo: MutableMapping[str, Any], now: float) -> Delivery | None:
        """The status and Events of this resource's finished benchmark, if one finished."""
        state = _state(memo)
        if state.running is None or not state.running.done():
            return None
        future, state.running = state.running, None
        if future.cancelled():
            return None
        outcome = future.result()
        job = outcome.job
        status: dict[str, Any] = {}
        events: list[Event] = []
        if outcome.result is None:
            state.failed_generation, state.retry_at = job.generation, now + self.retry_seconds
            message = f"Benchmark of generation {job.generation} failed: {outcome.failure}"
            verdict = Verdict(False, "BenchmarkFailed", f"{message}; tried again in {self.retry_seconds:g} s")
            events.append(Event("Warning", "BenchmarkFailed", message))
        else:
            status["benchmark"] = _dump(outcome.result)
            verdict = result_verdict(outcome.result, job.spec.target_p99_ms)
            verdict = Verdict(verdict.status, verdict.reason, "; ".join((verdict.message, *variant_notes(outcome))))
            events.append(
                Event("Warning" if verdict.reason == "SLOMissed" else "Normal", verdict.reason, verdict.message)
            )
            if outcome.warnings:
                verdict = Verdict(verdict.status, verdict.reason, "; ".join((verdict.message, *outcome.warnings)))
        current = EndpointResource.from_body(body).status
        if outcome.variants:
            variants = with_variant_benchmarks(current.variants, outcome.variants)
            status["variants"] = _items_without_nulls(variants)
        conditions = with_condition(list(current.conditions), "Benchmarked", verdict, job.generation, self.clock)
        status["conditions"] = _conditions(conditions)
        new_target = False
        if outcome.rightsizing is not None:
            measured = outcome.rightsizing
            status["rightsizing"] = _dump(measured)
            previous = current.rightsizing
            new_target = previous is None or previous.target_invocations_per_instance != (
                measured.target_invocations_per_instance
            )
            events.append(
                Event(
                    "Normal",
                    "Rightsized",
                    f"Generation {job.generation} held at most {measured.max_rps_per_instance:.0f} requests/s per "
                    f"instance within the {job.spec.target_p99_ms:g} ms p99 target: autoscaling target "
                    f"{measured.target_invocations_per_instance} invocations per instance per minute "
                    f"(safety factor {measured.safety_factor:g})",
                )
            )
        elif outcome.rightsizing_failure:
            events.append(
                Event(
                    "Warning",
                    "RightsizingFailed",
                    f"No maximum rate of generation {job.generation} for autoscaling 'auto': "
                    f"{outcome.rightsizing_failure}",
                )
            )
        return Delivery(status, tuple(events), new_target)

    def follow_up(self, body: Mapping[str, Any], memo: MutableMapping[str, Any], now: float) -> Delivery:
        """After a pass (``body`` with its status patch applied): status.cost, and a benchmark started if due."""
        resource = EndpointResource.from_body(body)
        spec, status, generation = resource.spec, resource.status, resource.generation
        if spec is None:
            return Delivery({})
        patch: dict[str, Any] = {}
        events: list[Event] = []
        cost = _dump(costs.cost_of(spec, status, generation, self.prices, self.default_region))
        if cost != _dump(status.cost):
            patch["cost"] = cost
        state = _state(memo)
        verdict: Verdict | None = None
        if state.running is None and benchmark_due(spec, status, generation):
            if state.failed_generation != generation or now >= state.retry_at:
                state.running = self.submit(self._job(resource, spec, status))
                assert spec.benchmark is not None
                verdict = Verdict(
                    False,
                    "Running",
                    f"Benchmarking generation {generation}: {spec.benchmark.requests} requests from "
                    f"{spec.benchmark.concurrency} clients",
                )
        elif spec.benchmark is None and live(status, generation):
            verdict = unmeasured_verdict(spec)
            previous = next((c for c in status.conditions if c.type == "Benchmarked"), None)
            if (previous is None and verdict.reason == NOT_REQUESTED) or (
                previous is not None and previous.reason == verdict.reason
            ):
                verdict = None  # nothing was ever measured nor asks to be, or it was said already
            elif verdict.reason == NO_BENCHMARK:
                events.append(Event("Warning", verdict.reason, verdict.message))
        if verdict is not None:
            conditions = with_condition(list(status.conditions), "Benchmarked", verdict, generation, self.clock)
            patch["conditions"] = _conditions(conditions)
        return Delivery(patch, tuple(events))

    def _job(self, resource: EndpointResource, spec: api.Spec, status: api.Status) -> Job:
        assert spec.benchmark is not None
        return Job(
            endpoint_name=status.endpoint_name or resource.endpoint_name,
            region=spec.region or self.default_region,
            generation=resource.generation,
            spec=spec.benchmark,
            instances=status.current_instance_count or spec.initial_instance_count,
            endpoint_url=runtime_url(status, self.settings.via_vpc_endpoint),
            rightsize=wants_rightsizing(spec),
            variants=variants_to_measure(spec, status),
        )


def variants_to_measure(spec: api.Spec, status: api.Status) -> tuple[VariantToMeasure, ...]:
    """The live endpoint's variants as the spec has them, under the names SageMaker reports."""
    return tuple(
        VariantToMeasure(variant.name, kind, None if variant.serverless is None else variant.serverless.max_concurrency)
        for variant, kind in costs.live_variants(spec, status)
    )


def _state(memo: MutableMapping[str, Any]) -> Measuring:
    state = memo.get("measuring")
    if not isinstance(state, Measuring):
        state = memo["measuring"] = Measuring()
    return state
