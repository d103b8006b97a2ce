"""A lean keep-alive HTTP/1.1 client connection: asyncio protocol callbacks and httptools' C response parser.

One request at a time per connection (no pipelining, as the SageMaker Runtime expects), no retries, no redirects:
a benchmark wants every answer as it came. It sent two to five times as many requests per second as aiohttp's client
session (see benchmarks/engine.py), which matters because the generator must not be what limits the rate.
"""

from __future__ import annotations

import asyncio
import enum
from typing import NamedTuple

import httptools

from lowlatency.benchmark.signing import Target

# The throttling codes of AWS's JSON protocols, as the runtime sends them in x-amzn-ErrorType.
_THROTTLING_ERROR_TYPES = (b"Throttling", b"TooManyRequestsException", b"SlowDown")
_ERROR_TYPE_HEADER = b"x-amzn-errortype"
# The id AWS gives every answer (botocore reads it into ResponseMetadata.RequestId): what AWS support, and the
# runtime's own records, know the request by.
_REQUEST_ID_HEADER = b"x-amzn-requestid"


class Outcome(enum.Enum):
    """What became of one request: success, or the class of its failure."""

    OK = "ok"
    THROTTLED = "throttled"
    CLIENT_ERROR = "4xx"
    SERVER_ERROR = "5xx"
    TIMEOUT = "timeout"
    CONNECTION = "connection"


def classify(status: int, error_type: bytes) -> Outcome:
    if status < 400:
        return Outcome.OK
    if status == 429 or error_type.startswith(_THROTTLING_ERROR_TYPES):
        return Outcome.THROTTLED
    return Outcome.CLIENT_ERROR if status < 500 else Outcome.SERVER_ERROR


class Answer(NamedTuple):
    """What became of one request, and the id the runtime answered it under (empty when none came)."""

    outcome: Outcome
    request_id: bytes = b""


class Connection:
    """One keep-alive connection to the target, opened again on the next request after it closed."""

    def __init__(self, target: Target, timeout_seconds: float) -> None:
        self._target = target
        self._timeout = timeout_seconds
        self._loop = asyncio.get_running_loop()
        self._wire: _Wire | None = None

    async def open(self) -> Answer | None:
        """Connect unless connected; what became of the attempt when it failed, None when the connection is open."""
        if self._wire is not None and not self._wire.closed:
            return None
        try:
            self._wire = await asyncio.wait_for(self._connect(), self._timeout)
        except TimeoutError:
            return Answer(Outcome.TIMEOUT)
        except OSError:
            return Answer(Outcome.CONNECTION)
        return None

    async def send(self, raw_request: bytes) -> Answer:
        """Send one complete request and wait for its response; never raises for what the request met."""
        failure = await self.open()
        if failure is not None:
            return failure
        wire = self._wire
        assert wire is not None
        waiter: asyncio.Future[Answer] = self._loop.create_future()
        wire.send(raw_request, waiter)
        timer = self._loop.call_later(self._timeout, wire.time_out)
        try:
            return await waiter
        finally:
            timer.cancel()

    async def _connect(self) -> _Wire:
        target = self._target
        _, wire = await self._loop.create_connection(
            _Wire,
            target.host,
            target.port,
            ssl=target.ssl_context,
            server_hostname=target.host if target.ssl_context else None,
        )
        return wire

    def close(self) -> None:
        if self._wire is not None:
            self._wire.close()


class _Wire(asyncio.Protocol):
    """One TCP (or TLS) connection: writes a request, parses its response. A new one for every reconnection, so
    that nothing a dead connection reports can reach the request of its successor."""

    def __init__(self) -> None:
        self.closed = False
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Answer] | None = None
        self._error_type = b""
        self._request_id = b""

    def send(self, raw_request: bytes, waiter: asyncio.Future[Answer]) -> None:
        assert self._transport is not None
        self._waiter = waiter
        self._error_type = self._request_id = b""
        self._transport.write(raw_request)

    def time_out(self) -> None:
        self._finish(Outcome.TIMEOUT)
        # A late response would be taken for the next request's: this connection cannot be used again.
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def _finish(self, outcome: Outcome) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(Answer(outcome, self._request_id))

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._finish(Outcome.CONNECTION)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._finish(Outcome.CONNECTION)

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == _ERROR_TYPE_HEADER:
            self._error_type = value
        elif name == _REQUEST_ID_HEADER:
            self._request_id = value

    def on_message_complete(self) -> None:
        self._finish(classify(self._parser.get_status_code(), self._error_type))
        if not self._parser.should_keep_alive():
            self.close()
