"""The rules SageMaker applies to an endpoint's variants: production and shadow variants, instance-backed or
serverless, in CreateEndpointConfig, UpdateEndpoint and UpdateEndpointWeightsAndCapacities.

botocore checks a request's shape before it leaves the client (required members, types, the minimum of numbers and
list lengths); what is checked here is what only the service checks. Refusals are ``ValidationException`` as
SageMaker answers them; a limit of the service model is refused in AWS's constraint-violation shape ("1 validation
error detected: Value ... at '...' failed to satisfy constraint: ..."), other texts are this emulator's own where
SageMaker's are not documented.

- **Variant lists** (botocore sagemaker CreateEndpointConfigInput.ProductionVariants, ProductionVariantList): 1 to 10
  production variants. ``ShadowProductionVariants``: "If you use this field, you can only specify one variant for
  ProductionVariants and one variant for ShadowProductionVariants"
  (botocore sagemaker CreateEndpointConfigInput.ShadowProductionVariants); "SageMaker supports a maximum of one shadow
  variant per endpoint. For an endpoint with a shadow variant, there can be a maximum of one production variant"
  (https://docs.aws.amazon.com/sagemaker/latest/dg/shadow-tests-create.html). Variant names are unique across both
  lists: DescribeEndpoint, UpdateEndpointWeightsAndCapacities and InvokeEndpoint's TargetVariant name a variant by its
  name alone (botocore sagemaker DesiredWeightAndCapacity.VariantName).
- **Instance or serverless** (botocore sagemaker ProductionVariant.ServerlessConfig: "Specifies a serverless endpoint
  configuration instead of an instance-based endpoint configuration"): a variant has ``InstanceType`` with
  ``InitialInstanceCount``, or ``ServerlessConfig``, never both, never neither. Instance types are those of
  botocore sagemaker ProductionVariantInstanceType. ``InitialVariantWeight`` defaults to 1.0
  (botocore sagemaker ProductionVariant.InitialVariantWeight), which DescribeEndpointConfig echoes.
- **ServerlessConfig** (botocore sagemaker ProductionVariantServerlessConfig,
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html):
  ``MemorySizeInMB`` one of 1024, 2048, 3072, 4096, 5120, 6144; ``MaxConcurrency`` 1-200; ``ProvisionedConcurrency``
  1-200 and at most ``MaxConcurrency``.
- **Serverless feature exclusions**: "Some of the features currently available for SageMaker AI Real-time Inference
  are not supported for Serverless Inference, including GPUs, AWS marketplace model packages, private Docker
  registries, Multi-Model Endpoints, VPC configuration, network isolation, data capture, multiple production
  variants, Model Monitor, and inference pipelines"
  (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-exclusions).
  A config with a serverless variant is refused if it has another production variant or a shadow variant (the
  emulator counts a shadow variant among the "multiple production variants": it is a ProductionVariant of the
  config), a ``VpcConfig``, ``EnableNetworkIsolation`` or ``DataCaptureConfig``; or if the serverless variant's model
  has a ``VpcConfig``, network isolation, several containers (an inference pipeline), a container in ``MultiModel``
  mode, a Marketplace ``ModelPackageName`` or an image from a private registry (``ImageConfig.RepositoryAccessMode``
  ``Vpc``). AWS does not document whether it refuses these at CreateEndpointConfig or at CreateEndpoint; the emulator
  refuses them at CreateEndpointConfig, the first call that sees both the config and its models. GPUs and Model
  Monitor are not a serverless variant's settings (it has no instance type; monitoring schedules are not modelled).
- **No conversion to serverless**: "Updating a real-time inference endpoint to an on-demand serverless endpoint or
  serverless endpoint with provisioned concurrency is currently not supported"
  (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-update.html); the other way is allowed.
- **RetainAllVariantProperties** keeps, for each variant of the new config that the endpoint already has, its live
  desired instance count and weight, unless ``ExcludeRetainedVariantProperties`` names ``DesiredInstanceCount`` or
  ``DesiredWeight`` (botocore sagemaker UpdateEndpointInput.RetainAllVariantProperties,
  botocore sagemaker VariantProperty); a new variant takes the config's values. A serverless variant keeps the new
  config's ServerlessConfig: VariantProperty names no serverless property.
- **UpdateEndpointWeightsAndCapacities** (botocore sagemaker DesiredWeightAndCapacity): each named variant,
  production or shadow, exists once in the request; ``DesiredInstanceCount`` applies to an instance-backed variant
  and ``ServerlessUpdateConfig`` (``MaxConcurrency``, ``ProvisionedConcurrency``:
  botocore sagemaker ProductionVariantServerlessUpdateConfig, within the same ranges, provisioned at most the maximum)
  to a serverless one; the emulator refuses the other combinations, which SageMaker does not document.
  One call "Updates variant weight of one or more variants associated with an existing endpoint, or capacity of one
  variant associated with an existing endpoint"
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpointWeightsAndCapacities.html). The
  emulator takes the strict reading: a request sets either ``DesiredWeight`` of any number of variants, or the
  capacity (``DesiredInstanceCount`` or ``ServerlessUpdateConfig``) of exactly one variant; capacities of two
  variants, or weights beside a capacity (even the same variant's), are refused
  (:func:`require_weights_or_one_capacity`). Whether SageMaker accepts a weight beside one variant's capacity is
  documented nowhere else: botocore's shape lets an entry carry every member, the A/B testing guide's calls change
  weights alone (https://docs.aws.amazon.com/sagemaker/latest/dg/model-ab-testing.html), a scaling activity changes
  one variant's capacity alone, and the threads of other controllers and of moto on this call
  (aws-controllers-k8s/community#1875, getmoto/moto#5082) do not say. The strict reading is the safe one: an
  emulator more permissive than SageMaker would hide a refusal, a stricter one costs the operator only a call more.
  The refusal's text is the emulator's own, in the shape of SageMaker's validation messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, Final

import botocore.session

from lowlatency.emulators.aws.endpoint_state import ServerlessConfig, Variant
from lowlatency.emulators.aws.gateway import ServiceError, validation_error

MAX_PRODUCTION_VARIANTS: Final = 10
SERVERLESS_MEMORY_SIZES: Final = (1024, 2048, 3072, 4096, 5120, 6144)
MAX_SERVERLESS_CONCURRENCY: Final = 200
DEFAULT_WEIGHT: Final = 1.0
INSTANCE_FIELDS: Final = ("InstanceType", "InitialInstanceCount")
# Config members that a serverless variant cannot have (the serverless feature exclusions above).
SERVERLESS_EXCLUDED_CONFIG: Final = {
    "VpcConfig": "VPC configuration",
    "EnableNetworkIsolation": "network isolation",
    "DataCaptureConfig": "data capture",
}


def _instance_types() -> frozenset[str]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(model.shape_for("ProductionVariantInstanceType").metadata["enum"])


INSTANCE_TYPES: Final = _instance_types()


def constraint_violation(value: object, member: str, constraint: str) -> ServiceError:
    """AWS's answer to a value outside a limit of its service model."""
    return validation_error(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    )


