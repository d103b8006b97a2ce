"""Endpoint and credential resolution as boto3 does it, SigV4 signatures the runtime accepts, the per-second cache."""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from pathlib import Path

import boto3
import botocore.exceptions
import botocore.serialize
import botocore.session
import pytest

from benchmark_support import ACCESS_KEY, CREDENTIALS, SECRET_KEY, isolate_aws_environment, loopback_tls, target_of
from lowlatency.benchmark.engine import Load, run
from lowlatency.benchmark.payloads import Payload, inline
from lowlatency.benchmark.signing import InvocationSigner, resolve_target
from lowlatency.emulators.model_server import ModelServer, RuntimeCredentials

pytestmark = pytest.mark.timeout(30)


def test_the_runtime_url_is_resolved_as_boto3_resolves_it(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_environment(monkeypatch)
    default = resolve_target("bid-filter", region="eu-west-1")
    assert default.url == "https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/bid-filter/invocations"
    assert (default.host, default.port, default.region, default.signing_name) == (
        "runtime.sagemaker.eu-west-1.amazonaws.com",
        443,
        "eu-west-1",
        "sagemaker",
    )
    assert default.ssl_context is not None
    assert resolve_target("bid-filter").region == "us-east-1"  # AWS_DEFAULT_REGION

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert resolve_target("a").url == "http://127.0.0.1:4566/endpoints/a/invocations"
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "http://127.0.0.1:9000")
    service_specific = resolve_target("a")
    assert service_specific.url == "http://127.0.0.1:9000/endpoints/a/invocations"
    assert (service_specific.host_header, service_specific.ssl_context) == ("127.0.0.1:9000", None)

    vpc_endpoint = "https://vpce-0123-abcd.runtime.sagemaker.us-east-1.vpce.amazonaws.com"
    assert resolve_target("a", endpoint_url=vpc_endpoint).url == f"{vpc_endpoint}/endpoints/a/invocations"


def test_without_credentials_nothing_is_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_environment(monkeypatch)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    # No instance metadata service on this machine's loopback: make the chain give up at once.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(botocore.exceptions.NoCredentialsError):
        resolve_target("a")


