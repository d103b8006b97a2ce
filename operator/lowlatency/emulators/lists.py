"""What a list or a watch selects, and how a list is paged.

* Label selectors: ``key=value`` (also ``==``), ``key!=value``, ``key in (a,b)``, ``key notin (a,b)``, ``key`` and
  ``!key``, comma-separated (all must match).
* Field selectors: ``path=value``, ``path==value`` and ``path!=value`` on any field (``metadata.name``,
  ``involvedObject.uid``...), a missing field being the empty string; any other form answers 400 (checked before a
  watch's stream starts).
* ``limit`` and ``continue``: a page of at most ``limit`` items and, when more follow, a ``continue`` token and
  ``remainingItemCount``; a token that is not one answers 400. Deviation: a token pages the current state, not a
  snapshot of the list's resourceVersion.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

from lowlatency.emulators.api_requests import bad_request, query_number

JSON = dict[str, Any]


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


def page(items: list[JSON], params: Mapping[str, str]) -> tuple[list[JSON], JSON]:
    """The items ``limit`` and ``continue`` ask for, and what the list's metadata says of the rest."""
    try:
        offset = json.loads(base64.b64decode(params["continue"]))["offset"] if params.get("continue") else 0
    except (ValueError, KeyError) as error:
        raise bad_request("continue key is not valid") from error
    limit = int(query_number(params, "limit", 0)) or len(items)
    selected, rest = items[offset : offset + limit], items[offset + limit :]
    if not rest:
        return selected, {}
    token = base64.b64encode(json.dumps({"offset": offset + limit}).encode()).decode()
    return selected, {"continue": token, "remainingItemCount": len(rest)}
