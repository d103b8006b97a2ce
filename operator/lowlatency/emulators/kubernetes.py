"""A local Kubernetes API server for tests and the demo: kmock's emulator, made to behave like kube-apiserver.

kopf, the ``kubernetes`` client and the real ``kubectl`` talk to it over HTTP on 127.0.0.1 as they would to a
cluster. It is built on kmock (the in-memory Kubernetes mock by kopf's author): kmock provides the request model,
the reaction DSL (tests may still inject faults, e.g. ``emulator.api['patch', kmock.resource(...)] << 500``), the
bundled discovery of built-in resources and the versioned object store (``emulator.api.objects[resource,
namespace, name]`` keeps every stored version). This module replaces kmock's merge-everything state machine with
what kube-apiserver does at each point:

* Paths are split as kube-apiserver's request-info splits them (``/api/v1/namespaces/{name}/status`` is the
  namespace's status, not a resource named ``status``); unserved resources and subresources answer 404.
* Every write gets the next ``resourceVersion`` of one cluster-wide counter (etcd's revision); a write carrying a
  stale one answers 409 Conflict; a write that changes nothing is a no-op (same resourceVersion, no watch event).
  Creation sets ``uid`` and ``creationTimestamp``, honours ``generateName`` and takes the namespace from the URL
  (400 if the body names another one, 404 if the namespace does not exist, 403 if it is terminating); an existing
  name answers 409 AlreadyExists, a name that is not an RFC 1123 subdomain (a label, for namespaces) 422.
  Failures are ``Status`` objects with kube-apiserver's reasons and messages; malformed selectors, ``limit``,
  ``continue`` or watch parameters answer 400 before any stream starts.
* With the status subresource, creation drops ``status``, writes to the object keep the stored status, and writes
  to ``/status`` change nothing but status (not even metadata). ``metadata.generation`` starts at 1 and grows only
  when something outside metadata (and outside status, with the subresource) changes.
* PATCH: ``application/merge-patch+json`` (RFC 7386) and ``application/json-patch+json`` (RFC 6902; a failed
  ``test`` answers 422). A strategic merge patch is refused with 415 for custom resources, as kube-apiserver
  refuses it (kubectl reports it and suggests ``--type merge``), and applied as a merge patch to built-in ones.
* Custom resources are pruned, defaulted and validated against their CRD's ``openAPIV3Schema`` on every write, its
  list types and its CEL rules included (422 Invalid with kube-apiserver's field messages; transition rules on
  update, where the old object has the node): see :mod:`lowlatency.emulators.custom_resources` and
  :mod:`lowlatency.emulators.cel`. With ``fieldValidation=Strict`` (kubectl's default) an unknown field answers 400
  instead of being pruned.
* DELETE of an object with finalizers sets ``deletionTimestamp`` and ``deletionGracePeriodSeconds: 0`` and bumps
  the generation (as ``markAsDeleting`` does); the object goes, with a DELETED event, when the write that removes
  its last finalizer arrives; no finalizer may be added once it is being deleted (422). DeleteOptions
  preconditions (uid, resourceVersion) are honoured (409). A DELETE of a collection deletes what its selectors
  match. ``dryRun=All`` answers without storing.
* Lists carry ``kind: XxxList``, ``apiVersion`` and the list's ``resourceVersion``; ``limit``/``continue`` page
  them; label selectors (``=``, ``!=``, ``in``, ``notin``, existence) and field selectors filter lists and watches.
* Watches stream the events after the given ``resourceVersion`` (none is lost between a list and the watch that
  follows it); without one, with ``0``, or with ``sendInitialEvents=true`` they start with ADDED events for what
  exists (followed by an ``initial-events-end`` BOOKMARK when bookmarks are allowed). ``allowWatchBookmarks`` adds
  periodic BOOKMARKs, ``timeoutSeconds`` ends the stream, a resourceVersion older than the kept history answers an
  ERROR event with 410 Gone (as after etcd's compaction).
* CustomResourceDefinitions (``apiextensions.k8s.io/v1``) decide which custom resources are served, with their
  names, short names, categories, scope, subresources, schema and printer columns. A CRD is checked on create and
  update as kube-apiserver checks it before serving it (structural schema, every default valid against its schema
  and CEL rules as written, CEL rules that compile within the cost limits: 422 Invalid otherwise; see
  :mod:`lowlatency.emulators.crd_validation`), then NamesAccepted and Established at once. Deleting a CRD deletes
  its custom resources.
* ``kubectl get`` asks for ``as=Table``: rows are built from the CRD's additionalPrinterColumns (Name first, dates
  shown as ages, ``priority`` kept for ``-o wide``), from kube-apiserver's columns for Namespaces and Events, or
  Name and Age for other resources; watches stream tables too (``kubectl get -w``). ``/openapi/v3`` publishes the
  PATCH operations with their ``fieldValidation`` parameter (what kubectl checks before it leaves validation to
  the server) and the CRDs' schemas (``kubectl explain``).
* An Event is one object served through both ``v1`` and ``events.k8s.io/v1`` (``involvedObject`` is ``regarding``,
  ``message`` is ``note``...), so kopf's events show in ``kubectl get events``, ``describe`` and ``kubectl events``.
* Deleting a namespace marks it Terminating, deletes what is in it, and removes it once it is empty (so finalizers
  of the objects inside hold it, as in a cluster).

Deviations from a real API server (deliberate; what the project's tests and demo do not need):

* No authentication, authorization, admission webhooks, ``format`` checks, ratcheting of the OpenAPI validations
  (CEL rules do ratchet), CRD version conversion (each served version is its own store), ``managedFields`` or
  server-side apply (415). ``/openapi/v2`` answers 404; ``/openapi/v3`` has no schemas of built-in kinds. What CRD
  validation and CEL leave out is listed in their modules (e.g. CEL function names are not type-checked, and the
  runtime cost budget is not enforced).
* Defaults are applied when an object is written, not again when it is read after its CRD's schema changed.
* Built-in resources are stored as given, without their own defaulting or validation; generation is tracked for
  custom resources and CRDs only. Protobuf bodies (kubectl's typed clients, e.g. ``kubectl create namespace``)
  are decoded for their type and metadata only.
* A ``continue`` token pages the current state, not a snapshot. For assertions, the last ``request_log_limit``
  requests (per kmock reaction too) and the last ``versions_limit`` stored versions of each object are kept; older
  ones are forgotten, so memory and the cost of an answer stay bounded however long the traffic runs.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import datetime
import hashlib
import json
import math
import random
import re
import threading
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp.web
import attrs
import jsonpatch
import kmock
import yaml
from kmock import Response  # type: ignore[attr-defined]  # kmock exports it but leaves it out of __all__

from lowlatency.emulators.crd_validation import crd_causes, drop_unknown_schema_fields, unknown_schema_fields
from lowlatency.emulators.custom_resources import CustomResource

JSON = dict[str, Any]
Event = tuple[int, kmock.resource, str, JSON]  # resourceVersion, resource, type, object

HISTORY_LIMIT = 10_000
REQUEST_LOG_LIMIT = 1_000
VERSIONS_LIMIT = 10
PRESET_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
CRDS = kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
NAMESPACES = kmock.resource("", "v1", "namespaces")
EVENTS = kmock.resource("", "v1", "events")
NEW_EVENTS = kmock.resource("events.k8s.io", "v1", "events")
EVENT_RESOURCES = {EVENTS: NEW_EVENTS, NEW_EVENTS: EVENTS}
EVENT_FIELDS = {  # core/v1 Event field: events.k8s.io/v1 field (the others have the same names)
    "involvedObject": "regarding",
    "message": "note",
    "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
    "reportingComponent": "reportingController",
}
CUSTOM_RESOURCE_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
PROTOBUF_MAGIC = b"k8s\x00"
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what kube-apiserver draws generateName suffixes from
NAME_COLUMN = {"name": "Name", "type": "string", "format": "name", "jsonPath": ".metadata.name"}
AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
BUILTIN_COLUMNS = {  # a few of kube-apiserver's own tables; any other built-in resource shows Name and Age
    NAMESPACES: [NAME_COLUMN, {"name": "Status", "type": "string", "jsonPath": ".status.phase"}, AGE_COLUMN],
    EVENTS: [
        {"name": "Last Seen", "type": "date", "jsonPath": ".lastTimestamp"},
        {"name": "Type", "type": "string", "jsonPath": ".type"},
        {"name": "Reason", "type": "string", "jsonPath": ".reason"},
        {"name": "Object", "type": "string", "jsonPath": ".involvedObject.name"},
        {"name": "Message", "type": "string", "jsonPath": ".message"},
    ],
}
DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
IMMUTABLE_METADATA = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")


class ApiError(Exception):
    """A failure answered as a ``Status`` object, as kube-apiserver answers every failure."""

    def __init__(self, code: int, reason: str, message: str, details: JSON | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def status(self) -> JSON:
        fields = {"status": "Failure", "message": self.message, "reason": self.reason, "details": self.details}
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, **fields, "code": self.code}


def _object_error(code: int, reason: str, resource: kmock.resource, name: str | None, message: str) -> ApiError:
    """An error about one object, worded and detailed as kube-apiserver words them (``{message}`` gets the name)."""
    group_resource = f"{resource.plural}.{resource.group}".rstrip(".")
    details = {"name": name, "group": resource.group, "kind": resource.plural}
    return ApiError(code, reason, message.format(f'{group_resource} "{name}"'), details)


def not_found(resource: kmock.resource, name: str | None) -> ApiError:
    return _object_error(404, "NotFound", resource, name, "{} not found")


def conflict(resource: kmock.resource, name: str | None, why: str) -> ApiError:
    return _object_error(409, "Conflict", resource, name, f"Operation cannot be fulfilled on {{}}: {why}")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


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


def now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- protobuf bodies: kubectl's typed clients (e.g. `kubectl create namespace`) send built-in objects so ---


def _varint(data: bytes, index: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[index]
        value, shift, index = value | (byte & 0x7F) << shift, shift + 7, index + 1
        if not byte & 0x80:
            return value, index


def _protobuf_fields(data: bytes) -> dict[int, list[Any]]:
    """A protobuf message's fields by number (values: ints for varints, bytes for everything else)."""
    fields: dict[int, list[Any]] = {}
    index = 0
    while index < len(data):
        key, index = _varint(data, index)
        value: Any
        if key & 7 == 0:
            value, index = _varint(data, index)
        else:
            length, index = _varint(data, index) if key & 7 == 2 else (8 if key & 7 == 1 else 4, index)
            value, index = data[index : index + length], index + length
        fields.setdefault(key >> 3, []).append(value)
    return fields


