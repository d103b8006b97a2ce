"""End to end, the hosting patterns of issue 13: an A/B test of production variants, a shadow variant and a serverless
endpoint, each taken through creation, an in-place change, a model change, promotion, an operator crash and deletion.

kubectl against the Kubernetes API emulator, the operator process, and the AWS emulator. Each step is judged by what
SageMaker holds (DescribeEndpoint, DescribeEndpointConfig), what the operator asked of it (the emulator's call log:
each step creates exactly what it needs, a crash and restart nothing more) and what callers meet: every variant has a
model server of its own, and invocations sent through the SageMaker Runtime must reach each server in the share its
weight gives. The specs have the shape of examples/ab-test.yaml, shadow.yaml and serverless.yaml without their
benchmark, whose invocations would mix with the test's own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from e2e_support import NAMESPACE, EndToEnd, Resource, status_of
from lowlatency.desired import INSTANCE_COUNT, PROVISIONED_CONCURRENCY, scaling_resource_id
from lowlatency.emulators.model_server import ModelServer
from lowlatency.naming import endpoint_name
from specs import MODEL_ARTIFACTS, bid_filter_spec

pytest_plugins = ["e2e_fixtures"]

CHAMPION_MODEL = bid_filter_spec()["model"]
CHALLENGER_MODEL = {**CHAMPION_MODEL, "modelDataUrl": MODEL_ARTIFACTS[1]}
# The challenger retrained: the same artifact in the next image of the framework.
RETRAINED_MODEL = {**CHALLENGER_MODEL, "image": CHAMPION_MODEL["image"].replace(":1.7-1", ":1.7-2")}
INSTANCE_TYPE = "ml.c5.xlarge"
PAYLOAD = "0.2,1,0,3,0.7"

# What the operator creates or changes in SageMaker: each step's count is what it needs, and a restart adds nothing.
CHANGES = (
    "CreateModel",
    "CreateEndpointConfig",
    "CreateEndpoint",
    "UpdateEndpoint",
    "UpdateEndpointWeightsAndCapacities",
)

# --- live traffic ----------------------------------------------------------------------------------------------

# Requests per round of invocations. The runtime routes each request on its own, to a production variant drawn with
# probability weight / sum of weights (botocore sagemaker ProductionVariant.InitialVariantWeight), and copies it to a
# shadow with probability shadow weight / production weight (the emulator's reading: invocations.py); a variant's
# count over a round is then Binomial(REQUESTS, p).
REQUESTS = 200
# The chance that a correct routing fails one check: at most once in a million runs, half on each side.
FALSE_ALARM = 1e-6


def binomial_interval(trials: int, p: float) -> tuple[int, int]:
    """The counts a Binomial(trials, p) variable lies within but for FALSE_ALARM: the largest ``low`` with
    P(X < low) <= FALSE_ALARM / 2 and the smallest ``high`` with P(X > high) <= FALSE_ALARM / 2, from the exact
    distribution (p 0 or 1 gives the one possible count)."""
    mass = [math.comb(trials, k) * p**k * (1 - p) ** (trials - k) for k in range(trials + 1)]
    low, below = 0, 0.0
    while below + mass[low] <= FALSE_ALARM / 2:
        below += mass[low]
        low += 1
    high, above = trials, 0.0
    while above + mass[high] <= FALSE_ALARM / 2:
        above += mass[high]
        high -= 1
    return low, high


# The weights the tests change: the A/B test's (champion, challenger) and the shadow's beside production's 1, before
# and after. A round of REQUESTS tells which are live (the test below).
AB_WEIGHTS, AB_REWEIGHTED = (90, 10), (50, 50)
SHADOW_WEIGHT, SHADOW_REWEIGHTED = 0.5, 0.1


def challenger_share(weights: tuple[float, float]) -> float:
    return weights[1] / sum(weights)


def test_a_round_of_requests_tells_the_weights_before_a_change_from_those_after() -> None:
    """The traffic checks can fail: the counts a round accepts before and after each weight change do not meet."""
    for before, after in (
        (challenger_share(AB_WEIGHTS), challenger_share(AB_REWEIGHTED)),
        (SHADOW_WEIGHT, SHADOW_REWEIGHTED),
    ):
        lower, upper = sorted((binomial_interval(REQUESTS, before), binomial_interval(REQUESTS, after)))
        assert lower[1] < upper[0], (before, after)
    assert binomial_interval(REQUESTS, 0.0) == (0, 0)
    assert binomial_interval(REQUESTS, 1.0) == (REQUESTS, REQUESTS)


def assert_share(count: int, p: float, what: str) -> None:
    low, high = binomial_interval(REQUESTS, p)
    assert low <= count <= high, f"{what}: {count} of {REQUESTS} requests, outside [{low}, {high}] for a share of {p}"


class Callers:
    """Callers of the SageMaker Runtime, and a model server of its own for each variant, which records what reached
    it (each request has a body of its own, which the server echoes)."""

    def __init__(self, e2e: EndToEnd, endpoint: str) -> None:
        self.e2e = e2e
        self.endpoint = endpoint
        self.runtime = e2e.client("sagemaker-runtime")
        self.servers: dict[str, ModelServer] = {}
        self._sent = 0

    def serve(self, variant: str, **settings: Any) -> ModelServer:
        server = ModelServer(**settings).start()
        self.servers[variant] = server
        self.e2e.aws.sagemaker.route_invocations(self.endpoint, server.url, variant=variant)
        return server

    def invoke(self) -> dict[str, set[bytes]]:
        """A round of REQUESTS invocations, one after another; the bodies each production variant answered, by the
        variant the runtime names (InvokedProductionVariant), each checked against its own server's record."""
        answered: dict[str, set[bytes]] = {}
        for _ in range(REQUESTS):
            self._sent += 1
            body = f"{self._sent},{PAYLOAD}".encode()
            answer = self.runtime.invoke_endpoint(EndpointName=self.endpoint, Body=body, ContentType="text/csv")
            assert answer["Body"].read() == body, "a caller got an answer to another request"
            answered.setdefault(answer["InvokedProductionVariant"], set()).add(body)
        self.e2e.aws.sagemaker.wait_for_shadow_copies()
        for variant, bodies in answered.items():
            assert self.received(variant, answered) == bodies, f"what {variant}'s server received"
        assert self.counted() == {variant: server.invocations for variant, server in self.servers.items()}
        return answered

    def received(self, variant: str, answered: dict[str, set[bytes]]) -> set[bytes]:
        """The requests of a round that reached ``variant``'s server."""
        return set().union(*answered.values()) & set(self.servers[variant].bodies)

    def counted(self) -> dict[str, int]:
        """What the emulator counts it sent to each variant (0 for a variant it sent nothing)."""
        traffic = self.e2e.aws.sagemaker.traffic(self.endpoint)
        return {variant: traffic[variant].invocations if variant in traffic else 0 for variant in self.servers}

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


