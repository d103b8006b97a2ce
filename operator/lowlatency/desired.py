"""What AWS should hold for a spec: pure ``build_*`` functions, no AWS calls.

The hashes in model and endpoint config names cover exactly what SageMaker cannot change in place: a change to
any of it makes a new model or config (and a rollout). A model is its container, artifact, role and VPC; an endpoint
config is, per variant, its name, its model and its instance type or serverless memory size, and which variant is
the shadow. Everything else is applied to the live resources without a new config: instance counts, weights and a
serverless variant's maximum and provisioned concurrency by UpdateEndpointWeightsAndCapacities
(botocore sagemaker DesiredWeightAndCapacity.ServerlessUpdateConfig), tags by AddTags and DeleteTags. The one
exception is whether a serverless variant has provisioned concurrency at all: UpdateEndpointWeightsAndCapacities can
change it but not take it away (its minimum is 1:
botocore sagemaker ProductionVariantServerlessUpdateConfig.ProvisionedConcurrency), so adding or removing it is a
new config.

The single instance-backed variant of the shorthand (``model`` with ``instanceType``) hashes exactly as before
variants existed, so that an upgraded operator finds the models and configs it made and rolls nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import botocore.session
from botocore.model import StringShape

from lowlatency import naming
from lowlatency.api import (
    DEFAULT_VARIANT,
    AutoscalingSpec,
    DeploymentSpec,
    ModelSpec,
    ProvisionedConcurrencyScaling,
    Spec,
    VariantKind,
    VariantSpec,
)

if TYPE_CHECKING:
    from mypy_boto3_sagemaker.type_defs import TagTypeDef

TAG_PREFIX = "lowlatency.io/"
TAG_MANAGED_BY = f"{TAG_PREFIX}managed-by"
TAG_NAMESPACE = f"{TAG_PREFIX}namespace"
TAG_NAME = f"{TAG_PREFIX}name"
TAG_UID = f"{TAG_PREFIX}uid"
TAG_RETAINED = f"{TAG_PREFIX}retained"  # left in AWS on purpose when its resource was deleted (deletionPolicy Retain)
MANAGER = "lowlatency-operator"

# Application Auto Scaling's scalable dimensions of a SageMaker variant (botocore application-autoscaling
# RegisterScalableTargetRequest.ScalableDimension): an instance-backed variant's instance count, a serverless
# variant's provisioned concurrency.
INSTANCE_COUNT: Final = "sagemaker:variant:DesiredInstanceCount"
PROVISIONED_CONCURRENCY: Final = "sagemaker:variant:DesiredProvisionedConcurrency"
#: The target-tracking metric of each dimension (botocore application-autoscaling MetricType;
#: https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-autoscale.html for provisioned concurrency).
PREDEFINED_METRICS: Final = {
    INSTANCE_COUNT: "SageMakerVariantInvocationsPerInstance",
    PROVISIONED_CONCURRENCY: "SageMakerVariantProvisionedConcurrencyUtilization",
}
_POLICY_SUFFIXES: Final = {
    INSTANCE_COUNT: "invocations-per-instance",
    PROVISIONED_CONCURRENCY: "provisioned-concurrency-utilization",
}


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
    """Application Auto Scaling of a variant: target, target-tracking policy and scheduled actions, on the variant's
    instance count or (serverless) its provisioned concurrency."""

    resource_id: str
    dimension: str  # INSTANCE_COUNT or PROVISIONED_CONCURRENCY
    min_capacity: int
    max_capacity: int
    target_value: float | None  # None: 'auto' before any measurement; register the target, no policy yet
    scale_in_cooldown: int
    scale_out_cooldown: int
    schedules: tuple[ScheduledScaling, ...]

    @property
    def policy_name(self) -> str:
        return f"{self.resource_id.split('/')[1]}-{_POLICY_SUFFIXES[self.dimension]}"


@dataclass(frozen=True)
class DesiredServerless:
    """A serverless variant's ServerlessConfig."""

    memory_size_in_mb: int
    max_concurrency: int
    provisioned_concurrency: int | None


