"""Reading and changing SageMaker endpoints and their autoscaling: the observer feeding the planner and the
executor of its actions.

Calls are blocking (boto3); they run in the operator's worker threads, never on kopf's event loop. Every call is
wrapped in :func:`lowlatency.aws.aws_call` with its IAM action, so failures arrive classified. Reads are kept to
what the decision needs: at steady state one DescribeEndpoint per pass; tags, leftovers and autoscaling only while
the spec is being rolled out, while the endpoint is off its desired config, and in the periodic drift audit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, cast

from lowlatency import naming
from lowlatency.aws import AwsError, ErrorKind, RegionClients, aws_call, is_already_exists
from lowlatency.desired import (
    DesiredEndpoint,
    Owner,
    ScheduledScaling,
    aws_tags,
    endpoint_instance_types,
    rebuild_config_request,
    scaling_resource_id,
)
from lowlatency.planner import (
    Action,
    CreateEndpoint,
    CreateEndpointConfig,
    CreateModel,
    DeleteEndpoint,
    DeleteEndpointConfig,
    DeleteModel,
    DeleteScheduledAction,
    DeregisterScalableTarget,
    Observed,
    ObservedEndpoint,
    ObservedScaling,
    PutScalingPolicy,
    PutScheduledAction,
    RegisterScalableTarget,
    TagResource,
    UpdateEndpoint,
    UpdateInstanceCount,
)

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import DeploymentConfigTypeDef

SCALABLE_DIMENSION: Final = "sagemaker:variant:DesiredInstanceCount"
INVOCATIONS_METRIC: Final = "SageMakerVariantInvocationsPerInstance"
NAMESPACE: Final = "sagemaker"


def describe_endpoint(sagemaker: SageMakerClient, name: str, *, with_tags: bool) -> ObservedEndpoint | None:
    try:
        with aws_call("sagemaker:DescribeEndpoint"):
            described = sagemaker.describe_endpoint(EndpointName=name)
    except AwsError as error:
        _raise_unless_missing(error)
        return None
    variants = described.get("ProductionVariants", [])
    pending = described.get("PendingDeploymentSummary", {})
    return ObservedEndpoint(
        name=name,
        arn=described["EndpointArn"],
        status=described["EndpointStatus"],
        config_name=described.get("EndpointConfigName"),
        failure_reason=described.get("FailureReason", ""),
        current_instance_count=sum(v.get("CurrentInstanceCount", 0) for v in variants) if variants else None,
        desired_instance_count=sum(v.get("DesiredInstanceCount", 0) for v in variants) if variants else None,
        pending_config_name=pending.get("EndpointConfigName"),
        tags=tags_of(sagemaker, described["EndpointArn"]) if with_tags else None,
        variant_names=tuple(variant["VariantName"] for variant in variants),
    )


def tags_of(sagemaker: SageMakerClient, arn: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    with aws_call("sagemaker:ListTags"):
        for page in sagemaker.get_paginator("list_tags").paginate(ResourceArn=arn):
            tags.update({tag["Key"]: tag["Value"] for tag in page.get("Tags", [])})
    return tags


def _raise_unless_missing(error: AwsError) -> None:
    if error.kind is not ErrorKind.NOT_FOUND:
        raise error


def _config_exists(sagemaker: SageMakerClient, name: str) -> bool:
    try:
        with aws_call("sagemaker:DescribeEndpointConfig"):
            sagemaker.describe_endpoint_config(EndpointConfigName=name)
    except AwsError as error:
        _raise_unless_missing(error)
        return False
    return True


def _model_exists(sagemaker: SageMakerClient, name: str) -> bool:
    try:
        with aws_call("sagemaker:DescribeModel"):
            sagemaker.describe_model(ModelName=name)
    except AwsError as error:
        _raise_unless_missing(error)
        return False
    return True


def _instance_type_of(sagemaker: SageMakerClient, config_name: str) -> tuple[bool, str | None]:
    """Whether the config exists, and the instance type of its first variant."""
    try:
        with aws_call("sagemaker:DescribeEndpointConfig"):
            config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    except AwsError as error:
        _raise_unless_missing(error)
        return False, None
    variants = config.get("ProductionVariants", [])
    return True, variants[0].get("InstanceType") if variants else None


def _tags_unless_missing(sagemaker: SageMakerClient, arn: str) -> dict[str, str] | None:
    try:
        return tags_of(sagemaker, arn)
    except AwsError as error:
        _raise_unless_missing(error)
        return None


def _rebuild_live_config(
    sagemaker: SageMakerClient, desired: DesiredEndpoint, endpoint: ObservedEndpoint, live_model: str | None
) -> dict[str, Any] | None:
    """The request that creates the serving config again, when it is one of the operator's and its model is there."""
    if endpoint.config_name is None or endpoint.variant_name is None or live_model is None:
        return None
    if not _model_exists(sagemaker, live_model):
        return None
    return rebuild_config_request(
        desired.endpoint_name,
        endpoint.config_name,
        variant_name=endpoint.variant_name,
        model_name=live_model,
        instance_count=endpoint.desired_instance_count or 1,
        instance_types=endpoint_instance_types(),
        tags=desired.tags,
    )