@pytest.fixture
def callers_of(e2e: EndToEnd) -> Iterator[Callable[[str], Callers]]:
    """``callers_of(endpoint)``: callers of that endpoint, whose model servers stop with the test."""
    made: list[Callers] = []

    def make(endpoint: str) -> Callers:
        made.append(Callers(e2e, endpoint))
        return made[-1]

    yield make
    for callers in made:
        callers.stop()


# --- what SageMaker holds --------------------------------------------------------------------------------------


def described_variants(e2e: EndToEnd, endpoint: str) -> list[dict[str, Any]]:
    """DescribeEndpoint's variants as status.variants reports them: production variants, then the shadow."""
    described = e2e.sagemaker.describe_endpoint(EndpointName=endpoint)
    variants = []
    for key, shadow in (("ProductionVariants", False), ("ShadowProductionVariants", True)):
        for variant in described.get(key, []):
            entry: dict[str, Any] = {
                "name": variant["VariantName"],
                "currentWeight": variant["CurrentWeight"],
                "desiredWeight": variant["DesiredWeight"],
            }
            if "CurrentServerlessConfig" in variant:
                entry["kind"] = "Serverless"
                for side in ("current", "desired"):
                    provisioned = variant[f"{side.capitalize()}ServerlessConfig"].get("ProvisionedConcurrency")
                    if provisioned is not None:
                        entry[f"{side}ProvisionedConcurrency"] = provisioned
            else:
                entry["kind"] = "Shadow" if shadow else "Instance"
                entry["currentInstanceCount"] = variant["CurrentInstanceCount"]
                entry["desiredInstanceCount"] = variant["DesiredInstanceCount"]
            variants.append(entry)
    return variants


