"""Multi-variant, shadow and serverless endpoints in the AWS emulator (issue 13), seen through real boto3 clients.

Each test names the rule's source as the emulator's docstrings do (:mod:`lowlatency.emulators.aws.variants`,
:mod:`.serverless`, :mod:`.invocations`, :mod:`.deployments`), shows SageMaker's refusal with its error code and
then the request that SageMaker accepts. Invocations go to one model server per variant; what each server received
is the truth the emulator's routing is compared with.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from emulator_requests import IMAGE, NEW_IMAGE, ROLE, client_error, code_of, message_of, status
from fixtures_aws import TEST_DELAYS, AwsClientFactory, ManualClock
from lowlatency.emulators.aws import AwsEmulator
from lowlatency.emulators.model_server import Fixed, ModelServer

pytestmark = pytest.mark.timeout(120)

INSTANCE_TYPE = "ml.c5.xlarge"
AB, MIRROR, SPIKY = "ab", "mirror", "spiky"  # the endpoints of the fixtures below
SUBNET_VPC = {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]}


def instance_variant(name: str, model: str, *, weight: float | None = None, count: int = 1) -> dict[str, Any]:
    variant: dict[str, Any] = {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": INSTANCE_TYPE,
        "InitialInstanceCount": count,
    }
    if weight is not None:
        variant["InitialVariantWeight"] = weight
    return variant


def serverless_variant(
    name: str, model: str, *, memory: int = 2048, max_concurrency: int = 5, provisioned: int | None = None
) -> dict[str, Any]:
    config: dict[str, Any] = {"MemorySizeInMB": memory, "MaxConcurrency": max_concurrency}
    if provisioned is not None:
        config["ProvisionedConcurrency"] = provisioned
    return {"VariantName": name, "ModelName": model, "ServerlessConfig": config}


def model(sagemaker: Any, name: str, image: str = IMAGE, **settings: Any) -> str:
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": image}, **settings)
    return name


def config(
    sagemaker: Any,
    name: str,
    production: list[dict[str, Any]],
    shadows: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> str:
    if shadows:
        extra["ShadowProductionVariants"] = shadows
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=production, **extra)
    return name


def in_service(sagemaker: Any, clock: ManualClock, name: str, config_name: str) -> str:
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config_name)
    clock.advance(TEST_DELAYS.create)
    assert status(sagemaker, name) == "InService"
    return name


def variants_by_name(described: dict[str, Any], key: str = "ProductionVariants") -> dict[str, dict[str, Any]]:
    return {variant["VariantName"]: variant for variant in described[key]}


def concurrent(call: Callable[[], object], times: int) -> None:
    """Make ``times`` calls at once, each in a thread of its own, and wait for them all."""
    threads = [threading.Thread(target=call) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)


@pytest.fixture
def runtime(aws_client: AwsClientFactory) -> Any:
    """A SageMaker Runtime client that sees every error as sent (boto3 would retry a ThrottlingException)."""
    return aws_client("sagemaker-runtime", retries=False)


@pytest.fixture
def ab_endpoint(sagemaker: Any, aws_clock: ManualClock) -> str:
    """InService endpoint ``ab``: variants A (weight 3, 2 instances), B (weight 1) and C (weight 0)."""
    for name in ("model-a", "model-b", "model-c"):
        model(sagemaker, name)
    production = [
        instance_variant("A", "model-a", weight=3, count=2),
        instance_variant("B", "model-b", weight=1),
        instance_variant("C", "model-c", weight=0),
    ]
    return in_service(sagemaker, aws_clock, AB, config(sagemaker, "ab-v1", production))


@pytest.fixture
def shadow_endpoint(sagemaker: Any, aws_clock: ManualClock) -> str:
    """InService endpoint ``mirror``: production variant Live (weight 1), shadow variant Candidate (weight 0.5)."""
    model(sagemaker, "live")
    model(sagemaker, "candidate", NEW_IMAGE)
    name = config(
        sagemaker,
        "mirror-v1",
        [instance_variant("Live", "live", weight=1)],
        [instance_variant("Candidate", "candidate", weight=0.5)],
    )
    return in_service(sagemaker, aws_clock, MIRROR, name)


@pytest.fixture
def serverless_endpoint(sagemaker: Any, aws_clock: ManualClock) -> str:
    """InService endpoint ``spiky``: one serverless variant Only (2048 MB, MaxConcurrency 2)."""
    model(sagemaker, "spiky-model")
    name = config(sagemaker, "spiky-v1", [serverless_variant("Only", "spiky-model", max_concurrency=2)])
    return in_service(sagemaker, aws_clock, SPIKY, name)


@pytest.fixture
def servers() -> Iterator[dict[str, ModelServer]]:
    """Model servers by variant name, started on demand: ``servers["A"]``."""

    class Servers(dict[str, ModelServer]):
        def __missing__(self, variant: str) -> ModelServer:
            self[variant] = ModelServer().start()
            return self[variant]

    started = Servers()
    yield started
    for server in started.values():
        server.stop()


# CreateEndpointConfig


def test_a_config_has_up_to_ten_production_variants_or_one_production_and_one_shadow(
    sagemaker: Any,
) -> None:
    """botocore sagemaker CreateEndpointConfigInput.ProductionVariants (1-10) and .ShadowProductionVariants ("you can
    only specify one variant for ProductionVariants and one variant for ShadowProductionVariants")."""
    model(sagemaker, "m")
    eleven = [instance_variant(f"V{index}", "m") for index in range(11)]
    two = [instance_variant("A", "m"), instance_variant("B", "m")]

    too_many = client_error(lambda: config(sagemaker, "c", eleven))
    shadow_of_two = client_error(lambda: config(sagemaker, "c", two, [instance_variant("S", "m")]))
    two_shadows = client_error(
        lambda: config(sagemaker, "c", two[:1], [instance_variant("S", "m"), instance_variant("T", "m")])
    )

    assert code_of(too_many) == "ValidationException"
    assert "Member must have length less than or equal to 10" in message_of(too_many)
    assert [code_of(shadow_of_two), code_of(two_shadows)] == ["ValidationException"] * 2
    assert "exactly one production variant and one shadow variant" in message_of(two_shadows)
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
    config(sagemaker, "ten", eleven[:10])
    config(sagemaker, "shadowed", two[:1], [instance_variant("S", "m", weight=0.25)])
    described = sagemaker.describe_endpoint_config(EndpointConfigName="shadowed")
    assert [variant["InitialVariantWeight"] for variant in described["ProductionVariants"]] == [1.0]  # the default
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in described["ShadowProductionVariants"]] == [
        ("S", 0.25)
    ]
    assert "ShadowProductionVariants" not in sagemaker.describe_endpoint_config(EndpointConfigName="ten")