def owned_leftovers(sagemaker: SageMakerClient, base: str, owner: Owner, keep: set[str]) -> tuple[list[str], list[str]]:
    """Endpoint configs and models of this owner (by name prefix, then by tags) that are not in ``keep``."""
    prefix = naming.content_prefix(base)
    configs: list[str] = []
    models: list[str] = []
    with aws_call("sagemaker:ListEndpointConfigs"):
        for page in sagemaker.get_paginator("list_endpoint_configs").paginate(NameContains=prefix):
            for config in page["EndpointConfigs"]:
                name = config["EndpointConfigName"]
                if (
                    name.startswith(prefix)
                    and name not in keep
                    and owner.owns(tags_of(sagemaker, config["EndpointConfigArn"]))
                ):
                    configs.append(name)
    with aws_call("sagemaker:ListModels"):
        for models_page in sagemaker.get_paginator("list_models").paginate(NameContains=prefix):
            for model in models_page["Models"]:
                name = model["ModelName"]
                if name.startswith(prefix) and name not in keep and owner.owns(tags_of(sagemaker, model["ModelArn"])):
                    models.append(name)
    return configs, models


def describe_scaling(autoscaling: ApplicationAutoScalingClient, resource_id: str) -> ObservedScaling | None:
    """The variant's scalable target, its target-tracking policy and scheduled actions, or None if unregistered."""
    with aws_call("application-autoscaling:DescribeScalableTargets"):
        targets = autoscaling.describe_scalable_targets(
            ServiceNamespace=NAMESPACE, ResourceIds=[resource_id], ScalableDimension=SCALABLE_DIMENSION
        )["ScalableTargets"]
    if not targets:
        return None
    with aws_call("application-autoscaling:DescribeScalingPolicies"):
        policies = autoscaling.describe_scaling_policies(
            ServiceNamespace=NAMESPACE, ResourceId=resource_id, ScalableDimension=SCALABLE_DIMENSION
        )["ScalingPolicies"]
    with aws_call("application-autoscaling:DescribeScheduledActions"):
        scheduled = autoscaling.describe_scheduled_actions(
            ServiceNamespace=NAMESPACE, ResourceId=resource_id, ScalableDimension=SCALABLE_DIMENSION
        )["ScheduledActions"]
    policy = None
    for candidate in policies:
        tracking = candidate.get("TargetTrackingScalingPolicyConfiguration")
        if tracking is not None:
            policy = (
                float(tracking["TargetValue"]),
                int(tracking.get("ScaleInCooldown", 0)),
                int(tracking.get("ScaleOutCooldown", 0)),
            )
    return ObservedScaling(
        resource_id=resource_id,
        min_capacity=targets[0]["MinCapacity"],
        max_capacity=targets[0]["MaxCapacity"],
        policy=policy,
        schedules=tuple(
            ScheduledScaling(
                action["ScheduledActionName"],
                action["Schedule"],
                action.get("ScalableTargetAction", {}).get("MinCapacity", 0),
                action.get("ScalableTargetAction", {}).get("MaxCapacity", 0),
            )
            for action in scheduled
        ),
    )