def reported_variants(found: Resource) -> list[dict[str, Any]]:
    """status.variants without the benchmark (none runs here)."""
    return [{k: v for k, v in entry.items() if k != "benchmark"} for entry in status_of(found)["variants"]]


def assert_reported_as_described(e2e: EndToEnd, found: Resource, endpoint: str) -> list[dict[str, Any]]:
    reported = reported_variants(found)
    assert reported == described_variants(e2e, endpoint)
    return reported


def config_of(e2e: EndToEnd, endpoint: str) -> dict[str, Any]:
    name = e2e.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    config: dict[str, Any] = e2e.sagemaker.describe_endpoint_config(EndpointConfigName=name)
    return config


def made(e2e: EndToEnd) -> dict[str, int]:
    """The creations and changes SageMaker accepted from the operator so far."""
    return {operation: e2e.succeeded(operation) for operation in CHANGES}


def refused(e2e: EndToEnd) -> list[tuple[str, str | None]]:
    """Creations and changes SageMaker refused (one sent twice, or while the endpoint moves, would be)."""
    return [
        (call.operation, call.error_code)
        for call in e2e.aws.calls()
        if call.operation in CHANGES and call.status >= 400
    ]


def scalable_targets(e2e: EndToEnd) -> set[tuple[str, str, int, int]]:
    """Every SageMaker scalable target, in both of its variant dimensions: resource id, dimension, min, max."""
    found = set()
    for dimension in (INSTANCE_COUNT, PROVISIONED_CONCURRENCY):
        described = e2e.autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker", ScalableDimension=dimension)
        found |= {
            (target["ResourceId"], dimension, target["MinCapacity"], target["MaxCapacity"])
            for target in described["ScalableTargets"]
        }
    return found


def settled_inventory(e2e: EndToEnd, endpoint: str, config: str, models: list[str]) -> None:
    """Wait until SageMaker holds the endpoint, its config and models and nothing else (what a move superseded is
    deleted by the pass after it)."""
    expected = ([endpoint], [config], sorted(models))
    e2e.wait(lambda: e2e.inventory() == expected, f"only {expected} in SageMaker")


def events_with(e2e: EndToEnd, name: str, reason: str) -> list[str]:
    return [event["message"] for event in e2e.events(name) if event.get("reason") == reason]


# --- A/B test --------------------------------------------------------------------------------------------------

AB = "bid-filter-ab"
AB_ENDPOINT = endpoint_name(NAMESPACE, AB)
CHAMPION_SCALING = {"minCapacity": 2, "maxCapacity": 10, "targetInvocationsPerInstance": 6000}
CHAMPION_TARGET = (scaling_resource_id(AB_ENDPOINT, "champion"), INSTANCE_COUNT, 2, 10)


def champion(weight: float) -> dict[str, Any]:
    return {
        "name": "champion",
        "model": CHAMPION_MODEL,
        "instanceType": INSTANCE_TYPE,
        "autoscaling": CHAMPION_SCALING,
        "weight": weight,
    }


def challenger(weight: float, model: dict[str, Any] = CHALLENGER_MODEL) -> dict[str, Any]:
    return {"name": "challenger", "model": model, "instanceType": INSTANCE_TYPE, "instanceCount": 1, "weight": weight}


def ab_test() -> dict[str, Any]:
    """examples/ab-test.yaml's spec: 90 % to the autoscaled champion, 10 % to the challenger, canary rollouts."""
    return {
        "variants": [champion(AB_WEIGHTS[0]), challenger(AB_WEIGHTS[1])],
        "deployment": {"strategy": "Canary", "canarySizePercent": 10},
        "tags": {"team": "bidding"},
    }


