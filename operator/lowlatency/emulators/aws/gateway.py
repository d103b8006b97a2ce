"""The front door of the AWS emulator: a WSGI layer in front of moto's server application.

Every request passes through here. It is parsed the way AWS reads it (the service and region from the SigV4
credential scope, the operation from ``X-Amz-Target`` for the JSON protocols, from ``Action=`` for EC2's query
protocol, from the path for the SageMaker Runtime's REST protocol), recorded in the call log, checked against the
injected faults, then either answered by a handler of the emulator or passed on to moto unchanged.

moto's backends are plain dictionaries without locks, while the server answers each request on its own thread; so
requests are handled one at a time under one lock, which also makes every state transition of the emulator atomic.
Handlers registered as ``concurrent`` (InvokeEndpoint, which waits on a model server) take the lock themselves only
around what reads shared state.

Errors are rendered as each protocol does: ``{"__type": code, "message": ...}`` with ``x-amzn-ErrorType`` for the
JSON services (SageMaker, Application Auto Scaling, SageMaker Runtime), an ``<Errors>`` XML document for EC2.

An exception the emulator raises on its own while answering (a bug of a handler here or of moto, or an operation moto
does not implement) is answered with a 500 ``InternalFailure``, as AWS answers its own faults, and recorded in
:attr:`Gateway.errors`: a client retries a 500 as AWS's transient fault, so without the record such a bug would only
show as a test waiting for something that never comes. What the emulator answers on purpose is no such error: a
:class:`ServiceError` (AWS's refusal, or an injected fault), and the error answers moto renders in AWS's shape.
"""

from __future__ import annotations

import io
import json
import threading
import time
import traceback
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from xml.sax.saxutils import escape

RUNTIME: Final = "sagemaker-runtime"
_RUNTIME_PATH_SUFFIXES: Final = {"invocations": "InvokeEndpoint", "async-invocations": "InvokeEndpointAsync"}
# Parameters that name the resource a call is about, in the order they are looked for.
_RESOURCE_PARAMETERS: Final = (
    "EndpointName",
    "EndpointConfigName",
    "ModelName",
    "ResourceArn",
    "ResourceId",
    "VpcEndpointId",
    "VpcEndpointId.1",
    "VpcEndpointIds",
    "ResourceId.1",
    "VpcId",
)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class ApiRequest:
    """One AWS API request as the service reads it."""

    service: str
    operation: str
    region: str
    params: Mapping[str, Any]
    body: bytes
    headers: Mapping[str, str]

    @property
    def resource(self) -> str | None:
        for name in _RESOURCE_PARAMETERS:
            value = self.params.get(name)
            if isinstance(value, list):
                value = value[0] if value else None
            if value:
                text = str(value)
                return text.rpartition("/")[2] if text.startswith("arn:") else text
        return None


@dataclass(frozen=True)
class ApiCall:
    """One entry of the call log: an API call the emulator answered."""

    service: str
    operation: str
    resource: str | None
    region: str
    at: float
    duration_seconds: float
    status: int
    error_code: str | None


@dataclass(frozen=True)
class EmulatorError:
    """An exception the emulator raised on its own while answering a call (answered with a 500)."""

    service: str
    operation: str
    resource: str | None
    traceback: str = field(repr=False)

    def __str__(self) -> str:
        return f"{self.service} {self.operation} ({self.resource or 'no resource'}):\n{self.traceback}"


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def error_code(self) -> str | None:
        if self.status < 400:
            return None
        for name, value in self.headers:
            if name.lower() == "x-amzn-errortype":
                return value.partition(":")[0]
        marker = b"<Code>"
        if marker in self.body:
            return self.body.split(marker, 1)[1].split(b"<", 1)[0].decode()
        try:
            return str(json.loads(self.body).get("__type", "")).rpartition("#")[2] or None
        except (ValueError, AttributeError):
            return None

    def json(self) -> Any:
        return json.loads(self.body)


