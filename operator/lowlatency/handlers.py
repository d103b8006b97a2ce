"""kopf handlers: glue only. Each reads the object, hands it to :class:`EndpointReconciler`, writes what comes back.

Scheduling: a pass runs at once on create, resume and every spec change; after that each resource's timer wakes
every ``tick_seconds`` and runs a pass when one is due: soon while SageMaker is moving, rarely at steady state,
with backoff after transient errors. Waiting is never a sleep inside a handler and never a kopf TemporaryError
(which kopf reports as an error), except while deleting, when only the finalizer can wait.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import kopf

from lowlatency import GROUP, PLURAL, VERSION
from lowlatency.aws import AwsClients
from lowlatency.config import OperatorConfig, Timing
from lowlatency.reconciler import EndpointReconciler, EndpointResource, PassResult
from lowlatency.tenancy import PolicyFile

RESOURCE = (GROUP, VERSION, PLURAL)
FINALIZER = f"{GROUP}/finalizer"


@dataclass
class Schedule:
    """When a resource's next pass is due (per object, in kopf's per-object memo)."""

    due: float = 0.0
    failures: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def after(self, result: PassResult, timing: Timing, now: float) -> None:
        if result.retry:
            self.failures += 1
            delay = min(timing.poll_seconds * 2 ** (self.failures - 1), timing.max_backoff_seconds)
        else:
            self.failures = 0
            delay = timing.poll_seconds if result.moving else timing.resync_seconds
        self.due = now + delay * random.uniform(1 - timing.jitter, 1 + timing.jitter)


class Supervisor:
    """Runs passes off the event loop, in a bounded pool, and delivers their results to kopf."""

    def __init__(self, config: OperatorConfig) -> None:
        self.config = config
        policy = PolicyFile(config.tenant_policy) if config.tenant_policy is not None else None
        self.reconciler = EndpointReconciler(AwsClients(config.aws), tenant_policy=policy)
        self._pool = ThreadPoolExecutor(max_workers=config.aws_workers, thread_name_prefix="aws")

    async def run(self, step: Callable[[EndpointResource], PassResult], body: kopf.Body) -> PassResult:
        resource = EndpointResource.from_body(body)
        return await asyncio.get_running_loop().run_in_executor(self._pool, step, resource)

    async def reconcile(self, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo) -> None:
        schedule = _schedule(memo)
        async with schedule.lock:
            result = await self.run(self.reconciler.reconcile, body)
            deliver(result, body, patch)
            schedule.after(result, self.config.timing, asyncio.get_running_loop().time())

    async def reconcile_if_due(self, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo) -> None:
        schedule = _schedule(memo)
        if schedule.lock.locked() or asyncio.get_running_loop().time() < schedule.due:
            return
        await self.reconcile(body, patch, memo)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _schedule(memo: kopf.Memo) -> Schedule:
    schedule = memo.get("schedule")
    if not isinstance(schedule, Schedule):
        schedule = memo["schedule"] = Schedule()
    return schedule


def deliver(result: PassResult, body: kopf.Body, patch: kopf.Patch) -> None:
    if result.status:
        patch.setdefault("status", {}).update(result.status)
    for event in result.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def register(config: OperatorConfig, registry: kopf.OperatorRegistry) -> Supervisor:
    """Register every handler on ``registry``; the timer's tick comes from ``config``."""
    supervisor = Supervisor(config)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=GROUP, key="last-handled-configuration"
        )
        # kopf turns its own log lines into Kubernetes Events; the operator posts the ones users care about itself.
        settings.posting.level = logging.WARNING
        settings.peering.standalone = config.standalone

    @kopf.on.cleanup(registry=registry)
    def stop_workers(**_: Any) -> None:
        supervisor.shutdown()

    @kopf.on.resume(*RESOURCE, registry=registry)
    @kopf.on.create(*RESOURCE, registry=registry)
    @kopf.on.update(*RESOURCE, field="spec", registry=registry)
    async def reconcile(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
        await supervisor.reconcile(body, patch, memo)

    @kopf.timer(*RESOURCE, interval=config.timing.tick_seconds, registry=registry)
    async def poll(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
        await supervisor.reconcile_if_due(body, patch, memo)

    @kopf.on.delete(*RESOURCE, registry=registry)
    async def delete(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        result = await supervisor.run(supervisor.reconciler.delete, body)
        deliver(result, body, patch)
        if not result.done:
            # Only the finalizer holds the object now (its timer is stopped): kopf's retry is the wait.
            raise kopf.TemporaryError(
                "waiting for the SageMaker endpoint to be deleted", delay=config.timing.poll_seconds
            )

    return supervisor
