"""Fixtures that start the Kubernetes API emulator and hand out a kubeconfig and the real kubectl.

Every test gets a fresh API server (it starts in milliseconds), so tests are isolated without any reset logic.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from lowlatency.emulators.kubernetes import KubernetesEmulator
from tools import kubectl_binary

ROOT = Path(__file__).resolve().parent.parent
CRD_PATH = ROOT / "crds" / "lowlatencyendpoints.lowlatency.io.yaml"


class Kubectl(Protocol):
    def __call__(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture
def kubernetes_emulator() -> Iterator[KubernetesEmulator]:
    with KubernetesEmulator(bookmark_seconds=1) as emulator:
        yield emulator
        # A request that broke the emulator itself (not an API error it answered on purpose) fails the test.
        assert not emulator.api.errors, emulator.api.errors


@pytest.fixture
def kubeconfig(kubernetes_emulator: KubernetesEmulator, tmp_path: Path) -> Path:
    return kubernetes_emulator.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path: Path) -> Kubectl:
    """The real kubectl against the emulator; raises with its stderr on failure unless ``check=False``."""
    binary = kubectl_binary()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("KUBE")}
    environment |= {"KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}

    def run(
        *args: str, check: bool = True, input: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        command = [str(binary), "--cache-dir", str(tmp_path / "kube-cache"), *args]
        result = subprocess.run(
            command, env=environment, capture_output=True, text=True, input=input, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    return run


@pytest.fixture
def lowlatency_crd(kubectl: Kubectl) -> dict[str, Any]:
    """The project's CRD applied as users apply it; its resource is served once this returns."""
    kubectl("apply", "-f", str(CRD_PATH))
    result = kubectl("get", "crd", "lowlatencyendpoints.lowlatency.io", "-o", "json")
    crd: dict[str, Any] = json.loads(result.stdout)
    return crd
