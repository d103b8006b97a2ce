"""What the reliability tests share: the operator reaching AWS through the fault proxy, and a full inventory of AWS.

The inventory lists *everything* the AWS emulator holds of the kinds the operator makes (SageMaker endpoints,
endpoint configs and models with their owner tags; Application Auto Scaling targets, policies and scheduled
actions; runtime VPC endpoints, each by its own id, and whether the operator made them), not only what the operator
would look for, so that a duplicate under another name or a leaked resource shows up as a difference from what
should exist.
:func:`serves_the_spec` checks the other half of "the right state": the endpoint runs what status and spec say.

The fixtures that set these up are in :mod:`reliability_fixtures`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e_support import EndToEnd, Resource, condition, status_of
from fixtures_kubernetes import ROOT
from lowlatency.desired import MANAGER, TAG_MANAGED_BY, TAG_UID
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.emulators.faults import FaultProxy
from operator_process import OperatorProcess

# A VPC endpoint in one of these states is on its way out or gone: it costs nothing and serves nothing.
VPC_ENDPOINT_GONE = {"deleting", "deleted", "failed", "rejected", "expired"}
VARIANT = "AllTraffic"
# Short enough that a slow answer times out within a test, long enough for the emulator's normal answers on a loaded
# two-core machine.
READ_TIMEOUT_SECONDS = 1.0
AUDIT_SECONDS = 2.0
OPERATOR_ARGUMENTS = ["--aws-read-timeout", str(READ_TIMEOUT_SECONDS), "--audit-seconds", str(AUDIT_SECONDS)]


@dataclass(frozen=True, order=True)
class Held:
    """One AWS resource: its kind, its name (``<VPC id>/<VPC endpoint id>`` for a VPC endpoint, so that two in one
    VPC are two) and the uids its tags name as owner ("" when it carries no owner tag; autoscaling carries none: it
    belongs to its endpoint; a VPC endpoint has ``managed`` when the operator made it, ``unmanaged`` otherwise)."""

    kind: str
    name: str
    owners: str = ""


@dataclass
class ProxiedEndToEnd(EndToEnd):
    """The end-to-end setup with the operator reaching AWS only through the fault proxy."""

    proxy: FaultProxy


def operator_through(
    proxy: FaultProxy, aws: AwsEmulator, kubeconfig: Path, log_path: Path, arguments: Sequence[str]
) -> OperatorProcess:
    """The operator process (not started) with every AWS call going through ``proxy``."""
    return OperatorProcess(kubeconfig, {**aws.environment(), "AWS_ENDPOINT_URL": proxy.url}, log_path, arguments)


def _sagemaker_owner(e2e: EndToEnd, arn: str) -> str:
    tags = e2e.tags(arn)
    return tags.get(TAG_UID, "") if tags.get(TAG_MANAGED_BY) == MANAGER else ""


def aws_inventory(e2e: EndToEnd) -> set[Held]:
    """Every endpoint, config, model, scalable target, scaling policy, scheduled action and live VPC endpoint."""
    sagemaker, autoscaling = e2e.sagemaker, e2e.autoscaling
    held = {
        Held("endpoint", e["EndpointName"], _sagemaker_owner(e2e, e["EndpointArn"]))
        for e in sagemaker.list_endpoints(MaxResults=100)["Endpoints"]
    }
    held |= {
        Held("endpoint-config", c["EndpointConfigName"], _sagemaker_owner(e2e, c["EndpointConfigArn"]))
        for c in sagemaker.list_endpoint_configs(MaxResults=100)["EndpointConfigs"]
    }
    held |= {
        Held("model", m["ModelName"], _sagemaker_owner(e2e, m["ModelArn"]))
        for m in sagemaker.list_models(MaxResults=100)["Models"]
    }
    scope = {"ServiceNamespace": "sagemaker"}
    held |= {
        Held("scalable-target", t["ResourceId"])
        for t in autoscaling.describe_scalable_targets(**scope)["ScalableTargets"]
    }
    held |= {
        Held("scaling-policy", f"{p['ResourceId']}/{p['PolicyName']}")
        for p in autoscaling.describe_scaling_policies(**scope)["ScalingPolicies"]
    }
    held |= {
        Held("scheduled-action", f"{a['ResourceId']}/{a['ScheduledActionName']}")
        for a in autoscaling.describe_scheduled_actions(**scope)["ScheduledActions"]
    }
    for found in e2e.ec2.describe_vpc_endpoints()["VpcEndpoints"]:
        if found.get("State", "").lower() in VPC_ENDPOINT_GONE:
            continue
        tags = {tag["Key"]: tag["Value"] for tag in found.get("Tags", [])}
        managed = "managed" if tags.get(TAG_MANAGED_BY) == MANAGER else "unmanaged"
        held.add(Held("vpc-endpoint", f"{found['VpcId']}/{found['VpcEndpointId']}", managed))
    return held


def expected_inventory(
    uid: str, status: dict[str, Any], *, autoscaled: bool = True, vpc_id: str | None = None
) -> set[Held]:
    """What one live resource should have in AWS: its endpoint, the config and model its status names, its
    autoscaling target and target-tracking policy, and the runtime endpoint its status names in the VPC ``vpc_id``
    (made by the operator)."""
    endpoint = status["endpointName"]
    held = {
        Held("endpoint", endpoint, uid),
        Held("endpoint-config", status["endpointConfigName"], uid),
        Held("model", status["modelName"], uid),
    }
    if autoscaled:
        resource_id = f"endpoint/{endpoint}/variant/{VARIANT}"
        held |= {
            Held("scalable-target", resource_id),
            Held("scaling-policy", f"{resource_id}/{endpoint}-invocations-per-instance"),
        }
    if vpc_id is not None:
        held.add(Held("vpc-endpoint", f"{vpc_id}/{status.get('vpcEndpointId')}", "managed"))
    return held


def uid_of(resource: Resource) -> str:
    uid: str = resource["metadata"]["uid"]
    return uid


def retrying(found: Resource) -> bool:
    return condition(found, "Ready").get("reason") == "Retrying"


def wait_for_inventory(e2e: EndToEnd, expected: set[Held], what: str, timeout: float = 30) -> None:
    """Wait until AWS holds exactly ``expected`` (cleanup of superseded resources may trail the status by a pass)."""
    last: list[set[Held]] = []

    def matches() -> bool:
        last[:] = [aws_inventory(e2e)]
        return last[0] == expected

    try:
        e2e.wait(matches, what, timeout=timeout)
    except AssertionError as timed_out:
        held = last[0] if last else set()
        raise AssertionError(
            f"{what}: AWS holds\n  extra: {sorted(held - expected)}\n  missing: {sorted(expected - held)}"
        ) from timed_out


def serves_the_spec(sagemaker: Any, resource: Resource) -> None:
    """The endpoint status names is live on the config status names, whose one model is the model status names,
    and it runs the spec's image (in that model's container and in what DescribeEndpoint says is deployed)."""
    status, image = status_of(resource), resource["spec"]["model"]["image"]
    live = sagemaker.describe_endpoint(EndpointName=status["endpointName"])
    assert live["EndpointConfigName"] == status["endpointConfigName"], (live["EndpointConfigName"], status)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=live["EndpointConfigName"])
    models = {variant["ModelName"] for variant in config["ProductionVariants"]}
    assert models == {status["modelName"]}, (models, status)
    model = sagemaker.describe_model(ModelName=status["modelName"])
    assert model["PrimaryContainer"]["Image"] == image, (model["PrimaryContainer"], image)
    deployed = [
        deployed["SpecifiedImage"]
        for variant in live["ProductionVariants"]
        for deployed in variant.get("DeployedImages", [])
    ]
    assert set(deployed) == {image}, (live["ProductionVariants"], image)


def report_rows(section: str) -> dict[str, str]:
    """The rows of a table in docs/reliability.md's section ``section``, by their first column."""
    report = (ROOT / "docs" / "reliability.md").read_text()
    body = report.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in body.splitlines() if line.startswith("| ") and not line.startswith("| Class |")]
    return {row.split("|")[1].strip(): row for row in rows}


def names_of_tests(row: str) -> list[str]:
    """The test functions a report row names (in backquotes)."""
    return re.findall(r"`(test_\w+)`", row)
