"""The AWS emulator: moto in server mode on 127.0.0.1, extended so that SageMaker behaves like SageMaker.

The operator, the tests and ``lowlatency-operator demo`` reach it exactly as they reach AWS: boto3 clients with
``endpoint_url`` (or ``AWS_ENDPOINT_URL``) pointing at :attr:`AwsEmulator.url`, over HTTP, signed with test
credentials. It serves SageMaker (models, endpoint configs, endpoints with their real lifecycle, tags), S3 (the
model artifacts CreateModel looks for), the SageMaker Runtime (InvokeEndpoint routed to a model server), Application
Auto Scaling and EC2 interface VPC endpoints; every other service moto knows is there too, unchanged.

What real AWS does at each point and how it is imitated is described in the modules: :mod:`.sagemaker` (endpoint
lifecycle, updates, failures, invocations), :mod:`.tags` (SageMaker's tags), :mod:`.deployments` (DeploymentConfig
rules), :mod:`.artifacts` (model artifacts in S3), :mod:`.autoscaling` (scalable targets, policies, scheduled
actions), :mod:`.ec2` (interface VPC endpoints), :mod:`.metrics` (SageMaker's invocation metrics in CloudWatch, and its
percentiles), :mod:`.gateway` (protocols, errors, call log, injected faults).

moto's backends live in the process, so one emulator runs per process at a time; :meth:`AwsEmulator.reset` empties
it between tests far faster than starting a new one.

Use::

    with AwsEmulator(delays=Delays(create=0.5), model_artifacts=["s3://acme-models/rtb/model.tar.gz"]) as aws:
        sagemaker = boto3.client("sagemaker", endpoint_url=aws.url, region_name=aws.region, ...)
        aws.sagemaker.fail_next_update("adtech-bid-filter", "Alarm bid-filter-p99-high went into ALARM")
        aws.faults.throttle("DescribeEndpoint", times=2)
        assert aws.count("UpdateEndpoint") == 0
        assert not aws.errors  # nothing the emulator raised on its own (answered as 500 InternalFailure)
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

from moto.backends import get_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from lowlatency.emulators.aws import artifacts, autoscaling, ec2, metrics, sagemaker
from lowlatency.emulators.aws.autoscaling import ApplicationAutoScaling
from lowlatency.emulators.aws.endpoint_state import Clock, Delays
from lowlatency.emulators.aws.gateway import ApiCall, EmulatorError, Faults, Gateway
from lowlatency.emulators.aws.pricing import PriceListApi
from lowlatency.emulators.aws.sagemaker import SageMakerEndpoints
from lowlatency.emulators.aws.tags import SageMakerTags

__all__ = ["ApiCall", "AwsEmulator", "Delays", "EmulatorError", "Faults", "SageMakerEndpoints", "boto3_settings"]

TEST_ACCESS_KEY = "testing"
# Operations that change something: at steady state an operator should make none of them.
MUTATING_PREFIXES = ("Create", "Update", "Delete", "Put", "Register", "Deregister", "Add", "Modify", "Tag", "Untag")


_moto_extended = False
_extend_lock = threading.Lock()


def _extend_moto_once() -> None:
    """Install the extensions that must live in moto's own classes (process-wide, as moto's backends are)."""
    global _moto_extended  # noqa: PLW0603 - one installation per process, like the classes it changes
    with _extend_lock:
        if not _moto_extended:
            autoscaling.extend_moto()
            ec2.extend_moto()
            metrics.extend_moto()
            sagemaker.extend_moto()
            _moto_extended = True


class _QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without a line on stderr per request (the call log records them)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class AwsEmulator:
    """moto's server with the SageMaker lifecycle, on a free port of 127.0.0.1 (or the given one)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        delays: Delays | None = None,
        clock: Clock = time.time,
        model_artifacts: Iterable[str] = (),
    ) -> None:
        """``model_artifacts``: S3 URLs of model artifacts put in the emulator's S3 at start and after every reset
        (SageMaker's CreateModel refuses an artifact that is not there)."""
        self.region = region
        self._model_artifacts = tuple(model_artifacts)
        self._host, self._port = host, port
        self._initial_delays = delays or Delays()
        self._gateway = Gateway(DomainDispatcherApplication(create_backend_app))
        self.sagemaker = SageMakerEndpoints(self._gateway, clock, self._initial_delays)
        self._autoscaling = ApplicationAutoScaling(self._gateway, self.sagemaker)
        self.sagemaker_tags = SageMakerTags(self._gateway)
        self.pricing = PriceListApi(self._gateway)  # the Price List Query API, from an offer file: .pricing
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def faults(self) -> Faults:
        return self._gateway.faults

    @property
    def errors(self) -> list[EmulatorError]:
        """The exceptions the emulator raised on its own (its bugs, or moto's) since the start or the last reset:
        each was answered with a 500 InternalFailure, which clients retry as AWS's transient fault."""
        return self._gateway.errors

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the AWS emulator is not started")
        return f"http://{self._server.host}:{self._server.port}"

    def environment(self) -> dict[str, str]:
        """What a process needs to reach this emulator instead of AWS (boto3 reads these)."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": TEST_ACCESS_KEY,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def start(self) -> Self:
        _extend_moto_once()
        self._put_model_artifacts()
        self._server = make_server(
            self._host, self._port, self._gateway, threaded=True, request_handler=_QuietRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every resource, injected failure and fault, route, logged call and recorded error; restore the
        initial delays."""
        with self._gateway.lock:
            get_backend("moto_api")["global"].reset()
            self._put_model_artifacts()
            self.sagemaker.reset(self._initial_delays)
            self._autoscaling.reset()
            self._gateway.faults.clear()
            self._gateway.log.clear()
            self._gateway.forget_errors()

    def put_model_artifact(self, s3_url: str) -> None:
        """Upload a model artifact (``s3://bucket/key``) as a user does before deploying it."""
        with self._gateway.lock:
            artifacts.put_artifact(s3_url, self.region)

    def _put_model_artifacts(self) -> None:
        for s3_url in self._model_artifacts:
            self.put_model_artifact(s3_url)

    def calls(
        self, *, service: str | None = None, operation: str | None = None, resource: str | None = None
    ) -> list[ApiCall]:
        """The calls answered since the start or the last reset, oldest first, optionally filtered."""
        return self._gateway.log.calls(service=service, operation=operation, resource=resource)

    def count(self, operation: str | None = None, *, service: str | None = None, resource: str | None = None) -> int:
        return len(self.calls(service=service, operation=operation, resource=resource))

    def counts(self) -> Counter[str]:
        """Calls per operation."""
        return Counter(call.operation for call in self.calls())

    def mutating_calls(self) -> list[ApiCall]:
        return [call for call in self.calls() if call.operation.startswith(MUTATING_PREFIXES)]

    def reset_calls(self) -> None:
        self._gateway.log.clear()


def boto3_settings(emulator: AwsEmulator) -> dict[str, Any]:
    """Keyword arguments for ``boto3.client(service, **boto3_settings(emulator))``."""
    return {
        "endpoint_url": emulator.url,
        "region_name": emulator.region,
        "aws_access_key_id": TEST_ACCESS_KEY,
        "aws_secret_access_key": TEST_ACCESS_KEY,
    }
