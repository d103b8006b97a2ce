"""The plain manifests and the examples: valid Kubernetes, built by the real kustomize, consistent with the chart."""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from lowlatency import config
from lowlatency.api import LowLatencyEndpoint
from rendered import one, operator_config, rules_of

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = REPO / "manifests"
CRD_FILE = REPO / "crds" / "lowlatencyendpoints.lowlatency.io.yaml"
ARGOCD_EXAMPLES = REPO / "examples" / "argocd"
KUBERNETES_VERSION = "1.33.0"
VARIANTS = {"cluster-wide": MANIFESTS, "namespaced": MANIFESTS / "namespaced"}


@pytest.fixture(scope="session")
def kubectl() -> str:
    from tools import kubectl_binary

    return str(kubectl_binary())


def kustomize(kubectl: str, directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def manifest_files() -> list[Path]:
    return sorted(path for path in MANIFESTS.rglob("*.yaml") if path.name != "kustomization.yaml")


def documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def crd_schema() -> dict[str, Any]:
    (version,) = yaml.safe_load(CRD_FILE.read_text())["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def test_the_crd_in_crds_manifests_and_the_chart_is_the_same_file() -> None:
    generated = CRD_FILE.read_bytes()
    assert (MANIFESTS / "base" / CRD_FILE.name).read_bytes() == generated, "cp crds/*.yaml manifests/base/"
    chart_copy = REPO / "charts" / "lowlatency-operator" / "files" / CRD_FILE.name
    assert chart_copy.read_bytes() == generated, "cp crds/*.yaml charts/lowlatency-operator/files/"


@pytest.mark.parametrize("path", manifest_files(), ids=lambda path: str(path.relative_to(MANIFESTS)))
def test_every_manifest_file_is_valid_kubernetes(path: Path) -> None:
    objects = documents(path)
    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("variant", VARIANTS)
def test_kustomize_builds_a_complete_valid_installation(kubectl: str, variant: str) -> None:
    objects = kustomize(kubectl, VARIANTS[variant])
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    kinds = {obj["kind"] for obj in objects}
    assert {"Namespace", "CustomResourceDefinition", "ServiceAccount", "Deployment", "Service"} <= kinds
    assert one(objects, "CustomResourceDefinition") == yaml.safe_load(CRD_FILE.read_text())
    namespace = one(objects, "Namespace")["metadata"]["name"]
    service_account = one(objects, "ServiceAccount")
    for binding in (obj for obj in objects if obj["kind"] in {"RoleBinding", "ClusterRoleBinding"}):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": service_account["metadata"]["name"], "namespace": namespace}
        ]
        bound = [o for o in objects if o["kind"] == binding["roleRef"]["kind"]]
        assert binding["roleRef"]["name"] in {o["metadata"]["name"] for o in bound}


RESOURCE_RULES = {
    *(("lowlatency.io", "lowlatencyendpoints", verb) for verb in ("list", "watch", "patch")),
    ("lowlatency.io", "lowlatencyendpoints/status", "patch"),
    ("", "events", "create"),
}
CRD_OBSERVATION = {("apiextensions.k8s.io", "customresourcedefinitions", verb) for verb in ("list", "watch")}
CLUSTER_IDENTITY = {("", "namespaces", "get")}  # of kube-system only: the uid that names the cluster


def kube_system_only(role: dict[str, Any]) -> bool:
    gets = [rule for rule in role["rules"] if "namespaces" in rule["resources"] and "get" in rule["verbs"]]
    return all(rule.get("resourceNames") == ["kube-system"] for rule in gets)


def test_cluster_wide_variant(kubectl: str) -> None:
    objects = kustomize(kubectl, VARIANTS["cluster-wide"])
    assert rules_of(one(objects, "ClusterRole")) == RESOURCE_RULES | CRD_OBSERVATION | CLUSTER_IDENTITY
    assert kube_system_only(one(objects, "ClusterRole"))
    assert not [obj for obj in objects if obj["kind"] == "Role"]
    assert operator_config(one(objects, "Deployment")).namespaces == ()


def test_namespaced_variant_watches_what_it_may_access(kubectl: str) -> None:
    objects = kustomize(kubectl, VARIANTS["namespaced"])
    roles = [obj for obj in objects if obj["kind"] == "Role"]
    for role in roles:
        assert rules_of(role) == RESOURCE_RULES
    watched = operator_config(one(objects, "Deployment")).namespaces
    assert watched == tuple(sorted(role["metadata"]["namespace"] for role in roles))
    assert {obj["metadata"]["namespace"] for obj in objects if obj["kind"] == "RoleBinding"} == set(watched)
    observer = one(objects, "ClusterRole")
    assert all(verb in {"get", "list", "watch"} for _, _, verb in rules_of(observer)), "cluster-wide: read-only only"
    assert kube_system_only(observer)


def test_the_deployment_is_restricted_probed_and_measured(kubectl: str) -> None:
    objects = kustomize(kubectl, VARIANTS["cluster-wide"])
    deployment = one(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}, "standalone kopf: never two at once"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert ":latest" not in container["image"]
    settings = operator_config(deployment)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert settings.liveness_endpoint == f"http://0.0.0.0:{ports['health']}/healthz"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert settings.metrics_port == ports["metrics"]
    assert settings.log_format == "json"
    (service_port,) = one(objects, "Service")["spec"]["ports"]
    assert service_port["targetPort"] == "metrics"
    namespace_labels = one(objects, "Namespace")["metadata"]["labels"]
    assert namespace_labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_base_deployment_names_every_variable_the_operator_reads() -> None:
    """Set or documented in a comment: an admin writing an overlay finds every setting in one place."""
    parser = argparse.ArgumentParser(formatter_class=lambda prog: argparse.HelpFormatter(prog, width=1000))
    config.add_arguments(parser)
    read = set(re.findall(r"LOWLATENCY_[A-Z_]+[A-Z]", parser.format_help()))
    assert "LOWLATENCY_PRICES" in read
    named = set(re.findall(r"LOWLATENCY_[A-Z_]+[A-Z]", (MANIFESTS / "base" / "deployment.yaml").read_text()))
    assert sorted(read - named) == [], "undocumented"
    assert sorted(named - read) == [], "documented but never read"


def test_the_argocd_examples_order_the_operator_before_the_endpoints() -> None:
    applications = {
        obj["metadata"]["name"]: obj for path in (ARGOCD_EXAMPLES / "apps").glob("*.yaml") for obj in documents(path)
    }
    waves = {
        name: int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for name, app in applications.items()
    }
    assert waves["lowlatency-operator"] < waves["adtech-endpoints"]
    operator_source = applications["lowlatency-operator"]["spec"]["source"]
    assert (REPO / operator_source["path"] / "Chart.yaml").exists()
    endpoints_source = applications["adtech-endpoints"]["spec"]["source"]
    assert (REPO / endpoints_source["path"]).is_dir()
    (root,) = documents(ARGOCD_EXAMPLES / "root.yaml")
    assert (REPO / root["spec"]["source"]["path"]) == ARGOCD_EXAMPLES / "apps"


def test_the_example_endpoints_are_valid_resources() -> None:
    paths = [*(ARGOCD_EXAMPLES / "endpoints").glob("*.yaml"), REPO / "examples" / "bid-filter.yaml"]
    # OpenAPI v3.0 (as in CRDs) has draft-4 semantics, e.g. exclusiveMinimum is a boolean beside minimum.
    validator = jsonschema.Draft4Validator(crd_schema())
    for path in paths:
        for obj in documents(path):
            assert obj["apiVersion"] == "lowlatency.io/v1alpha1"
            validator.validate(obj)
            LowLatencyEndpoint.model_validate({"spec": obj["spec"]})
            assert "status" not in obj, "Git declares spec only; status is the operator's"


def test_examples_declare_only_what_the_operator_never_writes() -> None:
    for path in (ARGOCD_EXAMPLES / "endpoints").glob("*.yaml"):
        for obj in documents(path):
            assert "finalizers" not in obj["metadata"]
            annotations = obj["metadata"].get("annotations", {})
            assert not [key for key in annotations if key.startswith("lowlatency.io/")]
            assert annotations["argocd.argoproj.io/sync-options"] == "SkipDryRunOnMissingResource=true"
