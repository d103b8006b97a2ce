"""`lowlatency-operator benchmark` end to end against the local model server, through boto3's endpoint override."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from benchmark_support import CREDENTIALS, target_of
from lowlatency import cli
from lowlatency.emulators.model_server import Fixed, ModelServer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STATUS_KEYS = {"p50Ms", "p90Ms", "p99Ms", "throughputRps", "requests", "errors", "sloMet", "completedAt"}

pytestmark = pytest.mark.timeout(60)


def benchmark(server: ModelServer, monkeypatch: pytest.MonkeyPatch, *arguments: str) -> int:
    target_of(server, monkeypatch)  # AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME names the server, credentials are static
    return cli.main(["benchmark", "--endpoint", "bid-filter", *arguments])


def test_json_has_the_keys_of_status_benchmark(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with ModelServer(latency=Fixed(1)) as server:
        status = benchmark(
            server, monkeypatch, "--payload", "0.2,1", "--concurrency", "4", "--requests", "200", "--json",
            "--target-p99-ms", "1000",  # the objective is judged, not the machine: a busy one must not fail it
        )  # fmt: skip
    output = json.loads(capsys.readouterr().out)
    assert status == 0
    assert output.keys() >= STATUS_KEYS
    assert (output["requests"], output["errors"], output["sloMet"], output["mode"]) == (200, 0, True, "closed")
    assert 1.0 <= output["p50Ms"] <= output["p90Ms"] <= output["p99Ms"]
    assert server.invocations == 300  # 100 warm-up requests by default


def test_csv_has_every_request_and_the_plot_is_a_png(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    requests_csv, plot = tmp_path / "requests.csv", tmp_path / "latency.png"
    with ModelServer(latency=Fixed(1), errors={503: 0.1}, seed=5) as server:
        status = benchmark(
            server, monkeypatch, "--payload", "0.2,1", "--rate", "300", "--duration", "0.5", "--warmup", "10",
            "--csv", str(requests_csv), "--plot", str(plot),
        )  # fmt: skip
    table = capsys.readouterr().out
    assert status == 0
    assert "open loop, 300 requests/s" in table
    assert "p99" in table
    with requests_csv.open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 150
    assert {row["outcome"] for row in rows} == {"ok", "5xx"}
    intended = [float(row["intended_send_s"]) for row in rows]
    assert sorted(intended) == pytest.approx([index / 300 for index in range(10, 160)], abs=1e-6)  # after warm-up
    assert all(float(row["latency_ms"]) > 0 for row in rows)
    assert plot.read_bytes().startswith(PNG_SIGNATURE)


def test_payload_samples_are_sent_in_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    samples = tmp_path / "samples.jsonl"
    samples.write_text(
        '{"Body": "0.1,2", "ContentType": "text/csv"}\n\n{"Body": {"features": [1, 2]}}\n{"Body": "0.3,4"}\n'
    )
    with ModelServer() as server:
        status = benchmark(server, monkeypatch, "--payloads", str(samples), "--requests", "30", "--warmup", "0")
    assert status == 0
    assert server.bodies == {b"0.1,2": 10, b'{"features":[1,2]}': 10, b"0.3,4": 10}


def test_an_unusable_payload_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    samples = tmp_path / "samples.jsonl"
    samples.write_text('{"Body": "1"}\n{"Payload": "2"}\n')
    with ModelServer() as server:
        status = benchmark(server, monkeypatch, "--payloads", str(samples))
    assert status == 2
    assert "samples.jsonl:2: expected an object with a Body" in capsys.readouterr().err
    assert server.invocations == 0


def test_a_missed_objective_fails_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with ModelServer(latency=Fixed(5)) as server:
        status = benchmark(
            server, monkeypatch, "--payload", "1", "--requests", "50", "--warmup", "0", "--target-p99-ms", "2", "--json"
        )
    output = json.loads(capsys.readouterr().out)
    assert status == 1
    assert output["sloMet"] is False
    assert output["targetP99Ms"] == 2


def test_find_max_rps_stops_at_the_knee_of_a_capacity_limited_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two slots of 10 ms: at most ~190 requests/s; past that the queue, and so latency, grows without bound (at 250/s
    # by some 300 ms within the step's second). Steps of a second keep p99 from resting on one or two samples.
    plot = tmp_path / "ramp.png"
    with ModelServer(latency=Fixed(10), slots=2) as server:
        status = benchmark(
            server, monkeypatch, "--payload", "1", "--find-max-rps", "--start-rps", "50", "--step-rps", "50",
            "--max-rps", "400", "--step-seconds", "1", "--warmup", "10", "--target-p99-ms", "100",
            "--instances", "2", "--peak-rps", "1000", "--instance-type", "ml.c5.xlarge", "--json", "--plot", str(plot),
        )  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    steps = report["steps"]
    ramp = [(step["rateRps"], step["p99Ms"], step["verdict"]) for step in steps]
    assert [step["rateRps"] for step in steps] == [50 * (index + 1) for index in range(len(steps))], ramp
    assert all(step["verdict"] == "held" for step in steps[:-1]), ramp
    assert steps[-1]["verdict"].startswith("p99"), ramp
    assert steps[-1]["p99Ms"] > 100
    # Never above the capacity; below it only if this machine is so busy that scheduling alone adds 100 ms.
    assert 100 <= report["maxRps"] <= 200, ramp
    assert report["maxRpsPerInstance"] == report["maxRps"] / 2
    advice = report["recommendation"]
    per_instance = report["maxRpsPerInstance"]
    assert advice["targetInvocationsPerInstance"] == math.floor(per_instance * 0.5 * 60)
    assert advice["minInstances"] == math.ceil(1000 / per_instance)
    assert advice["maxInstances"] == math.ceil(1000 / (per_instance * 0.5))
    assert advice["hourlyUsdPerInstance"] == 0.204
    assert advice["maxHourlyUsd"] == pytest.approx(0.204 * advice["maxInstances"])
    assert plot.read_bytes().startswith(PNG_SIGNATURE)


def test_without_a_region_the_command_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with ModelServer() as server:
        target_of(server, monkeypatch)
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert cli.main(["benchmark", "--endpoint", "bid-filter", "--payload", "1"]) == 2
    assert "region" in capsys.readouterr().err


@pytest.mark.latency_accuracy  # the reported cold start within 50 ms of the server's record: run alone
def test_a_cold_start_to_a_target_variant_is_reported_apart(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The server holds what arrives for two seconds, as an idle serverless variant does its first request; the
    # command starts well within them.
    arguments = ["--payload", "1", "--requests", "40", "--warmup", "4", "--concurrency", "2", "--cold-start"]
    with ModelServer(latency=Fixed(1), credentials=CREDENTIALS) as server:
        target_of(server, monkeypatch)
        server.stall(2.0)
        status = cli.main(["benchmark", "--endpoint", "bid-filter", "--target-variant", "Challenger", *arguments])
        table = capsys.readouterr().out
        server.stall(2.0)
        assert cli.main(["benchmark", "--endpoint", "bid-filter", *arguments, "--json"]) == 0
        output = json.loads(capsys.readouterr().out)
        assert (server.invocations, server.signatures_verified) == (90, 90)
        served = list(server.served)
    assert status == 0
    assert "bid-filter, variant Challenger" in table
    assert "cold start" in table
    # The second run's first request is the server's 46th: held, and reported as the cold start alone.
    cold = served[45]
    assert cold.seconds >= 1.0
    assert cold.seconds * 1000 <= output["coldStartMs"] <= cold.seconds * 1000 + 50
    assert output["requests"] == 40
    assert output["maxMs"] < cold.seconds * 1000 / 2
    assert output["targetVariant"] is None


def test_a_cold_start_needs_one_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with ModelServer() as server:
        status = benchmark(server, monkeypatch, "--payload", "1", "--cold-start", "--processes", "2")
    assert status == 2
    assert "one process" in capsys.readouterr().err
    assert server.invocations == 0