class ServiceError(Exception):
    """An error answer, rendered in the protocol of the service that was called."""

    def __init__(self, code: str, message: str, status: int = 400, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.extra = dict(extra or {})


def validation_error(message: str) -> ServiceError:
    """The answer of SageMaker and Application Auto Scaling to a request they refuse as sent."""
    return ServiceError("ValidationException", message)


class Parameters(dict[str, Any]):
    """A request's parameters: one that a handler requires and the request lacks is refused as AWS refuses it
    (botocore checks required members before sending; other clients may not)."""

    def __missing__(self, name: str) -> Any:
        raise validation_error(
            f"1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
        )


def json_reply(payload: Mapping[str, Any], status: int = 200) -> Reply:
    body = json.dumps(payload, default=_json_default).encode()
    return Reply(
        status, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", str(uuid.uuid4()))], body
    )


def _json_default(value: Any) -> Any:
    if hasattr(value, "timestamp"):
        return value.timestamp()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def error_reply(request_service: str, error: ServiceError) -> Reply:
    request_id = str(uuid.uuid4())
    if request_service == "ec2":
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error><Code>{escape(error.code)}</Code>"
            f"<Message>{escape(error.message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        return Reply(error.status, [("Content-Type", "text/xml")], body.encode())
    payload = {"__type": error.code, "message": error.message, **error.extra}
    headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("x-amzn-ErrorType", error.code),
        ("x-amzn-RequestId", request_id),
    ]
    return Reply(error.status, headers, json.dumps(payload).encode())


PassThrough = Callable[[], Reply]
Handler = Callable[[ApiRequest, PassThrough], Reply]


@dataclass
class _Fault:
    service: str | None
    operation: str
    remaining: int
    error: ServiceError


@dataclass
class _Route:
    handler: Handler
    concurrent: bool


class Faults:
    """Make the next calls of an operation fail the way an overloaded or broken AWS service does, or the way AWS
    refuses a request outright."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._faults: list[_Fault] = []

    def throttle(self, operation: str, times: int = 1, *, service: str | None = None) -> None:
        """The next ``times`` calls answer as a throttled call does (EC2: 503 RequestLimitExceeded)."""
        if service == "ec2":
            error = ServiceError("RequestLimitExceeded", "Request limit exceeded.", 503)
        else:
            error = ServiceError("ThrottlingException", "Rate exceeded", 400)
        self._add(_Fault(service, operation, times, error))

    def server_error(self, operation: str, times: int = 1, *, service: str | None = None, status: int = 500) -> None:
        """The next ``times`` calls answer with an internal error, as AWS does when it has an incident: each service
        with its own code (Application Auto Scaling's is botocore application-autoscaling InternalServiceException,
        for which the service model names no HTTP status: a test may send it as a 400)."""
        code = {"ec2": "InternalError", "application-autoscaling": "InternalServiceException"}.get(
            service or "", "InternalFailure"
        )
        self._add(_Fault(service, operation, times, ServiceError(code, "We encountered an internal error.", status)))

    def reject(self, operation: str, code: str, message: str, times: int = 1, *, service: str | None = None) -> None:
        """The next ``times`` calls are refused as AWS refuses a request it will never accept, whatever is in it
        (400 with ``code``: ValidationException, AccessDeniedException, ...); retrying the same request is useless."""
        self._add(_Fault(service, operation, times, ServiceError(code, message, 400)))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add(self, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def take(self, request: ApiRequest) -> ServiceError | None:
        """The injected error for this request, if any (call with the lock held)."""
        for fault in self._faults:
            if fault.operation == request.operation and fault.service in (None, request.service):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault.error
        return None


class CallLog:
    """Every call the emulator answered, in order; read from Python by tests and benchmarks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[ApiCall] = []

    def record(self, call: ApiCall) -> None:
        with self._lock:
            self._calls.append(call)

    def calls(
        self, *, service: str | None = None, operation: str | None = None, resource: str | None = None
    ) -> list[ApiCall]:
        with self._lock:
            calls = list(self._calls)
        return [
            call
            for call in calls
            if (service is None or call.service == service)
            and (operation is None or call.operation == operation)
            and (resource is None or call.resource == resource)
        ]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


