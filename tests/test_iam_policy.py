"""docs/iam-policy.json grants exactly what the operator calls, scoped to what it owns.

The operator names every AWS call by its IAM action (``aws_call("sagemaker:CreateModel")``), so the actions it
needs are the string literals of that shape in its code. The policy may grant those, the ones planned by open
issues (listed below, printed while unused), and the ones AWS checks on the operator's behalf when it makes one of
its calls (listed below with the call that needs each). Anything else is a grant nobody needs: the test fails.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from aws_passes import moto_server

REPO = Path(__file__).resolve().parent.parent
POLICY_FILE = REPO / "docs" / "iam-policy.json"
PACKAGE = REPO / "operator" / "lowlatency"
EMULATORS = PACKAGE / "emulators"
ACTION = re.compile(r"^(sagemaker|application-autoscaling|ec2|iam|cloudwatch|elasticloadbalancing):[A-Z][A-Za-z]+$")

MANAGED_BY_TAG = "lowlatency.io/managed-by"
MANAGER = "lowlatency-operator"

# Granted ahead of the code that will call them; each is printed while the code does not use it yet.
PLANNED = {
    # issue 4: dropping spec.autoscaling removes the target-tracking policy before deregistering the target.
    "application-autoscaling:DeleteScalingPolicy",
    # issue 8: the benchmark invokes the live endpoint.
    "sagemaker:InvokeEndpoint",
}

# Actions AWS authorizes against the caller while serving one of the operator's calls (the value).
REQUIRED_BY_AWS = {
    # SageMaker checks that the caller may pass the model's execution role.
    "iam:PassRole": "sagemaker:CreateModel",
    # Application Auto Scaling creates its SageMaker service-linked role on first registration.
    "iam:CreateServiceLinkedRole": "application-autoscaling:RegisterScalableTarget",
    # Application Auto Scaling validates the caller's CloudWatch permissions for target-tracking alarms.
    "cloudwatch:PutMetricAlarm": "application-autoscaling:PutScalingPolicy",
    "cloudwatch:DescribeAlarms": "application-autoscaling:PutScalingPolicy",
    "cloudwatch:DeleteAlarms": "application-autoscaling:DeleteScalingPolicy",
    # An interface endpoint with private DNS associates the VPC with the service's private hosted zone.
    "route53:AssociateVPCWithHostedZone": "ec2:CreateVpcEndpoint",
}

MUTATING = re.compile(r":(Create|Update|Delete|Add|Put|Modify|Register|Deregister|Invoke)")


def code_actions() -> set[str]:
    """IAM actions written as string literals anywhere in the operator package, emulators excepted."""
    actions: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if EMULATORS in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and ACTION.match(node.value):
                actions.add(node.value)
    return actions


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


@pytest.fixture(scope="module")
def policy() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(POLICY_FILE.read_text())
    return document


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = policy["Statement"]
    return result


def granted(policy: dict[str, Any]) -> set[str]:
    return {action for statement in statements(policy) for action in as_list(statement["Action"])}


def test_the_policy_grants_exactly_what_the_operator_needs(policy: dict[str, Any]) -> None:
    used = code_actions()
    assert used, "no aws_call(...) actions found: the scan is broken"
    not_yet_used = sorted(PLANNED - used)
    if not_yet_used:
        print("granted for planned work, not used by the code yet:", ", ".join(not_yet_used))
    for dependent, trigger in REQUIRED_BY_AWS.items():
        assert trigger in used | PLANNED, f"{dependent} is needed only for {trigger}, which nothing calls"

    allowed = granted(policy)
    missing = used - allowed
    assert not missing, f"the code calls actions the policy does not grant: {sorted(missing)}"
    needless = allowed - used - PLANNED - set(REQUIRED_BY_AWS)
    assert not needless, f"the policy grants actions nothing needs: {sorted(needless)}"


def test_statements_are_plain_allows_of_named_actions(policy: dict[str, Any]) -> None:
    assert policy["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in statements(policy)]
    assert len(sids) == len(set(sids))
    for statement in statements(policy):
        assert statement["Effect"] == "Allow"
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, statement["Sid"]
        assert all("*" not in action for action in as_list(statement["Action"])), statement["Sid"]
        for resource in as_list(statement["Resource"]):
            assert re.fullmatch(r"\*|arn:aws:[a-z0-9-]+:[a-z0-9*-]*:(\*|[0-9]{12})?:.+", resource), resource


def test_mutations_of_sagemaker_and_vpc_endpoints_are_limited_to_the_operators_own(policy: dict[str, Any]) -> None:
    """Creates must tag (RequestTag, or the tag-on-create of that create), the rest must find the tag."""
    owned = re.compile(r"^arn:aws:(sagemaker:\*:\*:(endpoint|endpoint-config|model)|ec2:\*:\*:vpc-endpoint)/\*$")
    for statement in statements(policy):
        resources = as_list(statement["Resource"])
        mutations = [action for action in as_list(statement["Action"]) if MUTATING.search(action)]
        if not mutations or not all(owned.match(resource) for resource in resources):
            continue
        conditions = {key for operator in statement.get("Condition", {}).values() for key in operator}
        tagged = {f"aws:RequestTag/{MANAGED_BY_TAG}", f"aws:ResourceTag/{MANAGED_BY_TAG}"}
        tag_on_create = {"sagemaker:TaggingAction", "ec2:CreateAction"}
        assert conditions & (tagged | tag_on_create), f"{statement['Sid']} mutates without an ownership condition"
        for operator in statement.get("Condition", {}).values():
            for key in tagged & set(operator):
                assert operator[key] == MANAGER


def test_only_sagemaker_may_receive_a_passed_role(policy: dict[str, Any]) -> None:
    (statement,) = [s for s in statements(policy) if "iam:PassRole" in as_list(s["Action"])]
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_wildcard_resources_only_where_aws_has_no_resource_level_permissions(policy: dict[str, Any]) -> None:
    without_resource_level = {
        # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html
        "cloudwatch:GetMetricData",
        "sagemaker:ListModels",
        "sagemaker:ListEndpointConfigs",
        "sagemaker:ListEndpoints",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcEndpoints",
        "route53:AssociateVPCWithHostedZone",
    } | {action for action in granted(policy) if action.startswith("application-autoscaling:")}
    for statement in statements(policy):
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= without_resource_level, statement["Sid"]


def test_fits_a_managed_policy(policy: dict[str, Any]) -> None:
    assert len(json.dumps(policy, separators=(",", ":"))) <= 6144  # IAM's size limit without whitespace


@pytest.fixture(scope="module")
def iam_endpoint() -> Iterator[str]:
    yield from moto_server()


def test_iam_accepts_the_document(iam_endpoint: str) -> None:
    iam = boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=iam_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    created = iam.create_policy(PolicyName="lowlatency-operator", PolicyDocument=POLICY_FILE.read_text())
    assert created["Policy"]["Arn"].endswith(":policy/lowlatency-operator")