def observe(
    clients: RegionClients,
    desired: DesiredEndpoint,
    owner: Owner,
    endpoint: ObservedEndpoint | None,
    *,
    look_wider: bool,
    live_model: str | None = None,
) -> Observed:
    """What exists now, looking only as far as the planner's decision needs, around the ``endpoint`` just described
    (``describe_endpoint`` with tags when ``look_wider``; the desired config depends on its variant's name).
    ``live_model``: the model last recorded in service, from which a deleted serving config can be rebuilt.

    ``look_wider``: the spec changed, the endpoint's history is unknown, or it is time for the drift audit: the
    endpoint's ownership, its tags, leftovers of earlier rollouts and autoscaling are looked at too. Otherwise a
    steady endpoint costs one DescribeEndpoint.
    """
    sagemaker = clients.sagemaker
    on_desired = endpoint is not None and endpoint.config_name == desired.endpoint_config_name
    live = on_desired and endpoint is not None and endpoint.status == "InService"
    # An in-use config and its model are there unless deleted outside the operator (SageMaker does not refuse it):
    # the audit's ListTags finds that out.
    model_exists = config_exists = live_config_exists = True
    live_instance_type = None
    live_config_request = None
    if not on_desired:
        config_exists = _config_exists(sagemaker, desired.endpoint_config_name)
        model_exists = _model_exists(sagemaker, desired.model_name)
        if endpoint is not None and endpoint.config_name:
            live_config_exists, live_instance_type = _instance_type_of(sagemaker, endpoint.config_name)
            if not live_config_exists:
                live_config_request = _rebuild_live_config(sagemaker, desired, endpoint, live_model)
    superseded: tuple[list[str], list[str]] = ([], [])
    tags: dict[str, dict[str, str]] = {}
    if live and look_wider and endpoint is not None:
        superseded = owned_leftovers(
            sagemaker, desired.endpoint_name, owner, keep={desired.endpoint_config_name, desired.model_name}
        )
        config_arn = naming.sibling_arn(endpoint.arn, "endpoint-config", desired.endpoint_config_name)
        model_arn = naming.sibling_arn(endpoint.arn, "model", desired.model_name)
        found = {arn: _tags_unless_missing(sagemaker, arn) for arn in (endpoint.arn, config_arn, model_arn)}
        tags = {arn: resource_tags for arn, resource_tags in found.items() if resource_tags is not None}
        config_exists, model_exists = config_arn in tags, model_arn in tags
    # Moving the endpoint to another config must know whether a scalable target is registered.
    scaling_known = endpoint is not None and (look_wider or not on_desired)
    scaling = None
    if scaling_known:
        scaling = describe_scaling(
            clients.autoscaling, scaling_resource_id(desired.endpoint_name, desired.variant_name)
        )
    return Observed(
        endpoint=endpoint,
        model_exists=model_exists,
        config_exists=config_exists,
        superseded_configs=tuple(superseded[0]),
        superseded_models=tuple(superseded[1]),
        live_instance_type=live_instance_type,
        live_config_exists=live_config_exists,
        live_config_request=live_config_request,
        scaling_known=scaling_known,
        scaling=scaling,
        tags=tags,
    )


# Actions whose goal is that something no longer exists: finding it gone already means done.
Removal = DeleteEndpoint | DeleteEndpointConfig | DeleteModel | DeregisterScalableTarget | DeleteScheduledAction


def apply(clients: RegionClients, action: Action) -> None:
    """Carry out one planned action; creating what exists or deleting what is gone counts as done."""
    try:
        _apply(clients, action)
    except AwsError as error:
        creating = isinstance(action, CreateModel | CreateEndpointConfig | CreateEndpoint)
        if creating and is_already_exists(error):
            return
        if isinstance(action, Removal) and error.kind is ErrorKind.NOT_FOUND:
            return
        raise


