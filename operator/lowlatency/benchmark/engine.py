"""The load engine: signed InvokeEndpoint requests in a closed or an open loop, on one asyncio event loop.

Closed loop: ``concurrency`` clients, each sending its next request as soon as the previous one is answered;
latency is measured from each send. This is what most load tools do, and it hides stalls: a client stuck on one
slow request sends nothing meanwhile, so a pause of the endpoint shows up as a single slow sample.

Open loop (``rate``): requests are due at fixed intervals whatever the endpoint does, spread over ``concurrency``
keep-alive connections. A request's latency is measured from the moment it was due (its intended send time), so
the time it waited for a free connection behind a slow endpoint counts, as in wrk2 (coordinated omission
corrected). One exception: a connection that was idle and whose timer woke it a little late (epoll has
millisecond resolution) starts the clock when it wakes, since that delay is the generator's own; it is reported
as loop lag instead, and the run warns when the generator itself could not keep up.

Warm-up requests (the first ``warmup_requests``) are sent the same way and discarded. Nothing is retried.

Cold start (``cold_start``): before all others, one request is sent alone, on a connection opened beforehand, and
its latency is reported apart (``RunResult.cold_start``), never in the measurement. The first request to a
serverless variant that has been idle waits for SageMaker to start its compute; the warm-up and measured requests
that follow find it running. An open loop's schedule starts once that request is answered.

Use from asyncio with ``await run(...)``, or from a thread with ``run_blocking(...)`` (its own event loop). A run is
bounded by ``requests`` and/or ``duration_seconds``, and by ``max_seconds`` overall (plus at most one request
timeout for the requests in flight).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from lowlatency.benchmark.connection import Answer, Connection, Outcome
from lowlatency.benchmark.payloads import Payload
from lowlatency.benchmark.results import Measurement, RequestRecord, Summary, microseconds, new_histogram, summarize
from lowlatency.benchmark.signing import InvocationSigner, Target

LOOP_LAG_PROBE_SECONDS = 0.01
LOOP_LAG_WARNING_MS = 5.0
SEND_RATE_WARNING_RATIO = 0.95
CONNECTION_WAIT_WARNING_MS = 1.0


@dataclass(frozen=True)
class Load:
    """How much load, of which kind, for how long."""

    rate: float | None = None
    """Open loop: requests per second. None: closed loop."""

    concurrency: int = 8
    """Closed loop: concurrent clients. Open loop: keep-alive connections to spread the requests over."""

    requests: int | None = None
    """Measured requests (after warm-up)."""

    duration_seconds: float | None = None
    """Measured time (after warm-up). With ``requests`` too, whichever ends first."""

    warmup_requests: int = 0
    timeout_seconds: float = 60.0
    """Per request (SageMaker's own limit for a model's answer is 60 s)."""

    max_seconds: float | None = None
    """Hard bound on the whole run, warm-up included: no request is started after it."""

    record_requests: bool = False
    """Keep one record per measured request (for CSV and plots)."""

    cold_start: bool = False
    """Send one request alone before all others and report it apart (``RunResult.cold_start``)."""

    def __post_init__(self) -> None:
        if self.requests is None and self.duration_seconds is None:
            raise ValueError("a load needs requests or duration_seconds")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("rate must be positive")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")


@dataclass(frozen=True)
class Progress:
    completed: int
    total: int | None
    elapsed_seconds: float
    duration_seconds: float | None


ProgressCallback = Callable[[Progress], None]


@dataclass
class RunResult:
    """One run: the measurement, per-request records if asked for, and what the generator noticed about itself."""

    load: Load
    measurement: Measurement
    records: list[RequestRecord] = field(default_factory=list)
    loop_lag: HdrHistogram = field(default_factory=new_histogram)
    connection_wait: HdrHistogram = field(default_factory=new_histogram)
    send_rate_rps: float | None = None
    signatures_made: int = 0
    warnings: list[str] = field(default_factory=list)
    started_at: float = 0.0
    """Wall-clock time the records' offsets count from."""
    started_monotonic: float = 0.0
    """The same moment on ``time.monotonic()``, the clock that all processes of a machine share."""
    cold_start: RequestRecord | None = None
    """The request sent alone first (``Load.cold_start``), measured from its send to its answer."""

    def summary(self) -> Summary:
        return summarize(self.measurement)

    @property
    def cold_start_ms(self) -> float | None:
        """The cold start's latency, when that request succeeded."""
        first = self.cold_start
        return None if first is None or first.outcome is not Outcome.OK else first.latency_seconds * 1000


