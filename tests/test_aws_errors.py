"""How AWS failures are classified: retried, surfaced, or taken as 'not there'."""

import botocore.exceptions
import pytest

from lowlatency.aws import AwsError, ErrorKind, aws_call, classify, is_already_exists


def client_error(code: str, message: str, status: int = 400) -> botocore.exceptions.ClientError:
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return botocore.exceptions.ClientError(response, "Operation")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("Throttling", 400),
        ("RequestLimitExceeded", 503),
        ("InternalFailure", 500),
        ("ServiceUnavailable", 503),
        ("SomethingNew", 502),
        ("InternalServiceException", 400),  # Application Auto Scaling's internal error
    ],
)
def test_throttling_and_server_errors_are_transient(code: str, status: int) -> None:
    assert classify("CreateEndpoint", client_error(code, "slow down", status)).kind is ErrorKind.TRANSIENT


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("ValidationException", "1 validation error detected: Value 'ml.bogus' at 'instanceType'"),
        ("AccessDeniedException", "User is not authorized to perform: sagemaker:CreateModel"),
    ],
)
def test_rejections_are_permanent_and_name_the_operation(code: str, message: str) -> None:
    error = classify("CreateEndpointConfig", client_error(code, message))
    assert error.kind is ErrorKind.PERMANENT
    assert str(error).startswith(f"CreateEndpointConfig failed: {code}: ")
    assert message in str(error)


def test_a_quota_is_its_own_kind_and_names_the_quota_when_aws_does() -> None:
    """Neither permanent (the quota may be raised) nor transient (asking again soon cannot help)."""
    sagemaker = classify(
        "sagemaker:CreateEndpoint",
        client_error(
            "ResourceLimitExceeded",
            "The account-level service limit 'ml.g5.2xlarge for endpoint usage' is 0 Instances, with current "
            "utilization of 0 Instances and a request delta of 2 Instances. Please use AWS Service Quotas to request "
            "an increase for this quota.",
        ),
    )
    assert (sagemaker.kind, sagemaker.quota) == (ErrorKind.QUOTA, "ml.g5.2xlarge for endpoint usage")
    autoscaling = classify(
        "application-autoscaling:RegisterScalableTarget", client_error("LimitExceededException", "Limit exceeded")
    )
    assert (autoscaling.kind, autoscaling.quota) == (ErrorKind.QUOTA, None)


@pytest.mark.parametrize(
    "message",
    ['Could not find endpoint "arn:aws:sagemaker:us-east-1:1:endpoint/x".', 'Could not find model "m".'],
)
def test_sagemaker_could_not_find_is_not_found(message: str) -> None:
    assert classify("DescribeEndpoint", client_error("ValidationException", message)).kind is ErrorKind.NOT_FOUND


def test_a_missing_model_artifact_is_the_specs_error_not_an_absence() -> None:
    """CreateModel names the spec's S3 artifact; asking again cannot help until it is uploaded or the spec changes,
    while a missing model, config or endpoint on a describe or delete is an observation."""
    missing = client_error("ValidationException", "Could not find model data at s3://acme-models/rtb/model.tar.gz.")
    refused = classify("sagemaker:CreateModel", missing)
    assert (refused.kind, refused.code) == (ErrorKind.PERMANENT, "ValidationException")
    assert "s3://acme-models/rtb/model.tar.gz" in str(refused)
    gone = client_error("ValidationException", 'Could not find model "arn:aws:sagemaker:us-east-1:1:model/m".')
    assert classify("sagemaker:DescribeModel", gone).kind is ErrorKind.NOT_FOUND


def test_creating_what_exists_is_recognised() -> None:
    error = classify("CreateModel", client_error("ValidationException", 'Cannot create already existing model "m".'))
    assert is_already_exists(error)
    assert not is_already_exists(classify("CreateModel", client_error("ValidationException", "bad image")))


def test_network_failures_are_transient() -> None:
    failure = botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    assert classify("DescribeEndpoint", failure).kind is ErrorKind.TRANSIENT


def test_missing_credentials_are_permanent() -> None:
    assert classify("DescribeEndpoint", botocore.exceptions.NoCredentialsError()).kind is ErrorKind.PERMANENT


def test_aws_call_reraises_classified() -> None:
    with pytest.raises(AwsError) as raised, aws_call("UpdateEndpoint"):
        raise client_error("ThrottlingException", "Rate exceeded")
    assert raised.value.operation == "UpdateEndpoint"
    assert raised.value.kind is ErrorKind.TRANSIENT


