"""The load engine against the local model server on loopback: what it measures, and how it bounds itself."""

from __future__ import annotations

import asyncio
import time

import pytest

from benchmark_support import assert_measured_as_served, target_of
from lowlatency import api, benchmark
from lowlatency.benchmark.connection import Outcome, classify
from lowlatency.benchmark.engine import Load, run
from lowlatency.benchmark.payloads import inline
from lowlatency.emulators.model_server import Fixed, Latency, LogNormal, ModelServer, ModelServerProcess, Normal

PAYLOAD = inline("0.2,1,0,3,0.7", "text/csv")

pytestmark = pytest.mark.timeout(30)


@pytest.mark.latency_accuracy
@pytest.mark.parametrize("latency", [LogNormal(p50_ms=20, p99_ms=60), Normal(mean_ms=30, stdev_ms=6)], ids=repr)
async def test_the_closed_loop_measures_each_request_as_the_server_served_it(
    latency: Latency, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server in a process of its own, so that its record is not held up by the engine (nor the engine by it).
    with ModelServerProcess(latency=latency, seed=7) as server:
        load = Load(concurrency=12, requests=1000, warmup_requests=24, record_requests=True)
        result = await run(target_of(server, monkeypatch), PAYLOAD, load)
        served = server.served()
    assert result.summary().requests == 1000
    assert_measured_as_served(result, served)


@pytest.mark.latency_accuracy
@pytest.mark.parametrize("latency", [LogNormal(p50_ms=20, p99_ms=60), Fixed(25)], ids=repr)
async def test_the_open_loop_measures_each_request_as_the_server_served_it(
    latency: Latency, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 400 requests/s of about 25 ms each keep some ten in flight, on more connections than they need: no request
    # waits for a connection, so each one's latency is its way to the server and back. (Fixed answers belong here:
    # in a closed loop they keep the clients in step, and their answers arrive together, to be read in turn.)
    with ModelServerProcess(latency=latency, seed=7) as server:
        load = Load(rate=400, concurrency=32, duration_seconds=2.5, warmup_requests=40, record_requests=True)
        result = await run(target_of(server, monkeypatch), PAYLOAD, load)
        served = server.served()
    assert result.summary().requests == 1000
    assert_measured_as_served(result, served)


async def test_open_loop_reveals_a_stall_that_the_closed_loop_hides(monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelServer(latency=Fixed(2)) as server:
        target = target_of(server, monkeypatch)
        loop = asyncio.get_running_loop()

        async def stalled_run(load: Load) -> tuple[float, float, float]:
            loop.call_later(0.5, server.stall, 0.4)
            summary = (await run(target, PAYLOAD, load)).summary()
            return summary.p90_ms, summary.p99_ms, summary.max_ms

        _, closed_p99, closed_max = await stalled_run(Load(concurrency=1, duration_seconds=1.5))
        open_p90, open_p99, _ = await stalled_run(Load(rate=200, concurrency=16, duration_seconds=1.5))

    assert closed_max >= 300  # the closed loop's one client did sit through the stall...
    assert closed_p99 < 100  # ...but sent nothing meanwhile, so the 400 ms stall is one sample among hundreds
    assert open_p99 >= 300  # every request due during the stall is late by what remained of it
    assert open_p90 >= 50


async def test_errors_are_counted_by_class(monkeypatch: pytest.MonkeyPatch) -> None:
    errors = {429: 0.1, 400: 0.1, 424: 0.1, 500: 0.1, 503: 0.1}
    with ModelServer(latency=Fixed(1), errors=errors, seed=3) as server:
        result = await run(target_of(server, monkeypatch), PAYLOAD, Load(concurrency=8, requests=2000))
    summary = result.summary()
    by_class = summary.errors_by_class
    assert summary.requests == 2000
    assert 140 <= by_class["throttled"] <= 260
    assert 280 <= by_class["4xx"] <= 520
    assert 280 <= by_class["5xx"] <= 520
    assert by_class["timeout"] == by_class["connection"] == 0
    assert summary.errors == sum(by_class.values())
    assert result.measurement.histogram.get_total_count() == summary.requests - summary.errors


def test_throttling_is_recognised_by_the_runtime_error_type_too() -> None:
    assert classify(400, b"ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/") is (
        Outcome.THROTTLED
    )
    assert classify(400, b"ValidationError") is Outcome.CLIENT_ERROR
    assert classify(429, b"") is Outcome.THROTTLED
    assert classify(530, b"InternalDependencyException") is Outcome.SERVER_ERROR
    assert classify(200, b"") is Outcome.OK


async def test_timeouts_and_refused_connections_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelServer(latency=Fixed(500)) as server:
        slow = await run(target_of(server, monkeypatch), PAYLOAD, Load(concurrency=2, requests=4, timeout_seconds=0.05))
    assert slow.summary().errors_by_class["timeout"] == 4
    # The server is gone: its port refuses connections.
    refused = await run(target_of(server, monkeypatch), PAYLOAD, Load(concurrency=2, requests=4))
    assert refused.summary().errors_by_class["connection"] == 4


async def test_warmup_requests_are_sent_and_discarded(monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelServer() as server:
        result = await run(
            target_of(server, monkeypatch), PAYLOAD, Load(concurrency=4, requests=200, warmup_requests=50)
        )
    assert server.invocations == 250
    assert result.measurement.requests == 200


async def test_open_loop_sends_at_the_asked_rate_for_the_asked_time(monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelServer(latency=Fixed(1)) as server:
        started = time.monotonic()
        result = await run(
            target_of(server, monkeypatch),
            PAYLOAD,
            Load(rate=400, concurrency=8, duration_seconds=1.0, warmup_requests=40),
        )
        elapsed = time.monotonic() - started
    assert result.measurement.requests == 400
    assert server.invocations == 440
    assert result.send_rate_rps is not None
    assert 380 <= result.send_rate_rps <= 420
    assert 1.05 <= elapsed <= 5.0  # never sooner than the schedule; later only if the machine held it up


async def test_max_seconds_bounds_a_run_that_asks_for_more(monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelServer(latency=Fixed(5)) as server:
        started = time.monotonic()
        result = await run(
            target_of(server, monkeypatch), PAYLOAD, Load(concurrency=2, requests=100_000, max_seconds=0.5)
        )
        elapsed = time.monotonic() - started
    # Two clients of a server that takes at least 5 ms can complete at most 2 x 0.5 s / 5 ms requests in the bound,
    # however fast or busy the machine; the 100,000 asked for would take 250 s.
    assert 0 < result.measurement.requests <= 200
    assert elapsed < 5.0


async def test_a_spec_benchmark_runs_from_a_worker_thread_of_an_async_program(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = api.BenchmarkSpec(payload="0.2,1", content_type="text/csv", requests=200, concurrency=4, target_p99_ms=50)
    payloads, load = benchmark.from_spec(spec, max_seconds=10)
    assert load.warmup_requests == 20
    with ModelServer(latency=Fixed(1)) as server:
        target = target_of(server, monkeypatch)
        result = await asyncio.to_thread(benchmark.run_blocking, target, payloads, load)
    status = result.summary().to_status(spec.target_p99_ms, generation=4)
    assert (status.requests, status.errors, status.slo_met, status.generation) == (200, 0, True, 4)
    assert server.invocations == 220
    assert server.bodies == {b"0.2,1": 220}


async def test_warns_when_the_endpoint_cannot_take_the_asked_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelServer(latency=Fixed(5), slots=1) as server:
        result = await run(
            target_of(server, monkeypatch), PAYLOAD, Load(rate=1000, concurrency=4, duration_seconds=0.5)
        )
    assert any("of the 1000 asked" in warning for warning in result.warnings)
    assert any("waited for a free connection" in warning for warning in result.warnings)


async def test_warns_when_the_generator_itself_lags(monkeypatch: pytest.MonkeyPatch) -> None:
    async def hog_the_loop() -> None:
        for _ in range(20):
            time.sleep(0.03)  # noqa: ASYNC251  (the point: a generator too busy to run its timers)
            await asyncio.sleep(0)

    with ModelServer(latency=Fixed(1)) as server:
        hog = asyncio.create_task(hog_the_loop())
        result = await run(target_of(server, monkeypatch), PAYLOAD, Load(rate=100, duration_seconds=0.6))
        await hog
    assert any("event loop lagged" in warning for warning in result.warnings)


COLD_START_SECONDS = 0.3


@pytest.mark.latency_accuracy  # the client's time of the held request within 50 ms of the server's: run alone
async def test_a_cold_start_is_the_first_request_alone_and_apart_from_the_measured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with ModelServer(latency=Fixed(2)) as server:
        target = target_of(server, monkeypatch)
        server.stall(COLD_START_SECONDS)  # whatever arrives now waits, as the first request to an idle variant does
        load = Load(concurrency=4, requests=100, warmup_requests=8, cold_start=True, record_requests=True)
        result = await run(target, PAYLOAD, load)
        served = list(server.served)
    first, *others = served
    cold = result.cold_start
    assert cold is not None
    # The server's record: the first request it received, alone (every other one arrived after its answer).
    assert (cold.request_id, cold.outcome) == (first.request_id, Outcome.OK)
    assert first.seconds >= COLD_START_SECONDS - 0.01
    assert all(request.received >= first.answered for request in others)
    assert first.seconds <= cold.latency_seconds <= first.seconds + 0.05
    assert result.cold_start_ms == pytest.approx(cold.latency_seconds * 1000)
    # Never among the measured: those are the requests after it and the warm-up, none of them held up.
    assert len(others) == 8 + 100
    assert {record.request_id for record in result.records} <= {request.request_id for request in others}
    assert result.summary().max_ms < COLD_START_SECONDS * 1000 / 2
    status = result.summary().to_status(1000.0, generation=3, cold_start_ms=result.cold_start_ms)
    assert status.cold_start_ms == result.cold_start_ms


async def test_an_open_loop_schedule_starts_after_the_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelServer(latency=Fixed(1)) as server:
        target = target_of(server, monkeypatch)
        server.stall(COLD_START_SECONDS)
        load = Load(rate=200, concurrency=8, duration_seconds=0.5, warmup_requests=10, cold_start=True)
        result = await run(target, PAYLOAD, load)
    assert result.cold_start_ms is not None
    assert result.cold_start_ms >= COLD_START_SECONDS * 1000 - 10
    # Requests due while the cold start was served would be late by what remained of it.
    assert result.summary().requests == 100
    assert result.summary().p99_ms < COLD_START_SECONDS * 1000 / 2


async def test_a_failed_cold_start_is_no_figure_and_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelServer(latency=Fixed(1), errors={429: 1.0}) as server:
        result = await run(target_of(server, monkeypatch), PAYLOAD, Load(concurrency=2, requests=10, cold_start=True))
    assert result.cold_start is not None
    assert result.cold_start.outcome is Outcome.THROTTLED
    assert result.cold_start_ms is None
    assert any("first request" in warning for warning in result.warnings)
    assert server.invocations == 11