async def test_the_runtime_accepts_every_signed_request(monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelServer(credentials=CREDENTIALS) as server:
        payloads = [Payload(f"{index},1,0".encode(), "text/csv") for index in range(5)]
        result = await run(
            target_of(server, monkeypatch), payloads, Load(concurrency=4, requests=300, warmup_requests=10)
        )
    assert result.measurement.errors == 0
    assert server.signatures_verified == 310
    assert sorted(server.bodies.values()) == [62] * 5


async def test_temporary_credentials_carry_their_session_token(monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelServer(credentials=RuntimeCredentials(ACCESS_KEY, SECRET_KEY, "session-token")) as server:
        target_of(server, monkeypatch)
        monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
        target = resolve_target("bid-filter")
        raw = InvocationSigner(target).request(Payload(b"1", "text/csv"))
        result = await run(target, inline("1", "text/csv"), Load(concurrency=1, requests=20))
    assert b"\r\nX-Amz-Security-Token: session-token\r\n" in raw
    assert result.measurement.errors == 0
    assert server.signatures_verified == 20


async def test_a_wrong_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelServer(credentials=RuntimeCredentials(ACCESS_KEY, "another-secret")) as server:
        result = await run(target_of(server, monkeypatch), inline("1", "text/csv"), Load(concurrency=1, requests=5))
    assert result.summary().errors_by_class["4xx"] == 5
    assert server.signatures_verified == 0
    assert server.invocations == 0


def test_the_runtime_emulation_checks_signatures_as_aws_does_for_boto3(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model server's check is the one botocore's own client passes, so passing it means signing as boto3."""
    with ModelServer(credentials=CREDENTIALS) as server:
        target_of(server, monkeypatch)
        runtime = boto3.client("sagemaker-runtime")
        answer = runtime.invoke_endpoint(EndpointName="bid-filter", Body=b"0.2,1", ContentType="text/csv")
        assert answer["Body"].read() == b"0.2,1"
        assert server.signatures_verified == 1
        server.credentials = RuntimeCredentials(ACCESS_KEY, "another-secret")
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            runtime.invoke_endpoint(EndpointName="bid-filter", Body=b"0.2,1", ContentType="text/csv")
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"


async def test_https_with_the_ca_bundle_boto3_would_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server_context, certificate = loopback_tls(tmp_path)
    with ModelServer(credentials=CREDENTIALS, ssl_context=server_context) as server:
        untrusted = await run(target_of(server, monkeypatch), inline("1", "text/csv"), Load(concurrency=2, requests=4))
        monkeypatch.setenv("AWS_CA_BUNDLE", str(certificate))
        target = resolve_target("bid-filter")
        trusted = await run(target, inline("1", "text/csv"), Load(concurrency=2, requests=50))
    assert target.url.startswith("https://127.0.0.1:")
    assert untrusted.summary().errors_by_class["connection"] == 4  # the self-signed certificate is not trusted
    assert trusted.summary().errors == 0
    assert server.signatures_verified == 50


def _wait_for_the_start_of_a_second() -> None:
    if (fraction := time.time() % 1) > 0.3:
        time.sleep(1.0 - fraction + 0.01)


def _header(raw: bytes, name: bytes) -> bytes:
    head = raw.split(b"\r\n\r\n", 1)[0]
    return next(line.split(b": ", 1)[1] for line in head.split(b"\r\n") if line.startswith(name + b": "))


def test_a_signature_is_reused_within_its_second_only_for_the_same_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_environment(monkeypatch)
    signer = InvocationSigner(resolve_target("bid-filter", endpoint_url="http://127.0.0.1:9"))
    first, second = Payload(b"0.2,1,0", "text/csv"), Payload(b"0.3,1,0", "text/csv")
    _wait_for_the_start_of_a_second()

    request = signer.request(first)
    assert signer.request(first) is request
    assert signer.signatures_made == 1

    other = signer.request(second)
    assert signer.signatures_made == 2
    assert _header(other, b"Authorization") != _header(request, b"Authorization")
    assert _header(other, b"X-Amz-Date") == _header(request, b"X-Amz-Date")
    assert Payload(b"0.2,1,0", "application/json") != first
    assert _header(signer.request(Payload(b"0.2,1,0", "application/json")), b"Authorization") != _header(
        request, b"Authorization"
    )
    assert signer.signatures_made == 3

    time.sleep(1.0 - time.time() % 1 + 0.01)
    later = signer.request(first)
    assert signer.signatures_made == 4
    assert _header(later, b"X-Amz-Date") != _header(request, b"X-Amz-Date")
    assert _header(later, b"Authorization") != _header(request, b"Authorization")
    assert request.endswith(b"\r\n\r\n0.2,1,0")
    assert b"\r\nContent-Length: 7\r\n" in request


def _send_raw(server: ModelServer, raw: bytes) -> bytes:
    """One request's bytes sent as they are, and the status line of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(raw)
        return connection.recv(65536).split(b"\r\n", 1)[0]


def test_a_target_variant_is_the_header_boto3_sends_and_is_signed(monkeypatch: pytest.MonkeyPatch) -> None:
    with ModelServer(credentials=CREDENTIALS) as server:
        target = replace(target_of(server, monkeypatch), variant="Challenger")
        raw = InvocationSigner(target).request(Payload(b"0.2,1", "text/csv"))
        # botocore's own serialization of InvokeEndpoint's TargetVariant names the header and its value.
        runtime = botocore.session.get_session().get_service_model("sagemaker-runtime")
        serialized = botocore.serialize.create_serializer(runtime.metadata["protocol"]).serialize_to_request(
            {"EndpointName": "bid-filter", "Body": b"0.2,1", "ContentType": "text/csv", "TargetVariant": "Challenger"},
            runtime.operation_model("InvokeEndpoint"),
        )
        [(name, value)] = [(name, value) for name, value in serialized["headers"].items() if "Variant" in name]
        assert _header(raw, name.encode()) == value.encode() == b"Challenger"
        assert name.lower().encode() in _header(raw, b"Authorization").split(b"SignedHeaders=")[1].split(b",")[0]
        # The runtime's SigV4 check covers the header: the request as signed passes, another variant in it does not.
        assert _send_raw(server, raw) == b"HTTP/1.1 200 OK"
        assert _send_raw(server, raw.replace(b": Challenger\r\n", b": Champion!!\r\n")).startswith(b"HTTP/1.1 403")
    assert server.signatures_verified == 1
    assert b"Variant" not in InvocationSigner(replace(target, variant=None)).request(Payload(b"1", "text/csv"))
