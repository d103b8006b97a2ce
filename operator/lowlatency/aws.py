"""The one place that builds AWS clients and decides what an AWS error means.

Clients: one boto3 session, one client per (service, region), built when first used (a region whose resources use
no VPC endpoint never gets an EC2 client) and shared by all handlers (boto3 clients are thread-safe; sessions are
not, so clients are made under a lock), each measured for the operator's metrics. Each client's connection pool is
as large as the number of threads making AWS calls, so that no call waits for a connection. Every
client has botocore's adaptive retry mode (token-bucket client-side rate limiting plus exponential backoff for
throttling and 5xx), bounded connect and read timeouts, and honours the standard endpoint overrides
(``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_<SERVICE>``, the shared config file) exactly as boto3 does, unless an
explicit endpoint URL is configured.

Errors: :func:`aws_call` turns what botocore raises into one of four kinds: the request may succeed later
(throttling, 5xx, network), it never will as sent (validation, access denied: surfaced to the user, naming what AWS
rejected), it exceeds an account quota (surfaced, naming the quota, and asked again slowly: the quota may be raised),
or the resource is not there (which the reconciler treats as an observation, not a failure).
"""

from __future__ import annotations

import enum
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
import botocore.config
import botocore.exceptions
import botocore.parsers

from lowlatency.observability import instrument_client

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_sagemaker import SageMakerClient

Service = Literal["sagemaker", "application-autoscaling", "ec2"]


@dataclass(frozen=True)
class AwsSettings:
    """How the operator reaches AWS."""

    default_region: str = "us-east-1"
    endpoint_url: str | None = None
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0
    max_attempts: int = 5
    max_pool_connections: int = 10  # botocore's default; the operator sets its AWS worker count


class AwsClients:
    """Shared, lazily built clients per service and region."""

    def __init__(self, settings: AwsSettings) -> None:
        self.settings = settings
        self._session = boto3.session.Session()
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._config = botocore.config.Config(
            retries={"mode": "adaptive", "max_attempts": settings.max_attempts},
            connect_timeout=settings.connect_timeout_seconds,
            read_timeout=settings.read_timeout_seconds,
            max_pool_connections=settings.max_pool_connections,
            user_agent_extra="lowlatency-operator",
        )

    def region(self, requested: str | None) -> str:
        return requested or self.settings.default_region

    @overload
    def client(self, service: Literal["sagemaker"], region: str) -> SageMakerClient: ...
    @overload
    def client(self, service: Literal["application-autoscaling"], region: str) -> ApplicationAutoScalingClient: ...
    @overload
    def client(self, service: Literal["ec2"], region: str) -> EC2Client: ...

    def client(self, service: Service, region: str) -> Any:
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                client = self._session.client(
                    service,
                    region_name=region,
                    endpoint_url=self.settings.endpoint_url,
                    config=self._config,
                )
                instrument_client(client)
                self._clients[key] = client
            return self._clients[key]

    def for_region(self, region: str) -> RegionClients:
        return RegionClients(self, region)


@dataclass(frozen=True)
class RegionClients:
    """The clients one resource's reconciliation uses, all in its region, each built (once, shared) on first use."""

    clients: AwsClients
    region: str

    @property
    def sagemaker(self) -> SageMakerClient:
        return self.clients.client("sagemaker", self.region)

    @property
    def autoscaling(self) -> ApplicationAutoScalingClient:
        return self.clients.client("application-autoscaling", self.region)

    @property
    def ec2(self) -> EC2Client:
        return self.clients.client("ec2", self.region)


class ErrorKind(enum.Enum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    QUOTA = "quota"
    NOT_FOUND = "not-found"


class AwsError(Exception):
    """An AWS call that failed, classified, with a message that names the operation and what AWS said."""

    def __init__(self, action: str, kind: ErrorKind, code: str, message: str) -> None:
        operation = action.rpartition(":")[2]
        super().__init__(f"{operation} failed: {code}: {message}" if code else f"{operation} failed: {message}")
        self.action = action
        self.operation = operation
        self.kind = kind
        self.code = code
        self.aws_message = message

    @property
    def quota(self) -> str | None:
        """The exceeded quota's name, when AWS names it ("The account-level service limit '<name>' is ...")."""
        named = _QUOTA_NAME.search(self.aws_message) if self.kind is ErrorKind.QUOTA else None
        return named[1] if named else None


_THROTTLING_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
}
_TRANSIENT_CODES = _THROTTLING_CODES | {
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "ConcurrentUpdateException",
    "ConcurrentModificationException",
    # Application Auto Scaling's internal error, a 400 whose code says it is the service's fault:
    # botocore application-autoscaling InternalServiceException
    "InternalServiceException",
}
# An account quota: the request goes through once the quota is raised (botocore sagemaker ResourceLimitExceeded;
# Application Auto Scaling's LimitExceededException).
_QUOTA_CODES = {"ResourceLimitExceeded", "LimitExceededException"}
_QUOTA_NAME = re.compile(r"service limit '([^']+)'")
_NOT_FOUND_CODES = {"ResourceNotFound", "ResourceNotFoundException", "ObjectNotFoundException"}
# SageMaker answers "no such resource" with a ValidationException whose message says so.
_NOT_FOUND_MESSAGES = ("Could not find", "does not exist", "not found")
_ALREADY_EXISTS_MESSAGES = ("already existing", "already exists")
# CreateModel's answer to a ModelDataUrl naming no S3 object ('Could not find model data at s3://...'; botocore
# sagemaker ContainerDefinition.ModelDataUrl): the spec's artifact is missing, not the model being created; asking
# again cannot help until it is uploaded or the spec changes.
_ARTIFACT_MISSING_MESSAGE = "Could not find model data"
# CreateEndpoint (and CreateEndpointConfig) read the config and models they use with an eventually consistent read:
# one created a moment ago may not be found yet, and asking again shortly succeeds
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpoint.html).
_DEPENDENCY_MISSING_MESSAGES = ("Could not find endpoint configuration", 'Could not find model "')
# SageMaker refuses to change an endpoint that is changing ('Cannot update in-progress endpoint "<arn>".'): the
# endpoint is busy, often with the operator's own request whose answer was lost, and the next pass sees where it goes.
# Application Auto Scaling refuses to register the variant of an endpoint that is not InService ("The status should be
# in 'InService' to register it as a scalable target"): the same, seen from the other service.
_BUSY_MESSAGES = ("in-progress endpoint", "should be in 'InService'")


