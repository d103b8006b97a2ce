"""What SageMaker inference costs: a bundled, dated table of on-demand prices, and the costs computed from it.

The bundled table (``lowlatency/data/prices.json``) names its source and the date of its prices; prices change,
so a table of the same format can be given instead (``load(path)``), such as one ``lowlatency-operator prices``
builds from AWS's Price List (:mod:`lowlatency.pricelist`). A price the table does not have is None: cost is then
unknown, never guessed.

The format: ``source``, ``compiled`` (YYYY-MM-DD, the date of the prices), ``regions.<region>.<instance type>``
(USD per instance-hour) and, each optional (a table without them reads as before, and what they would price is
unknown):

- ``serverlessPerSecondUsd.<region>.<memory size in MB>``: USD per second of on-demand serverless inference compute;
- ``serverlessProvisionedConcurrencyPerSecondUsd.<region>.<memory size in MB>``: USD per second of one unit of
  provisioned concurrency, billed while it is provisioned;
- ``serverlessProvisionedInferencePerSecondUsd.<region>.<memory size in MB>``: USD per second of inference served
  by provisioned concurrency;
- ``instanceMemoryGiB.<instance type>``: the instance type's memory in GiB.

Other keys (description, note, ...) are for people.

Serverless cost follows SageMaker's pricing: compute is billed for the duration of each invocation at the price of
the configured memory size, with no charge per request; with provisioned concurrency, inference it serves is billed
at its own rate and each unit of concurrency is billed for as long as it is provisioned
(https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html). Data processed (per GB) is not counted.
A month is 730 hours, as AWS's pricing examples count it.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

SECONDS_PER_HOUR = 3600
HOURS_PER_MONTH = 730
MEGABYTES_PER_GIBIBYTE = 1024
# The table's optional keys: serverless prices by region and memory size, and the instance types' memory.
SERVERLESS_KEYS = (
    "serverlessPerSecondUsd",
    "serverlessProvisionedConcurrencyPerSecondUsd",
    "serverlessProvisionedInferencePerSecondUsd",
)
MEMORY = "instanceMemoryGiB"


class PriceTableError(ValueError):
    """A price table that does not have the expected format."""


@dataclass(frozen=True)
class PriceTable:
    source: str
    compiled: datetime.date
    hourly_usd: dict[str, dict[str, float]]
    """Region, then instance type, to USD per instance-hour."""
    serverless_usd_per_second: dict[str, dict[int, float]] = field(default_factory=dict)
    """Region, then serverless memory size in MB, to USD per second of compute."""
    provisioned_concurrency_usd_per_second: dict[str, dict[int, float]] = field(default_factory=dict)
    """Region, then serverless memory size in MB, to USD per second of one unit of provisioned concurrency."""
    provisioned_inference_usd_per_second: dict[str, dict[int, float]] = field(default_factory=dict)
    """Region, then serverless memory size in MB, to USD per second of inference served by provisioned concurrency."""
    instance_memory_gib: dict[str, float] = field(default_factory=dict)
    """Instance type to its memory in GiB."""

    def price(self, instance_type: str, region: str) -> float | None:
        """On-demand USD per instance-hour, or None when the table does not know it."""
        return self.hourly_usd.get(region, {}).get(instance_type)

    def hourly_cost(self, instance_type: str, instance_count: int, region: str) -> float | None:
        price = self.price(instance_type, region)
        return None if price is None else price * instance_count


def cost_per_million_invocations(hourly_usd: float, throughput_rps: float) -> float | None:
    """What a million invocations cost when the instances serve ``throughput_rps`` all hour; None at no throughput."""
    if throughput_rps <= 0:
        return None
    return hourly_usd / (throughput_rps * SECONDS_PER_HOUR) * 1_000_000


@dataclass(frozen=True)
class ServerlessCost:
    """What a serverless variant costs; None for what the table cannot price."""

    per_invocation_usd: float | None
    """Compute of one invocation of the measured duration (at provisioned concurrency's rate when it is set)."""
    provisioned_hourly_usd: float | None
    """The provisioned concurrency's charge per hour; None when none is set, or when its price is unknown."""
    monthly_usd: float | None
    """A month (730 hours) at the stated volume: its invocations and the provisioned concurrency's charge."""

    @property
    def per_million_invocations_usd(self) -> float | None:
        return None if self.per_invocation_usd is None else self.per_invocation_usd * 1_000_000


def serverless_cost(
    table: PriceTable,
    region: str,
    memory_mb: int,
    mean_duration_seconds: float,
    *,
    provisioned_concurrency: int | None = None,
    monthly_invocations: int | None = None,
) -> ServerlessCost:
    """The cost of a serverless variant of ``memory_mb`` whose invocations last ``mean_duration_seconds`` on average.

    An invocation costs the per-second price of the configured memory size times its duration. With
    ``provisioned_concurrency``, invocations are taken to be served by it (the reason to provision it), so at its
    inference rate, and its units are charged every hour; spill-over beyond it, billed on demand, is not estimated.
    The monthly cost needs ``monthly_invocations``.
    """
    if provisioned_concurrency is None:
        per_second = table.serverless_usd_per_second.get(region, {}).get(memory_mb)
        provisioned_hourly = None
    else:
        per_second = table.provisioned_inference_usd_per_second.get(region, {}).get(memory_mb)
        unit_per_second = table.provisioned_concurrency_usd_per_second.get(region, {}).get(memory_mb)
        provisioned_hourly = (
            None if unit_per_second is None else unit_per_second * SECONDS_PER_HOUR * provisioned_concurrency
        )
    per_invocation = None if per_second is None else per_second * mean_duration_seconds
    provisioned_known = provisioned_concurrency is None or provisioned_hourly is not None
    monthly = (
        None
        if monthly_invocations is None or per_invocation is None or not provisioned_known
        else monthly_invocations * per_invocation + (provisioned_hourly or 0.0) * HOURS_PER_MONTH
    )
    return ServerlessCost(per_invocation, provisioned_hourly, monthly)


def comparable_instance(table: PriceTable, region: str, memory_mb: int) -> tuple[str, float] | None:
    """The real-time instance comparable to a serverless variant of ``memory_mb``: the cheapest instance type of the
    region with at least that memory, with its hourly price; None when the table knows none (instance types whose
    memory it lacks are not candidates)."""
    candidates = [
        (price, instance_type)
        for instance_type, price in table.hourly_usd.get(region, {}).items()
        if table.instance_memory_gib.get(instance_type, 0.0) * MEGABYTES_PER_GIBIBYTE >= memory_mb
    ]
    if not candidates:
        return None
    price, instance_type = min(candidates)
    return instance_type, price


def break_even_monthly_invocations(
    instance_hourly_usd: float | None,
    serverless_per_invocation_usd: float | None,
    provisioned_hourly_usd: float | None = None,
) -> float | None:
    """The monthly invocations above which an always-on instance is cheaper than the serverless variant.

    As AWS's serverless inference benchmarking toolkit reports it (sagemaker-serverless-inference-benchmarking: the
    comparable instance's monthly cost divided by the serverless cost per invocation), with the provisioned
    concurrency's monthly charge, which serverless pays whatever the volume, taken off the instance's side first; a
    month is 730 hours here (the toolkit counts 24 x 30). 0 when the provisioned concurrency alone costs as much as
    the instance; None when a price is unknown, or when invocations cost nothing (no volume makes the instance
    cheaper).
    """
    if instance_hourly_usd is None or serverless_per_invocation_usd is None:
        return None
    headroom = (instance_hourly_usd - (provisioned_hourly_usd or 0.0)) * HOURS_PER_MONTH
    if headroom <= 0:
        return 0.0
    if serverless_per_invocation_usd <= 0:
        return None
    return headroom / serverless_per_invocation_usd


def load(path: Path | None = None) -> PriceTable:
    """The table at ``path``, or the bundled one."""
    text = (
        path.read_text(encoding="utf-8")
        if path is not None
        else resources.files("lowlatency").joinpath("data/prices.json").read_text(encoding="utf-8")
    )
    return parse(json.loads(text), str(path or "the bundled price table"))


def parse(document: Any, origin: str) -> PriceTable:
    try:
        regions = document["regions"]
        hourly = {
            str(region): {str(instance): _price(price) for instance, price in prices.items()}
            for region, prices in regions.items()
        }
        serverless, provisioned, provisioned_inference = (
            _by_memory_size(document.get(key, {})) for key in SERVERLESS_KEYS
        )
        return PriceTable(
            source=str(document["source"]),
            compiled=datetime.date.fromisoformat(document["compiled"]),
            hourly_usd=hourly,
            serverless_usd_per_second=serverless,
            provisioned_concurrency_usd_per_second=provisioned,
            provisioned_inference_usd_per_second=provisioned_inference,
            instance_memory_gib={
                str(instance): _price(gibibytes) for instance, gibibytes in document.get(MEMORY, {}).items()
            },
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise PriceTableError(
            f"{origin}: expected source, compiled (YYYY-MM-DD), regions.<region>.<instance type>: price and "
            f"optionally {', '.join(f'{key}.<region>.<memory size in MB>: price' for key in SERVERLESS_KEYS)}, "
            f"{MEMORY}.<instance type>: GiB ({error})"
        ) from None


def _by_memory_size(prices: Any) -> dict[str, dict[int, float]]:
    return {
        str(region): {int(megabytes): _price(price) for megabytes, price in by_size.items()}
        for region, by_size in prices.items()
    }


def _price(value: Any) -> float:
    price = float(value)
    if not price >= 0:  # also refuses NaN
        raise ValueError(f"{value!r} is not a price")
    return price
