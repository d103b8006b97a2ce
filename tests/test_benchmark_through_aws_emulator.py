"""The engine measures a model behind the emulated SageMaker Runtime, as it would a real endpoint: boto3's endpoint
override (AWS_ENDPOINT_URL) leads it to the AWS emulator, which forwards InvokeEndpoint to the model server."""

from __future__ import annotations

import pytest

from benchmark_support import isolate_aws_environment
from fixtures_aws import TEST_DELAYS, AwsClientFactory, ManualClock
from lowlatency.benchmark import inline, resolve_target, run_blocking
from lowlatency.benchmark.engine import Load
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.emulators.model_server import Fixed, ModelServer

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def endpoint(aws_client: AwsClientFactory, aws_clock: ManualClock) -> str:
    sagemaker = aws_client("sagemaker")
    sagemaker.create_model(ModelName="bid-v1", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    sagemaker.create_endpoint_config(
        EndpointConfigName="bid-v1",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "bid-v1",
                "InstanceType": "ml.c5.xlarge",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="bid", EndpointConfigName="bid-v1")
    aws_clock.advance(TEST_DELAYS.create)
    assert sagemaker.describe_endpoint(EndpointName="bid")["EndpointStatus"] == "InService"
    return "bid"


def test_latency_and_model_errors_come_through_the_emulated_runtime(
    aws_emulator: AwsEmulator, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_aws_environment(monkeypatch)
    for name, value in aws_emulator.environment().items():
        monkeypatch.setenv(name, value)
    target = resolve_target(endpoint)
    assert target.url == f"{aws_emulator.url}/endpoints/bid/invocations"
    with ModelServer(latency=Fixed(20)) as model:
        aws_emulator.sagemaker.route_invocations(endpoint, model.url)
        served = run_blocking(target, inline("0.2,1", "text/csv"), Load(concurrency=4, requests=80, warmup_requests=4))
        model.errors = {500: 1.0}
        failed = run_blocking(target, inline("0.2,1", "text/csv"), Load(concurrency=2, requests=10))
    summary = served.summary()
    assert (summary.requests, summary.errors) == (80, 0)
    assert 20 <= summary.p50_ms <= 40  # the model's 20 ms, plus the emulator's forwarding
    assert model.bodies[b"0.2,1"] == 94
    # A failing container is the runtime's ModelError (424): a client error, as AWS counts it.
    assert failed.summary().errors_by_class["4xx"] == 10
