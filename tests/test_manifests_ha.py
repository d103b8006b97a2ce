"""The high-availability component of the plain manifests, built by the real kustomize into an overlay as users do."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from test_packaging_manifests import KUBERNETES_VERSION, MANIFESTS, kustomize, one, operator_config, rules_of


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    from tools import kubectl_binary

    overlay = tmp_path_factory.mktemp("ha-overlay")
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(MANIFESTS, overlay)],
        "components": [os.path.relpath(MANIFESTS / "ha", overlay)],
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return kustomize(str(kubectl_binary()), Path(overlay))


def test_every_object_is_valid_kubernetes(installation: list[dict[str, Any]]) -> None:
    for obj in installation:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_two_peered_replicas_that_roll_without_a_gap(installation: list[dict[str, Any]]) -> None:
    deployment = one(installation, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    literal = copy.deepcopy(deployment)  # what the operator reads from literal values (POD_ID comes from the pod)
    (container,) = literal["spec"]["template"]["spec"]["containers"]
    container["env"] = [variable for variable in container["env"] if "value" in variable]
    settings = operator_config(literal)
    assert settings.peering.name == "lowlatency-operator"
    assert settings.peering.lifetime_seconds == 30
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    pod_id = next(variable for variable in container["env"] if variable["name"] == "POD_ID")
    assert pod_id["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_the_peering_crds_and_the_right_to_use_the_peering_object(installation: list[dict[str, Any]]) -> None:
    crds = {obj["metadata"]["name"] for obj in installation if obj["kind"] == "CustomResourceDefinition"}
    assert {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"} <= crds
    roles = {obj["metadata"]["name"]: obj for obj in installation if obj["kind"] == "ClusterRole"}
    peering_rules = rules_of(roles["lowlatency-operator-peering"])
    assert {("kopf.dev", "clusterkopfpeerings", verb) for verb in ("get", "list", "watch", "patch", "create")} == (
        peering_rules
    )
    binding = next(
        obj
        for obj in installation
        if obj["kind"] == "ClusterRoleBinding" and obj["roleRef"]["name"] == "lowlatency-operator-peering"
    )
    service_account = one(installation, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": service_account["name"], "namespace": service_account["namespace"]}
    ]
