"""What the operator reads from AWS's answers: every answer the service model allows is read, not only the ones the
AWS emulator happens to give (answers stubbed on a real boto3 client, which checks them against botocore's shapes)."""

from __future__ import annotations

import datetime

import boto3
from botocore.stub import Stubber

from lowlatency import endpoints

ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/adtech-bid-filter"


def test_an_endpoint_described_without_its_config_name_is_read() -> None:
    """botocore sagemaker DescribeEndpointOutput.EndpointConfigName is not a required member."""
    sagemaker = boto3.client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    now = datetime.datetime.now(tz=datetime.UTC)
    answer = {
        "EndpointName": "adtech-bid-filter",
        "EndpointArn": ARN,
        "EndpointStatus": "InService",
        "CreationTime": now,
        "LastModifiedTime": now,
        "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentInstanceCount": 2, "DesiredInstanceCount": 2}],
    }
    with Stubber(sagemaker) as stubbed:
        stubbed.add_response("describe_endpoint", answer, {"EndpointName": "adtech-bid-filter"})
        described = endpoints.describe_endpoint(sagemaker, "adtech-bid-filter", with_tags=False)

    assert described is not None
    assert (described.status, described.config_name, described.variant_name) == ("InService", None, "AllTraffic")