def test_variant_names_are_unique_across_production_and_shadow_variants(sagemaker: Any) -> None:
    """botocore sagemaker DesiredWeightAndCapacity.VariantName: a variant is named by its name alone."""
    model(sagemaker, "m")

    repeated = client_error(lambda: config(sagemaker, "c", [instance_variant("A", "m")], [instance_variant("A", "m")]))

    assert code_of(repeated) == "ValidationException"
    assert "['A'] repeated" in message_of(repeated)
    config(sagemaker, "c", [instance_variant("A", "m")], [instance_variant("A-shadow", "m")])


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ({**instance_variant("V", "m"), **serverless_variant("V", "m")}, "either serverless or instance-based"),
        ({"VariantName": "V", "ModelName": "m"}, "either ServerlessConfig, or InstanceType and InitialInstanceCount"),
        ({"VariantName": "V", "ModelName": "m", "InstanceType": INSTANCE_TYPE}, "InitialInstanceCount"),
        (instance_variant("V", "m") | {"InstanceType": "ml.t3.medium"}, "Member must satisfy enum value set"),
    ],
    ids=["both", "neither", "instance-type-without-count", "unknown-instance-type"],
)
def test_a_variant_is_either_instance_backed_or_serverless(
    sagemaker: Any, variant: dict[str, Any], expected: str
) -> None:
    """botocore sagemaker ProductionVariant.ServerlessConfig ("instead of an instance-based endpoint configuration")
    and ProductionVariantInstanceType."""
    model(sagemaker, "m")

    refused = client_error(lambda: config(sagemaker, "c", [variant]))

    assert code_of(refused) == "ValidationException"
    assert expected in message_of(refused)
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"memory": 1536}, "Value '1536' at 'serverlessConfig.memorySizeInMB'"),
        ({"memory": 7168}, "Value '7168' at 'serverlessConfig.memorySizeInMB'"),
        ({"max_concurrency": 201}, "Value '201' at 'serverlessConfig.maxConcurrency'"),
        ({"max_concurrency": 200, "provisioned": 201}, "Value '201' at 'serverlessConfig.provisionedConcurrency'"),
        ({"max_concurrency": 5, "provisioned": 6}, "ProvisionedConcurrency (6) must be less than or equal to"),
    ],
    ids=["memory-not-a-gigabyte-step", "memory-above-6144", "max-above-200", "provisioned-above-200", "above-max"],
)
def test_serverless_config_ranges(sagemaker: Any, settings: dict[str, Any], expected: str) -> None:
    """API reference, ProductionVariantServerlessConfig: memory 1024-6144 in 1024 steps, concurrency 1-200,
    provisioned concurrency at most MaxConcurrency."""
    model(sagemaker, "m")

    refused = client_error(lambda: config(sagemaker, "c", [serverless_variant("V", "m", **settings)]))

    assert code_of(refused) == "ValidationException"
    assert expected in message_of(refused)
    config(sagemaker, "c", [serverless_variant("V", "m", memory=6144, max_concurrency=200, provisioned=200)])


EXCLUSIONS: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    # (case, CreateModel settings, CreateEndpointConfig settings, what the refusal names)
    ("vpc-config", {}, {"VpcConfig": SUBNET_VPC}, "VPC configuration"),
    ("network-isolation", {}, {"EnableNetworkIsolation": True}, "network isolation"),
    ("data-capture", {}, {"DataCaptureConfig": {
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": "s3://acme-models/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}],
    }}, "data capture"),
    ("model-vpc-config", {"VpcConfig": SUBNET_VPC}, {}, "model m's VPC configuration"),
    ("model-network-isolation", {"EnableNetworkIsolation": True}, {}, "model m's network isolation"),
]  # fmt: skip


