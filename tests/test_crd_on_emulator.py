"""The Kubernetes API emulator checks a CustomResourceDefinition as kube-apiserver does before serving it.

The project's CRD is applied with the real kubectl from each path users install it by; then each rule of CRD
validation (see ``lowlatency.emulators.crd_validation``) is shown refusing a small CRD written to break it, with
kube-apiserver's status shape (422 Invalid, the field path and message of each cause), and accepting the same CRD
once it is fixed.
"""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
import yaml

from fixtures_kubernetes import CRD_PATH, ROOT, Kubectl
from lowlatency.emulators.cel.cost import compile_rule
from lowlatency.emulators.cel.schema_types import decl_type
from lowlatency.emulators.kubernetes import KubernetesEmulator

JSON = dict[str, Any]
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
NAME = "lowlatencyendpoints.lowlatency.io"
INSTALL_PATHS = {
    "crds/": ROOT / "crds",
    "chart": ROOT / "charts" / "lowlatency-operator" / "files" / f"{NAME}.yaml",
    "manifests": ROOT / "manifests" / "base" / f"{NAME}.yaml",
}
SPEC = "spec.validation.openAPIV3Schema.properties[spec]"
COST_HINT = (
    "(try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings"
)

pytestmark = pytest.mark.timeout(60)


def widget_crd(spec_schema: JSON) -> JSON:
    """A one-version CRD whose spec has the given schema."""
    names = {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"}
    version = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": spec_schema}}},
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": names, "versions": [version]},
    }


