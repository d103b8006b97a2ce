"""What the end-to-end tests share: the operator process against both emulators, and a user's view of it.

A test drives the resource exactly as a user does, with the real kubectl (apply a YAML document, get as JSON, merge
patch, delete and wait), and judges the AWS side through boto3 clients of the AWS emulator and its call log.

The ``e2e`` fixture that sets it up is in :mod:`e2e_fixtures` (test modules load it with ``pytest_plugins``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import yaml

from fixtures_aws import ManualClock
from fixtures_kubernetes import Kubectl
from lowlatency.emulators.aws import AwsEmulator, boto3_settings
from operator_process import OperatorProcess, wait_for
from specs import bid_filter_spec

NAMESPACE = "adtech"
T = TypeVar("T")
Resource = dict[str, Any]


def condition(resource: Resource | None, kind: str) -> dict[str, Any]:
    """A status condition of the resource, or an empty mapping when it has none of that type."""
    conditions = ((resource or {}).get("status") or {}).get("conditions") or []
    return next((found for found in conditions if found.get("type") == kind), {})


def manifest(name: str, spec: dict[str, Any]) -> str:
    """The YAML a user applies for a resource in the test namespace."""
    document = {
        "apiVersion": "lowlatency.io/v1alpha1",
        "kind": "LowLatencyEndpoint",
        "metadata": {"namespace": NAMESPACE, "name": name},
        "spec": spec,
    }
    return yaml.safe_dump(document)


def status_of(resource: Resource | None) -> dict[str, Any]:
    return dict((resource or {}).get("status") or {})


@contextlib.contextmanager
def operator_in_namespace(
    kubectl: Kubectl,
    kubeconfig: Path,
    aws_environment: Mapping[str, str],
    log_path: Path,
    arguments: Sequence[str] = (),
) -> Iterator[OperatorProcess]:
    """The test namespace created and the operator process running (stopped on the way out)."""
    kubectl("create", "namespace", NAMESPACE)
    operator = OperatorProcess(kubeconfig, aws_environment, log_path, arguments)
    operator.start()
    try:
        yield operator
    finally:
        operator.stop()


@dataclass
class EndToEnd:
    """A user with kubectl in one namespace, the operator process, and the AWS emulator behind it."""

    kubectl: Kubectl
    operator: OperatorProcess
    aws: AwsEmulator

    # --- the Kubernetes side, through kubectl ----------------------------------------------------------------

    def apply(self, name: str, spec: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input=manifest(name, spec))

    def get(self, name: str) -> Resource | None:
        result = self.kubectl("get", "lle", name, "-n", NAMESPACE, "-o", "json", check=False)
        if result.returncode != 0:
            assert "NotFound" in result.stderr, result.stderr
            return None
        found: Resource = json.loads(result.stdout)
        return found

    def patch(self, name: str, spec: dict[str, Any]) -> int:
        """Merge-patch the spec (``None`` removes a field); the resource's new generation."""
        patch = json.dumps({"spec": spec})
        result = self.kubectl("patch", "lle", name, "-n", NAMESPACE, "--type", "merge", "-p", patch, "-o", "json")
        generation: int = json.loads(result.stdout)["metadata"]["generation"]
        return generation

    def delete(self, name: str) -> None:
        """Delete and wait until the object is gone (the finalizer has run)."""
        self.kubectl("delete", "lle", name, "-n", NAMESPACE, "--wait", "--timeout=60s", timeout=70)
        assert self.get(name) is None

    def events(self, name: str) -> list[dict[str, Any]]:
        """The Events about the resource, as ``kubectl get events`` lists them."""
        listed = json.loads(self.kubectl("get", "events", "-n", NAMESPACE, "-o", "json").stdout)["items"]
        return [event for event in listed if event.get("involvedObject", {}).get("name") == name]

    def wait(self, probe: Callable[[], T | None], what: str, timeout: float = 30) -> T:
        return wait_for(probe, timeout=timeout, what=what, operator=self.operator)

    def wait_for_status(self, name: str, check: Callable[[Resource], bool], what: str, timeout: float = 30) -> Resource:
        def probe() -> Resource | None:
            found = self.get(name)
            return found if found is not None and check(found) else None

        return self.wait(probe, f"{name}: {what}", timeout)

    def wait_in_service(self, name: str, generation: int = 1, timeout: float = 30) -> Resource:
        """InService, Ready, with ``generation`` live (observedGeneration) and the latest generation asked for."""

        def live(found: Resource) -> bool:
            status = status_of(found)
            return (
                status.get("phase") == "InService"
                and condition(found, "Ready").get("status") == "True"
                and status.get("observedGeneration") == generation == found["metadata"]["generation"]
            )

        return self.wait_for_status(name, live, f"InService at generation {generation}", timeout)

    def create(self, name: str, spec: dict[str, Any] | None = None) -> Resource:
        """Apply the resource (the bid-filter spec by default) and wait until it is InService."""
        self.apply(name, spec if spec is not None else bid_filter_spec())
        return self.wait_in_service(name)

    # --- the AWS side, through boto3 and the emulator's call log ---------------------------------------------

    def client(self, service: str) -> Any:
        return boto3.client(service, **boto3_settings(self.aws))  # type: ignore[call-overload]

    @functools.cached_property
    def sagemaker(self) -> Any:
        return self.client("sagemaker")

    @functools.cached_property
    def autoscaling(self) -> Any:
        return self.client("application-autoscaling")

    @functools.cached_property
    def ec2(self) -> Any:
        return self.client("ec2")

    def inventory(self) -> tuple[list[str], list[str], list[str]]:
        """Names of every SageMaker endpoint, endpoint config and model, sorted."""
        sagemaker = self.sagemaker
        endpoints = sorted(e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"])
        configs = sorted(c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"])
        models = sorted(m["ModelName"] for m in sagemaker.list_models()["Models"])
        return endpoints, configs, models

    def tags(self, arn: str) -> dict[str, str]:
        return {tag["Key"]: tag["Value"] for tag in self.sagemaker.list_tags(ResourceArn=arn)["Tags"]}

    def operations(self) -> list[str]:
        """Every operation the emulator answered, in order."""
        return [call.operation for call in self.aws.calls()]

    def succeeded(self, operation: str) -> int:
        return sum(1 for call in self.aws.calls(operation=operation) if call.status == 200)

    def after_passes(self, passes: int = 3) -> None:
        """Let the operator look at AWS ``passes`` more times (each pass begins with DescribeEndpoint)."""
        seen = self.aws.count("DescribeEndpoint")
        self.wait(lambda: self.aws.count("DescribeEndpoint") >= seen + passes, f"{passes} more passes", timeout=20)

    def freeze_sagemaker(self) -> ManualClock:
        """Stop SageMaker's clock here: whatever is Creating or Updating stays so until the clock is advanced.

        The next test's emulator reset restores the real clock.
        """
        clock = ManualClock(start=time.time())
        self.aws.sagemaker.clock = clock
        return clock

    def thaw_sagemaker(self, frozen: ManualClock) -> None:
        """Let SageMaker's clock run again from where ``frozen`` stands, so that later steps of the test move at the
        emulator's own pace. Never backwards: what started while it was frozen is due when it was."""
        offset = frozen() - time.time()
        self.aws.sagemaker.clock = lambda: time.time() + offset


@dataclass(frozen=True)
class Scaling:
    """A variant's Application Auto Scaling, as the service describes it, reduced to what a spec sets."""

    capacity: tuple[int, int] | None  # min, max of the scalable target; None when not registered
    policies: tuple[tuple[str, float, int, int], ...]  # metric, target value, scale-in and scale-out cooldowns
    schedules: tuple[tuple[str, str, int, int], ...]  # name, schedule, min, max


def describe_scaling(autoscaling: Any, resource_id: str) -> Scaling:
    scope = {"ServiceNamespace": "sagemaker", "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
    targets = autoscaling.describe_scalable_targets(ResourceIds=[resource_id], **scope)["ScalableTargets"]
    policies = autoscaling.describe_scaling_policies(ResourceId=resource_id, **scope)["ScalingPolicies"]
    scheduled = autoscaling.describe_scheduled_actions(ResourceId=resource_id, **scope)["ScheduledActions"]
    tracking = [policy["TargetTrackingScalingPolicyConfiguration"] for policy in policies]
    return Scaling(
        capacity=(targets[0]["MinCapacity"], targets[0]["MaxCapacity"]) if targets else None,
        policies=tuple(
            (
                config["PredefinedMetricSpecification"]["PredefinedMetricType"],
                config["TargetValue"],
                config["ScaleInCooldown"],
                config["ScaleOutCooldown"],
            )
            for config in tracking
        ),
        schedules=tuple(
            sorted(
                (
                    action["ScheduledActionName"],
                    action["Schedule"],
                    action["ScalableTargetAction"]["MinCapacity"],
                    action["ScalableTargetAction"]["MaxCapacity"],
                )
                for action in scheduled
            )
        ),
    )


def create_network(ec2: Any, cidr: str = "10.20.0.0/16") -> dict[str, Any]:
    """A VPC with one subnet and one security group, as ``spec.vpcEndpoint`` names them; its DNS hostnames are on,
    as the endpoint's private DNS requires (CreateVpc leaves them off)."""
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr.replace("0.0/16", "1.0/24"))["Subnet"]["SubnetId"]
    group_id = ec2.create_security_group(GroupName="runtime-clients", Description="HTTPS", VpcId=vpc_id)["GroupId"]
    return {"vpcId": vpc_id, "subnetIds": [subnet_id], "securityGroupIds": [group_id]}