@dataclass
class Gateway:
    """The WSGI application the server runs: parse, log, inject faults, answer or pass on to moto."""

    moto: WsgiApp
    lock: threading.RLock = field(default_factory=threading.RLock)
    log: CallLog = field(default_factory=CallLog)
    before_each: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.faults = Faults(self.lock)
        self._routes: dict[tuple[str, str], _Route] = {}
        self._errors: list[EmulatorError] = []
        self._errors_lock = threading.Lock()  # not the gateway's lock: concurrent handlers fail without holding it

    @property
    def errors(self) -> list[EmulatorError]:
        """The exceptions the emulator raised on its own since the start or the last :meth:`forget_errors`."""
        with self._errors_lock:
            return list(self._errors)

    def forget_errors(self) -> None:
        with self._errors_lock:
            self._errors.clear()

    def route(self, service: str, operation: str, handler: Handler, *, concurrent: bool = False) -> None:
        self._routes[(service, operation)] = _Route(handler, concurrent)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started, wall = time.perf_counter(), time.time()
        request = parse_request(environ)
        reply = self._answer(request, environ)
        self.log.record(
            ApiCall(
                request.service,
                request.operation,
                request.resource,
                request.region,
                wall,
                time.perf_counter() - started,
                reply.status,
                reply.error_code,
            )
        )
        if environ.get("REQUEST_METHOD") == "HEAD":  # the length of what a GET would answer (S3's HeadObject)
            headers = reply.headers
        else:
            headers = [(name, value) for name, value in reply.headers if name.lower() != "content-length"]
            headers.append(("Content-Length", str(len(reply.body))))
        start_response(f"{reply.status} {_REASONS.get(reply.status, 'Status')}", headers)
        return [reply.body]

    def _answer(self, request: ApiRequest, environ: Environ) -> Reply:
        route = self._routes.get((request.service, request.operation))

        def pass_through() -> Reply:
            environ["wsgi.input"] = io.BytesIO(request.body)
            return _call_wsgi(self.moto, environ)

        try:
            if route is not None and route.concurrent:
                with self.lock:
                    self._prepare(request)
                return route.handler(request, pass_through)
            with self.lock:
                self._prepare(request)
                return route.handler(request, pass_through) if route is not None else pass_through()
        except ServiceError as error:
            return error_reply(request.service, error)
        except Exception as error:  # a server answers 500 for its own faults, as AWS does; kept for the tests
            with self._errors_lock:
                self._errors.append(
                    EmulatorError(request.service, request.operation, request.resource, traceback.format_exc())
                )
            return error_reply(
                request.service, ServiceError("InternalFailure", f"{type(error).__name__}: {error}", 500)
            )

    def _prepare(self, request: ApiRequest) -> None:
        for hook in self.before_each:
            hook()
        fault = self.faults.take(request)
        if fault is not None:
            raise fault


def _call_wsgi(app: WsgiApp, environ: Environ) -> Reply:
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = headers
        return lambda _data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return Reply(captured["status"], list(captured["headers"]), body)


def parse_request(environ: Environ) -> ApiRequest:
    """Read a request the way AWS does, leaving ``wsgi.input`` readable again for moto."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
    headers["content-type"] = environ.get("CONTENT_TYPE", "")
    service, region = _credential_scope(headers.get("authorization", ""))
    path = environ.get("PATH_INFO", "")
    parts = path.strip("/").split("/")
    if len(parts) == 3 and parts[0] == "endpoints" and parts[2] in _RUNTIME_PATH_SUFFIXES:
        name = urllib.parse.unquote(parts[1])
        operation = _RUNTIME_PATH_SUFFIXES[parts[2]]
        return ApiRequest(RUNTIME, operation, region, Parameters(EndpointName=name), body, headers)
    target = headers.get("x-amz-target")
    if target:
        return ApiRequest(service, target.rpartition(".")[2], region, Parameters(_json_object(body)), body, headers)
    if headers["content-type"].startswith("application/x-www-form-urlencoded"):
        form = Parameters(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        return ApiRequest(service, form.get("Action", "Unknown"), region, form, body, headers)
    query = Parameters(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
    operation = query.get("Action") or f"{environ.get('REQUEST_METHOD', 'GET')} {path}"
    return ApiRequest(service, operation, region, query, body, headers)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _credential_scope(authorization: str) -> tuple[str, str]:
    # "AWS4-HMAC-SHA256 Credential=KEY/20261125/us-east-1/sagemaker/aws4_request, SignedHeaders=..., Signature=..."
    for part in authorization.replace(",", " ").split():
        if part.startswith("Credential="):
            scope = part.removeprefix("Credential=").split("/")
            if len(scope) == 5:
                return scope[3], scope[2]
    return "unknown", "us-east-1"


_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    424: "Failed Dependency",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
