"""What AWS should hold for a spec: pure ``build_*`` functions, no AWS calls.

The hashes in model and endpoint config names cover exactly what SageMaker cannot change in place: a change to
any of it makes a new model or config (and a rollout); a change to anything else (instance count, tags) is applied
to the live resources without one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.model import StringShape

from lowlatency import naming
from lowlatency.api import AutoscalingSpec, DeploymentSpec, Spec

if TYPE_CHECKING:
    from mypy_boto3_sagemaker.type_defs import TagTypeDef

# The production variant of an endpoint the operator creates. An endpoint it adopts keeps its own variant name:
# blue/green and rolling deployments require the new config to keep the old variant name (SageMaker developer guide,
# https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html).
DEFAULT_VARIANT_NAME = "AllTraffic"
TAG_PREFIX = "lowlatency.io/"
TAG_MANAGED_BY = f"{TAG_PREFIX}managed-by"
TAG_NAMESPACE = f"{TAG_PREFIX}namespace"
TAG_NAME = f"{TAG_PREFIX}name"
TAG_UID = f"{TAG_PREFIX}uid"
TAG_RETAINED = f"{TAG_PREFIX}retained"  # left in AWS on purpose when its resource was deleted (deletionPolicy Retain)
MANAGER = "lowlatency-operator"


@dataclass(frozen=True)
class Owner:
    """The Kubernetes object that owns the AWS resources."""

    namespace: str
    name: str
    uid: str

    def tags(self) -> dict[str, str]:
        return {
            TAG_MANAGED_BY: MANAGER,
            TAG_NAMESPACE: self.namespace,
            TAG_NAME: self.name,
            TAG_UID: self.uid,
        }

    def owns(self, tags: dict[str, str]) -> bool:
        return tags.get(TAG_MANAGED_BY) == MANAGER and tags.get(TAG_UID) == self.uid

    def may_adopt(self, tags: dict[str, str]) -> bool:
        """Whether a found resource may be made this owner's: one the operator does not manage, or one left by an
        earlier object of the same namespace and name (deleted with deletionPolicy Retain and created again)."""
        if tags.get(TAG_MANAGED_BY) != MANAGER:
            return True
        return (tags.get(TAG_NAMESPACE), tags.get(TAG_NAME)) == (self.namespace, self.name)

    @staticmethod
    def describe(tags: dict[str, str]) -> str:
        """Who owns a resource, by its tags, for error messages."""
        if tags.get(TAG_MANAGED_BY) != MANAGER:
            return "not managed by lowlatency-operator"
        return f"owned by {tags.get(TAG_NAMESPACE)}/{tags.get(TAG_NAME)} (uid {tags.get(TAG_UID)})"


@dataclass(frozen=True)
class ScheduledScaling:
    name: str
    schedule: str
    min_capacity: int
    max_capacity: int


@dataclass(frozen=True)
class DesiredScaling:
    """Application Auto Scaling of the variant: target, target-tracking policy and scheduled actions."""

    resource_id: str
    min_capacity: int
    max_capacity: int
    target_value: float | None  # None: 'auto' before any measurement; register the target, no policy yet
    scale_in_cooldown: int
    scale_out_cooldown: int
    schedules: tuple[ScheduledScaling, ...]

    @property
    def policy_name(self) -> str:
        return f"{self.resource_id.split('/')[1]}-invocations-per-instance"


@dataclass(frozen=True)
class DesiredEndpoint:
    """The AWS resources one `LowLatencyEndpoint` should have, with the requests that create them."""

    region: str
    endpoint_name: str
    model_name: str
    endpoint_config_name: str
    variant_name: str
    instance_type: str
    instance_count: int
    tags: dict[str, str]
    model_request: dict[str, Any] = field(repr=False)
    endpoint_config_request: dict[str, Any] = field(repr=False)
    deployment_config: dict[str, Any] = field(repr=False, default_factory=dict)
    scaling: DesiredScaling | None = None


def aws_tags(tags: dict[str, str]) -> list[TagTypeDef]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def model_content(spec: Spec) -> dict[str, Any]:
    """What makes a SageMaker model: CreateModel's body without its name and tags."""
    container: dict[str, Any] = {
        "Image": spec.model.image,
        "ModelDataUrl": spec.model.model_data_url,
        "Mode": "SingleModel",
    }
    if spec.model.environment:
        container["Environment"] = dict(sorted(spec.model.environment.items()))
    content: dict[str, Any] = {
        "PrimaryContainer": container,
        "ExecutionRoleArn": spec.model.execution_role_arn,
    }
    if spec.model.vpc_config is not None:
        content["VpcConfig"] = {
            "Subnets": list(spec.model.vpc_config.subnets),
            "SecurityGroupIds": list(spec.model.vpc_config.security_group_ids),
        }
    return content


def endpoint_config_content(model_name: str, instance_type: str, variant_name: str) -> dict[str, Any]:
    """What makes an endpoint config, less the initial instance count (changed in place, see module doc)."""
    return {
        "ProductionVariants": [{"VariantName": variant_name, "ModelName": model_name, "InstanceType": instance_type}]
    }


