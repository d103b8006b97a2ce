"""PATCH bodies, by their media type, as kube-apiserver applies them.

``application/merge-patch+json`` is RFC 7386 (objects merge key by key, ``null`` removes, anything else replaces);
``application/json-patch+json`` is RFC 6902 (a failed ``test`` or a missing path answers 422). A strategic merge
patch is refused with 415 for custom resources, as kube-apiserver refuses it (kubectl reports it and suggests
``--type merge``), and applied as a merge patch to built-in ones (a deviation: their patch strategies, such as
merging lists by key, are not modelled). Server-side apply (``application/apply-patch+yaml``) answers 415.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from lowlatency.emulators.api_requests import ApiError, json_body

JSON = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


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


def patched(current: JSON, content_type: str, patch: Any, custom_resource: bool) -> JSON:
    """``current`` with the patch applied, or the ApiError kube-apiserver answers for it."""
    media_type = content_type.split(";", maxsplit=1)[0].strip()
    if media_type == JSON_PATCH:
        try:
            result: JSON = jsonpatch.apply_patch(current, json_body(patch, list))
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as error:
            raise ApiError(
                422, "Invalid", f"the server rejected our request due to an error in our request: {error}"
            ) from error
        return result
    if media_type == MERGE_PATCH or (media_type == STRATEGIC_MERGE_PATCH and not custom_resource):
        merged: JSON = merge_patch(current, json_body(patch, dict))
        return merged
    accepted = f"{JSON_PATCH}, {MERGE_PATCH}"
    raise ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {accepted}",
    )
