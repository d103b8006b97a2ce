"""SageMaker real-time endpoints with SageMaker's lifecycle, on top of moto's SageMaker backend.

moto keeps the models, endpoint configs and the endpoint objects (so that ListEndpoints and its tagging API see
them); this module owns what moto does not model: the endpoint's status over time, its variants' live and desired
instance counts, updates, and the rules SageMaker enforces. The state machine (its data: :mod:`.endpoint_state`) is
time-driven and lazy: each change stores when it will complete, and every request (and every control call) first
completes whatever is due, under the gateway's lock. With an injected clock the whole lifecycle is deterministic.

What real SageMaker does, and what is imitated here:

- **CreateEndpoint** answers at once with the ARN; the endpoint is ``Creating`` while instances are launched, the
  image pulled and the container's ``GET /ping`` passes (typically 5-10 minutes; here ``Delays.create``). It then
  becomes ``InService``, or ``Failed`` with a ``FailureReason`` (bad image, model artifact not readable, ping never
  healthy, capacity). A failed endpoint serves nothing and cannot be updated; it can only be deleted. While
  ``Creating``, DescribeEndpoint has no ``ProductionVariants``; a failed create has none either. Creating a name that
  exists answers ``ValidationException: Cannot create already existing endpoint "<arn>".``; a config or model that
  does not exist (any more) answers ``Could not find endpoint configuration/model "<arn>".``
- **Variants**: an endpoint has 1-10 production variants, or one production variant and one shadow variant, each
  instance-backed or serverless; a serverless variant is the endpoint's only one. The rules of endpoint configs and
  of changing variants are in :mod:`.variants`; what a serverless variant's compute does, in :mod:`.serverless`.
  DescribeEndpoint gives each production variant (``ProductionVariants``) and shadow variant
  (``ShadowProductionVariants``) with its current and desired weight, and its current and desired instance count or
  serverless config (botocore sagemaker ProductionVariantSummary); DescribeEndpointConfig echoes both lists.
- **UpdateEndpoint** needs an ``InService`` endpoint (otherwise ``Cannot update in-progress endpoint "<arn>".``). It is
  ``Updating`` while a new fleet is built on the new config and traffic moves to it according to the
  ``DeploymentConfig`` (blue/green: all at once, canary or linear traffic shifting with wait intervals, then a baking
  period watching the ``AutoRollbackConfiguration`` alarms; or rolling batches); the old fleet keeps serving.
  DescribeEndpoint keeps reporting the old config and variants, with a ``PendingDeploymentSummary`` naming the new
  config. On success the endpoint is ``InService`` on the new config and ``LastDeploymentConfig`` echoes the policy.
  With ``RetainAllVariantProperties`` the live instance counts and weights are kept (minus the properties named in
  ``ExcludeRetainedVariantProperties``); without, the new config's ``InitialInstanceCount`` applies. A failed update
  (new instances unhealthy, an alarm fired) is rolled back: ``RollingBack`` for a while, then **InService on the old
  config with a FailureReason** (here ``Delays.update`` then ``Delays.rollback``); a rolling deployment whose rollback
  fails too ends ``UpdateRollbackFailed``, serving a mix of both configs, and an update can also leave the endpoint
  ``Failed`` (:meth:`SageMakerEndpoints.fail_next_update`). Application Auto Scaling refuses an
  update that changes the instance type of a variant still registered as a scalable target; changing only the model
  is allowed; removing a registered variant is refused too. Under a ``DeploymentConfig`` (blue/green or rolling) the
  new config must keep the live variant names, and rolling deployments exclude serverless and multi-variant endpoints
  (:mod:`.deployments`). An instance-based endpoint cannot be updated to serverless (:mod:`.variants`).
- **UpdateEndpointWeightsAndCapacities** (InService only) makes the endpoint ``Updating`` with the new
  ``DesiredWeight`` of each named variant (production or shadow), or the ``DesiredInstanceCount`` or
  ``DesiredServerlessConfig`` of one variant (one call changes weights or one variant's capacity: :mod:`.variants`),
  while the current values catch up, then ``InService``, on the same config. A scaling activity of
  Application Auto Scaling (:meth:`SageMakerEndpoints.scale`, or a registration whose range leaves out the live
  count) is the autoscaler's own call of it, and passes through ``Updating`` in the same way.
- **DeleteEndpoint** is refused while the endpoint is Creating, Updating, SystemUpdating or RollingBack, as the
  updates are (``Cannot update in-progress endpoint "<arn>".``); on an InService, Failed or Deleting endpoint it
  makes it ``Deleting`` (minutes in reality) and then it is gone: DescribeEndpoint answers
  ``ValidationException: Could not find endpoint "<arn>".`` Application Auto Scaling deregisters the variants'
  scalable targets when it sees the endpoint deleted. Deleting a missing endpoint, config or model answers the same
  kind of ``Could not find ...`` validation error. Deleting a config or model still in use is allowed (SageMaker warns
  in its documentation but does not refuse), but UpdateEndpoint then answers ``Could not find endpoint configuration``
  for the config that serves: it needs the old config as well as the new one ("You must not delete an EndpointConfig
  in use by an endpoint that is live", https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html).
- **Eventual consistency**: "When you call CreateEndpoint, a load call is made to DynamoDB to verify that your
  endpoint configuration exists ... If the dependent entities are not yet in DynamoDB, this causes a validation
  error" (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpoint.html): with
  ``Delays.config_visibility``, CreateEndpoint answers ``Could not find endpoint configuration/model`` for a config
  or model created less than that long ago.
- **CreateModel** refuses a container whose ``ModelDataUrl`` names an S3 object that does not exist
  (``Could not find model data at s3://...``; the emulator's S3 is moto's, see :mod:`.artifacts`).
- **Quotas**: instances of a type for endpoint usage, where a test sets one (:mod:`.quotas`).
- **CreateEndpointConfig** accepts the instance types SageMaker's API lists (botocore's model of it; moto alone knows
  an older subset) and refuses others with a ``ValidationException``.
- **Tags** (AddTags/DeleteTags/ListTags) on endpoints, configs and models: :mod:`.tags`.
- **InvokeEndpoint** (SageMaker Runtime) is served while the endpoint serves traffic (InService, Updating,
  SystemUpdating, RollingBack, UpdateRollbackFailed); otherwise, or for an endpoint that does not exist, it answers
  ``ValidationError`` (botocore sagemaker-runtime ValidationError). The request goes to a production variant's model
  container by weight or ``TargetVariant``, a share is copied to the shadow variant (:mod:`.invocations`), and a
  serverless variant may start cold or throttle (:mod:`.serverless`). Here each container is a model server whose
  URL is set from Python per endpoint or per variant; without one, moto's canned answer is returned. Each call of a
  model server publishes SageMaker's invocation metrics in CloudWatch (:mod:`.metrics`).

Known differences: timings are seconds, not minutes; a failed create or update happens only when injected; the
texts of messages that SageMaker does not document are this emulator's own (their error codes are SageMaker's);
models and endpoint configs keep moto's ARNs (the name as given).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import FakeEndpointConfig, sagemaker_backends

from lowlatency.emulators.aws.artifacts import require_model_data
from lowlatency.emulators.aws.autoscaling import forget_scalable_target, scalable_target
from lowlatency.emulators.aws.deployments import require_guardrails_allowed, validate_deployment_config
from lowlatency.emulators.aws.endpoint_state import (
    IN_PROGRESS_STATUSES,
    SERVING_STATUSES,
    Clock,
    Delays,
    EndpointState,
    Transition,
    UpdateOutcome,
    Variant,
    desired_capacity,
    instances,
    settled,
    with_desired_capacity,
)
from lowlatency.emulators.aws.gateway import (
    RUNTIME,
    ApiRequest,
    Gateway,
    PassThrough,
    Reply,
    ServiceError,
    json_reply,
    validation_error,
)
from lowlatency.emulators.aws.invocations import (
    TARGET_VARIANT_HEADER,
    ShadowCopies,
    TrafficLog,
    VariantTraffic,
    choose_variant,
    mirrored,
    runtime_validation_error,
)
from lowlatency.emulators.aws.metrics import Invocation, InvocationMetrics
from lowlatency.emulators.aws.quotas import InstanceQuotas
from lowlatency.emulators.aws.serverless import Admission, ServerlessCompute
from lowlatency.emulators.aws.variants import (
    apply_desired,
    require_instance_type,
    require_no_conversion_to_serverless,
    require_weights_or_one_capacity,
    retain_live_properties,
    validate_endpoint_config,
    variant_from_config,
    with_default_weights,
)


def arn(kind: str, name: str, region: str) -> str:
    return f"arn:aws:sagemaker:{region}:{DEFAULT_ACCOUNT_ID}:{kind}/{name.lower()}"


def variant_resource_id(endpoint_name: str, variant: str) -> str:
    """How Application Auto Scaling names a SageMaker variant."""
    return f"endpoint/{endpoint_name}/variant/{variant}"


def _backend(region: str) -> Any:
    return sagemaker_backends[DEFAULT_ACCOUNT_ID][region]


def extend_moto() -> None:
    """Accept every instance type SageMaker's API accepts (moto knows an old subset of them); the handlers here refuse
    the others before moto sees the request (:func:`.variants.validate_endpoint_config`)."""

    def validate_instance_type(_config: Any, instance_type: str) -> None:
        require_instance_type(instance_type)

    FakeEndpointConfig.validate_instance_type = validate_instance_type  # type: ignore[method-assign,assignment]


class SageMakerEndpoints:
    """The endpoints' lifecycle, the SageMaker operations that moto lacks or gets wrong, and their controls."""

    def __init__(self, gateway: Gateway, clock: Clock, delays: Delays) -> None:
        self._gateway = gateway
        self.clock = clock
        self.initial_clock = clock
        self.delays = delays
        self._endpoints: dict[tuple[str, str], EndpointState] = {}
        self._failing_creates: dict[str, str] = {}
        self._failing_updates: dict[str, tuple[str, UpdateOutcome]] = {}
        self._model_servers: dict[tuple[str | None, str | None], str] = {}  # by endpoint and variant name
        self._serverless = ServerlessCompute()
        self._traffic = TrafficLog()
        self._routing = random.Random(0)
        self._shadow_copies = ShadowCopies()
        self._metrics = InvocationMetrics(gateway.lock)
        self._visible_at: dict[tuple[str, str, str], float] = {}  # (kind, region, name) of new models and configs
        self.quotas = InstanceQuotas()
        gateway.before_each.append(self.advance)
        routes: dict[str, Callable[[ApiRequest, PassThrough], Reply]] = {
            "CreateModel": self._create_model,
            "CreateEndpointConfig": self._create_endpoint_config,
            "CreateEndpoint": self._create_endpoint,
            "DescribeEndpoint": self._describe_endpoint,
            "UpdateEndpoint": self._update_endpoint,
            "UpdateEndpointWeightsAndCapacities": self._update_weights_and_capacities,
            "DeleteEndpoint": self._delete_endpoint,
            "DeleteEndpointConfig": self._delete_endpoint_config,
            "DeleteModel": self._delete_model,
        }
        for operation, handler in routes.items():
            gateway.route("sagemaker", operation, handler)
        gateway.route(RUNTIME, "InvokeEndpoint", self._invoke_endpoint, concurrent=True)

    # Controls, called from Python by tests and the demo.

    def fail_next_create(self, endpoint_name: str, reason: str) -> None:
        """The next CreateEndpoint of this name ends ``Failed`` with ``reason`` as its FailureReason."""
        with self._gateway.lock:
            self._failing_creates[endpoint_name] = reason

    def fail_next_update(self, endpoint_name: str, reason: str, outcome: UpdateOutcome = "rolled-back") -> None:
        """The next UpdateEndpoint of this name fails with ``reason`` as its FailureReason, and ends as ``outcome``:

        - ``rolled-back``: RollingBack, then InService on the old config;
        - ``rollback-failed``: for a rolling deployment, RollingBack, then ``UpdateRollbackFailed``: "Both the rolling
          deployment and auto-rollback failed. Your endpoint is in service with a mix of the old and new endpoint
          configurations" (botocore sagemaker DescribeEndpointOutput.EndpointStatus); SageMaker does not get out of it
          by itself. A blue/green deployment keeps its old fleet whole, so it is rolled back as above;
        - ``failed``: ``Failed``, serving nothing ("Endpoint could not be created, updated, or re-scaled").
        """
        with self._gateway.lock:
            self._failing_updates[endpoint_name] = (reason, outcome)

    def start_maintenance(self, endpoint_name: str) -> None:
        """SageMaker's own maintenance of an InService endpoint: ``SystemUpdating`` for ``Delays.maintenance``, during
        which it serves but "cannot be updated or deleted or re-scaled" (botocore sagemaker
        DescribeEndpointOutput.EndpointStatus)."""
        with self._gateway.lock:
            self.advance()
            endpoint = self._find(endpoint_name)
            if endpoint.status != "InService":
                raise RuntimeError(f"{endpoint_name} is {endpoint.status}: maintenance starts on an InService endpoint")
            now = self.clock()
            self._start(endpoint, Transition("maintenance", now, now + self.delays.maintenance))

    def route_invocations(self, endpoint_name: str | None, url: str | None, *, variant: str | None = None) -> None:
        """Send this endpoint's invocations (every endpoint's, for ``None``) to the model server at ``url``; with
        ``variant``, only that variant's (production or shadow), which takes precedence over the endpoint's route."""
        if variant is not None and endpoint_name is None:
            raise ValueError("a variant's route names its endpoint")
        with self._gateway.lock:
            if url is None:
                self._model_servers.pop((endpoint_name, variant), None)
            else:
                self._model_servers[(endpoint_name, variant)] = url.rstrip("/")

    def traffic(self, endpoint_name: str) -> dict[str, VariantTraffic]:
        """Per variant of the endpoint, what its invocations met since the start or the last reset: sent to its
        model server (for a shadow variant, the copies), cold starts, throttled requests."""
        return self._traffic.of(endpoint_name)

    def wait_for_shadow_copies(self, timeout: float = 30.0) -> None:
        """Wait until the copies sent to shadow variants so far have been answered (and discarded)."""
        self._shadow_copies.wait(timeout)

    def scale(self, endpoint_name: str, count: int, *, variant: str | None = None) -> None:
        """Start a scaling activity of Application Auto Scaling on a registered variant (see
        :meth:`_start_scaling_activity` for what the endpoint goes through).

        Like the real autoscaler, it acts only on an InService endpoint, on a variant registered as a scalable target,
        within the target's capacity range.
        """
        with self._gateway.lock:
            self.advance()
            endpoint = self._find(endpoint_name)
            if endpoint.status != "InService":
                raise RuntimeError(f"{endpoint_name} is {endpoint.status}: scaling is blocked until it is InService")
            chosen = endpoint.variant(variant) if variant is not None else endpoint.production[0]
            if chosen is None:
                raise ValueError(f"{endpoint_name} has no variant {variant}")
            target = scalable_target(endpoint.region, variant_resource_id(endpoint.name, chosen.name))
            if target is None:
                raise RuntimeError(f"variant {chosen.name} of {endpoint_name} is not registered as a scalable target")
            if not target.min_capacity <= count <= target.max_capacity:
                raise ValueError(
                    f"{count} is outside the target's range [{target.min_capacity}, {target.max_capacity}]"
                )
            self._start_scaling_activity(endpoint, chosen.name, count)

    def status_of(self, region: str, endpoint_name: str) -> str | None:
        """An endpoint's status as DescribeEndpoint gives it, or None if there is no such endpoint."""
        endpoint = self._endpoints.get((region, endpoint_name))
        return endpoint.status if endpoint is not None else None

    def clamp_to_target(self, region: str, endpoint_name: str, variant_name: str, low: int, high: int) -> None:
        """Bring a variant's live count into a newly registered range, as Application Auto Scaling does."""
        endpoint = self._endpoints.get((region, endpoint_name))
        variant = endpoint.variant(variant_name) if endpoint is not None else None
        if endpoint is None or variant is None or endpoint.status != "InService":
            return
        live = desired_capacity(variant)
        clamped = min(max(live, low), high)
        if clamped != live:
            self._start_scaling_activity(endpoint, variant.name, clamped)

    def reset(self, delays: Delays) -> None:
        with self._gateway.lock:
            self.delays = delays
            self.clock = self.initial_clock
            self._endpoints.clear()
            self._failing_creates.clear()
            self._failing_updates.clear()
            self._model_servers.clear()
            self._visible_at.clear()
            self.quotas.clear()
            self._serverless.clear()
            self._routing.seed(0)
        self.wait_for_shadow_copies()
        self._metrics.clear()
        self._traffic.clear()

    def _find(self, endpoint_name: str) -> EndpointState:
        matches = [endpoint for (_, name), endpoint in self._endpoints.items() if name == endpoint_name]
        if len(matches) != 1:
            raise LookupError(f"{len(matches)} endpoints are named {endpoint_name}")
        return matches[0]

    def _start_scaling_activity(self, endpoint: EndpointState, variant_name: str, count: int) -> None:
        """What a scaling activity does to an InService endpoint: Application Auto Scaling changes a variant's count
        with UpdateEndpointWeightsAndCapacities, the one SageMaker change its service-linked role may make
        (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSApplicationAutoscalingSageMakerEndpointPolicy.html),
        so the endpoint is ``Updating`` ("UpdateEndpoint or UpdateEndpointWeightsAndCapacities is executing":
        botocore sagemaker DescribeEndpointOutput.EndpointStatus) for ``Delays.capacity``, its variant showing the
        new count as DesiredInstanceCount and the old one as CurrentInstanceCount until the instances are there
        (botocore sagemaker ProductionVariantSummary.DesiredInstanceCount), then ``InService`` at the new count.
        The autoscaler's call is not in the call log, which records the calls of the emulator's clients.

        For a serverless variant ``count`` is its provisioned concurrency, the capacity Application Auto Scaling
        scales (dimension ``sagemaker:variant:DesiredProvisionedConcurrency``,
        https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-autoscale.html), which the variant's
        ``DesiredServerlessConfig`` shows until it is reached."""
        variants = [
            with_desired_capacity(variant, count) if variant.name == variant_name else variant
            for variant in endpoint.variants
        ]
        now = self.clock()
        self._start(endpoint, Transition("capacity", now, now + self.delays.capacity, variants=variants))

    # The state machine.

    def advance(self) -> None:
        """Complete every transition that is due (call with the gateway's lock held)."""
        now = self.clock()
        for key, endpoint in list(self._endpoints.items()):
            while endpoint.transition is not None and endpoint.transition.due <= now:
                if not self._complete(key, endpoint, endpoint.transition):
                    break

    def _complete(self, key: tuple[str, str], endpoint: EndpointState, transition: Transition) -> bool:
        """Carry out a transition that is due; False when the endpoint is gone."""
        endpoint.transition = None
        endpoint.modified = transition.due
        match transition.kind:
            case "delete":
                del self._endpoints[key]
                _backend(endpoint.region).endpoints.pop(endpoint.name, None)
                self._serverless.forget(endpoint.region, endpoint.name)
                return False
            case "create" if transition.failure is not None:
                endpoint.settled_status, endpoint.failure_reason, endpoint.variants = "Failed", transition.failure, []
            case "update" if transition.failure is not None and transition.outcome == "failed":
                endpoint.settled_status, endpoint.failure_reason, endpoint.variants = "Failed", transition.failure, []
            case "update" if transition.failure is not None:
                endpoint.transition = Transition(
                    "rollback",
                    transition.due,
                    transition.due + self.delays.rollback,
                    failure=transition.failure,
                    outcome=transition.outcome,
                )
            case "rollback":
                ended = "UpdateRollbackFailed" if transition.outcome == "rollback-failed" else "InService"
                endpoint.settled_status, endpoint.failure_reason = ended, transition.failure
            case "update":
                endpoint.config_name = transition.config_name or endpoint.config_name
                endpoint.variants = settled(transition.variants)
                self._serverless.forget(endpoint.region, endpoint.name)  # the new fleet starts cold
                endpoint.last_deployment_config = transition.deployment_config
                endpoint.settled_status = "InService"
            case "create" | "capacity" | "maintenance":
                endpoint.variants = settled(transition.variants or endpoint.variants)
                endpoint.settled_status = "InService"
        self._sync_moto(endpoint)
        return True

    def _start(self, endpoint: EndpointState, transition: Transition) -> None:
        endpoint.transition = transition
        endpoint.modified = transition.started
        self._sync_moto(endpoint)

    def _sync_moto(self, endpoint: EndpointState) -> None:
        """Keep moto's endpoint object (read by ListEndpoints) in step."""
        fake = _backend(endpoint.region).endpoints.get(endpoint.name)
        if fake is not None:
            fake.endpoint_status = endpoint.status
            fake.endpoint_config_name = endpoint.config_name
            fake.last_modified_time = datetime.fromtimestamp(endpoint.modified, UTC)

    # SageMaker operations.

    def _existing(self, request: ApiRequest, table: Mapping[str, Any], kind: str, noun: str, parameter: str) -> str:
        name = str(request.params[parameter])
        if name in table:
            raise validation_error(f'Cannot create already existing {noun} "{arn(kind, name, request.region)}".')
        return name

    def _create_model(self, request: ApiRequest, pass_through: PassThrough) -> Reply:
        backend = _backend(request.region)
        name = self._existing(request, backend._models, "model", "model", "ModelName")
        require_model_data(request.params)
        reply = pass_through()
        if reply.status == 200:  # moto drops it; DescribeModel echoes it and serverless variants refuse it
            backend._models[name].enable_network_isolation = bool(request.params.get("EnableNetworkIsolation"))
        return self._created(("model", request.region, name), reply)

    def _create_endpoint_config(self, request: ApiRequest, pass_through: PassThrough) -> Reply:
        backend = _backend(request.region)
        name = self._existing(
            request, backend.endpoint_configs, "endpoint-config", "endpoint configuration", "EndpointConfigName"
        )
        validate_endpoint_config(request.params, backend._models)
        shadows = list(request.params.get("ShadowProductionVariants") or [])
        for shadow in shadows:
            if shadow["ModelName"] not in backend._models:
                raise validation_error(f'Could not find model "{arn("model", shadow["ModelName"], request.region)}".')
        reply = pass_through()
        if reply.status == 200:  # moto keeps no shadow variants and no default weights
            config = backend.endpoint_configs[name]
            config.production_variants = with_default_weights(config.production_variants)
            config.shadow_production_variants = with_default_weights(shadows) or None
        return self._created(("endpoint-config", request.region, name), reply)

    def _created(self, key: tuple[str, str, str], reply: Reply) -> Reply:
        if reply.status == 200:
            self._visible_at[key] = self.clock() + self.delays.config_visibility
        return reply

    def _visible(self, kind: str, region: str, name: str) -> bool:
        """Whether CreateEndpoint's read of a model or config sees it yet (eventual consistency)."""
        return self.clock() >= self._visible_at.get((kind, region, name), 0.0)

    def _create_endpoint(self, request: ApiRequest, pass_through: PassThrough) -> Reply:
        backend = _backend(request.region)
        name = self._existing(request, backend.endpoints, "endpoint", "endpoint", "EndpointName")
        config_name = str(request.params["EndpointConfigName"])
        variants = self._variants_of(request.region, config_name, visible_only=True)
        self.quotas.require(self._instances_in_use(request.region), instances(variants))
        reply = pass_through()
        if reply.status != 200:
            return reply
        now = self.clock()
        endpoint = EndpointState(
            region=request.region,
            name=name,
            arn=arn("endpoint", name, request.region),
            config_name=config_name,
            created=now,
            modified=now,
            settled_status="Creating",
            variants=variants,
            transition=None,
        )
        backend.endpoints[name].arn = endpoint.arn
        self._endpoints[(request.region, name)] = endpoint
        failure = self._failing_creates.pop(name, None)
        self._start(endpoint, Transition("create", now, now + self.delays.create, failure, variants=variants))
        return json_reply({"EndpointArn": endpoint.arn})

    def _variants_of(self, region: str, config_name: str, *, visible_only: bool = False) -> list[Variant]:
        """The variants a config describes; ``visible_only``: as CreateEndpoint's eventually consistent read sees
        the config and its models."""
        backend = _backend(region)
        config = backend.endpoint_configs.get(config_name)
        if config is None or (visible_only and not self._visible("endpoint-config", region, config_name)):
            raise validation_error(
                f'Could not find endpoint configuration "{arn("endpoint-config", config_name, region)}".'
            )
        entries = [(entry, False) for entry in config.production_variants]
        entries += [(entry, True) for entry in config.shadow_production_variants or []]
        variants = []
        for entry, shadow in entries:
            model_name = entry["ModelName"]
            model = backend._models.get(model_name)
            if model is None or (visible_only and not self._visible("model", region, model_name)):
                raise validation_error(f'Could not find model "{arn("model", model_name, region)}".')
            variants.append(variant_from_config(entry, (model.primary_container or {}).get("Image"), shadow=shadow))
        return variants

    def _instances_in_use(self, region: str) -> Counter[str]:
        """Instances per type that the region's endpoints hold: their fleets, and a new fleet being deployed."""
        in_use: Counter[str] = Counter()
        for (endpoint_region, _), endpoint in self._endpoints.items():
            if endpoint_region == region:
                in_use += instances(endpoint.variants)
                if endpoint.transition is not None and endpoint.transition.kind in {"create", "update"}:
                    in_use += instances(endpoint.transition.variants)
        return in_use

    def _endpoint(self, request: ApiRequest) -> EndpointState:
        name = str(request.params["EndpointName"])
        endpoint = self._endpoints.get((request.region, name))
        if endpoint is None:
            raise validation_error(f'Could not find endpoint "{arn("endpoint", name, request.region)}".')
        return endpoint

    def _describe_endpoint(self, request: ApiRequest, _: PassThrough) -> Reply:
        return json_reply(self._endpoint(request).described(self.clock()))

    def _require_in_service(self, endpoint: EndpointState) -> None:
        if endpoint.status == "Failed":
            raise validation_error(f'Cannot update failed endpoint "{endpoint.arn}".')
        if endpoint.status != "InService":
            raise validation_error(f'Cannot update in-progress endpoint "{endpoint.arn}".')

    def _refuse_in_progress(self, endpoint: EndpointState) -> None:
        if endpoint.status in IN_PROGRESS_STATUSES:
            raise validation_error(f'Cannot update in-progress endpoint "{endpoint.arn}".')

    def _update_endpoint(self, request: ApiRequest, _: PassThrough) -> Reply:
        endpoint = self._endpoint(request)
        self._require_in_service(endpoint)
        if endpoint.config_name not in _backend(request.region).endpoint_configs:
            serving = arn("endpoint-config", endpoint.config_name, request.region)
            raise validation_error(f'Could not find endpoint configuration "{serving}".')
        config_name = str(request.params["EndpointConfigName"])
        variants = self._variants_of(request.region, config_name)
        require_no_conversion_to_serverless(endpoint.arn, endpoint.variants, variants)
        deployment_config = request.params.get("DeploymentConfig")
        if deployment_config is not None:
            validate_deployment_config(deployment_config, sum(variant.desired_count for variant in variants))
            require_guardrails_allowed(deployment_config, endpoint.variants, variants)
        self._refuse_changes_under_autoscaling(endpoint, variants)
        if request.params.get("RetainAllVariantProperties", False):
            excluded = {
                item["VariantPropertyType"] for item in request.params.get("ExcludeRetainedVariantProperties", [])
            }
            variants = retain_live_properties(variants, endpoint.variants, excluded)
        # The new fleet runs beside the old one until traffic has moved.
        self.quotas.require(self._instances_in_use(request.region), instances(variants))
        now = self.clock()
        failure: str | None = None
        outcome: UpdateOutcome = "rolled-back"
        if endpoint.name in self._failing_updates:
            failure, outcome = self._failing_updates.pop(endpoint.name)
        if outcome == "rollback-failed" and "RollingUpdatePolicy" not in (deployment_config or {}):
            outcome = "rolled-back"
        endpoint.failure_reason = None
        self._start(
            endpoint,
            Transition(
                "update", now, now + self.delays.update, failure, config_name, variants, deployment_config, outcome
            ),
        )
        return json_reply({"EndpointArn": endpoint.arn})

    def _refuse_changes_under_autoscaling(self, endpoint: EndpointState, variants: list[Variant]) -> None:
        """An update may neither change the instance type of a variant registered with Application Auto Scaling nor
        remove one (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html)."""
        new = {variant.name: variant for variant in variants}
        changed = [
            live.name
            for live in endpoint.variants
            if scalable_target(endpoint.region, variant_resource_id(endpoint.name, live.name)) is not None
            and (live.name not in new or new[live.name].instance_type != live.instance_type)
        ]
        if changed:
            raise validation_error(
                f'The update of endpoint "{endpoint.arn}" would change the instance type of variant(s) {changed} or '
                "remove them, and they are registered as scalable targets with Application Auto Scaling. Delete their "
                "scaling policies and deregister the scalable targets before updating the endpoint, then register "
                "them again."
            )

    def _update_weights_and_capacities(self, request: ApiRequest, _: PassThrough) -> Reply:
        endpoint = self._endpoint(request)
        self._require_in_service(endpoint)
        require_weights_or_one_capacity(request.params["DesiredWeightsAndCapacities"])
        variants = {variant.name: variant for variant in endpoint.variants}
        seen: set[str] = set()
        for desired in request.params["DesiredWeightsAndCapacities"]:
            name = desired["VariantName"]
            if name in seen:
                raise validation_error(f'The variant name "{name}" was non-unique within the request.')
            if name not in variants:
                raise validation_error(
                    f'The variant name(s) "{name}" is/are not present within endpoint configuration '
                    f'"{endpoint.config_name}".'
                )
            seen.add(name)
            variants[name] = apply_desired(variants[name], desired)
        changed = list(variants.values())
        self.quotas.require(self._instances_in_use(request.region), instances(changed) - instances(endpoint.variants))
        now = self.clock()
        self._start(endpoint, Transition("capacity", now, now + self.delays.capacity, variants=changed))
        return json_reply({"EndpointArn": endpoint.arn})

    def _delete_endpoint(self, request: ApiRequest, _: PassThrough) -> Reply:
        endpoint = self._endpoint(request)
        self._refuse_in_progress(endpoint)
        if endpoint.status != "Deleting":
            now = self.clock()
            self._start(endpoint, Transition("delete", now, now + self.delays.delete))
            for variant in endpoint.variants:
                forget_scalable_target(request.region, variant_resource_id(endpoint.name, variant.name))
        return json_reply({})

    def _delete_endpoint_config(self, request: ApiRequest, pass_through: PassThrough) -> Reply:
        name = str(request.params["EndpointConfigName"])
        if name not in _backend(request.region).endpoint_configs:
            raise validation_error(
                f'Could not find endpoint configuration "{arn("endpoint-config", name, request.region)}".'
            )
        return pass_through()

    def _delete_model(self, request: ApiRequest, pass_through: PassThrough) -> Reply:
        name = str(request.params["ModelName"])
        if name not in _backend(request.region)._models:
            raise validation_error(f'Could not find model "{arn("model", name, request.region)}".')
        return pass_through()

    # SageMaker Runtime.

    def _invoke_endpoint(self, request: ApiRequest, pass_through: PassThrough) -> Reply:
        received, received_at = time.perf_counter(), time.time()
        name = str(request.params["EndpointName"])
        with self._gateway.lock:
            endpoint = self._endpoints.get((request.region, name))
            if endpoint is None:
                raise runtime_validation_error(f"Endpoint {name} of account {DEFAULT_ACCOUNT_ID} not found.")
            if endpoint.status not in SERVING_STATUSES:
                raise runtime_validation_error(
                    f"Endpoint {name} of account {DEFAULT_ACCOUNT_ID} is {endpoint.status} and serves no traffic."
                )
            variant = choose_variant(
                name, endpoint.production, request.headers.get(TARGET_VARIANT_HEADER), self._routing
            )
            admission = self._admit(endpoint, variant)
            url = self._model_server(name, variant.name)
            copies = [
                (Invocation.of(request, name, shadow, received_at), self._model_server(name, shadow.name))
                for shadow in endpoint.shadows
                if mirrored(shadow, variant, self._routing)
            ]
            invocation = Invocation.of(request, name, variant, received_at)
        cold = admission is not None and admission.cold
        self._traffic.count(name, variant.name, invocations=1, cold=cold)
        for copy, shadow_url in copies:
            self._send_shadow_copy(shadow_url, request, copy)
        try:
            if cold:
                time.sleep(self.delays.serverless_cold_start)
            if url is None:
                return pass_through()
            setup = self.delays.serverless_cold_start if cold else None
            return self._metrics.forward(url, request, invocation, received=received, setup_seconds=setup)
        finally:
            if admission is not None:
                with self._gateway.lock:
                    self._serverless.release(admission, self.clock())

    def _admit(self, endpoint: EndpointState, variant: Variant) -> Admission | None:
        """A serverless variant's admission of a request (:mod:`.serverless`); None for an instance variant."""
        if variant.current_serverless is None:
            return None
        key = (endpoint.region, endpoint.name, variant.name)
        try:
            return self._serverless.admit(key, variant.current_serverless, self.clock(), self.delays.serverless_idle)
        except ServiceError:
            self._traffic.count_throttled(endpoint.name, variant.name)
            raise

    def _model_server(self, endpoint_name: str, variant: str) -> str | None:
        for key in ((endpoint_name, variant), (endpoint_name, None), (None, None)):
            if key in self._model_servers:
                return self._model_servers[key]
        return None

    def _send_shadow_copy(self, url: str | None, request: ApiRequest, copy: Invocation) -> None:
        """Copy a request to a shadow variant's model server in the background (none routed: nowhere to send it)."""
        self._traffic.count(copy.endpoint_name, copy.variant, invocations=1)
        if url is not None:
            self._shadow_copies.send(lambda: self._metrics.forward(url, request, copy))
