"""The state of an emulated SageMaker endpoint: its variants, the transition it is in, and the statuses they show.

Pure data with no AWS behaviour of its own: :mod:`.sagemaker` drives it through SageMaker's lifecycle.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

SERVING_STATUSES: Final = frozenset({"InService", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"})

Clock = Callable[[], float]
TransitionKind = Literal["create", "update", "rollback", "capacity", "maintenance", "delete"]
# How an injected update failure ends: rolled back to the old config, a rolling deployment whose rollback failed too,
# or an endpoint that serves nothing any more.
UpdateOutcome = Literal["rolled-back", "rollback-failed", "failed"]
STATUS_WHILE: Final[dict[TransitionKind, str]] = {
    "create": "Creating",
    "update": "Updating",
    "rollback": "RollingBack",
    "capacity": "Updating",
    "maintenance": "SystemUpdating",
    "delete": "Deleting",
}
# An endpoint in these statuses refuses UpdateEndpoint, UpdateEndpointWeightsAndCapacities and DeleteEndpoint with
# 'Cannot update in-progress endpoint "<arn>".' (botocore sagemaker DescribeEndpointOutput.EndpointStatus: a
# SystemUpdating endpoint "cannot be updated or deleted or re-scaled until it has completed"; the same answer to
# DeleteEndpoint while Creating is what users of SageMaker report).
IN_PROGRESS_STATUSES: Final = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})


@dataclass(frozen=True)
class Delays:
    """How long each transition lasts, in seconds of the emulator's clock; and how long a new model or endpoint
    config stays invisible to CreateEndpoint, and a new scalable target to PutScalingPolicy and PutScheduledAction
    (eventual consistency, off unless a test turns it on).

    Serverless variants (:mod:`.serverless`): ``serverless_idle`` is how long, on the emulator's clock, compute of a
    serverless variant stays warm without a request; ``serverless_cold_start`` is the wall-clock time a request that
    finds no warm compute waits for it (SageMaker's ``ModelSetupTime``), added to what the model server takes."""

    create: float = 2.0
    update: float = 2.0
    rollback: float = 0.5
    capacity: float = 1.0
    maintenance: float = 1.0
    delete: float = 1.0
    config_visibility: float = 0.0
    target_visibility: float = 0.0
    serverless_idle: float = 60.0
    serverless_cold_start: float = 0.25


@dataclass(frozen=True)
class ServerlessConfig:
    """A serverless variant's compute (botocore sagemaker ProductionVariantServerlessConfig)."""

    memory_size_in_mb: int
    max_concurrency: int
    provisioned_concurrency: int | None = None

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> ServerlessConfig:
        provisioned = config.get("ProvisionedConcurrency")
        return cls(
            int(config["MemorySizeInMB"]),
            int(config["MaxConcurrency"]),
            int(provisioned) if provisioned is not None else None,
        )

    def described(self) -> dict[str, Any]:
        described = {"MemorySizeInMB": self.memory_size_in_mb, "MaxConcurrency": self.max_concurrency}
        if self.provisioned_concurrency is not None:
            described["ProvisionedConcurrency"] = self.provisioned_concurrency
        return described


@dataclass
class Variant:
    """A production variant, or a shadow variant (``shadow``); instance-backed (``instance_type`` and the counts) or
    serverless (the serverless configs, and counts of 0)."""

    name: str
    model_name: str
    instance_type: str | None
    image: str | None
    current_count: int
    desired_count: int
    current_weight: float
    desired_weight: float
    shadow: bool = False
    current_serverless: ServerlessConfig | None = None
    desired_serverless: ServerlessConfig | None = None

    def described(self, deployed_at: float) -> dict[str, Any]:
        """The variant as DescribeEndpoint's ProductionVariantSummary gives it: current and desired weight, and the
        current and desired instance counts or serverless configs (botocore sagemaker ProductionVariantSummary)."""
        described: dict[str, Any] = {
            "VariantName": self.name,
            "CurrentWeight": self.current_weight,
            "DesiredWeight": self.desired_weight,
        }
        if self.desired_serverless is not None and self.current_serverless is not None:
            described["CurrentServerlessConfig"] = self.current_serverless.described()
            described["DesiredServerlessConfig"] = self.desired_serverless.described()
        else:
            described["CurrentInstanceCount"] = self.current_count
            described["DesiredInstanceCount"] = self.desired_count
        if self.image:
            digest = hashlib.sha256(self.image.encode()).hexdigest()
            described["DeployedImages"] = [
                {
                    "SpecifiedImage": self.image,
                    "ResolvedImage": f"{self.image.partition(':')[0]}@sha256:{digest}",
                    "ResolutionTime": deployed_at,
                }
            ]
        return described

    def pending(self, started: float, stage: str) -> dict[str, Any]:
        """The variant of a new fleet being deployed, as PendingDeploymentSummary gives it: nothing serves on it yet
        (botocore sagemaker PendingProductionVariantSummary)."""
        summary = self.described(started)
        summary["VariantStatus"] = [{"Status": stage, "StartTime": started}]
        if self.desired_serverless is not None:
            del summary["CurrentServerlessConfig"]
        else:
            summary["CurrentInstanceCount"] = 0
            summary["InstanceType"] = self.instance_type
        return summary


@dataclass
class Transition:
    kind: TransitionKind
    started: float
    due: float
    failure: str | None = None
    config_name: str | None = None
    variants: list[Variant] = field(default_factory=list)
    deployment_config: dict[str, Any] | None = None
    outcome: UpdateOutcome = "rolled-back"


@dataclass
class EndpointState:
    region: str
    name: str
    arn: str
    config_name: str
    created: float
    modified: float
    settled_status: str
    variants: list[Variant]
    transition: Transition | None
    failure_reason: str | None = None
    last_deployment_config: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        return STATUS_WHILE[self.transition.kind] if self.transition is not None else self.settled_status

    def variant(self, name: str) -> Variant | None:
        return next((variant for variant in self.variants if variant.name == name), None)

    def described(self, now: float) -> dict[str, Any]:
        """The endpoint as DescribeEndpoint gives it at ``now`` (botocore sagemaker DescribeEndpointOutput): variants
        once created; while capacity changes, with the transition's desired values; while an update deploys a new
        fleet, that fleet's variants in PendingDeploymentSummary, Creating for the first half of the update and then
        Baking."""
        described: dict[str, Any] = {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "EndpointConfigName": self.config_name,
            "EndpointStatus": self.status,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
        }
        transition = self.transition
        if self.status != "Creating" and self.variants:
            live = self.variants
            if transition is not None and transition.kind == "capacity":
                live = transition.variants  # the live current values, and the desired ones
            described.update(_by_role(live, lambda variant: variant.described(self.created)))
        if self.failure_reason:
            described["FailureReason"] = self.failure_reason
        if self.last_deployment_config:
            described["LastDeploymentConfig"] = self.last_deployment_config
        if transition is not None and transition.kind == "update":
            stage = "Creating" if now < (transition.started + transition.due) / 2 else "Baking"
            described["PendingDeploymentSummary"] = {
                "EndpointConfigName": transition.config_name,
                **_by_role(transition.variants, lambda variant: variant.pending(transition.started, stage)),
                "StartTime": transition.started,
            }
        return described

    @property
    def production(self) -> list[Variant]:
        return [variant for variant in self.variants if not variant.shadow]

    @property
    def shadows(self) -> list[Variant]:
        return [variant for variant in self.variants if variant.shadow]


def instances(variants: list[Variant]) -> Counter[str]:
    return Counter({variant.instance_type: variant.desired_count for variant in variants if variant.instance_type})


def settled(variants: list[Variant]) -> list[Variant]:
    return [
        replace(
            variant,
            current_count=variant.desired_count,
            current_weight=variant.desired_weight,
            current_serverless=variant.desired_serverless,
        )
        for variant in variants
    ]


def desired_capacity(variant: Variant) -> int:
    """What Application Auto Scaling scales: an instance variant's count, a serverless variant's provisioned
    concurrency (0 when it has none)."""
    if variant.desired_serverless is not None:
        return variant.desired_serverless.provisioned_concurrency or 0
    return variant.desired_count


def with_desired_capacity(variant: Variant, capacity: int) -> Variant:
    if variant.desired_serverless is not None:
        return replace(
            variant, desired_serverless=replace(variant.desired_serverless, provisioned_concurrency=capacity)
        )
    return replace(variant, desired_count=capacity)


def _by_role(variants: list[Variant], describe: Callable[[Variant], dict[str, Any]]) -> dict[str, Any]:
    """Variants as DescribeEndpoint lists them: ``ProductionVariants``, and ``ShadowProductionVariants`` when there
    are any (botocore sagemaker DescribeEndpointOutput, PendingDeploymentSummary)."""
    described: dict[str, Any] = {
        "ProductionVariants": [describe(variant) for variant in variants if not variant.shadow]
    }
    shadows = [describe(variant) for variant in variants if variant.shadow]
    if shadows:
        described["ShadowProductionVariants"] = shadows
    return described
