"""The Dockerfile's essentials, read from the file (no container engine runs here)."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        return [argument for instruction, argument in self.instructions if instruction == keyword]


def logical_lines(text: str) -> list[str]:
    """Instructions with their continuation lines joined; comment lines dropped (Docker drops them too)."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        lines.append(pending + raw.strip())
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return lines


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults (those before the first FROM) and the stages with their instructions."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical_lines(text):
        keyword, _, argument = line.partition(" ")
        keyword = keyword.upper()
        argument = argument.strip()
        if keyword == "FROM":
            words = argument.split()
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: global_args[m.group(1) or m.group(2)], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image=image, name=name))
        elif not stages:
            assert keyword == "ARG", f"only ARG may precede FROM, not {keyword}"
            key, _, default = argument.partition("=")
            global_args[key] = default
        else:
            stages[-1].instructions.append((keyword, argument))
    return global_args, stages


def env_of(stage: Stage) -> dict[str, str]:
    variables: dict[str, str] = {}
    for argument in stage.arguments("ENV"):
        for word in shlex.split(argument):
            key, _, value = word.partition("=")
            variables[key] = value
    return variables


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse(DOCKERFILE.read_text())[1]


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


def test_multi_stage_from_a_pinned_slim_python_matching_the_project(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    minimum = re.fullmatch(r">=(\d+\.\d+)", project["requires-python"])
    assert minimum is not None
    for stage in stages:
        match = re.fullmatch(r"python:(\d+\.\d+)\.(\d+)-slim(-\w+)?(@sha256:[0-9a-f]{64})?", stage.image)
        assert match is not None, f"{stage.image}: not a slim Python image pinned to a patch version"
        assert match.group(1) == minimum.group(1), "the image runs the Python version the project declares"
    assert all("latest" not in stage.image for stage in stages)


def test_the_builder_installs_the_project_wheel_with_its_dependencies(stages: list[Stage]) -> None:
    builder = stages[0]
    assert builder.name is not None
    commands = " ".join(builder.arguments("RUN"))
    assert "pip wheel --no-deps" in commands
    install = re.search(r"pip install (?P<args>[^&]*lowlatency_operator-\*\.whl)", commands)
    assert install is not None, "the builder installs the wheel it built"
    assert "--no-deps" not in install.group("args"), "dependencies come from the wheel's pinned ranges"
    assert env_of(builder).get("PIP_NO_CACHE_DIR") == "1"


def test_the_final_stage_copies_the_environment_and_builds_nothing(stages: list[Stage], final: Stage) -> None:
    assert any(f"--from={stages[0].name}" in copy for copy in final.arguments("COPY"))
    for command in final.arguments("RUN"):
        assert not re.search(r"pip install|apt-get|apk add|gcc|make\b|build-essential", command), command


def test_runs_as_a_numeric_non_root_user(final: Stage) -> None:
    users = final.arguments("USER")
    assert users, "the final stage sets USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit()
    assert int(uid) != 0
    assert not gid or (gid.isdigit() and int(gid) != 0)


def test_ready_for_a_read_only_root_filesystem(final: Stage) -> None:
    variables = env_of(final)
    assert variables["HOME"] == "/tmp"
    assert variables["PYTHONDONTWRITEBYTECODE"] == "1"
    assert final.arguments("WORKDIR")[-1] == "/tmp"


def test_the_entrypoint_runs_the_operator(final: Stage) -> None:
    (entrypoint,) = final.arguments("ENTRYPOINT")
    assert json.loads(entrypoint) == ["lowlatency-operator", "run"], "exec form, so that signals reach kopf"
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert "lowlatency-operator" in scripts


def test_oci_labels(final: Stage) -> None:
    labels = " ".join(final.arguments("LABEL"))
    for key in ("title", "description", "version", "revision", "licenses", "source"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_dockerignore_admits_exactly_what_the_build_copies(stages: list[Stage]) -> None:
    rules = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "everything is excluded first, then the build's inputs admitted"
    admitted = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = {
        source.rstrip("/")
        for stage in stages
        for copy in stage.arguments("COPY")
        if "--from=" not in copy
        for source in shlex.split(copy)[:-1]
    }
    assert copied == admitted
    assert all((REPO / path).exists() for path in copied)
