"""The rules SageMaker applies to UpdateEndpoint's DeploymentConfig (deployment guardrails) beyond its shape.

botocore checks the shape before a request leaves the client (required members, types); what is checked here is
what only the service checks: value ranges and the combinations SageMaker refuses, each with the page of AWS's
documentation or the botocore shape it comes from. Refusals are ``ValidationException`` as SageMaker answers them;
their texts are this emulator's own where SageMaker's are not documented.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lowlatency.emulators.aws.gateway import validation_error


def validate_deployment_config(config: Mapping[str, Any]) -> None:
    """The rules SageMaker applies to a DeploymentConfig beyond its shape (botocore checks required members)."""
    blue_green = config.get("BlueGreenUpdatePolicy")
    rolling = config.get("RollingUpdatePolicy")
    if blue_green is not None and rolling is not None:
        raise validation_error("Only one of BlueGreenUpdatePolicy and RollingUpdatePolicy may be specified.")
    policy = blue_green if blue_green is not None else rolling
    if policy is not None:
        _within(policy, "MaximumExecutionTimeoutInSeconds", 600, 28800)
    if blue_green is not None:
        _within(blue_green, "TerminationWaitInSeconds", 0, 3600)
        routing = blue_green["TrafficRoutingConfiguration"]
        _within(routing, "WaitIntervalInSeconds", 0, 3600)
        kind = routing.get("Type")
        if kind not in {"ALL_AT_ONCE", "CANARY", "LINEAR"}:
            raise validation_error(f"Invalid TrafficRoutingConfiguration Type {kind!r}.")
        if kind == "CANARY":
            _percent_within(routing, "CanarySize", 1, 50)
        if kind == "LINEAR":
            _percent_within(routing, "LinearStepSize", 10, 50)
    if rolling is not None:
        _within(rolling, "WaitIntervalInSeconds", 0, 3600)
        _percent_within(rolling, "MaximumBatchSize", 5, 50)
    alarms = config.get("AutoRollbackConfiguration", {}).get("Alarms", [])
    if len(alarms) > 10:
        raise validation_error("AutoRollbackConfiguration accepts at most 10 alarms.")


def _within(settings: Mapping[str, Any], name: str, low: int, high: int) -> None:
    if name in settings and not low <= int(settings[name]) <= high:
        raise validation_error(f"{name} must be between {low} and {high}; got {settings[name]}.")


def _percent_within(settings: Mapping[str, Any], name: str, low: int, high: int) -> None:
    size = settings.get(name)
    if size is None:
        raise validation_error(f"{name} is required for this deployment policy.")
    if size.get("Type") == "CAPACITY_PERCENT" and not low <= int(size.get("Value", 0)) <= high:
        raise validation_error(f"{name} as CAPACITY_PERCENT must be between {low} and {high}; got {size.get('Value')}.")
