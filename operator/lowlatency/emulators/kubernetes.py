"""A local Kubernetes API server for tests and the demo: kmock's emulator, made to behave like kube-apiserver.

kopf, the ``kubernetes`` client and the real ``kubectl`` talk to it over HTTP on 127.0.0.1 as they would to a
cluster. It is built on kmock (the in-memory Kubernetes mock by kopf's author): kmock provides the request model,
the reaction DSL (tests may still inject faults, e.g. ``emulator.api['patch', kmock.resource(...)] << 500``), the
bundled discovery of built-in resources and the versioned object store (``emulator.api.objects[resource,
namespace, name]`` keeps every stored version). This module replaces kmock's merge-everything state machine with
what kube-apiserver does at each point (the rules of each part are in the module named):

* Paths are split as kube-apiserver's request-info splits them; unserved resources and subresources answer 404;
  failures are ``Status`` objects with kube-apiserver's reasons and messages; malformed selectors, ``limit``,
  ``continue`` or watch parameters answer 400 before any stream starts (:mod:`lowlatency.emulators.api_requests`).
* Every write gets the next ``resourceVersion`` of one cluster-wide counter (etcd's revision); a write carrying a
  stale one answers 409 Conflict; a write that changes nothing is a no-op (same resourceVersion, no watch event).
  Creation sets ``uid`` and ``creationTimestamp``, honours ``generateName`` and takes the namespace from the URL
  (400 if the body names another one, 404 if the namespace does not exist, 403 if it is terminating); an existing
  name answers 409 AlreadyExists, a name that is not an RFC 1123 subdomain (a label, for namespaces) 422
  (:mod:`lowlatency.emulators.object_meta`, :mod:`lowlatency.emulators.namespaces`).
* With the status subresource, creation drops ``status``, writes to the object keep the stored status, and writes
  to ``/status`` change nothing but status (not even metadata). ``metadata.generation`` starts at 1 and grows only
  when something outside metadata (and outside status, with the subresource) changes.
* PATCH: merge patch and JSON patch; a strategic merge patch is refused with 415 for custom resources, as
  kube-apiserver refuses it, and applied as a merge patch to built-in ones (:mod:`lowlatency.emulators.patches`).
* Custom resources are pruned (refused with 400 under ``fieldValidation=Strict``, kubectl's default), defaulted and
  validated against their CRD's ``openAPIV3Schema`` on every write, its list types and CEL rules included (422
  Invalid with kube-apiserver's field messages); a CRD is checked as kube-apiserver checks it before serving it
  (:mod:`lowlatency.emulators.admission`).
* DELETE of an object with finalizers sets ``deletionTimestamp`` and ``deletionGracePeriodSeconds: 0`` and bumps
  the generation (as ``markAsDeleting`` does); the object goes, with a DELETED event, when the write that removes
  its last finalizer arrives; no finalizer may be added once it is being deleted (422). DeleteOptions
  preconditions (uid, resourceVersion) are honoured (409). A DELETE of a collection deletes what its selectors
  match. ``dryRun=All`` answers without storing.
* Lists carry ``kind: XxxList``, ``apiVersion`` and the list's ``resourceVersion``; ``limit``/``continue`` page
  them; label and field selectors filter lists and watches (:mod:`lowlatency.emulators.lists`).
* Watches stream the events after the given ``resourceVersion`` (none is lost between a list and the watch that
  follows it); without one, with ``0``, or with ``sendInitialEvents=true`` they start with ADDED events for what
  exists (followed by an ``initial-events-end`` BOOKMARK when bookmarks are allowed). ``allowWatchBookmarks`` adds
  periodic BOOKMARKs, ``timeoutSeconds`` ends the stream, a resourceVersion older than the kept history answers an
  ERROR event with 410 Gone (as after etcd's compaction).
* CustomResourceDefinitions decide which custom resources are served, NamesAccepted and Established as soon as
  they are admitted (:mod:`lowlatency.emulators.crd_serving`); deleting a CRD deletes its custom resources.
* ``kubectl get`` asks for ``as=Table``: rows are built from the CRD's printer columns or kube-apiserver's own
  columns, also in watches (:mod:`lowlatency.emulators.tables`). Discovery lists what is served and ``/openapi/v3``
  publishes the PATCH operations and the CRDs' schemas, as kubectl needs (:mod:`lowlatency.emulators.discovery`).
* An Event is one object served through both ``v1`` and ``events.k8s.io/v1`` (:mod:`lowlatency.emulators.events`).
* Deleting a namespace marks it Terminating, deletes what is in it, and removes it once it is empty (so finalizers
  of the objects inside hold it, as in a cluster; :mod:`lowlatency.emulators.namespaces`).

Deviations from a real API server (deliberate; what the project's tests and demo do not need):

* No authentication, authorization, admission webhooks, ``format`` checks, ratcheting of the OpenAPI validations
  (CEL rules do ratchet), CRD version conversion (each served version is its own store), ``managedFields`` or
  server-side apply (415). ``/openapi/v2`` answers 404; ``/openapi/v3`` has no schemas of built-in kinds. What CRD
  validation and CEL leave out is listed in their modules (e.g. CEL function names are not type-checked, and the
  runtime cost budget is not enforced).
* Defaults are applied when an object is written, not again when it is read after its CRD's schema changed.
* Built-in resources are stored as given, without their own defaulting or validation; generation is tracked for
  custom resources and CRDs only. Protobuf bodies (kubectl's typed clients, e.g. ``kubectl create namespace``)
  are decoded for their type and metadata only (:mod:`lowlatency.emulators.protobuf`).
* A ``continue`` token pages the current state, not a snapshot. For assertions, the last ``request_log_limit``
  requests (per kmock reaction too) and the last ``versions_limit`` stored versions of each object are kept; older
  ones are forgotten, so memory and the cost of an answer stay bounded however long the traffic runs.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import math
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
import kmock
import yaml
from kmock import Response  # type: ignore[attr-defined]  # kmock exports it but leaves it out of __all__

from lowlatency.emulators.admission import admit
from lowlatency.emulators.api_requests import (
    UNSERVED,
    ApiError,
    ApiPath,
    addresses_a_resource,
    bad_request,
    conflict,
    invalid_object,
    json_body,
    not_found,
    object_error,
    parse_request,
    query_number,
)
from lowlatency.emulators.crd_serving import CRDS, crd_status, served_versions
from lowlatency.emulators.custom_resources import CustomResource
from lowlatency.emulators.discovery import SERVER_VERSION, api_resource_list, openapi_documents, openapi_index
from lowlatency.emulators.events import EVENT_RESOURCES, event_as
from lowlatency.emulators.lists import field_selector_matches, label_selector_matches, page
from lowlatency.emulators.namespaces import NAMESPACES, PRESET_NAMESPACES, check_open, new_namespace, terminating
from lowlatency.emulators.object_meta import IMMUTABLE_METADATA, finalizer_causes, generated_name, name_causes, now
from lowlatency.emulators.patches import patched
from lowlatency.emulators.tables import table

JSON = dict[str, Any]
Event = tuple[int, kmock.resource, str, JSON]  # resourceVersion, resource, type, object

HISTORY_LIMIT = 10_000
REQUEST_LOG_LIMIT = 1_000
VERSIONS_LIMIT = 10


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
        serve_reaction = (self.fallback**1)[addresses_a_resource] << self._serve
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
        self._requests_received += 1
        request = parse_request(self._requests_received, raw_request, body)
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
        if self._serve_reaction is not None and only_builtin and addresses_a_resource(request):
            return await self._serve_reaction(request)
        return await super()._handle(request)

    async def _serve(self, request: kmock.Request) -> Response:
        assert request._raw_request is not None
        path = ApiPath.parse(request._raw_request.path)
        assert path is not None
        if path.resource not in self.resources or path.subresource not in (None, *self._subresources(path.resource)):
            raise UNSERVED
        method, params = request.method, request.params
        as_table = "as=Table" in request.headers.get("Accept", "")
        dry_run, validation = params.get("dryRun") == "All", params.get("fieldValidation")
        field_selector_matches(params.get("fieldSelector", ""), {})  # malformed selectors answer 400 up front
        if request.action == kmock.action.WATCH:  # so do the watch's parameters, before the stream starts
            since = int(query_number(params, "resourceVersion", 0))
            stream = self._watch(path, params, as_table, since, query_number(params, "timeoutSeconds", math.inf))
            return Response(status=200, headers={"Content-Type": "application/json"}, payload=stream)
        if method == "GET":
            return Response(
                status=200, payload=self._list(path, params, as_table) if path.name is None else self._get(path)
            )
        if method == "POST" and path.name is None:
            body = json_body(request.data, dict)
            return Response(
                status=201, payload=self.store_create(path.resource, path.namespace, body, validation, dry_run)
            )
        if method in ("PUT", "PATCH") and path.name is not None:
            current = self._get(path)
            content_type = request.headers.get("Content-Type", "")
            new = (
                json_body(request.data, dict)
                if method == "PUT"
                else patched(current, content_type, request.data, custom_resource=path.resource in self._custom)
            )
            return Response(status=200, payload=self.store_update(path, current, new, validation, dry_run))
        options = request.data if isinstance(request.data, dict) else {}
        if method == "DELETE" and path.name is not None:
            return Response(status=200, payload=self.store_delete(path, options, dry_run))
        if method == "DELETE":  # deletecollection: what the selectors match, one by one
            found = self._list(path, params, as_table=False)
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
        return api_resource_list(self.resources, request.resource.group, request.resource.version)

    async def _serve_server_version(self, request: kmock.Request) -> Any:
        return SERVER_VERSION

    async def _serve_openapi_index(self, request: kmock.Request) -> Any:
        return openapi_index(openapi_documents(self.resources, self._custom))

    async def _serve_openapi(self, request: kmock.Request) -> Any:
        document = openapi_documents(self.resources, self._custom).get(request.url.path.removeprefix("/openapi/v3/"))
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

    def _list(self, path: ApiPath, params: Mapping[str, str], as_table: bool) -> JSON:
        items = [
            copy.deepcopy(obj.raw)
            for (resource, _, _), obj in self._objects.items()
            if resource == path.resource and not obj.deleted and self._matching(path, params, obj.raw)
        ]
        items.sort(key=lambda item: (item["metadata"].get("namespace") or "", item["metadata"]["name"]))
        selected, paging = page(items, params)
        metadata: JSON = {"resourceVersion": str(self._revision)} | paging
        if as_table:
            custom, include = self._custom.get(path.resource), params.get("includeObject", "Metadata")
            return table(path.resource, custom, selected, metadata, include)
        list_kind, api_version = self._kind(path.resource)
        return {"kind": list_kind, "apiVersion": api_version, "metadata": metadata, "items": selected}

    async def _watch(
        self, path: ApiPath, params: Mapping[str, str], as_table: bool, since: int, seconds: float
    ) -> AsyncIterator[bytes | JSON]:
        initial = params.get("sendInitialEvents") == "true" or since == 0
        bookmarks = params.get("allowWatchBookmarks") == "true"
        deadline = asyncio.get_running_loop().time() + seconds

        # The starting point is taken and the watcher subscribed with no await between: no event falls in between.
        if initial:
            items = self._list(dataclasses.replace(path, name=None), {}, as_table=False)["items"]
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
                    yield self._watch_event(event, as_table)
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
                    yield self._watch_event(next_event, as_table)
        finally:
            self._watchers.discard(queue)

    def _watch_event(self, event: Event, as_table: bool) -> JSON:
        _, resource, event_type, obj = event
        if as_table:
            metadata = {"resourceVersion": obj["metadata"]["resourceVersion"]}
            obj = table(resource, self._custom.get(resource), [obj], metadata, "Object")
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
            check_open(namespace, self._stored(NAMESPACES, None, namespace))
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = generated_name(metadata["generateName"])
        if causes := name_causes(metadata, label=resource == NAMESPACES):
            raise self._invalid(resource, obj, causes)
        if self._stored(resource, metadata.get("namespace"), metadata["name"]) is not None:
            raise object_error(409, "AlreadyExists", resource, metadata["name"], "{} already exists")
        for field in ("resourceVersion", *IMMUTABLE_METADATA):
            metadata.pop(field, None)
        metadata |= {"uid": str(uuid.uuid4()), "creationTimestamp": now()}
        if resource in self._custom or resource == CRDS:
            metadata["generation"] = 1
        if resource == NAMESPACES:
            obj = new_namespace(obj)
        elif self._subresources(resource):
            obj.pop("status", None)
        obj = self._admit(resource, obj, validation)
        if resource == CRDS:
            obj["status"] = crd_status(obj)
        if dry_run:
            return obj
        created = self._commit(resource, obj, "ADDED")
        if resource == CRDS:
            self._register_crd(created)
        return created

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
            if causes := finalizer_causes(old_metadata, metadata):
                raise self._invalid(resource, new, causes)
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
        marked = self._commit(NAMESPACES, terminating(namespace), "MODIFIED")
        for resource, _, object_name in [
            key for key, obj in self._objects.items() if key[1] == name and not obj.deleted
        ]:
            if self._stored(resource, name, object_name) is not None:  # the other form of an Event goes with it
                self.store_delete(
                    ApiPath(resource.group or "", resource.version or "", resource.plural, name, object_name), {}
                )
        return self._finish_namespace(name) or marked

    def _finish_namespace(self, name: str) -> JSON | None:
        """Remove a terminating namespace once nothing is left in it."""
        namespace = self._stored(NAMESPACES, None, name)
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return None
        if any(key[1] == name and not obj.deleted for key, obj in self._objects.items()):
            return None
        return self._commit(NAMESPACES, namespace, "DELETED")

    def _invalid(self, resource: kmock.resource, obj: JSON, causes: list[JSON]) -> ApiError:
        return invalid_object(resource, obj, causes, self.resources[resource].kind)

    def _admit(
        self, resource: kmock.resource, obj: JSON, validation: str | None, old: JSON | None = None, status: bool = False
    ) -> JSON:
        """What a write passes before it is stored (``old``: the stored object on update; ``status``: a write to the
        status subresource)."""
        kind = self._kind(resource)[0].removesuffix("List")
        return admit(resource, kind, self._custom.get(resource), obj, validation, old=old, status=status)

    # -- CustomResourceDefinitions decide which custom resources are served --

    def _register_crd(self, crd: JSON) -> None:
        self._unregister_crd(crd, keep_objects=True)
        for resource, (info, custom) in served_versions(crd).items():
            self.resources[resource], self._custom[resource] = info, custom

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
