"""A lean keep-alive HTTP/1.1 client connection: asyncio protocol callbacks and httptools' C response parser.

One request at a time per connection (no pipelining, as the SageMaker Runtime expects), no retries, no redirects:
a benchmark wants every answer as it came. It measured several times faster per request than aiohttp's client
session (see benchmarks/engine.py), which matters because the generator must not be what limits the rate.
"""

from __future__ import annotations

import asyncio
import enum

import httptools

from lowlatency.benchmark.signing import Target

# The throttling codes of AWS's JSON protocols, as the runtime sends them in x-amzn-ErrorType.
_THROTTLING_ERROR_TYPES = (b"ThrottlingException", b"TooManyRequestsException", b"Throttling", b"SlowDown")
_ERROR_TYPE_HEADER = b"x-amzn-errortype"


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


class Connection(asyncio.Protocol):
    """One keep-alive connection to the target, reconnected on the next request after it closes."""

    def __init__(self, target: Target, timeout_seconds: float) -> None:
        self._target = target
        self._timeout = timeout_seconds
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Outcome] | None = None
        self._error_type = b""

    async def send(self, raw_request: bytes) -> Outcome:
        """Send one complete request and wait for its response; never raises for what the request met."""
        if self._transport is None:
            try:
                await asyncio.wait_for(self._connect(), self._timeout)
            except TimeoutError:
                return Outcome.TIMEOUT
            except OSError:
                return Outcome.CONNECTION
        assert self._transport is not None
        waiter: asyncio.Future[Outcome] = self._loop.create_future()
        self._waiter = waiter
        self._error_type = b""
        self._transport.write(raw_request)
        timer = self._loop.call_later(self._timeout, self._time_out, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()

    async def _connect(self) -> None:
        target = self._target
        await self._loop.create_connection(
            lambda: self,
            target.host,
            target.port,
            ssl=target.ssl_context,
            server_hostname=target.host if target.ssl_context else None,
        )

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _time_out(self, waiter: asyncio.Future[Outcome]) -> None:
        if not waiter.done():
            waiter.set_result(Outcome.TIMEOUT)
        # The late response would be taken for the next request's: this connection cannot be used again.
        if self._transport is not None:
            self._transport.abort()

    def _finish(self, outcome: Outcome) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(outcome)

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._parser = httptools.HttpResponseParser(self)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._finish(Outcome.CONNECTION)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._finish(Outcome.CONNECTION)

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == _ERROR_TYPE_HEADER:
            self._error_type = value

    def on_message_complete(self) -> None:
        self._finish(classify(self._parser.get_status_code(), self._error_type))
        if not self._parser.should_keep_alive():
            self.close()