def require_instance_type(instance_type: str) -> None:
    if instance_type not in INSTANCE_TYPES:
        raise constraint_violation(
            instance_type,
            "instanceType",
            f"Member must satisfy enum value set: [{', '.join(sorted(INSTANCE_TYPES))}]",
        )


def validate_endpoint_config(params: Mapping[str, Any], models: Mapping[str, Any]) -> None:
    """CreateEndpointConfig's rules on its variants (the module's docstring); ``models``: the region's models."""
    production = list(params["ProductionVariants"])
    shadows = list(params.get("ShadowProductionVariants") or [])
    if len(production) > MAX_PRODUCTION_VARIANTS:
        raise constraint_violation(
            [variant.get("VariantName") for variant in production],
            "productionVariants",
            f"Member must have length less than or equal to {MAX_PRODUCTION_VARIANTS}",
        )
    if shadows and (len(production) != 1 or len(shadows) != 1):
        raise validation_error(
            f"An endpoint configuration with ShadowProductionVariants must have exactly one production variant and "
            f"one shadow variant; got {len(production)} production and {len(shadows)} shadow variants."
        )
    names = [str(variant["VariantName"]) for variant in production + shadows]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise validation_error(f"Variant names must be unique within an endpoint configuration: {repeated} repeated.")
    for variant in production + shadows:
        _validate_hosting(variant)
    serverless = [variant for variant in production + shadows if "ServerlessConfig" in variant]
    if serverless:
        _refuse_serverless_exclusions(params, serverless[0], len(production) + len(shadows), models)


