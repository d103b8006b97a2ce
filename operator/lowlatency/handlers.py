"""kopf handlers: glue only. Each reads the object, hands it to :class:`EndpointReconciler`, writes what comes back.

Scheduling: a pass runs at once on create, resume, every spec change and a change of the adoption annotation;
after that each resource's timer wakes every ``tick_seconds`` and runs a pass when one is due: soon while SageMaker
is moving, rarely at steady state, with backoff after transient errors, and a wider drift audit every
``audit_seconds``. The timer leaves a resource's first pass to the create or resume handler (one pass, not two),
and runs it a tick later only if that handler did not. Waiting is never a sleep inside a handler and never a kopf
TemporaryError (which kopf reports as an error), except while deleting, when only the finalizer can wait.

Every pass runs in a bounded thread pool (boto3 blocks), never on kopf's event loop, one pass per resource at a
time. Each pass is counted in the metrics by outcome, with the endpoint's phase and last benchmark p99.

Benchmarks (:mod:`lowlatency.measuring`) run on a thread of their own: after a pass a due one is started, and its
outcome is written by the resource's next call, which the timer makes at its next tick once the outcome is there.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import kopf
import kubernetes
import urllib3

from lowlatency import GROUP, PLURAL, VERSION, cluster, measuring, observability
from lowlatency.aws import AwsClients
from lowlatency.config import OperatorConfig, Timing
from lowlatency.reconciler import ADOPT_ANNOTATION, EndpointReconciler, EndpointResource, PassResult
from lowlatency.tenancy import PolicyFile
from lowlatency.vpc import VpcEndpoints

RESOURCE = (GROUP, VERSION, PLURAL)
FINALIZER = f"{GROUP}/finalizer"
# kopf pauses every replica when two share the highest priority: draw from a range where a tie is negligible.
PEERING_PRIORITIES = (1, 2**31 - 1)


@dataclass
class Schedule:
    """When a resource's next pass (and next drift audit) is due (per object, in kopf's per-object memo)."""

    due: float = 0.0
    audit_due: float | None = None
    failures: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The resourceVersion the last pass read and the status it wrote: a handler can be called with a body older than
    # that write (the timer's first pass ran while the create handler waited), and a pass on it would post again
    # what the last one posted.
    last_read: str | None = None
    last_written: dict[str, Any] = field(default_factory=dict)

    def audit_is_due(self, timing: Timing, now: float) -> bool:
        if timing.audit_seconds <= 0:
            return False
        if self.audit_due is None:
            # The first audit falls anywhere in the first period, so that a restart does not audit all at once.
            self.audit_due = now + timing.audit_seconds * random.random()
            return False
        return now >= self.audit_due

    def after(self, result: PassResult, timing: Timing, now: float, *, audited: bool) -> None:
        if result.retry:
            self.failures += 1
            delay = min(timing.poll_seconds * 2 ** (self.failures - 1), timing.max_backoff_seconds)
        else:
            self.failures = 0
            delay = timing.poll_seconds if result.moving else timing.resync_seconds
            if audited:
                self.audit_due = now + timing.audit_seconds * _jitter(timing)
        self.due = now + delay * _jitter(timing)


def _jitter(timing: Timing) -> float:
    return random.uniform(1 - timing.jitter, 1 + timing.jitter)


class Supervisor:
    """Runs passes off the event loop, in a bounded pool, and delivers their results to kopf and the metrics."""

    def __init__(self, config: OperatorConfig) -> None:
        self.config = config
        policy = PolicyFile(config.tenant_policy) if config.tenant_policy is not None else None
        self.reconciler = EndpointReconciler(
            AwsClients(config.aws),
            tenant_policy=policy,
            vpc_endpoints=VpcEndpoints(cluster.ClusterVpcUsers(config.namespaces)),
        )
        self._pool = ThreadPoolExecutor(max_workers=config.aws_workers, thread_name_prefix="aws")
        self.measurer = measuring.Measurer(
            config.benchmarking, config.aws.default_region, retry_seconds=config.timing.resync_seconds
        )
        self.metrics: observability.MetricsServer | None = None

    async def run(self, step: Callable[[], PassResult]) -> PassResult:
        return await asyncio.get_running_loop().run_in_executor(self._pool, step)

    async def reconcile(self, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo) -> None:
        schedule = self._schedule(memo)
        timing = self.config.timing
        loop = asyncio.get_running_loop()
        async with schedule.lock:
            benchmarked = self.measurer.collect(body, memo, loop.time())
            if benchmarked is not None:
                deliver(benchmarked, body, patch)
            # A new measured autoscaling target is applied by this pass: it looks at autoscaling, as an audit does.
            audit = schedule.audit_is_due(timing, loop.time()) or (benchmarked is not None and benchmarked.new_target)
            version = body.get("metadata", {}).get("resourceVersion")
            seen = (
                body
                if version is None or version != schedule.last_read
                else measuring.as_patched(body, {"status": schedule.last_written})
            )
            resource = EndpointResource.from_body(measuring.as_patched(seen, patch))
            result = await self.run(functools.partial(self.reconciler.reconcile, resource, audit=audit))
            deliver(result, body, patch)
            _measure(resource, result)
            deliver(self.measurer.follow_up(measuring.as_patched(body, patch), memo, loop.time()), body, patch)
            schedule.after(result, timing, loop.time(), audited=audit)
            written = dict(patch.get("status") or {})
            if version is not None and version == schedule.last_read:  # still unseen: what the earlier pass wrote too
                written = {**schedule.last_written, **written}
            schedule.last_read, schedule.last_written = version, written

    async def reconcile_if_due(self, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo) -> None:
        schedule = self._schedule(memo)
        if schedule.lock.locked():
            return
        if asyncio.get_running_loop().time() < schedule.due and not self.measurer.finished(memo):
            return
        await self.reconcile(body, patch, memo)

    async def write_status(self, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: kopf.Logger) -> None:
        """Write the status a timer's pass produced, instead of leaving it to kopf.

        kopf ends a timer for good when writing its patch fails with an error it does not retry (409 Conflict, 422,
        or a 5xx outlasting its backoffs), and the resource would not be looked at again until a restart. Written
        here, a refused write is logged and the pass runs again at the polling cadence."""
        status = patch.pop("status", None)
        if not status:
            return
        try:
            metadata = body["metadata"]
            await asyncio.to_thread(cluster.patch_status, metadata["namespace"], metadata["name"], status)
        except (kubernetes.client.ApiException, urllib3.exceptions.HTTPError) as error:
            logger.warning(f"Writing status failed, the pass runs again: {error}")
            self._schedule(memo).due = asyncio.get_running_loop().time() + self.config.timing.poll_seconds

    async def delete(self, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo) -> PassResult:
        async with self._schedule(memo).lock:  # a pass still running for this object finishes first
            resource = EndpointResource.from_body(body)
            result = await self.run(functools.partial(self.reconciler.delete, resource))
            deliver(result, body, patch)
            _measure(resource, result)
            if result.done:
                observability.set_phase(resource.owner.namespace, resource.owner.name, None)
                observability.set_benchmark_p99(resource.owner.namespace, resource.owner.name, None)
            return result

    def _schedule(self, memo: kopf.Memo) -> Schedule:
        schedule = memo.get("schedule")
        if not isinstance(schedule, Schedule):
            # The object is new to this process, and kopf runs its create or resume handler alongside the timer's
            # first tick: that pass sets the schedule. The timer steps in a tick later only if no pass has run.
            due = asyncio.get_running_loop().time() + self.config.timing.tick_seconds
            schedule = memo["schedule"] = Schedule(due=due)
        return schedule

    def start(self) -> None:
        if self.config.metrics_port is not None:
            self.metrics = observability.start_metrics_server(self.config.metrics_port)
        self.measurer.start()

    def shutdown(self) -> None:
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.measurer.shutdown()


def _measure(resource: EndpointResource, result: PassResult) -> None:
    namespace, name = resource.owner.namespace, resource.owner.name
    observability.record_pass(result.outcome)
    observability.set_phase(namespace, name, result.status.get("phase") or resource.status.phase)
    benchmark = resource.status.benchmark
    observability.set_benchmark_p99(namespace, name, benchmark.p99_ms if benchmark is not None else None)


def deliver(result: PassResult | measuring.Delivery, body: kopf.Body, patch: kopf.Patch) -> None:
    if result.status:
        patch.setdefault("status", {}).update(result.status)
    for event in result.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def configure_peering(settings: kopf.OperatorSettings, config: OperatorConfig) -> None:
    """Standalone, or one of several replicas through the named kopf peering object (the highest priority works,
    the others wait until its keep-alive is older than the lifetime)."""
    peering = config.peering
    settings.peering.standalone = peering.name is None
    if peering.name is None:
        return
    settings.peering.mandatory = True
    settings.peering.name = peering.name
    settings.peering.clusterwide = not config.namespaces
    settings.peering.lifetime = peering.lifetime_seconds
    settings.peering.priority = (
        peering.priority if peering.priority is not None else random.randint(*PEERING_PRIORITIES)
    )


def register(config: OperatorConfig, registry: kopf.OperatorRegistry) -> Supervisor:
    """Register every handler on ``registry``; the timer's tick comes from ``config``."""
    supervisor = Supervisor(config)

    @kopf.on.startup(registry=registry)
    async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=GROUP, key="last-handled-configuration"
        )
        # kopf turns its own log lines into Kubernetes Events; the operator posts the ones users care about itself.
        settings.posting.level = logging.WARNING
        configure_peering(settings, config)
        if config.peering.name is not None:
            await asyncio.to_thread(cluster.ensure_peering, config.peering.name, config.namespaces)
        supervisor.start()

    @kopf.on.login(registry=registry)
    def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo | None:
        # A registry of its own has none of kopf's default login handlers: in a pod from the service account,
        # elsewhere from the kubeconfig, as kubectl.
        return kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(settings=settings)

    @kopf.on.cleanup(registry=registry)
    async def stop_workers(**_: Any) -> None:
        supervisor.shutdown()

    @kopf.on.resume(*RESOURCE, registry=registry)
    @kopf.on.create(*RESOURCE, registry=registry)
    @kopf.on.update(*RESOURCE, field="spec", registry=registry)
    @kopf.on.update(*RESOURCE, field=("metadata", "annotations", ADOPT_ANNOTATION), registry=registry)
    async def reconcile(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
        await supervisor.reconcile(body, patch, memo)

    @kopf.timer(*RESOURCE, interval=config.timing.tick_seconds, registry=registry)
    async def poll(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
        await supervisor.reconcile_if_due(body, patch, memo)
        await supervisor.write_status(body, patch, memo, logger)

    @kopf.on.delete(*RESOURCE, registry=registry)
    async def delete(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
        result = await supervisor.delete(body, patch, memo)
        if not result.done:
            # Only the finalizer holds the object now (its timer is stopped): kopf's retry is the wait.
            raise kopf.TemporaryError(
                "waiting for the SageMaker endpoint to be deleted", delay=config.timing.poll_seconds
            )

    return supervisor
