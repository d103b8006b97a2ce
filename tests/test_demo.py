"""`lowlatency-operator demo` as a user runs it on a fresh machine: the example goes InService and is benchmarked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO_SECONDS = 60


@pytest.mark.timeout(DEMO_SECONDS + 15)
def test_the_demo_ends_in_service_with_the_measured_p99() -> None:
    # Nothing of this machine's AWS or Kubernetes configuration: the demo brings its own.
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "KUBE"))}
    demo = subprocess.run(
        [sys.executable, "-m", "lowlatency.cli", "demo"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=DEMO_SECONDS,
        check=False,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "phase=InService" in demo.stdout
    p99 = re.search(r"^  p99Ms: ([0-9.]+)$", demo.stdout, re.MULTILINE)
    assert p99 is not None, demo.stdout
    assert float(p99.group(1)) > 0
    assert f"Benchmarked p99 {p99.group(1)} ms" in demo.stdout