def post(emulator: KubernetesEmulator, path: str, body: JSON, **params: str) -> tuple[int, JSON]:
    query = "?" + "&".join(f"{key}={value}" for key, value in params.items()) if params else ""
    request = urllib.request.Request(
        f"{emulator.url}{path}{query}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def refusal(emulator: KubernetesEmulator, crd: JSON) -> list[str]:
    """The causes of the 422 a CRD gets, as ``field: message`` lines."""
    code, status = post(emulator, CRDS, crd)
    assert (code, status["reason"]) == (422, "Invalid"), status
    assert status["message"].startswith(f'CustomResourceDefinition.apiextensions.k8s.io "{crd["metadata"]["name"]}"')
    assert status["details"]["kind"] == "CustomResourceDefinition"
    return [f"{cause['field']}: {cause['message']}" for cause in status["details"]["causes"]]


def accepted(emulator: KubernetesEmulator, crd: JSON) -> None:
    code, status = post(emulator, CRDS, crd)
    assert code == 201, status


# --- the project's CRD, as users install it --------------------------------------------------------------------


@pytest.mark.parametrize("source", list(INSTALL_PATHS))
def test_the_crd_of_every_install_path_is_accepted_and_serves_the_example(kubectl: Kubectl, source: str) -> None:
    applied = kubectl("apply", "-f", str(INSTALL_PATHS[source]), check=False)
    assert applied.returncode == 0, applied.stderr
    crd = json.loads(kubectl("get", "crd", NAME, "-o", "json").stdout)
    conditions = {condition["type"]: condition["status"] for condition in crd["status"]["conditions"]}
    assert conditions["Established"] == "True"
    kubectl("create", "namespace", "adtech")
    kubectl("apply", "-f", str(ROOT / "examples" / "bid-filter.yaml"))
    stored = json.loads(kubectl("get", "lle", "bid-filter", "-n", "adtech", "-o", "json").stdout)
    assert stored["spec"]["deployment"]["strategy"] == "AllAtOnce"  # the deployment default, applied


def test_a_deployment_default_its_rules_cannot_read_is_refused_as_kube_apiserver_refuses_it(kubectl: Kubectl) -> None:
    """The CRD before the fix (``deployment: default: {}`` with rules reading ``self.strategy``): kube-apiserver
    1.35 evaluates every rule on the default as written, without the defaults nested in it."""
    crd = yaml.safe_load(CRD_PATH.read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"]["properties"]["deployment"]["default"] = {}
    applied = kubectl("apply", "-f", "-", input=yaml.safe_dump(crd), check=False)
    assert applied.returncode != 0
    expected = (
        f'{SPEC}.properties[deployment].default: Invalid value: "object": no such key: strategy evaluating rule: '
        "canarySizePercent is required with strategy Canary and allowed only with it"
    )
    assert expected in applied.stderr
    assert kubectl("get", "crd", "-o", "name").stdout == ""


# --- defaults ---------------------------------------------------------------------------------------------------


def test_a_default_that_fails_its_nodes_rule_is_refused_with_no_such_key(
    kubernetes_emulator: KubernetesEmulator,
) -> None:
    rule = {"rule": "self.mode == 'fast' || self.limit > 0", "message": "a slow widget needs a limit"}
    deployment = {
        "type": "object",
        "properties": {"mode": {"type": "string", "default": "slow"}, "limit": {"type": "integer"}},
        "x-kubernetes-validations": [rule],
        "default": {"mode": "slow"},  # nested defaults are not applied inside a default: limit is absent
    }
    spec = {"type": "object", "properties": {"deployment": deployment}}
    assert refusal(kubernetes_emulator, widget_crd(spec)) == [
        f'{SPEC}.properties[deployment].default: Invalid value: "object": no such key: limit evaluating rule: '
        "a slow widget needs a limit"
    ]
    deployment["default"] = {"mode": "slow", "limit": 3}
    accepted(kubernetes_emulator, widget_crd(spec))


def test_a_default_that_fails_its_schema_is_refused(kubernetes_emulator: KubernetesEmulator) -> None:
    spec = {
        "type": "object",
        "properties": {
            "replicas": {"type": "integer", "minimum": 1, "default": 0},
            "mode": {"type": "string", "enum": ["fast", "slow"], "default": "medium"},
            "limits": {"type": "object", "properties": {"cpu": {"type": "integer"}}, "default": {"gpu": 1}},
        },
    }
    causes = refusal(kubernetes_emulator, widget_crd(spec))
    assert causes == [
        f"{SPEC}.properties[replicas].default: Invalid value: 0: <root> in body should be greater than or equal to 1",
        f'{SPEC}.properties[mode].default: Unsupported value: "medium": supported values: "fast", "slow"',
        f'{SPEC}.properties[limits].default: Invalid value: map[string]interface {{}}{{"gpu":1}}: must not have '
        "unknown fields",
    ]
    spec["properties"] |= {
        "replicas": {"type": "integer", "minimum": 1, "default": 1},
        "mode": {"type": "string", "enum": ["fast", "slow"], "default": "slow"},
        "limits": {"type": "object", "properties": {"cpu": {"type": "integer"}}, "default": {"cpu": 1}},
    }
    accepted(kubernetes_emulator, widget_crd(spec))


# --- CEL rules that do not compile ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        ("self.size ==", "ERROR: <input>:1:13: Syntax error: mismatched input '<EOF>'"),
        ("self.sise == 1", "ERROR: <input>:1:5: undefined field 'sise'\n | self.sise == 1\n | ....^"),
        ("size(widgets) > 0", "ERROR: <input>:1:6: undeclared reference to 'widgets' (in container '')"),
        ("self.name.matches('^a\\.b$')", "ERROR: <input>:1:19: unable to unescape string"),
        ("self.name == 1", "found no matching overload for '_==_' applied to '(string, int)'"),
    ],
)
def test_a_rule_that_does_not_compile_is_refused(
    kubernetes_emulator: KubernetesEmulator, rule: str, error: str
) -> None:
    spec = {
        "type": "object",
        "properties": {"size": {"type": "integer"}, "name": {"type": "string", "maxLength": 10}},
        "x-kubernetes-validations": [{"rule": rule}],
    }
    (cause,) = refusal(kubernetes_emulator, widget_crd(spec))
    written = (
        f'apiextensions.ValidationRule{{Rule:{json.dumps(rule)}, Message:"", MessageExpression:"", '
        'Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:"", OptionalOldSelf:(*bool)(nil)}'
    )
    assert cause.startswith(f"{SPEC}.x-kubernetes-validations[0].rule: Invalid value: {written}: compilation failed: ")
    assert error in cause


