"""Valid spec documents for tests, as users write them."""

from typing import Any

from lowlatency.api import Spec


def bid_filter_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "model": {
            "modelDataUrl": "s3://acme-models/rtb/xgboost/model.tar.gz",
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
