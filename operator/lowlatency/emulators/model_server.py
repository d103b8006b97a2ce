"""A local model server speaking the SageMaker inference container contract, with injectable latency and faults.

What SageMaker does, and what this imitates:

- A hosting container answers ``GET /ping`` (200 when healthy; SageMaker probes it before sending traffic) and
  ``POST /invocations`` (the request body and Content-Type exactly as the client sent them to InvokeEndpoint; the
  response body and Content-Type go back to the client unchanged). This server echoes the request body, after a
  delay drawn from :attr:`ModelServer.latency`.
- The SageMaker Runtime (``POST /endpoints/<name>/invocations`` on ``runtime.sagemaker.<region>.amazonaws.com``)
  authenticates every request with SigV4 for service ``sagemaker``, rejecting a bad signature, a foreign access
  key or a timestamp more than 5 minutes off with 403 and an ``x-amzn-ErrorType`` header, then passes the body to
  the container and answers with its body, Content-Type and ``x-Amzn-Invoked-Production-Variant``. This server
  answers that path too, so that a load generator can be pointed at it as its runtime URL; it checks signatures
  (with botocore's SigV4 implementation) only when given credentials.
- The runtime names every answer, success or error, with a request id in ``x-amzn-RequestId`` (the header botocore's
  rest-json parser reads into ``ResponseMetadata.RequestId``, ``botocore.parsers.BaseRestParser``); this server does
  so on the runtime path, and keeps its own record of every invocation under that id (:class:`Served`: when its
  handler started and when its answer was ready), the truth a load generator's measurement of the same requests is
  judged against.
- Failures: the runtime names the AWS error in ``x-amzn-ErrorType`` (ModelError 424 for a container failure,
  ThrottlingException, InternalFailure 500, ServiceUnavailable 503, ValidationError 400). Injected error statuses
  (:attr:`ModelServer.errors`, status to probability) are answered on both paths, with that header on the runtime
  path.
- An instance has finite capacity: with ``slots``, at most that many requests are processed at once and the rest
  queue, so latency rises once the offered rate passes slots / service time, as on a saturated instance.
- :meth:`ModelServer.stall` holds every answer until a moment (a garbage-collection pause, a noisy neighbour).

With an ``ssl_context`` it serves HTTPS, as the real runtime does (only HTTPS). :class:`ModelServerProcess` runs it in
a process of its own, so that its record is taken by a process that the generator it measures cannot hold up.

Timers run on asyncio, whose epoll wait has millisecond resolution: a delay is honoured to within about 1 ms.
"""

from __future__ import annotations

import asyncio
import calendar
import math
import multiprocessing.connection
import random
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from statistics import NormalDist
from types import TracebackType
from typing import Any, Protocol

import botocore.auth
import botocore.awsrequest
import botocore.credentials
from aiohttp import web

# AWS accepts a request signed at most this far from its own clock.
MAX_CLOCK_SKEW_SECONDS = 300
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<headers>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_ERROR_TYPES = {
    400: "ValidationError",
    403: "AccessDeniedException",
    404: "ValidationError",
    424: "ModelError",
    429: "ThrottlingException",
    500: "InternalFailure",
    503: "ServiceUnavailable",
}


class Latency(Protocol):
    """A distribution of service times."""

    def sample(self, rng: random.Random) -> float:
        """One service time, seconds."""
        ...

    def percentile_ms(self, percentile: float) -> float:
        """The distribution's value at ``percentile`` (0-100), milliseconds."""
        ...


@dataclass(frozen=True)
class Fixed:
    ms: float

    def sample(self, rng: random.Random) -> float:
        return self.ms / 1000

    def percentile_ms(self, percentile: float) -> float:
        return self.ms


@dataclass(frozen=True)
class Normal:
    """Normally distributed, cut at zero."""

    mean_ms: float
    stdev_ms: float

    def sample(self, rng: random.Random) -> float:
        return max(0.0, rng.gauss(self.mean_ms, self.stdev_ms)) / 1000

    def percentile_ms(self, percentile: float) -> float:
        return max(0.0, NormalDist(self.mean_ms, self.stdev_ms).inv_cdf(percentile / 100))


@dataclass(frozen=True)
class LogNormal:
    """Log-normally distributed (the usual shape of service times), given by its median and 99th percentile."""

    p50_ms: float
    p99_ms: float

    @property
    def _sigma(self) -> float:
        return (math.log(self.p99_ms) - math.log(self.p50_ms)) / NormalDist().inv_cdf(0.99)

    def sample(self, rng: random.Random) -> float:
        return rng.lognormvariate(math.log(self.p50_ms), self._sigma) / 1000

    def percentile_ms(self, percentile: float) -> float:
        return math.exp(math.log(self.p50_ms) + self._sigma * NormalDist().inv_cdf(percentile / 100))


