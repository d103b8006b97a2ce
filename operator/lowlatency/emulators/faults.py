"""A fault-injecting HTTP proxy between AWS clients and the AWS emulator.

Real AWS fails in a few recurring ways, and an operator that manages paid infrastructure must converge through all
of them without duplicating or leaking anything:

- **Throttling.** SageMaker's control-plane APIs are rate-limited per account and region; an exceeded limit answers
  HTTP 400 with ``ThrottlingException`` in the JSON protocol (SageMaker, Application Auto Scaling), while EC2 answers
  HTTP 503 with ``RequestLimitExceeded`` in its query (XML) protocol.
- **Server errors.** An internal failure answers HTTP 500 (``InternalFailure`` / ``InternalError``); the request
  may or may not have taken effect. The proxy injects both: ``server-error`` answers before the request reaches
  AWS (nothing happened), ``server-error-after`` replaces the answer to a call AWS carried out (it happened, and
  the client was told it failed).
- **Slow answers.** A response can take seconds; clients with read timeouts give up and retry.
- **Dropped connections.** A connection can be reset before the request arrives (nothing happened) or after it was
  carried out but before the answer reached the client (it happened, and the client does not know): the second is
  what makes idempotency matter, since the retry of a create finds the resource already there.

The proxy forwards every request to the upstream emulator and, at configured rates, injects one of these instead.
The two faults that lose an answer after AWS acted (``drop-after``, ``server-error-after``) lose whatever the
answer was, as a broken network path does. With ``once_per_operation`` each operation meets the fault at most once,
and for these two that once is a call AWS carried out (answered 2xx; a call it refused changed nothing and is
answered as it is), so that a test can lose the answer to every mutating call of a flow once, after its effect, and
still see the flow end. With ``fault_first_mutation`` the first mutating call after the rates are set meets the
fault whatever the draw, so that each step of a test (a create, an update, a delete) meets at least one.

For crash tests it can also **hold** the answer to the k-th mutating call AWS carried out: the test then kills the
operator at exactly that point (the call took effect, the operator never learnt of it) and lets the proxy drop the
connection. The proxy reads the operation from the request (``X-Amz-Target`` for the JSON protocol, ``Action=``
for the query protocol) so that faults can be limited to some operations and counted per operation.
"""

from __future__ import annotations

import http.client
import random
import threading
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

Fault = Literal["throttle", "server-error", "slow", "drop-before", "drop-after", "server-error-after"]
FAULTS: tuple[Fault, ...] = ("throttle", "server-error", "slow", "drop-before", "drop-after", "server-error-after")
#: The faults that let AWS carry the call out and lose its answer on the way back.
ANSWER_LOST: frozenset[Fault] = frozenset({"drop-after", "server-error-after"})

MUTATING_PREFIXES = ("Create", "Update", "Delete", "Register", "Deregister", "Put", "Modify", "AddTags")

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


@dataclass
class FaultRates:
    """Probability of each fault per request (their sum at most 1), and for which operations."""

    throttle: float = 0.0
    server_error: float = 0.0
    slow: float = 0.0
    drop_before: float = 0.0
    drop_after: float = 0.0
    server_error_after: float = 0.0
    slow_seconds: float = 1.0
    #: Inject only into these operations (``CreateEndpoint``, ``DescribeVpcEndpoints``...); empty: all.
    operations: frozenset[str] = field(default_factory=frozenset)
    #: Inject into each operation at most once (until the next :meth:`FaultProxy.set_rates`).
    once_per_operation: bool = False
    #: The first mutating call (after :meth:`FaultProxy.set_rates`) meets the first fault whose rate is not 0.
    fault_first_mutation: bool = False

    def __post_init__(self) -> None:
        total = sum(self._in_order())
        if not 0.0 <= total <= 1.0:
            raise ValueError(f"fault rates add up to {total}; they must be between 0 and 1")

    def _in_order(self) -> tuple[float, ...]:
        """The rates in the order of :data:`FAULTS`."""
        return (
            self.throttle,
            self.server_error,
            self.slow,
            self.drop_before,
            self.drop_after,
            self.server_error_after,
        )

    @classmethod
    def only(
        cls,
        fault: Fault,
        rate: float,
        *,
        slow_seconds: float = 1.0,
        operations: frozenset[str] = frozenset(),
        once_per_operation: bool = False,
        fault_first_mutation: bool = False,
    ) -> FaultRates:
        """``fault`` alone, at ``rate``."""
        share = {each: rate if each == fault else 0.0 for each in FAULTS}
        return cls(
            throttle=share["throttle"],
            server_error=share["server-error"],
            slow=share["slow"],
            drop_before=share["drop-before"],
            drop_after=share["drop-after"],
            server_error_after=share["server-error-after"],
            slow_seconds=slow_seconds,
            operations=operations,
            once_per_operation=once_per_operation,
            fault_first_mutation=fault_first_mutation,
        )

    def pick(self, draw: float) -> Fault | None:
        """The fault for a uniform ``draw`` in [0, 1), or None to pass the request through."""
        threshold = 0.0
        for fault, rate in zip(FAULTS, self._in_order(), strict=True):
            threshold += rate
            if draw < threshold:
                return fault
        return None