def test_a_rule_must_be_a_bool_and_transition_rules_need_correlated_values(
    kubernetes_emulator: KubernetesEmulator,
) -> None:
    item = {"type": "object", "properties": {"name": {"type": "string"}}}
    item["x-kubernetes-validations"] = [{"rule": "self.name == oldSelf.name", "message": "name is immutable"}]
    spec = {
        "type": "object",
        "properties": {"size": {"type": "integer"}, "parts": {"type": "array", "maxItems": 4, "items": item}},
        "x-kubernetes-validations": [{"rule": "self.size + 1"}],
    }
    causes = refusal(kubernetes_emulator, widget_crd(spec))
    assert any(
        cause.startswith(f"{SPEC}.properties[parts].items.x-kubernetes-validations[0].rule: Invalid value: ")
        and cause.endswith(
            f"oldSelf cannot be used on the uncorrelatable portion of the schema within {SPEC}.properties[parts]"
        )
        for cause in causes
    ), causes
    assert any(cause.endswith(": cel expression must evaluate to a bool") for cause in causes), causes
    spec["properties"]["parts"] |= {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}
    item["required"] = ["name"]
    spec["x-kubernetes-validations"] = [{"rule": "self.size + 1 > 0"}]
    accepted(kubernetes_emulator, widget_crd(spec))


# --- the cost limits --------------------------------------------------------------------------------------------


def test_a_rule_iterating_an_unbounded_list_is_refused_for_its_cost(kubernetes_emulator: KubernetesEmulator) -> None:
    """Without maxItems the API server assumes as many items as fit in a 3 MiB request (over a million strings)."""
    names = {"type": "array", "items": {"type": "string", "maxLength": 64}}
    names["x-kubernetes-validations"] = [{"rule": "self.all(n, n.matches('^[a-z0-9-]+$'))", "message": "lowercase"}]
    spec = {"type": "object", "properties": {"names": names}}
    (cause,) = refusal(kubernetes_emulator, widget_crd(spec))
    assert cause.startswith(
        f"{SPEC}.properties[names].x-kubernetes-validations[0].rule: Forbidden: estimated rule cost exceeds budget by "
        "factor of "
    )
    assert COST_HINT in cause
    names["maxItems"] = 16
    accepted(kubernetes_emulator, widget_crd(spec))


def test_a_rule_on_each_item_of_an_unbounded_list_of_unbounded_strings_is_refused(
    kubernetes_emulator: KubernetesEmulator,
) -> None:
    """The rule runs once per item: its cost is multiplied by the items a request can hold, and each string is
    as long as a request without maxLength."""
    item = {"type": "string", "x-kubernetes-validations": [{"rule": "self.contains('--') == false"}]}
    spec = {"type": "object", "properties": {"names": {"type": "array", "items": item}}}
    causes = refusal(kubernetes_emulator, widget_crd(spec))
    assert causes[0] == (
        f"{SPEC}.properties[names].items.x-kubernetes-validations[0].rule: Forbidden: estimated rule cost exceeds "
        f"budget by factor of more than 100x {COST_HINT} are declared)"
    )
    item["maxLength"] = 63
    spec["properties"]["names"]["maxItems"] = 100
    accepted(kubernetes_emulator, widget_crd(spec))


def test_the_rules_of_a_crd_share_a_total_cost_limit(kubernetes_emulator: KubernetesEmulator) -> None:
    """Each rule within its own limit, twenty of them beyond the limit for the whole schema."""
    rule = {"rule": "self.all(n, n.matches('^[a-z]{1,8}$'))"}
    properties = {
        f"list{index}": {
            "type": "array",
            "maxItems": 25_000,
            "items": {"type": "string", "maxLength": 253},
            "x-kubernetes-validations": [rule],
        }
        for index in range(20)
    }
    causes = refusal(kubernetes_emulator, widget_crd({"type": "object", "properties": properties}))
    assert not any("estimated rule cost exceeds" in cause for cause in causes), causes
    contributors = [
        cause
        for cause in causes
        if cause.endswith("contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema")
    ]
    assert len(contributors) == 4  # kube-apiserver names the four most expensive
    assert causes[-1].startswith(
        "spec.validation.openAPIV3Schema: Forbidden: x-kubernetes-validations estimated rule cost total for entire "
        "OpenAPIv3 schema exceeds budget by factor of "
    )
    for prop in properties.values():
        prop["maxItems"] = 2_500
    accepted(kubernetes_emulator, widget_crd({"type": "object", "properties": properties}))


