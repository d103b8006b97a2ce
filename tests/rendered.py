"""Reading rendered Kubernetes objects (Helm output, kustomize builds) the way the cluster and the operator will."""

from __future__ import annotations

import argparse
import os
from typing import Any
from unittest import mock

from lowlatency import cli, config


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [obj for obj in objects if obj["kind"] == kind]
    return found


def rules_of(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def operator_container(deployment: dict[str, Any]) -> dict[str, Any]:
    (operator,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(operator)


def run_arguments(deployment: dict[str, Any]) -> argparse.Namespace:
    """What the image's entrypoint, `lowlatency-operator run`, parses from the container's env and args (and from
    nothing else: the test's own environment is hidden)."""
    container = operator_container(deployment)
    environment = {variable["name"]: variable.get("value", "") for variable in container.get("env", [])}
    with mock.patch.dict(os.environ, environment, clear=True):
        return cli.build_parser().parse_args(["run", *container.get("args", [])])


def operator_config(deployment: dict[str, Any]) -> config.OperatorConfig:
    return config.from_arguments(run_arguments(deployment))