def _validate_hosting(variant: Mapping[str, Any]) -> None:
    name = variant["VariantName"]
    instance_fields = [field for field in INSTANCE_FIELDS if field in variant]
    if "ServerlessConfig" in variant:
        if instance_fields:
            raise validation_error(
                f"Variant {name} sets both ServerlessConfig and {', '.join(instance_fields)}: a variant is either "
                "serverless or instance-based."
            )
        validate_serverless_config(ServerlessConfig.parse(variant["ServerlessConfig"]), "serverlessConfig")
        return
    if len(instance_fields) != len(INSTANCE_FIELDS):
        raise validation_error(
            f"Variant {name} must set either ServerlessConfig, or InstanceType and InitialInstanceCount."
        )
    require_instance_type(str(variant["InstanceType"]))


def validate_serverless_config(config: ServerlessConfig, member: str) -> None:
    if config.memory_size_in_mb not in SERVERLESS_MEMORY_SIZES:
        raise constraint_violation(
            config.memory_size_in_mb,
            f"{member}.memorySizeInMB",
            f"Member must satisfy enum value set: {list(SERVERLESS_MEMORY_SIZES)}",
        )
    _concurrency_within_range(config.max_concurrency, f"{member}.maxConcurrency")
    if config.provisioned_concurrency is not None:
        _concurrency_within_range(config.provisioned_concurrency, f"{member}.provisionedConcurrency")
        if config.provisioned_concurrency > config.max_concurrency:
            raise validation_error(
                f"ProvisionedConcurrency ({config.provisioned_concurrency}) must be less than or equal to "
                f"MaxConcurrency ({config.max_concurrency})."
            )


def _concurrency_within_range(value: int, member: str) -> None:
    if not 1 <= value <= MAX_SERVERLESS_CONCURRENCY:
        constraint = (
            "Member must have value greater than or equal to 1"
            if value < 1
            else f"Member must have value less than or equal to {MAX_SERVERLESS_CONCURRENCY}"
        )
        raise constraint_violation(value, member, constraint)


def _refuse_serverless_exclusions(
    params: Mapping[str, Any], serverless: Mapping[str, Any], variant_count: int, models: Mapping[str, Any]
) -> None:
    name = serverless["VariantName"]
    excluded = [feature for member, feature in SERVERLESS_EXCLUDED_CONFIG.items() if params.get(member)]
    if variant_count > 1:
        excluded.append("multiple production variants (including shadow variants)")
    model = models.get(str(serverless.get("ModelName")))
    if model is not None:
        excluded += _serverless_exclusions_of_model(model)
    if excluded:
        raise validation_error(
            f"Serverless variant {name} cannot be used with {', '.join(excluded)}: these features are not supported "
            "for Serverless Inference."
        )


def _serverless_exclusions_of_model(model: Any) -> list[str]:
    """What a model (moto's, with the members of CreateModel) has that a serverless variant cannot host."""
    containers = list(model.containers or []) or [model.primary_container or {}]
    excluded = []
    if model.vpc_config:
        excluded.append(f"model {model.model_name}'s VPC configuration")
    if model.enable_network_isolation:
        excluded.append(f"model {model.model_name}'s network isolation")
    if len(containers) > 1:
        excluded.append(f"model {model.model_name}'s inference pipeline")
    for container in containers:
        if container.get("Mode") == "MultiModel":
            excluded.append(f"model {model.model_name}'s multi-model container")
        if container.get("ModelPackageName"):
            excluded.append(f"model {model.model_name}'s model package")
        if container.get("ImageConfig", {}).get("RepositoryAccessMode") == "Vpc":
            excluded.append(f"model {model.model_name}'s private Docker registry")
    return excluded


