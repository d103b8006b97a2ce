"""InvokeEndpoint's way to a model container: which variant answers, the copy sent to a shadow variant, and the call
of the model server that stands in for the container.

What SageMaker Runtime does with a request, and what is imitated here (:mod:`.sagemaker` decides whether the endpoint
serves at all; :mod:`.serverless` whether a serverless variant takes it):

- **Routing by weight**: "The traffic to a production variant is determined by the ratio of the VariantWeight to the
  sum of all VariantWeight values across all ProductionVariants"
  (botocore sagemaker ProductionVariant.InitialVariantWeight): each request goes to a production variant drawn at
  random in proportion to the variants' current weights (``CurrentWeight``, which moves to the desired weight when an
  update completes); a variant of weight 0 gets none. AWS does not document what a request meets when every
  production weight is 0; the emulator answers ``ValidationError`` (botocore sagemaker-runtime ValidationError,
  HTTP 400).
- **TargetVariant** (header ``X-Amzn-SageMaker-Target-Variant``): "Specify the production variant to send the
  inference request to ... this parameter overrides the default behavior for the endpoint, which is to distribute the
  invocation traffic based on the variant weights" (botocore sagemaker-runtime InvokeEndpointInput.TargetVariant): the
  named production variant answers, whatever its weight. A name that is not one of the endpoint's production variants
  is refused with ``ValidationError``; a shadow variant is not a production variant, and the emulator refuses it too
  (the strict reading: AWS documents targeting production variants only). The message texts are the emulator's own.
- **The answering variant** is named in the response header ``x-Amzn-Invoked-Production-Variant``
  (botocore sagemaker-runtime InvokeEndpointOutput.InvokedProductionVariant).
- **Shadow variants**: "A shadow variant that receives a percentage of the incoming requests, replicated from the
  production variant, but does not return any responses"; an endpoint with a shadow variant has one production
  variant (https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-create.html). Each request the production
  variant serves is copied to the shadow variant with a probability of the shadow's current weight divided by the
  production variant's (at most 1), the weights being the variants' share of traffic as for production variants; AWS
  documents the share as a "traffic sampling percentage" (at most 100,
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ShadowModelVariantConfig.html) without saying how
  weights give it, so the ratio is the emulator's reading. The copy goes to the shadow's model server in the
  background; its answer, or error, is discarded and never delays or changes the caller's.
- **The container call**: the body and Content-Type go to the container as ``POST /invocations``, its answer comes
  back; a container error becomes ``ModelError`` (HTTP 424) with the container's status code (botocore
  sagemaker-runtime ModelError). What each call took and how it ended is published as SageMaker's invocation
  metrics in CloudWatch, for production and shadow variants alike (:mod:`.metrics`).

Each variant's model server is set from Python (:meth:`.sagemaker.SageMakerEndpoints.route_invocations`), and what
the emulator sent to each variant is counted (:class:`VariantTraffic`), for tests to compare with what each model
server received.
"""

from __future__ import annotations

import contextlib
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Final

from moto.core.models import DEFAULT_ACCOUNT_ID

from lowlatency.emulators.aws.endpoint_state import Variant
from lowlatency.emulators.aws.gateway import ApiRequest, Reply, ServiceError

INVOCATION_TIMEOUT_SECONDS: Final = 60.0
TARGET_VARIANT_HEADER: Final = "x-amzn-sagemaker-target-variant"


def runtime_validation_error(message: str) -> ServiceError:
    """The SageMaker Runtime's answer to a request it refuses as sent (botocore sagemaker-runtime ValidationError)."""
    return ServiceError("ValidationError", message)


@dataclass
class VariantTraffic:
    """What the emulator did with the requests for one variant: sent to its model server (``invocations``: the
    caller's requests it answered, and for a shadow variant the copies), after a cold start (``cold_starts``), or
    refused as throttled (``throttled``)."""

    invocations: int = 0
    cold_starts: int = 0
    throttled: int = 0


class TrafficLog:
    """Per endpoint and variant, what :class:`VariantTraffic` counts; safe to use from the concurrent handlers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._traffic: dict[tuple[str, str], VariantTraffic] = {}

    def count(self, endpoint_name: str, variant: str, *, invocations: int = 0, cold: bool = False) -> None:
        with self._lock:
            traffic = self._traffic.setdefault((endpoint_name, variant), VariantTraffic())
            traffic.invocations += invocations
            traffic.cold_starts += int(cold)

    def count_throttled(self, endpoint_name: str, variant: str) -> None:
        with self._lock:
            self._traffic.setdefault((endpoint_name, variant), VariantTraffic()).throttled += 1

    def of(self, endpoint_name: str) -> dict[str, VariantTraffic]:
        with self._lock:
            return {
                variant: VariantTraffic(traffic.invocations, traffic.cold_starts, traffic.throttled)
                for (name, variant), traffic in self._traffic.items()
                if name == endpoint_name
            }

    def clear(self) -> None:
        with self._lock:
            self._traffic.clear()


def choose_variant(
    endpoint_name: str, production: Sequence[Variant], target: str | None, rng: random.Random
) -> Variant:
    """The production variant that answers a request: the target, or one drawn by current weight."""
    if target is not None:
        chosen = next((variant for variant in production if variant.name == target), None)
        if chosen is None:
            raise runtime_validation_error(
                f"Target variant {target} is not a production variant of endpoint {endpoint_name} of account "
                f"{DEFAULT_ACCOUNT_ID}; its production variants are {[variant.name for variant in production]}."
            )
        return chosen
    weights = [variant.current_weight for variant in production]
    if sum(weights) <= 0:
        raise runtime_validation_error(
            f"Endpoint {endpoint_name} of account {DEFAULT_ACCOUNT_ID} has no production variant with a weight "
            "above 0: name one with TargetVariant."
        )
    return rng.choices(list(production), weights=weights)[0]


def mirrored(shadow: Variant, production: Variant, rng: random.Random) -> bool:
    """Whether a request the production variant serves is copied to the shadow variant (the module's docstring)."""
    if shadow.current_weight <= 0:
        return False
    share = shadow.current_weight / production.current_weight if production.current_weight > 0 else 1.0
    return rng.random() < share


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


class ShadowCopies:
    """Copies of requests sent to shadow variants' model servers in the background; their answers are discarded."""

    def __init__(self) -> None:
        self._senders = ThreadPoolExecutor(max_workers=8, thread_name_prefix="shadow-copy")
        self._lock = threading.Lock()
        self._pending: set[Future[None]] = set()

    def send(self, call: Callable[[], Reply]) -> None:
        """Make ``call`` (of a shadow variant's model container with a copy of a request) in the background."""
        copy = self._senders.submit(self._send, call)
        with self._lock:
            self._pending.add(copy)
        copy.add_done_callback(self._forget)

    @staticmethod
    def _send(call: Callable[[], Reply]) -> None:
        with contextlib.suppress(ServiceError):
            call()

    def _forget(self, copy: Future[None]) -> None:
        with self._lock:
            self._pending.discard(copy)

    def wait(self, timeout: float) -> None:
        """Wait until the copies sent so far have been answered."""
        with self._lock:
            pending = set(self._pending)
        _, not_done = wait(pending, timeout)
        if not_done:
            raise TimeoutError(f"{len(not_done)} shadow copies still unanswered after {timeout} s")
