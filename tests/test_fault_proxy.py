"""The fault proxy answers like AWS does when it fails, and the operator's AWS layer reads each answer right.

Real boto3 clients talk through the proxy to the AWS emulator (moto in server mode); nothing is patched.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest

from e2e_support import create_network
from fixtures_aws import AwsClientFactory
from lowlatency import endpoints
from lowlatency.aws import AwsClients, AwsError, AwsSettings, ErrorKind, aws_call, classify
from lowlatency.desired import Owner, build_desired
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.emulators.faults import AwsRequest, Fault, FaultProxy, FaultRates, is_mutating
from lowlatency.planner import CreateModel
from lowlatency.vpc import runtime_service
from reliability_support import report_rows
from specs import bid_filter_spec, parsed

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


def test_the_first_mutating_call_meets_the_fault_when_asked(proxy: FaultProxy) -> None:
    """A rate too small to be drawn, and yet the first mutating call is throttled, and only that one."""
    proxy.set_rates(FaultRates.only("throttle", 1e-9, fault_first_mutation=True))
    sagemaker = client("sagemaker", proxy.url)
    desired = build_desired(parsed(), OWNER, "us-east-1")
    assert sagemaker.list_models()["Models"] == []
    error = classified("sagemaker:CreateModel", lambda: sagemaker.create_model(**desired.model_request))
    assert error.code == "ThrottlingException"
    sagemaker.create_model(**desired.model_request)
    sagemaker.create_endpoint_config(**desired.endpoint_config_request)
    assert proxy.injected() == 1


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


def test_a_refused_mutation_is_neither_recorded_nor_held(proxy: FaultProxy) -> None:
    """A crash point is a call AWS carried out: a CreateModel that SageMaker refuses (the model exists) changed
    nothing, so the hold passes it by and waits for the next call that AWS does carry out."""
    sagemaker = client("sagemaker", proxy.url)
    desired = build_desired(parsed(), OWNER, "us-east-1")
    sagemaker.create_model(**desired.model_request)
    hold = proxy.hold_after(1)
    classified("sagemaker:CreateModel", lambda: sagemaker.create_model(**desired.model_request))
    assert not hold.reached.is_set()

    def create_config() -> None:
        classified("sagemaker:CreateEndpointConfig", lambda: sagemaker.create_endpoint_config(**config_request))

    config_request = desired.endpoint_config_request
    caller = threading.Thread(target=create_config)
    caller.start()
    assert hold.reached.wait(10)
    assert hold.operation == "CreateEndpointConfig"
    hold.release()
    caller.join(10)
    assert proxy.mutations == ["CreateModel", "CreateEndpointConfig"]


# What a client sees instead of the answer to a call AWS carried out, in the JSON and the query (EC2) protocol.
LOST_ANSWER_SEEN_AS: dict[Fault, tuple[str, str]] = {
    "server-error-after": ("InternalFailure", "InternalError"),
    "drop-after": ("ConnectionClosedError", "ConnectionClosedError"),
}


class LostAnswers:
    """Mutating calls made through the proxy, each answer lost after AWS carried the call out."""

    def __init__(self, fault: Fault, proxy: FaultProxy, aws: AwsEmulator) -> None:
        self.fault, self.proxy, self.aws = fault, proxy, aws
        self.operations: list[str] = []
        proxy.set_rates(FaultRates.only(fault, 1.0, once_per_operation=True))

    def client(self, service: str) -> Any:
        return client(service, self.proxy.url)

    def __call__(self, method: Callable[..., Any], **request: Any) -> None:
        """Call ``method`` (of a client of :meth:`client`): the client sees the fault, and AWS logged it done."""
        meta = method.__self__.meta  # type: ignore[attr-defined]
        service, operation = meta.service_model.signing_name, meta.method_to_api_mapping[method.__name__]
        carried_out_before = self._carried_out(service, operation)
        error = classified(f"{service}:{operation}", lambda: method(**request))
        json_code, query_code = LOST_ANSWER_SEEN_AS[self.fault]
        assert (error.kind, error.code) == (ErrorKind.TRANSIENT, query_code if service == "ec2" else json_code)
        assert self._carried_out(service, operation) == carried_out_before + 1, (service, operation)
        assert self.proxy.counts[(operation, self.fault)] >= 1
        self.operations.append(operation)

    def _carried_out(self, service: str, operation: str) -> int:
        return sum(1 for call in self.aws.calls(service=service, operation=operation) if call.status == 200)


def in_service(sagemaker: Any, name: str, config_name: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        described = sagemaker.describe_endpoint(EndpointName=name)
        if (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", config_name):
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} not InService on {config_name}: {described}")


def gone(call: Callable[[], Any]) -> bool:
    try:
        call()
    except botocore.exceptions.ClientError:
        return True
    return False


@pytest.mark.parametrize("fault", list(LOST_ANSWER_SEEN_AS))
def test_every_mutating_call_of_a_flow_takes_effect_when_its_answer_is_lost(
    fault: Fault, proxy: FaultProxy, aws_emulator: AwsEmulator, aws_client: AwsClientFactory
) -> None:
    """Each mutating call the operator makes to create, update and delete a resource, made once through the proxy
    with its answer lost (a 500 in the service's protocol, or the connection reset): AWS carried it out, which the
    emulator's state and call log show, and the client saw only the fault."""
    lost = LostAnswers(fault, proxy, aws_emulator)
    services = ("sagemaker", "application-autoscaling", "ec2")
    sagemaker, autoscaling, ec2 = (lost.client(service) for service in services)
    seen_sagemaker, seen_autoscaling, seen_ec2 = (aws_client(service) for service in services)
    first = build_desired(parsed(), OWNER, "us-east-1")
    second = build_desired(parsed(model={**bid_filter_spec()["model"], "image": "other:1"}), OWNER, "us-east-1")
    endpoint = first.endpoint_name
    scalable = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{endpoint}/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    network = create_network(seen_ec2)

    # Create.
    lost(sagemaker.create_model, **first.model_request)
    assert seen_sagemaker.describe_model(ModelName=first.model_name)["ModelName"] == first.model_name
    lost(sagemaker.create_endpoint_config, **first.endpoint_config_request)
    assert not gone(lambda: seen_sagemaker.describe_endpoint_config(EndpointConfigName=first.endpoint_config_name))
    lost(sagemaker.create_endpoint, EndpointName=endpoint, EndpointConfigName=first.endpoint_config_name)
    in_service(seen_sagemaker, endpoint, first.endpoint_config_name)
    lost(
        ec2.create_vpc_endpoint,
        VpcEndpointType="Interface",
        VpcId=network["vpcId"],
        ServiceName=runtime_service("us-east-1"),
        SubnetIds=network["subnetIds"],
        SecurityGroupIds=network["securityGroupIds"],
        TagSpecifications=[{"ResourceType": "vpc-endpoint", "Tags": [{"Key": "user", "Value": "adtech/bid-filter"}]}],
    )
    (vpc_endpoint,) = seen_ec2.describe_vpc_endpoints()["VpcEndpoints"]
    lost(autoscaling.register_scalable_target, MinCapacity=2, MaxCapacity=4, **scalable)
    assert seen_autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    lost(
        autoscaling.put_scaling_policy,
        PolicyName="invocations",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 6000.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        },
        **scalable,
    )
    assert seen_autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]

    # Update: the new model and config are made directly (their calls' lost answers are shown above).
    seen_sagemaker.create_model(**second.model_request)
    seen_sagemaker.create_endpoint_config(**second.endpoint_config_request)
    lost(sagemaker.update_endpoint, EndpointName=endpoint, EndpointConfigName=second.endpoint_config_name)
    in_service(seen_sagemaker, endpoint, second.endpoint_config_name)
    lost(sagemaker.delete_endpoint_config, EndpointConfigName=first.endpoint_config_name)
    assert gone(lambda: seen_sagemaker.describe_endpoint_config(EndpointConfigName=first.endpoint_config_name))
    lost(sagemaker.delete_model, ModelName=first.model_name)
    assert gone(lambda: seen_sagemaker.describe_model(ModelName=first.model_name))

    # Delete.
    lost(autoscaling.deregister_scalable_target, **scalable)
    assert seen_autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    lost(sagemaker.delete_endpoint, EndpointName=endpoint)
    assert seen_sagemaker.list_endpoints(StatusEquals="InService")["Endpoints"] == []
    lost(ec2.delete_tags, Resources=[vpc_endpoint["VpcEndpointId"]], Tags=[{"Key": "user"}])
    (untagged,) = seen_ec2.describe_vpc_endpoints()["VpcEndpoints"]
    assert untagged.get("Tags", []) == []
    lost(ec2.delete_vpc_endpoints, VpcEndpointIds=[vpc_endpoint["VpcEndpointId"]])
    states = [found["State"].lower() for found in seen_ec2.describe_vpc_endpoints()["VpcEndpoints"]]
    assert states in ([], ["deleting"], ["deleted"]), states

    # These are the mutating calls the crash-point tests measure in the operator's flows.
    measured = {
        operation
        for row in report_rows("Crash points").values()
        for operation in re.findall(r"\b[A-Z][A-Za-z]+\b", row.split("crash points (", 1)[1].split(")", 1)[0])
    }
    assert measured <= set(lost.operations), measured - set(lost.operations)
    assert all(is_mutating(operation) for operation in lost.operations)