# --- structural schemas -----------------------------------------------------------------------------------------


def test_a_non_structural_schema_is_refused(kubernetes_emulator: KubernetesEmulator) -> None:
    spec = {
        "type": "object",
        "properties": {
            "size": {"description": "no type"},
            "labels": {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "additionalProperties": {"type": "string"},
            },
            "port": {"type": "integer", "anyOf": [{"type": "integer", "minimum": 1}]},
            "tags": {"type": "array"},
            "owner": {"$ref": "#/definitions/owner"},
        },
    }
    causes = refusal(kubernetes_emulator, widget_crd(spec))
    for expected in (
        f"{SPEC}.properties[size].type: Required value: must not be empty for specified object fields",
        f"{SPEC}.properties[port].anyOf[0].type: Forbidden: must be empty to be structural",
        f"{SPEC}.properties[tags].items: Required value: must be specified",
        f"{SPEC}.properties[labels].additionalProperties: Forbidden: additionalProperties and properties are mutual "
        "exclusive",
        f"{SPEC}.properties[owner].$ref: Forbidden: $ref is not supported",
    ):
        assert expected in causes, causes
    spec["properties"] = {
        "size": {"type": "integer"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "port": {"type": "integer", "anyOf": [{"minimum": 1}]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "owner": {"type": "string"},
    }
    accepted(kubernetes_emulator, widget_crd(spec))


def test_unknown_schema_keywords_are_refused_when_strict_and_dropped_otherwise(
    kubernetes_emulator: KubernetesEmulator,
) -> None:
    crd = widget_crd({"type": "object", "properties": {"size": {"type": "integer", "maximun": 3}}})
    code, status = post(kubernetes_emulator, CRDS, crd, fieldValidation="Strict")
    assert (code, status["reason"]) == (400, "BadRequest")
    assert status["message"] == (
        'CustomResourceDefinition in version "v1" cannot be handled as a CustomResourceDefinition: strict decoding '
        'error: unknown field "spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.size.maximun"'
    )
    code, created = post(kubernetes_emulator, CRDS, crd)
    assert code == 201
    schema = created["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert schema["properties"]["spec"]["properties"]["size"] == {"type": "integer"}


def test_an_update_is_checked_too(kubernetes_emulator: KubernetesEmulator) -> None:
    spec = {"type": "object", "properties": {"size": {"type": "integer"}}}
    accepted(kubernetes_emulator, widget_crd(spec))
    crd = copy.deepcopy(
        kubernetes_emulator.get("apiextensions.k8s.io/v1/customresourcedefinitions", None, "widgets.example.com")
    )
    assert crd is not None
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["x-kubernetes-validations"] = [
        {"rule": "self.sise > 0"}
    ]
    request = urllib.request.Request(
        f"{kubernetes_emulator.url}{CRDS}/widgets.example.com",
        data=json.dumps(crd).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 422
    assert "undefined field 'sise'" in json.loads(refused.value.read())["message"]


def test_the_path_names_each_version_when_their_schemas_differ(kubernetes_emulator: KubernetesEmulator) -> None:
    crd = widget_crd({"type": "object", "properties": {"size": {"type": "integer"}}})
    second = copy.deepcopy(crd["spec"]["versions"][0]) | {"name": "v2", "storage": False}
    second["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["size"] = {"maximum": 3}
    crd["spec"]["versions"].append(second)
    assert refusal(kubernetes_emulator, crd) == [
        "spec.versions[1].schema.openAPIV3Schema.properties[spec].properties[size].type: Required value: must not be "
        "empty for specified object fields"
    ]


# --- the cost estimate against kube-apiserver's own figures ----------------------------------------------------


def _array(items: JSON, limit: int | None) -> JSON:
    return {"type": "array", "items": items} | ({"maxItems": limit} if limit is not None else {})


def _string(limit: int | None) -> JSON:
    return {"type": "string"} | ({"maxLength": limit} if limit is not None else {})


def _map(values: JSON, limit: int | None) -> JSON:
    return {"type": "object", "additionalProperties": values} | ({"maxProperties": limit} if limit is not None else {})


# kube-apiserver's expectations (apiextensions-apiserver pkg/apiserver/schema/cel/compilation_test.go,
# TestCostEstimation): the rule's estimated cost without any limit, and with every maxItems/maxProperties/maxLength
# set to the given limit.
KUBE_APISERVER_COSTS = [
    ("number array with all", lambda n: _array({"type": "number"}, n), "self.all(x, true)", 4718591, 10, 32),
    ("string array with all", lambda n: _array(_string(None), n), "self.all(x, true)", 3145727, 20, 62),
    ("map of strings with all", lambda n: _map(_string(None), n), "self.all(x, true)", 1179647, 3, 11),
    (
        "date-time array with all",
        lambda n: _array({"type": "string", "format": "date-time"}, n),
        "self.all(x, true)",
        428963,
        25,
        77,
    ),
    (
        "duration array with all",
        lambda n: _array({"type": "string", "format": "duration"}, n),
        "self.all(x, true)",
        2359295,
        5,
        17,
    ),
    ("string with contains", _string, "self.contains('test')", 314574, 10, 5),
    ("string with startsWith", _string, "self.startsWith('test')", 2, 15, 2),
    ("concat string", _string, 'size(self + "hello") > size("hello")', 314578, 4, 7),
    ("index of array with strings", lambda n: _array(_string(None), n), "self[1] == self[1]", 314577, 8, 314577),
    (
        "O(n^2) loop with numbers",
        lambda n: _array({"type": "number"}, n),
        "self.all(x, self.all(y, true))",
        None,
        10,
        352,
    ),
    ("regex matches simple", _string, 'self.matches("x")', 314574, 50, 22),
    ("regex matches empty string", _string, '"".matches("(((((((((())))))))))[0-9]")', 7, 10, 7),
    (
        "map of strings with value length",
        lambda n: _map(_string(n), n),
        "self.all(x, x.contains(self[x]))",
        2752507,
        10,
        72,
    ),
    (
        "array of number maps with all",
        lambda n: _array(_map({"type": "number"}, n), n),
        "self.all(x, x.y == 25.2)",
        6291452,
        12,
        74,
    ),
    (
        "index of array with int-or-strings",
        lambda n: _array({"x-kubernetes-int-or-string": True}, n),
        "self[0] == 5",
        3,
        10,
        3,
    ),
    ("extended library regex find", _string, "self.find('[0-9]+') == ''", 629147, 10, 11),
    ("extended library join", lambda n: _array(_string(n), n), "self.join(' ') == 'aa bb'", 329853068905, 10, 43),
    ("extended library isSorted", lambda n: _array(_string(n), n), "self.isSorted() == true", 329854432052, 10, 52),
]


@pytest.mark.parametrize(
    ("schema_of", "rule", "unbounded", "limit", "bounded"),
    [case[1:] for case in KUBE_APISERVER_COSTS],
    ids=[case[0] for case in KUBE_APISERVER_COSTS],
)
def test_the_estimate_is_kube_apiservers(
    schema_of: Any, rule: str, unbounded: int | None, limit: int, bounded: int
) -> None:
    for size, expected in ((None, unbounded), (limit, bounded)):
        node_type = decl_type(schema_of(size))
        assert node_type is not None
        compiled = compile_rule({"rule": rule}, node_type)
        assert compiled.error is None
        if expected is not None:
            assert compiled.cost == expected, (size, compiled.cost)
        else:  # kube-apiserver only says it exceeds the limit
            assert compiled.cost > 10_000_000
