"""The ``e2e`` fixture: the CRD installed, the namespace created, one operator process for the test.

A plugin module of its own (``pytest_plugins = ["e2e_fixtures"]`` in a test module), apart from the helpers that
test modules import from :mod:`e2e_support`, so that pytest can register it before anything imports it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e_support import EndToEnd, operator_in_namespace
from fixtures_kubernetes import Kubectl
from lowlatency.emulators.aws import AwsEmulator


@pytest.fixture
def e2e(
    lowlatency_crd: dict[str, Any],
    kubectl: Kubectl,
    kubeconfig: Path,
    aws_emulator: AwsEmulator,
    tmp_path: Path,
) -> Iterator[EndToEnd]:
    """The CRD installed, the namespace created, and one operator process running for the test.

    The process is stopped before ``aws_emulator`` checks that the AWS emulator raised no error of its own, so that
    check sees every call the operator made; so is any operator process of a fixture or test that asks for it."""
    with operator_in_namespace(kubectl, kubeconfig, aws_emulator.environment(), tmp_path / "operator.log") as operator:
        yield EndToEnd(kubectl, operator, aws_emulator)
