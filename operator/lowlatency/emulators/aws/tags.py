"""Tags of SageMaker endpoints, endpoint configs and models (AddTags, DeleteTags, ListTags) on moto's objects.

What SageMaker does, and what is imitated here:

- AddTags overwrites the value of a key that exists; a resource has at most 50 tags (botocore sagemaker
  AddTagsInput.Tags).
- ARNs carry the name in lower case and are matched without regard to case; a resource that does not exist answers
  ``ValidationException: Could not find <noun> "<arn>".``
- Keys starting with ``aws:``, in any combination of upper and lower case, are AWS's own: "You can't edit or delete
  tag keys or values with this prefix" (https://docs.aws.amazon.com/general/latest/gr/aws_tagging.html). AddTags
  and DeleteTags naming such a key are refused (``ValidationException``; the text is this emulator's own). AWS puts
  such tags on resources itself (CloudFormation's ``aws:cloudformation:stack-name``), as
  :meth:`SageMakerTags.add_system_tags` does here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

from lowlatency.emulators.aws.gateway import ApiRequest, Gateway, PassThrough, Reply, json_reply, validation_error

MAX_TAGS: Final = 50
RESERVED_PREFIX: Final = "aws:"


def _tagged(resource_arn: str) -> Any:
    """The moto object behind an endpoint, endpoint config or model ARN (names match regardless of case)."""
    _, _, _, region, _, resource = (resource_arn.split(":", 5) + [""] * 6)[:6]
    kind, _, name = resource.partition("/")
    backend = sagemaker_backends[DEFAULT_ACCOUNT_ID][region or "us-east-1"]
    tables: dict[str, dict[str, Any]] = {
        "endpoint": backend.endpoints,
        "endpoint-config": backend.endpoint_configs,
        "model": backend._models,
    }
    nouns = {"endpoint": "endpoint", "endpoint-config": "endpoint configuration", "model": "model"}
    if kind not in tables:
        raise validation_error(f"Tagging of {resource_arn} is not supported by this emulator.")
    found = next((item for key, item in tables[kind].items() if key.lower() == name.lower()), None)
    if found is None:
        raise validation_error(f'Could not find {nouns[kind]} "{resource_arn}".')
    return found


def _refuse_reserved(keys: list[str]) -> None:
    reserved = [key for key in keys if key.lower().startswith(RESERVED_PREFIX)]
    if reserved:
        raise validation_error(
            f"Tag keys {reserved} use the prefix aws:, which is reserved for AWS use: they cannot be added, changed "
            "or deleted."
        )


class SageMakerTags:
    """SageMaker's tagging operations and the control that tags a resource as AWS itself does."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        gateway.route("sagemaker", "AddTags", self._add_tags)
        gateway.route("sagemaker", "DeleteTags", self._delete_tags)
        gateway.route("sagemaker", "ListTags", self._list_tags)

    def add_system_tags(self, resource_arn: str, tags: Mapping[str, str]) -> None:
        """Tag a resource as AWS does on its own (``aws:`` keys, which no API call may add or delete)."""
        with self._gateway.lock:
            resource = _tagged(resource_arn)
            resource.tags = [*resource.tags, *({"Key": key, "Value": value} for key, value in tags.items())]

    def _add_tags(self, request: ApiRequest, _: PassThrough) -> Reply:
        resource = _tagged(str(request.params["ResourceArn"]))
        added = list(request.params.get("Tags", []))
        _refuse_reserved([tag["Key"] for tag in added])
        merged = {tag["Key"]: tag.get("Value", "") for tag in resource.tags}
        merged.update({tag["Key"]: tag.get("Value", "") for tag in added})
        if len(merged) > MAX_TAGS:
            raise validation_error(
                f"A resource can have at most {MAX_TAGS} tags; this request would make {len(merged)}."
            )
        resource.tags = [{"Key": key, "Value": value} for key, value in merged.items()]
        return json_reply({"Tags": added})

    def _delete_tags(self, request: ApiRequest, _: PassThrough) -> Reply:
        resource = _tagged(str(request.params["ResourceArn"]))
        removed = list(request.params.get("TagKeys", []))
        _refuse_reserved(removed)
        resource.tags = [tag for tag in resource.tags if tag["Key"] not in set(removed)]
        return json_reply({})

    def _list_tags(self, request: ApiRequest, _: PassThrough) -> Reply:
        # One page always suffices: a resource has at most MAX_TAGS tags, the smallest page SageMaker allows.
        return json_reply({"Tags": _tagged(str(request.params["ResourceArn"])).tags})
