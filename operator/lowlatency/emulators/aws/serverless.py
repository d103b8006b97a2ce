"""The compute behind a serverless variant: cold starts, provisioned concurrency and throttling.

What SageMaker Serverless Inference does, and what is imitated here:

- **Cold starts**: "If your endpoint does not receive traffic for a while and then your endpoint suddenly receives
  new requests, it can take some time for your endpoint to spin up the compute resources to process the requests.
  This is called a cold start ... A cold start can also occur if your concurrent requests exceed the current
  concurrent request usage"; its length is the CloudWatch metric ``ModelSetupTime``
  (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-cold-starts,
  https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-monitoring.html). Here a variant has a pool of
  warm compute, one unit per concurrent request it has served: a request takes an idle warm unit, or starts a new one
  and waits ``Delays.serverless_cold_start`` (wall-clock seconds, as a client measures latency) before its model
  server is called. A unit idle for ``Delays.serverless_idle`` (the emulator's clock, so that a test can make a
  variant idle by advancing it) is gone. A new variant has none: its first request is a cold start. How long AWS
  keeps compute warm is not documented; the delay is the emulator's.
- **Updates**: "when updating your endpoint, you can experience cold starts when making requests to the endpoint
  because SageMaker AI must re-initialize your container and model"
  (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-update.html): an UpdateEndpoint that
  completes drops the warm pool (:meth:`ServerlessCompute.forget`).
- **Provisioned concurrency**: "SageMaker AI ensures that for the number of Provisioned Concurrency that you
  allocate, the compute resources are initialized and ready to respond within milliseconds"
  (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html): up to ``ProvisionedConcurrency``
  concurrent requests never start cold, however long the variant was idle.
- **Throttling**: "any endpoint invocations beyond the maximum are throttled" (same page, concurrent invocations): a
  request arriving while ``MaxConcurrency`` requests are in flight is answered ``ThrottlingException``, HTTP 400, "The
  request was denied due to request throttling" (https://docs.aws.amazon.com/sagemaker/latest/APIReference/CommonErrors.html;
  the rest of the message is this emulator's own). The account's quota of total concurrency across serverless
  endpoints is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lowlatency.emulators.aws.endpoint_state import ServerlessConfig
from lowlatency.emulators.aws.gateway import ServiceError

VariantKey = tuple[str, str, str]  # region, endpoint name, variant name


@dataclass
class _Pool:
    in_flight: int = 0
    provisioned_busy: int = 0
    idle_since: list[float] = field(default_factory=list)  # the on-demand units not serving, when each became idle


@dataclass(frozen=True)
class Admission:
    """A request let in to a serverless variant: whether it waits for a cold start, and on what compute (the pool
    it was admitted to, which an update may have dropped by the time it ends)."""

    cold: bool
    provisioned: bool
    pool: _Pool = field(repr=False)


class ServerlessCompute:
    """The warm pools of every serverless variant; the caller holds the lock that guards them (the gateway's)."""

    def __init__(self) -> None:
        self._pools: dict[VariantKey, _Pool] = {}

    def admit(self, key: VariantKey, config: ServerlessConfig, now: float, idle_after: float) -> Admission:
        """Let a request in, or refuse it as throttled; the caller must :meth:`release` what was admitted."""
        pool = self._pools.setdefault(key, _Pool())
        if pool.in_flight >= config.max_concurrency:
            raise ServiceError(
                "ThrottlingException",
                f"The request was denied due to request throttling: variant {key[2]} of endpoint {key[1]} is serving "
                f"its MaxConcurrency of {config.max_concurrency} concurrent invocations.",
            )
        pool.in_flight += 1
        if pool.provisioned_busy < (config.provisioned_concurrency or 0):
            pool.provisioned_busy += 1
            return Admission(cold=False, provisioned=True, pool=pool)
        pool.idle_since = [since for since in pool.idle_since if now - since < idle_after]
        if pool.idle_since:
            pool.idle_since.pop()
            return Admission(cold=False, provisioned=False, pool=pool)
        return Admission(cold=True, provisioned=False, pool=pool)

    @staticmethod
    def release(admission: Admission, now: float) -> None:
        """The admitted request is answered: its compute stays warm (on demand: from ``now``)."""
        pool = admission.pool
        pool.in_flight -= 1
        if admission.provisioned:
            pool.provisioned_busy -= 1
        else:
            pool.idle_since.append(now)

    def forget(self, region: str, endpoint_name: str) -> None:
        """Drop the warm compute of an endpoint's variants (updated to a new config, or deleted)."""
        for key in [key for key in self._pools if key[:2] == (region, endpoint_name)]:
            del self._pools[key]

    def clear(self) -> None:
        self._pools.clear()
