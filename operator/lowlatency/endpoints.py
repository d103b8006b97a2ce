"""Reading and changing SageMaker endpoints and their autoscaling: the observer feeding the planner and the
executor of its actions.

Calls are blocking (boto3); they run in the operator's worker threads, never on kopf's event loop. Every call is
wrapped in :func:`lowlatency.aws.aws_call` with its IAM action, so failures arrive classified. Reads are kept to
what the decision needs: at steady state one DescribeEndpoint per pass; tags, leftovers and autoscaling only while
the spec is being rolled out, while the endpoint is off its desired config, and in the periodic drift audit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final, cast

from lowlatency import naming
from lowlatency.aws import AwsError, ErrorKind, RegionClients, aws_call, is_already_exists
from lowlatency.desired import (
    PREDEFINED_METRICS,
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
    Observed,
    ObservedEndpoint,
    TagResource,
    UpdateEndpoint,
)
from lowlatency.variants import (
    DeleteScheduledAction,
    DeregisterScalableTarget,
    ObservedScaling,
    ObservedVariant,
    PutScalingPolicy,
    PutScheduledAction,
    RegisterScalableTarget,
    UpdateEndpointWeightsAndCapacities,
    VariantChange,
)

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_application_autoscaling.literals import MetricTypeType, ScalableDimensionType
    from mypy_boto3_application_autoscaling.type_defs import ScalableTargetTypeDef
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import (
        DeploymentConfigTypeDef,
        DesiredWeightAndCapacityTypeDef,
        ProductionVariantServerlessUpdateConfigTypeDef,
        ProductionVariantSummaryTypeDef,
        UpdateEndpointInputTypeDef,
    )

NAMESPACE: Final = "sagemaker"


def describe_endpoint(sagemaker: SageMakerClient, name: str, *, with_tags: bool) -> ObservedEndpoint | None:
    try:
        with aws_call("sagemaker:DescribeEndpoint"):
            described = sagemaker.describe_endpoint(EndpointName=name)
    except AwsError as error:
        _raise_unless_missing(error)
        return None
    pending = described.get("PendingDeploymentSummary", {})
    production = [_variant(summary, shadow=False) for summary in described.get("ProductionVariants", [])]
    shadows = [_variant(summary, shadow=True) for summary in described.get("ShadowProductionVariants", [])]
    return ObservedEndpoint(
        name=name,
        arn=described["EndpointArn"],
        status=described["EndpointStatus"],
        config_name=described.get("EndpointConfigName"),
        failure_reason=described.get("FailureReason", ""),
        pending_config_name=pending.get("EndpointConfigName"),
        tags=tags_of(sagemaker, described["EndpointArn"]) if with_tags else None,
        variants=(*production, *shadows),
    )


def _variant(summary: ProductionVariantSummaryTypeDef, *, shadow: bool) -> ObservedVariant:
    """One variant of DescribeEndpoint (botocore sagemaker ProductionVariantSummary; a serverless variant reports
    CurrentServerlessConfig and DesiredServerlessConfig instead of instance counts)."""
    current = summary.get("CurrentServerlessConfig")
    desired = summary.get("DesiredServerlessConfig")
    return ObservedVariant(
        name=summary["VariantName"],
        shadow=shadow,
        serverless=current is not None or desired is not None,
        current_instance_count=summary.get("CurrentInstanceCount"),
        desired_instance_count=summary.get("DesiredInstanceCount"),
        current_weight=summary.get("CurrentWeight"),
        desired_weight=summary.get("DesiredWeight"),
        current_max_concurrency=current.get("MaxConcurrency") if current else None,
        desired_max_concurrency=desired.get("MaxConcurrency") if desired else None,
        current_provisioned_concurrency=current.get("ProvisionedConcurrency") if current else None,
        desired_provisioned_concurrency=desired.get("ProvisionedConcurrency") if desired else None,
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


def config_variants(sagemaker: SageMakerClient, config_name: str) -> dict[str, tuple[str | None, str]] | None:
    """Each variant (production and shadow) of an endpoint config: its instance type (None: serverless) and its
    model; None: the config does not exist."""
    try:
        with aws_call("sagemaker:DescribeEndpointConfig"):
            config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    except AwsError as error:
        _raise_unless_missing(error)
        return None
    variants = [*config.get("ProductionVariants", []), *config.get("ShadowProductionVariants", [])]
    return {variant["VariantName"]: (variant.get("InstanceType"), variant.get("ModelName", "")) for variant in variants}


def _tags_unless_missing(sagemaker: SageMakerClient, arn: str) -> dict[str, str] | None:
    try:
        return tags_of(sagemaker, arn)
    except AwsError as error:
        _raise_unless_missing(error)
        return None


def _rebuild_live_config(
    sagemaker: SageMakerClient, desired: DesiredEndpoint, endpoint: ObservedEndpoint, live_model: str | None
) -> dict[str, Any] | None:
    """The request that creates the serving config again, when it is one of the operator's of a single instance-backed
    variant and its model is there."""
    if endpoint.config_name is None or endpoint.variant_name is None or len(endpoint.variants) > 1:
        return None
    if live_model is None:
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


def describe_scaling(
    autoscaling: ApplicationAutoScalingClient, resource_ids: Iterable[str]
) -> tuple[ObservedScaling, ...]:
    """The scalable targets of the variants (``resource_ids``; any dimension), each with its target-tracking policy
    and scheduled actions: one DescribeScalableTargets for all."""
    wanted = list(dict.fromkeys(resource_ids))
    if not wanted:
        return ()
    with aws_call("application-autoscaling:DescribeScalableTargets"):
        targets = autoscaling.describe_scalable_targets(ServiceNamespace=NAMESPACE, ResourceIds=wanted)[
            "ScalableTargets"
        ]
    return tuple(_scaling_of(autoscaling, target) for target in targets)


def _scaling_of(autoscaling: ApplicationAutoScalingClient, target: ScalableTargetTypeDef) -> ObservedScaling:
    resource_id, dimension = target["ResourceId"], target["ScalableDimension"]
    with aws_call("application-autoscaling:DescribeScalingPolicies"):
        policies = autoscaling.describe_scaling_policies(
            ServiceNamespace=NAMESPACE, ResourceId=resource_id, ScalableDimension=dimension
        )["ScalingPolicies"]
    with aws_call("application-autoscaling:DescribeScheduledActions"):
        scheduled = autoscaling.describe_scheduled_actions(
            ServiceNamespace=NAMESPACE, ResourceId=resource_id, ScalableDimension=dimension
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
        min_capacity=target["MinCapacity"],
        max_capacity=target["MaxCapacity"],
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
        dimension=dimension,
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
    # An in-use config and its models are there unless deleted outside the operator (SageMaker does not refuse it):
    # the audit's ListTags finds that out.
    missing_models: list[str] = []
    config_exists = live_config_exists = True
    live_instance_types: dict[str, str | None] = {}
    live_config_request = None
    if not on_desired:
        config_exists = _config_exists(sagemaker, desired.endpoint_config_name)
        missing_models = [name for name in desired.models if not _model_exists(sagemaker, name)]
        if endpoint is not None and endpoint.config_name:
            serving = config_variants(sagemaker, endpoint.config_name)
            live_config_exists = serving is not None
            if serving is None:
                live_config_request = _rebuild_live_config(sagemaker, desired, endpoint, live_model)
            else:
                live_instance_types = {name: instance_type for name, (instance_type, _) in serving.items()}
    superseded: tuple[list[str], list[str]] = ([], [])
    tags: dict[str, dict[str, str]] = {}
    if live and look_wider and endpoint is not None:
        superseded = owned_leftovers(
            sagemaker, desired.endpoint_name, owner, keep={desired.endpoint_config_name, *desired.models}
        )
        config_arn = naming.sibling_arn(endpoint.arn, "endpoint-config", desired.endpoint_config_name)
        model_arns = {name: naming.sibling_arn(endpoint.arn, "model", name) for name in desired.models}
        found = {arn: _tags_unless_missing(sagemaker, arn) for arn in (endpoint.arn, config_arn, *model_arns.values())}
        tags = {arn: resource_tags for arn, resource_tags in found.items() if resource_tags is not None}
        config_exists = config_arn in tags
        missing_models = [name for name, arn in model_arns.items() if arn not in tags]
    # Moving the endpoint to another config must know which variants have a scalable target registered.
    scaling_known = endpoint is not None and (look_wider or not on_desired)
    scaling: tuple[ObservedScaling, ...] = ()
    if scaling_known and endpoint is not None:
        names = [variant.name for variant in desired.variants] + [variant.name for variant in endpoint.variants]
        resource_ids = [scaling_resource_id(desired.endpoint_name, name) for name in names]
        scaling = describe_scaling(clients.autoscaling, resource_ids)
    return Observed(
        endpoint=endpoint,
        missing_models=tuple(missing_models),
        config_exists=config_exists,
        superseded_configs=tuple(superseded[0]),
        superseded_models=tuple(superseded[1]),
        live_instance_types=live_instance_types,
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
        case UpdateEndpoint():
            with aws_call("sagemaker:UpdateEndpoint"):
                sagemaker.update_endpoint(**update_endpoint_request(action))
        case UpdateEndpointWeightsAndCapacities(name=name, changes=changes):
            with aws_call("sagemaker:UpdateEndpointWeightsAndCapacities"):
                sagemaker.update_endpoint_weights_and_capacities(
                    EndpointName=name, DesiredWeightsAndCapacities=[weight_and_capacity(change) for change in changes]
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
                    ScalableDimension=_dimension(action.dimension),
                )
        case DeregisterScalableTarget(resource_id=resource_id):
            with aws_call("application-autoscaling:DeregisterScalableTarget"):
                autoscaling.deregister_scalable_target(
                    ResourceId=resource_id, ServiceNamespace=NAMESPACE, ScalableDimension=_dimension(action.dimension)
                )
        case PutScalingPolicy():
            with aws_call("application-autoscaling:PutScalingPolicy"):
                autoscaling.put_scaling_policy(
                    PolicyName=action.policy_name,
                    ResourceId=action.resource_id,
                    PolicyType="TargetTrackingScaling",
                    TargetTrackingScalingPolicyConfiguration={
                        "TargetValue": action.target_value,
                        "PredefinedMetricSpecification": {
                            "PredefinedMetricType": cast("MetricTypeType", PREDEFINED_METRICS[action.dimension])
                        },
                        "ScaleInCooldown": action.scale_in_cooldown,
                        "ScaleOutCooldown": action.scale_out_cooldown,
                    },
                    ServiceNamespace=NAMESPACE,
                    ScalableDimension=_dimension(action.dimension),
                )
        case PutScheduledAction(resource_id=resource_id, schedule=schedule):
            with aws_call("application-autoscaling:PutScheduledAction"):
                autoscaling.put_scheduled_action(
                    ScheduledActionName=schedule.name,
                    ResourceId=resource_id,
                    Schedule=schedule.schedule,
                    ScalableTargetAction={"MinCapacity": schedule.min_capacity, "MaxCapacity": schedule.max_capacity},
                    ServiceNamespace=NAMESPACE,
                    ScalableDimension=_dimension(action.dimension),
                )
        case DeleteScheduledAction(resource_id=resource_id, name=name):
            with aws_call("application-autoscaling:DeleteScheduledAction"):
                autoscaling.delete_scheduled_action(
                    ScheduledActionName=name,
                    ResourceId=resource_id,
                    ServiceNamespace=NAMESPACE,
                    ScalableDimension=_dimension(action.dimension),
                )


def update_endpoint_request(action: UpdateEndpoint) -> UpdateEndpointInputTypeDef:
    """UpdateEndpoint's request. With the live counts retained (autoscaling owns them), the weights still come from
    the new config (ExcludeRetainedVariantProperties DesiredWeight: botocore sagemaker VariantPropertyType); without
    a DeploymentConfig SageMaker moves the endpoint all at once (RetainDeploymentConfig is false by default)."""
    request: UpdateEndpointInputTypeDef = {
        "EndpointName": action.name,
        "EndpointConfigName": action.config_name,
        "RetainAllVariantProperties": action.retain_variant_properties,
    }
    if action.retain_variant_properties:
        request["ExcludeRetainedVariantProperties"] = [{"VariantPropertyType": "DesiredWeight"}]
    if action.deployment_config:
        request["DeploymentConfig"] = cast("DeploymentConfigTypeDef", action.deployment_config)
    return request


def weight_and_capacity(change: VariantChange) -> DesiredWeightAndCapacityTypeDef:
    """One variant's entry of UpdateEndpointWeightsAndCapacities (botocore sagemaker DesiredWeightAndCapacity)."""
    entry: DesiredWeightAndCapacityTypeDef = {"VariantName": change.variant}
    if change.weight is not None:
        entry["DesiredWeight"] = change.weight
    if change.instance_count is not None:
        entry["DesiredInstanceCount"] = change.instance_count
    serverless: ProductionVariantServerlessUpdateConfigTypeDef = {}
    if change.max_concurrency is not None:
        serverless["MaxConcurrency"] = change.max_concurrency
    if change.provisioned_concurrency is not None:
        serverless["ProvisionedConcurrency"] = change.provisioned_concurrency
    if serverless:
        entry["ServerlessUpdateConfig"] = serverless
    return entry


def _dimension(dimension: str) -> ScalableDimensionType:
    """A variant's scalable dimension as the client's types name it (desired.INSTANCE_COUNT or
    desired.PROVISIONED_CONCURRENCY, or one Application Auto Scaling reported)."""
    return cast("ScalableDimensionType", dimension)
