"""How does one operator cope with hundreds of endpoints? Timings, AWS calls, memory, on the local emulators.

    .venv/bin/python benchmarks/scale.py [N ...] [--steady-seconds 300] [--create-delay 60] [--json]

For each N (default 100 300 1000), in turn:

- this process starts the Kubernetes API emulator (fresh per N) and the AWS emulator (emptied per N), with
  SageMaker taking ``--create-delay`` seconds to create an endpoint;
- the operator runs alone in a process of its own, ``python -m lowlatency.cli run`` with the production defaults
  (poll 30 s, resync 300 s, tick 5 s, 16 AWS workers) unless flags here say otherwise, and a liveness endpoint;
- N LowLatencyEndpoints are created through the Kubernetes API (the kubernetes client, a few threads), and a watch
  records when each one's ``status.phase`` first reads InService;
- once all are InService, a steady window of ``--steady-seconds`` with nothing changing;
- finally each endpoint is described once (after the windows, so these calls are not counted): its
  ``LastModifiedTime`` is when the emulator put it InService.

Printed per N: apply → status InService per resource (median, p99, max); the emulator reporting InService →
status InService (the target at 1,000: all within 2 minutes); AWS calls per resource by operation during creation
and during the steady window; mutating calls in the steady window (target: none); DescribeEndpoint calls per
endpoint in the window against the bound window/resync + 1; the operator's peak RSS (VmHWM; target < 200 MB) and
CPU; the latency of kopf's liveness endpoint, answered on the operator's event loop (a blocked loop shows here);
and how busy the emulators were (their process's CPU, the AWS emulator's serialised request time), to tell whether
they rather than the operator set the pace. Figures depend on the machine and are only printed, never asserted.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
import kubernetes
import yaml

from lowlatency import GROUP, PLURAL, VERSION
from lowlatency.emulators.aws import MUTATING_PREFIXES, ApiCall, AwsEmulator, Delays, boto3_settings
from lowlatency.emulators.kubernetes import KubernetesEmulator
from lowlatency.naming import endpoint_name

ROOT = Path(__file__).resolve().parent.parent
CRD_PATH = ROOT / "crds" / "lowlatencyendpoints.lowlatency.io.yaml"
NAMESPACE = "scale"
CREATE_THREADS = 4
WATCH_SECONDS = 5
GONE = 410
LIVENESS_INTERVAL_SECONDS = 1.0
EMULATOR_LAG_TARGET_SECONDS = 120.0
RSS_TARGET_MB = 200.0
SPEC: dict[str, Any] = {
    "model": {
        "modelDataUrl": "s3://acme-models/rtb/xgboost/model.tar.gz",
        "image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        "executionRoleArn": "arn:aws:iam::123456789012:role/SageMakerExecution",
    },
    "instanceType": "ml.c5.xlarge",
    "instanceCount": 1,
    "autoscaling": {"minCapacity": 1, "maxCapacity": 4, "targetInvocationsPerInstance": 6000},
    "tags": {"team": "bidding"},
}


@dataclass(frozen=True)
class Spread:
    """Median, 99th percentile (nearest rank) and maximum of a sample."""

    median: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        ordered = sorted(values)
        rank = max(0, -(-99 * len(ordered) // 100) - 1)
        return cls(statistics.median(ordered), ordered[rank], ordered[-1])

    def __str__(self) -> str:
        return f"{self.median:.1f} / {self.p99:.1f} / {self.max:.1f}"


@dataclass(frozen=True)
class RunResult:
    endpoints: int
    operator_code: str  # the commit the operator ran from, "-dirty" with uncommitted changes to its package
    apply_seconds: float  # creating the N objects through the Kubernetes API
    all_in_service_seconds: float  # first apply → last status InService
    apply_to_in_service: Spread
    emulator_to_status: Spread  # the emulator reporting InService → status InService
    creation_calls: dict[str, int]
    steady_seconds: float
    steady_calls: dict[str, int]
    steady_mutating_calls: int
    steady_describes_per_endpoint_max: int
    steady_describes_bound: int
    operator_peak_rss_mb: float
    operator_cpu_seconds_creation: float
    operator_cpu_seconds_steady: float
    operator_log_lines_per_second_steady: float
    liveness_ms: Spread
    emulators_cpu_share_creation: float  # CPU seconds of this process (emulators, watch) per wall second
    aws_emulator_busy_share_creation: float  # share of the wall time the AWS emulator had a request in hand
    load_average_creation: float  # the machine's 1-minute load average when all were InService (other work too)


@dataclass(frozen=True)
class Settings:
    steady_seconds: float
    create_delay: float
    poll_seconds: float
    resync_seconds: float
    tick_seconds: float
    aws_workers: int
    timeout_seconds: float
    log_dir: Path


# -- the operator, alone in its process --


class OperatorUnderTest:
    """``python -m lowlatency.cli run`` with the given flags; its memory and CPU read from /proc."""

    def __init__(self, kubeconfig: Path, aws_environment: dict[str, str], log_path: Path, flags: list[str]) -> None:
        self.liveness_url = f"http://127.0.0.1:{_free_port()}/healthz"
        environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "KUBE"))}
        environment |= aws_environment | {"KUBECONFIG": str(kubeconfig)}
        command = [sys.executable, "-m", "lowlatency.cli", "run", "--liveness", self.liveness_url, *flags]
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)

    def wait_until_live(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the operator exited with {self.process.returncode}")
            if liveness_latency(self.liveness_url) is not None:
                return
            time.sleep(0.2)
        raise RuntimeError(f"the operator's liveness endpoint did not answer within {timeout} s")

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024

    def cpu_seconds(self) -> float:
        # /proc/<pid>/stat: the command may hold spaces, so count fields after its closing parenthesis.
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        user, system = int(fields[11]), int(fields[12])
        return (user + system) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def liveness_latency(url: str) -> float | None:
    """Seconds kopf took to answer its liveness endpoint, or None if it did not answer 200."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            answer.read()
            ok = answer.status == 200
    except (urllib.error.URLError, OSError):
        return None
    return time.perf_counter() - started if ok else None