def decode_protobuf_object(body: bytes) -> JSON:
    """The type and metadata of a ``runtime.Unknown``-wrapped built-in object (other fields are not decoded)."""
    envelope = _protobuf_fields(body[len(PROTOBUF_MAGIC) :])
    type_meta = _protobuf_fields(envelope.get(1, [b""])[0])
    meta = _protobuf_fields(_protobuf_fields(envelope.get(2, [b""])[0]).get(1, [b""])[0])

    def text(fields: dict[int, list[Any]], number: int) -> str | None:
        return fields[number][0].decode() if number in fields else None

    def mapping(number: int) -> dict[str, str]:
        entries = [_protobuf_fields(entry) for entry in meta.get(number, [])]
        return {text(entry, 1) or "": text(entry, 2) or "" for entry in entries}

    metadata: dict[str, Any] = {"name": text(meta, 1), "generateName": text(meta, 2), "namespace": text(meta, 3)}
    metadata |= {
        "labels": mapping(11),
        "annotations": mapping(12),
        "finalizers": [f.decode() for f in meta.get(14, [])],
    }
    kind = {"apiVersion": text(type_meta, 1), "kind": text(type_meta, 2)}
    return kind | {"metadata": {key: value for key, value in metadata.items() if value}}


# --- selectors and tables ---


def _split_selector(selector: str) -> list[str]:
    """Split on the commas that are not inside ``in (a,b)`` sets."""
    return [term.strip() for term in re.split(r",(?![^(]*\))", selector) if term.strip()]


