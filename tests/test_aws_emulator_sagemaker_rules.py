"""SageMaker rules the AWS emulator enforces because SageMaker does (issue 11), seen through real boto3 clients.

Each test names the rule's source as the emulator's docstring does, and shows the refusal with SageMaker's error
code, then that the request goes through once the rule is met.
"""

from __future__ import annotations

from typing import Any

import pytest

from emulator_requests import IMAGE, ROLE, client_error, code_of, message_of
from lowlatency.aws import ErrorKind, classify
from lowlatency.emulators.aws import AwsEmulator

pytestmark = pytest.mark.timeout(60)

MISSING_ARTIFACT = "s3://acme-models/rtb/xgboost/never-uploaded.tar.gz"


def test_create_model_refuses_an_artifact_that_is_not_in_s3(aws_emulator: AwsEmulator, sagemaker: Any) -> None:
    """botocore sagemaker ContainerDefinition.ModelDataUrl: the artifact must be in S3 when the model is created."""
    container = {"Image": IMAGE, "ModelDataUrl": MISSING_ARTIFACT}

    refused = client_error(
        lambda: sagemaker.create_model(ModelName="bid", ExecutionRoleArn=ROLE, PrimaryContainer=container)
    )

    assert code_of(refused) == "ValidationException"
    assert message_of(refused) == f"Could not find model data at {MISSING_ARTIFACT}."
    assert classify("sagemaker:CreateModel", refused).kind is ErrorKind.PERMANENT
    assert sagemaker.list_models()["Models"] == []
    aws_emulator.put_model_artifact(MISSING_ARTIFACT)
    sagemaker.create_model(ModelName="bid", ExecutionRoleArn=ROLE, PrimaryContainer=container)
    assert [model["ModelName"] for model in sagemaker.list_models()["Models"]] == ["bid"]


def test_a_reset_forgets_uploaded_artifacts_and_puts_back_the_ones_the_emulator_keeps(
    aws_emulator: AwsEmulator, aws_client: Any
) -> None:
    s3 = aws_client("s3", retries=False)
    aws_emulator.put_model_artifact(MISSING_ARTIFACT)
    assert s3.head_object(Bucket="acme-models", Key="rtb/xgboost/never-uploaded.tar.gz")["ContentLength"] > 0

    aws_emulator.reset()

    gone = client_error(lambda: s3.head_object(Bucket="acme-models", Key="rtb/xgboost/never-uploaded.tar.gz"))
    assert code_of(gone) == "404"
    assert s3.head_object(Bucket="acme-models", Key="rtb/xgboost/model.tar.gz")["ContentLength"] > 0
