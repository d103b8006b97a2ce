"""What a write of a custom resource or a CRD passes before it is stored (there are no admission webhooks).

* A custom resource is decoded against its served CRD version's ``openAPIV3Schema``: fields the schema does not
  declare are pruned, or refused with 400 under ``fieldValidation=Strict`` (kubectl's default: ``strict decoding
  error: unknown field "spec.x"``); defaults are applied; then the schema, its list types and its CEL rules
  validate it (422 Invalid with kube-apiserver's field causes; transition rules on update, where the old object
  has the node). See :mod:`lowlatency.emulators.custom_resources` and :mod:`lowlatency.emulators.cel`.
* A CRD is checked as kube-apiserver checks it before serving it, on create and update but not on a write to its
  status: unknown schema keywords are pruned (or refused when Strict), then its structural schema, every default
  (valid against its schema and CEL rules as written) and its CEL rules (which must compile within the cost limits)
  are checked, 422 Invalid otherwise (:mod:`lowlatency.emulators.crd_validation`).
"""

from __future__ import annotations

from typing import Any

import kmock

from lowlatency.emulators.api_requests import bad_request, invalid_object
from lowlatency.emulators.crd_serving import CRDS
from lowlatency.emulators.crd_validation import crd_causes, drop_unknown_schema_fields, unknown_schema_fields
from lowlatency.emulators.custom_resources import CustomResource

JSON = dict[str, Any]


def admit(
    resource: kmock.resource,
    kind: str,
    custom: CustomResource | None,
    obj: JSON,
    validation: str | None,
    *,
    old: JSON | None = None,
    status: bool = False,
) -> JSON:
    """The object as stored, or the ApiError kube-apiserver answers (``custom``: the served CRD version of a custom
    resource; ``old``: the stored object on update; ``status``: a write to the status subresource)."""
    if custom is not None and custom.schema is not None:
        obj, unknown = custom.decode(obj)
        _refuse_unknown_fields(resource, kind, unknown, validation)
        if causes := custom.causes(obj, old):
            raise invalid_object(resource, obj, causes, kind)
    if resource == CRDS and not status:
        _refuse_unknown_fields(resource, kind, unknown_schema_fields(obj), validation)
        obj = drop_unknown_schema_fields(obj)
        if causes := crd_causes(obj, old):
            raise invalid_object(resource, obj, causes, kind)
    return obj


def _refuse_unknown_fields(resource: kmock.resource, kind: str, unknown: list[str], validation: str | None) -> None:
    """With fieldValidation=Strict (kubectl's default) an unknown field is refused while decoding (400)."""
    if unknown and validation == "Strict":
        fields = ", ".join(f'unknown field "{field}"' for field in unknown)
        raise bad_request(
            f'{kind} in version "{resource.version}" cannot be handled as a {kind}: strict decoding error: {fields}'
        )
