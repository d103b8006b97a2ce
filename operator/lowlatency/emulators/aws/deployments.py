"""The rules SageMaker applies to UpdateEndpoint's DeploymentConfig (deployment guardrails) beyond its shape.

botocore checks the shape before a request leaves the client (required members, types); what is checked here is
what only the service checks: value ranges and the combinations SageMaker refuses, each with the page of AWS's
documentation or the botocore shape it comes from. Refusals are ``ValidationException`` as SageMaker answers them;
their texts are this emulator's own where SageMaker's are not documented.

- Ranges and sizes: botocore sagemaker BlueGreenUpdatePolicy, RollingUpdatePolicy and TrafficRoutingConfig (canary
  at most 50 %, linear steps 10-50 %, rolling batches 5-50 %, waits 0-3600 s).
- The deployment's time limit, ``MaximumExecutionTimeoutInSeconds`` (600-28800 s, optional), "should be larger than
  the total waiting time specified in TerminationWaitInSeconds and WaitIntervalInSeconds"
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_BlueGreenUpdatePolicy.html; for rolling
  deployments "the time limit for the total deployment",
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_RollingUpdatePolicy.html). How SageMaker adds the
  waits up is not documented; the emulator counts one ``WaitIntervalInSeconds`` per baking period, as the deployment
  guardrails pages describe them (one after all-at-once shifting, two for canary, one per linear step or rolling
  batch, https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails.html), plus the termination wait, and
  refuses a limit that is not larger: the strictest reading, so that a deployment the operator sends cannot time out.
- "When doing a blue/green or rolling deployment, your new endpoint configuration must have the same variant name as
  the old endpoint configuration" (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html):
  an UpdateEndpoint with a DeploymentConfig that renames, adds or removes a variant, production or shadow, or turns
  one into the other, is refused.
- "If you're doing a rolling deployment, there are additional feature-based exclusions: Serverless inference
  endpoints; Multi-variant inference endpoints" (same page): a RollingUpdatePolicy is refused when the endpoint or
  the new config has a serverless variant or more than one variant. The emulator counts a shadow variant as a
  variant of a multi-variant endpoint, the strict reading. A blue/green deployment of a serverless endpoint is not
  excluded there, and is accepted. Endpoints that use Marketplace containers or Inf1 instances "fall back to using a
  blue/green deployment with all at once traffic shifting and no final baking period" (same page): the emulator's
  updates take ``Delays.update`` whatever the policy, so the fall-back changes nothing that it shows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lowlatency.emulators.aws.endpoint_state import Variant
from lowlatency.emulators.aws.gateway import validation_error


def validate_deployment_config(config: Mapping[str, Any], fleet_size: int) -> None:
    """The rules SageMaker applies to a DeploymentConfig beyond its shape (botocore checks required members);
    ``fleet_size``: the instances of the new fleet, which INSTANCE_COUNT step sizes divide."""
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
    if policy is not None and "MaximumExecutionTimeoutInSeconds" in policy:
        waits = total_wait_seconds(config, fleet_size)
        if int(policy["MaximumExecutionTimeoutInSeconds"]) <= waits:
            raise validation_error(
                f"MaximumExecutionTimeoutInSeconds ({policy['MaximumExecutionTimeoutInSeconds']}) must be larger "
                f"than the total waiting time of the deployment ({waits} seconds of WaitIntervalInSeconds and "
                "TerminationWaitInSeconds)."
            )
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


def total_wait_seconds(config: Mapping[str, Any], fleet_size: int) -> int:
    """What a deployment waits in all: a baking period of WaitIntervalInSeconds after each traffic shift (or batch),
    and TerminationWaitInSeconds before the old fleet goes."""
    blue_green = config.get("BlueGreenUpdatePolicy")
    if blue_green is not None:
        routing = blue_green["TrafficRoutingConfiguration"]
        shifts = {"CANARY": 2, "LINEAR": _steps(routing.get("LinearStepSize"), fleet_size)}.get(routing["Type"], 1)
        return shifts * int(routing["WaitIntervalInSeconds"]) + int(blue_green.get("TerminationWaitInSeconds", 0))
    rolling = config["RollingUpdatePolicy"]
    return _steps(rolling["MaximumBatchSize"], fleet_size) * int(rolling["WaitIntervalInSeconds"])


def _steps(size: Mapping[str, Any] | None, fleet_size: int) -> int:
    """How many steps of ``size`` (a CapacitySize) move the whole fleet."""
    if size is None:
        return 1
    value = int(size["Value"])
    whole = 100 if size["Type"] == "CAPACITY_PERCENT" else fleet_size
    return max(1, math.ceil(whole / value))


def require_guardrails_allowed(config: Mapping[str, Any], live: list[Variant], new: list[Variant]) -> None:
    """The exclusions of deployment guardrails (the module's docstring) for an UpdateEndpoint with ``config``."""
    if "RollingUpdatePolicy" in config:
        serverless = any(variant.desired_serverless is not None for variant in live + new)
        if serverless or len(live) > 1 or len(new) > 1:
            raise validation_error(
                "A rolling deployment is not supported for serverless or multi-variant endpoints: use a "
                "BlueGreenUpdatePolicy."
            )
    _require_same_variants(live, new)


def _require_same_variants(live: list[Variant], new: list[Variant]) -> None:
    """Deployment guardrails move traffic variant by variant: the new config must name the live variants, each in
    the same role (production or shadow)."""
    if _names(live) != _names(new):
        raise validation_error(
            f"The variant names of the new endpoint configuration {_names(new)} must be the same as those of the "
            f"current one {_names(live)} for a blue/green or rolling deployment."
        )


def _names(variants: list[Variant]) -> str:
    production = sorted(variant.name for variant in variants if not variant.shadow)
    shadows = sorted(variant.name for variant in variants if variant.shadow)
    return f"{production} with shadow {shadows}" if shadows else str(production)
