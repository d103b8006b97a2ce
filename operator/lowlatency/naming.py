"""Names of the AWS resources, derived deterministically so that a restarted operator finds what it created.

SageMaker names allow 63 characters matching ``^[a-zA-Z0-9](-*[a-zA-Z0-9])*``. The endpoint name is readable
(``<namespace>-<name>``) when that fits; otherwise it is shortened and made unique with a hash of the full identity
(never plainly truncated, which would let two long names collide). Models and endpoint configs are immutable in
SageMaker, so their names end in a hash of the content that produced them: a spec change makes new ones.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

MAX_NAME_LENGTH = 63
HASH_LENGTH = 8
_INVALID_RUNS = re.compile(r"[^a-zA-Z0-9]+")
_SAGEMAKER_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


def is_sagemaker_name(name: str) -> bool:
    """Whether ``name`` is a valid SageMaker endpoint, config or model name."""
    return _SAGEMAKER_NAME.fullmatch(name) is not None


def short_hash(*parts: Any) -> str:
    """A stable hash of JSON-serialisable parts (key order does not matter)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]


def _sanitise(text: str) -> str:
    return _INVALID_RUNS.sub("-", text).strip("-")


def endpoint_name(namespace: str, name: str) -> str:
    """The SageMaker endpoint name for the resource ``namespace/name``.

    Kubernetes names may contain dots, SageMaker names may not: a name that had to be changed to fit (or was
    too long) gets a hash of the original identity, so ``a.b`` and ``a-b`` never share an endpoint.
    """
    readable = f"{namespace}-{name}"
    sanitised = _sanitise(readable)
    if sanitised == readable and len(readable) <= MAX_NAME_LENGTH:
        return readable
    suffix = short_hash(namespace, name)
    prefix = sanitised[: MAX_NAME_LENGTH - HASH_LENGTH - 1].rstrip("-")
    return f"{prefix}-{suffix}"


def content_name(base: str, content: Any) -> str:
    """A name for an immutable resource: ``base`` (shortened to fit) and a hash of ``base`` and ``content``."""
    suffix = short_hash(base, content)
    prefix = base[: MAX_NAME_LENGTH - HASH_LENGTH - 1].rstrip("-")
    return f"{prefix}-{suffix}"


def sibling_arn(endpoint_arn: str, kind: str, name: str) -> str:
    """The ARN of another SageMaker resource of the endpoint's account and region: ARNs differ only in kind and
    (lower-cased) name."""
    return endpoint_arn.rsplit(":", 1)[0] + f":{kind}/{name.lower()}"


def content_prefix(base: str) -> str:
    """What every content name of ``base`` starts with (for finding superseded ones by listing)."""
    return base[: MAX_NAME_LENGTH - HASH_LENGTH - 1].rstrip("-") + "-"
