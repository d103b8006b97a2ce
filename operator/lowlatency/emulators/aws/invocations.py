"""InvokeEndpoint's way to the model container: ``POST /invocations`` on the model server that stands in for it.

What SageMaker Runtime does with a request (the body and Content-Type go to the container, its answer comes back, a
container error becomes ``ModelError``, HTTP 424, with the container's status code) is described in
:mod:`.sagemaker`, which decides whether the endpoint serves at all.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Final

from moto.core.models import DEFAULT_ACCOUNT_ID

from lowlatency.emulators.aws.gateway import ApiRequest, Reply, ServiceError

INVOCATION_TIMEOUT_SECONDS: Final = 60.0


def forward_invocation(url: str, request: ApiRequest, variant: str, endpoint_name: str) -> Reply:
    """Call the model container as SageMaker does: ``POST /invocations`` with the body and Content-Type."""
    headers = {"Content-Type": request.headers.get("content-type") or "application/octet-stream"}
    for name in ("accept", "x-amzn-sagemaker-custom-attributes"):
        if name in request.headers:
            headers[name] = request.headers[name]
    call = urllib.request.Request(f"{url}/invocations", data=request.body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(call, timeout=INVOCATION_TIMEOUT_SECONDS) as answer:
            body = answer.read()
            reply_headers = [
                ("Content-Type", answer.headers.get("Content-Type", "application/octet-stream")),
                ("x-Amzn-Invoked-Production-Variant", variant),
            ]
            custom = answer.headers.get("X-Amzn-SageMaker-Custom-Attributes")
            if custom:
                reply_headers.append(("X-Amzn-SageMaker-Custom-Attributes", custom))
            return Reply(200, reply_headers, body)
    except urllib.error.HTTPError as error:
        status, message = error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        status, message = 0, str(getattr(error, "reason", error))
    side = "client" if 400 <= status < 500 else "server"
    log_group = f"/aws/sagemaker/Endpoints/{endpoint_name}"
    raise ServiceError(
        "ModelError",
        f'Received {side} error ({status}) from {variant} with message "{message}". '
        f"See the log group {log_group} in account {DEFAULT_ACCOUNT_ID} for more information.",
        424,
        {"OriginalStatusCode": status, "OriginalMessage": message, "LogStreamArn": log_group},
    )
