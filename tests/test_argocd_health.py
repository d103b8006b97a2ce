"""The Argo CD health check, run in Lua 5.1 (Argo CD's gopher-lua dialect) against LowLatencyEndpoint objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51

from lowlatency.api import Status

REPO = Path(__file__).resolve().parent.parent
HEALTH_LUA = REPO / "docs" / "argocd" / "health.lua"
ARGOCD_CM = REPO / "docs" / "argocd" / "argocd-cm.yaml"
HEALTH_KEY = "resource.customizations.health.lowlatency.io_LowLatencyEndpoint"


def health(obj: dict[str, Any]) -> tuple[str, str]:
    """Run the script as Argo CD does: the live object in the global ``obj``, a table returned."""
    lua = lua51.LuaRuntime()
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(HEALTH_LUA.read_text())
    return str(result["status"]), str(result["message"])


def condition(type_: str, status: str, generation: int, reason: str = "", message: str = "") -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": "2026-11-23T19:31:27Z",
    }


def endpoint(generation: int, status: dict[str, Any] | None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "lowlatency.io/v1alpha1",
        "kind": "LowLatencyEndpoint",
        "metadata": {"name": "bid-filter", "namespace": "adtech", "generation": generation},
        "spec": {"instanceType": "ml.c5.xlarge"},
    }
    if status is not None:
        Status.model_validate(status)  # every fixture is a status the contract allows
        obj["status"] = status
    return obj


CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "not yet seen by the operator": (endpoint(1, None), "Progressing", "Waiting for the operator"),
    "status without a phase": (endpoint(1, {"kopf": {"progress": {}}}), "Progressing", "Waiting for the operator"),
    "creating": (
        endpoint(
            1,
            {
                "phase": "Creating",
                "conditions": [condition("Ready", "False", 1, "Creating", "SageMaker endpoint is Creating")],
            },
        ),
        "Progressing",
        "SageMaker endpoint is Creating",
    ),
    "retrying after a transient error": (
        endpoint(
            1,
            {
                "phase": "Pending",
                "conditions": [condition("Ready", "False", 1, "Retrying", "Retrying after: ThrottlingException")],
            },
        ),
        "Progressing",
        "Retrying after: ThrottlingException",
    ),
    "in service at the current generation": (
        endpoint(
            3,
            {
                "phase": "InService",
                "observedGeneration": 3,
                "conditions": [
                    condition("Ready", "True", 3, "InService"),
                    condition("Degraded", "False", 3),
                    condition("Benchmarked", "True", 3),
                ],
            },
        ),
        "Healthy",
        "SageMaker endpoint is InService",
    ),
    "stale generation: a spec change the operator has not acted on yet": (
        endpoint(
            4,
            {
                "phase": "InService",
                "observedGeneration": 3,
                "conditions": [condition("Ready", "True", 3, "InService")],
            },
        ),
        "Progressing",
        "Rolling out generation 4 (generation 3 is live)",
    ),
    "updating to a new generation": (
        endpoint(
            4,
            {
                "phase": "Updating",
                "observedGeneration": 3,
                "conditions": [condition("Ready", "True", 4, "Updating", "Moving to the new configuration")],
            },
        ),
        "Progressing",
        "Moving to the new configuration",
    ),
    "failed at the current generation": (
        endpoint(
            2,
            {
                "phase": "Failed",
                "failureReason": "Invalid spec: instanceCount must be at least 1",
                "conditions": [
                    condition("Ready", "False", 2, "InvalidSpec", "Invalid spec: instanceCount must be at least 1")
                ],
            },
        ),
        "Degraded",
        "Invalid spec: instanceCount must be at least 1",
    ),
    "failed with only a failure reason": (
        endpoint(1, {"phase": "Failed", "failureReason": "CreateEndpoint failed: ResourceLimitExceeded"}),
        "Degraded",
        "CreateEndpoint failed: ResourceLimitExceeded",
    ),
    "failed before, and the spec was changed since": (
        endpoint(
            5,
            {
                "phase": "Failed",
                "conditions": [condition("Ready", "False", 4, "Rejected", "AWS rejected the request")],
            },
        ),
        "Progressing",
        "Rolling out generation 5",
    ),
    "degraded: the rollout failed and the previous configuration serves": (
        endpoint(
            6,
            {
                "phase": "InService",
                "observedGeneration": 5,
                "conditions": [
                    condition("Ready", "True", 6, "InService", "Serving the previous configuration"),
                    condition("Degraded", "True", 6, "Rejected", "AWS rejected the request: UpdateEndpoint failed"),
                ],
            },
        ),
        "Degraded",
        "AWS rejected the request: UpdateEndpoint failed",
    ),
    "a degradation of an older generation is over": (
        endpoint(
            7,
            {
                "phase": "InService",
                "observedGeneration": 7,
                "conditions": [
                    condition("Ready", "True", 7, "InService"),
                    condition("Degraded", "True", 6, "Rejected", "AWS rejected the request"),
                ],
            },
        ),
        "Healthy",
        "SageMaker endpoint is InService",
    ),
    "deleting": (
        endpoint(3, {"phase": "Deleting", "observedGeneration": 3}),
        "Progressing",
        "SageMaker endpoint is Deleting",
    ),
}


@pytest.mark.parametrize(("obj", "expected_status", "expected_message"), CASES.values(), ids=CASES.keys())
def test_health(obj: dict[str, Any], expected_status: str, expected_message: str) -> None:
    status, message = health(obj)
    assert status == expected_status
    assert message.startswith(expected_message)


def test_the_argocd_cm_snippet_carries_the_script() -> None:
    config_map = yaml.safe_load(ARGOCD_CM.read_text())
    assert config_map["kind"] == "ConfigMap"
    assert config_map["metadata"] == {
        "name": "argocd-cm",
        "namespace": "argocd",
        "labels": {"app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd"},
    }
    assert config_map["data"] == {HEALTH_KEY: HEALTH_LUA.read_text()}
