"""Fixtures of the reliability tests (``pytest_plugins = ["e2e_fixtures", "reliability_fixtures"]``): the fault
proxy in front of the AWS emulator, and one operator process that reaches AWS only through it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e_support import NAMESPACE
from fixtures_kubernetes import Kubectl
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.emulators.faults import FaultProxy
from reliability_support import OPERATOR_ARGUMENTS, ProxiedEndToEnd, operator_through


@pytest.fixture
def proxy(aws_emulator: AwsEmulator) -> Iterator[FaultProxy]:
    with FaultProxy(aws_emulator.url, seed=6) as running:
        yield running


@pytest.fixture
def operator_arguments() -> list[str]:
    """The operator's flags beyond the test timings; a module may override this fixture."""
    return OPERATOR_ARGUMENTS


@pytest.fixture
def proxied(
    *,
    lowlatency_crd: dict[str, Any],
    kubectl: Kubectl,
    kubeconfig: Path,
    aws_emulator: AwsEmulator,
    proxy: FaultProxy,
    operator_arguments: list[str],
    tmp_path: Path,
) -> Iterator[ProxiedEndToEnd]:
    """The CRD installed, the namespace created, and the operator running with every AWS call through the proxy."""
    kubectl("create", "namespace", NAMESPACE)
    operator = operator_through(proxy, aws_emulator, kubeconfig, tmp_path / "operator.log", operator_arguments)
    operator.start()
    try:
        yield ProxiedEndToEnd(kubectl, operator, aws_emulator, proxy)
    finally:
        operator.stop()