@pytest.mark.parametrize(("model_settings", "config_settings", "expected"), [case[1:] for case in EXCLUSIONS],
                         ids=[case[0] for case in EXCLUSIONS])  # fmt: skip
def test_a_serverless_variant_refuses_the_features_serverless_inference_excludes(
    sagemaker: Any, model_settings: dict[str, Any], config_settings: dict[str, Any], expected: str
) -> None:
    """Developer guide, serverless endpoints, feature exclusions: VPC configuration, network isolation, data
    capture."""
    model(sagemaker, "m", **model_settings)

    refused = client_error(lambda: config(sagemaker, "c", [serverless_variant("V", "m")], **config_settings))

    assert code_of(refused) == "ValidationException"
    assert expected in message_of(refused)
    assert "not supported for Serverless Inference" in message_of(refused)
    config(sagemaker, "instances", [instance_variant("V", "m")], **config_settings)  # fine for instances


@pytest.mark.parametrize(
    "container",
    [
        {"Image": IMAGE, "Mode": "MultiModel"},
        {"Image": IMAGE, "ImageConfig": {"RepositoryAccessMode": "Vpc"}},
        {"ModelPackageName": "arn:aws:sagemaker:us-east-1:123456789012:model-package/marketplace-xgboost"},
    ],
    ids=["multi-model", "private-registry", "marketplace-package"],
)
def test_a_serverless_variant_refuses_containers_serverless_inference_excludes(
    sagemaker: Any, container: dict[str, Any]
) -> None:
    """Developer guide, serverless endpoints, feature exclusions: Multi-Model Endpoints, private Docker registries,
    AWS marketplace model packages, and (below) inference pipelines."""
    sagemaker.create_model(ModelName="excluded", ExecutionRoleArn=ROLE, PrimaryContainer=container)
    sagemaker.create_model(
        ModelName="pipeline", ExecutionRoleArn=ROLE, Containers=[{"Image": IMAGE}, {"Image": NEW_IMAGE}]
    )

    excluded = client_error(lambda: config(sagemaker, "c", [serverless_variant("V", "excluded")]))
    pipeline = client_error(lambda: config(sagemaker, "c", [serverless_variant("V", "pipeline")]))

    assert [code_of(excluded), code_of(pipeline)] == ["ValidationException"] * 2
    assert "model excluded's" in message_of(excluded)
    assert "model pipeline's inference pipeline" in message_of(pipeline)


def test_a_serverless_variant_is_its_endpoints_only_variant(sagemaker: Any) -> None:
    """Developer guide, serverless endpoints, feature exclusions: multiple production variants (a shadow variant is
    one of the config's ProductionVariants)."""
    model(sagemaker, "m")
    serverless = serverless_variant("S", "m")

    with_production = client_error(lambda: config(sagemaker, "c", [serverless, instance_variant("I", "m")]))
    with_shadow = client_error(lambda: config(sagemaker, "c", [instance_variant("I", "m")], [serverless]))
    shadowed = client_error(lambda: config(sagemaker, "c", [serverless], [instance_variant("I", "m")]))

    for refused in (with_production, with_shadow, shadowed):
        assert code_of(refused) == "ValidationException"
        assert "multiple production variants" in message_of(refused)
    config(sagemaker, "c", [serverless])


# DescribeEndpoint


def test_describe_endpoint_gives_each_variant_its_weights_and_counts_or_serverless_config(
    sagemaker: Any, ab_endpoint: str, shadow_endpoint: str, serverless_endpoint: str
) -> None:
    """botocore sagemaker DescribeEndpointOutput.ProductionVariants and .ShadowProductionVariants, each a
    ProductionVariantSummary: CurrentWeight/DesiredWeight, and CurrentInstanceCount/DesiredInstanceCount or
    CurrentServerlessConfig/DesiredServerlessConfig."""
    ab = sagemaker.describe_endpoint(EndpointName=ab_endpoint)
    mirror = sagemaker.describe_endpoint(EndpointName=shadow_endpoint)
    spiky = sagemaker.describe_endpoint(EndpointName=serverless_endpoint)

    summary = {
        name: (v["CurrentWeight"], v["DesiredWeight"], v["CurrentInstanceCount"], v["DesiredInstanceCount"])
        for name, v in variants_by_name(ab).items()
    }
    assert summary == {"A": (3.0, 3.0, 2, 2), "B": (1.0, 1.0, 1, 1), "C": (0.0, 0.0, 1, 1)}
    assert "ShadowProductionVariants" not in ab
    assert [v["VariantName"] for v in mirror["ProductionVariants"]] == ["Live"]
    [shadow] = mirror["ShadowProductionVariants"]
    assert (shadow["VariantName"], shadow["CurrentWeight"], shadow["CurrentInstanceCount"]) == ("Candidate", 0.5, 1)
    [only] = spiky["ProductionVariants"]
    expected = {"MemorySizeInMB": 2048, "MaxConcurrency": 2}
    assert (only["CurrentServerlessConfig"], only["DesiredServerlessConfig"]) == (expected, expected)
    assert "CurrentInstanceCount" not in only
    assert "DesiredInstanceCount" not in only


# UpdateEndpointWeightsAndCapacities


