"""`lowlatency-operator demo`: the operator's main job on the embedded default, with no cluster and no AWS account.

One process holds a Kubernetes API emulator, an AWS emulator (SageMaker with its real lifecycle, invocations served
by a local model server with realistic latency) and the operator itself, which reaches both over HTTP exactly as in
production: through a kubeconfig and through ``AWS_ENDPOINT_URL``. The demo then does what a user does: it installs
the CRD, applies a `LowLatencyEndpoint`, and prints its status whenever it changes, until the endpoint is InService
at its current generation (and benchmarked, when the resource asks for a benchmark).

The benchmark's latencies are those of the emulators: the model server, the AWS emulator that forwards each
invocation to it and the operator's load generator share this one process, so they add milliseconds that a real
SageMaker endpoint measured from a pod in its region would not.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import kopf
import kubernetes
import yaml

from lowlatency import GROUP, PLURAL, VERSION, config, crd, handlers
from lowlatency.emulators.aws import AwsEmulator, Delays
from lowlatency.emulators.kubernetes import KubernetesEmulator
from lowlatency.emulators.model_server import LogNormal, ModelServer

EXAMPLE = Path("examples") / "bid-filter.yaml"
# SageMaker takes minutes to create an endpoint; the demo's AWS takes seconds, so that the whole story fits on a
# screen. The operator polls at a matching pace.
DEMO_DELAYS = Delays(create=4.0, update=4.0, rollback=1.0, capacity=1.0, delete=1.0)
DEMO_TIMING = config.Timing(poll_seconds=1.0, resync_seconds=15.0, tick_seconds=0.5)
# An XGBoost bid filter on ml.c5.xlarge answers in a few milliseconds, with a tail.
MODEL_LATENCY = LogNormal(p50_ms=3.0, p99_ms=9.0)
TIMEOUT_SECONDS = 180.0


def find_example(requested: str | None) -> Path:
    """The resource to apply: the one asked for, else the bundled example next to the checkout or the cwd."""
    if requested is not None:
        return Path(requested)
    checkout = Path(__file__).resolve().parents[2] / EXAMPLE
    return checkout if checkout.exists() else Path.cwd() / EXAMPLE


@dataclass(frozen=True)
class Snapshot:
    """What the demo prints of a resource's status: one line per change."""

    phase: str
    ready: str
    instances: str
    p99: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> Snapshot:
        status = obj.get("status") or {}
        ready = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), None)
        verdict = "-" if ready is None else f"{ready['status']} ({ready.get('reason', '')}: {ready.get('message', '')})"
        benchmark = status.get("benchmark") or {}
        return cls(
            phase=str(status.get("phase", "-")),
            ready=verdict.replace(": )", ")"),
            instances=str(status.get("currentInstanceCount", "-")),
            p99=f"{benchmark['p99Ms']} ms" if benchmark.get("p99Ms") is not None else "-",
        )

    def line(self, seconds: float) -> str:
        return (
            f"[{seconds:6.1f}s] phase={self.phase:<10} instances={self.instances:<3} p99={self.p99:<9} "
            f"Ready={self.ready}"
        )


def is_done(obj: Mapping[str, Any]) -> bool:
    """InService at the current generation, and benchmarked when the spec asks for it."""
    status = obj.get("status") or {}
    generation = obj["metadata"].get("generation")
    conditions = {c.get("type"): c for c in status.get("conditions", [])}
    ready = conditions.get("Ready", {})
    live = status.get("phase") == "InService" and ready.get("status") == "True"
    if not live or status.get("observedGeneration") != generation:
        return False
    if (obj.get("spec") or {}).get("benchmark") is None:
        return True
    benchmarked = conditions.get("Benchmarked", {})
    return bool(benchmarked.get("status") == "True" and benchmarked.get("observedGeneration") == generation)


class Operator:
    """The operator in this process: kopf on the main thread's event loop, as `lowlatency-operator run` has it."""

    def __init__(self, namespace: str) -> None:
        self.stop_flag = threading.Event()
        self.operator_config = config.OperatorConfig(timing=DEMO_TIMING, namespaces=(namespace,))

    def run(self) -> None:
        registry = kopf.OperatorRegistry()
        handlers.register(self.operator_config, registry)
        kopf.run(
            registry=registry,
            namespaces=list(self.operator_config.namespaces),
            standalone=True,
            stop_flag=self.stop_flag,
        )


