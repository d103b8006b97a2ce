"""Application Auto Scaling for SageMaker variants: moto's backend, with the rules the real service enforces.

What real Application Auto Scaling does, and what moto lacks that is added here:

- **RegisterScalableTarget** creates or updates the target (``endpoint/<name>/variant/<variant>``,
  ``sagemaker:variant:DesiredInstanceCount``). A minimum above the maximum is a ``ValidationException``. When the
  variant's live count lies outside the new range, the service scales it into the range: a scaling activity, which
  makes the endpoint ``Updating`` until the count is reached, as every scaling activity does (:mod:`.sagemaker`).
  An endpoint that is not ``InService`` cannot be registered: auto scaling "is blocked while the update operation is
  in progress" (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html), and the service
  answers ``ValidationException`` with "The status should be in 'InService' to register it as a scalable target"
  (the phrase AWS's earlier SageMaker operator for Kubernetes matches; the rest of the text is this emulator's own).
- **DeregisterScalableTarget** also deletes the target's scaling policies and scheduled actions. Deregistering a
  target that is not registered answers ``ObjectNotFoundException``, as do DeleteScalingPolicy and
  DeleteScheduledAction for what does not exist.
- **PutScalingPolicy** and **PutScheduledAction** need a registered target: otherwise ``ObjectNotFoundException``
  ("No scalable target registered for ..."). A target just registered may not be seen yet: "there might be a brief
  delay until the operation achieves eventual consistency"
  (https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html); with
  ``Delays.target_visibility`` the two answer so for that long after the registration that created the target.
- Target tracking on ``SageMakerVariantInvocationsPerInstance``, DescribeScalableTargets/ScalingPolicies/
  ScheduledActions: moto's shapes are the service's.
- The rule that an UpdateEndpoint may not change the instance type of a registered variant is enforced where
  SageMaker sees it (:mod:`.sagemaker`), as is the deregistration that follows DeleteEndpoint: "Application Auto
  Scaling deregisters those models as scalable targets"
  (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-delete-with-scaling.html), each of its dimensions
  (:func:`forget_scalable_target`).

Provisioned concurrency of serverless variants: the scalable dimension
``sagemaker:variant:DesiredProvisionedConcurrency`` is "the provisioned concurrency for a SageMaker serverless endpoint"
(botocore application-autoscaling RegisterScalableTargetRequest.ScalableDimension); moto does not know it, and
:func:`extend_moto` adds it.

- Each SageMaker dimension is for one kind of variant, read from the endpoint's live config in moto's SageMaker
  backend (``ProductionVariants[].ServerlessConfig``). "Before you can use autoscaling, you must have already deployed
  a model to a serverless endpoint with Provisioned Concurrency"
  (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-autoscale.html): RegisterScalableTarget of
  DesiredProvisionedConcurrency for an instance-backed variant, or for a serverless variant without
  ``ProvisionedConcurrency``, is a ``ValidationException``; so is DesiredInstanceCount ("the number of EC2 instances
  for a SageMaker model endpoint variant", the same botocore documentation) for a serverless variant, which has no
  instances. AWS's texts for these refusals are not known: the code is AWS's, the messages are this emulator's own.
  A variant the backend does not know (no such endpoint) is not checked, as before.
- The registration's bounds: a minimum above the maximum is refused as for every target. AWS allows a minimum of 0
  for "SageMaker serverless endpoint provisioned concurrency"
  (botocore application-autoscaling RegisterScalableTargetRequest.MinCapacity), so 0 is accepted; AWS documents no
  bound of MaxCapacity by the variant's MaxConcurrency (the guide asks only for at least 1 and not under the
  minimum), so none is enforced.
- A target tracking policy's predefined metric must fit the dimension. For provisioned concurrency AWS answers
  "Scalable dimension sagemaker:variant:DesiredProvisionedConcurrency only supports the following predefined metric
  types: SageMakerVariantProvisionedConcurrencyUtilization" (HTTP 400, as reported in
  https://github.com/aws/aws-cdk/issues/29065; the code is taken to be ``ValidationException``, the error
  PutScalingPolicy declares for a bad request: botocore application-autoscaling ValidationException). For the
  instance count the predefined metrics are SageMakerVariantInvocationsPerInstance and
  SageMakerVariantConcurrentRequestsPerModelHighResolution
  (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-add-code-define.html); any other
  (botocore application-autoscaling PredefinedMetricSpecification.PredefinedMetricType) is refused with a message of
  the same shape, whose list of metrics is this emulator's. Customized metrics are not checked.
- Not modelled: a registration whose range leaves out the live provisioned concurrency does not move it (the
  variant's live serverless state is :mod:`.sagemaker`'s), and no scaling activity changes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, Literal

from moto.applicationautoscaling import models as moto_models
from moto.applicationautoscaling import responses as moto_responses
from moto.applicationautoscaling.models import FakeApplicationAutoscalingPolicy, applicationautoscaling_backends
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

from lowlatency.emulators.aws.gateway import ApiRequest, Gateway, PassThrough, Reply, ServiceError, json_reply

if TYPE_CHECKING:
    from lowlatency.emulators.aws.sagemaker import SageMakerEndpoints

SERVICE: Final = "application-autoscaling"
NAMESPACE: Final = "sagemaker"
SCALABLE_DIMENSION: Final = "sagemaker:variant:DesiredInstanceCount"
PROVISIONED_CONCURRENCY_DIMENSION: Final = "sagemaker:variant:DesiredProvisionedConcurrency"
VARIANT_DIMENSIONS: Final = (SCALABLE_DIMENSION, PROVISIONED_CONCURRENCY_DIMENSION)
PREDEFINED_METRICS: Final[Mapping[str, tuple[str, ...]]] = {
    SCALABLE_DIMENSION: (
        "SageMakerVariantInvocationsPerInstance",
        "SageMakerVariantConcurrentRequestsPerModelHighResolution",
    ),
    PROVISIONED_CONCURRENCY_DIMENSION: ("SageMakerVariantProvisionedConcurrencyUtilization",),
}
VariantKind = Literal["instance", "serverless", "provisioned-serverless"]
"""An instance-backed variant, a serverless one, and a serverless one with provisioned concurrency."""
DIMENSION_OF_KIND: Final[Mapping[str, VariantKind]] = {
    SCALABLE_DIMENSION: "instance",
    PROVISIONED_CONCURRENCY_DIMENSION: "provisioned-serverless",
}


def extend_moto() -> None:
    """Let moto's Application Auto Scaling take the provisioned concurrency of serverless variants: its responses and
    models check a scalable dimension against their own enum, which lacks it (idempotent)."""
    known = moto_models.ScalableDimensionValueSet
    if PROVISIONED_CONCURRENCY_DIMENSION in {member.value for member in known}:
        return
    members = {member.name: member.value for member in known}
    members["SAGEMAKER_VARIANT_DESIRED_PROVISIONED_CONCURRENCY"] = PROVISIONED_CONCURRENCY_DIMENSION
    extended = Enum("ScalableDimensionValueSet", members)  # type: ignore[misc]
    moto_models.ScalableDimensionValueSet = extended  # type: ignore[misc,assignment]
    moto_responses.ScalableDimensionValueSet = extended  # type: ignore[attr-defined,assignment]


def _backend(region: str) -> Any:
    return applicationautoscaling_backends[DEFAULT_ACCOUNT_ID][region]


def scalable_target(region: str, resource_id: str) -> Any:
    """A SageMaker variant's instance-count scalable target, or None if it is not registered."""
    return _backend(region).targets.get(SCALABLE_DIMENSION, {}).get(resource_id)


