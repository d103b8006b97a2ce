"""The CRD is generated from the models, committed as generated, and structural as Kubernetes requires."""

import re
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import yaml

import admission
from lowlatency import cli, crd
from lowlatency.api import Spec
from specs import bid_filter_spec

REPO = Path(__file__).resolve().parent.parent
COMMITTED = REPO / "crds" / crd.CRD_FILE


def test_committed_crd_is_the_generators_output() -> None:
    assert COMMITTED.read_text() == crd.render_yaml(), "run: lowlatency-operator crd > crds/" + crd.CRD_FILE


def test_crd_command_prints_the_crd(capsys: Any) -> None:
    assert cli.main(["crd"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == crd.custom_resource_definition()


def _walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, node)]
    for name, child in node.get("properties", {}).items():
        found += _walk(child, f"{path}.{name}")
    if "items" in node:
        found += _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += _walk(node["additionalProperties"], f"{path}{{}}")
    return found


def test_schema_is_structural() -> None:
    schema = crd.openapi_schema()
    for path, node in _walk(schema):
        assert "$ref" not in node, path
        assert "anyOf" not in node, path
        assert "oneOf" not in node, path
        assert "patternProperties" not in node, path
        assert not ("properties" in node and "additionalProperties" in node), path
        untyped_allowed = node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
        assert "type" in node or untyped_allowed, f"{path} has no type"


def test_every_spec_and_status_field_is_described() -> None:
    schema = crd.openapi_schema()
    for root in ("spec", "status"):
        for path, node in _walk(schema["properties"][root], root):
            if not path.endswith(("[]", "{}")):
                assert node.get("description"), f"{path} has no description for kubectl explain"


def test_crd_names_subresources_and_columns() -> None:
    document = crd.custom_resource_definition()
    spec = document["spec"]
    assert document["metadata"]["name"] == "lowlatencyendpoints.lowlatency.io"
    assert spec["names"]["shortNames"] == ["lle"]
    assert spec["names"]["kind"] == "LowLatencyEndpoint"
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1"
    assert version["subresources"] == {"status": {}}
    columns = [column["name"] for column in version["additionalPrinterColumns"]]
    assert columns[:4] == ["Phase", "Instance type", "Instances", "P99 ms"]
    assert columns[-1] == "Age"


def test_defaults_and_validation_live_in_the_schema() -> None:
    spec = crd.openapi_schema()["properties"]["spec"]["properties"]
    # No default: a serverless or multi-variant spec has no instanceCount, and a default would add one.
    assert "default" not in spec["instanceCount"]
    assert spec["instanceCount"]["minimum"] == 1
    assert spec["instanceType"]["pattern"].startswith("^ml\\.")
    assert spec["deletionPolicy"]["default"] == "Delete"
    # Valid as written (the API server checks a default against its node's rules without nested defaults).
    assert spec["deployment"]["default"] == {"strategy": "AllAtOnce"}
    assert spec["deployment"]["properties"]["strategy"]["default"] == "AllAtOnce"
    assert spec["model"]["properties"]["modelDataUrl"]["pattern"].startswith("^s3://")
    assert spec["model"]["properties"]["executionRoleArn"]["pattern"].startswith("^arn:aws")
    rules = [rule["rule"] for rule in spec["autoscaling"]["x-kubernetes-validations"]]
    assert "self.minCapacity <= self.maxCapacity" in rules


def test_status_allows_kopf_progress_but_nothing_else_unknown() -> None:
    status = crd.openapi_schema()["properties"]["status"]
    assert status["properties"]["kopf"]["x-kubernetes-preserve-unknown-fields"] is True
    assert not status.get("x-kubernetes-preserve-unknown-fields")
    assert all("default" not in node for _, node in _walk(status))


def test_list_items_carry_no_defaults() -> None:
    """A default inside a list item would come back from the API server in every item, and client-side diffs
    (kubectl apply, Argo CD) replace lists whole: the list would never match Git again. The operator's models
    apply those defaults when reading (here: a variant's weight)."""
    spec = crd.openapi_schema()["properties"]["spec"]
    in_items = [path for path, node in _walk(spec, "spec") if "[]" in path and "default" in node]
    assert in_items == []
    assert [path for path, node in _walk(spec, "spec") if "default" in node]  # elsewhere they stay
    variant = {"name": "a", "model": bid_filter_spec()["model"], "instanceType": "ml.c5.xlarge"}
    assert Spec.model_validate({"variants": [variant]}).production_variants()[0].weight == 1.0