def label_selector_matches(selector: str, labels: Mapping[str, str]) -> bool:
    for term in _split_selector(selector):
        if match := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\((.*)\)", term):
            values = {value.strip() for value in match[3].split(",")}
            if (match[1] in labels and labels[match[1]] in values) != (match[2] == "in"):
                return False
        elif match := re.fullmatch(r"([\w./-]+)\s*(!=|==|=)\s*(.*)", term):
            if (labels.get(match[1]) == match[3].strip()) == (match[2] == "!="):
                return False
        elif (term[1:].strip() in labels) if term.startswith("!") else (term not in labels):
            return False
    return True


def field_selector_matches(selector: str, obj: JSON) -> bool:
    for term in _split_selector(selector):
        match = re.fullmatch(r"([\w.]+)\s*(!=|==|=)\s*(.*)", term)
        if match is None:
            raise bad_request(f'invalid field selector: "{term}"')
        value: Any = obj
        for part in match[1].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if (("" if value is None else str(value)) == match[3].strip()) == (match[2] == "!="):
            return False
    return True


def human_duration(seconds: float) -> str:
    """The age format of kube-apiserver's tables (apimachinery's HumanDuration)."""
    if seconds < -1:
        return "<invalid>"
    total = max(int(seconds), 0)
    minutes, hours, days = total // 60, total // 3600, total // 86400
    steps: list[tuple[bool, str, int, str]] = [  # (applies, unit, remainder, remainder unit)
        (total < 120, f"{total}s", 0, ""),
        (minutes < 10, f"{minutes}m", total % 60, "s"),
        (minutes < 180, f"{minutes}m", 0, ""),
        (hours < 8, f"{hours}h", minutes % 60, "m"),
        (hours < 48, f"{hours}h", 0, ""),
        (hours < 24 * 8, f"{days}d", hours % 24, "h"),
        (days < 365 * 2, f"{days}d", 0, ""),
        (days < 365 * 8, f"{days // 365}y", days % 365, "d"),
    ]
    for applies, whole, remainder, unit in steps:
        if applies:
            return f"{whole}{remainder}{unit}" if remainder else whole
    return f"{days // 365}y"


def json_path(obj: Any, expression: str) -> Any:
    """The JSONPath that printer columns use: fields, indexes and ``[?(@.key=="value")]`` filters."""
    tokens = re.findall(r"\.([^.\[]+)|\[(\d+)\]|\[\?\(@\.([\w-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]", expression)
    for field, index, filter_key, filter_value in tokens:
        if field:
            obj = obj.get(field) if isinstance(obj, dict) else None
        elif index:
            obj = obj[int(index)] if isinstance(obj, list) and int(index) < len(obj) else None
        else:
            matching = [item for item in obj or [] if isinstance(item, dict) and item.get(filter_key) == filter_value]
            obj = matching[0] if matching else None
    return obj


def table_cell(column_type: str, value: Any) -> Any:
    """A printer column's cell: dates as ages, other values only if they have the column's type."""
    if value is None:
        return None
    if column_type == "date":
        try:
            created = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return "<invalid>"
        return human_duration((datetime.datetime.now(tz=datetime.UTC) - created).total_seconds())
    accepted: dict[str, tuple[type, ...]] = {"integer": (int,), "number": (int, float), "string": (str,)}
    return value if isinstance(value, accepted.get(column_type, (bool,))) else None


# --- the API server ---