def instance_entry(name: str, count: int, weight: float, kind: str = "Instance") -> dict[str, Any]:
    """A settled instance-backed variant as status.variants reports it."""
    return {
        "name": name,
        "kind": kind,
        "currentInstanceCount": count,
        "desiredInstanceCount": count,
        "currentWeight": weight,
        "desiredWeight": weight,
    }


@pytest.mark.timeout(90)
def test_an_ab_test_is_reweighted_remodelled_across_a_crash_promoted_and_deleted(
    e2e: EndToEnd, callers_of: Callable[[str], Callers]
) -> None:
    callers = callers_of(AB_ENDPOINT)
    callers.serve("champion")
    callers.serve("challenger")

    # Created: both variants as the config has them, the champion autoscaled, 90/10 of the traffic.
    found = e2e.create(AB, ab_test())
    config = config_of(e2e, AB_ENDPOINT)
    assert [
        (v["VariantName"], v["InitialVariantWeight"], v["InitialInstanceCount"]) for v in config["ProductionVariants"]
    ] == [
        ("champion", AB_WEIGHTS[0], 2),
        ("challenger", AB_WEIGHTS[1], 1),
    ]
    champion_model, challenger_model = (v["ModelName"] for v in config["ProductionVariants"])
    assert assert_reported_as_described(e2e, found, AB_ENDPOINT) == [
        instance_entry("champion", 2, AB_WEIGHTS[0]),
        instance_entry("challenger", 1, AB_WEIGHTS[1]),
    ]
    e2e.wait(lambda: scalable_targets(e2e) == {CHAMPION_TARGET}, "the champion's scalable target")
    header, row = e2e.kubectl("get", "lle", "-n", NAMESPACE).stdout.splitlines()
    assert row.split()[:2] == [AB, "InService"], (header, row)
    answered = callers.invoke()
    assert_share(len(answered.get("challenger", ())), challenger_share(AB_WEIGHTS), "the challenger")
    created = {**dict.fromkeys(CHANGES, 0), "CreateModel": 2, "CreateEndpointConfig": 1, "CreateEndpoint": 1}
    assert made(e2e) == created

    # Reweighted (50/50): changed in place, on the same config.
    e2e.patch(AB, {"variants": [champion(AB_REWEIGHTED[0]), challenger(AB_REWEIGHTED[1])]})
    found = e2e.wait_in_service(AB, generation=2)
    assert status_of(found)["endpointConfigName"] == config["EndpointConfigName"]
    assert config_of(e2e, AB_ENDPOINT)["EndpointConfigName"] == config["EndpointConfigName"]
    assert assert_reported_as_described(e2e, found, AB_ENDPOINT) == [
        instance_entry("champion", 2, AB_REWEIGHTED[0]),
        instance_entry("challenger", 1, AB_REWEIGHTED[1]),
    ]
    answered = callers.invoke()
    assert_share(len(answered.get("challenger", ())), challenger_share(AB_REWEIGHTED), "the challenger")
    assert made(e2e) == created | {"UpdateEndpointWeightsAndCapacities": 1}

    # The challenger retrained: a new model and config, moved with the canary (the names stay); the operator crashes
    # while the endpoint is Updating and its successor finishes the move without sending anything again.
    clock = e2e.freeze_sagemaker()
    e2e.patch(AB, {"variants": [champion(AB_REWEIGHTED[0]), challenger(AB_REWEIGHTED[1], RETRAINED_MODEL)]})
    e2e.wait(lambda: e2e.succeeded("UpdateEndpoint") == 1, "UpdateEndpoint")
    e2e.operator.kill()
    e2e.operator.start()
    e2e.after_passes(1)
    e2e.thaw_sagemaker(clock)
    found = e2e.wait_in_service(AB, generation=3)
    described = e2e.sagemaker.describe_endpoint(EndpointName=AB_ENDPOINT)
    assert described["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    config = config_of(e2e, AB_ENDPOINT)
    assert [v["VariantName"] for v in config["ProductionVariants"]] == ["champion", "challenger"]
    assert config["ProductionVariants"][0]["ModelName"] == champion_model
    retrained_model = config["ProductionVariants"][1]["ModelName"]
    assert retrained_model != challenger_model
    image = e2e.sagemaker.describe_model(ModelName=retrained_model)["PrimaryContainer"]["Image"]
    assert image == RETRAINED_MODEL["image"]
    assert assert_reported_as_described(e2e, found, AB_ENDPOINT) == [
        instance_entry("champion", 2, AB_REWEIGHTED[0]),
        instance_entry("challenger", 1, AB_REWEIGHTED[1]),
    ]
    assert events_with(e2e, AB, "VariantsChanged") == []
    settled_inventory(e2e, AB_ENDPOINT, config["EndpointConfigName"], [champion_model, retrained_model])
    assert scalable_targets(e2e) == {CHAMPION_TARGET}
    assert made(e2e) == {
        "CreateModel": 3,
        "CreateEndpointConfig": 2,
        "CreateEndpoint": 1,
        "UpdateEndpoint": 1,
        "UpdateEndpointWeightsAndCapacities": 1,
    }

    # Promotion: every request to the challenger (in place), then the champion removed: its autoscaling first, then
    # a move without guardrails (SageMaker's need the same variant names), said in an Event.
    e2e.patch(AB, {"variants": [champion(0), challenger(100, RETRAINED_MODEL)]})
    e2e.wait_in_service(AB, generation=4)
    answered = callers.invoke()
    assert set(answered) == {"challenger"}
    assert callers.received("champion", answered) == set()
    operations_before = len(e2e.operations())
    e2e.patch(AB, {"variants": [challenger(100, RETRAINED_MODEL)]})
    found = e2e.wait_in_service(AB, generation=5)
    assert assert_reported_as_described(e2e, found, AB_ENDPOINT) == [instance_entry("challenger", 1, 100.0)]
    described = e2e.sagemaker.describe_endpoint(EndpointName=AB_ENDPOINT)
    assert "LastDeploymentConfig" not in described, "a move that removes a variant has no guardrails"
    operations = e2e.operations()[operations_before:]
    assert operations.index("DeregisterScalableTarget") < operations.index("UpdateEndpoint")
    assert [call.resource for call in e2e.aws.calls(operation="DeregisterScalableTarget")] == [CHAMPION_TARGET[0]]
    assert scalable_targets(e2e) == set()
    (said,) = e2e.wait(lambda: events_with(e2e, AB, "VariantsChanged"), "a VariantsChanged Event")
    assert "production variant champion removed" in said
    config = config_of(e2e, AB_ENDPOINT)
    settled_inventory(e2e, AB_ENDPOINT, config["EndpointConfigName"], [retrained_model])
    answered = callers.invoke()
    assert set(answered) == {"challenger"}
    assert made(e2e) == {
        "CreateModel": 3,
        "CreateEndpointConfig": 3,
        "CreateEndpoint": 1,
        "UpdateEndpoint": 2,
        "UpdateEndpointWeightsAndCapacities": 2,
    }

    e2e.delete(AB)

    assert e2e.inventory() == ([], [], [])
    assert scalable_targets(e2e) == set()
    assert refused(e2e) == []


# --- shadow variant --------------------------------------------------------------------------------------------

SHADOW = "bid-filter-shadow"
SHADOW_ENDPOINT = endpoint_name(NAMESPACE, SHADOW)
PRODUCTION = "AllTraffic"  # the shorthand's variant


def shadow_test(weight: float, model: dict[str, Any] = CHALLENGER_MODEL) -> dict[str, Any]:
    """examples/shadow.yaml's spec: the champion serves every caller, a candidate gets a copy of a share."""
    return {
        "model": CHAMPION_MODEL,
        "instanceType": INSTANCE_TYPE,
        "instanceCount": 2,
        "shadowVariants": [
            {"name": "candidate", "model": model, "instanceType": INSTANCE_TYPE, "instanceCount": 1, "weight": weight}
        ],
        "tags": {"team": "bidding"},
    }


def assert_mirrored(callers: Callers, answered: dict[str, set[bytes]], share: float) -> None:
    """Every caller was answered by production, and the candidate received copies of its share of the requests."""
    assert set(answered) == {PRODUCTION}
    assert_share(len(callers.received("candidate", answered)), share, "the copies for the candidate")


@pytest.mark.timeout(90)
def test_a_shadow_test_is_reweighted_across_a_crash_remodelled_promoted_and_deleted(
    e2e: EndToEnd, callers_of: Callable[[str], Callers]
) -> None:
    callers = callers_of(SHADOW_ENDPOINT)
    callers.serve(PRODUCTION)
    candidate = callers.serve("candidate", errors={500: 1.0})  # callers must never meet the candidate's answers

    # Created: the candidate as the config's shadow, mirroring half of the traffic.
    found = e2e.create(SHADOW, shadow_test(SHADOW_WEIGHT))
    config = config_of(e2e, SHADOW_ENDPOINT)
    assert [(v["VariantName"], v["InitialInstanceCount"]) for v in config["ProductionVariants"]] == [(PRODUCTION, 2)]
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in config["ShadowProductionVariants"]] == [
        ("candidate", SHADOW_WEIGHT)
    ]
    production_model = config["ProductionVariants"][0]["ModelName"]
    candidate_model = config["ShadowProductionVariants"][0]["ModelName"]
    assert assert_reported_as_described(e2e, found, SHADOW_ENDPOINT) == [
        instance_entry(PRODUCTION, 2, 1.0),
        instance_entry("candidate", 1, SHADOW_WEIGHT, kind="Shadow"),
    ]
    assert_mirrored(callers, callers.invoke(), SHADOW_WEIGHT)
    assert all(served.status == 500 for served in candidate.served)
    created = {**dict.fromkeys(CHANGES, 0), "CreateModel": 2, "CreateEndpointConfig": 1, "CreateEndpoint": 1}
    assert made(e2e) == created

    # The shadow's weight lowered in place; the operator crashes while the endpoint is Updating from it, and its
    # successor sends nothing again.
    clock = e2e.freeze_sagemaker()
    e2e.patch(SHADOW, {"shadowVariants": shadow_test(SHADOW_REWEIGHTED)["shadowVariants"]})
    e2e.wait(lambda: e2e.succeeded("UpdateEndpointWeightsAndCapacities") == 1, "UpdateEndpointWeightsAndCapacities")
    e2e.operator.kill()
    e2e.operator.start()
    e2e.after_passes(1)
    e2e.thaw_sagemaker(clock)
    found = e2e.wait_in_service(SHADOW, generation=2)
    assert config_of(e2e, SHADOW_ENDPOINT)["EndpointConfigName"] == config["EndpointConfigName"]
    assert assert_reported_as_described(e2e, found, SHADOW_ENDPOINT) == [
        instance_entry(PRODUCTION, 2, 1.0),
        instance_entry("candidate", 1, SHADOW_REWEIGHTED, kind="Shadow"),
    ]
    assert_mirrored(callers, callers.invoke(), SHADOW_REWEIGHTED)
    assert made(e2e) == created | {"UpdateEndpointWeightsAndCapacities": 1}

    # The candidate retrained: a new model and config, the variant names kept.
    e2e.patch(SHADOW, {"shadowVariants": shadow_test(SHADOW_REWEIGHTED, RETRAINED_MODEL)["shadowVariants"]})
    found = e2e.wait_in_service(SHADOW, generation=3)
    config = config_of(e2e, SHADOW_ENDPOINT)
    assert [v["VariantName"] for v in config["ProductionVariants"] + config["ShadowProductionVariants"]] == [
        PRODUCTION,
        "candidate",
    ]
    assert config["ProductionVariants"][0]["ModelName"] == production_model
    retrained_model = config["ShadowProductionVariants"][0]["ModelName"]
    assert retrained_model != candidate_model
    assert (
        e2e.sagemaker.describe_model(ModelName=retrained_model)["PrimaryContainer"]["Image"] == RETRAINED_MODEL["image"]
    )
    assert events_with(e2e, SHADOW, "VariantsChanged") == []
    settled_inventory(e2e, SHADOW_ENDPOINT, config["EndpointConfigName"], [production_model, retrained_model])
    assert_mirrored(callers, callers.invoke(), SHADOW_REWEIGHTED)

    # Promotion: the candidate's model serves production, already in SageMaker; the shadow goes.
    copies = candidate.invocations
    e2e.patch(SHADOW, {"model": RETRAINED_MODEL, "shadowVariants": None})
    found = e2e.wait_in_service(SHADOW, generation=4)
    config = config_of(e2e, SHADOW_ENDPOINT)
    assert [v["ModelName"] for v in config["ProductionVariants"]] == [retrained_model]
    assert not config.get("ShadowProductionVariants")
    assert assert_reported_as_described(e2e, found, SHADOW_ENDPOINT) == [instance_entry(PRODUCTION, 2, 1.0)]
    (said,) = e2e.wait(lambda: events_with(e2e, SHADOW, "VariantsChanged"), "a VariantsChanged Event")
    assert "shadow variant candidate removed" in said
    settled_inventory(e2e, SHADOW_ENDPOINT, config["EndpointConfigName"], [retrained_model])
    assert set(callers.invoke()) == {PRODUCTION}
    assert candidate.invocations == copies, "a removed shadow is sent no copies"
    assert made(e2e) == {
        "CreateModel": 3,
        "CreateEndpointConfig": 3,
        "CreateEndpoint": 1,
        "UpdateEndpoint": 2,
        "UpdateEndpointWeightsAndCapacities": 1,
    }

    e2e.delete(SHADOW)

    assert e2e.inventory() == ([], [], [])
    assert scalable_targets(e2e) == set()
    assert refused(e2e) == []


