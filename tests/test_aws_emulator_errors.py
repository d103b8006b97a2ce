"""The AWS emulator keeps the errors it raises on its own, so that a test fails on them instead of the operator
retrying them as AWS's transient faults.

The gateway is tested alone, in front of a stand-in for moto, for what is and is not such an error; then the real
emulator, for an operation moto does not implement.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from fixtures_aws import AwsClientFactory
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.emulators.aws.gateway import ApiRequest, Gateway, PassThrough, Reply, ServiceError, json_reply

SIGNED_FOR_SAGEMAKER = (
    "AWS4-HMAC-SHA256 Credential=testing/20261125/us-east-1/sagemaker/aws4_request, SignedHeaders=host, Signature=0"
)


def moto_refusing(_environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """moto answering an error of AWS's shape, as it does for what it refuses."""
    start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.1")])
    return [json.dumps({"__type": "ValidationException", "message": "Could not find model"}).encode()]


def moto_broken(_environ: dict[str, Any], _start_response: Any) -> Iterable[bytes]:
    """moto failing on its own: moto's Flask application runs in debug mode, so its exceptions reach the gateway."""
    raise NotImplementedError("The describe_model action has not been implemented")


def call(gateway: Gateway, operation: str, params: dict[str, Any]) -> TestResponse:
    headers = {"X-Amz-Target": f"SageMaker.{operation}", "Authorization": SIGNED_FOR_SAGEMAKER}
    return Client(gateway).post(
        "/", data=json.dumps(params), content_type="application/x-amz-json-1.1", headers=headers
    )


def error_code(response: TestResponse) -> tuple[int, str]:
    return response.status_code, json.loads(response.data)["__type"]


def test_an_exception_of_a_handler_is_a_500_and_is_recorded_with_its_traceback() -> None:
    gateway = Gateway(moto_refusing)

    def describe_endpoint(request: ApiRequest, _: PassThrough) -> Reply:
        variants: dict[str, Any] = {}
        return json_reply({"Name": request.params["EndpointName"], "Variant": variants["AllTraffic"]})

    gateway.route("sagemaker", "DescribeEndpoint", describe_endpoint)

    # A KeyError of the handler's own is a bug, not a missing parameter of the request.
    assert error_code(call(gateway, "DescribeEndpoint", {"EndpointName": "bid"})) == (500, "InternalFailure")
    [error] = gateway.errors
    assert (error.service, error.operation, error.resource) == ("sagemaker", "DescribeEndpoint", "bid")
    assert "KeyError: 'AllTraffic'" in error.traceback
    assert "describe_endpoint" in str(error)
    gateway.forget_errors()
    assert gateway.errors == []


def test_an_exception_of_moto_is_a_500_and_is_recorded() -> None:
    gateway = Gateway(moto_broken)
    assert error_code(call(gateway, "DescribeModel", {"ModelName": "bid"})) == (500, "InternalFailure")
    [error] = gateway.errors
    assert error.operation == "DescribeModel"
    assert "NotImplementedError" in error.traceback


def test_what_the_emulator_answers_on_purpose_is_not_recorded() -> None:
    gateway = Gateway(moto_refusing)

    def refuse(_request: ApiRequest, _: PassThrough) -> Reply:
        raise ServiceError("ValidationException", "Cannot update in-progress endpoint")

    def describe_endpoint(request: ApiRequest, _: PassThrough) -> Reply:
        return json_reply({"EndpointName": request.params["EndpointName"]})

    gateway.route("sagemaker", "UpdateEndpoint", refuse)
    gateway.route("sagemaker", "DescribeEndpoint", describe_endpoint)
    gateway.faults.server_error("DeleteEndpoint")

    assert error_code(call(gateway, "UpdateEndpoint", {"EndpointName": "bid"})) == (400, "ValidationException")
    missing = call(gateway, "DescribeEndpoint", {})
    assert error_code(missing) == (400, "ValidationException")
    assert "Value null at 'EndpointName'" in json.loads(missing.data)["message"]
    assert error_code(call(gateway, "DescribeModel", {"ModelName": "bid"})) == (400, "ValidationException")
    assert error_code(call(gateway, "DeleteEndpoint", {"EndpointName": "bid"})) == (500, "InternalFailure")
    assert gateway.errors == []


def test_the_emulator_records_an_operation_moto_does_not_implement_until_reset(
    aws_emulator: AwsEmulator, aws_client: AwsClientFactory
) -> None:
    sagemaker = aws_client("sagemaker", retries=False)
    with pytest.raises(sagemaker.exceptions.ClientError) as raised:
        sagemaker.create_action(ActionName="audit", Source={"SourceUri": "s3://acme/audit"}, ActionType="Audit")
    assert raised.value.response["Error"]["Code"] == "InternalFailure"
    [error] = aws_emulator.errors
    assert (error.service, error.operation) == ("sagemaker", "CreateAction")
    assert "has not been implemented" in error.traceback
    # Provoked on purpose: forgotten here, or the fixture would fail the test on it.
    aws_emulator.reset()
    assert aws_emulator.errors == []
