"""The `LowLatencyEndpoint` resource: spec and status as pydantic models.

These models are the single source of the CRD's OpenAPI schema (see :mod:`lowlatency.crd`): every field's
description is what ``kubectl explain`` shows, every default is applied by the API server (so that GitOps tools
see no drift), and every constraint is checked first by the API server and again here when the operator reads a
resource (an object written before a CRD upgrade may not satisfy today's schema).

A rule that the schema (pattern, bounds, list types) or a CEL rule can express belongs in the CRD, so that
``kubectl apply`` refuses the object and names the field; only what neither can say sensibly is checked here alone
(the calendar ranges of cron fields and real dates in ``at()``), and the reconciler reports it as ``InvalidSpec``.
``tests/test_bad_input.py`` holds the table of invalid specs and the layer that must refuse each first.
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, JsonValue, field_validator, model_validator
from pydantic.alias_generators import to_snake

from lowlatency.schema import (
    ALARM_NAME_PATTERN,
    CEL,
    CRON_PATTERN,
    ENV_KEY_PATTERN,
    IMAGE_PATTERN,
    INSTANCE_TYPE_PATTERN,
    MAX_ENV_KEY_LENGTH,
    MAX_INSTANCE_COUNT,
    MAX_SERVERLESS_CONCURRENCY,
    MAX_SERVERLESS_MEMORY_MB,
    MAX_USER_TAGS,
    MAX_VARIANTS,
    MIN_SERVERLESS_MEMORY_MB,
    REGION_PATTERN,
    RESERVED_TAG_KEY_PATTERN,
    ROLE_ARN_PATTERN,
    S3_URL_PATTERN,
    SCHEDULE_NAME_PATTERN,
    SERVERLESS_MEMORY_STEP_MB,
    SET,
    TAG_KEY_PATTERN,
    TAG_VALUE_PATTERN,
    VARIANT_NAME_PATTERN,
    VPC_PATTERN,
    FieldValueError,
    Schema,
    SecurityGroupIds,
    SpecSchema,
    SubnetIds,
    check_not_above,
    distinct,
    is_reserved_tag_key,
    not_above,
)


class VpcConfig(SpecSchema):
    """Where SageMaker places the model containers (CreateModel's VpcConfig)."""

    subnets: SubnetIds
    """Subnet ids in the VPC for the model containers (1 to 16, distinct)."""

    security_group_ids: SecurityGroupIds
    """Security group ids for the model containers (1 to 5, distinct)."""


class ModelSpec(SpecSchema):
    """The model to serve: artifact, container image and the role SageMaker assumes to fetch them."""

    model_data_url: str = Field(pattern=S3_URL_PATTERN, max_length=1024)
    """S3 URL of the model artifact (model.tar.gz), as s3://bucket/key."""

    image: str = Field(pattern=IMAGE_PATTERN, min_length=1, max_length=255)
    """Inference container image URI, for example an ECR image of a SageMaker framework container."""

    execution_role_arn: str = Field(pattern=ROLE_ARN_PATTERN, max_length=2048)
    """IAM role SageMaker assumes to pull the image and read the artifact (arn:aws:iam::<account>:role/<name>)."""

    environment: dict[
        Annotated[str, Field(pattern=ENV_KEY_PATTERN, max_length=MAX_ENV_KEY_LENGTH)],
        Annotated[str, Field(max_length=1024)],
    ] = Field(
        default_factory=dict,
        max_length=100,
        json_schema_extra={
            CEL: [
                {
                    "rule": f"self.all(k, size(k) <= {MAX_ENV_KEY_LENGTH} && k.matches('{ENV_KEY_PATTERN}'))",
                    "message": "environment variable names must start with a letter or _, contain only letters,"
                    f" digits and _, and have at most {MAX_ENV_KEY_LENGTH} characters",
                }
            ]
        },
    )
    """Environment variables for the inference container (at most 100, values up to 1024 characters)."""

    vpc_config: VpcConfig | None = None
    """Subnets and security groups for the model containers; omit to run them outside any VPC of yours."""


#: Ranges of the numbers in each field of an Application Auto Scaling cron expression (cron(m h dom mon dow year)).
CRON_FIELD_RANGES = {
    "minutes": (0, 59),
    "hours": (0, 23),
    "day-of-month": (1, 31),
    "month": (1, 12),
    "day-of-week": (1, 7),
    "year": (1970, 2199),
}


class ScheduledScaling(SpecSchema):
    """A scheduled change of the scaling bounds, for peaks known in advance."""

    name: str = Field(pattern=SCHEDULE_NAME_PATTERN, max_length=64)
    """Name of the scheduled action, unique within the resource."""

    cron: str = Field(pattern=CRON_PATTERN, max_length=256)
    """Application Auto Scaling schedule expression: cron(m h dom mon dow year), rate(...) or at(...), in UTC."""

    min_capacity: int = Field(ge=1, le=MAX_INSTANCE_COUNT)
    """Minimum instance count from the scheduled time on."""

    max_capacity: int = Field(ge=1, le=MAX_INSTANCE_COUNT)
    """Maximum instance count from the scheduled time on."""

    model_config = ConfigDict(json_schema_extra={CEL: [not_above("minCapacity", "maxCapacity")]})

    @model_validator(mode="after")
    def _bounds_ordered(self) -> ScheduledScaling:
        check_not_above(self, "minCapacity", "maxCapacity")
        return self

    @field_validator("cron")
    @classmethod
    def _calendar(cls, expression: str) -> str:
        """What the pattern cannot say: every number of a cron field in its range, and at() a real time."""
        form, _, argument = expression.rstrip(")").partition("(")
        if form == "at":
            try:
                datetime.datetime.fromisoformat(argument)
            except ValueError as error:
                raise ValueError(f"at({argument}) is not a date and time: {error}") from None
        elif form == "cron":
            for (field, (lowest, highest)), value in zip(CRON_FIELD_RANGES.items(), argument.split(), strict=True):
                numbers = [int(number) for number in re.findall(r"[0-9]+", value)]
                if any(not lowest <= number <= highest for number in numbers):
                    raise ValueError(f"cron {field} field {value!r} is outside {lowest}-{highest}")
        return expression


TARGET_OUT_OF_RANGE = (
    "targetInvocationsPerInstance must be a whole number of invocations per minute from 1 to 1000000, or 'auto'"
)


class AutoscalingSpec(SpecSchema):
    """Application Auto Scaling of the production variant; with it, the live instance count belongs to the
    autoscaler and the operator never sets it back."""

    min_capacity: int = Field(ge=1, le=MAX_INSTANCE_COUNT)
    """Lowest instance count the autoscaler may set."""

    max_capacity: int = Field(ge=1, le=MAX_INSTANCE_COUNT)
    """Highest instance count the autoscaler may set."""

    target_invocations_per_instance: int | Literal["auto"] = Field(
        default="auto",
        json_schema_extra={
            "x-kubernetes-int-or-string": True,
            "maxLength": len("auto"),
            CEL: [
                {
                    "rule": "type(self) == int ? self >= 1 && self <= 1000000 : self == 'auto'",
                    "message": TARGET_OUT_OF_RANGE,
                }
            ],
        },
    )
    """Target of SageMakerVariantInvocationsPerInstance (invocations per instance per minute), or 'auto' to derive
    it from the benchmark's measured maximum (max rps per instance x safety factor x 60)."""

    scale_in_cooldown_seconds: int = Field(default=300, ge=0, le=86400)
    """Seconds after a scale-in before another scale-in may start."""

    scale_out_cooldown_seconds: int = Field(default=60, ge=0, le=86400)
    """Seconds after a scale-out before another scale-out may start."""

    schedules: list[ScheduledScaling] = Field(
        default_factory=list,
        max_length=50,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Scheduled changes of the scaling bounds for known peaks (names distinct)."""

    model_config = ConfigDict(json_schema_extra={CEL: [not_above("minCapacity", "maxCapacity")]})

    @field_validator("schedules")
    @classmethod
    def _distinct_names(cls, schedules: list[ScheduledScaling]) -> list[ScheduledScaling]:
        distinct([schedule.name for schedule in schedules])
        return schedules

    @field_validator("target_invocations_per_instance")
    @classmethod
    def _target_in_range(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 1_000_000:
            raise ValueError(TARGET_OUT_OF_RANGE)
        return value

    @model_validator(mode="after")
    def _bounds_ordered(self) -> AutoscalingSpec:
        check_not_above(self, "minCapacity", "maxCapacity")
        return self


DeploymentStrategy = Literal["AllAtOnce", "Canary", "Linear", "Rolling"]

#: The size field each strategy needs, and no other strategy accepts.
STRATEGY_SIZE = {"Canary": "canarySizePercent", "Linear": "linearStepPercent", "Rolling": "rollingBatchPercent"}
BLUE_GREEN = ("AllAtOnce", "Canary", "Linear")
TERMINATION_WAIT_MISFIT = "terminationWaitSeconds applies only to the blue/green strategies " + ", ".join(BLUE_GREEN)


def _size_misfit(strategy: str, field: str) -> str:
    return f"{field} is required with strategy {strategy} and allowed only with it"


_DEPLOYMENT_RULES: list[JsonValue] = [
    {
        "rule": f"(self.strategy == '{strategy}') == has(self.{field})",
        "message": _size_misfit(strategy, field),
        "fieldPath": f".{field}",
    }
    for strategy, field in STRATEGY_SIZE.items()
]
# A rule is evaluated on the object as the API server stores it (defaults applied), but also on the CRD's own
# `default` of its node as written, where nested defaults are not applied: every rule that reads an optional or
# defaulted field guards it with has(), so that `deployment: {strategy: AllAtOnce}` passes as written.
_DEPLOYMENT_RULES.append(
    {
        "rule": "self.strategy != 'Rolling' || !has(self.terminationWaitSeconds) || self.terminationWaitSeconds == 0",
        "message": TERMINATION_WAIT_MISFIT,
        "fieldPath": ".terminationWaitSeconds",
    }
)

# SageMaker's deployment guardrails (developer guide, "Deployment guardrails"): a baking period of
# WaitIntervalInSeconds follows each traffic shift -- one for all at once, two for canary (the canary, then the rest:
# "the final baking period"), one per step for linear and one per batch for rolling -- and the old fleet is kept
# TerminationWaitInSeconds after the last. The whole deployment must end within MaximumExecutionTimeoutInSeconds
# (600 to 28800, "larger than the total waiting time": API reference, BlueGreenUpdatePolicy and RollingUpdatePolicy).
MIN_EXECUTION_TIMEOUT_SECONDS = 600
MAX_EXECUTION_TIMEOUT_SECONDS = 28800
#: Time the operator allows SageMaker, beyond the waits, to provision the new instances and shift traffic.
PROVISIONING_ALLOWANCE_SECONDS = 1800
#: Without rollback alarms a baking period watches nothing while both fleets are billed: no bake by default then.
BAKE_WITH_ALARMS_SECONDS = 300
_STEP_SIZE = {"Linear": "linearStepPercent", "Rolling": "rollingBatchPercent"}
_CEL_BAKE = (
    f"(has(self.waitSeconds) ? self.waitSeconds : has(self.rollbackAlarms) && size(self.rollbackAlarms) > 0"
    f" ? {BAKE_WITH_ALARMS_SECONDS} : 0)"
)
_CEL_BAKING_PERIODS = (
    "(self.strategy == 'Canary' ? 2 : "
    + "".join(
        f"self.strategy == '{strategy}' && has(self.{field}) ? (100 + self.{field} - 1) / self.{field} : "
        for strategy, field in _STEP_SIZE.items()
    )
    + "1)"
)
_CEL_TERMINATION_WAIT = "(has(self.terminationWaitSeconds) ? self.terminationWaitSeconds : 0)"
DEPLOYMENT_TOO_LONG = (
    f"the deployment's waits (waitSeconds per baking period, one per traffic shift or batch, plus "
    f"terminationWaitSeconds) and {PROVISIONING_ALLOWANCE_SECONDS} s to provision the new fleet must fit in "
    f"SageMaker's maximum deployment time of {MAX_EXECUTION_TIMEOUT_SECONDS} s: use larger steps or shorter waits"
)
_DEPLOYMENT_RULES.append(
    {
        "rule": f"{_CEL_BAKE} * {_CEL_BAKING_PERIODS} + {_CEL_TERMINATION_WAIT}"
        f" <= {MAX_EXECUTION_TIMEOUT_SECONDS - PROVISIONING_ALLOWANCE_SECONDS}",
        "message": DEPLOYMENT_TOO_LONG,
        "fieldPath": ".waitSeconds",
    }
)


class DeploymentSpec(SpecSchema):
    """How a spec change reaches the live endpoint: SageMaker's blue/green (all at once, canary, linear) or rolling
    deployment guardrails, with automatic rollback on CloudWatch alarms."""

    strategy: DeploymentStrategy = "AllAtOnce"
    """AllAtOnce shifts all traffic to the new fleet at once; Canary shifts canarySizePercent first, waits, then the
    rest; Linear shifts linearStepPercent per step; Rolling replaces instances in batches of rollingBatchPercent."""

    canary_size_percent: int | None = Field(default=None, ge=1, le=50)
    """Share of capacity that takes traffic first, at most 50 (Canary only)."""

    linear_step_percent: int | None = Field(default=None, ge=10, le=50)
    """Share of capacity shifted at each step, 10 to 50 (Linear only)."""

    rolling_batch_percent: int | None = Field(default=None, ge=5, le=50)
    """Share of instances replaced in each batch, 5 to 50 (Rolling only)."""

    wait_seconds: int | None = Field(default=None, ge=0, le=3600)
    """Baking period: seconds to watch the rollback alarms after each traffic shift (or batch) while both fleets are
    billed. Default: 300 with rollbackAlarms, 0 without (a bake that watches no alarm only costs)."""

    termination_wait_seconds: int = Field(default=0, ge=0, le=3600)
    """Seconds the old fleet is kept after all traffic moved, for a quick rollback (blue/green strategies only)."""

    rollback_alarms: Annotated[
        list[Annotated[str, Field(pattern=ALARM_NAME_PATTERN, max_length=255)]],
        Field(max_length=10, json_schema_extra=SET),
        AfterValidator(distinct),
    ] = Field(default_factory=list)
    """CloudWatch alarm names (distinct); if any fires during the rollout, SageMaker rolls back to the previous
    config."""

    model_config = ConfigDict(json_schema_extra={CEL: _DEPLOYMENT_RULES})

    @model_validator(mode="after")
    def _fields_fit_the_strategy(self) -> DeploymentSpec:
        for strategy, field in STRATEGY_SIZE.items():
            if (self.strategy == strategy) != (getattr(self, to_snake(field)) is not None):
                raise FieldValueError(field, _size_misfit(strategy, field))
        if self.strategy not in BLUE_GREEN and self.termination_wait_seconds:
            raise FieldValueError("terminationWaitSeconds", TERMINATION_WAIT_MISFIT)
        if self.total_wait_seconds() > MAX_EXECUTION_TIMEOUT_SECONDS - PROVISIONING_ALLOWANCE_SECONDS:
            raise FieldValueError("waitSeconds", DEPLOYMENT_TOO_LONG)
        return self

    def bake_seconds(self) -> int:
        """WaitIntervalInSeconds: the baking period after each traffic shift or batch."""
        if self.wait_seconds is not None:
            return self.wait_seconds
        return BAKE_WITH_ALARMS_SECONDS if self.rollback_alarms else 0

    def baking_periods(self) -> int:
        if self.strategy == "Canary":
            return 2
        step = self.linear_step_percent if self.strategy == "Linear" else self.rolling_batch_percent
        if self.strategy in _STEP_SIZE and step is not None:
            return -(-100 // step)
        return 1

    def total_wait_seconds(self) -> int:
        """What the deployment waits in all: its baking periods and the old fleet's termination wait."""
        return self.bake_seconds() * self.baking_periods() + self.termination_wait_seconds

    def execution_timeout_seconds(self) -> int:
        """MaximumExecutionTimeoutInSeconds: the waits plus time to provision the new fleet, within SageMaker's
        range (the validator above keeps it at or under the maximum)."""
        return max(MIN_EXECUTION_TIMEOUT_SECONDS, self.total_wait_seconds() + PROVISIONING_ALLOWANCE_SECONDS)


class VpcEndpointSpec(SpecSchema):
    """An interface VPC endpoint for the SageMaker Runtime, so that clients in the VPC invoke the endpoint without
    leaving it (found and shared between resources in the same VPC)."""

    vpc_id: str = Field(pattern=VPC_PATTERN, max_length=32)
    """The VPC that the clients run in."""

    subnet_ids: SubnetIds
    """Subnets for the endpoint's network interfaces, one per availability zone (1 to 16, distinct)."""

    security_group_ids: SecurityGroupIds
    """Security groups of the endpoint's network interfaces (1 to 5, distinct); they must admit HTTPS from the
    clients."""

    private_dns: bool = True
    """Resolve the regional runtime host name to the endpoint inside the VPC."""


class ProvisionedConcurrencyScaling(SpecSchema):
    """Application Auto Scaling of a serverless variant's provisioned concurrency: target tracking on
    SageMakerVariantProvisionedConcurrencyUtilization (scalable dimension
    sagemaker:variant:DesiredProvisionedConcurrency)."""

    min_capacity: int = Field(ge=1, le=MAX_SERVERLESS_CONCURRENCY)
    """Lowest provisioned concurrency the autoscaler may set."""

    max_capacity: int = Field(ge=1, le=MAX_SERVERLESS_CONCURRENCY)
    """Highest provisioned concurrency the autoscaler may set (at most serverless.maxConcurrency)."""

    target_utilization: float = Field(default=0.5, gt=0, le=1)
    """Target of SageMakerVariantProvisionedConcurrencyUtilization: the share of the provisioned concurrency in use
    that the autoscaler aims at (0 to 1)."""

    scale_in_cooldown_seconds: int = Field(default=300, ge=0, le=86400)
    """Seconds after a scale-in before another scale-in may start."""

    scale_out_cooldown_seconds: int = Field(default=60, ge=0, le=86400)
    """Seconds after a scale-out before another scale-out may start."""

    model_config = ConfigDict(json_schema_extra={CEL: [not_above("minCapacity", "maxCapacity")]})

    @model_validator(mode="after")
    def _bounds_ordered(self) -> ProvisionedConcurrencyScaling:
        check_not_above(self, "minCapacity", "maxCapacity")
        return self


PROVISIONED_ABOVE_MAX = "provisionedConcurrency must not exceed maxConcurrency"
PROVISIONED_SCALING_NEEDS_PROVISIONED = (
    "autoscaling of a serverless variant scales its provisioned concurrency: set provisionedConcurrency too"
)
PROVISIONED_SCALING_ABOVE_MAX = "autoscaling.maxCapacity must not exceed maxConcurrency"
PROVISIONED_OUTSIDE_SCALING = (
    "provisionedConcurrency must lie between autoscaling.minCapacity and autoscaling.maxCapacity"
)


class ServerlessSpec(SpecSchema):
    """SageMaker Serverless Inference: compute that SageMaker starts on demand and bills per millisecond of
    inference, with a cold start after idle periods unless provisioned concurrency keeps some of it warm."""

    memory_size_in_mb: int = Field(
        alias="memorySizeInMB",  # SageMaker's spelling (MemorySizeInMB), not the alias generator's
        ge=MIN_SERVERLESS_MEMORY_MB,
        le=MAX_SERVERLESS_MEMORY_MB,
        multiple_of=SERVERLESS_MEMORY_STEP_MB,
    )
    """Memory of each serverless worker: 1024 to 6144 in steps of 1024 (CPU is allotted in proportion)."""

    max_concurrency: int = Field(ge=1, le=MAX_SERVERLESS_CONCURRENCY)
    """Concurrent invocations the variant may serve (1 to 200); more are throttled (ThrottlingException)."""

    provisioned_concurrency: int | None = Field(default=None, ge=1, le=MAX_SERVERLESS_CONCURRENCY)
    """Invocations kept warm, without cold starts, billed while provisioned (at most maxConcurrency); the initial
    value when autoscaling is set (the autoscaler owns it afterwards)."""

    autoscaling: ProvisionedConcurrencyScaling | None = None
    """Target tracking of the provisioned concurrency; needs provisionedConcurrency."""

    model_config = ConfigDict(
        json_schema_extra={
            CEL: [
                {
                    "rule": "!has(self.provisionedConcurrency) || self.provisionedConcurrency <= self.maxConcurrency",
                    "message": PROVISIONED_ABOVE_MAX,
                    "fieldPath": ".provisionedConcurrency",
                },
                {
                    "rule": "!has(self.autoscaling) || has(self.provisionedConcurrency)",
                    "message": PROVISIONED_SCALING_NEEDS_PROVISIONED,
                    "fieldPath": ".autoscaling",
                },
                {
                    "rule": "!has(self.autoscaling) || self.autoscaling.maxCapacity <= self.maxConcurrency",
                    "message": PROVISIONED_SCALING_ABOVE_MAX,
                    "fieldPath": ".autoscaling",
                },
                {
                    "rule": "!has(self.autoscaling) || !has(self.provisionedConcurrency)"
                    " || (self.provisionedConcurrency >= self.autoscaling.minCapacity"
                    " && self.provisionedConcurrency <= self.autoscaling.maxCapacity)",
                    "message": PROVISIONED_OUTSIDE_SCALING,
                    "fieldPath": ".provisionedConcurrency",
                },
            ]
        }
    )

    @model_validator(mode="after")
    def _concurrencies_fit(self) -> ServerlessSpec:
        provisioned, scaling = self.provisioned_concurrency, self.autoscaling
        if provisioned is not None and provisioned > self.max_concurrency:
            raise FieldValueError("provisionedConcurrency", PROVISIONED_ABOVE_MAX)
        if scaling is not None:
            if provisioned is None:
                raise FieldValueError("autoscaling", PROVISIONED_SCALING_NEEDS_PROVISIONED)
            if scaling.max_capacity > self.max_concurrency:
                raise FieldValueError("autoscaling", PROVISIONED_SCALING_ABOVE_MAX)
            if not scaling.min_capacity <= provisioned <= scaling.max_capacity:
                raise FieldValueError("provisionedConcurrency", PROVISIONED_OUTSIDE_SCALING)
        return self


HOSTING_EXACTLY_ONE = "set instanceType (instance-backed) or serverless, exactly one of them"
SERVERLESS_NO_INSTANCES = (
    "instanceCount and autoscaling are for instance-backed variants; a serverless variant scales by itself "
    "(serverless.provisionedConcurrency, serverless.autoscaling)"
)
COUNT_OUTSIDE_SCALING = "instanceCount must lie between autoscaling.minCapacity and autoscaling.maxCapacity"
SERVERLESS_NO_VPC = (
    "serverless variants cannot run in your VPC (SageMaker Serverless Inference feature exclusions): remove "
    "model.vpcConfig or use instanceType"
)


def _hosting_rules(guard: str) -> list[JsonValue]:
    """CEL rules of one variant's hosting; ``guard``: what must hold for them to apply ("" for always)."""
    rules: list[tuple[str, str, str | None]] = [
        ("has(self.instanceType) != has(self.serverless)", HOSTING_EXACTLY_ONE, ".instanceType"),
        (
            "!has(self.serverless) || !(has(self.instanceCount) || has(self.autoscaling))",
            SERVERLESS_NO_INSTANCES,
            ".serverless",
        ),
        (
            "!has(self.autoscaling) || !has(self.instanceCount) || (self.instanceCount >= self.autoscaling.minCapacity"
            " && self.instanceCount <= self.autoscaling.maxCapacity)",
            COUNT_OUTSIDE_SCALING,
            ".instanceCount",
        ),
        ("!has(self.serverless) || !has(self.model.vpcConfig)", SERVERLESS_NO_VPC, ".serverless"),
    ]
    written: list[JsonValue] = []
    for rule, message, field_path in rules:
        entry: dict[str, JsonValue] = {"rule": f"!{guard} || ({rule})" if guard else rule, "message": message}
        if field_path is not None:
            entry["fieldPath"] = field_path
        written.append(entry)
    return written


class Hosting(SpecSchema):
    """What SageMaker runs one production or shadow variant on: instances or serverless compute."""

    instance_type: str | None = Field(default=None, pattern=INSTANCE_TYPE_PATTERN, max_length=64)
    """SageMaker instance type of the variant, for example ml.c5.xlarge (or serverless instead)."""

    instance_count: int | None = Field(default=None, ge=1, le=MAX_INSTANCE_COUNT)
    """Initial instance count (default: autoscaling.minCapacity, or 1); with autoscaling the autoscaler owns the live
    count afterwards."""

    autoscaling: AutoscalingSpec | None = None
    """Target-tracking autoscaling of the instance count; omit for a fixed instance count."""

    serverless: ServerlessSpec | None = None
    """Serverless Inference instead of instances (instanceType, instanceCount and autoscaling are then not set)."""

    def check_hosting(self, model: ModelSpec | None) -> None:
        """The pydantic twin of :func:`_hosting_rules`."""
        if (self.instance_type is None) == (self.serverless is None):
            raise FieldValueError("instanceType", HOSTING_EXACTLY_ONE)
        if self.serverless is not None and (self.instance_count is not None or self.autoscaling is not None):
            raise FieldValueError("serverless", SERVERLESS_NO_INSTANCES)
        scaling = self.autoscaling
        count = self.instance_count
        if scaling is not None and count is not None and not scaling.min_capacity <= count <= scaling.max_capacity:
            raise FieldValueError("instanceCount", COUNT_OUTSIDE_SCALING)
        if self.serverless is not None and model is not None and model.vpc_config is not None:
            raise FieldValueError("serverless", SERVERLESS_NO_VPC)

    @property
    def initial_instance_count(self) -> int:
        """InitialInstanceCount of an instance-backed variant."""
        if self.instance_count is not None:
            return self.instance_count
        return self.autoscaling.min_capacity if self.autoscaling is not None else 1


class VariantSpec(Hosting):
    """A production or shadow variant: a model with its own hosting and share of the traffic."""

    name: str = Field(pattern=VARIANT_NAME_PATTERN, max_length=63)
    """Variant name (SageMaker's VariantName: letters, digits and hyphens, up to 63), unique in the endpoint. Keep it
    across changes of the variant's model or hosting: SageMaker's deployment guardrails need the same names."""

    model: ModelSpec
    """The model the variant serves."""

    weight: float = Field(default=1.0, ge=0, le=1_000_000)
    """Share of the traffic, relative to the other production variants' weights (SageMaker normalises them; 0
    takes none). For a shadow variant: the share of production traffic mirrored to it, relative to the production
    weights."""

    model_config = ConfigDict(json_schema_extra={CEL: _hosting_rules("")})

    @model_validator(mode="after")
    def _hosting_fits(self) -> VariantSpec:
        self.check_hosting(self.model)
        return self


class BenchmarkSpec(SpecSchema):
    """A benchmark of the live endpoint, run after every rollout that reaches InService."""

    payload: str = Field(min_length=1, max_length=65536)
    """Request body sent with every invocation, in contentType (for example one CSV row of features)."""

    content_type: str = Field(default="text/csv", pattern=r"^[ -~]+$", min_length=1, max_length=1024)
    """Content type of the payload (printable ASCII, as InvokeEndpoint requires)."""

    requests: int = Field(default=1000, ge=10, le=1_000_000)
    """Number of measured requests (after warm-up)."""

    concurrency: int = Field(default=8, ge=1, le=256)
    """Concurrent clients of the closed-loop benchmark."""

    target_p99_ms: float = Field(default=20.0, gt=0, le=60000)
    """Latency objective: the benchmark's sloMet says whether p99 stayed at or under it."""

    model_config = ConfigDict(json_schema_extra={CEL: [not_above("concurrency", "requests", ".concurrency")]})

    @model_validator(mode="after")
    def _clients_have_requests(self) -> BenchmarkSpec:
        check_not_above(self, "concurrency", "requests", at_lower=True)
        return self


#: The production variant of an endpoint given by the shorthand (model with instanceType or serverless). An adopted
#: endpoint keeps its own variant name instead: blue/green and rolling deployments require the new config to keep
#: the old variant name (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html).
DEFAULT_VARIANT = "AllTraffic"
MODEL_OR_VARIANTS = "set either model (an endpoint with one production variant) or variants, not both"
SHORTHAND_WITH_VARIANTS = (
    "variants: instanceType, instanceCount, autoscaling and serverless describe the single variant of model: with "
    "variants, set them in each variant"
)
NO_POSITIVE_WEIGHT = "variants: at least one production variant must have a weight above 0"
# SageMaker Serverless Inference feature exclusions: "multiple production variants" and shadow testing are among the
# real-time features serverless endpoints do not support (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html).
SERVERLESS_ALONE = (
    "variants: a serverless variant must be the endpoint's only production variant (SageMaker serverless endpoints "
    "have one)"
)
SERVERLESS_NO_SHADOW = (
    "shadowVariants: a serverless endpoint cannot have shadow variants (SageMaker serverless feature exclusions)"
)
# "You can only create a shadow variant alongside exactly one production variant" (botocore sagemaker
# CreateEndpointConfigInput.ShadowProductionVariants; https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-create.html).
SHADOW_WITH_ONE_PRODUCTION = "shadowVariants: a shadow variant needs exactly one production variant beside it"
# "You can't update an instance-based endpoint to a serverless endpoint"
# (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-update.html).
NO_INSTANCES_TO_SERVERLESS = (
    "serverless: SageMaker cannot update an instance-backed endpoint to serverless: create a new resource for the "
    "serverless endpoint, move the callers, then delete this one"
)
SHADOW_ON_INSTANCES = "shadowVariants are instance-backed: set instanceType, not serverless"
SHADOW_NAME_TAKEN = (
    f"shadowVariants: a shadow variant's name must differ from every production variant's (the shorthand's is "
    f"{DEFAULT_VARIANT})"
)
ROLLING_ONE_INSTANCE_VARIANT = (
    "deployment strategy Rolling is not available for serverless or multi-variant endpoints (SageMaker deployment "
    "guardrails exclusions): use AllAtOnce, Canary or Linear"
)
# 'auto' is measured by the ramp after the endpoint's benchmark, which offers load to the endpoint as a whole: it
# finds one variant's maximum only when the endpoint has one.
AUTO_TARGET_ALONE = (
    "variants: targetInvocationsPerInstance 'auto' is measured for an endpoint with one variant; give each autoscaled "
    "variant (and shadow) a number of invocations per instance per minute"
)
_CEL_NUMBER_TARGETS = (
    "{list}.all(v, !has(v.autoscaling) || (has(v.autoscaling.targetInvocationsPerInstance)"
    " && type(v.autoscaling.targetInvocationsPerInstance) == int))"
)
_CEL_SERVERLESS = "(has(self.serverless) || (has(self.variants) && self.variants.exists(v, has(v.serverless))))"
_CEL_SHADOWS = "(has(self.shadowVariants) && size(self.shadowVariants) > 0)"
_SPEC_RULES: list[JsonValue] = [
    {"rule": "has(self.variants) != has(self.model)", "message": MODEL_OR_VARIANTS, "fieldPath": ".model"},
    {
        "rule": "!has(self.variants) || !(has(self.instanceType) || has(self.instanceCount) || has(self.autoscaling)"
        " || has(self.serverless))",
        "message": SHORTHAND_WITH_VARIANTS,
        "fieldPath": ".variants",
    },
    *_hosting_rules("has(self.model)"),
    {
        "rule": "!has(self.variants) || self.variants.exists(v, !has(v.weight) || v.weight > 0)",
        "message": NO_POSITIVE_WEIGHT,
        "fieldPath": ".variants",
    },
    {
        "rule": "(!has(self.variants) || " + _CEL_NUMBER_TARGETS.format(list="self.variants") + ")"
        " && (!has(self.shadowVariants) || " + _CEL_NUMBER_TARGETS.format(list="self.shadowVariants") + ")",
        "message": AUTO_TARGET_ALONE,
        "fieldPath": ".variants",
    },
    {
        "rule": f"!{_CEL_SERVERLESS} || !has(self.variants) || size(self.variants) == 1",
        "message": SERVERLESS_ALONE,
        "fieldPath": ".variants",
    },
    {"rule": f"!{_CEL_SERVERLESS} || !{_CEL_SHADOWS}", "message": SERVERLESS_NO_SHADOW, "fieldPath": ".shadowVariants"},
    {
        "rule": f"!{_CEL_SHADOWS} || !has(self.variants) || size(self.variants) == 1",
        "message": SHADOW_WITH_ONE_PRODUCTION,
        "fieldPath": ".shadowVariants",
    },
    {
        "rule": f"!{_CEL_SERVERLESS} || " + _CEL_SERVERLESS.replace("self.", "oldSelf."),
        "message": NO_INSTANCES_TO_SERVERLESS,
        "fieldPath": ".serverless",
    },
    {
        "rule": "!has(self.shadowVariants) || self.shadowVariants.all(s, !has(s.serverless))",
        "message": SHADOW_ON_INSTANCES,
        "fieldPath": ".shadowVariants",
    },
    {
        "rule": "!has(self.shadowVariants) || self.shadowVariants.all(s, has(self.variants)"
        f" ? !self.variants.exists(v, v.name == s.name) : s.name != '{DEFAULT_VARIANT}')",
        "message": SHADOW_NAME_TAKEN,
        "fieldPath": ".shadowVariants",
    },
    {
        "rule": "!has(self.deployment) || self.deployment.strategy != 'Rolling' || !("
        + _CEL_SERVERLESS
        + " || "
        + _CEL_SHADOWS
        + " || (has(self.variants) && size(self.variants) > 1))",
        "message": ROLLING_ONE_INSTANCE_VARIANT,
        "fieldPath": ".deployment",
    },
    {
        "rule": "has(self.region) == has(oldSelf.region) && (!has(self.region) || self.region == oldSelf.region)",
        "message": "region is immutable: create a new resource to move an endpoint to another region",
        "fieldPath": ".region",
    },
]


class Spec(Hosting):
    """Desired state of a SageMaker real-time inference endpoint: one model (model with instanceType or serverless)
    or several production variants (variants), and optionally a shadow variant."""

    region: str | None = Field(default=None, pattern=REGION_PATTERN, max_length=32)
    """AWS region of the endpoint; the operator's default region when omitted. Immutable."""

    model: ModelSpec | None = None
    """The model of an endpoint with one production variant (with instanceType or serverless); omit with variants."""

    variants: list[VariantSpec] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_VARIANTS,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Production variants (1 to 10, names distinct) sharing the traffic by weight, for A/B tests of models or
    instance types; instead of model, instanceType, instanceCount, autoscaling and serverless."""

    shadow_variants: list[VariantSpec] = Field(
        default_factory=list,
        max_length=1,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """At most one shadow variant (instance-backed): it receives a copy of a share of the production traffic, set by
    its weight relative to the production weights, and its responses are never returned to callers."""

    deployment: DeploymentSpec = Field(default_factory=DeploymentSpec)
    """How spec changes are rolled out to the live endpoint."""

    vpc_endpoint: VpcEndpointSpec | None = None
    """Interface VPC endpoint for the SageMaker Runtime in the clients' VPC."""

    benchmark: BenchmarkSpec | None = None
    """Latency benchmark run after every rollout; omit to skip benchmarking."""

    expected_monthly_invocations: int | None = Field(default=None, ge=1, le=10**13)
    """Invocations a month you expect: status.cost then states each variant's monthly cost at that volume
    (serverless is billed per invocation; instances by the hour whatever the volume)."""

    deletion_policy: Literal["Delete", "Retain"] = "Delete"
    """Delete removes the endpoint, its configs and models with the resource; Retain leaves them in AWS."""

    tags: dict[
        Annotated[str, Field(pattern=TAG_KEY_PATTERN)],
        Annotated[str, Field(pattern=TAG_VALUE_PATTERN, max_length=256)],
    ] = Field(
        default_factory=dict,
        max_length=MAX_USER_TAGS,
        json_schema_extra={
            CEL: [
                {
                    "rule": f"self.all(k, !k.matches('{RESERVED_TAG_KEY_PATTERN}'))",
                    "message": "tag keys may not start with aws: (in any case) or lowlatency.io/ (reserved)",
                },
                {
                    "rule": f"self.all(k, k.matches('{TAG_KEY_PATTERN}'))",
                    "message": "tag keys must have 1 to 128 characters: letters, digits, spaces and _.:/=+@-",
                },
            ]
        },
    )
    """Tags added to every AWS resource created for this endpoint (at most 40; keys may not start with aws: or
    lowlatency.io/)."""

    @field_validator("tags")
    @classmethod
    def _no_reserved_tag_keys(cls, tags: dict[str, str]) -> dict[str, str]:
        reserved = sorted(key for key in tags if is_reserved_tag_key(key))
        if reserved:
            raise ValueError(f"tag keys {reserved} are reserved (aws: in any case and lowlatency.io/ prefixes)")
        return tags

    model_config = ConfigDict(json_schema_extra={CEL: _SPEC_RULES})

    @field_validator("variants", "shadow_variants")
    @classmethod
    def _distinct_names(cls, variants: list[VariantSpec] | None) -> list[VariantSpec] | None:
        distinct([variant.name for variant in variants or ()])
        return variants

    @model_validator(mode="after")
    def _one_way_to_host(self) -> Spec:
        if (self.variants is None) == (self.model is None):
            raise FieldValueError("model", MODEL_OR_VARIANTS)
        if self.variants is not None:
            shorthand = (self.instance_type, self.instance_count, self.autoscaling, self.serverless)
            if any(value is not None for value in shorthand):
                raise FieldValueError("variants", SHORTHAND_WITH_VARIANTS)
            if not any(variant.weight > 0 for variant in self.variants):
                raise FieldValueError("variants", NO_POSITIVE_WEIGHT)
        else:
            self.check_hosting(self.model)
        serverless = self.serverless is not None or any(v.serverless is not None for v in self.variants or ())
        if serverless and len(self.variants or ()) > 1:
            raise FieldValueError("variants", SERVERLESS_ALONE)
        if serverless and self.shadow_variants:
            raise FieldValueError("shadowVariants", SERVERLESS_NO_SHADOW)
        listed = [*(self.variants or ()), *self.shadow_variants]
        if any(v.autoscaling is not None and v.autoscaling.target_invocations_per_instance == "auto" for v in listed):
            raise FieldValueError("variants", AUTO_TARGET_ALONE)
        if self.shadow_variants and len(self.variants or ()) > 1:
            raise FieldValueError("shadowVariants", SHADOW_WITH_ONE_PRODUCTION)
        if any(shadow.serverless is not None for shadow in self.shadow_variants):
            raise FieldValueError("shadowVariants", SHADOW_ON_INSTANCES)
        production = {variant.name for variant in self.variants} if self.variants is not None else {DEFAULT_VARIANT}
        if any(shadow.name in production for shadow in self.shadow_variants):
            raise FieldValueError("shadowVariants", SHADOW_NAME_TAKEN)
        multi = len(self.variants or ()) > 1 or bool(self.shadow_variants)
        if self.deployment.strategy == "Rolling" and (serverless or multi):
            raise FieldValueError("deployment", ROLLING_ONE_INSTANCE_VARIANT)
        return self

    def production_variants(self, single_name: str = DEFAULT_VARIANT) -> tuple[VariantSpec, ...]:
        """The production variants, the shorthand's one (named ``single_name``) included."""
        if self.variants is not None:
            return tuple(self.variants)
        assert self.model is not None  # the validator above: model or variants
        return (
            VariantSpec(
                name=single_name,
                model=self.model,
                instance_type=self.instance_type,
                instance_count=self.instance_count,
                autoscaling=self.autoscaling,
                serverless=self.serverless,
            ),
        )


Phase = Literal["Pending", "Creating", "Updating", "InService", "Failed", "Deleting"]
ConditionType = Literal["Ready", "Degraded", "Benchmarked"]


class Condition(Schema):
    """A standard Kubernetes condition."""

    type: ConditionType
    """Ready: InService at the observed generation. Degraded: the last rollout failed and the previous config
    still serves. Benchmarked: status.benchmark is for the live generation."""

    status: Literal["True", "False", "Unknown"]
    """Whether the condition holds."""

    reason: str = Field(default="", max_length=1024)
    """A CamelCase word saying why."""

    message: str = Field(default="", max_length=32768)
    """What happened, for people."""

    observed_generation: int | None = Field(default=None, ge=0)
    """The resource generation the condition was set for."""

    last_transition_time: datetime.datetime | None = None
    """When the status last changed."""


class VariantCost(Schema):
    """What one variant costs, from the price table and the variant's own benchmark."""

    name: str
    """The variant."""

    hourly_usd: float | None = None
    """Instances: live instances x on-demand hourly price. Serverless: the provisioned concurrency's hourly charge
    (none without it)."""

    per_million_invocations_usd: float | None = None
    """Instances: the hourly cost at the variant's measured throughput. Serverless: compute per GB-second of the
    configured memory for the measured mean duration of an invocation."""

    monthly_usd: float | None = None
    """A month (730 hours) of the variant: instances by the hour; serverless at spec.expectedMonthlyInvocations."""

    comparable_instance_type: str | None = None
    """Serverless: the cheapest real-time instance type with at least the variant's memory."""

    comparable_instance_hourly_usd: float | None = None
    """Serverless: that instance type's on-demand hourly price."""

    break_even_monthly_invocations: float | None = None
    """Serverless: the monthly invocation volume above which one comparable instance costs less than serverless."""


class Cost(Schema):
    """What the endpoint costs, from a bundled, dated table of on-demand prices."""

    hourly_usd: float | None = None
    """Live instances x on-demand hourly price of the instance type (all instance variants, shadow included)."""

    per_million_invocations_usd: float | None = None
    """What a million invocations cost the endpoint at its measured throughput (hourly cost divided by it; for a
    serverless endpoint, its variant's per-invocation cost)."""

    monthly_usd: float | None = None
    """The variants' monthly costs added up (unknown if any is)."""

    variants: list[VariantCost] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Each variant's cost (production and shadow)."""


class BenchmarkResult(Schema):
    """The last benchmark of the live endpoint."""

    generation: int | None = None
    """The resource generation that was measured."""

    source: Literal["Client", "CloudWatchModelLatency"] | None = None
    """Where the figures come from: Client, the operator's own requests timed end to end (as callers see them);
    CloudWatchModelLatency, SageMaker's ModelLatency metric (the model's time alone, without the network and
    SageMaker's overhead: a shadow variant, which no request can target)."""

    p50_ms: float | None = None
    """Median latency, milliseconds."""

    p90_ms: float | None = None
    """90th percentile latency, milliseconds."""

    p99_ms: float | None = None
    """99th percentile latency, milliseconds."""

    mean_ms: float | None = None
    """Mean latency, milliseconds (what a serverless invocation is billed by, as a caller sees it)."""

    throughput_rps: float | None = None
    """Achieved requests per second."""

    requests: int | None = None
    """Measured requests."""

    errors: int | None = None
    """Requests that failed."""

    slo_met: bool | None = None
    """Whether p99 stayed at or under spec.benchmark.targetP99Ms."""

    cold_start_ms: float | None = None
    """Serverless: latency of the first request after the variant was idle (a cold start: SageMaker's
    ModelSetupTime and the request), never part of the percentiles."""

    completed_at: datetime.datetime | None = None
    """When the benchmark finished."""


class Rightsizing(Schema):
    """What autoscaling 'auto' derives its target from: the highest rate the endpoint sustained within
    spec.benchmark.targetP99Ms, measured by raising an open-loop rate in steps after the benchmark."""

    generation: int | None = None
    """The resource generation that was measured."""

    max_rps_per_instance: float | None = None
    """Highest rate that held (p99 within the target, at most 1% errors), divided by the live instances."""

    safety_factor: float | None = None
    """Share of the maximum the autoscaler aims at."""

    target_invocations_per_instance: int | None = None
    """Target of SageMakerVariantInvocationsPerInstance: maxRpsPerInstance x safetyFactor x 60."""

    measured_at: datetime.datetime | None = None
    """When the measurement finished."""


class Rollout(Schema):
    """The last move the operator started, so that a failed rollout is reported once and not retried in a loop."""

    endpoint_config_name: str
    """The endpoint config the endpoint was asked to move to (CreateEndpoint or UpdateEndpoint)."""

    generation: int
    """The resource generation that asked for it."""


VariantKind = Literal["Instance", "Serverless", "Shadow"]


class VariantStatus(Schema):
    """One variant as SageMaker reports it (DescribeEndpoint) and as the spec wants it."""

    name: str
    """The variant's name."""

    kind: VariantKind
    """Instance (production, instance-backed), Serverless (production, serverless) or Shadow."""

    current_instance_count: int | None = None
    """Instances serving now (instance variants)."""

    desired_instance_count: int | None = None
    """Instances SageMaker is moving to (instance variants)."""

    current_provisioned_concurrency: int | None = None
    """Provisioned concurrency now (serverless variants with it)."""

    desired_provisioned_concurrency: int | None = None
    """Provisioned concurrency SageMaker is moving to."""

    current_weight: float | None = None
    """The variant's traffic weight now."""

    desired_weight: float | None = None
    """The weight SageMaker is moving to."""

    benchmark: BenchmarkResult | None = None
    """The variant's own last benchmark (InvokeEndpoint with TargetVariant)."""


class Status(Schema):
    """Observed state, written only by the operator."""

    phase: Phase | None = None
    """Pending, Creating, Updating, InService, Failed or Deleting."""

    observed_generation: int | None = None
    """The generation whose configuration is live."""

    endpoint_name: str | None = None
    """Name of the SageMaker endpoint."""

    endpoint_arn: str | None = None
    """ARN of the SageMaker endpoint."""

    endpoint_config_name: str | None = None
    """Name of the endpoint config in service."""

    model_name: str | None = None
    """Name of the SageMaker model in service."""

    current_instance_count: int | None = None
    """Instances serving now (the autoscaler may have changed it)."""

    desired_instance_count: int | None = None
    """Instances SageMaker is moving to."""

    variants: list[VariantStatus] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Each production and shadow variant: counts, weights and its own benchmark."""

    vpc_endpoint_id: str | None = None
    """Id of the interface VPC endpoint for the SageMaker Runtime."""

    vpc_endpoint_dns_names: list[str] = Field(default_factory=list)
    """DNS names of the interface VPC endpoint."""

    failure_reason: str = ""
    """SageMaker's FailureReason or the error that stopped the last reconciliation."""

    rollout: Rollout | None = None
    """The last rollout the operator started."""

    cost: Cost | None = None
    """Cost of the live endpoint."""

    benchmark: BenchmarkResult | None = None
    """The last benchmark of the live endpoint."""

    rightsizing: Rightsizing | None = None
    """The measured maximum rate and the autoscaling target derived from it (targetInvocationsPerInstance auto)."""

    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Ready, Degraded and Benchmarked."""

    kopf: dict[str, Any] = Field(default_factory=dict, json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})
    """Handler progress kept by the kopf framework."""


class LowLatencyEndpoint(Schema):
    """A SageMaker real-time inference endpoint, benchmarked after every rollout."""

    spec: Spec
    """Desired state."""

    status: Status = Field(default_factory=Status)
    """Observed state."""
