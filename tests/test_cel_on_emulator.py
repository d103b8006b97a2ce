"""Custom resources meet their CRD's CEL rules and list types in the Kubernetes API emulator as in kube-apiserver.

Writes go over real HTTP (and kubectl for the project's own CRD); each refusal is checked for kube-apiserver's
shape: 422 Invalid, one cause per failure at the node's path plus the rule's ``fieldPath``, ``Invalid value:
"<node type>": <message>`` (or the reason's form), ``Duplicate value: ...`` for list types.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from fixtures_kubernetes import Kubectl
from lowlatency.emulators.kubernetes import KubernetesEmulator
from specs import bid_filter_spec

JSON = dict[str, Any]
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"
MERGE = "application/merge-patch+json"
REGION_RULE = {
    "rule": "has(self.region) == has(oldSelf.region) && (!has(self.region) || self.region == oldSelf.region)",
    "message": "region is immutable",
    "fieldPath": ".region",
}

pytestmark = pytest.mark.timeout(60)


def request(
    emulator: KubernetesEmulator, method: str, path: str, body: Any, content_type: str = "application/json"
) -> tuple[int, JSON]:
    sent = urllib.request.Request(
        f"{emulator.url}{path}", data=json.dumps(body).encode(), method=method, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(sent, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def install(emulator: KubernetesEmulator, spec_schema: JSON) -> None:
    names = {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"}
    schema = {"type": "object", "properties": {"spec": spec_schema}}
    version = {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
    emulator.install_crd(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced", "names": names, "versions": [version]},
        }
    )


def widget(name: str, **spec: Any) -> JSON:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


def causes(answer: tuple[int, JSON]) -> list[str]:
    code, status = answer
    assert (code, status["reason"]) == (422, "Invalid"), status
    return [f"{cause['field']}: {cause['message']}" for cause in status["details"]["causes"]]


def test_a_failed_rule_is_reported_at_its_field_path_with_its_message(kubernetes_emulator: KubernetesEmulator) -> None:
    rules = [
        {"rule": "self.mode != 'canary' || has(self.share)", "message": "share is required", "fieldPath": ".share"},
        {"rule": "self.share <= 50", "messageExpression": "'share ' + string(self.share) + ' is over 50'"},
        {
            "rule": "!has(self.legacy)",
            "message": "legacy is gone",
            "reason": "FieldValueForbidden",
            "fieldPath": ".legacy",
        },
        {"rule": "self.share != 7"},
    ]
    properties = {"mode": {"type": "string"}, "share": {"type": "integer"}, "legacy": {"type": "boolean"}}
    install(kubernetes_emulator, {"type": "object", "properties": properties, "x-kubernetes-validations": rules})
    assert causes(request(kubernetes_emulator, "POST", WIDGETS, widget("a", mode="canary"))) == [
        'spec.share: Invalid value: "object": share is required',
        'spec: Invalid value: "object": no such key: share evaluating rule: self.share <= 50',
        'spec: Invalid value: "object": no such key: share evaluating rule: self.share != 7',
    ]
    assert causes(request(kubernetes_emulator, "POST", WIDGETS, widget("b", mode="x", share=70, legacy=True))) == [
        'spec: Invalid value: "object": share 70 is over 50',
        "spec.legacy: Forbidden: legacy is gone",
    ]
    assert causes(request(kubernetes_emulator, "POST", WIDGETS, widget("c", mode="x", share=7))) == [
        'spec: Invalid value: "object": failed rule: self.share != 7'
    ]
    assert request(kubernetes_emulator, "POST", WIDGETS, widget("d", mode="canary", share=10))[0] == 201


def test_transition_rules_run_on_update_only_where_the_old_node_exists(kubernetes_emulator: KubernetesEmulator) -> None:
    item = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "size": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.size >= oldSelf.size", "message": "parts only grow"}],
    }
    parts = {"type": "array", "items": item, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}
    spec = {"type": "object", "properties": {"region": {"type": "string"}, "parts": parts}}
    install(kubernetes_emulator, spec | {"x-kubernetes-validations": [REGION_RULE]})
    created = widget("w", region="eu-west-1", parts=[{"name": "a", "size": 2}])
    assert request(kubernetes_emulator, "POST", WIDGETS, created)[0] == 201  # a create has no old object
    moved = {"spec": {"region": "us-east-1"}}
    assert causes(request(kubernetes_emulator, "PATCH", f"{WIDGETS}/w", moved, MERGE)) == [
        'spec.region: Invalid value: "object": region is immutable'
    ]
    shrunk = {"spec": {"parts": [{"name": "a", "size": 1}, {"name": "b", "size": 1}]}}
    assert causes(request(kubernetes_emulator, "PATCH", f"{WIDGETS}/w", shrunk, MERGE)) == [
        'spec.parts[0]: Invalid value: "object": parts only grow'  # part b is new: nothing to compare it with
    ]
    grown = {"spec": {"parts": [{"name": "b", "size": 1}, {"name": "a", "size": 3}]}}  # correlated by name
    assert request(kubernetes_emulator, "PATCH", f"{WIDGETS}/w", grown, MERGE)[0] == 200


def test_an_unchanged_value_keeps_passing_a_rule_added_later(kubernetes_emulator: KubernetesEmulator) -> None:
    """Validation ratcheting: an update leaves alone what a newer rule would refuse, unless it changes it."""
    spec = {"type": "object", "properties": {"size": {"type": "integer"}, "label": {"type": "string"}}}
    install(kubernetes_emulator, spec)
    assert request(kubernetes_emulator, "POST", WIDGETS, widget("w", size=5, label="old"))[0] == 201
    install_path = f"{CRDS}/widgets.example.com"
    crd = kubernetes_emulator.get("apiextensions.k8s.io/v1/customresourcedefinitions", None, "widgets.example.com")
    assert crd is not None
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["size"] |= {
        "x-kubernetes-validations": [{"rule": "self < 3", "message": "at most 2"}]
    }
    assert request(kubernetes_emulator, "PUT", install_path, crd)[0] == 200
    assert request(kubernetes_emulator, "PATCH", f"{WIDGETS}/w", {"spec": {"label": "new"}}, MERGE)[0] == 200
    assert causes(request(kubernetes_emulator, "PATCH", f"{WIDGETS}/w", {"spec": {"size": 6}}, MERGE)) == [
        'spec.size: Invalid value: "integer": at most 2'
    ]
    assert causes(request(kubernetes_emulator, "POST", WIDGETS, widget("v", size=5))) == [
        'spec.size: Invalid value: "integer": at most 2'
    ]


def test_set_and_map_lists_refuse_duplicates(kubernetes_emulator: KubernetesEmulator) -> None:
    tags = {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}
    item = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "size": {"type": "integer"}},
    }
    parts = {"type": "array", "items": item, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}
    install(kubernetes_emulator, {"type": "object", "properties": {"tags": tags, "parts": parts}})
    duplicated = widget("w", tags=["a", "b", "a"], parts=[{"name": "x", "size": 1}, {"name": "x", "size": 2}])
    assert causes(request(kubernetes_emulator, "POST", WIDGETS, duplicated)) == [
        'spec.tags[2]: Duplicate value: "a"',
        'spec.parts[1]: Duplicate value: map[string]interface {}{"name":"x"}',
    ]


@pytest.mark.usefixtures("lowlatency_crd")
def test_kubectl_apply_meets_the_projects_rules(kubectl: Kubectl) -> None:
    """The project's own rule on the deployment, through kubectl, as a user sees it."""
    kubectl("create", "namespace", "adtech")
    spec = bid_filter_spec(deployment={"strategy": "Canary"})
    document = {"apiVersion": "lowlatency.io/v1alpha1", "kind": "LowLatencyEndpoint"}
    document |= {"metadata": {"name": "bid-filter", "namespace": "adtech"}, "spec": spec}
    applied = kubectl("apply", "-f", "-", input=json.dumps(document), check=False)
    assert applied.returncode != 0
    assert (
        'The LowLatencyEndpoint "bid-filter" is invalid: spec.deployment.canarySizePercent: Invalid value: '
        '"object": canarySizePercent is required with strategy Canary and allowed only with it'
    ) in applied.stderr
