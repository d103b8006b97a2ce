"""Helpers of the benchmark tests: a clean AWS environment, and a target pointed at a local model server."""

from __future__ import annotations

import pytest

from lowlatency.benchmark.signing import Target, resolve_target
from lowlatency.emulators.model_server import ModelServer, RuntimeCredentials

ACCESS_KEY = "AKIDBENCHMARKTEST"
SECRET_KEY = "benchmark-test-secret"
REGION = "us-east-1"
CREDENTIALS = RuntimeCredentials(ACCESS_KEY, SECRET_KEY)


def isolate_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Static credentials and region in the environment; no profile, config file or endpoint override of the host."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


def target_of(server: ModelServer, monkeypatch: pytest.MonkeyPatch, endpoint: str = "bid-filter") -> Target:
    """The target boto3's configuration resolves when the runtime endpoint override names the model server."""
    isolate_aws_environment(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", server.url)
    return resolve_target(endpoint)
