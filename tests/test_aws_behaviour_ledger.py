"""docs/aws-behaviour.md: every row names a real source and a test that exists, and the code cites the same source.

A row whose test was renamed or deleted, a source that is neither an AWS documentation page nor a shape of
botocore's service model, or a rule that no module of the operator or its emulators cites, fails here.
"""

import ast
import re
from pathlib import Path

import botocore.session
import pytest

REPO = Path(__file__).resolve().parent.parent
LEDGER = REPO / "docs" / "aws-behaviour.md"
SECTIONS = (
    "SageMaker endpoints, endpoint configs and models",
    "Application Auto Scaling",
    "EC2 interface VPC endpoints",
    "Errors, retries and tags",
    "CloudWatch metrics",
    "Price List",
)
AWS_DOCS = re.compile(r"^https://docs\.aws\.amazon\.com/\S+$")
BOTOCORE = re.compile(r"^botocore (?P<service>[a-z0-9-]+) (?P<shape>[A-Za-z0-9]+)(\.(?P<member>[A-Za-z0-9]+))?$")
TEST_REFERENCE = re.compile(r"^tests/(?P<file>[a-z0-9_]+\.py)::(?P<name>test_[a-z0-9_]+)$")


def _rows() -> dict[str, list[list[str]]]:
    """Each section's table rows as cells (header and rule lines left out)."""
    rows: dict[str, list[list[str]]] = {}
    section = None
    for line in LEDGER.read_text().splitlines():
        if line.startswith("## "):
            section = line.removeprefix("## ").strip()
            rows[section] = []
        elif section is not None and line.startswith("|") and not line.startswith(("| Behaviour", "|---")):
            rows[section].append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


ROWS = [(section, cells) for section, table in _rows().items() for cells in table]


def _code_text() -> str:
    return "\n".join(path.read_text() for path in (REPO / "operator" / "lowlatency").rglob("*.py"))


def _test_functions(file: str) -> set[str]:
    tree = ast.parse((REPO / "tests" / file).read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_area_has_its_rows() -> None:
    assert tuple(_rows()) == SECTIONS
    empty = [section for section, table in _rows().items() if not table]
    assert not empty, f"sections without a row: {empty}"


@pytest.mark.parametrize(("section", "cells"), ROWS, ids=[f"{s}: {c[0][:60]}" for s, c in ROWS])
def test_a_row_names_its_source_and_an_existing_test(section: str, cells: list[str]) -> None:
    assert len(cells) == 3, f"{section}: a row has three cells (behaviour, source, test): {cells}"
    behaviour, source, tests = cells
    assert behaviour, f"{section}: a row without a behaviour"
    for cited in (part.strip() for part in source.split("<br>")):
        citation = BOTOCORE.match(cited)
        if citation is not None:
            model = botocore.session.get_session().get_service_model(citation["service"])
            shape = model.shape_for(citation["shape"])
            if citation["member"]:
                assert citation["member"] in shape.members, f"{cited}: botocore's {shape.name} has no such member"
        else:
            assert AWS_DOCS.match(cited), f"{behaviour}: source {cited!r} is neither an AWS docs page nor botocore"
        assert cited in _code_text(), f"{behaviour}: no module of the operator or its emulators cites {cited}"
    for reference in (part.strip() for part in tests.split("<br>")):
        test = TEST_REFERENCE.match(reference.strip("`"))
        assert test is not None, f"{behaviour}: {reference!r} is not tests/<file>.py::test_<name>"
        assert (REPO / "tests" / test["file"]).exists(), f"{reference}: no such file"
        assert test["name"] in _test_functions(test["file"]), f"{reference}: no such test"
