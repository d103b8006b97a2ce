"""What the benchmark sends: one inline body, or samples from a JSON-lines file, rotated.

The file format is the one of AWS's serverless inference benchmarking toolkit: one JSON object per line with
``Body`` (a string, sent as UTF-8, or any other JSON value, sent as compact JSON) and an optional ``ContentType``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Payload:
    """One request body and its content type."""

    body: bytes
    content_type: str


class PayloadError(ValueError):
    """A payload file that cannot be used, naming the line at fault."""


def inline(body: str, content_type: str) -> list[Payload]:
    return [Payload(body.encode(), content_type)]


def load_jsonl(path: Path, default_content_type: str = DEFAULT_CONTENT_TYPE) -> list[Payload]:
    payloads: list[Payload] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                sample = json.loads(line)
            except json.JSONDecodeError as error:
                raise PayloadError(f"{path}:{number}: not JSON: {error.msg}") from None
            if not isinstance(sample, dict) or "Body" not in sample:
                raise PayloadError(f"{path}:{number}: expected an object with a Body")
            body = sample["Body"]
            encoded = body.encode() if isinstance(body, str) else json.dumps(body, separators=(",", ":")).encode()
            content_type = sample.get("ContentType", default_content_type)
            if not isinstance(content_type, str) or not content_type:
                raise PayloadError(f"{path}:{number}: ContentType must be a non-empty string")
            payloads.append(Payload(encoded, content_type))
    if not payloads:
        raise PayloadError(f"{path}: no samples")
    return payloads