def test_weights_and_counts_of_production_and_shadow_variants_change_in_place(
    sagemaker: Any, aws_clock: ManualClock, ab_endpoint: str, shadow_endpoint: str
) -> None:
    """botocore sagemaker DesiredWeightAndCapacity (production and shadow variants) and ProductionVariantSummary:
    Updating with the desired values beside the current ones, then InService at them on the same config; the weights
    of several variants in one call, a capacity in a call of its own."""
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=ab_endpoint,
        DesiredWeightsAndCapacities=[
            {"VariantName": "A", "DesiredWeight": 0},
            {"VariantName": "C", "DesiredWeight": 2},
        ],
    )
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=shadow_endpoint, DesiredWeightsAndCapacities=[{"VariantName": "Candidate", "DesiredWeight": 1}]
    )

    updating = sagemaker.describe_endpoint(EndpointName=ab_endpoint)
    assert updating["EndpointStatus"] == "Updating"
    moving = variants_by_name(updating)
    assert (moving["A"]["CurrentWeight"], moving["A"]["DesiredWeight"]) == (3.0, 0.0)
    assert (moving["C"]["CurrentWeight"], moving["C"]["DesiredWeight"]) == (0.0, 2.0)
    shadow = sagemaker.describe_endpoint(EndpointName=shadow_endpoint)["ShadowProductionVariants"][0]
    assert (shadow["CurrentWeight"], shadow["DesiredWeight"]) == (0.5, 1.0)
    aws_clock.advance(TEST_DELAYS.capacity)
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=ab_endpoint, DesiredWeightsAndCapacities=[{"VariantName": "C", "DesiredInstanceCount": 3}]
    )
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=shadow_endpoint,
        DesiredWeightsAndCapacities=[{"VariantName": "Candidate", "DesiredInstanceCount": 2}],
    )
    scaling = variants_by_name(sagemaker.describe_endpoint(EndpointName=ab_endpoint))["C"]
    assert (scaling["CurrentInstanceCount"], scaling["DesiredInstanceCount"]) == (1, 3)
    aws_clock.advance(TEST_DELAYS.capacity)

    done = sagemaker.describe_endpoint(EndpointName=ab_endpoint)
    assert (done["EndpointStatus"], done["EndpointConfigName"]) == ("InService", "ab-v1")
    settled = variants_by_name(done)
    assert [settled[name]["CurrentWeight"] for name in "ABC"] == [0.0, 1.0, 2.0]
    assert settled["C"]["CurrentInstanceCount"] == 3
    shadow = sagemaker.describe_endpoint(EndpointName=shadow_endpoint)["ShadowProductionVariants"][0]
    assert (shadow["CurrentWeight"], shadow["CurrentInstanceCount"]) == (1.0, 2)


MIXED_CHANGES = {
    "capacities-of-two-variants": (
        AB,
        [{"VariantName": "A", "DesiredInstanceCount": 3}, {"VariantName": "B", "DesiredInstanceCount": 2}],
        "the capacity of only one variant per request; the request sets the capacity of variants ['A', 'B']",
    ),
    "a-weight-beside-another-variants-capacity": (
        AB,
        [{"VariantName": "A", "DesiredWeight": 1}, {"VariantName": "B", "DesiredInstanceCount": 2}],
        "either the weights of variants or the capacity of one variant; the request sets the weight of ['A'] and "
        "the capacity of ['B']",
    ),
    "a-variants-weight-and-capacity": (
        AB,
        [{"VariantName": "C", "DesiredWeight": 2, "DesiredInstanceCount": 3}],
        "the request sets the weight of ['C'] and the capacity of ['C']",
    ),
    "a-shadows-weight-and-capacity": (
        MIRROR,
        [{"VariantName": "Candidate", "DesiredWeight": 1, "DesiredInstanceCount": 2}],
        "the request sets the weight of ['Candidate'] and the capacity of ['Candidate']",
    ),
    "a-serverless-weight-and-concurrency": (
        SPIKY,
        [{"VariantName": "Only", "DesiredWeight": 2, "ServerlessUpdateConfig": {"MaxConcurrency": 4}}],
        "the request sets the weight of ['Only'] and the capacity of ['Only']",
    ),
}


@pytest.mark.parametrize(("endpoint", "desired", "expected"), MIXED_CHANGES.values(), ids=MIXED_CHANGES.keys())
@pytest.mark.usefixtures("ab_endpoint", "shadow_endpoint", "serverless_endpoint")
def test_one_call_changes_weights_or_one_variants_capacity_never_more(
    sagemaker: Any, endpoint: str, desired: list[dict[str, Any]], expected: str
) -> None:
    """UpdateEndpointWeightsAndCapacities "Updates variant weight of one or more variants associated with an existing
    endpoint, or capacity of one variant associated with an existing endpoint"
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpointWeightsAndCapacities.html), read
    strictly: the request is refused whole and the endpoint stays InService as it was."""
    before = sagemaker.describe_endpoint(EndpointName=endpoint)

    refused = client_error(
        lambda: sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=endpoint, DesiredWeightsAndCapacities=desired
        )
    )

    assert code_of(refused) == "ValidationException"
    assert expected in message_of(refused)
    after = sagemaker.describe_endpoint(EndpointName=endpoint)
    assert after["EndpointStatus"] == "InService"
    assert after["ProductionVariants"] == before["ProductionVariants"]
    assert after.get("ShadowProductionVariants") == before.get("ShadowProductionVariants")


