"""The state of an emulated SageMaker endpoint: its variants, the transition it is in, and the statuses they show.

Pure data with no AWS behaviour of its own: :mod:`.sagemaker` drives it through SageMaker's lifecycle.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
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
    (eventual consistency, off unless a test turns it on)."""

    create: float = 2.0
    update: float = 2.0
    rollback: float = 0.5
    capacity: float = 1.0
    maintenance: float = 1.0
    delete: float = 1.0
    config_visibility: float = 0.0
    target_visibility: float = 0.0


@dataclass
class Variant:
    name: str
    model_name: str
    instance_type: str | None
    image: str | None
    current_count: int
    desired_count: int
    current_weight: float
    desired_weight: float

    def described(self, deployed_at: float) -> dict[str, Any]:
        described: dict[str, Any] = {
            "VariantName": self.name,
            "CurrentWeight": self.current_weight,
            "DesiredWeight": self.desired_weight,
            "CurrentInstanceCount": self.current_count,
            "DesiredInstanceCount": self.desired_count,
        }
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


def instances(variants: list[Variant]) -> Counter[str]:
    return Counter({variant.instance_type: variant.desired_count for variant in variants if variant.instance_type})


def settled(variants: list[Variant]) -> list[Variant]:
    return [
        replace(variant, current_count=variant.desired_count, current_weight=variant.desired_weight)
        for variant in variants
    ]
