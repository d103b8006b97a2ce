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

from lowlatency.api import Spec, VariantSpec


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
    """Each use of something the namespace may not use, by any production or shadow variant, naming the field."""
    if policy is None:
        return []
    allowance = policy.allowance(namespace)
    if allowance is None:
        return [f"namespace {namespace} has no allowance in the operator's tenant policy"]
    return [
        problem for path, variant in _variants_at(spec) for problem in _refused(variant, path, allowance, namespace)
    ]


def _variants_at(spec: Spec) -> list[tuple[str, VariantSpec]]:
    """Every variant with the path of its fields: the shorthand's are the spec's own (spec.model, spec.instanceType)."""
    production = (
        [("spec", variant) for variant in spec.production_variants()]
        if spec.variants is None
        else [(f"spec.variants[{variant.name}]", variant) for variant in spec.variants]
    )
    return production + [(f"spec.shadowVariants[{variant.name}]", variant) for variant in spec.shadow_variants]


def _refused(variant: VariantSpec, path: str, allowance: Allowance, namespace: str) -> list[str]:
    found = []
    role = variant.model.execution_role_arn
    if allowance.execution_role_arns is not None and not any(
        fnmatchcase(role, pattern) for pattern in allowance.execution_role_arns
    ):
        found.append(f"{path}.model.executionRoleArn: {role} is not allowed in namespace {namespace}")
    url = variant.model.model_data_url
    if allowance.model_data_prefixes is not None and not url.startswith(tuple(allowance.model_data_prefixes)):
        found.append(
            f"{path}.model.modelDataUrl: {url} is outside the model locations allowed in namespace {namespace}"
        )
    instance_type = variant.instance_type
    if (
        instance_type is not None
        and allowance.instance_types is not None
        and not any(fnmatchcase(instance_type, pattern) for pattern in allowance.instance_types)
    ):
        found.append(f"{path}.instanceType: {instance_type} is not allowed in namespace {namespace}")
    limit = allowance.max_instance_count
    if limit is not None:
        counts = {f"{path}.instanceCount": variant.instance_count}
        if variant.autoscaling is not None:
            counts[f"{path}.autoscaling.maxCapacity"] = variant.autoscaling.max_capacity
            for schedule in variant.autoscaling.schedules:
                counts[f"{path}.autoscaling.schedules[{schedule.name}].maxCapacity"] = schedule.max_capacity
        found += [
            f"{field}: {count} exceeds the {limit} instances allowed in namespace {namespace}"
            for field, count in counts.items()
            if count is not None and count > limit
        ]
    return found