def test_a_serverless_variants_concurrency_changes_in_place(
    sagemaker: Any, aws_clock: ManualClock, serverless_endpoint: str
) -> None:
    """botocore sagemaker DesiredWeightAndCapacity.ServerlessUpdateConfig (ProductionVariantServerlessUpdateConfig),
    reported as DesiredServerlessConfig until it is the CurrentServerlessConfig."""
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=serverless_endpoint,
        DesiredWeightsAndCapacities=[
            {"VariantName": "Only", "ServerlessUpdateConfig": {"MaxConcurrency": 20, "ProvisionedConcurrency": 4}}
        ],
    )

    [updating] = sagemaker.describe_endpoint(EndpointName=serverless_endpoint)["ProductionVariants"]
    assert updating["CurrentServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 2}
    assert updating["DesiredServerlessConfig"] == {
        "MemorySizeInMB": 2048,
        "MaxConcurrency": 20,
        "ProvisionedConcurrency": 4,
    }
    aws_clock.advance(TEST_DELAYS.capacity)
    [done] = sagemaker.describe_endpoint(EndpointName=serverless_endpoint)["ProductionVariants"]
    assert done["CurrentServerlessConfig"] == updating["DesiredServerlessConfig"]
    assert status(sagemaker, serverless_endpoint) == "InService"


@pytest.mark.parametrize(
    ("endpoint", "desired", "expected"),
    [
        ("ab", {"VariantName": "Z", "DesiredWeight": 1}, 'The variant name(s) "Z" is/are not present'),
        ("spiky", {"VariantName": "Only", "DesiredInstanceCount": 2}, "Variant Only is serverless"),
        ("ab", {"VariantName": "A", "ServerlessUpdateConfig": {"MaxConcurrency": 5}}, "Variant A is instance-based"),
        ("spiky", {"VariantName": "Only", "ServerlessUpdateConfig": {"ProvisionedConcurrency": 3}},
         "ProvisionedConcurrency (3) must be less than or equal to MaxConcurrency (2)"),
        ("spiky", {"VariantName": "Only", "ServerlessUpdateConfig": {"MaxConcurrency": 201}},
         "Value '201' at 'serverlessUpdateConfig.maxConcurrency'"),
    ],
    ids=["unknown-variant", "count-of-serverless", "serverless-of-instances", "provisioned-above-max", "max-above-200"],
)  # fmt: skip
@pytest.mark.usefixtures("ab_endpoint", "serverless_endpoint")
def test_weights_and_capacities_refuses_what_does_not_apply_to_the_variant(
    sagemaker: Any, endpoint: str, desired: dict[str, Any], expected: str
) -> None:
    """botocore sagemaker DesiredWeightAndCapacity: DesiredInstanceCount for instance variants, ServerlessUpdateConfig
    for serverless ones, within ProductionVariantServerlessUpdateConfig's ranges; only the endpoint's variants."""
    refused = client_error(
        lambda: sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=endpoint, DesiredWeightsAndCapacities=[desired]
        )
    )

    assert code_of(refused) == "ValidationException"
    assert expected in message_of(refused)
    assert status(sagemaker, endpoint) == "InService"


# UpdateEndpoint


def test_retained_variant_properties_keep_live_weights_and_counts_unless_excluded(
    sagemaker: Any, aws_clock: ManualClock, ab_endpoint: str
) -> None:
    """botocore sagemaker UpdateEndpointInput.RetainAllVariantProperties and ExcludeRetainedVariantProperties
    (VariantProperty): variants in both configs keep their live count and weight; a new variant takes its config's."""
    for change in ({"DesiredWeight": 5}, {"DesiredInstanceCount": 4}):
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=ab_endpoint, DesiredWeightsAndCapacities=[{"VariantName": "A", **change}]
        )
        aws_clock.advance(TEST_DELAYS.capacity)
    model(sagemaker, "model-d")
    production = [
        instance_variant("A", "model-a", weight=1, count=1),
        instance_variant("B", "model-b", weight=1, count=1),
        instance_variant("D", "model-d", weight=7, count=2),
    ]
    config(sagemaker, "ab-v2", production)

    sagemaker.update_endpoint(EndpointName=ab_endpoint, EndpointConfigName="ab-v2", RetainAllVariantProperties=True)
    aws_clock.advance(TEST_DELAYS.update)
    retained = variants_by_name(sagemaker.describe_endpoint(EndpointName=ab_endpoint))
    sagemaker.update_endpoint(
        EndpointName=ab_endpoint,
        EndpointConfigName="ab-v2",
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredWeight"}],
    )
    aws_clock.advance(TEST_DELAYS.update)
    counts_kept = variants_by_name(sagemaker.describe_endpoint(EndpointName=ab_endpoint))

    assert {name: (v["CurrentWeight"], v["CurrentInstanceCount"]) for name, v in retained.items()} == {
        "A": (5.0, 4),
        "B": (1.0, 1),
        "D": (7.0, 2),
    }
    assert {name: (v["CurrentWeight"], v["CurrentInstanceCount"]) for name, v in counts_kept.items()} == {
        "A": (1.0, 4),
        "B": (1.0, 1),
        "D": (7.0, 2),
    }


