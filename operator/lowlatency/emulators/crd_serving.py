"""CustomResourceDefinitions (``apiextensions.k8s.io/v1``) decide which custom resources are served.

Each served version of a CRD is a resource of its own (no conversion between versions), with the CRD's names, short
names, categories, scope, subresources, schema and printer columns. Once a CRD is admitted (checked as
:mod:`lowlatency.emulators.crd_validation` describes), the apiextensions controllers' work is done at once: the
status says NamesAccepted and Established, with the accepted names and the stored versions.
"""

from __future__ import annotations

from typing import Any

import kmock

from lowlatency.emulators.custom_resources import CustomResource
from lowlatency.emulators.object_meta import now

JSON = dict[str, Any]
CRDS = kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
CUSTOM_RESOURCE_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


def served_versions(crd: JSON) -> dict[kmock.resource, tuple[kmock.ResourceInfo, CustomResource]]:
    """Each served version's resource: what discovery says of it, and what the server needs to store its objects."""
    spec, names = crd["spec"], crd["spec"]["names"]
    served: dict[kmock.resource, tuple[kmock.ResourceInfo, CustomResource]] = {}
    for version in [version for version in spec.get("versions", []) if version.get("served", True)]:
        info = kmock.ResourceInfo(
            kind=names["kind"],
            singular=names.get("singular", names["kind"].lower()),
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            verbs=CUSTOM_RESOURCE_VERBS,
            shortnames=names.get("shortNames", []),
            categories=names.get("categories", []),
            subresources=set(version.get("subresources") or {}),
        )
        custom = CustomResource(
            list_kind=names.get("listKind", f"{names['kind']}List"),
            schema=(version.get("schema") or {}).get("openAPIV3Schema"),
            printer_columns=version.get("additionalPrinterColumns") or [],
        )
        served[kmock.resource(spec["group"], version["name"], names["plural"])] = (info, custom)
    return served


def crd_status(crd: JSON) -> JSON:
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