@dataclass(frozen=True)
class AwsRequest:
    """What the proxy needs to know of a request to decide and to answer in the right protocol."""

    service: str
    operation: str
    json_protocol: bool

    @classmethod
    def parse(cls, headers: dict[str, str], body: bytes) -> AwsRequest:
        target = headers.get("x-amz-target", "")
        service = _signing_service(headers.get("authorization", ""))
        if target:
            return cls(service, target.rpartition(".")[2], json_protocol=True)
        fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        return cls(service, fields.get("Action", [""])[0], json_protocol=False)


def _signing_service(authorization: str) -> str:
    """The service of the SigV4 credential scope: ``Credential=AKID/date/region/SERVICE/aws4_request``."""
    scope = authorization.partition("Credential=")[2].split(",", 1)[0].split("/")
    return scope[3] if len(scope) >= 5 else ""


def error_response(request: AwsRequest, fault: Literal["throttle", "server-error"]) -> tuple[int, str, bytes]:
    """Status, content type and body of the error AWS sends for ``fault`` in the request's protocol."""
    if request.json_protocol:
        code, status = ("ThrottlingException", 400) if fault == "throttle" else ("InternalFailure", 500)
        body = f'{{"__type": "{code}", "message": "injected by the fault proxy"}}'
        return status, "application/x-amz-json-1.1", body.encode()
    code, status = ("RequestLimitExceeded", 503) if fault == "throttle" else ("InternalError", 500)
    body = (
        f"<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error><Code>{code}</Code>"
        "<Message>injected by the fault proxy</Message></Error></Errors>"
        "<RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>"
    )
    return status, "text/xml", body.encode()


def is_mutating(operation: str) -> bool:
    return operation.startswith(MUTATING_PREFIXES)


@dataclass
class Hold:
    """The answer to the ``after``-th mutating call AWS carried out is held back until :meth:`release`."""

    after: int
    seen: int = 0
    operation: str = ""
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