@pytest.mark.parametrize(
    "caller",
    [
        "arn:aws:sts::123456789012:assumed-role/lowlatency-operator/i-0abc",  # a role's session (IRSA, EC2, ECS)
        "arn:aws:iam::123456789012:user/lowlatency-operator",  # an IAM user's access keys
        "arn:aws:iam::123456789012:user/platform/ops/lowlatency-operator",  # a user with a path
        "arn:aws:sts::123456789012:federated-user/lowlatency-operator",  # GetFederationToken
        "arn:aws-cn:sts::123456789012:assumed-role/lowlatency-operator/botocore-session-1700000000",
        "arn:aws-us-gov:iam::123456789012:user/lowlatency-operator",
        "arn:aws-us-gov:sts::123456789012:federated-user/lowlatency-operator",
    ],
)
def test_the_operators_identity_never_reaches_the_message(caller: str) -> None:
    """AccessDenied names the caller as a principal ARN of STS or IAM in any partition; the resource stays named."""
    partition = caller.split(":")[1]
    resource = f"arn:{partition}:sagemaker:us-east-1:123456789012:endpoint/adtech-bid-filter"
    denied = client_error(
        "AccessDeniedException",
        f"User: {caller} is not authorized to perform: sagemaker:CreateEndpoint on resource: {resource} because no "
        "identity-based policy allows the sagemaker:CreateEndpoint action",
    )
    message = str(classify("sagemaker:CreateEndpoint", denied))
    assert caller.rpartition(":")[2] not in message
    assert "User: <the operator's AWS identity> is not authorized to perform: sagemaker:CreateEndpoint on" in message
    assert f"on resource: {resource} because no identity-based policy allows" in message


def test_a_role_the_spec_names_stays_in_the_message() -> None:
    """Only the caller is redacted: the execution role a denied iam:PassRole names is the spec's, which the tenant
    wrote and must see to fix."""
    denied = client_error(
        "AccessDeniedException",
        "User: arn:aws:sts::123456789012:assumed-role/lowlatency-operator/i-0abc is not authorized to perform: "
        "iam:PassRole on resource: arn:aws:iam::123456789012:role/SageMakerExecution",
    )
    message = str(classify("sagemaker:CreateModel", denied))
    assert "assumed-role" not in message
    assert "iam:PassRole on resource: arn:aws:iam::123456789012:role/SageMakerExecution" in message


def test_a_missing_id_named_by_a_create_is_the_specs_error_not_an_absence() -> None:
    """CreateVpcEndpoint naming a security group that does not exist will never succeed as sent: it is surfaced,
    while the same code from a describe or delete means the resource itself is gone."""
    missing_group = client_error("InvalidGroup.NotFound", "The security group 'sg-0c2d' does not exist")
    created = classify("ec2:CreateVpcEndpoint", missing_group)
    assert (created.kind, created.code) == (ErrorKind.PERMANENT, "InvalidGroup.NotFound")
    missing_endpoint = client_error("InvalidVpcEndpointId.NotFound", "The VpcEndpoint Id 'vpce-1' does not exist")
    assert classify("ec2:DeleteVpcEndpoints", missing_endpoint).kind is ErrorKind.NOT_FOUND


def test_registering_autoscaling_of_an_endpoint_that_is_not_in_service_is_busy_not_refused() -> None:
    answer = client_error(
        "ValidationException",
        "Endpoint e is Updating. The status should be in 'InService' to register it as a scalable target.",
    )
    assert classify("application-autoscaling:RegisterScalableTarget", answer).kind is ErrorKind.TRANSIENT


def test_a_config_or_model_a_create_cannot_find_yet_is_asked_for_again() -> None:
    """CreateEndpoint reads the config and models it uses with an eventually consistent read: one just created may
    not be found yet. Describe and Delete of a missing one stay 'not there'."""
    unseen = client_error("ValidationException", 'Could not find endpoint configuration "arn:aws:sagemaker:x".')
    assert classify("sagemaker:CreateEndpoint", unseen).kind is ErrorKind.TRANSIENT
    model = client_error("ValidationException", 'Could not find model "arn:aws:sagemaker:us-east-1:1:model/m".')
    assert classify("sagemaker:CreateEndpointConfig", model).kind is ErrorKind.TRANSIENT
    assert classify("sagemaker:DescribeEndpointConfig", unseen).kind is ErrorKind.NOT_FOUND