@attrs.define(kw_only=True)
class ApiServer(kmock.KubernetesScaffold):
    """kube-apiserver's behaviour on kmock's scaffold: storage, writes, watches, CRDs, discovery, tables."""

    bookmark_seconds: float = 5.0
    history_limit: int = HISTORY_LIMIT
    request_log_limit: int = REQUEST_LOG_LIMIT
    versions_limit: int = VERSIONS_LIMIT
    _objects: kmock.ObjectsArray = attrs.field(factory=kmock.ObjectsArray, init=False)
    _requests_received: int = attrs.field(default=0, init=False)
    _builtin_reactions: frozenset[int] = attrs.field(factory=frozenset, init=False)
    _serve_reaction: kmock.Reaction | None = attrs.field(default=None, init=False)
    _custom: dict[kmock.resource, CustomResource] = attrs.field(factory=dict, init=False)
    _revision: int = attrs.field(default=0, init=False)
    _history: list[Event] = attrs.field(factory=list, init=False)
    _watchers: set[asyncio.Queue[Event | None]] = attrs.field(factory=set, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        with warnings.catch_warnings():  # kmock reads its bundled file with a deprecated importlib call
            warnings.simplefilter("ignore", DeprecationWarning)
            self.resources.load_bundled()
        serve_reaction = (self.fallback**1)[_addresses_a_resource] << self._serve
        assert isinstance(serve_reaction, kmock.Reaction)  # a Stream only comes from a ``[...]`` view
        self._serve_reaction = serve_reaction
        self.fallback["get /openapi/v3"] << self._serve_openapi_index
        self.fallback["get", re.compile(r"/openapi/v3/apis?/.+")] << self._serve_openapi
        self._builtin_reactions = frozenset(id(reaction) for reaction in self._payloads)
        for namespace in PRESET_NAMESPACES:
            self.store_create(NAMESPACES, None, {"metadata": {"name": namespace}})

    @property
    def objects(self) -> kmock.ObjectsArray:
        return self._objects

    # -- the HTTP entry point: kmock's, with kube-apiserver's path parsing and Status answers --

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        body = await raw_request.read()
        try:
            protobuf = "protobuf" in raw_request.headers.get("Content-Type", "") and body.startswith(PROTOBUF_MAGIC)
            data = decode_protobuf_object(body) if protobuf else json.loads(body) if body else None
        except ValueError:
            data = None
        path = ApiPath.parse(raw_request.path)
        self._requests_received += 1
        request = kmock.Request(
            id=self._requests_received,
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
        self._requests.append(request)
        try:
            return await self._handle(request)
        except ApiError as error:
            return aiohttp.web.json_response(error.status(), status=error.code)
        except kmock.KubernetesError as error:  # kmock's own answers, e.g. 404 for /openapi/v2
            return await self._render_error(error)
        except Exception as error:  # an emulator bug: answered with a 500 Status, and kept for assertions
            if self._errors:
                self._errors[-1].append(error)
            return await self._render_error(error)
        finally:
            self._forget_old_requests()

    def _forget_old_requests(self) -> None:
        """Keep the last ``request_log_limit`` requests: kmock checks whether a reaction sees a request by filtering
        every kept request, so an unbounded log makes each answer slower than the one before."""
        for log in (self._requests, *(reaction._requests for reaction in self._payloads)):
            del log[: -self.request_log_limit]

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        """Straight to the store when no test added a reaction: with only the built-in ones, the catch-all (the
        first of them) is the one that takes any request addressing a resource."""
        only_builtin = {id(reaction) for reaction in self._payloads} == self._builtin_reactions
        if self._serve_reaction is not None and only_builtin and _addresses_a_resource(request):
            return await self._serve_reaction(request)
        return await super()._handle(request)

    async def _serve(self, request: kmock.Request) -> Response:
        assert request._raw_request is not None
        path = ApiPath.parse(request._raw_request.path)
        assert path is not None
        if path.resource not in self.resources or path.subresource not in (None, *self._subresources(path.resource)):
            raise UNSERVED
        method, params = request.method, request.params
        table = "as=Table" in request.headers.get("Accept", "")
        dry_run, validation = params.get("dryRun") == "All", params.get("fieldValidation")
        field_selector_matches(params.get("fieldSelector", ""), {})  # malformed selectors answer 400 up front
        if request.action == kmock.action.WATCH:  # so do the watch's parameters, before the stream starts
            since, timeout = _number(params, "resourceVersion", 0), _number(params, "timeoutSeconds", math.inf)
            stream = self._watch(path, params, table, int(since), timeout)
            return Response(status=200, headers={"Content-Type": "application/json"}, payload=stream)
        if method == "GET":
            return Response(
                status=200, payload=self._list(path, params, table) if path.name is None else self._get(path)
            )
        if method == "POST" and path.name is None:
            body = _body(request.data, dict)
            return Response(
                status=201, payload=self.store_create(path.resource, path.namespace, body, validation, dry_run)
            )
        if method in ("PUT", "PATCH") and path.name is not None:
            current = self._get(path)
            content_type = request.headers.get("Content-Type", "")
            new = (
                _body(request.data, dict)
                if method == "PUT"
                else self._patched(path, current, content_type, request.data)
            )
            return Response(status=200, payload=self.store_update(path, current, new, validation, dry_run))
        options = request.data if isinstance(request.data, dict) else {}
        if method == "DELETE" and path.name is not None:
            return Response(status=200, payload=self.store_delete(path, options, dry_run))
        if method == "DELETE":  # deletecollection: what the selectors match, one by one
            found = self._list(path, params, table=False)
            addresses = [
                dataclasses.replace(path, namespace=item["metadata"].get("namespace"), name=item["metadata"]["name"])
                for item in found["items"]
            ]
            deleted = [self.store_delete(address, options, dry_run) for address in addresses]
            return Response(
                status=200, payload=found | {"items": deleted, "metadata": {"resourceVersion": str(self._revision)}}
            )
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _subresources(self, resource: kmock.resource) -> set[str]:
        return {"status"} & self.resources[resource].subresources

    # -- discovery: kmock's, with kube-apiserver's resource lists, version, and an OpenAPI v3 index --

    async def _serve_version(self, request: kmock.Request) -> Any:
        assert request.resource is not None
        group, version = request.resource.group, request.resource.version
        served = sorted((r for r in self.resources if (r.group, r.version) == (group, version)), key=str)
        if not served:
            raise UNSERVED
        entries = []
        for resource in served:
            info = self.resources[resource]
            common = {"namespaced": bool(info.namespaced), "kind": info.kind}
            entries.append(
                {"name": resource.plural, "singularName": info.singular or "", **common, "verbs": sorted(info.verbs)}
                | {"shortNames": sorted(info.shortnames), "categories": sorted(info.categories)}
            )
            entries += [
                {"name": f"{resource.plural}/{sub}", "singularName": "", **common, "verbs": ["get", "patch", "update"]}
                for sub in sorted(info.subresources)
            ]
        group_version = f"{group}/{version}".lstrip("/")
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": entries}

    async def _serve_server_version(self, request: kmock.Request) -> Any:
        return {"major": "1", "minor": "37", "gitVersion": "v1.37.0-lowlatency-emulator", "platform": "linux/amd64"}

    def _openapi_documents(self) -> dict[str, JSON]:
        """Per group-version, each resource's PATCH operation with its kind and ``fieldValidation`` parameter, and
        the schemas of custom resources (for ``kubectl explain``)."""
        documents: dict[str, JSON] = {}
        names = ("dryRun", "fieldManager", "fieldValidation")
        parameters = [{"name": name, "in": "query", "schema": {"type": "string"}} for name in names]
        content = {media_type: {"schema": {"type": "object"}} for media_type in (JSON_PATCH, MERGE_PATCH)}
        for resource in self.resources:
            info = self.resources[resource]
            prefix = f"apis/{resource.group}/{resource.version}" if resource.group else f"api/{resource.version}"
            scope = "namespaces/{namespace}/" if info.namespaced else ""
            gvk = {"group": resource.group, "version": resource.version, "kind": info.kind}
            operation = {
                "x-kubernetes-group-version-kind": gvk,
                "parameters": parameters,
                "requestBody": {"content": content},
                "responses": {"200": {"description": "OK"}},
            }
            info_block = {"title": "Kubernetes", "version": "v1.37.0"}
            empty: JSON = {"openapi": "3.0.0", "info": info_block, "paths": {}, "components": {"schemas": {}}}
            document = documents.setdefault(prefix, empty)
            document["paths"][f"/{prefix}/{scope}{resource.plural}/{{name}}"] = {"patch": operation}
            custom = self._custom.get(resource)
            if custom is not None and custom.schema is not None:
                name = ".".join([*reversed(str(resource.group).split(".")), str(resource.version), str(info.kind)])
                schema = custom.schema | {"x-kubernetes-group-version-kind": [gvk]}
                document["components"]["schemas"][name] = schema
        return documents

    async def _serve_openapi_index(self, request: kmock.Request) -> Any:
        paths = {}
        for prefix, document in self._openapi_documents().items():
            digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]
            paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash={digest}"}
        return {"paths": paths}

    async def _serve_openapi(self, request: kmock.Request) -> Any:
        document = self._openapi_documents().get(request.url.path.removeprefix("/openapi/v3/"))
        if document is None:
            raise UNSERVED
        return document

    # -- reading --

    def _stored(self, resource: kmock.resource, namespace: str | None, name: str) -> JSON | None:
        key = (resource, namespace, name)
        if key in self._objects and not self._objects[key].deleted:
            return copy.deepcopy(self._objects[key].raw)
        return None

    def _get(self, path: ApiPath) -> JSON:
        assert path.name is not None
        stored = self._stored(
            path.resource, path.namespace if self.resources[path.resource].namespaced else None, path.name
        )
        if stored is None:
            raise not_found(path.resource, path.name)
        return stored

    def _matching(self, path: ApiPath, params: Mapping[str, str], obj: JSON) -> bool:
        metadata = obj.get("metadata", {})
        if path.namespace is not None and metadata.get("namespace") != path.namespace:
            return False
        if path.name is not None and metadata.get("name") != path.name:
            return False
        labels_match = label_selector_matches(params.get("labelSelector", ""), metadata.get("labels") or {})
        return labels_match and field_selector_matches(params.get("fieldSelector", ""), obj)

    def _kind(self, resource: kmock.resource) -> tuple[str, str]:
        """The kind of the resource's lists (``XxxList``) and its apiVersion."""
        custom = self._custom.get(resource)
        list_kind = custom.list_kind if custom else f"{self.resources[resource].kind}List"
        return list_kind, f"{resource.group}/{resource.version}".lstrip("/")

    def _list(self, path: ApiPath, params: Mapping[str, str], table: bool) -> JSON:
        items = [
            copy.deepcopy(obj.raw)
            for (resource, _, _), obj in self._objects.items()
            if resource == path.resource and not obj.deleted and self._matching(path, params, obj.raw)
        ]
        items.sort(key=lambda item: (item["metadata"].get("namespace") or "", item["metadata"]["name"]))
        try:
            offset = json.loads(base64.b64decode(params["continue"]))["offset"] if params.get("continue") else 0
        except (ValueError, KeyError) as error:
            raise bad_request("continue key is not valid") from error
        limit = int(_number(params, "limit", 0)) or len(items)
        page, rest = items[offset : offset + limit], items[offset + limit :]
        metadata: JSON = {"resourceVersion": str(self._revision)}
        if rest:
            token = base64.b64encode(json.dumps({"offset": offset + limit}).encode()).decode()
            metadata |= {"continue": token, "remainingItemCount": len(rest)}
        if table:
            return self._table(path.resource, page, metadata, params.get("includeObject", "Metadata"))
        list_kind, api_version = self._kind(path.resource)
        return {"kind": list_kind, "apiVersion": api_version, "metadata": metadata, "items": page}

    def _table(self, resource: kmock.resource, objs: list[JSON], metadata: JSON, include: str) -> JSON:
        custom = self._custom.get(resource)
        if custom is not None:  # the CRD's columns, after the Name that kube-apiserver always puts first
            columns = [NAME_COLUMN, *(custom.printer_columns or [AGE_COLUMN])]
        else:
            columns = BUILTIN_COLUMNS.get(resource, [NAME_COLUMN, AGE_COLUMN])
        definitions = []
        for column in columns:
            described = {"format": column.get("format", ""), "description": column.get("description", "")}
            definitions.append(
                {"name": column["name"], "type": column["type"], **described} | {"priority": column.get("priority", 0)}
            )
        rows = []
        for obj in objs:
            partial = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
            embedded = {"Object": obj, "Metadata": partial}.get(include)
            cells = [table_cell(column["type"], json_path(obj, column["jsonPath"])) for column in columns]
            rows.append({"cells": cells, "object": embedded})
        return {
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": metadata,
            "columnDefinitions": definitions,
            "rows": rows,
        }

    async def _watch(
        self, path: ApiPath, params: Mapping[str, str], table: bool, since: int, seconds: float
    ) -> AsyncIterator[bytes | JSON]:
        initial = params.get("sendInitialEvents") == "true" or since == 0
        bookmarks = params.get("allowWatchBookmarks") == "true"
        deadline = asyncio.get_running_loop().time() + seconds

        # The starting point is taken and the watcher subscribed with no await between: no event falls in between.
        if initial:
            items = self._list(dataclasses.replace(path, name=None), {}, table=False)["items"]
            backlog = [(self._revision, path.resource, "ADDED", obj) for obj in items]
        else:
            oldest = self._history[0][0] if self._history else self._revision + 1
            if since < oldest - 1:
                gone = ApiError(410, "Expired", f"too old resource version: {since} ({oldest - 1})")
                yield {"type": "ERROR", "object": gone.status()}
                return
            backlog = [event for event in self._history if event[0] > since]
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._watchers.add(queue)
        try:
            yield b""  # the headers go now, before any event, as kube-apiserver sends them
            for event in backlog:
                if event[1] == path.resource and self._matching(path, params, event[3]):
                    yield self._watch_event(event, table)
            if initial and bookmarks:
                yield self._bookmark(path.resource, {"k8s.io/initial-events-end": "true"})
            while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
                try:
                    async with asyncio.timeout(min(remaining, self.bookmark_seconds)):
                        next_event = await queue.get()
                except TimeoutError:
                    if bookmarks and remaining > self.bookmark_seconds:  # not when the watch's own time is up
                        yield self._bookmark(path.resource, {})
                    continue
                if next_event is None:
                    return
                if next_event[1] == path.resource and self._matching(path, params, next_event[3]):
                    yield self._watch_event(next_event, table)
        finally:
            self._watchers.discard(queue)

    def _watch_event(self, event: Event, table: bool) -> JSON:
        _, resource, event_type, obj = event
        if table:
            obj = self._table(resource, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]}, "Object")
        return {"type": event_type, "object": obj}

    def _bookmark(self, resource: kmock.resource, annotations: Mapping[str, str]) -> JSON:
        list_kind, api_version = self._kind(resource)
        metadata = {"resourceVersion": str(self._revision), "annotations": dict(annotations)}
        return {
            "type": "BOOKMARK",
            "object": {"kind": list_kind.removesuffix("List"), "apiVersion": api_version, "metadata": metadata},
        }

    # -- writing --

    def _commit(self, resource: kmock.resource, obj: JSON, event_type: str) -> JSON:
        """Store a new version (or the removal) with the next resourceVersion and tell the watchers; an Event is
        one object seen through two APIs, so its other form is stored with it."""
        self._revision += 1
        obj["metadata"]["resourceVersion"] = str(self._revision)
        self._record(resource, obj, event_type)
        if resource in EVENT_RESOURCES:
            self._record(EVENT_RESOURCES[resource], event_as(EVENT_RESOURCES[resource], obj), event_type)
        return obj

    def _record(self, resource: kmock.resource, obj: JSON, event_type: str) -> None:
        key = (resource, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        if key not in self._objects:
            self._objects[key] = []
        if event_type == "DELETED":
            self._objects[key].delete()
        else:
            self._objects[key].create(copy.deepcopy(obj))
        del self._objects[key].history[: -self.versions_limit]
        event = (self._revision, resource, event_type, copy.deepcopy(obj))
        self._history.append(event)
        del self._history[: -self.history_limit]
        for queue in self._watchers:
            queue.put_nowait(event)

    def store_create(
        self,
        resource: kmock.resource,
        namespace: str | None,
        body: JSON,
        validation: str | None = None,
        dry_run: bool = False,
    ) -> JSON:
        """POST: the object as stored, or the ApiError kube-apiserver would answer."""
        info, obj = self.resources[resource], copy.deepcopy(body)
        metadata = obj.setdefault("metadata", {})
        list_kind, api_version = self._kind(resource)
        obj.setdefault("apiVersion", api_version)
        obj.setdefault("kind", list_kind.removesuffix("List"))
        if (obj["apiVersion"], obj["kind"]) != (api_version, list_kind.removesuffix("List")):
            mismatch = f"the API version in the data ({obj['apiVersion']}) does not match the expected API version"
            raise bad_request(f"{mismatch} ({api_version})")
        if info.namespaced:
            if namespace is None or metadata.get("namespace", namespace) != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            self._check_namespace_open(namespace)
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = metadata["generateName"] + "".join(random.choices(SUFFIX_ALPHABET, k=5))
        if not metadata.get("name"):
            cause = {"reason": "FieldValueRequired", "field": "metadata.name"}
            raise self._invalid(
                resource, obj, [cause | {"message": "Required value: name or generateName is required"}]
            )
        if problem := _name_problem(metadata["name"], label=resource == NAMESPACES):
            message = f"Invalid value: {json.dumps(metadata['name'])}: {problem}"
            raise self._invalid(
                resource, obj, [{"reason": "FieldValueInvalid", "field": "metadata.name", "message": message}]
            )
        if self._stored(resource, metadata.get("namespace"), metadata["name"]) is not None:
            raise _object_error(409, "AlreadyExists", resource, metadata["name"], "{} already exists")
        for field in ("resourceVersion", *IMMUTABLE_METADATA):
            metadata.pop(field, None)
        metadata |= {"uid": str(uuid.uuid4()), "creationTimestamp": now()}
        if resource in self._custom or resource == CRDS:
            metadata["generation"] = 1
        if resource == NAMESPACES:
            obj |= {"spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
        elif self._subresources(resource):
            obj.pop("status", None)
        obj = self._admit(resource, obj, validation)
        if resource == CRDS:
            obj["status"] = _crd_status(obj)
        if dry_run:
            return obj
        created = self._commit(resource, obj, "ADDED")
        if resource == CRDS:
            self._register_crd(created)
        return created

    def _patched(self, path: ApiPath, current: JSON, content_type: str, patch: Any) -> JSON:
        media_type = content_type.split(";", maxsplit=1)[0].strip()
        if media_type == JSON_PATCH:
            try:
                patched: JSON = jsonpatch.apply_patch(current, _body(patch, list))
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as error:
                raise ApiError(
                    422, "Invalid", f"the server rejected our request due to an error in our request: {error}"
                ) from error
            return patched
        if media_type == MERGE_PATCH or (media_type == STRATEGIC_MERGE_PATCH and path.resource not in self._custom):
            merged: JSON = merge_patch(current, _body(patch, dict))
            return merged
        accepted = f"{JSON_PATCH}, {MERGE_PATCH}"
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types include: {accepted}",
        )

    def store_update(
        self, path: ApiPath, current: JSON, replacement: JSON, validation: str | None = None, dry_run: bool = False
    ) -> JSON:
        """PUT, or the result of a PATCH, to an object or its status: what kube-apiserver's strategies keep of it."""
        resource, old_metadata = path.resource, current["metadata"]
        new = copy.deepcopy(replacement)
        metadata = new.setdefault("metadata", {})
        if metadata.get("name", path.name) != path.name:
            raise bad_request(
                f"the name of the object ({metadata.get('name')}) does not match the name on the URL ({path.name})"
            )
        if metadata.get("resourceVersion") not in (None, "", old_metadata["resourceVersion"]):
            why = "the object has been modified; please apply your changes to the latest version and try again"
            raise conflict(resource, path.name, why)
        if path.subresource == "status":  # the status strategy: all but status comes from the stored object
            new = {key: value for key, value in current.items() if key != "status"} | (
                {"status": new["status"]} if "status" in new else {}
            )
        else:
            if self._subresources(resource):
                new = {key: value for key, value in new.items() if key != "status"} | (
                    {"status": current["status"]} if "status" in current else {}
                )
            for field in (*IMMUTABLE_METADATA, "namespace"):
                metadata.pop(field, None)
                if field in old_metadata:
                    metadata[field] = old_metadata[field]
            added = set(metadata.get("finalizers") or []) - set(old_metadata.get("finalizers") or [])
            if old_metadata.get("deletionTimestamp") and added:
                message = "Forbidden: no new finalizers can be added if the object is being deleted, "
                message += f"found new finalizers {sorted(added)}"
                raise self._invalid(
                    resource,
                    new,
                    [{"reason": "FieldValueForbidden", "field": "metadata.finalizers", "message": message}],
                )
        new |= {"kind": current["kind"], "apiVersion": current["apiVersion"]}
        new["metadata"] = dict(new["metadata"]) | {
            "name": path.name,
            "resourceVersion": old_metadata["resourceVersion"],
        }
        new = self._admit(resource, new, validation, old=current, status=path.subresource == "status")
        if resource == CRDS:
            new["status"] = current["status"] | {"acceptedNames": new["spec"]["names"]}
        spec_changed = {k: v for k, v in new.items() if k != "metadata"} != {
            k: v for k, v in current.items() if k != "metadata"
        }
        if spec_changed and path.subresource != "status" and "generation" in old_metadata:
            new["metadata"]["generation"] = old_metadata["generation"] + 1
        if new == current or dry_run:
            return new
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            self._remove(resource, current)  # the last finalizer is gone: deleted instead of updated
            return new
        updated = self._commit(resource, new, "MODIFIED")
        if resource == CRDS:
            self._register_crd(updated)
        return updated

    def store_delete(self, path: ApiPath, options: Mapping[str, Any], dry_run: bool = False) -> JSON:
        """DELETE: marked as deleting while finalizers hold it, else removed (as kube-apiserver's store does)."""
        current = self._get(path)
        metadata = current["metadata"]
        for field, expected in (options.get("preconditions") or {}).items():
            if expected is not None and metadata.get(field) != expected:
                why = f"Precondition failed: {field} in precondition: {expected}, "
                why += f"{field} in object meta: {metadata.get(field)}"
                raise conflict(path.resource, path.name, why)
        if dry_run or metadata.get("deletionTimestamp"):
            return current
        if path.resource == NAMESPACES:
            return self._delete_namespace(current)
        if metadata.get("finalizers"):
            metadata |= {"deletionTimestamp": now(), "deletionGracePeriodSeconds": 0}
            if "generation" in metadata:
                metadata["generation"] += 1
            return self._commit(path.resource, current, "MODIFIED")
        return self._remove(path.resource, current)

    def _remove(self, resource: kmock.resource, obj: JSON) -> JSON:
        removed = self._commit(resource, copy.deepcopy(obj), "DELETED")
        if resource == CRDS:
            self._unregister_crd(removed)
        if obj["metadata"].get("namespace") is not None:
            self._finish_namespace(obj["metadata"]["namespace"])
        return removed

    def _delete_namespace(self, namespace: JSON) -> JSON:
        """The namespace controller's job: delete what is in it; the namespace goes once it is empty."""
        name = namespace["metadata"]["name"]
        namespace["metadata"]["deletionTimestamp"] = now()
        terminating = self._commit(NAMESPACES, namespace | {"status": {"phase": "Terminating"}}, "MODIFIED")
        for resource, _, object_name in [
            key for key, obj in self._objects.items() if key[1] == name and not obj.deleted
        ]:
            if self._stored(resource, name, object_name) is not None:  # the other form of an Event goes with it
                self.store_delete(
                    ApiPath(resource.group or "", resource.version or "", resource.plural, name, object_name), {}
                )
        return self._finish_namespace(name) or terminating

    def _finish_namespace(self, name: str) -> JSON | None:
        """Remove a terminating namespace once nothing is left in it."""
        namespace = self._stored(NAMESPACES, None, name)
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return None
        if any(key[1] == name and not obj.deleted for key, obj in self._objects.items()):
            return None
        return self._commit(NAMESPACES, namespace, "DELETED")

    def _check_namespace_open(self, namespace: str) -> None:
        stored = self._stored(NAMESPACES, None, namespace)
        if stored is None:
            raise not_found(NAMESPACES, namespace)
        if stored["metadata"].get("deletionTimestamp"):
            message = f"unable to create new content in namespace {namespace} because it is being terminated"
            raise ApiError(403, "Forbidden", message, {"name": namespace, "kind": "namespaces"})

    def _invalid(self, resource: kmock.resource, obj: JSON, causes: list[JSON]) -> ApiError:
        kind, name = obj.get("kind") or self.resources[resource].kind, obj.get("metadata", {}).get("name", "")
        errors = [f"{cause['field']}: {cause['message']}" for cause in causes]
        listed = errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]"
        details = {"name": name, "group": resource.group, "kind": kind, "causes": causes}
        return ApiError(
            422, "Invalid", f"{kind}.{resource.group}".rstrip(".") + f' "{name}" is invalid: {listed}', details
        )

    def _admit(
        self, resource: kmock.resource, obj: JSON, validation: str | None, old: JSON | None = None, status: bool = False
    ) -> JSON:
        """Prune, default and validate a custom resource against its CRD (``old``: the stored object on update);
        check a CRD as kube-apiserver does before serving it (a write to its status changes nothing else)."""
        custom = self._custom.get(resource)
        if custom is not None and custom.schema is not None:
            obj, unknown = custom.decode(obj)
            self._refuse_unknown_fields(resource, unknown, validation)
            if causes := custom.causes(obj, old):
                raise self._invalid(resource, obj, causes)
        if resource == CRDS and not status:
            self._refuse_unknown_fields(resource, unknown_schema_fields(obj), validation)
            obj = drop_unknown_schema_fields(obj)
            if causes := crd_causes(obj, old):
                raise self._invalid(resource, obj, causes)
        return obj

    def _refuse_unknown_fields(self, resource: kmock.resource, unknown: list[str], validation: str | None) -> None:
        """With fieldValidation=Strict (kubectl's default) an unknown field is refused while decoding (400)."""
        if unknown and validation == "Strict":
            kind = self._kind(resource)[0].removesuffix("List")
            fields = ", ".join(f'unknown field "{field}"' for field in unknown)
            raise bad_request(
                f'{kind} in version "{resource.version}" cannot be handled as a {kind}: strict decoding error: {fields}'
            )

    # -- CustomResourceDefinitions decide which custom resources are served --

    def _register_crd(self, crd: JSON) -> None:
        self._unregister_crd(crd, keep_objects=True)
        spec, names = crd["spec"], crd["spec"]["names"]
        for version in [version for version in spec.get("versions", []) if version.get("served", True)]:
            resource = kmock.resource(spec["group"], version["name"], names["plural"])
            self.resources[resource] = kmock.ResourceInfo(
                kind=names["kind"],
                singular=names.get("singular", names["kind"].lower()),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                verbs=CUSTOM_RESOURCE_VERBS,
                shortnames=names.get("shortNames", []),
                categories=names.get("categories", []),
                subresources=set(version.get("subresources") or {}),
            )
            self._custom[resource] = CustomResource(
                list_kind=names.get("listKind", f"{names['kind']}List"),
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=version.get("additionalPrinterColumns") or [],
            )

    def _unregister_crd(self, crd: JSON, keep_objects: bool = False) -> None:
        group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
        for resource in [resource for resource in self._custom if (resource.group, resource.plural) == (group, plural)]:
            for (stored_resource, _, _), obj in [] if keep_objects else list(self._objects.items()):
                if stored_resource == resource and not obj.deleted:
                    self._commit(resource, copy.deepcopy(obj.raw), "DELETED")
            del self._custom[resource]
            del self.resources[resource]

    def stop_watches(self) -> None:
        """End every open watch stream, as a server does when it shuts down."""
        for queue in self._watchers:
            queue.put_nowait(None)


