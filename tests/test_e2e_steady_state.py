"""At steady state the operator only looks: no mutating AWS call, at most one DescribeEndpoint per endpoint per
resync period (the operator process runs with a 2 s resync; the AWS emulator's call log is the witness).

This is the property benchmarks/scale.py measures at hundreds of endpoints with the production cadence; here a few
endpoints, one with autoscaling (so that the autoscaler's registration is part of what must stay untouched).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from e2e_support import NAMESPACE, manifest, operator_in_namespace
from fixtures_kubernetes import Kubectl
from lowlatency.emulators.aws import MUTATING_PREFIXES, AwsEmulator
from lowlatency.naming import endpoint_name
from operator_process import TEST_TIMING, wait_for
from specs import bid_filter_spec

NAMES = ("steady-a", "steady-b", "steady-c")
WINDOW_SECONDS = 8.0
RESYNC_SECONDS = float(TEST_TIMING[TEST_TIMING.index("--resync-seconds") + 1])


def all_in_service(kubectl: Kubectl) -> bool:
    listed = json.loads(kubectl("get", "lle", "-n", NAMESPACE, "-o", "json").stdout)["items"]
    phases = {item["metadata"]["name"]: (item.get("status") or {}).get("phase") for item in listed}
    return phases == dict.fromkeys(NAMES, "InService")


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("lowlatency_crd")
def test_steady_state_only_describes_within_the_resync_budget(
    kubectl: Kubectl, kubeconfig: Path, aws_emulator: AwsEmulator, tmp_path: Path
) -> None:
    specs = [
        bid_filter_spec(),
        bid_filter_spec(instanceCount=1, tags={"team": "ranking"}),
        bid_filter_spec(autoscaling={"minCapacity": 1, "maxCapacity": 3}),
    ]
    log_path = tmp_path / "operator.log"
    with operator_in_namespace(kubectl, kubeconfig, aws_emulator.environment(), log_path) as operator:
        kubectl("apply", "-f", "-", input="---\n".join(map(manifest, NAMES, specs)))
        wait_for(lambda: all_in_service(kubectl), timeout=30, what="all InService", operator=operator)

        aws_emulator.reset_calls()
        window_started = time.monotonic()
        time.sleep(WINDOW_SECONDS)
        calls = aws_emulator.calls()
        window = time.monotonic() - window_started
        assert operator.running, operator.logs()

    assert [call.operation for call in calls if call.operation.startswith(MUTATING_PREFIXES)] == []
    describes = Counter(call.resource for call in calls if call.operation == "DescribeEndpoint")
    per_endpoint = {name: describes[endpoint_name(NAMESPACE, name)] for name in NAMES}
    budget = int(window // RESYNC_SECONDS) + 1
    # At least one look each: the operator keeps watching for drift; at most one per resync period (jitter aside).
    operations = Counter(call.operation for call in calls)
    assert all(1 <= count <= budget for count in per_endpoint.values()), (per_endpoint, budget, operations)
