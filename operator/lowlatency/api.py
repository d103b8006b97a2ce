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
    MAX_USER_TAGS,
    REGION_PATTERN,
    RESERVED_TAG_KEY_PATTERN,
    ROLE_ARN_PATTERN,
    S3_URL_PATTERN,
    SCHEDULE_NAME_PATTERN,
    SET,
    TAG_KEY_PATTERN,
    TAG_VALUE_PATTERN,
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


class Spec(SpecSchema):
    """Desired state of a SageMaker real-time inference endpoint."""

    region: str | None = Field(default=None, pattern=REGION_PATTERN, max_length=32)
    """AWS region of the endpoint; the operator's default region when omitted. Immutable."""

    model: ModelSpec
    """The model served by the endpoint's single production variant."""

    instance_type: str = Field(pattern=INSTANCE_TYPE_PATTERN, max_length=64)
    """SageMaker instance type of the production variant, for example ml.c5.xlarge."""

    instance_count: int = Field(default=1, ge=1, le=MAX_INSTANCE_COUNT)
    """Initial instance count; with autoscaling the autoscaler owns the live count afterwards."""

    autoscaling: AutoscalingSpec | None = None
    """Target-tracking autoscaling of the instance count; omit for a fixed instance count."""

    deployment: DeploymentSpec = Field(default_factory=DeploymentSpec)
    """How spec changes are rolled out to the live endpoint."""

    vpc_endpoint: VpcEndpointSpec | None = None
    """Interface VPC endpoint for the SageMaker Runtime in the clients' VPC."""

    benchmark: BenchmarkSpec | None = None
    """Latency benchmark run after every rollout; omit to skip benchmarking."""

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

    model_config = ConfigDict(
        json_schema_extra={
            CEL: [
                {
                    "rule": "!has(self.autoscaling) || (self.instanceCount >= self.autoscaling.minCapacity"
                    " && self.instanceCount <= self.autoscaling.maxCapacity)",
                    "message": "instanceCount must lie between autoscaling.minCapacity and autoscaling.maxCapacity",
                    "fieldPath": ".instanceCount",
                },
                {
                    "rule": "has(self.region) == has(oldSelf.region)"
                    " && (!has(self.region) || self.region == oldSelf.region)",
                    "message": "region is immutable: create a new resource to move an endpoint to another region",
                    "fieldPath": ".region",
                },
            ]
        }
    )

    @model_validator(mode="after")
    def _count_within_autoscaling(self) -> Spec:
        scaling = self.autoscaling
        if scaling is not None and not scaling.min_capacity <= self.instance_count <= scaling.max_capacity:
            raise FieldValueError(
                "instanceCount", "instanceCount must lie between autoscaling.minCapacity and autoscaling.maxCapacity"
            )
        return self


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


class Cost(Schema):
    """What the endpoint costs, from a bundled, dated table of on-demand prices."""

    hourly_usd: float | None = None
    """Live instances x on-demand hourly price of the instance type."""

    per_million_invocations_usd: float | None = None
    """Hourly cost divided by the measured throughput, per million invocations."""


class BenchmarkResult(Schema):
    """The last benchmark of the live endpoint."""

    generation: int | None = None
    """The resource generation that was measured."""

    p50_ms: float | None = None
    """Median latency, milliseconds."""

    p90_ms: float | None = None
    """90th percentile latency, milliseconds."""

    p99_ms: float | None = None
    """99th percentile latency, milliseconds."""

    throughput_rps: float | None = None
    """Achieved requests per second."""

    requests: int | None = None
    """Measured requests."""

    errors: int | None = None
    """Requests that failed."""

    slo_met: bool | None = None
    """Whether p99 stayed at or under spec.benchmark.targetP99Ms."""

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
