"""What SageMaker inference costs: a bundled, dated table of on-demand prices.

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
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from lowlatency import api

SECONDS_PER_HOUR = 3600
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


def status_cost(
    table: PriceTable, instance_type: str, instance_count: int, region: str, throughput_rps: float | None
) -> api.Cost:
    """status.cost: the live instances' hourly cost, and what a million invocations cost at the measured rate."""
    hourly = table.hourly_cost(instance_type, instance_count, region)
    per_million = (
        None if hourly is None or throughput_rps is None else cost_per_million_invocations(hourly, throughput_rps)
    )
    return api.Cost(hourly_usd=hourly, per_million_invocations_usd=per_million)


def cost_per_million_invocations(hourly_usd: float, throughput_rps: float) -> float | None:
    """What a million invocations cost when the instances serve ``throughput_rps`` all hour; None at no throughput."""
    if throughput_rps <= 0:
        return None
    return hourly_usd / (throughput_rps * SECONDS_PER_HOUR) * 1_000_000


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
