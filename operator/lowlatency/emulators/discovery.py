"""Discovery and OpenAPI: what kubectl reads about the server before it sends a request.

* ``/api/{version}`` and ``/apis/{group}/{version}`` list the served resources (kind, scope, verbs, short names,
  categories) and their subresources, as an ``APIResourceList``; a group-version that serves nothing answers 404.
  ``/version`` names a v1.37 server.
* ``/openapi/v3`` indexes one document per group-version (with a hash of its content, as kube-apiserver's
  ``serverRelativeURL`` has); each document publishes every resource's PATCH operation with its kind and
  ``fieldValidation`` parameter (what kubectl checks before it leaves validation to the server) and the schemas of
  custom resources (``kubectl explain``). Deviations: ``/openapi/v2`` answers 404, and there are no schemas of
  built-in kinds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import kmock

from lowlatency.emulators.api_requests import UNSERVED
from lowlatency.emulators.custom_resources import CustomResource
from lowlatency.emulators.patches import JSON_PATCH, MERGE_PATCH

JSON = dict[str, Any]
SERVER_VERSION = {"major": "1", "minor": "37", "gitVersion": "v1.37.0-lowlatency-emulator", "platform": "linux/amd64"}


def api_resource_list(resources: kmock.ResourcesArray, group: str | None, version: str | None) -> JSON:
    """The ``APIResourceList`` of a group-version, or 404 if it serves nothing."""
    served = sorted((r for r in resources if (r.group, r.version) == (group, version)), key=str)
    if not served:
        raise UNSERVED
    entries = []
    for resource in served:
        info = resources[resource]
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


def openapi_documents(
    resources: kmock.ResourcesArray, custom_resources: Mapping[kmock.resource, CustomResource]
) -> dict[str, JSON]:
    """Per group-version, each resource's PATCH operation with its kind and ``fieldValidation`` parameter, and
    the schemas of custom resources (for ``kubectl explain``)."""
    documents: dict[str, JSON] = {}
    names = ("dryRun", "fieldManager", "fieldValidation")
    parameters = [{"name": name, "in": "query", "schema": {"type": "string"}} for name in names]
    content = {media_type: {"schema": {"type": "object"}} for media_type in (JSON_PATCH, MERGE_PATCH)}
    for resource in resources:
        info = resources[resource]
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
        custom = custom_resources.get(resource)
        if custom is not None and custom.schema is not None:
            name = ".".join([*reversed(str(resource.group).split(".")), str(resource.version), str(info.kind)])
            schema = custom.schema | {"x-kubernetes-group-version-kind": [gvk]}
            document["components"]["schemas"][name] = schema
    return documents


def openapi_index(documents: Mapping[str, JSON]) -> JSON:
    """``/openapi/v3``: where each group-version's document is, with a hash of its content."""
    paths = {}
    for prefix, document in documents.items():
        digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]
        paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash={digest}"}
    return {"paths": paths}
