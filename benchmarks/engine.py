"""How fast is the load engine? Requests/s per core and added latency, side by side with Locust, on loopback.

    .venv/bin/pip install -e '.[bench]'        # Locust (for the comparison only)
    .venv/bin/python benchmarks/engine.py [--seconds 8] [--clients 32]

A minimal keep-alive responder (benchmarks/responder.py) runs pinned to the last CPU; each load generator runs in
a process of its own pinned to CPU 0 (``os.sched_setaffinity``), one after the other, against it:

- a blocking socket client sending one prebuilt request at a time: the floor of loopback request latency;
- the engine, closed loop, one connection: its median minus the floor is the latency it adds (target <= 0.2 ms);
- the engine, closed loop, ``--clients`` connections: requests/s per core, every request SigV4-signed;
- the engine, open loop at 2000 requests/s over ``--clients`` connections: its median minus the floor again;
- aiohttp's ClientSession sending the engine's signed requests with ``--clients`` tasks (the HTTP client the engine
  does not use, for comparison);
- Locust FastHttpUser, ``--clients`` users, unsigned; Locust wrapping boto3 (AWS's SageMaker load-testing sample's
  way), ``--clients`` users, signed by botocore.

Requests/s are also given per CPU-second the generator process used (user + system time, start-up included), which
is less sensitive to other work on the machine than wall-clock rates; a generator whose rate is capped by the
responder shows it as more requests per CPU-second than per second. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ENDPOINT = "bench"
BODY = b"0.2,1,0,3,0.7"
GENERATOR_CPU = 0
ADDED_LATENCY_TARGET_MS = 0.2
OPEN_LOOP_RATE = 2000.0
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "AKIDBENCHMARK",
    "AWS_SECRET_ACCESS_KEY": "benchmark-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "BENCHMARK_ENDPOINT": ENDPOINT,
}


# Roles: each runs in a child process pinned to the generator CPU and prints one JSON object.


def _floor(url: str, seconds: float, clients: int) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    request = (
        f"POST /endpoints/{ENDPOINT}/invocations HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/csv\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    latencies: list[float] = []
    with socket.create_connection((host, int(port))) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            connection.sendall(request)
            answer = b""
            while not answer.endswith(b"0.42"):
                answer += connection.recv(65536)
            latencies.append(time.perf_counter() - started)
    return {"requests": len(latencies), "seconds": seconds, "p50Ms": statistics.median(latencies) * 1000}


def _engine(url: str, seconds: float, clients: int, rate: float | None = None) -> dict[str, Any]:
    from lowlatency.benchmark import engine, payloads, signing  # noqa: PLC0415  (in the child, after pinning)

    target = signing.resolve_target(ENDPOINT, endpoint_url=url)
    load = engine.Load(rate=rate, concurrency=clients, duration_seconds=seconds, warmup_requests=200)
    result = engine.run_blocking(target, payloads.inline(BODY.decode(), "text/csv"), load)
    summary = result.summary()
    return {
        "requests": summary.requests,
        "errors": summary.errors,
        "seconds": seconds,
        "p50Ms": summary.p50_ms,
        "p99Ms": summary.p99_ms,
        "signatures": result.signatures_made,
    }


def _aiohttp(url: str, seconds: float, clients: int) -> dict[str, Any]:
    import aiohttp  # noqa: PLC0415

    from lowlatency.benchmark import payloads, signing  # noqa: PLC0415

    target = signing.resolve_target(ENDPOINT, endpoint_url=url)
    signer = signing.InvocationSigner(target)
    payload = payloads.inline(BODY.decode(), "text/csv")[0]

    def signed_headers() -> dict[str, str]:
        head = signer.request(payload).split(b"\r\n\r\n", 1)[0].decode().split("\r\n")[1:]
        return dict(line.split(": ", 1) for line in head if not line.startswith(("Content-Length", "Host")))

    async def measure() -> dict[str, Any]:
        latencies: list[float] = []
        connector = aiohttp.TCPConnector(limit=clients)
        async with aiohttp.ClientSession(connector=connector) as session:
            deadline = time.monotonic() + seconds

            async def client() -> None:
                while time.monotonic() < deadline:
                    started = time.perf_counter()
                    async with session.post(target.url, data=BODY, headers=signed_headers()) as response:
                        await response.read()
                    latencies.append(time.perf_counter() - started)

            await asyncio.gather(*(client() for _ in range(clients)))
        return {"requests": len(latencies), "seconds": seconds, "p50Ms": statistics.median(latencies) * 1000}

    return asyncio.run(measure())


def _signing_cost() -> dict[str, Any]:
    import botocore.auth  # noqa: PLC0415
    import botocore.awsrequest  # noqa: PLC0415
    import botocore.credentials  # noqa: PLC0415

    credentials = botocore.credentials.Credentials("AKIDBENCHMARK", "benchmark-secret")
    url = f"https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/{ENDPOINT}/invocations"
    count = 5000
    started = time.process_time()
    for _ in range(count):
        request = botocore.awsrequest.AWSRequest(
            method="POST", url=url, data=BODY, headers={"Content-Type": "text/csv"}
        )
        botocore.auth.SigV4Auth(credentials, "sagemaker", "us-east-1").add_auth(request)
    return {"microsecondsPerSignature": (time.process_time() - started) / count * 1e6}


def _engine_open_loop(url: str, seconds: float, clients: int) -> dict[str, Any]:
    return _engine(url, seconds, clients, OPEN_LOOP_RATE)


ROLES: dict[str, Callable[[str, float, int], dict[str, Any]]] = {
    "floor": _floor,
    "engine": _engine,
    "engine-open-loop": _engine_open_loop,
    "aiohttp": _aiohttp,
}


# The orchestration.


def _pin(cpu: int | None) -> Callable[[], None] | None:
    return None if cpu is None else (lambda: os.sched_setaffinity(0, {cpu}))


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_child(command: list[str], cpu: int | None, environment: dict[str, str]) -> tuple[str, float]:
    before = _children_cpu_seconds()
    finished = subprocess.run(
        command, preexec_fn=_pin(cpu), env=environment, capture_output=True, text=True, check=True, timeout=600
    )
    return finished.stdout, _children_cpu_seconds() - before


@dataclass(frozen=True)
class Bench:
    """Where and how long each generator runs."""

    url: str
    seconds: float
    cpu: int | None
    environment: dict[str, str]

    def role(self, role: str, clients: int) -> dict[str, Any]:
        command = [sys.executable, __file__, "--role", role, "--url", self.url, "--seconds", str(self.seconds)]
        output, cpu_seconds = _run_child([*command, "--clients", str(clients)], self.cpu, self.environment)
        figures: dict[str, Any] = json.loads(output)
        return figures | {"cpuSeconds": cpu_seconds}

    def locust(self, user: str, clients: int) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as directory:
            prefix = str(Path(directory) / "stats")
            command = [
                sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), user, "--headless", "--only-summary",
                "--users", str(clients), "--spawn-rate", str(clients * 100), "--run-time", f"{self.seconds:g}s",
                "--host", self.url, "--csv", prefix, "--loglevel", "WARNING",
            ]  # fmt: skip
            _, cpu_seconds = _run_child(command, self.cpu, self.environment)
            with Path(f"{prefix}_stats.csv").open() as file:
                aggregated = next(row for row in csv.DictReader(file) if row["Name"] == "Aggregated")
        requests, rate = int(aggregated["Request Count"]), float(aggregated["Requests/s"])
        return {
            "requests": requests,
            "errors": int(aggregated["Failure Count"]),
            "seconds": requests / rate if rate else self.seconds,
            "p50Ms": float(aggregated["Median Response Time"]),
            "cpuSeconds": cpu_seconds,
        }


@contextmanager
def _responder(cpu: int | None) -> Iterator[str]:
    command = [sys.executable, str(HERE / "responder.py")] + ([] if cpu is None else ["--cpu", str(cpu)])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield f"http://127.0.0.1:{process.stdout.readline().strip()}"
    finally:
        process.terminate()
        process.wait(10)


def _locust_available() -> bool:
    try:
        subprocess.run([sys.executable, "-m", "locust", "--version"], capture_output=True, check=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="Seconds per measurement (default 8).")
    parser.add_argument("--clients", type=int, default=32, help="Connections, tasks or users (default 32).")
    parser.add_argument("--role", choices=sorted(ROLES), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.role:
        sys.stdout.write(json.dumps(ROLES[arguments.role](arguments.url, arguments.seconds, arguments.clients)))
        return

    cpus = sorted(os.sched_getaffinity(0))
    generator_cpu, responder_cpu = (GENERATOR_CPU, cpus[-1]) if len(cpus) > 1 else (None, None)
    environment = os.environ | ENVIRONMENT
    print(f"CPUs {cpus}; generator on {generator_cpu}, responder on {responder_cpu}; load average {os.getloadavg()}")
    seconds, clients = arguments.seconds, arguments.clients
    results: dict[str, dict[str, Any]] = {}
    with _responder(responder_cpu) as url:
        environment["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = url
        bench = Bench(url, seconds, generator_cpu, environment)
        results["floor: blocking socket, 1 connection"] = bench.role("floor", 1)
        results["engine, 1 connection"] = bench.role("engine", 1)
        results[f"engine, {clients} connections"] = bench.role("engine", clients)
        results[f"engine, open loop {OPEN_LOOP_RATE:g}/s"] = bench.role("engine-open-loop", clients)
        results[f"aiohttp ClientSession, {clients} tasks"] = bench.role("aiohttp", clients)
        if _locust_available():
            for user, label in (("FastInvoker", "Locust FastHttpUser (unsigned)"), ("Boto3Invoker", "Locust + boto3")):
                results[f"{label}, {clients} users"] = bench.locust(user, clients)
        else:
            print("locust is not installed (pip install -e '.[bench]'): Locust comparisons skipped")

    print(f"\n{'generator':<44} {'req/s':>9} {'req/CPU-s':>10} {'p50 ms':>8} {'errors':>7}")
    rates: dict[str, float] = {}
    for name, figures in results.items():
        rates[name] = figures["requests"] / figures["seconds"]
        per_cpu = figures["requests"] / figures["cpuSeconds"] if figures["cpuSeconds"] else float("nan")
        print(f"{name:<44} {rates[name]:>9.0f} {per_cpu:>10.0f} {figures['p50Ms']:>8.3f} {figures.get('errors', 0):>7}")

    floor_ms = results["floor: blocking socket, 1 connection"]["p50Ms"]
    print()
    for name in ("engine, 1 connection", f"engine, open loop {OPEN_LOOP_RATE:g}/s"):
        added_ms = results[name]["p50Ms"] - floor_ms
        verdict = "within" if added_ms <= ADDED_LATENCY_TARGET_MS else "OVER"
        print(f"added median latency, {name}: {added_ms:.3f} ms ({verdict} the {ADDED_LATENCY_TARGET_MS} ms goal)")
    engine_rate = rates[f"engine, {clients} connections"]
    engine_results = results[f"engine, {clients} connections"]
    print(f"engine signatures made: {engine_results['signatures']} for {engine_results['requests']} signed requests")
    print(f"botocore SigV4 add_auth alone: {_signing_cost()['microsecondsPerSignature']:.0f} µs per signature")
    for name, rate in rates.items():
        if name.startswith(("aiohttp", "Locust")):
            print(f"engine / {name}: {engine_rate / rate:.2f}x requests/s")


if __name__ == "__main__":
    main()
