"""What each namespace may use: execution roles, model locations, instance types, instance counts.

Several teams share one operator and its AWS identity, so the operator itself must stop a namespace from passing
another team's IAM role or serving another team's model. The platform team writes the allowance as YAML (mounted
from a ConfigMap, ``--tenant-policy FILE``)::

    namespaces:
      adtech:
        executionRoleArns: ["arn:aws:iam::123456789012:role/adtech-*"]   # shell-style patterns
        modelDataPrefixes: ["s3://acme-models/adtech/"]
        instanceTypes: ["ml.c5.*", "ml.c6i.*"]
        maxInstanceCount: 20
      "*": {...}                                                          # any other namespace

Without a policy file every namespace may use everything (a single-tenant operator). With one, a namespace that is
neither listed nor covered by ``"*"`` may use nothing. A list left out of an entry allows anything of that kind.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from lowlatency.api import Spec


class Allowance(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    execution_role_arns: list[str] | None = None
    model_data_prefixes: list[str] | None = None
    instance_types: list[str] | None = None
    max_instance_count: int | None = Field(default=None, ge=1)


class TenantPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    namespaces: dict[str, Allowance]

    @classmethod
    def load(cls, path: Path) -> TenantPolicy:
        return cls.model_validate(yaml.safe_load(path.read_text()) or {"namespaces": {}})

    def allowance(self, namespace: str) -> Allowance | None:
        return self.namespaces.get(namespace, self.namespaces.get("*"))


class PolicyFile:
    """The tenant policy at a path, read again whenever the file changes (a mounted ConfigMap is updated in place)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: float | None = None
        self._policy: TenantPolicy | None = None

    def current(self) -> TenantPolicy:
        stamp = self.path.stat().st_mtime
        if self._policy is None or stamp != self._stamp:
            self._policy, self._stamp = TenantPolicy.load(self.path), stamp
        return self._policy


def violations(spec: Spec, namespace: str, policy: TenantPolicy | None) -> list[str]:
    """Each use of something the namespace may not use, naming the field."""
    if policy is None:
        return []
    allowance = policy.allowance(namespace)
    if allowance is None:
        return [f"namespace {namespace} has no allowance in the operator's tenant policy"]
    found = []
    role = spec.model.execution_role_arn
    if allowance.execution_role_arns is not None and not any(
        fnmatchcase(role, pattern) for pattern in allowance.execution_role_arns
    ):
        found.append(f"spec.model.executionRoleArn: {role} is not allowed in namespace {namespace}")
    url = spec.model.model_data_url
    if allowance.model_data_prefixes is not None and not url.startswith(tuple(allowance.model_data_prefixes)):
        found.append(f"spec.model.modelDataUrl: {url} is outside the model locations allowed in namespace {namespace}")
    if allowance.instance_types is not None and not any(
        fnmatchcase(spec.instance_type, pattern) for pattern in allowance.instance_types
    ):
        found.append(f"spec.instanceType: {spec.instance_type} is not allowed in namespace {namespace}")
    limit = allowance.max_instance_count
    if limit is not None:
        counts = {"spec.instanceCount": spec.instance_count}
        if spec.autoscaling is not None:
            counts["spec.autoscaling.maxCapacity"] = spec.autoscaling.max_capacity
            for schedule in spec.autoscaling.schedules:
                counts[f"spec.autoscaling.schedules[{schedule.name}].maxCapacity"] = schedule.max_capacity
        found += [
            f"{field}: {count} exceeds the {limit} instances allowed in namespace {namespace}"
            for field, count in counts.items()
            if count > limit
        ]
    return found