class FaultProxy:
    """The proxy server; a context manager. ``url`` is what clients use as their AWS endpoint."""

    def __init__(self, upstream: str, rates: FaultRates | None = None, seed: int = 0) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.scheme != "http" or parsed.hostname is None or parsed.port is None:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self.upstream_host, self.upstream_port = parsed.hostname, parsed.port
        self.rates = rates or FaultRates()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        #: (operation, fault) → how many were injected; (operation, "forwarded") for requests that reached AWS.
        self.counts: Counter[tuple[str, str]] = Counter()
        #: (service, operation) pairs that drew their one fault under ``once_per_operation`` rates (EC2 and
        #: SageMaker both have a DeleteTags).
        self._faulted_once: set[tuple[str, str]] = set()
        #: Whether a mutating call has drawn since the rates were set (for ``fault_first_mutation``).
        self._mutation_drawn = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._hold: Hold | None = None
        #: Mutating operations AWS carried out (answered 2xx), in order; calls it refused are not among them.
        self.mutations: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def set_rates(self, rates: FaultRates) -> None:
        with self._lock:
            self.rates = rates
            self._faulted_once.clear()
            self._mutation_drawn = False

    def decide(self, request: AwsRequest) -> Fault | None:
        """The fault for this request, if any; a fault met before the answer is counted here."""
        operation, once = request.operation, (request.service, request.operation)
        with self._lock:
            rates = self.rates
            draw = self._random.random()
            if rates.operations and operation not in rates.operations:
                return None
            if rates.once_per_operation and once in self._faulted_once:
                return None
            if is_mutating(operation) and not self._mutation_drawn:
                self._mutation_drawn = True
                draw = 0.0 if rates.fault_first_mutation else draw
            fault = rates.pick(draw)
            if fault is not None and rates.once_per_operation:
                self._faulted_once.add(once)
            if fault is not None and fault not in ANSWER_LOST:
                self.counts[(operation, fault)] += 1
            return fault

    def answer_lost(self, request: AwsRequest, fault: Fault, carried_out: bool) -> bool:
        """Whether ``fault`` (one of :data:`ANSWER_LOST`) loses this answer. It does, but for a call AWS refused
        under ``once_per_operation``: that call changed nothing, and the operation's one lost answer is still to
        come."""
        once = (request.service, request.operation)
        with self._lock:
            if not carried_out and once in self._faulted_once:
                self._faulted_once.discard(once)
                return False
            self.counts[(request.operation, fault)] += 1
            return True

    def hold_after(self, mutations: int) -> Hold:
        """Hold back the answer to the ``mutations``-th mutating call AWS carries out from now on (1: the next)."""
        with self._lock:
            self._hold = Hold(after=mutations)
            return self._hold

    def forwarded(self, operation: str, carried_out: bool) -> Hold | None:
        """Count a request that AWS answered; the hold to wait on if this is the held call (a mutating call AWS
        carried out: one it refused changed nothing, so killing the operator after it tests nothing new)."""
        with self._lock:
            self.counts[(operation, "forwarded")] += 1
            if not (carried_out and is_mutating(operation)):
                return None
            self.mutations.append(operation)
            hold = self._hold
            if hold is None or hold.reached.is_set():
                return None
            hold.seen += 1
            if hold.seen < hold.after:
                return None
            hold.operation = operation
            hold.reached.set()
            return hold

    def injected(self, fault: Fault | None = None) -> int:
        with self._lock:
            return sum(n for (_, what), n in self.counts.items() if what != "forwarded" and fault in (None, what))

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        connection.request(method, path, body=body, headers=headers)
        return connection.getresponse()

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._hold is not None:
            self._hold.release()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as AWS endpoints speak it

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests read counts, not access logs."""

        def _proxy(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            request = AwsRequest.parse(headers, body)
            fault = proxy.decide(request)
            if fault == "drop-before":
                self._drop()
                return
            if fault in ("throttle", "server-error"):
                status, content_type, error = error_response(request, fault)
                self._answer(status, {"Content-Type": content_type}, error)
                return
            if fault == "slow":
                threading.Event().wait(proxy.rates.slow_seconds)
            forwarded_headers = {key: value for key, value in self.headers.items() if key.lower() not in _HOP_BY_HOP}
            upstream = proxy.forward(self.command, self.path, forwarded_headers, body)
            answer = upstream.read()
            carried_out = 200 <= upstream.status < 300
            hold = proxy.forwarded(request.operation, carried_out)
            if hold is not None:
                hold.released.wait()
                self._drop()
                return
            if fault in ANSWER_LOST and proxy.answer_lost(request, fault, carried_out):
                if fault == "drop-after":
                    self._drop()
                else:
                    status, content_type, error = error_response(request, "server-error")
                    self._answer(status, {"Content-Type": content_type}, error)
                return
            response_headers = {
                key: value
                for key, value in upstream.getheaders()
                if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length"
            }
            self._answer(upstream.status, response_headers, answer)

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _drop(self) -> None:
            """Reset the connection without an answer, as a broken network path does."""
            self.close_connection = True
            self.connection.shutdown(2)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _proxy

    return Handler