def _addresses_a_resource(request: kmock.Request) -> bool:
    return bool(request.resource is not None and request.resource.plural)


def _crd_status(crd: JSON) -> JSON:
    """What the apiextensions controllers write into a new CRD's status once its names are accepted."""
    conditions = [
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
        {
            "type": "Established",
            "status": "True",
            "reason": "InitialNamesAccepted",
            "message": "the initial names have been accepted",
        },
    ]
    stored = [version["name"] for version in crd["spec"].get("versions", []) if version.get("storage")]
    conditions = [condition | {"lastTransitionTime": now()} for condition in conditions]
    return {"acceptedNames": crd["spec"].get("names", {}), "conditions": conditions, "storedVersions": stored}


def _action(method: str, path: ApiPath | None, watch: bool) -> kmock.action | None:
    """kmock's name for what a request does (kmock has none for PUT)."""
    if path is None or path.plural is None:
        return None
    if method == "GET":
        return kmock.action.WATCH if watch else kmock.action.LIST if path.name is None else kmock.action.FETCH
    return {"POST": kmock.action.CREATE, "PATCH": kmock.action.UPDATE, "DELETE": kmock.action.DELETE}.get(method)


def event_as(resource: kmock.resource, event: JSON) -> JSON:
    """An Event in the form of the other Events API (kube-apiserver serves one object through both)."""
    fields = EVENT_FIELDS if resource == NEW_EVENTS else {new: old for old, new in EVENT_FIELDS.items()}
    converted = {fields.get(key, key): copy.deepcopy(value) for key, value in event.items()}
    return converted | {"apiVersion": f"{resource.group}/{resource.version}".lstrip("/"), "kind": "Event"}