def _rule_nodes() -> list[tuple[str, dict[str, Any]]]:
    return [(path, node) for path, node in _walk(crd.openapi_schema()) if node.get(crd.CEL)]


def test_everything_a_cel_rule_can_reach_is_bounded() -> None:
    """The API server estimates each rule's worst-case cost from maxLength, maxItems and maxProperties of what the
    rule can reach, and refuses a CRD whose estimate exceeds the budget: nothing under a rule may be unbounded."""
    for rule_path, rule_node in _rule_nodes():
        for path, node in _walk(rule_node, rule_path):
            kind = node.get("type")
            if node.get("x-kubernetes-int-or-string") or kind == "string":
                assert "maxLength" in node or "enum" in node, f"{path}: string without maxLength under a CEL rule"
            elif kind == "array":
                assert "maxItems" in node, f"{path}: list without maxItems under a CEL rule"
            elif kind == "object" and "additionalProperties" in node:
                assert "maxProperties" in node, f"{path}: map without maxProperties under a CEL rule"


def test_every_cel_rule_compiles_and_its_error_names_a_field() -> None:
    environment = celpy.Environment()
    for path, node in _rule_nodes():
        own_name = path.rsplit(".", 1)[-1]
        fields = {own_name, *node.get("properties", {})}
        for rule in node[crd.CEL]:
            environment.compile(rule["rule"])
            if "fieldPath" in rule:
                target = rule["fieldPath"].removeprefix(".")
                assert target in node["properties"], f"{path}: fieldPath {rule['fieldPath']} is not a property"
                assert target in rule["message"], f"{path}: {rule['message']!r} does not name {target}"
            named = any(name in rule["message"] for name in fields) or own_name.rstrip("s") in rule["message"]
            assert named, f"{path}: {rule['message']!r} names no field"


def _regular_expressions() -> list[str]:
    found = []
    for _, node in _walk(crd.openapi_schema()):
        if "pattern" in node:
            found.append(node["pattern"])
        for rule in node.get(crd.CEL, []):
            found += re.findall(r"matches\('([^']*)'\)", rule["rule"])
    return found


def test_regular_expressions_are_re2() -> None:
    """The API server compiles patterns and CEL's matches() with Go's RE2: no look-around or back-references, and
    no repetition count above 1000."""
    expressions = _regular_expressions()
    assert len(expressions) > 10
    for expression in expressions:
        assert not re.search(r"\(\?[=!<]|\\[1-9]", expression), expression
        for low, high in re.findall(r"\{(\d+)(?:,(\d*))?\}", expression):
            assert int(low) <= 1000, expression
            assert int(high or 0) <= 1000, expression


def test_every_default_is_valid_where_it_is_declared() -> None:
    """The API server refuses a CRD whose defaults (with the defaults nested in them applied) do not validate
    against their own schema."""
    defaults = [(path, node) for path, node in _walk(crd.openapi_schema()["properties"]["spec"]) if "default" in node]
    assert len(defaults) >= 10
    for path, node in defaults:
        stored = admission.with_defaults(node, node["default"])
        jsonschema.Draft4Validator(node).validate(stored)
        assert not admission.cel_rejections_at(node, stored), path


def test_the_schema_defaults_are_the_operators_defaults() -> None:
    """What the API server stores (its defaults applied) is what the operator reads: Argo CD sees no drift and the
    operator acts on no value that `kubectl get -o yaml` does not show. Empty lists and maps are left out on both
    sides (the API server does not default them; the operator reads them as empty)."""
    full = bid_filter_spec(
        autoscaling={
            "minCapacity": 2,
            "maxCapacity": 4,
            "schedules": [{"name": "p", "cron": "rate(2 hours)", "minCapacity": 2, "maxCapacity": 4}],
        },
        deployment={"strategy": "Linear", "linearStepPercent": 20},
        vpcEndpoint={"vpcId": "vpc-1", "subnetIds": ["subnet-1"], "securityGroupIds": ["sg-1"]},
        benchmark={"payload": "1,2"},
        model={**bid_filter_spec()["model"], "vpcConfig": {"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}},
    )
    spec_schema = crd.openapi_schema()["properties"]["spec"]
    for written in (bid_filter_spec(), full):
        stored = admission.with_defaults(spec_schema, written)
        understood = Spec.model_validate(written).model_dump(mode="json", by_alias=True, exclude_none=True)
        assert _without_empty(stored) == _without_empty(understood)


def _without_empty(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_empty(item) for key, item in value.items() if item not in ({}, [])}
    if isinstance(value, list):
        return [_without_empty(item) for item in value]
    return value
