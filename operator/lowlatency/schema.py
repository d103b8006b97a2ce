"""The building blocks of the `LowLatencyEndpoint` models in :mod:`lowlatency.api`: SageMaker's and AWS's limits
as patterns and bounds, the reserved tag keys, CEL rules with their pydantic twins, and the base model classes.

The limits are SageMaker's own (CreateModel / CreateEndpointConfig / CreateEndpoint API references) unless a comment
names another source.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue
from pydantic.alias_generators import to_camel, to_snake

#: Cross-field rules are written once, as CEL, and enforced by the API server; the pydantic validators below
#: re-check the same rules for objects that were admitted before a rule existed.
CEL = "x-kubernetes-validations"

# SageMaker's own limits (CreateModel / CreateEndpointConfig / CreateEndpoint API references).
S3_URL_PATTERN = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/.+$"
ROLE_ARN_PATTERN = r"^arn:aws[a-z\-]*:iam::[0-9]{12}:role/[a-zA-Z0-9_+=,.@\-/]{1,512}$"
INSTANCE_TYPE_PATTERN = r"^ml\.[a-z0-9\-]+\.[a-z0-9]+$"
REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$"
IMAGE_PATTERN = r"^[\S]+$"
ENV_KEY_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
SUBNET_PATTERN = r"^subnet-[0-9a-f]{1,32}$"
SECURITY_GROUP_PATTERN = r"^sg-[0-9a-f]{1,32}$"
VPC_PATTERN = r"^vpc-[0-9a-f]{1,32}$"
ALARM_NAME_PATTERN = r"^\S(.*\S)?$"
SCHEDULE_NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_\-.]{0,63}$"
VARIANT_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"  # botocore sagemaker VariantName
# The shape of the three forms; calendar ranges are checked by the operator (ScheduledScaling._calendar), since
# a regular expression for "0-59, lists, ranges and steps" per field would be unreadable.
CRON_PATTERN = (
    r"^(cron\(\S+ \S+ (\? \S+ [^?\s]+|[^?\s]+ \S+ \?) \S+\)"
    r"|rate\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\)"
    r"|at\([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\))$"
)
TAG_KEY_PATTERN = r"^[a-zA-Z0-9_.:/=+@ -]{1,128}$"
TAG_VALUE_PATTERN = r"^[a-zA-Z0-9_.:/=+@ -]*$"

# AWS reserves the aws: prefix in any case ("aws:, AWS:, or any upper or lowercase combination": "Tag naming limits
# and requirements", https://docs.aws.amazon.com/general/latest/gr/aws_tagging.html); the operator's own prefix is
# matched exactly.
_RESERVED_TAG_KEY = re.compile(r"^([aA][wW][sS]:|lowlatency[.]io/)")  # no backslash: the pattern goes into a CEL string
RESERVED_TAG_KEY_PATTERN = _RESERVED_TAG_KEY.pattern


def is_reserved_tag_key(key: str) -> bool:
    return _RESERVED_TAG_KEY.match(key) is not None


MAX_INSTANCE_COUNT = 1000
MAX_VARIANTS = 10  # botocore sagemaker CreateEndpointConfigInput.ProductionVariants
# Serverless: botocore sagemaker ProductionVariantServerlessConfig (memory in 1 GB steps, concurrency 1-200).
SERVERLESS_MEMORY_STEP_MB = 1024
MIN_SERVERLESS_MEMORY_MB = 1024
MAX_SERVERLESS_MEMORY_MB = 6144
MAX_SERVERLESS_CONCURRENCY = 200
MAX_USER_TAGS = 40  # AWS allows 50 per resource; the operator's ownership tags take the rest.
MAX_ENV_KEY_LENGTH = 1024

# Every string, list and map that a CEL rule can reach carries a bound (maxLength, maxItems, maxProperties or an
# enum): the API server estimates each rule's worst-case cost from these bounds when the CRD is applied, and
# refuses rules whose estimate exceeds its budget. Map keys cannot carry maxLength in a structural schema; the
# rules below that read them bound their length themselves.


def distinct(values: list[str]) -> list[str]:
    """The pydantic twin of ``x-kubernetes-list-type: set`` (the API server refuses duplicates in such a list)."""
    duplicates = sorted({value for value in values if values.count(value) > 1})
    if duplicates:
        raise ValueError(f"duplicate values {duplicates}")
    return values


def not_above(lower: str, upper: str, field_path: str | None = None) -> dict[str, JsonValue]:
    """The CEL rule "field ``lower`` does not exceed field ``upper``" (camelCase names); :func:`check_not_above`
    is its pydantic twin."""
    rule: dict[str, JsonValue] = {
        "rule": f"self.{lower} <= self.{upper}",
        "message": f"{lower} must not exceed {upper}",
    }
    if field_path is not None:
        rule["fieldPath"] = field_path
    return rule


class FieldValueError(ValueError):
    """A rule of a model about one of its fields, reported at that field: the pydantic twin of a CEL rule's
    ``fieldPath`` (``field`` is the camelCase name of the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_not_above(model: BaseModel, lower: str, upper: str, *, at_lower: bool = False) -> None:
    if getattr(model, to_snake(lower)) > getattr(model, to_snake(upper)):
        message = f"{lower} must not exceed {upper}"
        raise FieldValueError(lower, message) if at_lower else ValueError(message)


SET = {"x-kubernetes-list-type": "set"}
SubnetIds = Annotated[
    list[Annotated[str, Field(pattern=SUBNET_PATTERN, max_length=32)]],
    Field(min_length=1, max_length=16, json_schema_extra=SET),
    AfterValidator(distinct),
]
SecurityGroupIds = Annotated[
    list[Annotated[str, Field(pattern=SECURITY_GROUP_PATTERN, max_length=32)]],
    Field(min_length=1, max_length=5, json_schema_extra=SET),
    AfterValidator(distinct),
]


class Schema(BaseModel):
    """Base of every model: camelCase on the wire, unknown fields rejected, descriptions taken from fields."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
        frozen=True,
    )


class SpecSchema(Schema):
    """Base of the spec models: strict types, as the API server stores them (a string where a number belongs is an
    error here too, not silently converted)."""

    model_config = ConfigDict(strict=True)
