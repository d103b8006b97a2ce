"""Requests to the Kubernetes emulator over plain HTTP, as its tests make them: status codes and ``Status`` objects
exactly as a client receives them, and watch events as they arrive."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

JSON = dict[str, Any]


class Http:
    """Plain HTTP to the emulator: status codes and JSON bodies exactly as a client receives them."""

    def __init__(self, url: str) -> None:
        self.url = url

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json", **params: str
    ) -> tuple[int, JSON]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}{path}{query}", data=data, method=method, headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def ok(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json", **params: str
    ) -> JSON:
        code, answer = self.request(method, path, body, content_type, **params)
        assert code in (200, 201), (code, answer)
        return answer

    def watch(self, path: str, **params: str) -> Iterator[JSON]:
        """The events of a watch, as they arrive; ends when the server ends the stream."""
        query = urllib.parse.urlencode({"watch": "true", **params})
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as response:
            while line := response.readline():
                yield json.loads(line)