@dataclass(frozen=True)
class DesiredVariant:
    """One production or shadow variant: its model, what runs it, its share of the traffic and its autoscaling."""

    name: str
    kind: VariantKind
    model_name: str
    model_request: dict[str, Any] = field(repr=False)
    weight: float
    instance_type: str | None = None  # instance-backed variants (Instance, Shadow)
    instance_count: int | None = None  # InitialInstanceCount; the live count too unless autoscaled
    serverless: DesiredServerless | None = None
    scaling: DesiredScaling | None = None

    @property
    def shadow(self) -> bool:
        return self.kind == "Shadow"

    def content(self) -> dict[str, Any]:
        """What of the variant SageMaker cannot change in place (see the module doc)."""
        if self.serverless is not None:
            memory = self.serverless.memory_size_in_mb
            provisioned = self.serverless.provisioned_concurrency is not None
            # Whether provisioned concurrency is set (not its value): the hash only, never sent to SageMaker.
            return {
                "VariantName": self.name,
                "ModelName": self.model_name,
                "ServerlessConfig": {"MemorySizeInMB": memory, "ProvisionedConcurrency": provisioned},
            }
        assert self.instance_type is not None  # a variant runs on instances or serverless (api.Hosting)
        return instance_variant_content(self.name, self.model_name, self.instance_type)

    def request(self) -> dict[str, Any]:
        """The variant in CreateEndpointConfig (botocore sagemaker ProductionVariant)."""
        variant: dict[str, Any] = {"VariantName": self.name, "ModelName": self.model_name}
        if self.serverless is None:
            variant |= {"InstanceType": self.instance_type, "InitialInstanceCount": self.instance_count}
        else:
            config: dict[str, Any] = {
                "MemorySizeInMB": self.serverless.memory_size_in_mb,
                "MaxConcurrency": self.serverless.max_concurrency,
            }
            if self.serverless.provisioned_concurrency is not None:
                config["ProvisionedConcurrency"] = self.serverless.provisioned_concurrency
            variant["ServerlessConfig"] = config
        return variant | {"InitialVariantWeight": self.weight}


@dataclass(frozen=True)
class DesiredEndpoint:
    """The AWS resources one `LowLatencyEndpoint` should have, with the requests that create them."""

    region: str
    endpoint_name: str
    endpoint_config_name: str
    tags: dict[str, str]
    variants: tuple[DesiredVariant, ...]  # the production variants in spec order, then the shadow
    endpoint_config_request: dict[str, Any] = field(repr=False)
    deployment_config: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def production(self) -> tuple[DesiredVariant, ...]:
        return tuple(variant for variant in self.variants if not variant.shadow)

    @property
    def model_name(self) -> str:
        """The first production variant's model: the one status.modelName names."""
        return self.variants[0].model_name

    @property
    def model_request(self) -> dict[str, Any]:
        """CreateModel's request of :attr:`model_name`."""
        return self.variants[0].model_request

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        """Every model the variants serve, once each (variants with the same model share it), with its request."""
        return {variant.model_name: variant.model_request for variant in self.variants}

    def variant(self, name: str) -> DesiredVariant | None:
        return next((variant for variant in self.variants if variant.name == name), None)


def aws_tags(tags: dict[str, str]) -> list[TagTypeDef]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def model_content(model: ModelSpec) -> dict[str, Any]:
    """What makes a SageMaker model: CreateModel's body without its name and tags."""
    container: dict[str, Any] = {
        "Image": model.image,
        "ModelDataUrl": model.model_data_url,
        "Mode": "SingleModel",
    }
    if model.environment:
        container["Environment"] = dict(sorted(model.environment.items()))
    content: dict[str, Any] = {
        "PrimaryContainer": container,
        "ExecutionRoleArn": model.execution_role_arn,
    }
    if model.vpc_config is not None:
        content["VpcConfig"] = {
            "Subnets": list(model.vpc_config.subnets),
            "SecurityGroupIds": list(model.vpc_config.security_group_ids),
        }
    return content


def instance_variant_content(variant_name: str, model_name: str, instance_type: str) -> dict[str, Any]:
    """An instance-backed variant's part of its config's content, less the counts and weight (changed in place)."""
    return {"VariantName": variant_name, "ModelName": model_name, "InstanceType": instance_type}