def with_default_weights(variants: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The variants as DescribeEndpointConfig echoes them: InitialVariantWeight 1.0 where none was given."""
    return [{"InitialVariantWeight": DEFAULT_WEIGHT, **variant} for variant in variants]


def variant_from_config(entry: Mapping[str, Any], image: str | None, *, shadow: bool) -> Variant:
    """A variant as a new fleet deploys it from its config: weight, count or serverless config as configured."""
    weight = float(entry.get("InitialVariantWeight", DEFAULT_WEIGHT))
    serverless = ServerlessConfig.parse(entry["ServerlessConfig"]) if "ServerlessConfig" in entry else None
    count = int(entry.get("InitialInstanceCount", 0))
    return Variant(
        name=str(entry["VariantName"]),
        model_name=str(entry["ModelName"]),
        instance_type=entry.get("InstanceType"),
        image=image,
        current_count=count,
        desired_count=count,
        current_weight=weight,
        desired_weight=weight,
        shadow=shadow,
        current_serverless=serverless,
        desired_serverless=serverless,
    )


def require_no_conversion_to_serverless(endpoint_arn: str, live: list[Variant], new: list[Variant]) -> None:
    if any(variant.desired_serverless is None for variant in live) and any(
        variant.desired_serverless is not None for variant in new
    ):
        raise validation_error(
            f'Endpoint "{endpoint_arn}" is instance-based and cannot be updated to a serverless endpoint '
            "configuration: updating a real-time endpoint to serverless is not supported."
        )


def retain_live_properties(new: list[Variant], live: list[Variant], excluded: set[str]) -> list[Variant]:
    """The new config's variants with the live properties that RetainAllVariantProperties keeps."""
    live_by_name = {variant.name: variant for variant in live}
    retained = []
    for variant in new:
        kept = live_by_name.get(variant.name)
        changed = variant
        if kept is not None and "DesiredWeight" not in excluded:
            changed = replace(changed, current_weight=kept.desired_weight, desired_weight=kept.desired_weight)
        both_instances = kept is not None and kept.instance_type is not None and variant.instance_type is not None
        if kept is not None and both_instances and "DesiredInstanceCount" not in excluded:
            changed = replace(changed, current_count=kept.desired_count, desired_count=kept.desired_count)
        retained.append(changed)
    return retained


CAPACITY_MEMBERS: Final = ("DesiredInstanceCount", "ServerlessUpdateConfig")


def require_weights_or_one_capacity(entries: Iterable[Mapping[str, Any]]) -> None:
    """UpdateEndpointWeightsAndCapacities changes weights, or the capacity of one variant (the module's docstring)."""
    desired = list(entries)
    scaled = [str(entry["VariantName"]) for entry in desired if any(member in entry for member in CAPACITY_MEMBERS)]
    weighted = [str(entry["VariantName"]) for entry in desired if "DesiredWeight" in entry]
    if len(scaled) > 1:
        raise validation_error(
            f"UpdateEndpointWeightsAndCapacities can update the capacity of only one variant per request; the request "
            f"sets the capacity of variants {scaled}."
        )
    if scaled and weighted:
        raise validation_error(
            f"UpdateEndpointWeightsAndCapacities updates either the weights of variants or the capacity of one "
            f"variant; the request sets the weight of {weighted} and the capacity of {scaled}."
        )


def apply_desired(variant: Variant, desired: Mapping[str, Any]) -> Variant:
    """A variant with one DesiredWeightAndCapacity of UpdateEndpointWeightsAndCapacities applied."""
    changed = variant
    if "DesiredWeight" in desired:
        changed = replace(changed, desired_weight=float(desired["DesiredWeight"]))
    if "DesiredInstanceCount" in desired:
        if variant.desired_serverless is not None:
            raise validation_error(
                f"Variant {variant.name} is serverless: DesiredInstanceCount applies to instance-based variants; "
                "use ServerlessUpdateConfig."
            )
        changed = replace(changed, desired_count=int(desired["DesiredInstanceCount"]))
    if "ServerlessUpdateConfig" in desired:
        if variant.desired_serverless is None:
            raise validation_error(
                f"Variant {variant.name} is instance-based: ServerlessUpdateConfig applies to serverless variants."
            )
        update = desired["ServerlessUpdateConfig"]
        serverless = replace(
            variant.desired_serverless,
            max_concurrency=int(update.get("MaxConcurrency", variant.desired_serverless.max_concurrency)),
            provisioned_concurrency=update.get(
                "ProvisionedConcurrency", variant.desired_serverless.provisioned_concurrency
            ),
        )
        validate_serverless_config(serverless, "serverlessUpdateConfig")
        changed = replace(changed, desired_serverless=serverless)
    return changed
