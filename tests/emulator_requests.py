"""Requests to the AWS emulator through real boto3 clients, as the emulator tests make them, and parts of answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.exceptions
import pytest

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
NEW_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-2"
VARIANT = "AllTraffic"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def client_error(call: Callable[[], Any]) -> botocore.exceptions.ClientError:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call()
    return raised.value


def code_of(error: botocore.exceptions.ClientError) -> str:
    return str(error.response["Error"]["Code"])


def message_of(error: botocore.exceptions.ClientError) -> str:
    return str(error.response["Error"]["Message"])


def make_config(
    sagemaker: Any,
    name: str,
    *,
    image: str = IMAGE,
    instance_type: str = "ml.c5.xlarge",
    count: int = 2,
    variant: str = VARIANT,
) -> None:
    """A model and an endpoint config of the same name."""
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": image})
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": variant, "ModelName": name, "InstanceType": instance_type, "InitialInstanceCount": count}
        ],
    )


def status(sagemaker: Any, name: str) -> str:
    return str(sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"])


def counts(sagemaker: Any, name: str) -> tuple[int, int]:
    variant = sagemaker.describe_endpoint(EndpointName=name)["ProductionVariants"][0]
    return variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]


def register(autoscaling: Any, endpoint: str, low: int = 2, high: int = 10, *, variant: str = VARIANT) -> str:
    resource_id = f"endpoint/{endpoint}/variant/{variant}"
    autoscaling.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource_id,
        ScalableDimension=DIMENSION,
        MinCapacity=low,
        MaxCapacity=high,
    )
    return resource_id
