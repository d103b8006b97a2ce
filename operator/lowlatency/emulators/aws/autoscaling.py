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
- The rule that an UpdateEndpoint may not change the instance type of a registered variant, and the deregistration
  that follows DeleteEndpoint, are enforced where SageMaker sees them (:mod:`.sagemaker`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from moto.applicationautoscaling.models import FakeApplicationAutoscalingPolicy, applicationautoscaling_backends
from moto.core.models import DEFAULT_ACCOUNT_ID

from lowlatency.emulators.aws.gateway import ApiRequest, Gateway, PassThrough, Reply, ServiceError, json_reply

if TYPE_CHECKING:
    from lowlatency.emulators.aws.sagemaker import SageMakerEndpoints

SERVICE: Final = "application-autoscaling"
NAMESPACE: Final = "sagemaker"
SCALABLE_DIMENSION: Final = "sagemaker:variant:DesiredInstanceCount"


def _backend(region: str) -> Any:
    return applicationautoscaling_backends[DEFAULT_ACCOUNT_ID][region]


def scalable_target(region: str, resource_id: str) -> Any:
    """A SageMaker variant's scalable target, or None if it is not registered."""
    return _backend(region).targets.get(SCALABLE_DIMENSION, {}).get(resource_id)


def forget_scalable_target(region: str, resource_id: str, dimension: str = SCALABLE_DIMENSION) -> None:
    """Deregister a target as the service does: its scaling policies and scheduled actions go with it."""
    backend = _backend(region)
    backend.targets.get(dimension, {}).pop(resource_id, None)
    backend.policies = {
        key: policy
        for key, policy in backend.policies.items()
        if (policy.resource_id, policy.scalable_dimension) != (resource_id, dimension)
    }
    backend.scheduled_actions = [
        action
        for action in backend.scheduled_actions
        if (action.resource_id, action.scalable_dimension) != (resource_id, dimension)
    ]


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


class ApplicationAutoScaling:
    """Handlers that add the real service's rules to moto's Application Auto Scaling."""

    def __init__(self, gateway: Gateway, endpoints: SageMakerEndpoints) -> None:
        self._endpoints = endpoints
        self._visible_at: dict[tuple[str, str, str], float] = {}  # (region, resource id, dimension) of new targets
        gateway.route(SERVICE, "RegisterScalableTarget", self._register)
        gateway.route(SERVICE, "DeregisterScalableTarget", self._deregister)
        gateway.route(SERVICE, "PutScalingPolicy", self._put_with_target)
        gateway.route(SERVICE, "PutScheduledAction", self._put_with_target)
        gateway.route(SERVICE, "DeleteScalingPolicy", self._delete_scaling_policy)
        gateway.route(SERVICE, "DeleteScheduledAction", self._delete_scheduled_action)

    def _register(self, request: ApiRequest, pass_through: PassThrough) -> Reply:
        existing = _target(request)
        low = request.params.get("MinCapacity", existing.min_capacity if existing is not None else None)
        high = request.params.get("MaxCapacity", existing.max_capacity if existing is not None else None)
        if low is not None and high is not None and low > high:
            raise ServiceError("ValidationException", "Minimum capacity cannot be greater than maximum capacity")
        resource = str(request.params.get("ResourceId", "")).split("/")
        sagemaker_variant = (
            request.params.get("ServiceNamespace") == NAMESPACE
            and request.params.get("ScalableDimension") == SCALABLE_DIMENSION
            and len(resource) == 4
        )
        status = self._endpoints.status_of(request.region, resource[1]) if sagemaker_variant else None
        if status is not None and status != "InService":
            raise ServiceError(
                "ValidationException",
                f"Endpoint {resource[1]} is {status}. The status should be in 'InService' to register it as a "
                "scalable target.",
            )
        reply = pass_through()
        if reply.status == 200 and existing is None:
            visible_at = self._endpoints.clock() + self._endpoints.delays.target_visibility
            self._visible_at[_key(request)] = visible_at
        if reply.status == 200 and sagemaker_variant and low is not None and high is not None:
            self._endpoints.clamp_to_target(request.region, resource[1], resource[3], int(low), int(high))
        return reply

    def _deregister(self, request: ApiRequest, _: PassThrough) -> Reply:
        _require_target(request)
        forget_scalable_target(request.region, request.params["ResourceId"], request.params["ScalableDimension"])
        return json_reply({})

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