ROLLING = {
    "RollingUpdatePolicy": {
        "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
        "WaitIntervalInSeconds": 0,
    }
}
CANARY = {
    "BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {
            "Type": "CANARY",
            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
            "WaitIntervalInSeconds": 0,
        }
    }
}


def test_a_rolling_deployment_is_refused_for_serverless_and_multi_variant_endpoints(
    sagemaker: Any, aws_clock: ManualClock, ab_endpoint: str, shadow_endpoint: str, serverless_endpoint: str
) -> None:
    """Developer guide, deployment guardrails exclusions: rolling deployments exclude serverless and multi-variant
    endpoints (a shadow variant counts as a variant); a blue/green one of a serverless endpoint is accepted."""
    model(sagemaker, "spiky-model-v2", NEW_IMAGE)
    model(sagemaker, "live-v2", NEW_IMAGE)
    model(sagemaker, "model-a2", NEW_IMAGE)
    new_configs = {
        serverless_endpoint: config(sagemaker, "spiky-v2", [serverless_variant("Only", "spiky-model-v2")]),
        shadow_endpoint: config(
            sagemaker,
            "mirror-v2",
            [instance_variant("Live", "live-v2")],
            [instance_variant("Candidate", "candidate", weight=0.5)],
        ),
        ab_endpoint: config(
            sagemaker,
            "ab-v2",
            [instance_variant("A", "model-a2"), instance_variant("B", "model-b"), instance_variant("C", "model-c")],
        ),
    }

    for endpoint, new_config in new_configs.items():
        refused = client_error(
            lambda endpoint=endpoint, new_config=new_config: sagemaker.update_endpoint(
                EndpointName=endpoint, EndpointConfigName=new_config, DeploymentConfig=ROLLING
            )
        )
        assert code_of(refused) == "ValidationException", endpoint
        assert "rolling deployment is not supported for serverless or multi-variant" in message_of(refused)
        assert status(sagemaker, endpoint) == "InService"
    for endpoint, new_config in new_configs.items():
        sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=new_config, DeploymentConfig=CANARY)
    aws_clock.advance(TEST_DELAYS.update)
    for endpoint, new_config in new_configs.items():
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
        assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", new_config)


def test_guardrails_need_the_same_production_and_shadow_variants(
    sagemaker: Any, aws_clock: ManualClock, shadow_endpoint: str
) -> None:
    """Developer guide, deployment guardrails exclusions: "your new endpoint configuration must have the same variant
    name as the old endpoint configuration"; a variant added or removed goes without a DeploymentConfig."""
    promoted = config(sagemaker, "mirror-promoted", [instance_variant("Candidate", "candidate")])
    renamed = config(
        sagemaker, "mirror-renamed", [instance_variant("Live", "live")], [instance_variant("Next", "candidate")]
    )

    for new_config in (promoted, renamed):
        refused = client_error(
            lambda new_config=new_config: sagemaker.update_endpoint(
                EndpointName=shadow_endpoint, EndpointConfigName=new_config, DeploymentConfig=CANARY
            )
        )
        assert code_of(refused) == "ValidationException"
        assert "must be the same as those of the current one ['Live'] with shadow ['Candidate']" in message_of(refused)
    sagemaker.update_endpoint(EndpointName=shadow_endpoint, EndpointConfigName=promoted)
    aws_clock.advance(TEST_DELAYS.update)
    described = sagemaker.describe_endpoint(EndpointName=shadow_endpoint)
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["Candidate"]
    assert "ShadowProductionVariants" not in described


def test_an_instance_endpoint_cannot_become_serverless_but_a_serverless_one_can_get_instances(
    sagemaker: Any, aws_clock: ManualClock, ab_endpoint: str, serverless_endpoint: str
) -> None:
    """Developer guide, update a serverless endpoint: "Updating a real-time inference endpoint to an on-demand
    serverless endpoint or serverless endpoint with provisioned concurrency is currently not supported"."""
    to_serverless = config(sagemaker, "ab-serverless", [serverless_variant("A", "model-a")])
    to_instances = config(sagemaker, "spiky-instances", [instance_variant("Only", "spiky-model")])

    refused = client_error(
        lambda: sagemaker.update_endpoint(EndpointName=ab_endpoint, EndpointConfigName=to_serverless)
    )

    assert code_of(refused) == "ValidationException"
    assert "cannot be updated to a serverless endpoint configuration" in message_of(refused)
    sagemaker.update_endpoint(EndpointName=serverless_endpoint, EndpointConfigName=to_instances)
    aws_clock.advance(TEST_DELAYS.update)
    [only] = sagemaker.describe_endpoint(EndpointName=serverless_endpoint)["ProductionVariants"]
    assert (only["CurrentInstanceCount"], "CurrentServerlessConfig" in only) == (1, False)


# InvokeEndpoint


