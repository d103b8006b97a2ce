"""Fixtures that start the AWS emulator (moto in server mode with SageMaker lifecycle).

One server runs for the whole session (moto's state is process-wide, and starting it costs more than emptying it);
each test that asks for ``aws_emulator`` gets it emptied: no resources, injected failures, faults, routes or logged
calls, and the test delays below; the model artifacts the tests' specs name are in its S3. A test during which the
emulator raised an error of its own (a bug of the emulator or of moto, answered as a 500 that the operator retries as
AWS's transient fault) fails, as the Kubernetes emulator's fixture makes it; the operator processes of the test have
stopped by then, as the fixtures that start them depend on this one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.config
import pytest

from emulator_requests import make_config, status
from lowlatency.aws import AwsClients, AwsSettings
from lowlatency.emulators.aws import AwsEmulator, Delays, boto3_settings
from lowlatency.reconciler import EndpointReconciler
from specs import MODEL_ARTIFACTS

# Short enough for tests to pass through every state in well under a second, long enough to observe each state.
TEST_DELAYS = Delays(create=0.5, update=0.5, rollback=0.25, capacity=0.25, delete=0.25)
NO_RETRIES = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1})

AwsClientFactory = Callable[..., Any]


class ManualClock:
    """A clock that moves only when told to, for the emulator's time-driven state machine."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


@pytest.fixture(scope="session")
def aws_server() -> Iterator[AwsEmulator]:
    """The session's AWS emulator; tests normally ask for ``aws_emulator``, which empties it first."""
    with AwsEmulator(delays=TEST_DELAYS, model_artifacts=MODEL_ARTIFACTS) as emulator:
        yield emulator


@pytest.fixture
def aws_emulator(aws_server: AwsEmulator) -> Iterator[AwsEmulator]:
    aws_server.reset()
    yield aws_server
    assert not aws_server.errors, "the AWS emulator raised errors of its own:\n" + "\n".join(
        map(str, aws_server.errors)
    )


@pytest.fixture
def aws_clock(aws_emulator: AwsEmulator) -> ManualClock:
    """Drive the emulator's SageMaker lifecycle by hand: nothing completes until the test advances the clock.

    The next test's reset puts the real clock back.
    """
    clock = ManualClock()
    aws_emulator.sagemaker.clock = clock
    return clock


@pytest.fixture
def aws_environment(aws_emulator: AwsEmulator) -> dict[str, str]:
    """Environment variables that point a process (the operator) at the emulator."""
    return aws_emulator.environment()


@pytest.fixture
def aws_client(aws_emulator: AwsEmulator) -> AwsClientFactory:
    """``aws_client("sagemaker")``: a boto3 client of the emulator; ``retries=False`` to see every error as sent."""

    def make(service: str, *, retries: bool = True) -> Any:
        config = None if retries else NO_RETRIES
        return boto3.client(service, config=config, **boto3_settings(aws_emulator))  # type: ignore[call-overload]

    return make


@pytest.fixture
def sagemaker(aws_client: AwsClientFactory) -> Any:
    """A SageMaker client of the emulator that sees every error as sent (no retries)."""
    return aws_client("sagemaker", retries=False)


@pytest.fixture
def autoscaling(aws_client: AwsClientFactory) -> Any:
    """An Application Auto Scaling client of the emulator that sees every error as sent (no retries)."""
    return aws_client("application-autoscaling", retries=False)


@pytest.fixture
def in_service(sagemaker: Any, aws_clock: ManualClock) -> str:
    """An InService endpoint ``bid`` on config ``bid-v1`` (2 instances of ml.c5.xlarge), on the hand-driven clock."""
    make_config(sagemaker, "bid-v1")
    sagemaker.create_endpoint(EndpointName="bid", EndpointConfigName="bid-v1")
    aws_clock.advance(TEST_DELAYS.create)
    assert status(sagemaker, "bid") == "InService"
    return "bid"


@pytest.fixture
def reconciler_on_emulator(aws_emulator: AwsEmulator, monkeypatch: pytest.MonkeyPatch) -> EndpointReconciler:
    """The operator's reconciler with its own AWS clients, as `lowlatency-operator run` builds them, on the emulator
    (passes are played by hand with :mod:`aws_passes`)."""
    for variable, value in aws_emulator.environment().items():
        monkeypatch.setenv(variable, value)
    return EndpointReconciler(AwsClients(AwsSettings(endpoint_url=aws_emulator.url)))