def forget_scalable_target(region: str, resource_id: str, dimension: str | None = None) -> None:
    """Deregister a target as the service does: its scaling policies and scheduled actions go with it. Without a
    dimension, every SageMaker variant dimension of the resource (what the deletion of its endpoint does)."""
    dimensions = VARIANT_DIMENSIONS if dimension is None else (dimension,)
    backend = _backend(region)
    for each in dimensions:
        backend.targets.get(each, {}).pop(resource_id, None)
    backend.policies = {
        key: policy
        for key, policy in backend.policies.items()
        if not (policy.resource_id == resource_id and policy.scalable_dimension in dimensions)
    }
    backend.scheduled_actions = [
        action
        for action in backend.scheduled_actions
        if not (action.resource_id == resource_id and action.scalable_dimension in dimensions)
    ]


def variant_kind(region: str, endpoint_name: str, variant_name: str) -> VariantKind | None:
    """What a variant of an endpoint runs on, by the endpoint's live config in moto's SageMaker backend; None when the
    backend knows no such endpoint, config or variant."""
    backend = sagemaker_backends[DEFAULT_ACCOUNT_ID][region]
    endpoint = backend.endpoints.get(endpoint_name)
    config = backend.endpoint_configs.get(endpoint.endpoint_config_name) if endpoint is not None else None
    variants = config.production_variants if config is not None else []
    variant = next((each for each in variants if each.get("VariantName") == variant_name), None)
    if variant is None:
        return None
    serverless = variant.get("ServerlessConfig")
    if not serverless:
        return "instance"
    return "provisioned-serverless" if serverless.get("ProvisionedConcurrency") else "serverless"