@functools.cache
def endpoint_instance_types() -> frozenset[str]:
    """The instance types a real-time endpoint accepts (botocore sagemaker ProductionVariantInstanceType): read once,
    since a botocore session parses SageMaker's whole service model anew."""
    shape = botocore.session.get_session().get_service_model("sagemaker").shape_for("ProductionVariantInstanceType")
    if not isinstance(shape, StringShape):
        raise TypeError(f"botocore's ProductionVariantInstanceType is a {type(shape).__name__}, not an enum")
    return frozenset(shape.enum)


def rebuild_config_request(
    endpoint_name: str,
    config_name: str,
    *,
    variant_name: str,
    model_name: str,
    instance_count: int,
    instance_types: Iterable[str],
    tags: dict[str, str],
) -> dict[str, Any] | None:
    """CreateEndpointConfig's request for one of this endpoint's configs that was deleted, from its name: the name
    ends in a hash of the content, which is the variant, the model and one of the instance types SageMaker offers;
    the one whose hash matches is the config as it was (None: no content of the operator's gives this name)."""
    for instance_type in sorted(instance_types):
        content = endpoint_config_content(model_name, instance_type, variant_name)
        if naming.content_name(endpoint_name, content) == config_name:
            variant = {**content["ProductionVariants"][0], "InitialInstanceCount": instance_count}
            return {"EndpointConfigName": config_name, "ProductionVariants": [variant], "Tags": aws_tags(tags)}
    return None


def build_deployment_config(deployment: DeploymentSpec) -> dict[str, Any]:
    """SageMaker's DeploymentConfig for UpdateEndpoint (deployment guardrails)."""
    percent = {"Type": "CAPACITY_PERCENT"}
    config: dict[str, Any]
    if deployment.strategy == "Rolling":
        config = {
            "RollingUpdatePolicy": {
                "MaximumBatchSize": {**percent, "Value": deployment.rolling_batch_percent},
                "WaitIntervalInSeconds": deployment.bake_seconds(),
                "MaximumExecutionTimeoutInSeconds": deployment.execution_timeout_seconds(),
            }
        }
    else:
        routing: dict[str, Any] = {"WaitIntervalInSeconds": deployment.bake_seconds()}
        if deployment.strategy == "Canary":
            routing |= {"Type": "CANARY", "CanarySize": {**percent, "Value": deployment.canary_size_percent}}
        elif deployment.strategy == "Linear":
            routing |= {"Type": "LINEAR", "LinearStepSize": {**percent, "Value": deployment.linear_step_percent}}
        else:
            routing |= {"Type": "ALL_AT_ONCE"}
        config = {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": routing,
                "TerminationWaitInSeconds": deployment.termination_wait_seconds,
                "MaximumExecutionTimeoutInSeconds": deployment.execution_timeout_seconds(),
            }
        }
    if deployment.rollback_alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in deployment.rollback_alarms]}
    return config


def scaling_resource_id(endpoint: str, variant_name: str) -> str:
    """How Application Auto Scaling names an endpoint's variant."""
    return f"endpoint/{endpoint}/variant/{variant_name}"


def build_scaling(
    scaling: AutoscalingSpec, endpoint: str, variant_name: str, measured_target: float | None
) -> DesiredScaling:
    target = scaling.target_invocations_per_instance
    return DesiredScaling(
        resource_id=scaling_resource_id(endpoint, variant_name),
        min_capacity=scaling.min_capacity,
        max_capacity=scaling.max_capacity,
        target_value=measured_target if target == "auto" else float(target),
        scale_in_cooldown=scaling.scale_in_cooldown_seconds,
        scale_out_cooldown=scaling.scale_out_cooldown_seconds,
        schedules=tuple(ScheduledScaling(s.name, s.cron, s.min_capacity, s.max_capacity) for s in scaling.schedules),
    )


def build_desired(
    spec: Spec,
    owner: Owner,
    default_region: str,
    *,
    measured_target: float | None = None,
    endpoint_name: str | None = None,
    variant_name: str = DEFAULT_VARIANT_NAME,
) -> DesiredEndpoint:
    """``measured_target``: the invocations-per-instance target derived from the last benchmark, for 'auto';
    ``endpoint_name``: an adopted endpoint's name instead of the one derived from the owner; ``variant_name``: the
    live endpoint's variant, which a new config must keep."""
    endpoint = endpoint_name or naming.endpoint_name(owner.namespace, owner.name)
    tags = {**spec.tags, **owner.tags()}
    model = model_content(spec)
    model_name = naming.content_name(endpoint, model)
    config = endpoint_config_content(model_name, spec.instance_type, variant_name)
    config_name = naming.content_name(endpoint, config)
    variant = {**config["ProductionVariants"][0], "InitialInstanceCount": spec.instance_count}
    return DesiredEndpoint(
        region=spec.region or default_region,
        endpoint_name=endpoint,
        model_name=model_name,
        endpoint_config_name=config_name,
        variant_name=variant_name,
        instance_type=spec.instance_type,
        instance_count=spec.instance_count,
        tags=tags,
        model_request={"ModelName": model_name, **model, "Tags": aws_tags(tags)},
        endpoint_config_request={
            "EndpointConfigName": config_name,
            "ProductionVariants": [variant],
            "Tags": aws_tags(tags),
        },
        deployment_config=build_deployment_config(spec.deployment),
        scaling=build_scaling(spec.autoscaling, endpoint, variant_name, measured_target) if spec.autoscaling else None,
    )