class LivenessSampler(threading.Thread):
    """Asks the liveness endpoint every second; a handler blocking the event loop delays the answers."""

    def __init__(self, url: str) -> None:
        super().__init__(name="liveness-sampler", daemon=True)
        self.url = url
        self.latencies: list[float] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(LIVENESS_INTERVAL_SECONDS):
            latency = liveness_latency(self.url)
            if latency is not None:
                self.latencies.append(latency)

    def stop(self) -> None:
        self._stopping.set()
        self.join()


# -- the Kubernetes side: creating the resources, watching their status --


def custom_objects_api(url: str) -> Any:
    configuration = kubernetes.client.Configuration()
    configuration.host = url
    configuration.connection_pool_maxsize = CREATE_THREADS + 2
    return kubernetes.client.CustomObjectsApi(kubernetes.client.ApiClient(configuration))


class InServiceWatch(threading.Thread):
    """Records when each resource's status.phase is first InService, from a watch of the namespace."""

    def __init__(self, api: Any) -> None:
        super().__init__(name="in-service-watch", daemon=True)
        self.api = api
        self.in_service: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._resource_version = ""
        self._relist()

    def run(self) -> None:
        while not self._stopping.is_set():
            stream = kubernetes.watch.Watch().stream(  # type: ignore[no-untyped-call]
                self.api.list_namespaced_custom_object,
                GROUP,
                VERSION,
                NAMESPACE,
                PLURAL,
                resource_version=self._resource_version,
                timeout_seconds=WATCH_SECONDS,
            )
            try:
                for event in stream:
                    self._resource_version = event["object"]["metadata"]["resourceVersion"]
                    self._record(event["object"], time.time())
            except kubernetes.client.ApiException as error:
                if error.status != GONE:
                    raise
                self._relist()  # the history moved past our resourceVersion (as after etcd's compaction)

    def _relist(self) -> None:
        listed = self.api.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)
        seen = time.time()
        for obj in listed["items"]:
            self._record(obj, seen)
        self._resource_version = listed["metadata"]["resourceVersion"]

    def _record(self, obj: dict[str, Any], seen: float) -> None:
        if (obj.get("status") or {}).get("phase") == "InService":
            with self._lock:
                self.in_service.setdefault(obj["metadata"]["name"], seen)

    def count(self) -> int:
        with self._lock:
            return len(self.in_service)

    def stop(self) -> None:
        self._stopping.set()
        self.join()


