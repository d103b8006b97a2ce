"""Mutation score of the pure core: how many deliberately broken copies of it the fast unit tests catch.

    .venv/bin/pip install -e '.[mutation]'
    .venv/bin/python benchmarks/mutation.py [--fresh] [--workdir build/mutation]

mutmut (3.x) makes many small changes ("mutants") to each function of the modules in ``MODULES`` -- a ``<`` made
``<=``, a string emptied, an argument dropped -- and runs the tests in ``TESTS`` that reach that function against
each one. A mutant is killed when a test fails on it (or it hangs past mutmut's timeout), or when mypy --strict
refuses it: the suite's ``test_mypy_strict`` would fail on such a change too. Everything else is a survivor: a
change to the code that no test notices.

It works in a copy, never in the checkout (other work goes on there): ``--workdir`` receives ``src/lowlatency``
(the package), ``tests/`` and a ``pyproject.toml`` with a ``[tool.mutmut]`` section added; mutmut puts its mutants
under ``<workdir>/mutants``. A second run reuses the results of the functions that did not change, even where
the tests changed (tests added to kill survivors are seen only by a run with ``--fresh``, which starts over).
Pytest's ``addopts`` runs three workers: the mutation run overrides it with ``-n 0``, and mutmut itself runs one
mutant at a time (the machine is shared).

Printed: per module, the mutants, how many were killed (and of them by mypy), the known equivalents (mutants that
behave as the original for every input the code can get, listed below in ``KNOWN_EQUIVALENT`` with the reason), the
others that survived, and the score killed / (mutants - known equivalent); then each known equivalent found with
its reason, every other survivor as a diff, and any entry of ``KNOWN_EQUIVALENT`` that no longer matches. The exit
status is 1 when a module scores under ``TARGET``. Not part of the test run: pytest does not collect this file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The pure core: no I/O, every decision a function of its inputs, so unit tests can pin each one down.
MODULES = (
    "lowlatency/planner.py",
    "lowlatency/variants.py",
    "lowlatency/desired.py",
    "lowlatency/naming.py",
    "lowlatency/tenancy.py",
    "lowlatency/benchmark/results.py",
)
# The fast unit tests that exercise those modules (end-to-end tests would take hours for each mutant they reach).
TESTS = (
    "tests/test_planner.py",
    "tests/test_planner_status.py",
    "tests/test_variants_planning.py",
    "tests/test_desired.py",
    "tests/test_naming.py",
    "tests/test_tenancy.py",
    "tests/test_benchmark_results.py",
    "tests/test_api.py",
    "tests/test_events.py",
    "tests/test_benchmark_rightsizing.py",
)
TARGET = 0.90
KILLED = {"killed", "timeout", "caught by type check"}


@dataclass(frozen=True)
class Equivalent:
    """A mutant that behaves as the original for every input the code can receive: no test can kill it.

    Matched by the function it mutates and the line as the mutant has it (mutmut's mutant numbers shift whenever
    the function changes)."""

    function: str  # module.function, or module.Class.method
    mutated_line: str  # the mutant's version of the line, stripped
    reason: str


# A namespace is a DNS label and a name a DNS subdomain: `<namespace>-<name>`, its dots made hyphens, has no hyphen
# at either end, no blank and no capital.
_KUBERNETES_NAMES = "Kubernetes names are lowercase and start and end with a letter or digit"
_ASCII_ROWS = "the rows are ASCII (numbers and outcome names): every encoding Python may pick writes the same bytes"
KNOWN_EQUIVALENT: tuple[Equivalent, ...] = (
    Equivalent(
        "lowlatency.naming.short_hash",
        'canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=None)',
        "every caller hashes JSON values (names, request dicts of strings and numbers): the default never runs",
    ),
    Equivalent(
        "lowlatency.naming.short_hash",
        'canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), )',
        "every caller hashes JSON values (names, request dicts of strings and numbers): the default never runs",
    ),
    Equivalent(
        "lowlatency.naming._sanitise",
        'return _INVALID_RUNS.sub("-", text).strip(None)',
        f"{_KUBERNETES_NAMES}: the sanitised identity has neither blanks nor hyphens at its ends to strip",
    ),
    Equivalent(
        "lowlatency.naming._sanitise",
        'return _INVALID_RUNS.sub("-", text).strip("XX-XX")',
        f"{_KUBERNETES_NAMES}: no capital X to strip",
    ),
    Equivalent(
        "lowlatency.naming.endpoint_name",
        'prefix = sanitised[: MAX_NAME_LENGTH - HASH_LENGTH - 1].rstrip("XX-XX")',
        f"{_KUBERNETES_NAMES}: no capital X to strip",
    ),
    Equivalent(
        "lowlatency.planner._plan_update",
        "registered = observed.scaling if (observed.scaling_known) or True else ()",
        "endpoints.observe sets Observed.scaling only when it sets scaling_known: unknown scaling is already ()",
    ),
    Equivalent(
        "lowlatency.planner._drift_messages",
        'return [f"{name} was changed outside the operator; repaired with {type(None).__name__}"]',
        "unreachable: every action _plan_live repairs drift with has its own case above (mypy needs the return)",
    ),
    Equivalent(
        "lowlatency.variants.sync_scaling",
        "actions += [PutScheduledAction(resource_id, s, ) for name, s in wanted.items() if existing.get(name) != s]",
        "only instance autoscaling has schedules (desired.build_instance_scaling): their dimension is the default",
    ),
    Equivalent(
        "lowlatency.benchmark.results.Measurement.encode",
        '"histogram": self.histogram.encode().decode("ASCII"),',
        "codec names are case-insensitive",
    ),
    Equivalent(
        "lowlatency.benchmark.results.write_csv",
        'with path.open("w", newline=None, encoding="utf-8") as file:',
        "the operator runs on Linux, where text files translate no line ending: csv's \\r\\n is written as is",
    ),
    Equivalent(
        "lowlatency.benchmark.results.write_csv",
        'with path.open("w", encoding="utf-8") as file:',
        "the operator runs on Linux, where text files translate no line ending: csv's \\r\\n is written as is",
    ),
    Equivalent(
        "lowlatency.benchmark.results.write_csv", 'with path.open("w", newline="", encoding=None) as file:', _ASCII_ROWS
    ),
    Equivalent("lowlatency.benchmark.results.write_csv", 'with path.open("w", newline="", ) as file:', _ASCII_ROWS),
    Equivalent(
        "lowlatency.benchmark.results.write_csv",
        'with path.open("w", newline="", encoding="UTF-8") as file:',
        _ASCII_ROWS,
    ),
)


@dataclass(frozen=True)
class Mutant:
    name: str  # mutmut's: lowlatency.naming.x_endpoint_name__mutmut_6, lowlatency.tenancy.xǁPolicyFileǁcurrent__...
    status: str

    @property
    def module(self) -> str:
        return self.name.rsplit(".", 1)[0]

    @property
    def function(self) -> str:
        """module.function or module.Class.method, as written in the source."""
        mangled = self.name.rsplit(".", 1)[1].rsplit("__mutmut_", 1)[0]
        readable = mangled.removeprefix("x_") if mangled.startswith("x_") else ".".join(mangled.split("ǁ")[1:])
        return f"{self.module}.{readable}"


def mutmut_config() -> str:
    """The settings of the ``[tool.mutmut]`` section of the work directory's pyproject.toml."""
    sources = [f"src/{module}" for module in MODULES]
    settings = {
        "source_paths": ["src/lowlatency"],
        "only_mutate": sources,
        # Override addopts' three workers; no cache files in the copy of the tests.
        "pytest_add_cli_args": ["-n", "0", "-p", "no:cacheprovider", "-q"],
        "pytest_add_cli_args_test_selection": list(TESTS),
        # The work directory sits inside the checkout's git repository, whose changes say nothing about it.
        "use_git_change_detection": False,
        # The project's own mypy settings (strict) from the copied pyproject.toml; mutmut's generated trampolines
        # carry type: ignore comments that strict mode would report as unused.
        "type_check_command": [
            sys.executable,
            "-m",
            "mypy",
            "--output",
            "json",
            "--no-warn-unused-ignores",
            *sources,
        ],
    }
    # JSON's lists of strings and booleans are TOML's too.
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())


