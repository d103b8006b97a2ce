"""Valid spec documents for tests, as users write them."""

from typing import Any

from lowlatency.api import Spec

MODEL_DATA_URL = "s3://acme-models/rtb/xgboost/model.tar.gz"
#: The model artifacts the tests' specs name, in the AWS emulator's S3 for every test (SageMaker's CreateModel
#: refuses an artifact that is not there).
MODEL_ARTIFACTS = (MODEL_DATA_URL, "s3://acme-models/rtb/xgboost/model-2.tar.gz")


def bid_filter_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "model": {
            "modelDataUrl": MODEL_DATA_URL,
            "image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "executionRoleArn": "arn:aws:iam::123456789012:role/SageMakerExecution",
        },
        "instanceType": "ml.c5.xlarge",
        "instanceCount": 2,
        "tags": {"team": "bidding"},
    }
    spec.update(overrides)
    return spec


def parsed(**overrides: Any) -> Spec:
    return Spec.model_validate(bid_filter_spec(**overrides))
