"""Account quotas of SageMaker hosting: how many instances of each type the account's endpoints may use.

Real SageMaker counts the instances of a type that the account's endpoints use in the region and refuses a request
that would go past the quota "<instance type> for endpoint usage" with ``ResourceLimitExceeded`` (botocore sagemaker
ResourceLimitExceeded): "The account-level service limit 'ml.g4dn.xlarge for endpoint usage' is 0 Instances, with
current utilization of 0 Instances and a request delta of 1 Instances. Please use AWS Service Quotas to request an
increase for this quota. ..." (the text users report). CreateEndpoint asks for its config's instances,
UpdateEndpoint for a new fleet beside the old one (a blue/green deployment runs both),
UpdateEndpointWeightsAndCapacities for the instances it adds. The quota can be raised, after which the same request
goes through.

The emulator enforces only the quotas a test or the demo sets (:meth:`InstanceQuotas.limit`); every other instance
type is unlimited.
"""

from __future__ import annotations

from collections import Counter

from lowlatency.emulators.aws.gateway import ServiceError


class InstanceQuotas:
    """The instances of each type that endpoints may use, where a limit was set."""

    def __init__(self) -> None:
        self._limits: dict[str, int] = {}

    def limit(self, instance_type: str, count: int) -> None:
        """Set (or raise) the quota '<instance_type> for endpoint usage'."""
        self._limits[instance_type] = count

    def clear(self) -> None:
        self._limits.clear()

    def require(self, in_use: Counter[str], wanted: Counter[str]) -> None:
        """Refuse a request that would use ``wanted`` more instances per type on top of ``in_use``."""
        for instance_type, delta in sorted(wanted.items()):
            limit = self._limits.get(instance_type)
            if limit is not None and delta > 0 and in_use[instance_type] + delta > limit:
                raise ServiceError(
                    "ResourceLimitExceeded",
                    f"The account-level service limit '{instance_type} for endpoint usage' is {limit} Instances, "
                    f"with current utilization of {in_use[instance_type]} Instances and a request delta of {delta} "
                    "Instances. Please use AWS Service Quotas to request an increase for this quota. If AWS Service "
                    "Quotas is not available, contact AWS support to request an increase for this quota.",
                )