class _Run:
    def __init__(self, target: Target, payloads: Sequence[Payload], load: Load) -> None:
        if not payloads:
            raise ValueError("no payloads")
        self.load = load
        self.payloads = list(payloads)
        self.signer = InvocationSigner(target)
        self.target = target
        self.result = RunResult(load, Measurement())
        self.started = time.monotonic()
        self.wall_offset = time.time() - self.started
        self.next_index = 0
        self.total = None if load.requests is None else load.warmup_requests + load.requests
        self.hard_stop = None if load.max_seconds is None else self.started + load.max_seconds
        self.measure_start: float | None = None
        self.measure_end: float | None = None
        self.last_completion = self.started
        self.last_measured_send = self.started
        self.completed = 0
        self._schedule_from(self.started)

    def _schedule_from(self, start: float) -> None:
        """An open loop's requests are due at fixed intervals from ``start``."""
        self.schedule_start = start
        if self.load.rate is not None:
            self.interval = 1.0 / self.load.rate
            self.measure_start = start + self.load.warmup_requests * self.interval
            if self.load.duration_seconds is not None:
                self.measure_end = self.measure_start + self.load.duration_seconds

    def _claim(self, now: float) -> int | None:
        """The next request to send, or None when the run is over."""
        index = self.next_index
        if self.total is not None and index >= self.total:
            return None
        if self.hard_stop is not None and now >= self.hard_stop:
            return None
        if self.load.rate is not None:
            intended = self.schedule_start + index * self.interval
            if self.measure_end is not None and intended >= self.measure_end:
                return None
        elif index >= self.load.warmup_requests:
            if self.measure_start is None:
                self.measure_start = now
                if self.load.duration_seconds is not None:
                    self.measure_end = now + self.load.duration_seconds
            elif self.measure_end is not None and now >= self.measure_end:
                return None
        self.next_index = index + 1
        return index

    def _record(self, index: int, intended: float, clock_start: float, done: float, answer: Answer) -> None:
        self.last_completion = max(self.last_completion, done)
        if index < self.load.warmup_requests:
            return
        self.completed += 1
        self.result.measurement.record(done - clock_start, answer.outcome)
        if self.load.record_requests:
            started = self.started
            self.result.records.append(
                RequestRecord(
                    intended - started, done - clock_start, answer.outcome, answer.request_id.decode(), done - started
                )
            )

    async def _closed_client(self, connection: Connection) -> None:
        payloads, count = self.payloads, len(self.payloads)
        while (index := self._claim(time.monotonic())) is not None:
            raw = self.signer.request(payloads[index % count])
            sent = time.monotonic()
            answer = await connection.send(raw)
            self._record(index, sent, sent, time.monotonic(), answer)

    async def _open_connection(self, connection: Connection) -> None:
        payloads, count, warmup = self.payloads, len(self.payloads), self.load.warmup_requests
        connection_wait = self.result.connection_wait
        while (index := self._claim(time.monotonic())) is not None:
            intended = self.schedule_start + index * self.interval
            now = time.monotonic()
            if index >= warmup:
                connection_wait.record_value(microseconds(max(0.0, now - intended)))
            if intended > now:
                await asyncio.sleep(intended - now)
                clock_start = time.monotonic()
            else:
                clock_start = intended
            raw = self.signer.request(payloads[index % count])
            if index >= warmup:
                self.last_measured_send = time.monotonic()
            answer = await connection.send(raw)
            self._record(index, intended, clock_start, time.monotonic(), answer)

    async def _send_alone(self, connection: Connection) -> RequestRecord:
        """The cold start: one request on an open connection, nothing else in flight."""
        failure = await connection.open()
        raw = self.signer.request(self.payloads[0])
        sent = time.monotonic()
        answer = failure or await connection.send(raw)
        done = time.monotonic()
        self.last_completion = max(self.last_completion, done)
        if answer.outcome is not Outcome.OK:
            self.result.warnings.append(
                f"the first request, sent alone for the cold start, failed ({answer.outcome.value}): no cold start "
                "was measured"
            )
        started = self.started
        return RequestRecord(sent - started, done - sent, answer.outcome, answer.request_id.decode(), done - started)

    async def _probe_loop_lag(self) -> None:
        lag = self.result.loop_lag
        while True:
            before = time.monotonic()
            await asyncio.sleep(LOOP_LAG_PROBE_SECONDS)
            lag.record_value(microseconds(time.monotonic() - before - LOOP_LAG_PROBE_SECONDS))

    async def _report_progress(self, on_progress: ProgressCallback, interval: float) -> None:
        while True:
            on_progress(self._progress())
            await asyncio.sleep(interval)

    def _progress(self) -> Progress:
        return Progress(self.completed, self.load.requests, time.monotonic() - self.started, self.load.duration_seconds)

    async def execute(self, on_progress: ProgressCallback | None, progress_interval: float) -> RunResult:
        connections = [Connection(self.target, self.load.timeout_seconds) for _ in range(self.load.concurrency)]
        client = self._closed_client if self.load.rate is None else self._open_connection
        helpers = [asyncio.create_task(self._probe_loop_lag())]
        if on_progress is not None:
            helpers.append(asyncio.create_task(self._report_progress(on_progress, progress_interval)))
        try:
            if self.load.cold_start:
                self.result.cold_start = await self._send_alone(connections[0])
                self._schedule_from(time.monotonic())
            await asyncio.gather(*(client(connection) for connection in connections))
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            for connection in connections:
                connection.close()
        if on_progress is not None:
            on_progress(self._progress())
        return self._finish()

    def _finish(self) -> RunResult:
        result = self.result
        measurement = result.measurement
        measure_start = self.started if self.measure_start is None else self.measure_start
        measurement.started = measure_start + self.wall_offset
        measurement.finished = self.last_completion + self.wall_offset
        result.signatures_made = self.signer.signatures_made
        result.started_at = self.started + self.wall_offset
        result.started_monotonic = self.started
        lag_p99_ms = result.loop_lag.get_value_at_percentile(99.0) / 1000
        if lag_p99_ms > LOOP_LAG_WARNING_MS:
            result.warnings.append(
                f"the generator's event loop lagged (p99 {lag_p99_ms:.1f} ms): it is saturated and its own delays "
                "are in the latencies; lower the rate or concurrency, or run more generators"
            )
        if self.load.rate is not None and measurement.requests:
            send_window = self.last_measured_send - measure_start + self.interval
            result.send_rate_rps = measurement.requests / send_window
            if result.send_rate_rps < SEND_RATE_WARNING_RATIO * self.load.rate:
                result.warnings.append(
                    f"sent {result.send_rate_rps:.0f} requests/s of the {self.load.rate:g} asked: the endpoint or "
                    f"the {self.load.concurrency} connections could not keep up"
                )
            wait_p99_ms = result.connection_wait.get_value_at_percentile(99.0) / 1000
            if wait_p99_ms > CONNECTION_WAIT_WARNING_MS:
                result.warnings.append(
                    f"requests waited for a free connection (p99 {wait_p99_ms:.1f} ms, counted in their latency): "
                    f"all {self.load.concurrency} connections were busy"
                )
        return result


async def run(
    target: Target,
    payloads: Sequence[Payload],
    load: Load,
    on_progress: ProgressCallback | None = None,
    progress_interval: float = 0.2,
) -> RunResult:
    """Run one benchmark on the running event loop."""
    return await _Run(target, payloads, load).execute(on_progress, progress_interval)


def run_blocking(
    target: Target,
    payloads: Sequence[Payload],
    load: Load,
    on_progress: ProgressCallback | None = None,
    progress_interval: float = 0.2,
) -> RunResult:
    """Run one benchmark on an event loop of its own (call it from a worker thread inside an async program)."""
    return asyncio.run(run(target, payloads, load, on_progress, progress_interval))