@pytest.mark.usefixtures("ab_endpoint")
def test_invocations_are_shared_by_current_weight_and_a_variant_of_weight_zero_gets_none(
    aws_emulator: AwsEmulator,
    sagemaker: Any,
    runtime: Any,
    aws_clock: ManualClock,
    servers: dict[str, ModelServer],
) -> None:
    """botocore sagemaker ProductionVariant.InitialVariantWeight (traffic by the ratio of the weights) and
    sagemaker-runtime InvokeEndpointOutput.InvokedProductionVariant; the weights in force are the current ones."""
    for variant in "ABC":
        aws_emulator.sagemaker.route_invocations(AB, servers[variant].url, variant=variant)
    requests = 400

    answered = Counter(
        runtime.invoke_endpoint(EndpointName=AB, Body=b"1", ContentType="text/csv")["InvokedProductionVariant"]
        for _ in range(requests)
    )

    received = {variant: servers[variant].invocations for variant in "ABC"}
    assert answered == {variant: count for variant, count in received.items() if count}
    assert received["C"] == 0
    assert received["A"] + received["B"] == requests
    assert abs(received["A"] - requests * 3 / 4) < 5 * (requests * 3 / 16) ** 0.5  # five standard deviations
    traffic = aws_emulator.sagemaker.traffic(AB)
    assert {variant: traffic[variant].invocations for variant in traffic} == {"A": received["A"], "B": received["B"]}
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=AB,
        DesiredWeightsAndCapacities=[
            {"VariantName": "A", "DesiredWeight": 0},
            {"VariantName": "C", "DesiredWeight": 1},
        ],
    )
    during = {runtime.invoke_endpoint(EndpointName=AB, Body=b"1")["InvokedProductionVariant"] for _ in range(20)}
    aws_clock.advance(TEST_DELAYS.capacity)
    after = {runtime.invoke_endpoint(EndpointName=AB, Body=b"1")["InvokedProductionVariant"] for _ in range(40)}
    assert "A" in during  # the current weights until the update is done
    assert during <= {"A", "B"}
    assert after == {"B", "C"}  # each has half the traffic: both answer 40 requests all but surely


def test_a_target_variant_answers_whatever_its_weight_and_only_production_variants_can_be_targeted(
    aws_emulator: AwsEmulator,
    runtime: Any,
    ab_endpoint: str,
    shadow_endpoint: str,
    servers: dict[str, ModelServer],
) -> None:
    """botocore sagemaker-runtime InvokeEndpointInput.TargetVariant ("the production variant to send the inference
    request to"); a name that is no production variant is refused with ValidationError (sagemaker-runtime)."""
    aws_emulator.sagemaker.route_invocations(ab_endpoint, servers["C"].url, variant="C")

    answer = runtime.invoke_endpoint(EndpointName=ab_endpoint, Body=b"for C", TargetVariant="C")
    unknown = client_error(lambda: runtime.invoke_endpoint(EndpointName=ab_endpoint, Body=b"1", TargetVariant="Z"))
    shadow = client_error(
        lambda: runtime.invoke_endpoint(EndpointName=shadow_endpoint, Body=b"1", TargetVariant="Candidate")
    )

    assert (answer["InvokedProductionVariant"], answer["Body"].read()) == ("C", b"for C")
    assert servers["C"].bodies == Counter({b"for C": 1})
    for refused in (unknown, shadow):
        assert code_of(refused) == "ValidationError"
        assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Target variant Z is not a production variant of endpoint ab" in message_of(unknown)
    assert "Target variant Candidate is not a production variant of endpoint mirror" in message_of(shadow)


@pytest.mark.usefixtures("shadow_endpoint")
def test_a_share_of_requests_is_copied_to_the_shadow_whose_answers_are_never_returned(
    aws_emulator: AwsEmulator,
    sagemaker: Any,
    runtime: Any,
    aws_clock: ManualClock,
    servers: dict[str, ModelServer],
) -> None:
    """Developer guide, create a shadow test: the shadow variant "receives a percentage of the incoming requests,
    replicated from the production variant, but does not return any responses"; the share is the shadow's weight
    relative to the production variant's (the emulator's reading of the traffic sampling percentage)."""
    aws_emulator.sagemaker.route_invocations(MIRROR, servers["Live"].url, variant="Live")
    aws_emulator.sagemaker.route_invocations(MIRROR, servers["Candidate"].url, variant="Candidate")
    # The shadow answers in 2 s: a caller that waited for it would take as long, far beyond what a busy machine adds.
    servers["Candidate"].latency = Fixed(2000.0)
    servers["Candidate"].errors = {500: 1.0}  # the shadow fails every request: callers must not notice
    requests = 100

    slowest = 0.0
    for index in range(requests):
        started = time.perf_counter()
        answer = runtime.invoke_endpoint(EndpointName=MIRROR, Body=str(index).encode())
        slowest = max(slowest, time.perf_counter() - started)
        assert (answer["InvokedProductionVariant"], answer["Body"].read()) == ("Live", str(index).encode())
    aws_emulator.sagemaker.wait_for_shadow_copies()

    copies = servers["Candidate"].invocations
    assert servers["Live"].invocations == requests
    assert abs(copies - requests / 2) < 5 * (requests / 4) ** 0.5
    assert set(servers["Candidate"].bodies) <= set(servers["Live"].bodies)  # copies of the caller's requests
    assert aws_emulator.sagemaker.traffic(MIRROR)["Candidate"].invocations == copies
    assert slowest < 2.0  # the shadow's 2 s never delay the caller
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=MIRROR, DesiredWeightsAndCapacities=[{"VariantName": "Candidate", "DesiredWeight": 0}]
    )
    aws_clock.advance(TEST_DELAYS.capacity)
    for _ in range(50):
        runtime.invoke_endpoint(EndpointName=MIRROR, Body=b"after")
    aws_emulator.sagemaker.wait_for_shadow_copies()
    assert servers["Candidate"].invocations == copies  # weight 0: nothing copied any more