def apply(api: kubernetes.client.CustomObjectsApi, document: Mapping[str, Any]) -> dict[str, Any]:
    namespace = document["metadata"]["namespace"]
    return cast(
        "dict[str, Any]", api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, dict(document))
    )


def follow(
    api: kubernetes.client.CustomObjectsApi, namespace: str, name: str, *, keep: bool, out: Any, operator: Operator
) -> bool:
    """Print each change of the resource's status; True once it is done (never, with ``keep``, until stopped)."""
    started = time.monotonic()
    last: Snapshot | None = None
    done = False
    try:
        while keep or time.monotonic() - started < TIMEOUT_SECONDS:
            obj = cast("dict[str, Any]", api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name))
            snapshot = Snapshot.of(obj)
            if snapshot != last:
                print(snapshot.line(time.monotonic() - started), file=out, flush=True)
                last = snapshot
            if not done and is_done(obj):
                done = True
                print("\nstatus:\n" + yaml.safe_dump(obj.get("status"), sort_keys=False), file=out, flush=True)
                if snapshot.p99 != "-":
                    print(
                        f"Benchmarked p99 {snapshot.p99}: the emulators and the load generator share this process, "
                        "so this is their latency, not SageMaker's.",
                        file=out,
                        flush=True,
                    )
                if not keep:
                    break
            time.sleep(0.25)
    except KeyboardInterrupt:
        pass
    finally:
        operator.stop_flag.set()
    return done


def main(*, keep: bool = False, example: str | None = None, out: Any = sys.stdout) -> int:
    document = yaml.safe_load(find_example(example).read_text())
    namespace, name = document["metadata"]["namespace"], document["metadata"]["name"]
    workdir = Path(tempfile.mkdtemp(prefix="lowlatency-demo-"))
    logging.basicConfig(filename=workdir / "operator.log", level=logging.INFO)
    # The emulated API server's access log would bury the operator's own lines.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    with (
        ModelServer(latency=MODEL_LATENCY) as model_server,
        AwsEmulator(delays=DEMO_DELAYS, model_artifacts=[document["spec"]["model"]["modelDataUrl"]]) as aws,
        KubernetesEmulator() as kube,
    ):
        aws.sagemaker.route_invocations(None, model_server.url)
        kubeconfig = kube.write_kubeconfig(workdir / "kubeconfig", namespace=namespace)
        os.environ.update({**aws.environment(), "KUBECONFIG": str(kubeconfig)})
        kube.install_crd(crd.custom_resource_definition())
        client = kubernetes.config.new_client_from_config(str(kubeconfig))  # type: ignore[no-untyped-call]
        kubernetes.client.CoreV1Api(client).create_namespace(
            kubernetes.client.V1Namespace(metadata=kubernetes.client.V1ObjectMeta(name=namespace))
        )
        custom_objects = kubernetes.client.CustomObjectsApi(client)
        print(f"Kubernetes API emulator: {kube.url}   (KUBECONFIG={kubeconfig})", file=out)
        print(f"AWS emulator:            {aws.url}   (SageMaker, Application Auto Scaling, EC2)", file=out)
        print(f"Operator log:            {workdir / 'operator.log'}\n", file=out)
        print(f"kubectl apply -f {find_example(example)}", file=out, flush=True)
        apply(custom_objects, document)

        operator = Operator(namespace)
        outcome: list[bool] = []
        watcher = threading.Thread(
            target=lambda: outcome.append(
                follow(custom_objects, namespace, name, keep=keep, out=out, operator=operator)
            ),
            name="demo-follow",
            daemon=True,
        )
        watcher.start()
        operator.run()
        watcher.join()
        # The emulators' own failures (their bugs, answered as 500s that the operator retried) fail the demo too.
        broken = [str(error) for error in aws.errors] + [repr(error) for error in kube.api.errors]
    if broken:
        print("\nThe emulators failed on their own:\n" + "\n".join(broken), file=out)
        return 1
    if not outcome or not outcome[0]:
        tail = (workdir / "operator.log").read_text().splitlines()[-30:]
        print(f"\n{name} did not become ready in {TIMEOUT_SECONDS:.0f}s; operator log:\n" + "\n".join(tail), file=out)
        return 1
    return 0