def _apply(clients: RegionClients, action: Action) -> None:
    sagemaker, autoscaling = clients.sagemaker, clients.autoscaling
    match action:
        case CreateModel(request=request):
            with aws_call("sagemaker:CreateModel"):
                sagemaker.create_model(**request)
        case CreateEndpointConfig(request=request):
            with aws_call("sagemaker:CreateEndpointConfig"):
                sagemaker.create_endpoint_config(**request)
        case CreateEndpoint(name=name, config_name=config_name, tags=tags):
            with aws_call("sagemaker:CreateEndpoint"):
                sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config_name, Tags=aws_tags(tags))
        case UpdateEndpoint(name=name, config_name=config_name, retain_variant_properties=retain):
            with aws_call("sagemaker:UpdateEndpoint"):
                sagemaker.update_endpoint(
                    EndpointName=name,
                    EndpointConfigName=config_name,
                    RetainAllVariantProperties=retain,
                    DeploymentConfig=cast("DeploymentConfigTypeDef", action.deployment_config),
                )
        case UpdateInstanceCount(name=name, variant=variant, count=count):
            with aws_call("sagemaker:UpdateEndpointWeightsAndCapacities"):
                sagemaker.update_endpoint_weights_and_capacities(
                    EndpointName=name,
                    DesiredWeightsAndCapacities=[{"VariantName": variant, "DesiredInstanceCount": count}],
                )
        case DeleteEndpoint(name=name):
            with aws_call("sagemaker:DeleteEndpoint"):
                sagemaker.delete_endpoint(EndpointName=name)
        case DeleteEndpointConfig(name=name):
            with aws_call("sagemaker:DeleteEndpointConfig"):
                sagemaker.delete_endpoint_config(EndpointConfigName=name)
        case DeleteModel(name=name):
            with aws_call("sagemaker:DeleteModel"):
                sagemaker.delete_model(ModelName=name)
        case TagResource(arn=arn, add=add, remove=remove):
            if add:
                with aws_call("sagemaker:AddTags"):
                    sagemaker.add_tags(ResourceArn=arn, Tags=aws_tags(add))
            if remove:
                with aws_call("sagemaker:DeleteTags"):
                    sagemaker.delete_tags(ResourceArn=arn, TagKeys=list(remove))
        case RegisterScalableTarget(resource_id=resource_id, min_capacity=low, max_capacity=high):
            with aws_call("application-autoscaling:RegisterScalableTarget"):
                autoscaling.register_scalable_target(
                    ResourceId=resource_id,
                    MinCapacity=low,
                    MaxCapacity=high,
                    ServiceNamespace=NAMESPACE,
                    ScalableDimension=SCALABLE_DIMENSION,
                )
        case DeregisterScalableTarget(resource_id=resource_id):
            with aws_call("application-autoscaling:DeregisterScalableTarget"):
                autoscaling.deregister_scalable_target(
                    ResourceId=resource_id, ServiceNamespace=NAMESPACE, ScalableDimension=SCALABLE_DIMENSION
                )
        case PutScalingPolicy():
            with aws_call("application-autoscaling:PutScalingPolicy"):
                autoscaling.put_scaling_policy(
                    PolicyName=action.policy_name,
                    ResourceId=action.resource_id,
                    PolicyType="TargetTrackingScaling",
                    TargetTrackingScalingPolicyConfiguration={
                        "TargetValue": action.target_value,
                        "PredefinedMetricSpecification": {"PredefinedMetricType": INVOCATIONS_METRIC},
                        "ScaleInCooldown": action.scale_in_cooldown,
                        "ScaleOutCooldown": action.scale_out_cooldown,
                    },
                    ServiceNamespace=NAMESPACE,
                    ScalableDimension=SCALABLE_DIMENSION,
                )
        case PutScheduledAction(resource_id=resource_id, schedule=schedule):
            with aws_call("application-autoscaling:PutScheduledAction"):
                autoscaling.put_scheduled_action(
                    ScheduledActionName=schedule.name,
                    ResourceId=resource_id,
                    Schedule=schedule.schedule,
                    ScalableTargetAction={"MinCapacity": schedule.min_capacity, "MaxCapacity": schedule.max_capacity},
                    ServiceNamespace=NAMESPACE,
                    ScalableDimension=SCALABLE_DIMENSION,
                )
        case DeleteScheduledAction(resource_id=resource_id, name=name):
            with aws_call("application-autoscaling:DeleteScheduledAction"):
                autoscaling.delete_scheduled_action(
                    ScheduledActionName=name,
                    ResourceId=resource_id,
                    ServiceNamespace=NAMESPACE,
                    ScalableDimension=SCALABLE_DIMENSION,
                )