def _name_problem(name: str, label: bool) -> str | None:
    """What is wrong with an object's name: namespaces are RFC 1123 labels, other objects RFC 1123 subdomains."""
    if label and not (re.fullmatch(DNS_LABEL, name) and len(name) <= 63):
        return (
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
            f"and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
            f"'{DNS_LABEL}')"
        )
    subdomain = rf"{DNS_LABEL}(\.{DNS_LABEL})*"
    if not (re.fullmatch(subdomain, name) and len(name) <= 253):
        return (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
            f"start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
            f"'{subdomain}')"
        )
    return None


def _number(params: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(params[name]) if params.get(name) else default
    except ValueError as error:
        raise bad_request(f"invalid {name}: {params[name]!r}") from error


def _body(data: Any, expected: type) -> Any:
    if not isinstance(data, expected):
        raise bad_request(f"the request body must be a JSON {'object' if expected is dict else 'array'}")
    return data


# --- running it ---


class KubernetesEmulator:
    """The API server on 127.0.0.1 and a free port. ``with`` runs it in a background thread with its own event loop
    (for synchronous tests and the demo); ``async with`` runs it in the current event loop."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bookmark_seconds: float = 5.0,
        history_limit: int = HISTORY_LIMIT,
        request_log_limit: int = REQUEST_LOG_LIMIT,
        versions_limit: int = VERSIONS_LIMIT,
    ) -> None:
        self.api = ApiServer(
            bookmark_seconds=bookmark_seconds,
            history_limit=history_limit,
            request_log_limit=request_log_limit,
            versions_limit=versions_limit,
        )
        self._host, self._port = host, port
        self._runner: aiohttp.web.ServerRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("the Kubernetes emulator is not running")
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def start(self) -> None:
        await self.api.__aenter__()
        server = aiohttp.web.Server(self.api, handler_cancellation=True, access_log=None)
        self._runner = aiohttp.web.ServerRunner(server, handle_signals=False, shutdown_timeout=1)
        await self._runner.setup()
        await aiohttp.web.TCPSite(self._runner, self._host, self._port).start()

    async def stop(self) -> None:
        self.api.stop_watches()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.api.__aexit__(None, None, None)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __enter__(self) -> Self:
        loop, started = asyncio.new_event_loop(), threading.Event()

        def serve() -> None:
            loop.run_until_complete(self.start())
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._loop, self._thread = loop, threading.Thread(target=serve, name="kubernetes-emulator", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the Kubernetes emulator did not start")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def _in_server_loop(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run a store operation where the server runs: its own thread (``with``) or the caller's (``async with``)."""
        if self._loop is None:
            return function(*args)

        async def call() -> Any:
            return function(*args)

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(10)

    def stop_watches(self) -> None:
        """End every open watch stream, as kube-apiserver does when it restarts: clients list and watch again."""
        self._in_server_loop(self.api.stop_watches)

    def install_crd(self, document: Mapping[str, Any]) -> JSON:
        """Register a CustomResourceDefinition, as ``kubectl apply -f`` of a new one does."""
        installed: JSON = self._in_server_loop(self.api.store_create, CRDS, None, dict(document))
        return installed

    def get(self, resource: str, namespace: str | None, name: str) -> JSON | None:
        """A copy of the stored object (``resource`` as ``group/version/plural``, or ``v1/plural``), or None."""
        stored: JSON | None = self._in_server_loop(self.api._stored, kmock.resource(resource), namespace, name)
        return stored

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        """A kubeconfig that kopf, the kubernetes client and kubectl accept: plain HTTP to 127.0.0.1, a token."""
        context = {"cluster": "emulator", "user": "emulator", "namespace": namespace}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "emulator", "user": {"token": "emulator"}}],
            "contexts": [{"name": "emulator", "context": context}],
            "current-context": "emulator",
        }
        path.write_text(yaml.safe_dump(config))
        return path