# Serverless data plane


@pytest.mark.usefixtures("serverless_endpoint")
def test_a_serverless_variant_starts_cold_when_new_after_an_update_and_after_idling(
    aws_emulator: AwsEmulator,
    sagemaker: Any,
    runtime: Any,
    aws_clock: ManualClock,
    servers: dict[str, ModelServer],
) -> None:
    """Developer guide, serverless endpoints, cold starts (ModelSetupTime), and update a serverless endpoint ("you
    can experience cold starts ... because SageMaker AI must re-initialize your container and model")."""
    delays = replace(TEST_DELAYS, serverless_cold_start=0.4, serverless_idle=60.0)
    aws_emulator.sagemaker.delays = delays
    aws_emulator.sagemaker.route_invocations(SPIKY, servers["Only"].url)

    def invoke() -> float:
        started = time.perf_counter()
        runtime.invoke_endpoint(EndpointName=SPIKY, Body=b"1")
        return time.perf_counter() - started

    def cold_starts() -> int:
        return aws_emulator.sagemaker.traffic(SPIKY)["Only"].cold_starts

    first = invoke()
    assert (cold_starts(), first >= delays.serverless_cold_start) == (1, True)
    invoke()
    aws_clock.advance(delays.serverless_idle - 1)
    invoke()
    assert cold_starts() == 1  # warm: never idle for serverless_idle
    aws_clock.advance(delays.serverless_idle)
    assert invoke() >= delays.serverless_cold_start
    assert cold_starts() == 2
    config(sagemaker, "spiky-v2", [serverless_variant("Only", "spiky-model", max_concurrency=3)])
    sagemaker.update_endpoint(EndpointName=SPIKY, EndpointConfigName="spiky-v2")
    invoke()  # the old fleet serves, warm, while the update runs
    assert cold_starts() == 2
    aws_clock.advance(TEST_DELAYS.update)
    invoke()
    assert cold_starts() == 3
    assert servers["Only"].invocations == 6


def test_provisioned_concurrency_is_warm_however_long_the_variant_was_idle(
    aws_emulator: AwsEmulator, sagemaker: Any, runtime: Any, aws_clock: ManualClock, servers: dict[str, ModelServer]
) -> None:
    """Developer guide, serverless endpoints: with Provisioned Concurrency "the compute resources are initialized and
    ready to respond within milliseconds"; beyond it, requests start cold as on demand."""
    model(sagemaker, "steady-model")
    name = config(sagemaker, "steady-v1", [serverless_variant("Only", "steady-model", provisioned=1)])
    endpoint = in_service(sagemaker, aws_clock, "steady", name)
    aws_emulator.sagemaker.route_invocations(endpoint, servers["Only"].url)

    runtime.invoke_endpoint(EndpointName=endpoint, Body=b"1")
    aws_clock.advance(3600)
    runtime.invoke_endpoint(EndpointName=endpoint, Body=b"1")
    assert aws_emulator.sagemaker.traffic(endpoint)["Only"].cold_starts == 0
    servers["Only"].stall(3)  # the next two requests are in flight together
    concurrent(lambda: runtime.invoke_endpoint(EndpointName=endpoint, Body=b"2"), 2)
    assert aws_emulator.sagemaker.traffic(endpoint)["Only"].cold_starts == 1  # the one beyond the provisioned one


def test_requests_beyond_max_concurrency_are_throttled(
    aws_emulator: AwsEmulator, runtime: Any, serverless_endpoint: str, servers: dict[str, ModelServer]
) -> None:
    """Developer guide, serverless endpoints, concurrent invocations ("invocations beyond the maximum are
    throttled") and API reference common errors (ThrottlingException, HTTP 400)."""
    aws_emulator.sagemaker.delays = replace(TEST_DELAYS, serverless_cold_start=0.0)
    aws_emulator.sagemaker.route_invocations(serverless_endpoint, servers["Only"].url)
    servers["Only"].stall(3)  # hold every answer: the two requests of MaxConcurrency stay in flight
    in_flight = threading.Thread(
        target=concurrent, args=(lambda: runtime.invoke_endpoint(EndpointName=serverless_endpoint, Body=b"1"), 2)
    )
    in_flight.start()
    deadline = time.monotonic() + 3
    while servers["Only"].invocations < 2 and time.monotonic() < deadline:
        time.sleep(0.01)

    throttled = client_error(lambda: runtime.invoke_endpoint(EndpointName=serverless_endpoint, Body=b"3"))

    assert code_of(throttled) == "ThrottlingException"
    assert throttled.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "MaxConcurrency of 2" in message_of(throttled)
    in_flight.join(30)
    runtime.invoke_endpoint(EndpointName=serverless_endpoint, Body=b"4")
    traffic = aws_emulator.sagemaker.traffic(serverless_endpoint)["Only"]
    assert (traffic.invocations, traffic.throttled, servers["Only"].invocations) == (3, 1, 3)