def prepare(workdir: Path, *, fresh: bool) -> None:
    """Copy the package, the tests and the project settings into ``workdir``, keeping modification times so that
    mutmut sees which files changed since its last run there."""
    if fresh and workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache")
    for source, target in (
        (ROOT / "operator" / "lowlatency", workdir / "src" / "lowlatency"),
        (ROOT / "tests", workdir / "tests"),
    ):
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, ignore=ignore)
    project = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (workdir / "pyproject.toml").write_text(f"{project}\n[tool.mutmut]\n{mutmut_config()}", encoding="utf-8")


def mutmut(workdir: Path, *arguments: str, log: Path | None = None) -> str:
    """Run a mutmut command in ``workdir``; its output (or, with ``log``, the tail of the log it went to)."""
    return mutmut_python(workdir, "-m", "mutmut", *arguments, log=log)


def mutmut_python(workdir: Path, *arguments: str, log: Path | None = None) -> str:
    """Run this Python with ``arguments`` in ``workdir``, where mutmut finds its configuration and mutants."""
    command = [sys.executable, *arguments]
    if log is None:
        result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
        output = result.stdout + result.stderr
    else:
        with log.open("w", encoding="utf-8") as file:
            result = subprocess.run(command, cwd=workdir, stdout=file, stderr=subprocess.STDOUT, text=True, check=False)
        output = log.read_text(encoding="utf-8", errors="replace")[-4000:]
    if result.returncode != 0:
        sys.exit(f"{' '.join(arguments)[:200]} failed ({result.returncode}):\n{output}")
    return output


