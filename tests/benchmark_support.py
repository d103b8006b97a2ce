"""Helpers of the benchmark tests: a clean AWS environment, a target pointed at a local model server, and the
judgement of a measurement against the server's record of the same requests."""

from __future__ import annotations

import datetime
import ipaddress
import math
import ssl
from collections.abc import Sequence
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lowlatency.benchmark.connection import Outcome
from lowlatency.benchmark.engine import RunResult
from lowlatency.benchmark.results import microseconds, new_histogram
from lowlatency.benchmark.signing import Target, resolve_target
from lowlatency.emulators.model_server import ModelServer, ModelServerProcess, RuntimeCredentials, Served

ACCESS_KEY = "AKIDBENCHMARKTEST"
SECRET_KEY = "benchmark-test-secret"
REGION = "us-east-1"
CREDENTIALS = RuntimeCredentials(ACCESS_KEY, SECRET_KEY)


def isolate_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Static credentials and region in the environment; no profile, config file or endpoint override of the host."""
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
        "AWS_CA_BUNDLE",
        "AWS_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def target_of(
    server: ModelServer | ModelServerProcess, monkeypatch: pytest.MonkeyPatch, endpoint: str = "bid-filter"
) -> Target:
    """The target boto3's configuration resolves when the runtime endpoint override names the model server."""
    isolate_aws_environment(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", server.url)
    return resolve_target(endpoint)


def loopback_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a fresh self-signed certificate for 127.0.0.1, and the certificate's PEM file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_file, key_file = directory / "runtime.pem", directory / "runtime.key"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate_file, key_file)
    return context, certificate_file


# The judgement of a measurement by the model server's record of the same requests, with fixed bounds: the
# latency-accuracy tests run alone (`pytest -n 0 -m latency_accuracy`), and a busy machine widens nothing.
#
# A request's latency as the engine measured it is never shorter than the server's own time for it (from its
# handler's start to its answer, both taken on the server's side of the wire), and longer by the request's way to
# the server and the answer's way back. On the request's way lies the server's process waking up, which is not the
# engine's doing; on the answer's way lies everything the engine does late: an answer waits in the socket while the
# engine's event loop is busy with other connections, or blocked. So the total is bounded at the median (an engine
# that adds 8 ms to every sample is over it on every request), and the answer's way, from the server's answer to the
# engine reading it, at the 90th percentile (an engine whose event loop is blocked 30 ms every 50 requests holds up
# every answer that arrives meanwhile: at 12 connections a fifth of them, by up to 30 ms; 16 ms and more at p90).
MEDIAN_OVER_SERVER_MS = 3.0
P90_ANSWER_READ_MS = 8.0


def nearest_rank(sorted_values: Sequence[float], percentile: float) -> float:
    return sorted_values[max(1, math.ceil(percentile / 100 * len(sorted_values))) - 1]


def assert_measured_as_served(result: RunResult, served: Sequence[Served]) -> None:
    """Each request the engine measured, matched by its request id to the server's record of it: the server saw the
    warm-up and the measured requests once each, the engine measured each as the server served it, and its summary
    is exactly its per-request records."""
    by_id = {request.request_id: request for request in served}
    records = result.records
    assert len(by_id) == len(served) == result.load.warmup_requests + len(records)
    assert len({record.request_id for record in records}) == len(records)
    assert all(record.outcome is Outcome.OK and record.request_id in by_id for record in records)

    over_ms = sorted((record.latency_seconds - by_id[record.request_id].seconds) * 1000 for record in records)
    read_ms = sorted(
        (result.started_monotonic + completed - by_id[record.request_id].answered) * 1000
        for record in records
        if (completed := record.completed_offset_seconds) is not None
    )
    assert len(read_ms) == len(records)
    assert over_ms[0] >= 0, "the engine measured a request as shorter than the server took to answer it"
    assert read_ms[0] >= 0, "the engine read an answer before the server wrote it"
    median_over, p90_read = nearest_rank(over_ms, 50), nearest_rank(read_ms, 90)
    assert median_over <= MEDIAN_OVER_SERVER_MS, f"median {median_over:.2f} ms over the server's time"
    assert p90_read <= P90_ANSWER_READ_MS, f"90th percentile {p90_read:.2f} ms from the server's answer to its read"

    from_records = new_histogram()
    for record in records:
        from_records.record_value(microseconds(record.latency_seconds))
    histogram = result.measurement.histogram
    assert histogram.get_total_count() == from_records.get_total_count()
    for percentile in (50.0, 90.0, 99.0, 99.9, 100.0):
        summarized, recorded = (found.get_value_at_percentile(percentile) for found in (histogram, from_records))
        assert summarized == recorded, f"p{percentile:g}: {summarized} µs in the summary, {recorded} µs in the records"


def bracket_of_measured(
    arrival_order: Sequence[float], warmup: int, concurrency: int, percentile: float
) -> tuple[float, float]:
    """Where ``percentile`` (ranked as HdrHistogram ranks it) of the measured requests' times lies, when a server's
    record tells a closed loop's warm-up from its measured requests only by the order they arrived in.

    The engine sends its requests in order, so a warm-up request can arrive after a measured one only if it was in
    flight when the first measured one was sent: at most ``concurrency - 1`` of them. Swapping that many values moves
    a rank by at most as many places.
    """
    measured = sorted(arrival_order[warmup:])
    rank = max(1, int(percentile / 100 * len(measured) + 0.5))
    slack = concurrency - 1
    return measured[max(rank - slack, 1) - 1], measured[min(rank + slack, len(measured)) - 1]
