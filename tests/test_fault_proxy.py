"""The fault proxy answers like AWS does when it fails, and the operator's AWS layer reads each answer right.

Real boto3 clients talk through the proxy to the AWS emulator (moto in server mode); nothing is patched.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import pytest

from lowlatency import endpoints
from lowlatency.aws import AwsClients, AwsError, AwsSettings, ErrorKind, aws_call, classify
from lowlatency.desired import Owner, build_desired
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.emulators.faults import AwsRequest, FaultProxy, FaultRates
from lowlatency.planner import CreateModel
from specs import parsed

OWNER = Owner(namespace="adtech", name="bid-filter", uid="4b1c9a52-0000-4000-8000-000000000001")


@pytest.fixture
def proxy(aws_emulator: AwsEmulator) -> Iterator[FaultProxy]:
    with FaultProxy(aws_emulator.url, seed=7) as running:
        yield running


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(key, raising=False)


def client(service: str, url: str, attempts: int = 1, read_timeout: float = 10) -> Any:
    config = botocore.config.Config(
        retries={"mode": "standard", "total_max_attempts": attempts}, read_timeout=read_timeout, connect_timeout=2
    )
    return boto3.client(service, region_name="us-east-1", endpoint_url=url, config=config)


def classified(action: str, call: Any) -> AwsError:
    with pytest.raises(AwsError) as raised, aws_call(action):
        call()
    return raised.value


def test_rates_must_be_a_probability() -> None:
    with pytest.raises(ValueError, match=r"add up to 1\.2"):
        FaultRates(throttle=0.7, server_error=0.5)


def test_operation_and_service_are_read_from_both_protocols() -> None:
    authorization = "AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/sagemaker/aws4_request, SignedHeaders=host"
    json_request = AwsRequest.parse(
        {"x-amz-target": "SageMaker.DescribeEndpoint", "authorization": authorization}, b"{}"
    )
    assert json_request == AwsRequest("sagemaker", "DescribeEndpoint", json_protocol=True)
    query_request = AwsRequest.parse({}, b"Action=DescribeVpcEndpoints&Version=2016-11-15")
    assert query_request == AwsRequest("", "DescribeVpcEndpoints", json_protocol=False)


def test_sagemaker_throttling_is_transient(proxy: FaultProxy) -> None:
    proxy.set_rates(FaultRates(throttle=1.0))
    sagemaker = client("sagemaker", proxy.url)
    error = classified("sagemaker:ListEndpoints", sagemaker.list_endpoints)
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "ThrottlingException")
    assert proxy.counts[("ListEndpoints", "throttle")] == 1
    assert proxy.counts[("ListEndpoints", "forwarded")] == 0


def test_ec2_throttling_speaks_the_query_protocol(proxy: FaultProxy) -> None:
    proxy.set_rates(FaultRates(throttle=1.0))
    error = classified("ec2:DescribeVpcEndpoints", client("ec2", proxy.url).describe_vpc_endpoints)
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "RequestLimitExceeded")


def test_server_errors_are_transient(proxy: FaultProxy) -> None:
    proxy.set_rates(FaultRates(server_error=1.0))
    error = classified("sagemaker:ListModels", client("sagemaker", proxy.url).list_models)
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "InternalFailure")


def test_a_slow_answer_past_the_read_timeout_is_transient(proxy: FaultProxy) -> None:
    proxy.set_rates(FaultRates(slow=1.0, slow_seconds=1.5))
    sagemaker = client("sagemaker", proxy.url, read_timeout=0.5)
    error = classified("sagemaker:ListModels", sagemaker.list_models)
    assert (error.kind, error.code) == (ErrorKind.TRANSIENT, "ReadTimeoutError")


def test_faults_are_limited_to_the_chosen_operations(proxy: FaultProxy) -> None:
    proxy.set_rates(FaultRates(throttle=1.0, operations=frozenset({"ListModels"})))
    sagemaker = client("sagemaker", proxy.url)
    assert sagemaker.list_endpoints()["Endpoints"] == []
    classified("sagemaker:ListModels", sagemaker.list_models)
    assert proxy.injected() == 1


def test_a_create_whose_answer_is_lost_is_done_on_retry(proxy: FaultProxy) -> None:
    """The request reached AWS and the model exists, but the client saw a reset connection: the retried
    CreateModel meets 'already exists', which the executor counts as done, and there is one model, not two."""
    desired = build_desired(parsed(), OWNER, "us-east-1")
    action = CreateModel(desired.model_request, desired.model_name)
    proxy.set_rates(FaultRates(drop_after=1.0, operations=frozenset({"CreateModel"})))
    clients = AwsClients(AwsSettings(endpoint_url=proxy.url, max_attempts=0)).for_region("us-east-1")
    with pytest.raises(AwsError) as lost:
        endpoints.apply(clients, action)
    assert lost.value.kind is ErrorKind.TRANSIENT
    assert proxy.counts[("CreateModel", "forwarded")] == 1

    proxy.set_rates(FaultRates())
    endpoints.apply(clients, action)
    models = client("sagemaker", proxy.url).list_models()["Models"]
    assert [model["ModelName"] for model in models] == [desired.model_name]


def test_a_request_dropped_before_it_arrives_changes_nothing(proxy: FaultProxy) -> None:
    desired = build_desired(parsed(), OWNER, "us-east-1")
    proxy.set_rates(FaultRates(drop_before=1.0))
    clients = AwsClients(AwsSettings(endpoint_url=proxy.url, max_attempts=0)).for_region("us-east-1")
    with pytest.raises(AwsError) as dropped:
        endpoints.apply(clients, CreateModel(desired.model_request, desired.model_name))
    assert dropped.value.kind is ErrorKind.TRANSIENT
    proxy.set_rates(FaultRates())
    assert client("sagemaker", proxy.url).list_models()["Models"] == []


def test_the_operators_clients_ride_out_frequent_throttling(proxy: FaultProxy) -> None:
    """A third of all calls throttled: botocore's adaptive retries get every call through, unseen by the operator."""
    proxy.set_rates(FaultRates(throttle=0.3))
    sagemaker = AwsClients(AwsSettings(endpoint_url=proxy.url)).client("sagemaker", "us-east-1")
    for _ in range(6):
        with aws_call("sagemaker:ListEndpoints"):
            assert sagemaker.list_endpoints()["Endpoints"] == []
    assert proxy.counts[("ListEndpoints", "forwarded")] == 6
    assert proxy.injected("throttle") >= 1


def test_the_held_mutation_took_effect_and_its_answer_never_arrives(proxy: FaultProxy) -> None:
    sagemaker = client("sagemaker", proxy.url)
    desired = build_desired(parsed(), OWNER, "us-east-1")
    hold = proxy.hold_after(2)
    sagemaker.list_models()  # reads do not count
    sagemaker.create_model(**desired.model_request)
    outcome: list[BaseException] = []

    def create_config() -> None:
        try:
            sagemaker.create_endpoint_config(**desired.endpoint_config_request)
        except BaseException as error:
            outcome.append(error)

    caller = threading.Thread(target=create_config)
    caller.start()
    assert hold.reached.wait(10)
    assert hold.operation == "CreateEndpointConfig"
    assert caller.is_alive(), "the held call must not have been answered"
    hold.release()
    caller.join(10)
    assert len(outcome) == 1
    assert classify("sagemaker:CreateEndpointConfig", outcome[0]).kind is ErrorKind.TRANSIENT
    configs = sagemaker.list_endpoint_configs()["EndpointConfigs"]
    assert [config["EndpointConfigName"] for config in configs] == [desired.endpoint_config_name]
    assert proxy.mutations == ["CreateModel", "CreateEndpointConfig"]
