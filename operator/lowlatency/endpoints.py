"""Reading and changing SageMaker endpoints: the observer feeding the planner and the executor of its actions.

Calls are blocking (boto3); they run in kopf's worker threads, never on its event loop. Every call goes through
:func:`lowlatency.aws.aws_call`, so failures arrive classified. Reads are kept to what the decision needs: at
steady state one DescribeEndpoint per pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lowlatency import naming
from lowlatency.aws import AwsError, ErrorKind, aws_call, is_already_exists
from lowlatency.desired import DesiredEndpoint, Owner, aws_tags
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
    UpdateEndpoint,
)

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


def describe_endpoint(sagemaker: SageMakerClient, name: str, *, with_tags: bool) -> ObservedEndpoint | None:
    try:
        with aws_call("sagemaker:DescribeEndpoint"):
            described = sagemaker.describe_endpoint(EndpointName=name)
    except AwsError as error:
        if error.kind is ErrorKind.NOT_FOUND:
            return None
        raise
    variants = described.get("ProductionVariants", [])
    pending = described.get("PendingDeploymentSummary", {})
    return ObservedEndpoint(
        name=name,
        arn=described["EndpointArn"],
        status=described["EndpointStatus"],
        config_name=described["EndpointConfigName"],
        failure_reason=described.get("FailureReason", ""),
        current_instance_count=sum(v.get("CurrentInstanceCount", 0) for v in variants) if variants else None,
        desired_instance_count=sum(v.get("DesiredInstanceCount", 0) for v in variants) if variants else None,
        pending_config_name=pending.get("EndpointConfigName"),
        tags=tags_of(sagemaker, described["EndpointArn"]) if with_tags else None,
    )


def tags_of(sagemaker: SageMakerClient, arn: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    with aws_call("sagemaker:ListTags"):
        for page in sagemaker.get_paginator("list_tags").paginate(ResourceArn=arn):
            tags.update({tag["Key"]: tag["Value"] for tag in page.get("Tags", [])})
    return tags


def _exists(operation: str, describe: Callable[[], object]) -> bool:
    try:
        with aws_call(operation):
            describe()
    except AwsError as error:
        if error.kind is ErrorKind.NOT_FOUND:
            return False
        raise
    return True


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


def observe(
    sagemaker: SageMakerClient,
    desired: DesiredEndpoint,
    owner: Owner,
    *,
    ownership_known: bool,
    look_for_leftovers: bool,
) -> Observed:
    """What exists now, looking only as far as the planner's decision needs."""
    endpoint = describe_endpoint(sagemaker, desired.endpoint_name, with_tags=not ownership_known)
    on_desired = endpoint is not None and endpoint.config_name == desired.endpoint_config_name
    if on_desired:
        model_exists = config_exists = True  # SageMaker keeps an in-use config and its model
    else:
        config_exists = _exists(
            "DescribeEndpointConfig",
            lambda: sagemaker.describe_endpoint_config(EndpointConfigName=desired.endpoint_config_name),
        )
        model_exists = _exists(
            "sagemaker:DescribeModel", lambda: sagemaker.describe_model(ModelName=desired.model_name)
        )
    superseded: tuple[list[str], list[str]] = ([], [])
    if on_desired and endpoint is not None and endpoint.status == "InService" and look_for_leftovers:
        superseded = owned_leftovers(
            sagemaker, desired.endpoint_name, owner, keep={desired.endpoint_config_name, desired.model_name}
        )
    return Observed(
        endpoint=endpoint,
        model_exists=model_exists,
        config_exists=config_exists,
        superseded_configs=tuple(superseded[0]),
        superseded_models=tuple(superseded[1]),
    )


def apply(sagemaker: SageMakerClient, action: Action) -> None:
    """Carry out one planned action; creating what exists or deleting what is gone counts as done."""
    try:
        _apply(sagemaker, action)
    except AwsError as error:
        creating = isinstance(action, CreateModel | CreateEndpointConfig | CreateEndpoint)
        if creating and is_already_exists(error):
            return
        if not creating and error.kind is ErrorKind.NOT_FOUND:
            return
        raise


def _apply(sagemaker: SageMakerClient, action: Action) -> None:
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
        case UpdateEndpoint(name=name, config_name=config_name):
            with aws_call("sagemaker:UpdateEndpoint"):
                sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=config_name)
        case DeleteEndpoint(name=name):
            with aws_call("sagemaker:DeleteEndpoint"):
                sagemaker.delete_endpoint(EndpointName=name)
        case DeleteEndpointConfig(name=name):
            with aws_call("sagemaker:DeleteEndpointConfig"):
                sagemaker.delete_endpoint_config(EndpointConfigName=name)
        case DeleteModel(name=name):
            with aws_call("sagemaker:DeleteModel"):
                sagemaker.delete_model(ModelName=name)
