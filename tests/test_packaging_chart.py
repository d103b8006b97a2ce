"""The Helm chart, linted and rendered by the real `helm` with several value sets; every object validated."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from lowlatency import pricing
from lowlatency.tenancy import TenantPolicy
from rendered import one, operator_config, operator_container, rules_of, run_arguments

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "charts" / "lowlatency-operator"
CRD_FILE = REPO / "crds" / "lowlatencyendpoints.lowlatency.io.yaml"
KUBERNETES_VERSION = "1.33.0"
ROLE_ARN = "arn:aws:iam::123456789012:role/lowlatency-operator"
NAMESPACE = "lowlatency-system"
TEAM_PRICES: dict[str, Any] = {
    **json.loads((REPO / "operator" / "lowlatency" / "data" / "prices.json").read_text()),
    "source": "the platform team's negotiated rates",
    "compiled": "2026-10-01",
}


def one_price(price: Any) -> dict[str, Any]:
    """A price table of one instance type, otherwise well-formed."""
    return {"source": "mine", "compiled": "2026-10-01", "regions": {"us-east-1": {"ml.c5.xlarge": price}}}


VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "irsa": {"serviceAccount": {"roleArn": ROLE_ARN}, "aws": {"region": "eu-west-1"}},
    "namespaced": {"watchNamespaces": ["adtech", "search"]},
    "metrics-and-servicemonitor": {
        "metrics": {"enabled": True, "port": 9100, "serviceMonitor": {"enabled": True, "labels": {"release": "kps"}}}
    },
    "no-metrics-no-crd": {"metrics": {"enabled": False}, "crd": {"install": False}},
    "existing-price-configmap": {"prices": {"existingConfigMap": "team-prices"}},
    "everything": {
        "image": {"digest": "sha256:" + "0" * 64},
        "serviceAccount": {"roleArn": ROLE_ARN, "annotations": {"team": "platform"}},
        "aws": {
            "region": "eu-west-1",
            "endpointUrl": "http://aws.local:5000",
            "serviceEndpoints": {"SAGEMAKER": "http://sm.local"},
            "readTimeoutSeconds": 12.5,
        },
        "watchNamespaces": ["adtech"],
        "operator": {
            "logFormat": "text",
            "verbose": True,
            "pollSeconds": 10,
            "resyncSeconds": 120,
            "auditSeconds": 0,
            "tickSeconds": 2,
            "awsWorkers": 4,
            "extraEnv": [{"name": "X", "value": "1"}],
        },
        "tenantPolicy": {"namespaces": {"adtech": {"maxInstanceCount": 20, "instanceTypes": ["ml.c5.*"]}}},
        "benchmark": {"maxSeconds": 90, "atOnce": 2, "viaVpcEndpoint": True},
        "rightsizing": {"safetyFactor": 0.7, "stepSeconds": 4.5},
        "prices": {"table": TEAM_PRICES},
        "peering": {"enabled": True, "lifetimeSeconds": 45},
        "health": {"port": 8081},
        "metrics": {"port": 9200},
        "replicaCount": 2,
        "nodeSelector": {"kubernetes.io/arch": "arm64"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "operators", "effect": "NoSchedule"}],
        "affinity": {"podAntiAffinity": {}},
        "priorityClassName": "system-cluster-critical",
        "podAnnotations": {"a": "b"},
        "imagePullSecrets": [{"name": "registry"}],
        "crd": {"annotations": {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}},
    },
}

BAD_VALUE_SETS: dict[str, dict[str, Any]] = {
    "replicas not a number": {"replicaCount": "two"},
    "unknown log format": {"operator": {"logFormat": "xml"}},
    "invalid namespace name": {"watchNamespaces": ["Bad_Namespace"]},
    "unknown top-level key": {"replicas": 2},
    "role ARN is not an ARN": {"serviceAccount": {"roleArn": "lowlatency-operator"}},
    "port out of range": {"metrics": {"port": 70000}},
    "latest tag": {"image": {"tag": "latest"}},
    "two replicas without peering": {"replicaCount": 2},
    "servicemonitor without metrics": {"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}},
    "unknown tenant policy field": {"tenantPolicy": {"namespaces": {"adtech": {"maxInstances": 3}}}},
    "AWS read timeout of zero": {"aws": {"readTimeoutSeconds": 0}},
    "AWS read timeout not a number": {"aws": {"readTimeoutSeconds": "30s"}},
    "negative audit interval": {"operator": {"auditSeconds": -1}},
    "no AWS workers": {"operator": {"awsWorkers": 0}},
    "peering lifetime too short": {"peering": {"lifetimeSeconds": 5}},
    "benchmark of no time": {"benchmark": {"maxSeconds": 0}},
    "no benchmark at a time": {"benchmark": {"atOnce": 0}},
    "half a benchmark at a time": {"benchmark": {"atOnce": 1.5}},
    "via VPC endpoint not a boolean": {"benchmark": {"viaVpcEndpoint": "yes"}},
    "unknown benchmark key": {"benchmark": {"timeoutSeconds": 30}},
    "safety factor above one": {"rightsizing": {"safetyFactor": 1.5}},
    "safety factor of zero": {"rightsizing": {"safetyFactor": 0}},
    "ramp step of zero": {"rightsizing": {"stepSeconds": 0}},
    "price table without regions": {"prices": {"table": {"source": "mine", "compiled": "2026-10-01"}}},
    "price table compiled on no date": {"prices": {"table": {**one_price(1), "compiled": "October"}}},
    "price not a number": {"prices": {"table": one_price("cheap")}},
    "negative price": {"prices": {"table": one_price(-1)}},
    "price table and existing ConfigMap both": {"prices": {"table": TEAM_PRICES, "existingConfigMap": "team-prices"}},
    "price ConfigMap name invalid": {"prices": {"existingConfigMap": "Team_Prices"}},
    "unknown prices key": {"prices": {"file": "/prices.json"}},
}


@pytest.fixture(scope="session")
def helm() -> str:
    from tools import helm_binary

    return str(helm_binary())


def run_helm(helm: str, tmp_path: Path, command: str, values: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    arguments = [helm, command]
    if command == "template":
        arguments += ["lowlatency-operator", "--namespace", NAMESPACE]
    arguments += [str(CHART), "--values", str(values_file)]
    environment = {**os.environ, "HELM_CACHE_HOME": str(tmp_path / "cache"), "HELM_CONFIG_HOME": str(tmp_path)}
    return subprocess.run(arguments, capture_output=True, text=True, timeout=60, check=False, env=environment)


def render(helm: str, tmp_path: Path, values: dict[str, Any]) -> list[dict[str, Any]]:
    result = run_helm(helm, tmp_path, "template", values)
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


@pytest.fixture(params=VALUE_SETS.keys())
def value_set(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return operator_container(one(objects, "Deployment"))


def env_of(objects: list[dict[str, Any]]) -> dict[str, str]:
    return {variable["name"]: variable.get("value", "") for variable in container(objects)["env"]}


def test_helm_lint(helm: str, tmp_path: Path, value_set: str) -> None:
    result = run_helm(helm, tmp_path, "lint", VALUE_SETS[value_set])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rendered_object_is_valid_kubernetes(helm: str, tmp_path: Path, value_set: str) -> None:
    objects = render(helm, tmp_path, VALUE_SETS[value_set])
    assert objects
    for obj in objects:
        if obj["kind"] == "ServiceMonitor":
            continue  # a Prometheus Operator type: checked against its Service below
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("bad", BAD_VALUE_SETS.keys())
def test_wrong_values_are_refused(helm: str, tmp_path: Path, bad: str) -> None:
    for command in ("lint", "template"):
        result = run_helm(helm, tmp_path, command, BAD_VALUE_SETS[bad])
        assert result.returncode != 0, f"helm {command} accepted {bad}"


def test_the_crd_is_the_generated_one_kept_on_uninstall(helm: str, tmp_path: Path) -> None:
    assert (CHART / "files" / CRD_FILE.name).read_bytes() == CRD_FILE.read_bytes()
    assert not (CHART / "crds").exists(), "Helm never upgrades crds/: the CRD is a template"
    generated = yaml.safe_load(CRD_FILE.read_text())
    rendered = one(render(helm, tmp_path, {}), "CustomResourceDefinition")
    assert rendered["spec"] == generated["spec"]
    assert rendered["metadata"]["name"] == generated["metadata"]["name"]
    assert rendered["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert generated["metadata"]["labels"].items() <= rendered["metadata"]["labels"].items()
    assert rendered["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"


def test_crd_install_can_be_turned_off(helm: str, tmp_path: Path) -> None:
    kinds = {obj["kind"] for obj in render(helm, tmp_path, {"crd": {"install": False}})}
    assert "CustomResourceDefinition" not in kinds
    assert "Deployment" in kinds


def test_irsa_role_on_the_service_account(helm: str, tmp_path: Path) -> None:
    objects = render(helm, tmp_path, VALUE_SETS["irsa"])
    service_account = one(objects, "ServiceAccount")
    assert service_account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE_ARN}
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == service_account["metadata"]["name"]
    assert operator_config(one(objects, "Deployment")).aws.default_region == "eu-west-1"
    assert "annotations" not in one(render(helm, tmp_path, {}), "ServiceAccount")["metadata"]


RESOURCE_RULES = {
    *(("lowlatency.io", "lowlatencyendpoints", verb) for verb in ("list", "watch", "patch")),
    ("lowlatency.io", "lowlatencyendpoints/status", "patch"),
    ("", "events", "create"),
}
CRD_OBSERVATION = {("apiextensions.k8s.io", "customresourcedefinitions", verb) for verb in ("list", "watch")}
NAMESPACE_OBSERVATION = {("", "namespaces", verb) for verb in ("list", "watch")}
CLUSTER_IDENTITY = {("", "namespaces", "get")}  # of kube-system only (see kube_system_only)


def kube_system_only(role: dict[str, Any]) -> bool:
    """Whether the role reads namespaces by name only as the kube-system namespace."""
    gets = [rule for rule in role["rules"] if "namespaces" in rule["resources"] and "get" in rule["verbs"]]
    return all(rule.get("resourceNames") == ["kube-system"] for rule in gets)


def test_cluster_wide_rbac_is_least_privilege(helm: str, tmp_path: Path) -> None:
    objects = render(helm, tmp_path, {})
    assert not [obj for obj in objects if obj["kind"] in {"Role", "RoleBinding"}]
    (cluster_role,) = [obj for obj in objects if obj["kind"] == "ClusterRole"]
    assert rules_of(cluster_role) == RESOURCE_RULES | CRD_OBSERVATION | CLUSTER_IDENTITY
    assert kube_system_only(cluster_role)
    binding = one(objects, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == cluster_role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": one(objects, "ServiceAccount")["metadata"]["name"], "namespace": NAMESPACE}
    ]
    assert operator_config(one(objects, "Deployment")).namespaces == ()


def test_namespaced_rbac_has_a_role_per_watched_namespace(helm: str, tmp_path: Path) -> None:
    objects = render(helm, tmp_path, VALUE_SETS["namespaced"])
    roles = {obj["metadata"]["namespace"]: obj for obj in objects if obj["kind"] == "Role"}
    bindings = {obj["metadata"]["namespace"]: obj for obj in objects if obj["kind"] == "RoleBinding"}
    assert set(roles) == set(bindings) == {"adtech", "search"}
    for role in roles.values():
        assert rules_of(role) == RESOURCE_RULES
    (observer,) = [obj for obj in objects if obj["kind"] == "ClusterRole"]
    assert rules_of(observer) == NAMESPACE_OBSERVATION | CRD_OBSERVATION | CLUSTER_IDENTITY, "read-only, nothing else"
    assert kube_system_only(observer)
    assert operator_config(one(objects, "Deployment")).namespaces == ("adtech", "search")


def test_peering_adds_its_rbac_argument_and_rolling_updates(helm: str, tmp_path: Path) -> None:
    peering = ("kopf.dev", "clusterkopfpeerings")
    clusterwide = render(helm, tmp_path, {"peering": {"enabled": True}, "replicaCount": 2})
    (cluster_role,) = [obj for obj in clusterwide if obj["kind"] == "ClusterRole"]
    assert {(*peering, verb) for verb in ("get", "list", "watch", "patch")} <= rules_of(cluster_role)
    assert container(clusterwide)["args"] == ["--peering=lowlatency-operator"]
    assert one(clusterwide, "Deployment")["spec"]["strategy"]["type"] == "RollingUpdate"
    namespaced = render(helm, tmp_path, VALUE_SETS["everything"])
    (role,) = [obj for obj in namespaced if obj["kind"] == "Role"]
    assert ("kopf.dev", "kopfpeerings", "patch") in rules_of(role)
    standalone = render(helm, tmp_path, {})
    assert one(standalone, "Deployment")["spec"]["strategy"]["type"] == "Recreate"
    assert not any(group == "kopf.dev" for obj in standalone if "rules" in obj for group, _, _ in rules_of(obj))


def test_the_pod_is_restricted_and_read_only(helm: str, tmp_path: Path, value_set: str) -> None:
    objects = render(helm, tmp_path, VALUE_SETS[value_set])
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    operator = container(objects)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = operator["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in operator["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert operator["resources"]["requests"]
    assert operator["resources"]["limits"]["memory"]


def test_probes_use_kopfs_liveness_endpoint(helm: str, tmp_path: Path, value_set: str) -> None:
    objects = render(helm, tmp_path, VALUE_SETS[value_set])
    operator = container(objects)
    liveness = operator_config(one(objects, "Deployment")).liveness_endpoint
    ports = {port["name"]: port["containerPort"] for port in operator["ports"]}
    assert liveness == f"http://0.0.0.0:{ports['health']}/healthz"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert operator[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert ports["health"] == VALUE_SETS[value_set].get("health", {}).get("port", 8080)


def test_metrics_port_service_and_servicemonitor_agree(helm: str, tmp_path: Path) -> None:
    objects = render(helm, tmp_path, VALUE_SETS["metrics-and-servicemonitor"])
    assert operator_config(one(objects, "Deployment")).metrics_port == 9100
    ports = {port["name"]: port["containerPort"] for port in container(objects)["ports"]}
    assert ports["metrics"] == 9100
    service = one(objects, "Service")
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == "metrics"
    pod_labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    monitor = one(objects, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["endpoints"][0]["port"] == service_port["name"]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_without_metrics_nothing_listens_for_them(helm: str, tmp_path: Path) -> None:
    objects = render(helm, tmp_path, VALUE_SETS["no-metrics-no-crd"])
    assert operator_config(one(objects, "Deployment")).metrics_port is None
    assert "Service" not in {obj["kind"] for obj in objects}
    assert [port["name"] for port in container(objects)["ports"]] == ["health"]


def test_every_setting_reaches_the_operator(helm: str, tmp_path: Path) -> None:
    objects = render(helm, tmp_path, VALUE_SETS["everything"])
    environment = env_of(objects)
    settings = operator_config(one(objects, "Deployment"))
    assert settings.aws.default_region == "eu-west-1"
    assert settings.aws.endpoint_url == "http://aws.local:5000"
    assert settings.aws.read_timeout_seconds == 12.5
    assert environment["AWS_ENDPOINT_URL_SAGEMAKER"] == "http://sm.local"  # boto3 reads it itself
    assert settings.log_format == "text"
    assert settings.timing.poll_seconds == 10
    assert settings.timing.resync_seconds == 120
    assert settings.timing.audit_seconds == 0
    assert settings.timing.tick_seconds == 2
    assert settings.aws_workers == 4
    assert settings.namespaces == ("adtech",)
    assert settings.peering.name == "lowlatency-operator"
    assert settings.peering.lifetime_seconds == 45
    assert settings.liveness_endpoint == "http://0.0.0.0:8081/healthz"
    assert settings.metrics_port == 9200
    assert settings.benchmarking.max_seconds == 90
    assert settings.benchmarking.at_once == 2
    assert settings.benchmarking.via_vpc_endpoint is True
    assert settings.benchmarking.safety_factor == 0.7
    assert settings.benchmarking.ramp_step_seconds == 4.5
    assert environment["X"] == "1"
    assert run_arguments(one(objects, "Deployment")).verbose is True
    assert container(objects)["image"] == "ghcr.io/lowlatency-io/lowlatency-operator@sha256:" + "0" * 64
    policy_path = settings.tenant_policy
    assert policy_path is not None
    config_map = mounted_config_map(objects, policy_path)
    policy = yaml.safe_load(config_map["data"][policy_path.name])
    assert policy == VALUE_SETS["everything"]["tenantPolicy"]
    TenantPolicy.model_validate(policy)
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/arch": "arm64"}
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["tolerations"][0]["key"] == "dedicated"


def test_no_run_flag_is_left_at_what_the_chart_defaults_to(helm: str, tmp_path: Path) -> None:
    """Each flag of `lowlatency-operator run` is set by some value: a flag the chart cannot reach fails here."""
    defaults = vars(run_arguments(one(render(helm, tmp_path, {}), "Deployment")))
    everything = vars(run_arguments(one(render(helm, tmp_path, VALUE_SETS["everything"]), "Deployment")))
    unreachable = sorted(flag for flag, value in everything.items() if value == defaults[flag] and flag != "func")
    assert not unreachable, f"no chart value changes {unreachable}"


def mounted_config_map(objects: list[dict[str, Any]], path: Path) -> dict[str, Any]:
    """The chart's ConfigMap whose directory mount holds ``path``; no subPath, so that edits reach the pod."""
    mount = next(m for m in container(objects)["volumeMounts"] if m["mountPath"] == str(path.parent))
    assert "subPath" not in mount, "a subPath mount never sees the ConfigMap change"
    volumes = one(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    name = next(volume["configMap"]["name"] for volume in volumes if volume["name"] == mount["name"])
    (config_map,) = [obj for obj in objects if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == name]
    return config_map


def test_a_price_table_in_values_is_the_one_the_operator_loads(helm: str, tmp_path: Path) -> None:
    objects = render(helm, tmp_path, VALUE_SETS["everything"])
    prices_path = operator_config(one(objects, "Deployment")).benchmarking.prices
    assert prices_path is not None
    document = json.loads(mounted_config_map(objects, prices_path)["data"][prices_path.name])
    table = pricing.parse(document, str(prices_path))
    assert table == pricing.parse(TEAM_PRICES, "values")
    assert table.source == "the platform team's negotiated rates"
    assert table.hourly_usd == pricing.load().hourly_usd
    annotations = one(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["a"] == "b"
    repriced = render(helm, tmp_path, {**VALUE_SETS["everything"], "prices": {"table": one_price(0.1)}})
    repriced_annotations = one(repriced, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert repriced_annotations["checksum/prices"] != annotations["checksum/prices"], (
        "the operator reads prices at start-up: a new table must roll the pods"
    )


def test_an_existing_price_configmap_is_mounted_not_created(helm: str, tmp_path: Path) -> None:
    objects = render(helm, tmp_path, VALUE_SETS["existing-price-configmap"])
    prices_path = operator_config(one(objects, "Deployment")).benchmarking.prices
    assert prices_path is not None
    mount = next(m for m in container(objects)["volumeMounts"] if m["mountPath"] == str(prices_path.parent))
    assert "subPath" not in mount
    volumes = one(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    (volume,) = [volume for volume in volumes if volume["name"] == mount["name"]]
    assert volume["configMap"] == {"name": "team-prices"}
    assert prices_path.name == "prices.json", "the key values.yaml documents"
    assert "ConfigMap" not in {obj["kind"] for obj in objects}


def test_without_a_price_table_the_bundled_one_is_used(helm: str, tmp_path: Path) -> None:
    objects = render(helm, tmp_path, {})
    assert operator_config(one(objects, "Deployment")).benchmarking.prices is None
    assert [mount["name"] for mount in container(objects)["volumeMounts"]] == ["tmp"]


def test_notes_tell_what_to_do_next(helm: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [helm, "install", "lowlatency-operator", str(CHART), "--dry-run=client", "--namespace", NAMESPACE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "HELM_CACHE_HOME": str(tmp_path / "cache"), "HELM_CONFIG_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    notes = result.stdout.partition("NOTES:")[2]
    assert "rollout status deployment/lowlatency-operator" in notes
    assert "serviceAccount.roleArn" in notes
    assert "kubectl get lowlatencyendpoints" in notes


@pytest.fixture(autouse=True)
def _no_stray_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """helm must not reach any cluster from here."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
