"""What kubectl reads about the Kubernetes API emulator and shows of its objects, as kube-apiserver serves it.

Discovery (``kubectl api-resources``), tables (``kubectl get``: printer columns, ages, watches) and OpenAPI
(``kubectl explain``), over real HTTP and through the real kubectl.
"""

from __future__ import annotations

import datetime
import re
import threading

import pytest

from fixtures_kubernetes import ROOT, Kubectl
from kubernetes_requests import Http
from lowlatency.emulators.kubernetes import KubernetesEmulator
from lowlatency.emulators.tables import human_duration

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def api(kubernetes_emulator: KubernetesEmulator) -> Http:
    return Http(kubernetes_emulator.url)


# --- discovery ---


def test_discovery_serves_builtins_and_the_crd_resource_once_the_crd_is_applied(api: Http, kubectl: Kubectl) -> None:
    assert api.ok("GET", "/api")["versions"] == ["v1"]
    core = {entry["name"]: entry for entry in api.ok("GET", "/api/v1")["resources"]}
    assert core["namespaces"]["namespaced"] is False
    assert core["events"]["namespaced"] is True
    groups = {group["name"] for group in api.ok("GET", "/apis")["groups"]}
    assert {"coordination.k8s.io", "events.k8s.io", "apiextensions.k8s.io"} <= groups
    assert "lowlatency.io" not in groups
    assert api.request("GET", "/apis/lowlatency.io/v1alpha1")[0] == 404

    kubectl("apply", "-f", str(ROOT / "crds" / "lowlatencyendpoints.lowlatency.io.yaml"))

    served = {entry["name"]: entry for entry in api.ok("GET", "/apis/lowlatency.io/v1alpha1")["resources"]}
    main = served["lowlatencyendpoints"]
    assert (main["kind"], main["namespaced"], main["shortNames"]) == ("LowLatencyEndpoint", True, ["lle"])
    assert {"get", "list", "watch", "create", "patch", "update", "delete"} <= set(main["verbs"])
    assert "shortNames" not in served["lowlatencyendpoints/status"]
    listed = kubectl("api-resources", "--api-group=lowlatency.io").stdout
    assert "lle" in listed
    assert "LowLatencyEndpoint" in listed
    crd = api.ok("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/lowlatencyendpoints.lowlatency.io")
    assert {condition["type"]: condition["status"] for condition in crd["status"]["conditions"]}[
        "Established"
    ] == "True"


# --- tables and OpenAPI ---


def test_kubectl_tables_of_namespaces_and_events(api: Http, kubectl: Kubectl) -> None:
    involved = {"kind": "LowLatencyEndpoint", "namespace": "default", "name": "bid-filter"}
    event = {"involvedObject": involved, "reason": "InService", "message": "endpoint is InService", "type": "Normal"}
    event["lastTimestamp"] = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    api.ok("POST", "/api/v1/namespaces/default/events", event | {"metadata": {"generateName": "bid-filter."}})
    header, row = kubectl("get", "events", "-n", "default").stdout.splitlines()
    assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    last_seen, *rest = row.split()
    assert re.fullmatch(r"\d+s", last_seen)
    assert rest == ["Normal", "InService", "bid-filter", "endpoint", "is", "InService"]
    namespaces = kubectl("get", "namespaces").stdout.splitlines()
    assert namespaces[0].split() == ["NAME", "STATUS", "AGE"]
    assert namespaces[1].split()[:2] == ["default", "Active"]


@pytest.mark.usefixtures("lowlatency_crd")
def test_kubectl_wait_watch_and_explain(kubectl: Kubectl) -> None:
    kubectl("create", "namespace", "adtech")
    kubectl("apply", "-f", str(ROOT / "examples" / "bid-filter.yaml"))
    status = '{"status": {"phase": "InService"}}'
    patch = ["patch", "lle", "bid-filter", "-n", "adtech", "--type", "merge", "--subresource", "status", "-p", status]
    later = threading.Timer(1, kubectl, patch)
    later.start()
    kubectl("wait", "--for=jsonpath={.status.phase}=InService", "lle/bid-filter", "-n", "adtech", "--timeout=10s")
    later.join()
    watched = kubectl("get", "lle", "-n", "adtech", "--watch", "--request-timeout=2s").stdout
    assert "InService" in watched
    assert "Established" in kubectl("get", "crd", "lowlatencyendpoints.lowlatency.io", "-o", "yaml").stdout
    explained = kubectl("explain", "lle.spec.instanceCount").stdout
    assert "FIELD: instanceCount <integer>" in explained


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (5, "5s"),
        (119, "119s"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600 + 120, "3h2m"),
        (30 * 3600, "30h"),
        (3 * 86400, "3d"),
    ],
)
def test_ages_are_shown_as_kube_apiserver_shows_them(seconds: int, shown: str) -> None:
    assert human_duration(seconds) == shown