# --- serverless ------------------------------------------------------------------------------------------------

SERVERLESS = "fraud-score"
SERVERLESS_ENDPOINT = endpoint_name(NAMESPACE, SERVERLESS)
PROVISIONED_SCALING = {"minCapacity": 1, "maxCapacity": 10, "targetUtilization": 0.5}
PROVISIONED_TARGET = (scaling_resource_id(SERVERLESS_ENDPOINT, PRODUCTION), PROVISIONED_CONCURRENCY, 1, 10)


def serverless_endpoint() -> dict[str, Any]:
    """examples/serverless.yaml's spec: two invocations kept warm, scaled with use."""
    return {
        "model": CHAMPION_MODEL,
        "serverless": {
            "memorySizeInMB": 2048,
            "maxConcurrency": 20,
            "provisionedConcurrency": 2,
            "autoscaling": PROVISIONED_SCALING,
        },
        "expectedMonthlyInvocations": 3_000_000,
        "tags": {"team": "risk"},
    }


def serverless_entry(provisioned: int) -> dict[str, Any]:
    return {
        "name": PRODUCTION,
        "kind": "Serverless",
        "currentProvisionedConcurrency": provisioned,
        "desiredProvisionedConcurrency": provisioned,
        "currentWeight": 1.0,
        "desiredWeight": 1.0,
    }


