"""What a request to the emulated kube-apiserver addresses, and how its failures are answered.

* A request is handed to kmock with its body decoded: JSON, or protobuf from kubectl's typed clients (see
  :mod:`lowlatency.emulators.protobuf`).
* Paths are split as kube-apiserver's request-info splits them (``/api/v1/namespaces/{name}/status`` is the
  namespace's status, not a resource named ``status``); unserved resources and subresources answer 404.
* Failures are ``Status`` objects with kube-apiserver's reasons and messages (``lowlatencyendpoints.lowlatency.io
  "x" not found``, ``Operation cannot be fulfilled on ...``, ``... is invalid: <field causes>``); a request body of
  the wrong JSON type and malformed numeric parameters (``limit``, ``timeoutSeconds``, a watch's
  ``resourceVersion``) answer 400 before anything is done.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import aiohttp.web
import kmock

from lowlatency.emulators.protobuf import PROTOBUF_MAGIC, decode_protobuf_object

JSON = dict[str, Any]


class ApiError(Exception):
    """A failure answered as a ``Status`` object, as kube-apiserver answers every failure."""

    def __init__(self, code: int, reason: str, message: str, details: JSON | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def status(self) -> JSON:
        fields = {"status": "Failure", "message": self.message, "reason": self.reason, "details": self.details}
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, **fields, "code": self.code}


def object_error(code: int, reason: str, resource: kmock.resource, name: str | None, message: str) -> ApiError:
    """An error about one object, worded and detailed as kube-apiserver words them (``{message}`` gets the name)."""
    group_resource = f"{resource.plural}.{resource.group}".rstrip(".")
    details = {"name": name, "group": resource.group, "kind": resource.plural}
    return ApiError(code, reason, message.format(f'{group_resource} "{name}"'), details)


def not_found(resource: kmock.resource, name: str | None) -> ApiError:
    return object_error(404, "NotFound", resource, name, "{} not found")


def conflict(resource: kmock.resource, name: str | None, why: str) -> ApiError:
    return object_error(409, "Conflict", resource, name, f"Operation cannot be fulfilled on {{}}: {why}")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def invalid_object(resource: kmock.resource, obj: JSON, causes: list[JSON], kind: str | None) -> ApiError:
    """422 Invalid: the object's field errors, listed in the message and given as the details' causes (``kind``: the
    resource's, for an object that does not name its own)."""
    kind, name = obj.get("kind") or kind, obj.get("metadata", {}).get("name", "")
    errors = [f"{cause['field']}: {cause['message']}" for cause in causes]
    listed = errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]"
    details = {"name": name, "group": resource.group, "kind": kind, "causes": causes}
    return ApiError(422, "Invalid", f"{kind}.{resource.group}".rstrip(".") + f' "{name}" is invalid: {listed}', details)


UNSERVED = ApiError(404, "NotFound", "the server could not find the requested resource")


@dataclasses.dataclass(frozen=True)
class ApiPath:
    """What a URL addresses, split as kube-apiserver's request-info splits it."""

    group: str
    version: str
    plural: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None

    @classmethod
    def parse(cls, path: str) -> ApiPath | None:
        parts = [part for part in path.split("/") if part]
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 2 and parts[0] == "apis":  # /apis/{group} has no version: a discovery path
            group, version, rest = parts[1], "".join(parts[2:3]), parts[3:]
        else:
            return None
        namespace = None
        # /namespaces/{ns}/{plural}/...; but /namespaces/{name}/status (or /finalize) is the namespace itself.
        if len(rest) >= 3 and rest[0] == "namespaces" and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
            namespace, rest = rest[1], rest[2:]
        plural, name = [*rest, None, None][:2]
        return cls(group, version, plural, namespace, name, "/".join(rest[2:]) or None)

    @property
    def resource(self) -> kmock.resource:
        return kmock.resource(group=self.group, version=self.version or None, plural=self.plural)


def parse_request(number: int, raw_request: aiohttp.web.BaseRequest, body: bytes) -> kmock.Request:
    """kmock's model of a request (``number``: its place among those received): its body decoded (JSON, or protobuf
    from kubectl's typed clients; None if it is neither), and what it addresses as kube-apiserver's request-info
    finds it."""
    try:
        protobuf = "protobuf" in raw_request.headers.get("Content-Type", "") and body.startswith(PROTOBUF_MAGIC)
        data = decode_protobuf_object(body) if protobuf else json.loads(body) if body else None
    except ValueError:
        data = None
    path = ApiPath.parse(raw_request.path)
    return kmock.Request(
        id=number,
        raw_request=raw_request,
        url=raw_request.url,
        method=raw_request.method,
        params=dict(raw_request.query),
        headers=dict(raw_request.headers),
        cookies=dict(raw_request.cookies),
        body=body,
        text=body.decode(errors="replace"),
        data=data,
        action=_action(raw_request.method, path, raw_request.query.get("watch") in ("true", "1")),
        resource=path.resource if path else None,
        namespace=path.namespace if path else None,
        name=path.name if path else None,
        subresource=path.subresource if path else None,
    )


def _action(method: str, path: ApiPath | None, watch: bool) -> kmock.action | None:
    """kmock's name for what a request does (kmock has none for PUT)."""
    if path is None or path.plural is None:
        return None
    if method == "GET":
        return kmock.action.WATCH if watch else kmock.action.LIST if path.name is None else kmock.action.FETCH
    return {"POST": kmock.action.CREATE, "PATCH": kmock.action.UPDATE, "DELETE": kmock.action.DELETE}.get(method)


def addresses_a_resource(request: kmock.Request) -> bool:
    return bool(request.resource is not None and request.resource.plural)


def query_number(params: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(params[name]) if params.get(name) else default
    except ValueError as error:
        raise bad_request(f"invalid {name}: {params[name]!r}") from error


def json_body(data: Any, expected: type) -> Any:
    """The request's decoded body if it is a JSON object (``dict``) or array (``list``) as expected, else 400."""
    if not isinstance(data, expected):
        raise bad_request(f"the request body must be a JSON {'object' if expected is dict else 'array'}")
    return data