def _describe_target(params: Mapping[str, Any]) -> str:
    return (
        f"service namespace: {params.get('ServiceNamespace')}, resource ID: {params.get('ResourceId')}, "
        f"scalable dimension: {params.get('ScalableDimension')}"
    )


def _target(request: ApiRequest) -> Any:
    targets = _backend(request.region).targets.get(request.params.get("ScalableDimension"), {})
    target = targets.get(request.params.get("ResourceId"))
    if target is None or target.service_namespace != request.params.get("ServiceNamespace"):
        return None
    return target


def _key(request: ApiRequest) -> tuple[str, str, str]:
    return request.region, str(request.params.get("ResourceId")), str(request.params.get("ScalableDimension"))


def _require_target(request: ApiRequest) -> None:
    if _target(request) is None:
        raise ServiceError(
            "ObjectNotFoundException", f"No scalable target registered for {_describe_target(request.params)}"
        )


def _sagemaker_variant(params: Mapping[str, Any]) -> tuple[str, str] | None:
    """(endpoint, variant) of a request on a SageMaker variant dimension (``endpoint/<name>/variant/<variant>``)."""
    resource = str(params.get("ResourceId", "")).split("/")
    if params.get("ServiceNamespace") != NAMESPACE or params.get("ScalableDimension") not in VARIANT_DIMENSIONS:
        return None
    if len(resource) != 4 or resource[0] != "endpoint" or resource[2] != "variant":
        return None
    return resource[1], resource[3]


def _refuse_other_kind(region: str, endpoint_name: str, variant_name: str, dimension: str) -> None:
    """A SageMaker dimension scales one kind of variant (see the module's docstring)."""
    kind = variant_kind(region, endpoint_name, variant_name)
    if kind is None or kind == DIMENSION_OF_KIND[dimension]:
        return
    what = {
        "instance": "is instance-backed",
        "serverless": "is serverless without provisioned concurrency",
        "provisioned-serverless": "is serverless",
    }[kind]
    raise ServiceError(
        "ValidationException",
        f"Variant {variant_name} of endpoint {endpoint_name} {what}: scalable dimension {dimension} does not apply "
        "to it.",
    )


