"""A minimal keep-alive HTTP/1.1 responder for loopback benchmarks: every request gets the same small 200 answer.

As little work per request as asyncio allows (httptools parses, one prebuilt response is written), so that a load
generator measured against it is what limits the rate. It answers any path, including the SageMaker Runtime's
``/endpoints/<name>/invocations``, with what InvokeEndpoint returns (a body, its Content-Type, the variant header).

    python benchmarks/responder.py [--cpu N]    # prints the port, then serves until killed
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import httptools

BODY = b"0.42"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nx-Amzn-Invoked-Production-Variant: AllTraffic\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)


class Responder(asyncio.Protocol):
    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    def on_message_complete(self) -> None:
        if self._transport is not None:
            self._transport.write(RESPONSE)


async def serve() -> None:
    server = await asyncio.get_running_loop().create_server(Responder, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", type=int, default=None, help="Pin to this CPU.")
    arguments = parser.parse_args()
    if arguments.cpu is not None:
        os.sched_setaffinity(0, {arguments.cpu})
    asyncio.run(serve())


if __name__ == "__main__":
    main()