@dataclass(frozen=True)
class RuntimeCredentials:
    """The credentials the emulated runtime accepts signatures of."""

    access_key: str
    secret_key: str
    session_token: str | None = None


@dataclass(frozen=True)
class Served:
    """One invocation as the server saw it. Times are ``time.monotonic()``: on Linux one clock for every process of
    the machine, so that they compare with a client's in another process."""

    request_id: str
    received: float
    """When its handler started (the request read and parsed)."""
    answered: float
    """When its answer was ready to be written."""
    status: int

    @property
    def seconds(self) -> float:
        return self.answered - self.received


class ModelServer:
    """The server on a loopback port, in a thread of its own.

    ``latency``, ``errors`` and ``credentials`` may be changed while it runs, and :meth:`stall` called; ``slots``
    (concurrent requests processed) is fixed at construction. ``invocations``, ``bodies`` and
    ``signatures_verified`` count what it received, ``served`` records every invocation in the order received;
    ``lateness_max_ms`` is the most an answer came later than its latency (and stalls) asked, the scheduling delay
    of this process (timer resolution, GIL, a busy machine).
    """

    def __init__(
        self,
        *,
        latency: Latency | None = None,
        errors: dict[int, float] | None = None,
        slots: int | None = None,
        credentials: RuntimeCredentials | None = None,
        region: str = "us-east-1",
        seed: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.latency: Latency = latency or Fixed(0.0)
        self.errors: dict[int, float] = dict(errors or {})
        self._slots = slots
        self.credentials = credentials
        self.region = region
        self.invocations = 0
        self.bodies: Counter[bytes] = Counter()
        self.signatures_verified = 0
        self.served: list[Served] = []
        self.lateness_max_ms = 0.0
        self.ssl_context = ssl_context
        self._rng = random.Random(seed)
        self._stalled_until = 0.0
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._port: int = self._socket.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="model-server", daemon=True)
        self._started = threading.Event()
        self._stopping: asyncio.Event | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    def stall(self, seconds: float) -> None:
        """Hold every answer, in flight or arriving, until ``seconds`` from now."""
        self._stalled_until = time.monotonic() + seconds

    def start(self) -> ModelServer:
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self) -> None:
        if self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _serve(self) -> None:
        self._loop.run_until_complete(self._run())
        self._loop.close()

    async def _run(self) -> None:
        self._stopping = asyncio.Event()
        capacity = asyncio.Semaphore(self._slots) if self._slots else None
        app = web.Application()
        app.router.add_get("/ping", self._ping)

        async def container(request: web.Request) -> web.Response:
            return await self._invoke(request, capacity, runtime=False)

        async def runtime(request: web.Request) -> web.Response:
            return await self._invoke(request, capacity, runtime=True)

        app.router.add_post("/invocations", container)
        app.router.add_post("/endpoints/{name}/invocations", runtime)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, self._socket, ssl_context=self.ssl_context).start()
        self._started.set()
        await self._stopping.wait()
        await runner.cleanup()

    async def _ping(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def _invoke(self, request: web.Request, capacity: asyncio.Semaphore | None, runtime: bool) -> web.Response:
        received = time.monotonic()
        request_id = str(uuid.uuid4())
        response = await self._respond(request, capacity, runtime)
        if runtime:
            response.headers["x-amzn-RequestId"] = request_id
        # Both times are taken on this side of the wire: received after the request arrived, answered before the
        # answer is written. A client's time for the same request can only be longer, however late either process
        # is scheduled.
        self.served.append(Served(request_id, received, time.monotonic(), response.status))
        return response

    async def _respond(self, request: web.Request, capacity: asyncio.Semaphore | None, runtime: bool) -> web.Response:
        body = await request.read()
        if runtime and self.credentials is not None:
            refusal = self._authenticate(request, body)
            if refusal is not None:
                return refusal
        self.invocations += 1
        self.bodies[body] += 1
        status = self._draw_status()
        delay = self.latency.sample(self._rng)
        if capacity is None:
            await self._work(delay)
        else:
            async with capacity:
                await self._work(delay)
        content_type = request.headers.get("Content-Type", "application/octet-stream")
        if status == 200:
            headers = {"x-Amzn-Invoked-Production-Variant": "AllTraffic"} if runtime else {}
            return web.Response(body=body, headers=headers | {"Content-Type": content_type})
        return self._error(status, "injected failure", runtime)

    async def _work(self, delay: float) -> None:
        due = time.monotonic() + delay
        if delay > 0:
            await asyncio.sleep(delay)
        held = self._stalled_until - time.monotonic()
        if held > 0:
            due = self._stalled_until
            await asyncio.sleep(held)
        self.lateness_max_ms = max(self.lateness_max_ms, (time.monotonic() - due) * 1000)

    def _draw_status(self) -> int:
        draw = self._rng.random()
        for status, probability in self.errors.items():
            if draw < probability:
                return status
            draw -= probability
        return 200

    @staticmethod
    def _error(status: int, message: str, runtime: bool, error_type: str | None = None) -> web.Response:
        headers = {"x-amzn-ErrorType": error_type or _ERROR_TYPES.get(status, "InternalFailure")} if runtime else {}
        return web.json_response({"message": message}, status=status, headers=headers)

    def _authenticate(self, request: web.Request, body: bytes) -> web.Response | None:
        """Check the SigV4 signature as the runtime does; None when it holds."""
        assert self.credentials is not None
        match = _AUTHORIZATION.match(request.headers.get("Authorization", ""))
        if match is None:
            return self._error(403, "Missing Authentication Token", True, "MissingAuthenticationTokenException")
        if match["key"] != self.credentials.access_key:
            return self._error(
                403, "The security token included in the request is invalid.", True, "UnrecognizedClientException"
            )
        if match["service"] != "sagemaker" or match["region"] != self.region:
            return self._error(403, "Credential should be scoped to a valid region and service.", True)
        amz_date = request.headers.get("X-Amz-Date", "")
        try:
            signed_at = calendar.timegm(time.strptime(amz_date, botocore.auth.SIGV4_TIMESTAMP))
        except ValueError:
            return self._error(403, "X-Amz-Date is missing or malformed.", True, "IncompleteSignatureException")
        if abs(time.time() - signed_at) > MAX_CLOCK_SKEW_SECONDS:
            return self._error(403, "Signature expired.", True, "InvalidSignatureException")
        signed_headers = match["headers"].split(";")
        unsigned = botocore.awsrequest.AWSRequest(
            method=request.method,
            url=f"http://{request.host}{request.raw_path}",
            data=body,
            headers={name: request.headers.get(name, "") for name in signed_headers},
        )
        unsigned.context["timestamp"] = amz_date
        credentials = botocore.credentials.Credentials(
            self.credentials.access_key, self.credentials.secret_key, self.credentials.session_token
        )
        signer = botocore.auth.SigV4Auth(credentials, match["service"], match["region"])
        expected = signer.signature(signer.string_to_sign(unsigned, signer.canonical_request(unsigned)), unsigned)
        if expected != match["signature"]:
            return self._error(
                403,
                "The request signature we calculated does not match the signature you provided.",
                True,
                "InvalidSignatureException",
            )
        self.signatures_verified += 1
        return None


class ModelServerProcess:
    """A :class:`ModelServer` in a process of its own, whose record (:meth:`served`) is an independent truth.

    In a thread of the process it measures, the server shares that process's GIL and CPU time with the load
    generator: the generator's work delays the server's timestamps and the server's work delays the generator's
    reads, so neither can judge the other. Here the server's process does nothing but serve; the parent gives it
    :class:`ModelServer`'s settings (fixed at construction) and asks it for its record over a socket.
    """

    def __init__(
        self,
        *,
        latency: Latency | None = None,
        slots: int | None = None,
        seed: int = 0,
    ) -> None:
        self._settings = {"latency": latency, "slots": slots, "seed": seed}
        self._process: subprocess.Popen[bytes] | None = None
        self._control: multiprocessing.connection.Connection | None = None
        self._port = 0

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ModelServerProcess:
        # A fresh interpreter rather than a fork: a fork of a process with threads (a test's emulators) may inherit
        # locks they held, and multiprocessing's spawn would import the parent's main module again.
        parent_end, child_end = socket.socketpair()
        with child_end:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(child_end.fileno())], pass_fds=[child_end.fileno()]
            )
        self._control = multiprocessing.connection.Connection(parent_end.detach())
        self._control.send(self._settings)
        try:
            if not self._control.poll(60):
                raise TimeoutError
            self._port = self._control.recv()
        except (EOFError, TimeoutError):
            self._process.kill()
            raise RuntimeError(f"the model server process did not start (exit code {self._process.poll()})") from None
        return self

    def served(self) -> list[Served]:
        """Every invocation so far, in the order received."""
        served: list[Served] = self._call("served")
        return served

    def stop(self) -> None:
        if self._process is None or self._control is None:
            return
        if self._process.poll() is None:
            self._call("stop")
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._control.close()

    def _call(self, command: str) -> Any:
        assert self._control is not None, "not started"
        self._control.send(command)
        return self._control.recv()

    def __enter__(self) -> ModelServerProcess:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


_CHILD = f"""
import multiprocessing.connection, sys
from {__name__} import serve_for_parent
serve_for_parent(multiprocessing.connection.Connection(int(sys.argv[1])))
"""


def serve_for_parent(control: multiprocessing.connection.Connection) -> None:
    """The process of :class:`ModelServerProcess`: serve with the parent's settings, and send it the record when it
    asks, until it says stop or goes away."""
    with ModelServer(**control.recv()) as server:
        control.send(server.port)
        while True:
            try:
                command = control.recv()
            except EOFError:
                return
            if command != "served":
                control.send(None)
                return
            control.send(list(server.served))