def create_resources(api: Any, names: Sequence[str]) -> dict[str, float]:
    """Create the resources a few at a time; when each create was answered (the object exists from then on)."""

    def create(name: str) -> tuple[str, float]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "LowLatencyEndpoint",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": SPEC,
        }
        api.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)
        return name, time.time()

    with concurrent.futures.ThreadPoolExecutor(CREATE_THREADS) as pool:
        return dict(pool.map(create, names))


@contextmanager
def kubernetes_cluster(directory: Path) -> Iterator[tuple[KubernetesEmulator, Path]]:
    with KubernetesEmulator() as emulator:
        emulator.install_crd(yaml.safe_load(CRD_PATH.read_text()))
        configuration = kubernetes.client.Configuration()
        configuration.host = emulator.url
        core = kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(configuration))
        core.create_namespace(kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=NAMESPACE)))
        yield emulator, emulator.write_kubeconfig(directory / "kubeconfig")


# -- one run --


def run(endpoints: int, aws: AwsEmulator, settings: Settings) -> RunResult:
    aws.reset()
    names = [f"ep-{index:05d}" for index in range(endpoints)]
    flags = [
        *("--poll-seconds", str(settings.poll_seconds)),
        *("--resync-seconds", str(settings.resync_seconds)),
        *("--tick-seconds", str(settings.tick_seconds)),
        *("--aws-workers", str(settings.aws_workers)),
    ]
    with (
        tempfile.TemporaryDirectory() as directory,
        kubernetes_cluster(Path(directory)) as (emulator, kubeconfig),
    ):
        api = custom_objects_api(emulator.url)
        log_path = settings.log_dir / f"operator-{endpoints}.log"
        operator_code = code_version()
        operator = OperatorUnderTest(kubeconfig, aws.environment(), log_path, flags)
        watch = InServiceWatch(api)
        try:
            operator.wait_until_live()
            sampler = LivenessSampler(operator.liveness_url)
            watch.start()
            sampler.start()
            started, cpu_started, operator_cpu_started = time.time(), time.process_time(), operator.cpu_seconds()
            applied = create_resources(api, names)
            apply_seconds = time.time() - started
            wait_until_all_in_service(watch, operator, endpoints, started + settings.timeout_seconds)
            all_in_service = time.time()
            cpu_creation = time.process_time() - cpu_started
            operator_cpu_creation = operator.cpu_seconds() - operator_cpu_started
            load_average = os.getloadavg()[0]
            operator_cpu_steady_start, log_lines_steady_start = operator.cpu_seconds(), _lines(log_path)
            time.sleep(settings.steady_seconds)
            steady_end = time.time()
            operator_cpu_steady = operator.cpu_seconds() - operator_cpu_steady_start
            log_lines_steady = _lines(log_path) - log_lines_steady_start
            peak_rss = operator.peak_rss_mb()
            sampler.stop()
        finally:
            operator.stop()
            watch.stop()
    calls = aws.calls()
    creation = [call for call in calls if call.at < all_in_service]
    steady = [call for call in calls if all_in_service <= call.at < steady_end]
    emulator_in_service = emulator_in_service_times(aws, names)
    timeline = {
        "resources": {
            name: {"applied": applied[name], "emulatorInService": emulator_in_service[name], "statusInService": seen}
            for name, seen in watch.in_service.items()
        },
        "awsCalls": [asdict(call) for call in calls],
    }
    (settings.log_dir / f"timeline-{endpoints}.json").write_text(json.dumps(timeline))
    return RunResult(
        endpoints=endpoints,
        operator_code=operator_code,
        apply_seconds=apply_seconds,
        all_in_service_seconds=all_in_service - started,
        apply_to_in_service=Spread.of([watch.in_service[name] - applied[name] for name in names]),
        emulator_to_status=Spread.of([watch.in_service[name] - emulator_in_service[name] for name in names]),
        creation_calls=dict(Counter(call.operation for call in creation)),
        steady_seconds=steady_end - all_in_service,
        steady_calls=dict(Counter(call.operation for call in steady)),
        steady_mutating_calls=sum(call.operation.startswith(MUTATING_PREFIXES) for call in steady),
        steady_describes_per_endpoint_max=max(describes_per_endpoint(steady, names).values()),
        steady_describes_bound=int((steady_end - all_in_service) // settings.resync_seconds) + 1,
        operator_peak_rss_mb=peak_rss,
        operator_cpu_seconds_creation=operator_cpu_creation,
        operator_cpu_seconds_steady=operator_cpu_steady,
        operator_log_lines_per_second_steady=log_lines_steady / (steady_end - all_in_service),
        liveness_ms=Spread.of([latency * 1000 for latency in sampler.latencies]),
        emulators_cpu_share_creation=cpu_creation / (all_in_service - started),
        aws_emulator_busy_share_creation=busy_seconds(creation) / (all_in_service - started),
        load_average_creation=load_average,
    )


def code_version() -> str:
    """The checkout's commit, marked dirty when the package has uncommitted changes (the operator runs from the
    checkout, so the code can differ between runs of one invocation)."""

    def git(*arguments: str) -> str:
        result = subprocess.run(["git", "-C", str(ROOT), *arguments], capture_output=True, text=True, check=False)
        return result.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("-dirty" if git("status", "--porcelain", "--", "operator/lowlatency") else "")


def _lines(path: Path) -> int:
    with path.open("rb") as log:
        return sum(1 for _ in log)


def wait_until_all_in_service(watch: InServiceWatch, operator: OperatorUnderTest, count: int, deadline: float) -> None:
    while watch.count() < count:
        if operator.process.poll() is not None:
            raise RuntimeError(f"the operator exited with {operator.process.returncode}")
        if time.time() > deadline:
            raise RuntimeError(f"only {watch.count()} of {count} resources were InService before the time limit")
        time.sleep(0.2)


def busy_seconds(calls: Iterable[ApiCall]) -> float:
    """Seconds in which the AWS emulator had a request in hand (the union of the calls' intervals): it answers one
    at a time, so a call waiting for its turn means that another is being answered."""
    total, covered_until = 0.0, 0.0
    for start, end in sorted((call.at, call.at + call.duration_seconds) for call in calls):
        total += max(0.0, end - max(start, covered_until))
        covered_until = max(covered_until, end)
    return total


def describes_per_endpoint(calls: Iterable[ApiCall], names: Sequence[str]) -> dict[str, int]:
    described = Counter(call.resource for call in calls if call.operation == "DescribeEndpoint")
    return {name: described[endpoint_name(NAMESPACE, name)] for name in names}


def emulator_in_service_times(aws: AwsEmulator, names: Sequence[str]) -> dict[str, float]:
    """When the emulator put each endpoint InService: its LastModifiedTime, nothing having changed it since."""
    sagemaker = boto3.client("sagemaker", **boto3_settings(aws))
    times = {}
    for name in names:
        described = sagemaker.describe_endpoint(EndpointName=endpoint_name(NAMESPACE, name))
        if described["EndpointStatus"] != "InService":
            raise RuntimeError(f"{described['EndpointName']} is {described['EndpointStatus']} in the emulator")
        times[name] = described["LastModifiedTime"].timestamp()
    return times


# -- output --


def table(results: Sequence[RunResult], settings: Settings) -> str:
    def per_resource(calls: dict[str, int], operation: str, result: RunResult) -> str:
        return f"{calls[operation] / result.endpoints:.2f}" if operation in calls else "-"

    rows: list[tuple[str, list[str]]] = [
        ("endpoints", [str(r.endpoints) for r in results]),
        ("operator code", [r.operator_code for r in results]),
        ("apply N objects (s)", [f"{r.apply_seconds:.1f}" for r in results]),
        ("first apply → all InService (s)", [f"{r.all_in_service_seconds:.1f}" for r in results]),
        ("apply → InService, med/p99/max (s)", [str(r.apply_to_in_service) for r in results]),
        (
            f"emulator InService → status, med/p99/max (s; target max ≤ {EMULATOR_LAG_TARGET_SECONDS:.0f})",
            [str(r.emulator_to_status) for r in results],
        ),
        ("AWS calls per resource, creation:", ["" for _ in results]),
    ]
    for operation in sorted({op for r in results for op in r.creation_calls}):
        rows.append((f"  {operation}", [per_resource(r.creation_calls, operation, r) for r in results]))
    rows.append(("  all", [f"{sum(r.creation_calls.values()) / r.endpoints:.2f}" for r in results]))
    rows.append(("AWS calls per resource, steady window:", ["" for _ in results]))
    for operation in sorted({op for r in results for op in r.steady_calls}):
        rows.append((f"  {operation}", [per_resource(r.steady_calls, operation, r) for r in results]))
    rows.append(("  all", [f"{sum(r.steady_calls.values()) / r.endpoints:.2f}" for r in results]))
    rows += [
        ("steady window (s)", [f"{r.steady_seconds:.0f}" for r in results]),
        ("mutating calls, steady (target 0)", [str(r.steady_mutating_calls) for r in results]),
        (
            "DescribeEndpoint per endpoint, steady: max (bound)",
            [f"{r.steady_describes_per_endpoint_max} ({r.steady_describes_bound})" for r in results],
        ),
        (f"operator peak RSS (MB; target < {RSS_TARGET_MB:.0f})", [f"{r.operator_peak_rss_mb:.0f}" for r in results]),
        (
            "operator CPU s, creation / steady",
            [f"{r.operator_cpu_seconds_creation:.1f} / {r.operator_cpu_seconds_steady:.1f}" for r in results],
        ),
        ("operator log lines per second, steady", [f"{r.operator_log_lines_per_second_steady:.1f}" for r in results]),
        ("liveness answer, med/p99/max (ms)", [str(r.liveness_ms) for r in results]),
        ("emulators' process CPU share, creation", [f"{r.emulators_cpu_share_creation:.0%}" for r in results]),
        ("AWS emulator busy share, creation", [f"{r.aws_emulator_busy_share_creation:.0%}" for r in results]),
        ("machine load average (1 min), creation", [f"{r.load_average_creation:.1f}" for r in results]),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [
        f"operator: poll {settings.poll_seconds:g} s, resync {settings.resync_seconds:g} s, tick "
        f"{settings.tick_seconds:g} s, {settings.aws_workers} AWS workers; emulator create delay "
        f"{settings.create_delay:g} s"
    ]
    lines += [f"{label:<{width}}  " + "  ".join(f"{value:>16}" for value in values) for label, values in rows]
    return "\n".join(lines)


def as_json(results: Sequence[RunResult], settings: Settings) -> str:
    document = {
        "settings": {**asdict(settings), "log_dir": str(settings.log_dir)},
        "runs": [asdict(r) for r in results],
    }
    return json.dumps(document, indent=2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("endpoints", nargs="*", type=int, default=[100, 300, 1000], help="N (default 100 300 1000)")
    parser.add_argument("--steady-seconds", type=float, default=300.0, help="steady window after all are InService")
    parser.add_argument("--create-delay", type=float, default=60.0, help="seconds the emulator takes to create")
    parser.add_argument("--poll-seconds", type=float, default=30.0, help="the operator's --poll-seconds")
    parser.add_argument("--resync-seconds", type=float, default=300.0, help="the operator's --resync-seconds")
    parser.add_argument("--tick-seconds", type=float, default=5.0, help="the operator's --tick-seconds")
    parser.add_argument("--aws-workers", type=int, default=16, help="the operator's --aws-workers")
    parser.add_argument("--timeout-seconds", type=float, default=900.0, help="give up if not all InService by then")
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help="where to keep the operator's log and each run's timeline (per resource: applied, InService in the "
        "emulator and in status; every AWS call); default: a new temporary directory",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    arguments = parser.parse_args(argv)
    log_dir = arguments.log_dir or Path(tempfile.mkdtemp(prefix="scale-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        steady_seconds=arguments.steady_seconds,
        create_delay=arguments.create_delay,
        poll_seconds=arguments.poll_seconds,
        resync_seconds=arguments.resync_seconds,
        tick_seconds=arguments.tick_seconds,
        aws_workers=arguments.aws_workers,
        timeout_seconds=arguments.timeout_seconds,
        log_dir=log_dir,
    )
    results = []
    artifacts = [SPEC["model"]["modelDataUrl"]]
    with AwsEmulator(delays=Delays(create=arguments.create_delay), model_artifacts=artifacts) as aws:
        for endpoints in arguments.endpoints:
            results.append(run(endpoints, aws, settings))
            print(f"N={endpoints} done; operator log in {log_dir}", file=sys.stderr)
    print(as_json(results, settings) if arguments.json else table(results, settings))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(the emulators' process peaked at {peak:.0f} MB RSS)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
