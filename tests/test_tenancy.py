"""Namespaces may use only what the platform team allowed them; the refusal names the field."""

import os
from pathlib import Path

import pytest

from lowlatency.tenancy import PolicyFile, TenantPolicy, violations
from specs import parsed

POLICY = TenantPolicy.model_validate(
    {
        "namespaces": {
            "adtech": {
                "executionRoleArns": ["arn:aws:iam::123456789012:role/SageMaker*"],
                "modelDataPrefixes": ["s3://acme-models/rtb/"],
                "instanceTypes": ["ml.c5.*"],
                "maxInstanceCount": 10,
            },
            "*": {"instanceTypes": ["ml.t2.medium"]},
        }
    }
)


def test_without_a_policy_everything_is_allowed() -> None:
    assert violations(parsed(), "anything", None) == []


def test_an_allowed_spec_passes() -> None:
    assert violations(parsed(), "adtech", POLICY) == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"instanceType": "ml.p4d.24xlarge"}, "spec.instanceType"),
        ({"instanceCount": 11}, "spec.instanceCount"),
        ({"autoscaling": {"minCapacity": 2, "maxCapacity": 50}}, "spec.autoscaling.maxCapacity"),
    ],
)
def test_what_exceeds_the_allowance_is_named(overrides: dict[str, object], field: str) -> None:
    (problem,) = violations(parsed(**overrides), "adtech", POLICY)
    assert problem.startswith(f"{field}: ")


def test_another_teams_role_and_model_are_refused() -> None:
    model = {
        "modelDataUrl": "s3://other-team/model.tar.gz",
        "image": "example.com/xgboost:1",
        "executionRoleArn": "arn:aws:iam::123456789012:role/OtherTeam",
    }
    problems = violations(parsed(model=model), "adtech", POLICY)
    assert [problem.split(":")[0] for problem in problems] == ["spec.model.executionRoleArn", "spec.model.modelDataUrl"]


def test_unlisted_namespaces_fall_back_to_the_wildcard_entry() -> None:
    (problem,) = violations(parsed(), "marketing", POLICY)
    assert problem.startswith("spec.instanceType: ml.c5.xlarge is not allowed in namespace marketing")


def test_with_no_wildcard_an_unlisted_namespace_may_use_nothing() -> None:
    policy = TenantPolicy.model_validate({"namespaces": {"adtech": {}}})
    assert violations(parsed(), "marketing", policy) == [
        "namespace marketing has no allowance in the operator's tenant policy"
    ]


def test_the_policy_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("namespaces: {adtech: {maxInstanceCount: 1}}\n")
    source = PolicyFile(path)
    assert source.current().namespaces["adtech"].max_instance_count == 1
    path.write_text("namespaces: {adtech: {maxInstanceCount: 5}}\n")

    os.utime(path, (1, 2_000_000_000))
    assert source.current().namespaces["adtech"].max_instance_count == 5


def test_the_instance_limit_itself_is_allowed() -> None:
    at_the_limit = {"instanceCount": 10, "autoscaling": {"minCapacity": 2, "maxCapacity": 10}}
    assert violations(parsed(**at_the_limit), "adtech", POLICY) == []


def test_an_empty_policy_file_allows_no_namespace_anything(tmp_path: Path) -> None:
    """A ConfigMap whose policy key was emptied: a policy with no entries, not an error and not 'allow all'."""
    path = tmp_path / "policy.yaml"
    path.write_text("")
    assert violations(parsed(), "adtech", PolicyFile(path).current()) == [
        "namespace adtech has no allowance in the operator's tenant policy"
    ]
