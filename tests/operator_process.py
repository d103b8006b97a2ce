"""The operator as users run it: the `lowlatency-operator run` process, reaching the emulators like real services.

It gets a kubeconfig (as in a cluster) and the AWS emulator's endpoint through the standard AWS environment, so
nothing in the operator knows it is under test. Killing it with SIGKILL is how tests crash it at any moment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

# Fast cadences for tests; production defaults are 30 s while moving and 300 s at steady state.
TEST_TIMING = ["--poll-seconds", "0.3", "--resync-seconds", "2", "--tick-seconds", "0.1"]

T = TypeVar("T")


class OperatorProcess:
    def __init__(
        self, kubeconfig: Path, aws_environment: Mapping[str, str], log_path: Path, extra_args: Sequence[str] = ()
    ) -> None:
        self.kubeconfig = kubeconfig
        self.aws_environment = dict(aws_environment)
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        environment = {
            **{key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "KUBECONFIG"))},
            **self.aws_environment,
            "KUBECONFIG": str(self.kubeconfig),
            "PYTHONUNBUFFERED": "1",
        }
        command = [sys.executable, "-m", "lowlatency.cli", "run", "--verbose", *TEST_TIMING, *self.extra_args]
        log = self.log_path.open("ab")
        log.write(f"\n===== start {self.starts + 1}: {' '.join(command)}\n".encode())
        log.flush()
        self._process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.starts += 1

    def kill(self) -> None:
        """Crash it: no cleanup, no finalizer handling, no goodbye."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(10)
        self._process = None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def logs(self, tail: int = 80) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        return "\n".join(lines[-tail:])


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout: float = 30.0,
    what: str = "condition",
    operator: OperatorProcess | None = None,
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with the operator's log tail if it never does."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)
    logs = f"\n--- operator log ---\n{operator.logs()}" if operator is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last seen: {last!r}{logs}")