def live_serverless(e2e: EndToEnd) -> dict[str, Any]:
    (variant,) = e2e.sagemaker.describe_endpoint(EndpointName=SERVERLESS_ENDPOINT)["ProductionVariants"]
    assert variant["DesiredServerlessConfig"] == variant["CurrentServerlessConfig"]
    current: dict[str, Any] = variant["CurrentServerlessConfig"]
    return current


def assert_served_warm(callers: Callers) -> None:
    """Every request answered by the serverless variant, none after a cold start: its provisioned concurrency is
    warm whatever happened before (serverless.py)."""
    assert set(callers.invoke()) == {PRODUCTION}
    traffic = callers.e2e.aws.sagemaker.traffic(SERVERLESS_ENDPOINT)[PRODUCTION]
    assert (traffic.cold_starts, traffic.throttled) == (0, 0)


@pytest.mark.timeout(90)
def test_a_serverless_endpoint_changes_concurrency_in_place_and_memory_across_a_crash_and_is_deleted(
    e2e: EndToEnd, callers_of: Callable[[str], Callers]
) -> None:
    callers = callers_of(SERVERLESS_ENDPOINT)
    callers.serve(PRODUCTION)

    # Created: serverless, its provisioned concurrency autoscaled on its own dimension.
    found = e2e.create(SERVERLESS, serverless_endpoint())
    (variant,) = config_of(e2e, SERVERLESS_ENDPOINT)["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 20, "ProvisionedConcurrency": 2}
    model = variant["ModelName"]
    assert assert_reported_as_described(e2e, found, SERVERLESS_ENDPOINT) == [serverless_entry(2)]
    assert status_of(found).get("currentInstanceCount") is None
    e2e.wait(lambda: scalable_targets(e2e) == {PROVISIONED_TARGET}, "the provisioned concurrency's scalable target")
    assert_served_warm(callers)
    created = {**dict.fromkeys(CHANGES, 0), "CreateModel": 1, "CreateEndpointConfig": 1, "CreateEndpoint": 1}
    assert made(e2e) == created

    # A higher maximum concurrency: in place, on the same config.
    config = status_of(found)["endpointConfigName"]
    e2e.patch(SERVERLESS, {"serverless": {"maxConcurrency": 40}})
    found = e2e.wait_in_service(SERVERLESS, generation=2)
    assert live_serverless(e2e) == {"MemorySizeInMB": 2048, "MaxConcurrency": 40, "ProvisionedConcurrency": 2}
    assert status_of(found)["endpointConfigName"] == config
    assert made(e2e) == created | {"UpdateEndpointWeightsAndCapacities": 1}

    # More memory: a new config (the model is the same) and UpdateEndpoint; the operator crashes with the config made
    # and UpdateEndpoint failing, and its successor makes the config no second time. The autoscaling stays.
    e2e.aws.faults.server_error("UpdateEndpoint", times=1_000_000)
    e2e.patch(SERVERLESS, {"serverless": {"memorySizeInMB": 4096}})
    e2e.wait(lambda: e2e.aws.count("UpdateEndpoint") >= 1, "UpdateEndpoint attempted")
    e2e.operator.kill()
    e2e.aws.faults.clear()
    e2e.operator.start()
    found = e2e.wait_in_service(SERVERLESS, generation=3)
    assert live_serverless(e2e) == {"MemorySizeInMB": 4096, "MaxConcurrency": 40, "ProvisionedConcurrency": 2}
    new_config = status_of(found)["endpointConfigName"]
    assert new_config != config
    assert assert_reported_as_described(e2e, found, SERVERLESS_ENDPOINT) == [serverless_entry(2)]
    settled_inventory(e2e, SERVERLESS_ENDPOINT, new_config, [model])
    assert scalable_targets(e2e) == {PROVISIONED_TARGET}
    assert_served_warm(callers)
    assert made(e2e) == created | {
        "CreateEndpointConfig": 2,
        "UpdateEndpoint": 1,
        "UpdateEndpointWeightsAndCapacities": 1,
    }

    # Provisioned concurrency set by hand instead of autoscaled: the target deregistered and the concurrency changed
    # in place, on the same config.
    e2e.patch(SERVERLESS, {"serverless": {"provisionedConcurrency": 3, "autoscaling": None}})
    found = e2e.wait_in_service(SERVERLESS, generation=4)
    e2e.wait(lambda: scalable_targets(e2e) == set(), "the provisioned concurrency's target deregistered")
    assert live_serverless(e2e) == {"MemorySizeInMB": 4096, "MaxConcurrency": 40, "ProvisionedConcurrency": 3}
    assert status_of(found)["endpointConfigName"] == new_config
    assert assert_reported_as_described(e2e, found, SERVERLESS_ENDPOINT) == [serverless_entry(3)]
    assert_served_warm(callers)
    assert made(e2e) == created | {
        "CreateEndpointConfig": 2,
        "UpdateEndpoint": 1,
        "UpdateEndpointWeightsAndCapacities": 2,
    }

    e2e.delete(SERVERLESS)

    assert e2e.inventory() == ([], [], [])
    assert scalable_targets(e2e) == set()
    assert set(refused(e2e)) == {("UpdateEndpoint", "InternalFailure")}, "only the injected faults"
