"""ObjectMeta as kube-apiserver sets and checks it on a write.

A name must be an RFC 1123 subdomain (at most 253 characters), a namespace's an RFC 1123 label (at most 63), or the
write answers 422 Invalid with apimachinery's message; ``generateName`` gets five characters of kube-apiserver's
suffix alphabet; timestamps are RFC 3339 in UTC to the second. ``uid``, ``creationTimestamp``, the deletion fields
and ``generation`` are the server's: a create drops what the client sent, an update keeps the stored ones.
"""

from __future__ import annotations

import datetime
import json
import random
import re
from typing import Any

from lowlatency.emulators.field_errors import field_cause, forbidden, required

JSON = dict[str, Any]

DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what kube-apiserver draws generateName suffixes from
IMMUTABLE_METADATA = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")


def now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generated_name(prefix: str) -> str:
    return prefix + "".join(random.choices(SUFFIX_ALPHABET, k=5))


def name_causes(metadata: JSON, label: bool) -> list[JSON]:
    """The field error of a new object's name, if it has one (``label``: the object is a namespace)."""
    name = metadata.get("name")
    if not name:
        return [required("metadata.name", "name or generateName is required")]
    if problem := _name_problem(name, label):
        return [field_cause("FieldValueInvalid", "metadata.name", f"Invalid value: {json.dumps(name)}: {problem}")]
    return []


def finalizer_causes(old_metadata: JSON, metadata: JSON) -> list[JSON]:
    """The field error of an update that adds a finalizer to an object being deleted, if it does."""
    added = set(metadata.get("finalizers") or []) - set(old_metadata.get("finalizers") or [])
    if not (old_metadata.get("deletionTimestamp") and added):
        return []
    detail = f"no new finalizers can be added if the object is being deleted, found new finalizers {sorted(added)}"
    return [forbidden("metadata.finalizers", detail)]


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
