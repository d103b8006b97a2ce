"""Invalid specs are rejected at the earliest layer that can see the problem, with a message naming the field.

Each case says which layer must reject it first — the CRD's structural schema, its CEL rules, or the operator's
own validation (see ``admission``) — and the field the message must name. A case that no layer rejects, or that a
later layer than expected catches first, fails. The operator re-checks every rule of the earlier layers (for
objects stored before a rule existed), so each case must also be refused by the operator, except the transition
rules, which need the old object only the API server has, and unknown fields, which the API server prunes when
it does not refuse them (so the operator never sees one). Every case the API server must refuse goes through the
real kubectl to the Kubernetes API emulator; operator-only cases go through kubectl to the operator process: a
Failed ``InvalidSpec`` condition naming the field, and not one call to AWS.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from admission import Layer, document, first_rejecting_layer, names_the_field, rejections
from e2e_support import EndToEnd, condition, status_of
from fixtures_kubernetes import Kubectl
from lowlatency import naming
from lowlatency.desired import Owner, build_desired
from lowlatency.planner import Memory, Observed, ObservedEndpoint, plan
from operator_process import TEST_TIMING
from specs import bid_filter_spec, parsed

pytest_plugins = ["e2e_fixtures"]

REPO = Path(__file__).resolve().parent.parent
RESYNC_SECONDS = float(TEST_TIMING[TEST_TIMING.index("--resync-seconds") + 1])
SCALING = {"minCapacity": 2, "maxCapacity": 20}
VPC_ENDPOINT = {"vpcId": "vpc-0e3f", "subnetIds": ["subnet-0a1b"], "securityGroupIds": ["sg-0c2d"]}
BENCHMARK = {"payload": "0.2,1,0,3,0.7"}
SERVERLESS = {"memorySizeInMB": 2048, "maxConcurrency": 20}
INSTANCES = ("instanceType", "instanceCount")


@dataclass(frozen=True)
class Case:
    name: str
    spec: dict[str, Any]
    layer: Layer
    field: str
    old_spec: dict[str, Any] | None = None  # an update from this spec; a create when None
    operator_rechecks: bool = True


def spec(**overrides: Any) -> dict[str, Any]:
    return bid_filter_spec(**overrides)


def model(**overrides: Any) -> dict[str, Any]:
    return spec(model={**bid_filter_spec()["model"], **overrides})


def scaling(**overrides: Any) -> dict[str, Any]:
    return spec(autoscaling={**SCALING, **overrides})


def schedule(**overrides: Any) -> dict[str, Any]:
    return scaling(schedules=[{"name": "evening-peak", "cron": "cron(0 18 * * ? *)", **SCALING, **overrides}])


def deployment(**overrides: Any) -> dict[str, Any]:
    return spec(deployment=overrides)


def vpc_endpoint(**overrides: Any) -> dict[str, Any]:
    return spec(vpcEndpoint={**VPC_ENDPOINT, **overrides})


def benchmark(**overrides: Any) -> dict[str, Any]:
    return spec(benchmark={**BENCHMARK, **overrides})


def serverless(**overrides: Any) -> dict[str, Any]:
    return {
        name: value for name, value in spec(serverless={**SERVERLESS, **overrides}).items() if name not in INSTANCES
    }


def variant(name: str, **overrides: Any) -> dict[str, Any]:
    return {"name": name, "model": bid_filter_spec()["model"], "instanceType": "ml.c5.xlarge", **overrides}


def variants(*listed: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    shorthand = {name: value for name, value in spec().items() if name not in (*INSTANCES, "model")}
    return shorthand | {"variants": list(listed)} | overrides


def without(key: str) -> dict[str, Any]:
    return {name: value for name, value in spec().items() if name != key}


def unknown_field(name: str, spec: dict[str, Any], field: str) -> Case:
    """Refused by strict field validation (kubectl's default); otherwise pruned, never reaching the operator."""
    return Case(name, spec, "schema", field, operator_rechecks=False)


def model_without(key: str) -> dict[str, Any]:
    return spec(model={name: value for name, value in bid_filter_spec()["model"].items() if name != key})


CASE_CLASSES: dict[str, list[Case]] = {
    "Instance types and counts": [
        Case("instance type without ml. prefix", spec(instanceType="c5.xlarge"), "schema", "spec.instanceType"),
        Case("instance type in capitals", spec(instanceType="ml.C5.XLARGE"), "schema", "spec.instanceType"),
        Case("instance type without size", spec(instanceType="ml.c5"), "schema", "spec.instanceType"),
        Case("instance type too long", spec(instanceType="ml.c5." + "x" * 60), "schema", "spec.instanceType"),
        Case("instance count zero", spec(instanceCount=0), "schema", "spec.instanceCount"),
        Case("instance count above 1000", spec(instanceCount=1001), "schema", "spec.instanceCount"),
        Case("instance count as a string", spec(instanceCount="2"), "schema", "spec.instanceCount"),
        Case("instance count fractional", spec(instanceCount=2.5), "schema", "spec.instanceCount"),
    ],
    "S3 model URLs": [
        Case(
            "model URL over https",
            model(modelDataUrl="https://acme-models/m.tar.gz"),
            "schema",
            "spec.model.modelDataUrl",
        ),
        Case("model URL without key", model(modelDataUrl="s3://acme-models"), "schema", "spec.model.modelDataUrl"),
        Case(
            "model URL bucket in capitals",
            model(modelDataUrl="s3://Acme_Models/m.tar.gz"),
            "schema",
            "spec.model.modelDataUrl",
        ),
        Case("model URL bucket too short", model(modelDataUrl="s3://ab/m.tar.gz"), "schema", "spec.model.modelDataUrl"),
        Case(
            "model URL too long",
            model(modelDataUrl="s3://acme-models/" + "k" * 1010),
            "schema",
            "spec.model.modelDataUrl",
        ),
    ],
    "IAM role ARNs": [
        Case(
            "role ARN with short account",
            model(executionRoleArn="arn:aws:iam::123:role/x"),
            "schema",
            "spec.model.executionRoleArn",
        ),
        Case(
            "user ARN instead of role",
            model(executionRoleArn="arn:aws:iam::123456789012:user/x"),
            "schema",
            "spec.model.executionRoleArn",
        ),
        Case(
            "bucket ARN instead of role",
            model(executionRoleArn="arn:aws:s3:::acme-models"),
            "schema",
            "spec.model.executionRoleArn",
        ),
    ],
    "Container image and environment": [
        Case("image with a space", model(image="xgboost 1.7"), "schema", "spec.model.image"),
        Case("image empty", model(image=""), "schema", "spec.model.image"),
        Case("image too long", model(image="a" * 256), "schema", "spec.model.image"),
        Case(
            "101 environment variables",
            model(environment={f"V{i}": "x" for i in range(101)}),
            "schema",
            "spec.model.environment",
        ),
        Case(
            "environment value too long",
            model(environment={"MODE": "x" * 1025}),
            "schema",
            "spec.model.environment.MODE",
        ),
        Case(
            "environment name starting with a digit", model(environment={"1BAD": "x"}), "cel", "spec.model.environment"
        ),
        Case("environment name with a dash", model(environment={"MY-VAR": "x"}), "cel", "spec.model.environment"),
    ],
    "Model VPC config": [
        Case(
            "model VPC without subnets",
            model(vpcConfig={"subnets": [], "securityGroupIds": ["sg-1"]}),
            "schema",
            "spec.model.vpcConfig.subnets",
        ),
        Case(
            "model VPC bad security group",
            model(vpcConfig={"subnets": ["subnet-1"], "securityGroupIds": ["sg-XYZ"]}),
            "schema",
            "spec.model.vpcConfig.securityGroupIds[0]",
        ),
        Case(
            "model VPC subnet twice",
            model(vpcConfig={"subnets": ["subnet-1", "subnet-1"], "securityGroupIds": ["sg-1"]}),
            "schema",
            "spec.model.vpcConfig.subnets",
        ),
    ],
    "Region and its immutability": [
        Case("region that does not exist", spec(region="mars-1"), "schema", "spec.region"),
        Case("region in capitals", spec(region="US-EAST-1"), "schema", "spec.region"),
        Case(
            "region changed",
            spec(region="eu-west-1"),
            "cel",
            "spec.region",
            old_spec=spec(region="us-east-1"),
            operator_rechecks=False,
        ),
        Case(
            "region removed", spec(), "cel", "spec.region", old_spec=spec(region="us-east-1"), operator_rechecks=False
        ),
        # The endpoint already lives in the operator's default region: naming a region now could move it.
        Case("region added", spec(region="us-east-1"), "cel", "spec.region", old_spec=spec(), operator_rechecks=False),
    ],
    "Autoscaling capacities and targets": [
        Case("min capacity zero", scaling(minCapacity=0), "schema", "spec.autoscaling.minCapacity"),
        Case("max capacity above 1000", scaling(maxCapacity=1001), "schema", "spec.autoscaling.maxCapacity"),
        Case(
            "negative cooldown", scaling(scaleInCooldownSeconds=-1), "schema", "spec.autoscaling.scaleInCooldownSeconds"
        ),
        Case(
            "min above max capacity",
            spec(instanceCount=5, autoscaling={"minCapacity": 5, "maxCapacity": 2}),
            "cel",
            "spec.autoscaling",
        ),
        Case(
            "instance count below min capacity", spec(instanceCount=1, autoscaling=SCALING), "cel", "spec.instanceCount"
        ),
        Case(
            "instance count above max capacity",
            spec(instanceCount=30, autoscaling=SCALING),
            "cel",
            "spec.instanceCount",
        ),
        Case(
            "target zero",
            scaling(targetInvocationsPerInstance=0),
            "cel",
            "spec.autoscaling.targetInvocationsPerInstance",
        ),
        Case(
            "target above a million",
            scaling(targetInvocationsPerInstance=2_000_000),
            "cel",
            "spec.autoscaling.targetInvocationsPerInstance",
        ),
        Case(
            "target a long word",
            scaling(targetInvocationsPerInstance="automatic"),
            "schema",
            "spec.autoscaling.targetInvocationsPerInstance",
        ),
        Case(
            "target fractional",
            scaling(targetInvocationsPerInstance=1.5),
            "schema",
            "spec.autoscaling.targetInvocationsPerInstance",
        ),
    ],
    "Scheduled scaling: cron, rate and at expressions": [
        Case("cron without cron()", schedule(cron="0 18 * * ? *"), "schema", "spec.autoscaling.schedules[0].cron"),
        Case(
            "cron with five fields", schedule(cron="cron(0 18 * * *)"), "schema", "spec.autoscaling.schedules[0].cron"
        ),
        Case(
            "cron with day of month and week",
            schedule(cron="cron(0 18 1 * MON *)"),
            "schema",
            "spec.autoscaling.schedules[0].cron",
        ),
        Case("rate in weeks", schedule(cron="rate(5 weeks)"), "schema", "spec.autoscaling.schedules[0].cron"),
        Case("rate of 1 in plural", schedule(cron="rate(1 minutes)"), "schema", "spec.autoscaling.schedules[0].cron"),
        Case("cron hour 25", schedule(cron="cron(0 25 * * ? *)"), "operator", "spec.autoscaling.schedules[0].cron"),
        Case("cron minute 70", schedule(cron="cron(70 18 * * ? *)"), "operator", "spec.autoscaling.schedules[0].cron"),
        Case("cron month 13", schedule(cron="cron(0 18 ? 13 MON *)"), "operator", "spec.autoscaling.schedules[0].cron"),
        Case(
            "at() on 30 February",
            schedule(cron="at(2027-02-30T10:00:00)"),
            "operator",
            "spec.autoscaling.schedules[0].cron",
        ),
        Case(
            "at() at hour 25",
            schedule(cron="at(2027-03-01T25:00:00)"),
            "operator",
            "spec.autoscaling.schedules[0].cron",
        ),
        Case(
            "schedule name starting with a dash", schedule(name="-peak"), "schema", "spec.autoscaling.schedules[0].name"
        ),
        Case("schedule min above max", schedule(minCapacity=9, maxCapacity=3), "cel", "spec.autoscaling.schedules[0]"),
        Case(
            "schedule names twice",
            scaling(schedules=[{"name": "peak", "cron": "rate(2 hours)", **SCALING}] * 2),
            "schema",
            "spec.autoscaling.schedules",
        ),
        Case(
            "51 schedules",
            scaling(schedules=[{"name": f"s{i}", "cron": "rate(2 hours)", **SCALING} for i in range(51)]),
            "schema",
            "spec.autoscaling.schedules",
        ),
    ],
    "Deployment strategy, percentages and misfit fields": [
        Case(
            "canary size zero",
            deployment(strategy="Canary", canarySizePercent=0),
            "schema",
            "spec.deployment.canarySizePercent",
        ),
        Case(
            "canary size above 50",
            deployment(strategy="Canary", canarySizePercent=60),
            "schema",
            "spec.deployment.canarySizePercent",
        ),
        Case(
            "linear step below 10",
            deployment(strategy="Linear", linearStepPercent=5),
            "schema",
            "spec.deployment.linearStepPercent",
        ),
        Case(
            "rolling batch above 50",
            deployment(strategy="Rolling", rollingBatchPercent=80),
            "schema",
            "spec.deployment.rollingBatchPercent",
        ),
        Case("wait above an hour", deployment(waitSeconds=3601), "schema", "spec.deployment.waitSeconds"),
        # 20 batches of 5 %, each baked 1351 s: 27020 s of waits leave less than the 1800 s the new instances need
        # within SageMaker's 28800 s maximum deployment time.
        Case(
            "rolling waits beyond SageMaker's maximum deployment time",
            deployment(strategy="Rolling", rollingBatchPercent=5, waitSeconds=1351),
            "cel",
            "spec.deployment.waitSeconds",
        ),
        Case(
            "linear waits and termination wait beyond the maximum deployment time",
            deployment(strategy="Linear", linearStepPercent=10, waitSeconds=2400, terminationWaitSeconds=3600),
            "cel",
            "spec.deployment.waitSeconds",
        ),
        Case(
            "11 rollback alarms",
            deployment(rollbackAlarms=[f"alarm-{i}" for i in range(11)]),
            "schema",
            "spec.deployment.rollbackAlarms",
        ),
        Case(
            "rollback alarm twice",
            deployment(rollbackAlarms=["p99-high", "p99-high"]),
            "schema",
            "spec.deployment.rollbackAlarms",
        ),
        Case(
            "rollback alarm with padding",
            deployment(rollbackAlarms=[" p99-high"]),
            "schema",
            "spec.deployment.rollbackAlarms[0]",
        ),
        Case("canary without its size", deployment(strategy="Canary"), "cel", "spec.deployment.canarySizePercent"),
        Case(
            "linear with a canary size",
            deployment(strategy="Linear", linearStepPercent=20, canarySizePercent=10),
            "cel",
            "spec.deployment.canarySizePercent",
        ),
        Case(
            "all at once with a batch size",
            deployment(rollingBatchPercent=10),
            "cel",
            "spec.deployment.rollingBatchPercent",
        ),
        Case(
            "rolling with termination wait",
            deployment(strategy="Rolling", rollingBatchPercent=10, terminationWaitSeconds=60),
            "cel",
            "spec.deployment.terminationWaitSeconds",
        ),
    ],
    "VPC endpoint subnets and security groups": [
        Case("VPC id in capitals", vpc_endpoint(vpcId="vpc-XYZ"), "schema", "spec.vpcEndpoint.vpcId"),
        Case("subnet id not hex", vpc_endpoint(subnetIds=["subnet-zz"]), "schema", "spec.vpcEndpoint.subnetIds[0]"),
        Case("no subnets", vpc_endpoint(subnetIds=[]), "schema", "spec.vpcEndpoint.subnetIds"),
        Case(
            "17 subnets",
            vpc_endpoint(subnetIds=[f"subnet-{i:x}" for i in range(17)]),
            "schema",
            "spec.vpcEndpoint.subnetIds",
        ),
        Case(
            "security group id empty",
            vpc_endpoint(securityGroupIds=["sg-"]),
            "schema",
            "spec.vpcEndpoint.securityGroupIds[0]",
        ),
        Case(
            "6 security groups",
            vpc_endpoint(securityGroupIds=[f"sg-{i}" for i in range(6)]),
            "schema",
            "spec.vpcEndpoint.securityGroupIds",
        ),
    ],
    "Benchmark bounds": [
        Case("benchmark empty payload", benchmark(payload=""), "schema", "spec.benchmark.payload"),
        Case(
            "benchmark content type not ASCII",
            benchmark(contentType="text/csv; charset=ü"),
            "schema",
            "spec.benchmark.contentType",
        ),
        Case("benchmark 5 requests", benchmark(requests=5), "schema", "spec.benchmark.requests"),
        Case("benchmark no clients", benchmark(concurrency=0), "schema", "spec.benchmark.concurrency"),
        Case("benchmark 300 clients", benchmark(concurrency=300), "schema", "spec.benchmark.concurrency"),
        Case("benchmark zero p99 target", benchmark(targetP99Ms=0), "schema", "spec.benchmark.targetP99Ms"),
        Case(
            "benchmark more clients than requests",
            benchmark(requests=20, concurrency=64),
            "cel",
            "spec.benchmark.concurrency",
        ),
    ],
    "Tags: reserved keys, count, lengths, characters": [
        Case("41 tags", spec(tags={f"k{i}": "v" for i in range(41)}), "schema", "spec.tags"),
        Case("tag value too long", spec(tags={"team": "b" * 257}), "schema", "spec.tags.team"),
        Case("tag value with !", spec(tags={"team": "bidding!"}), "schema", "spec.tags.team"),
        Case("reserved aws: tag key", spec(tags={"aws:team": "x"}), "cel", "spec.tags"),
        Case("reserved aws: tag key in upper case", spec(tags={"AWS:team": "x"}), "cel", "spec.tags"),
        Case("reserved aws: tag key in mixed case", spec(tags={"Aws:team": "x"}), "cel", "spec.tags"),
        Case("reserved lowlatency.io/ tag key", spec(tags={"lowlatency.io/owner": "x"}), "cel", "spec.tags"),
        Case("tag key with !", spec(tags={"team!": "x"}), "cel", "spec.tags"),
        Case("tag key too long", spec(tags={"k" * 129: "x"}), "cel", "spec.tags"),
    ],
    "Variants, shadow variants and serverless": [
        Case("serverless with an instance type", spec(serverless=SERVERLESS), "cel", "spec.instanceType"),
        Case("serverless with an instance count", serverless() | {"instanceCount": 2}, "cel", "spec.serverless"),
        Case("serverless with autoscaling", serverless() | {"autoscaling": SCALING}, "cel", "spec.serverless"),
        Case(
            "serverless memory not in 1 GB steps",
            serverless(memorySizeInMB=2000),
            "schema",
            "spec.serverless.memorySizeInMB",
        ),
        Case(
            "serverless memory above 6 GB", serverless(memorySizeInMB=7168), "schema", "spec.serverless.memorySizeInMB"
        ),
        Case(
            "serverless concurrency above 200",
            serverless(maxConcurrency=201),
            "schema",
            "spec.serverless.maxConcurrency",
        ),
        Case(
            "provisioned concurrency above the maximum",
            serverless(maxConcurrency=5, provisionedConcurrency=6),
            "cel",
            "spec.serverless.provisionedConcurrency",
        ),
        Case(
            "provisioned concurrency scaling without provisioned concurrency",
            serverless(autoscaling={"minCapacity": 1, "maxCapacity": 4}),
            "cel",
            "spec.serverless.autoscaling",
        ),
        Case(
            "provisioned concurrency scaling above the maximum concurrency",
            serverless(maxConcurrency=5, provisionedConcurrency=2, autoscaling={"minCapacity": 1, "maxCapacity": 6}),
            "cel",
            "spec.serverless.autoscaling",
        ),
        Case(
            "serverless model in a VPC",
            serverless()
            | {
                "model": bid_filter_spec()["model"]
                | {"vpcConfig": {"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}}
            },
            "cel",
            "spec.serverless",
        ),
        Case(
            "variants beside model", variants(variant("a")) | {"model": bid_filter_spec()["model"]}, "cel", "spec.model"
        ),
        Case(
            "variants beside instanceType", variants(variant("a"), instanceType="ml.c5.xlarge"), "cel", "spec.variants"
        ),
        Case("variant names twice", variants(variant("a"), variant("a")), "schema", "spec.variants"),
        Case("eleven variants", variants(*(variant(f"v{i}") for i in range(11))), "schema", "spec.variants"),
        Case("variant name with _", variants(variant("model_a")), "schema", "spec.variants[0].name"),
        Case("variant weight negative", variants(variant("a", weight=-1)), "schema", "spec.variants[0].weight"),
        Case("every weight zero", variants(variant("a", weight=0), variant("b", weight=0)), "cel", "spec.variants"),
        Case(
            "variant with instance type and serverless",
            variants(variant("a", serverless=SERVERLESS)),
            "cel",
            "spec.variants[0].instanceType",
        ),
        Case(
            "variant count outside its autoscaling",
            variants(variant("a", instanceCount=1, autoscaling=SCALING)),
            "cel",
            "spec.variants[0].instanceCount",
        ),
        Case(
            "variant autoscaled to a measured target",
            variants(variant("a", autoscaling={**SCALING, "targetInvocationsPerInstance": "auto"})),
            "cel",
            "spec.variants",
        ),
        Case(
            "serverless variant beside another",
            variants(variant("a"), {"name": "b", "model": bid_filter_spec()["model"], "serverless": SERVERLESS}),
            "cel",
            "spec.variants",
        ),
        Case(
            "two shadow variants",
            spec(shadowVariants=[variant("s1"), variant("s2")]),
            "schema",
            "spec.shadowVariants",
        ),
        Case(
            "serverless shadow variant",
            spec(shadowVariants=[{"name": "s", "model": bid_filter_spec()["model"], "serverless": SERVERLESS}]),
            "cel",
            "spec.shadowVariants",
        ),
        Case(
            "shadow of a serverless endpoint",
            serverless() | {"shadowVariants": [variant("s")]},
            "cel",
            "spec.shadowVariants",
        ),
        Case(
            "shadow named like production", spec(shadowVariants=[variant("AllTraffic")]), "cel", "spec.shadowVariants"
        ),
        Case(
            "shadow beside two production variants",
            variants(variant("a"), variant("b"), shadowVariants=[variant("s")]),
            "cel",
            "spec.shadowVariants",
        ),
        Case(
            "instance-backed endpoint made serverless",
            serverless(),
            "cel",
            "spec.serverless",
            old_spec=spec(),
            operator_rechecks=False,
        ),
        Case(
            "rolling deployment of two variants",
            variants(variant("a"), variant("b"), deployment={"strategy": "Rolling", "rollingBatchPercent": 20}),
            "cel",
            "spec.deployment",
        ),
        Case(
            "rolling deployment of a serverless endpoint",
            serverless() | {"deployment": {"strategy": "Rolling", "rollingBatchPercent": 20}},
            "cel",
            "spec.deployment",
        ),
    ],
    "Required and unknown fields, enumerations": [
        Case("instance type missing", without("instanceType"), "cel", "spec.instanceType"),
        Case("model missing", without("model"), "cel", "spec.model"),
        Case("role missing", model_without("executionRoleArn"), "schema", "spec.model.executionRoleArn"),
        unknown_field("unknown model field", model(modelUrl="s3://acme-models/m.tar.gz"), "spec.model.modelUrl"),
        Case("max capacity missing", spec(autoscaling={"minCapacity": 2}), "schema", "spec.autoscaling.maxCapacity"),
        unknown_field("unknown autoscaling field", scaling(minReplicas=2), "spec.autoscaling.minReplicas"),
        Case(
            "target an unknown word",
            scaling(targetInvocationsPerInstance="fast"),
            "cel",
            "spec.autoscaling.targetInvocationsPerInstance",
        ),
        Case("unknown strategy", deployment(strategy="BlueGreen"), "schema", "spec.deployment.strategy"),
        Case(
            "VPC id missing",
            spec(vpcEndpoint={"subnetIds": ["subnet-0a1b"], "securityGroupIds": ["sg-0c2d"]}),
            "schema",
            "spec.vpcEndpoint.vpcId",
        ),
        Case("private DNS as a word", vpc_endpoint(privateDns="yes"), "schema", "spec.vpcEndpoint.privateDns"),
        Case("benchmark without payload", spec(benchmark={"requests": 100}), "schema", "spec.benchmark.payload"),
        Case("unknown deletion policy", spec(deletionPolicy="Keep"), "schema", "spec.deletionPolicy"),
        unknown_field("unknown spec field", spec(surprise=True), "spec.surprise"),
        unknown_field("misspelt spec field", spec(instanceCounts=2), "spec.instanceCounts"),
    ],
}
CASES = [case for cases in CASE_CLASSES.values() for case in cases]


def test_the_table_is_large_and_covers_every_layer() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)
    assert {case.layer for case in CASES} == {"schema", "cel", "operator"}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_rejected_first_by_the_expected_layer_naming_the_field(case: Case) -> None:
    old = document(case.old_spec) if case.old_spec is not None else None
    found = rejections(document(case.spec), old)
    first = first_rejecting_layer(found)
    assert first is not None, f"no layer rejects {case.name}"
    assert first == case.layer, f"{case.name}: first rejected by {first}: {found[first]}"
    texts = [rejection.text for rejection in found[first]]
    assert any(names_the_field(text, case.field) for text in texts), f"{case.field} not named in {texts}"
    if case.operator_rechecks:
        operator = [rejection.text for rejection in found["operator"]]
        assert any(names_the_field(text, case.field) for text in operator), f"operator: {operator}"


def _examples() -> dict[str, dict[str, Any]]:
    """The documented examples: the two example files, README's spec in brief and the contract's example."""
    found = {
        "examples/bid-filter.yaml": yaml.safe_load((REPO / "examples/bid-filter.yaml").read_text()),
        "examples/argocd/endpoints/bid-filter.yaml": yaml.safe_load(
            (REPO / "examples/argocd/endpoints/bid-filter.yaml").read_text()
        ),
        "README.md": _first_resource_block(REPO / "README.md"),
        **{
            f"examples/{pattern}.yaml": yaml.safe_load((REPO / "examples" / f"{pattern}.yaml").read_text())
            for pattern in ("ab-test", "shadow", "serverless")
        },
    }
    design = REPO.parent / "shared" / "DESIGN.md"
    if design.exists():  # the contract lives beside the checkout in this workspace, not in the repository
        found["DESIGN.md"] = _first_resource_block(design)
    return found


def _first_resource_block(markdown: Path) -> dict[str, Any]:
    for block in markdown.read_text().split("```yaml\n")[1:]:
        text = block.split("```", 1)[0]
        if "kind: LowLatencyEndpoint" in text:
            loaded: dict[str, Any] = yaml.safe_load(text)
            return loaded
    raise AssertionError(f"no LowLatencyEndpoint example in {markdown}")


@pytest.mark.parametrize(("source", "example"), list(_examples().items()), ids=list(_examples()))
def test_documented_examples_pass_every_layer(source: str, example: dict[str, Any]) -> None:
    found = rejections(example)
    assert found == {"schema": [], "cel": [], "operator": []}, source
    assert rejections(example, old=copy.deepcopy(example)) == found, "an unchanged update must pass too"


# --- the schema layer end to end: the real kubectl against the Kubernetes API emulator ---------------------------


API_SERVER_CASES = [case for case in CASES if case.layer in ("schema", "cel")]


def _as_applied(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return document(spec) | {"metadata": {"name": name, "namespace": "adtech"}}


def _assert_each_refused_naming_the_field(applied: Any, cases: dict[str, Case]) -> None:
    assert applied.returncode != 0
    for name, case in cases.items():
        if case.layer == "schema" and not case.operator_rechecks:  # an unknown field: refused while decoding
            assert f'strict decoding error: unknown field "{case.field}"' in applied.stderr, case.name
            continue
        (refusal,) = [line for line in applied.stderr.splitlines() if f'"{name}" is invalid: ' in line]
        assert names_the_field(refusal.split(" is invalid: ", 1)[1], case.field), refusal


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("lowlatency_crd")
def test_kubectl_apply_refuses_every_schema_and_cel_case_naming_the_field(kubectl: Kubectl) -> None:
    """Every case the API server must refuse, through the real kubectl: the emulator applies the CRD's schema, list
    types and CEL rules as kube-apiserver does."""
    cases = {f"case-{index}": case for index, case in enumerate(API_SERVER_CASES) if case.old_spec is None}
    kubectl("create", "namespace", "adtech")
    applied = kubectl(
        "apply", "-f", "-", input=yaml.safe_dump_all(_as_applied(n, c.spec) for n, c in cases.items()), check=False
    )
    assert "created" not in applied.stdout
    _assert_each_refused_naming_the_field(applied, cases)
    assert kubectl("get", "lle", "-n", "adtech", "-o", "name").stdout == ""


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("lowlatency_crd")
def test_kubectl_apply_refuses_every_update_case_naming_the_field(kubectl: Kubectl) -> None:
    """Transition rules (the immutable region) run on update only: each old spec is created, then the new one
    applied over it and refused, and the stored object keeps the old spec."""
    cases = {f"update-{index}": case for index, case in enumerate(API_SERVER_CASES) if case.old_spec is not None}
    assert cases, "no update case to try"
    kubectl("create", "namespace", "adtech")
    olds = [_as_applied(name, case.old_spec or {}) for name, case in cases.items()]
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(olds))
    applied = kubectl(
        "apply", "-f", "-", input=yaml.safe_dump_all(_as_applied(n, c.spec) for n, c in cases.items()), check=False
    )
    _assert_each_refused_naming_the_field(applied, cases)
    for name, case in cases.items():
        stored = json.loads(kubectl("get", "lle", name, "-n", "adtech", "-o", "json").stdout)
        assert stored["spec"].get("region") == (case.old_spec or {}).get("region"), case.name


@pytest.mark.parametrize(
    ("text", "field", "named"),
    [
        ("spec.deployment.waitSeconds: Invalid value: ...", "spec.deployment.waitSeconds", True),
        ("spec.tags[0]: Duplicate value", "spec.tags[0]", True),
        ("spec.model.vpcConfig.subnets.0: String should match", "spec.model.vpcConfig.subnets[0]", True),
        ("spec: instanceCount must lie between ...", "spec.instanceCount", False),
        ("spec.deployment: waitSeconds is too long", "spec.deployment.waitSeconds", False),
        ("spec.deployment.waitSecondsMax: ...", "spec.deployment.waitSeconds", False),
        ("xspec.instanceCount: ...", "spec.instanceCount", False),
    ],
)
def test_a_field_is_named_only_by_its_full_path(text: str, field: str, named: bool) -> None:
    assert names_the_field(text, field) is named


# --- the operator layer end to end: Failed InvalidSpec, nothing created -----------------------------------------

OPERATOR_CASES = [case for case in CASES if case.layer == "operator"]


@pytest.mark.timeout(90)
def test_operator_rejection_fails_the_resource_and_creates_nothing(e2e: EndToEnd) -> None:
    """Through kubectl to the operator process: each case the API server admits and only the operator can judge
    ends Failed with InvalidSpec naming the field's full path and one Warning, and AWS sees not one call, not even
    at the next resync; a valid resource applied afterwards reaches AWS (the path is the same)."""
    cases = {f"invalid-{index}": case for index, case in enumerate(OPERATOR_CASES)}
    for name, case in cases.items():
        e2e.apply(name, case.spec)
    for name, case in cases.items():
        refused = e2e.wait_for_status(
            name, lambda found: condition(found, "Ready").get("reason") == "InvalidSpec", f"{name} InvalidSpec"
        )
        ready = condition(refused, "Ready")
        assert (status_of(refused)["phase"], ready["status"]) == ("Failed", "False"), case.name
        assert names_the_field(ready["message"].removeprefix("Invalid spec: "), case.field), ready["message"]
        warnings = [event for event in e2e.events(name) if event["type"] == "Warning"]
        assert [event["reason"] for event in warnings] == ["InvalidSpec"], (case.name, warnings)
    time.sleep(RESYNC_SECONDS + 0.5)  # each refusal is looked at again at the resync cadence: still nothing
    assert e2e.aws.calls() == [], "an invalid spec must not reach AWS at all"

    e2e.apply("valid", spec())
    e2e.wait(lambda: e2e.succeeded("CreateEndpoint") or None, "the valid resource's CreateEndpoint")


# Values at the edge of what is allowed: every layer must let them through (rules must not over-reach).
BOUNDARY_SPECS = {
    "cron with steps, ranges and day names": schedule(cron="cron(0/15 8-18 ? * MON-FRI *)"),
    "cron on the last day of month in a year": schedule(cron="cron(59 23 L * ? 2027)"),
    "cron on the second Tuesday": schedule(cron="cron(0 9 ? * 3#2 *)"),
    "rate of 1 day": schedule(cron="rate(1 day)"),
    "rate of 15 minutes": schedule(cron="rate(15 minutes)"),
    "at a real time": schedule(cron="at(2028-02-29T09:30:00)"),
    "canary of 50%": deployment(strategy="Canary", canarySizePercent=50),
    "linear steps of 10%": deployment(strategy="Linear", linearStepPercent=10),
    "rolling batches of 5% with the longest bake that fits": deployment(
        strategy="Rolling", rollingBatchPercent=5, waitSeconds=1350
    ),
    "linear steps of 10% baked 30 minutes and an hour's termination wait": deployment(
        strategy="Linear", linearStepPercent=10, waitSeconds=1800, terminationWaitSeconds=3600, rollbackAlarms=["a"]
    ),
    "canary baked an hour twice": deployment(
        strategy="Canary", canarySizePercent=10, waitSeconds=3600, terminationWaitSeconds=3600
    ),
    "termination wait with blue/green": deployment(terminationWaitSeconds=3600, rollbackAlarms=["a", "b"]),
    "1000 instances": spec(instanceCount=1000),
    "instance count at both autoscaling bounds": spec(instanceCount=20, autoscaling=SCALING),
    "target 'auto' and 1000000": scaling(targetInvocationsPerInstance=1_000_000),
    "40 tags with long keys and values": spec(tags={f"{i:02d}" + "k" * 126: "v" * 256 for i in range(40)}),
    "100 environment variables": model(environment={f"_V{i}": "x" * 1024 for i in range(100)}),
    "16 subnets and 5 security groups": vpc_endpoint(
        subnetIds=[f"subnet-{i:x}" for i in range(16)], securityGroupIds=[f"sg-{i}" for i in range(5)]
    ),
    "benchmark with as many clients as requests": benchmark(requests=10, concurrency=10, targetP99Ms=0.5),
    "GovCloud region and role": spec(
        region="us-gov-west-1",
        model={**bid_filter_spec()["model"], "executionRoleArn": "arn:aws-us-gov:iam::123456789012:role/a/b"},
    ),
}


@pytest.mark.parametrize("spec_document", BOUNDARY_SPECS.values(), ids=list(BOUNDARY_SPECS))
def test_values_at_the_limits_pass_every_layer(spec_document: dict[str, Any]) -> None:
    assert rejections(document(spec_document)) == {"schema": [], "cel": [], "operator": []}


# --- names that collide after shortening: not a schema matter ----------------------------------------------------


def test_long_names_never_collide_once_shortened() -> None:
    """Kubernetes allows 253-character names with dots; SageMaker 63 characters without. Names that must be
    shortened or changed get a hash of the full identity, so near-identical long names stay apart."""
    prefix = "bid-filter-" + "x" * 200
    identities = [("adtech", f"{prefix}-{i}") for i in range(2000)]
    identities += [("adtech", f"{prefix}.{i}") for i in range(2000)]  # dots become dashes: hashed apart
    identities += [("a" * 63, f"m-{i}") for i in range(2000)]  # a long namespace leaves no room for the name
    names = {naming.endpoint_name(namespace, name) for namespace, name in identities}
    assert len(names) == len(identities)
    assert all(len(name) <= naming.MAX_NAME_LENGTH for name in names)


def test_a_readable_name_shared_across_namespaces_is_refused_by_ownership_tags() -> None:
    """``a-b/c`` and ``a/b-c`` both read ``a-b-c``: the schema cannot see another resource, so a real collision
    is caught when the second one finds the endpoint tagged with another owner (NameConflict, nothing touched)."""
    first, second = Owner("team-a", "bidder", "uid-1"), Owner("team", "a-bidder", "uid-2")
    name = naming.endpoint_name(first.namespace, first.name)
    assert naming.endpoint_name(second.namespace, second.name) == name
    taken = ObservedEndpoint(
        name=name,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}",
        status="InService",
        config_name="team-a-bidder-0",
        tags=first.tags(),
    )
    observed = Observed(endpoint=taken, missing_models=(), config_exists=False)
    result = plan(build_desired(parsed(), second, "us-east-1"), observed, second, Memory(generation=1))
    assert result.actions == ()
    assert (result.phase, result.ready.reason) == ("Failed", "NameConflict")
    assert "team-a/bidder" in result.ready.message


# --- the report: docs/reliability.md states what this table proves -----------------------------------------------


def class_result(cases: list[Case]) -> str:
    """How docs/reliability.md words the result of one class of cases."""
    layers = [sum(case.layer == layer for case in cases) for layer in ("schema", "cel", "operator")]
    return "{} cases ({} schema, {} CEL, {} operator)".format(len(cases), *layers)


def test_the_reliability_report_states_these_results() -> None:
    report = (REPO / "docs" / "reliability.md").read_text()
    section = report.split("## Bad input", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(): line for line in section.splitlines() if line.startswith("| ")}
    for name, cases in CASE_CLASSES.items():
        assert class_result(cases) in rows[name], f"docs/reliability.md, row {name!r}: expected {class_result(cases)}"
    assert f"{len(CASES)} invalid specs" in section
    assert f"{len(BOUNDARY_SPECS)} specs" in rows["Values at the limits"]
    assert f"{len(OPERATOR_CASES)} cases" in rows["Operator-only cases, end to end"]
    creates = [case for case in API_SERVER_CASES if case.old_spec is None]
    row = rows["The schema and CEL layers through the real kubectl"]
    assert f"{len(creates)} cases in one `kubectl apply`" in row
    assert f"{len(API_SERVER_CASES) - len(creates)} updates" in row