# ``mutmut show`` for many mutants in one process (one process per mutant costs a second each on a busy machine).
SHOW_EACH = """
import sys
from mutmut.__main__ import cli
for name in sys.argv[1:]:
    print(%r)
    cli.main(["show", name], standalone_mode=False)
"""
SEPARATOR = "\f-- next mutant --"


def show(workdir: Path, found: Sequence[Mutant]) -> dict[str, str]:
    """Each mutant's diff against the original, by name."""
    if not found:
        return {}
    output = mutmut_python(workdir, "-c", SHOW_EACH % SEPARATOR, *(mutant.name for mutant in found))
    diffs = [diff.strip() for diff in output.split(SEPARATOR)[1:]]
    if len(diffs) != len(found):
        sys.exit(f"mutmut show gave {len(diffs)} diffs for {len(found)} mutants:\n{output[-4000:]}")
    return {mutant.name: diff for mutant, diff in zip(found, diffs, strict=True)}


def mutants(workdir: Path) -> list[Mutant]:
    listing = mutmut(workdir, "results", "--all", "true")
    found = [Mutant(*match.groups()) for match in re.finditer(r"^\s+(\S+): (.+)$", listing, re.MULTILINE)]
    if not found:
        sys.exit(f"mutmut listed no mutants:\n{listing}")
    return found


def mutated_line(diff: str) -> str:
    """The first line the mutant has instead of the original's (an empty string when it only removes lines)."""
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return added[0] if added else ""


def equivalent_to(mutant: Mutant, diff: str) -> Equivalent | None:
    line = mutated_line(diff)
    return next(
        (known for known in KNOWN_EQUIVALENT if known.function == mutant.function and known.mutated_line == line),
        None,
    )


def report(workdir: Path, found: Sequence[Mutant]) -> bool:
    """Print the score per module and the unexplained survivors; whether every module reached ``TARGET``."""
    survivors = [mutant for mutant in found if mutant.status not in KILLED]
    diffs = show(workdir, survivors)
    matched = {mutant.name: equivalent_to(mutant, diffs[mutant.name]) for mutant in survivors}
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for mutant in found:
        tally = counts[mutant.module]
        tally["mutants"] += 1
        if mutant.status in KILLED:
            tally["killed"] += 1
            tally["by mypy"] += mutant.status == "caught by type check"
        elif matched[mutant.name] is not None:
            tally["equivalent"] += 1
        else:
            tally["survived"] += 1
    met = True
    print(f"{'module':<34}{'mutants':>8}{'killed':>8}{'by mypy':>8}{'equiv.':>8}{'survived':>9}{'score':>8}")
    for module, tally in sorted(counts.items()):
        score = tally["killed"] / (tally["mutants"] - tally["equivalent"])
        met &= score >= TARGET
        print(
            f"{module:<34}{tally['mutants']:>8}{tally['killed']:>8}{tally['by mypy']:>8}{tally['equivalent']:>8}"
            f"{tally['survived']:>9}{score:>8.1%}"
        )
    equivalents = [(mutant, known) for mutant in survivors if (known := matched[mutant.name]) is not None]
    print(f"\n{len(equivalents)} known equivalent mutants:")
    for mutant, known in equivalents:
        print(f"  {mutant.function}: {known.mutated_line}\n      {known.reason}")
    unexplained = [mutant for mutant in survivors if matched[mutant.name] is None]
    print(f"\n{len(unexplained)} surviving mutants (not known equivalents):")
    for mutant in unexplained:
        print(f"\n{diffs[mutant.name].strip()}")
    used = {known for known in matched.values() if known is not None}
    for stale in (known for known in KNOWN_EQUIVALENT if known not in used):
        print(f"\nKnown equivalent that no surviving mutant matches any more (remove it): {stale}")
    return met


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--workdir", type=Path, default=ROOT / "build" / "mutation", help="where mutmut works")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results and test every mutant again")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("mutmut") is None:
        sys.exit("mutmut is not installed: .venv/bin/pip install -e '.[mutation]'")
    started = time.monotonic()
    prepare(args.workdir, fresh=args.fresh)
    mutmut(args.workdir, "run", "--max-children", "1", log=args.workdir / "mutmut-run.log")
    met = report(args.workdir, mutants(args.workdir))
    verdict = "met" if met else "NOT met"
    print(f"\n{time.monotonic() - started:.0f} s; target {TARGET:.0%} killed in each module: {verdict}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