def _refuse_metric_of_other_dimension(params: Mapping[str, Any]) -> None:
    """A target tracking policy's predefined metric must be one its SageMaker dimension supports."""
    dimension = params.get("ScalableDimension")
    configuration = params.get("TargetTrackingScalingPolicyConfiguration") or {}
    metric = (configuration.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType")
    supported = PREDEFINED_METRICS.get(str(dimension), ())
    if params.get("ServiceNamespace") == NAMESPACE and metric is not None and supported and metric not in supported:
        raise ServiceError(
            "ValidationException",
            f"Scalable dimension {dimension} only supports the following predefined metric types: "
            f"{', '.join(supported)}",
        )


class ApplicationAutoScaling:
    """Handlers that add the real service's rules to moto's Application Auto Scaling."""

    def __init__(self, gateway: Gateway, endpoints: SageMakerEndpoints) -> None:
        self._endpoints = endpoints
        self._visible_at: dict[tuple[str, str, str], float] = {}  # (region, resource id, dimension) of new targets
        gateway.route(SERVICE, "RegisterScalableTarget", self._register)
        gateway.route(SERVICE, "DeregisterScalableTarget", self._deregister)
        gateway.route(SERVICE, "PutScalingPolicy", self._put_scaling_policy)
        gateway.route(SERVICE, "PutScheduledAction", self._put_with_target)
        gateway.route(SERVICE, "DeleteScalingPolicy", self._delete_scaling_policy)
        gateway.route(SERVICE, "DeleteScheduledAction", self._delete_scheduled_action)

    def _register(self, request: ApiRequest, pass_through: PassThrough) -> Reply:
        existing = _target(request)
        low = request.params.get("MinCapacity", existing.min_capacity if existing is not None else None)
        high = request.params.get("MaxCapacity", existing.max_capacity if existing is not None else None)
        if low is not None and high is not None and low > high:
            raise ServiceError("ValidationException", "Minimum capacity cannot be greater than maximum capacity")
        variant = _sagemaker_variant(request.params)
        status = self._endpoints.status_of(request.region, variant[0]) if variant is not None else None
        if variant is not None and status is not None and status != "InService":
            raise ServiceError(
                "ValidationException",
                f"Endpoint {variant[0]} is {status}. The status should be in 'InService' to register it as a "
                "scalable target.",
            )
        dimension = str(request.params.get("ScalableDimension"))
        if variant is not None:
            _refuse_other_kind(request.region, *variant, dimension)
        reply = pass_through()
        if reply.status == 200 and existing is None:
            visible_at = self._endpoints.clock() + self._endpoints.delays.target_visibility
            self._visible_at[_key(request)] = visible_at
        bounded = low is not None and high is not None
        if reply.status == 200 and variant is not None and dimension == SCALABLE_DIMENSION and bounded:
            self._endpoints.clamp_to_target(request.region, *variant, int(low), int(high))
        return reply

    def _deregister(self, request: ApiRequest, _: PassThrough) -> Reply:
        _require_target(request)
        forget_scalable_target(request.region, request.params["ResourceId"], request.params["ScalableDimension"])
        return json_reply({})

    def _put_scaling_policy(self, request: ApiRequest, pass_through: PassThrough) -> Reply:
        _refuse_metric_of_other_dimension(request.params)
        return self._put_with_target(request, pass_through)

    def _put_with_target(self, request: ApiRequest, pass_through: PassThrough) -> Reply:
        _require_target(request)
        if self._endpoints.clock() < self._visible_at.get(_key(request), 0.0):
            raise ServiceError(
                "ObjectNotFoundException", f"No scalable target registered for {_describe_target(request.params)}"
            )
        return pass_through()

    def reset(self) -> None:
        self._visible_at.clear()

    def _delete_scaling_policy(self, request: ApiRequest, pass_through: PassThrough) -> Reply:
        backend = _backend(request.region)
        params = request.params
        key = FakeApplicationAutoscalingPolicy.formulate_key(
            params["ServiceNamespace"], params["ResourceId"], params["ScalableDimension"], params["PolicyName"]
        )
        if key not in backend.policies:
            raise ServiceError(
                "ObjectNotFoundException",
                f"No scaling policy found for {_describe_target(params)}, policy name: {params.get('PolicyName')}",
            )
        return pass_through()

    def _delete_scheduled_action(self, request: ApiRequest, pass_through: PassThrough) -> Reply:
        params = request.params
        wanted = tuple(
            params.get(name) for name in ("ServiceNamespace", "ResourceId", "ScalableDimension", "ScheduledActionName")
        )
        found = any(
            (action.service_namespace, action.resource_id, action.scalable_dimension, action.scheduled_action_name)
            == wanted
            for action in _backend(request.region).scheduled_actions
        )
        if not found:
            raise ServiceError(
                "ObjectNotFoundException",
                f"No scheduled action found for {_describe_target(params)}, "
                f"scheduled action name: {params.get('ScheduledActionName')}",
            )
        return pass_through()