# AccessDenied messages name the caller ("User: arn:aws:sts::123456789012:assumed-role/op/i-0ab is not
# authorized..."): the operator's own identity must not reach status or events, which every tenant can read.
_CALLER_IDENTITY = re.compile(r"arn:aws[a-z\-]*:(sts|iam)::[0-9]{12}:(assumed-role|user|federated-user)/[^\s,;]+")
OPERATOR_IDENTITY = "<the operator's AWS identity>"


def redact(message: str) -> str:
    return _CALLER_IDENTITY.sub(OPERATOR_IDENTITY, message)


def classify(action: str, error: Exception) -> AwsError:
    """What an exception raised by botocore means for the reconciler (``action`` as in IAM: service:Operation)."""
    if isinstance(error, botocore.exceptions.ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        message = redact(str(details.get("Message", "")) or str(error))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        creating = action.rpartition(":")[2].startswith("Create")
        if code == "ValidationException" and _ARTIFACT_MISSING_MESSAGE in message:
            return AwsError(action, ErrorKind.PERMANENT, code, message)
        if creating and code == "ValidationException" and any(text in message for text in _DEPENDENCY_MISSING_MESSAGES):
            return AwsError(action, ErrorKind.TRANSIENT, code, message)
        if creating and code.endswith(".NotFound"):
            # EC2 names the missing id: a subnet or security group the spec refers to, never what is being created.
            # Asking again cannot help; the user must correct the spec.
            return AwsError(action, ErrorKind.PERMANENT, code, message)
        if (
            code in _NOT_FOUND_CODES
            or code.endswith(".NotFound")
            or (
                code in {"ValidationException", "ValidationError"}
                and any(text in message for text in _NOT_FOUND_MESSAGES)
            )
        ):
            return AwsError(action, ErrorKind.NOT_FOUND, code, message)
        if code in _QUOTA_CODES:
            return AwsError(action, ErrorKind.QUOTA, code, message)
        busy = code == "ValidationException" and any(text in message for text in _BUSY_MESSAGES)
        if code in _TRANSIENT_CODES or status >= 500 or busy:
            return AwsError(action, ErrorKind.TRANSIENT, code, message)
        return AwsError(action, ErrorKind.PERMANENT, code, message)
    if isinstance(error, botocore.exceptions.NoCredentialsError | botocore.exceptions.NoRegionError):
        return AwsError(action, ErrorKind.PERMANENT, type(error).__name__, redact(str(error)))
    if isinstance(error, botocore.exceptions.BotoCoreError | botocore.parsers.ResponseParserError):
        # Connection refused/reset, timeouts, truncated or garbled responses: the network, not the request.
        return AwsError(action, ErrorKind.TRANSIENT, type(error).__name__, redact(str(error)))
    raise error


def is_already_exists(error: AwsError) -> bool:
    """SageMaker's answer to creating a name that exists (a ValidationException, not a distinct code)."""
    return error.kind is ErrorKind.PERMANENT and any(text in error.aws_message for text in _ALREADY_EXISTS_MESSAGES)


@contextmanager
def aws_call(action: str) -> Iterator[None]:
    """Run one AWS call, re-raising its failure as a classified :class:`AwsError`.

    ``action`` is the call's IAM action (``sagemaker:CreateModel``): the IAM policy shipped in docs/ is checked
    against the literal actions of every ``aws_call`` in the code, so name each call exactly.
    """
    try:
        yield
    except (
        botocore.exceptions.ClientError,
        botocore.exceptions.BotoCoreError,
        botocore.parsers.ResponseParserError,
    ) as error:
        raise classify(action, error) from error
