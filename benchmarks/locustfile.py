"""Locust users for benchmarks/engine.py: the two ways Locust is commonly pointed at a SageMaker endpoint.

``FastInvoker``: Locust's fastest client (FastHttpUser, geventhttpclient), unsigned POSTs to the runtime path.
``Boto3Invoker``: boto3's ``invoke_endpoint`` in a plain User, timed and reported through Locust's request event,
as AWS's SageMaker load-testing sample does (every request signed by botocore).

The host (``--host``) is the runtime URL; the endpoint name comes from ``BENCHMARK_ENDPOINT``.
"""

from __future__ import annotations

import os
import time

import boto3
import botocore.config
from locust import FastHttpUser, User, constant, task

ENDPOINT = os.environ.get("BENCHMARK_ENDPOINT", "bench")
BODY = "0.2,1,0,3,0.7"


class FastInvoker(FastHttpUser):
    wait_time = constant(0)

    @task
    def invoke(self) -> None:
        self.client.post(f"/endpoints/{ENDPOINT}/invocations", data=BODY, headers={"Content-Type": "text/csv"})


class Boto3Invoker(User):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.runtime = boto3.client(
            "sagemaker-runtime",
            endpoint_url=self.host,
            config=botocore.config.Config(retries={"mode": "standard", "max_attempts": 1}),
        )

    @task
    def invoke(self) -> None:
        started = time.perf_counter()
        error: Exception | None = None
        length = 0
        try:
            answer = self.runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=BODY, ContentType="text/csv")
            length = len(answer["Body"].read())
        except Exception as failure:  # reported to Locust as a failed request
            error = failure
        self.environment.events.request.fire(
            request_type="InvokeEndpoint",
            name=ENDPOINT,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=error,
            context={},
        )