def endpoint_config_content(production: Iterable[dict[str, Any]], shadows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What makes an endpoint config: its variants' contents (an endpoint without a shadow hashes as before shadows
    existed)."""
    content: dict[str, Any] = {"ProductionVariants": list(production)}
    shadow_contents = list(shadows)
    if shadow_contents:
        content["ShadowProductionVariants"] = shadow_contents
    return content


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
    """CreateEndpointConfig's request for one of this endpoint's configs of a single instance-backed variant that was
    deleted, from its name: the name ends in a hash of the content, which is the variant, the model and one of the
    instance types SageMaker offers; the one whose hash matches is the config as it was (None: no content of the
    operator's gives this name)."""
    for instance_type in sorted(instance_types):
        variant = instance_variant_content(variant_name, model_name, instance_type)
        if naming.content_name(endpoint_name, endpoint_config_content([variant], [])) == config_name:
            return {
                "EndpointConfigName": config_name,
                "ProductionVariants": [{**variant, "InitialInstanceCount": instance_count}],
                "Tags": aws_tags(tags),
            }
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


def build_instance_scaling(scaling: AutoscalingSpec, resource_id: str, measured_target: float | None) -> DesiredScaling:
    target = scaling.target_invocations_per_instance
    return DesiredScaling(
        resource_id=resource_id,
        dimension=INSTANCE_COUNT,
        min_capacity=scaling.min_capacity,
        max_capacity=scaling.max_capacity,
        target_value=measured_target if target == "auto" else float(target),
        scale_in_cooldown=scaling.scale_in_cooldown_seconds,
        scale_out_cooldown=scaling.scale_out_cooldown_seconds,
        schedules=tuple(ScheduledScaling(s.name, s.cron, s.min_capacity, s.max_capacity) for s in scaling.schedules),
    )


def build_provisioned_scaling(scaling: ProvisionedConcurrencyScaling, resource_id: str) -> DesiredScaling:
    return DesiredScaling(
        resource_id=resource_id,
        dimension=PROVISIONED_CONCURRENCY,
        min_capacity=scaling.min_capacity,
        max_capacity=scaling.max_capacity,
        target_value=scaling.target_utilization,
        scale_in_cooldown=scaling.scale_in_cooldown_seconds,
        scale_out_cooldown=scaling.scale_out_cooldown_seconds,
        schedules=(),
    )


def build_variant(
    spec: VariantSpec,
    shadow: bool,
    endpoint: str,
    tags: dict[str, str],
    measured_target: float | None,
) -> DesiredVariant:
    """One variant of the spec; ``measured_target``: the invocations-per-instance target for 'auto'."""
    model = model_content(spec.model)
    model_name = naming.content_name(endpoint, model)
    resource_id = scaling_resource_id(endpoint, spec.name)
    model_request = {"ModelName": model_name, **model, "Tags": aws_tags(tags)}
    serverless = spec.serverless
    if serverless is not None:
        return DesiredVariant(
            name=spec.name,
            kind="Serverless",
            model_name=model_name,
            model_request=model_request,
            weight=spec.weight,
            serverless=DesiredServerless(
                serverless.memory_size_in_mb, serverless.max_concurrency, serverless.provisioned_concurrency
            ),
            scaling=build_provisioned_scaling(serverless.autoscaling, resource_id) if serverless.autoscaling else None,
        )
    return DesiredVariant(
        name=spec.name,
        kind="Shadow" if shadow else "Instance",
        model_name=model_name,
        model_request=model_request,
        weight=spec.weight,
        instance_type=spec.instance_type,
        instance_count=spec.initial_instance_count,
        scaling=build_instance_scaling(spec.autoscaling, resource_id, measured_target) if spec.autoscaling else None,
    )


def build_desired(
    spec: Spec,
    owner: Owner,
    default_region: str,
    *,
    measured_target: float | None = None,
    endpoint_name: str | None = None,
    variant_name: str = DEFAULT_VARIANT,
) -> DesiredEndpoint:
    """``measured_target``: the invocations-per-instance target derived from the last benchmark, for 'auto';
    ``endpoint_name``: an adopted endpoint's name instead of the one derived from the owner; ``variant_name``: the
    name of the shorthand's single variant (the live endpoint's own, which a new config must keep)."""
    endpoint = endpoint_name or naming.endpoint_name(owner.namespace, owner.name)
    tags = {**spec.tags, **owner.tags()}
    production = [
        build_variant(variant, False, endpoint, tags, measured_target)
        for variant in spec.production_variants(variant_name)
    ]
    shadows = [build_variant(variant, True, endpoint, tags, measured_target) for variant in spec.shadow_variants]
    content = endpoint_config_content([v.content() for v in production], [v.content() for v in shadows])
    config_name = naming.content_name(endpoint, content)
    request: dict[str, Any] = {
        "EndpointConfigName": config_name,
        "ProductionVariants": [variant.request() for variant in production],
    }
    if shadows:
        request["ShadowProductionVariants"] = [variant.request() for variant in shadows]
    return DesiredEndpoint(
        region=spec.region or default_region,
        endpoint_name=endpoint,
        endpoint_config_name=config_name,
        tags=tags,
        variants=(*production, *shadows),
        endpoint_config_request={**request, "Tags": aws_tags(tags)},
        deployment_config=build_deployment_config(spec.deployment),
    )
