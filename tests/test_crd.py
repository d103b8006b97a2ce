"""The CRD is generated from the models, committed as generated, and structural as Kubernetes requires."""

from pathlib import Path
from typing import Any

import yaml

from lowlatency import cli, crd

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
    assert spec["instanceCount"]["default"] == 1
    assert spec["instanceCount"]["minimum"] == 1
    assert spec["instanceType"]["pattern"].startswith("^ml\\.")
    assert spec["deletionPolicy"]["default"] == "Delete"
    assert spec["deployment"]["default"] == {}
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
