"""The operator process as deployed: JSON logs, Prometheus metrics served while it runs, Events on transitions.
Against the Kubernetes API emulator and the AWS emulator."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from fixtures_kubernetes import Kubectl
from operator_process import OperatorProcess, wait_for
from specs import bid_filter_spec

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def in_service_metric(port: int) -> Samples | None:
    try:
        samples = scrape(port)
    except OSError:
        return None  # not serving yet
    labels = frozenset({("namespace", "adtech"), ("name", "bid-filter"), ("phase", "InService")})
    return samples if samples.get(("lowlatency_endpoint_phase", labels)) == 1 else None


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("lowlatency_crd")
def test_metrics_logs_and_events_of_a_create_and_delete(
    kubectl: Kubectl, kubeconfig: Path, aws_environment: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "operator.log"
    arguments = ["--metrics-port", str(port), "--log-format", "json"]
    operator = OperatorProcess(kubeconfig, aws_environment, log, arguments)
    document = {
        "apiVersion": "lowlatency.io/v1alpha1",
        "kind": "LowLatencyEndpoint",
        "metadata": {"namespace": "adtech", "name": "bid-filter"},
        "spec": bid_filter_spec(),
    }
    operator.start()
    try:
        kubectl("create", "namespace", "adtech")
        kubectl("apply", "-f", "-", input=yaml.safe_dump(document))
        samples = wait_for(lambda: in_service_metric(port), timeout=40, what="InService in metrics", operator=operator)

        create = frozenset({("service", "sagemaker"), ("operation", "CreateEndpoint"), ("outcome", "success")})
        assert samples[("lowlatency_aws_api_calls_total", create)] == 1
        timed = frozenset({("service", "sagemaker"), ("operation", "DescribeEndpoint")})
        assert samples[("lowlatency_aws_api_call_duration_seconds_count", timed)] >= 1
        assert samples[("lowlatency_reconcile_passes_total", frozenset({("outcome", "moving")}))] >= 1
        assert samples[("lowlatency_endpoints", frozenset({("phase", "InService")}))] == 1

        events = json.loads(kubectl("get", "events", "-n", "adtech", "-o", "json").stdout)["items"]
        reasons = [event["reason"] for event in events if event["involvedObject"]["name"] == "bid-filter"]
        assert {"Creating", "InService"} <= set(reasons)

        kubectl("delete", "lle", "bid-filter", "-n", "adtech", "--timeout=60s", timeout=70)
        gone = scrape(port)  # the finalizer went after the deletion pass forgot the endpoint
        assert gone[("lowlatency_endpoints", frozenset({("phase", "InService")}))] == 0
        assert not [key for key in gone if key[0] == "lowlatency_endpoint_phase"], "the deleted endpoint's series go"
    finally:
        operator.stop()

    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert records, "JSON log lines"
    assert {"time", "level", "logger", "message"} <= records[0].keys()
    assert any(record.get("object", {}).get("name") == "bid-filter" for record in records)
