"""Several generator processes share a load; what they measured merges into one exact measurement."""

from __future__ import annotations

import json

import pytest

from benchmark_support import target_of
from lowlatency import cli
from lowlatency.benchmark import inline
from lowlatency.benchmark.engine import Load
from lowlatency.benchmark.workers import EndpointAddress, WorkerError, run_processes, split
from lowlatency.emulators.model_server import Fixed, ModelServer

pytestmark = pytest.mark.timeout(90)


def test_a_load_is_shared_out_whole() -> None:
    shares = split(Load(rate=300, concurrency=7, requests=10, warmup_requests=5, max_seconds=9), 3)
    assert [share.rate for share in shares] == [100, 100, 100]
    assert [share.concurrency for share in shares] == [3, 2, 2]
    assert [share.requests for share in shares] == [4, 3, 3]
    assert [share.warmup_requests for share in shares] == [2, 2, 1]
    assert {share.max_seconds for share in shares} == {9}
    timed = split(Load(concurrency=4, duration_seconds=2.0), 2)
    assert [(share.requests, share.duration_seconds) for share in timed] == [(None, 2.0), (None, 2.0)]
    with pytest.raises(ValueError, match="processes"):
        split(Load(concurrency=2, requests=10), 3)


def test_processes_measure_together_and_merge_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelServer(latency=Fixed(2)) as server:
        target_of(server, monkeypatch)  # the environment the spawned processes resolve their targets from
        load = Load(concurrency=4, requests=400, warmup_requests=20, record_requests=True)
        result = run_processes(EndpointAddress("bid-filter"), inline("1", "text/csv"), load, processes=2)
    summary = result.summary()
    assert (summary.requests, summary.errors) == (400, 0)
    assert result.measurement.histogram.get_total_count() == 400
    assert server.invocations == 420
    assert len(result.records) == 400
    assert all(record.intended_offset_seconds >= 0 for record in result.records)
    assert summary.p50_ms >= 2.0
    assert result.signatures_made >= 2  # each process signs for itself


def test_a_failing_process_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelServer() as server:
        target_of(server, monkeypatch)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(WorkerError, match="NoRegionError"):
        run_processes(EndpointAddress("bid-filter"), inline("1", "text/csv"), Load(concurrency=2, requests=4), 2)


def test_the_command_spreads_the_load_over_processes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with ModelServer(latency=Fixed(1)) as server:
        target_of(server, monkeypatch)
        arguments = ["--payload", "1", "--rate", "200", "--duration", "0.5", "--warmup", "10", "--processes", "2"]
        status = cli.main(["benchmark", "--endpoint", "bid-filter", *arguments, "--json"])
    output = json.loads(capsys.readouterr().out)
    assert status == 0
    assert output["requests"] == 100
    assert server.invocations == 110
