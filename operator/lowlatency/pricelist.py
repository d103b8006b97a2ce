"""The price table from AWS's own data: what ``lowlatency-operator prices`` reads and writes.

Two sources give the same products in the same shape: the bulk offer file of the ``AmazonSageMaker`` offer
(``https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonSageMaker/current/index.json`` for every region,
``.../current/<region>/index.json`` for one), and the Price List Query API's GetProducts for service code
``AmazonSageMaker``.

The offer file (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html)
is one JSON object: ``offerCode``, ``version``, ``publicationDate``, ``products`` (SKU -> ``sku``, ``productFamily``,
``attributes``) and ``terms`` (``OnDemand`` -> SKU -> term code -> ``priceDimensions`` -> rate code -> ``unit``,
``pricePerUnit.USD``). The file of every region is large, so it is streamed (ijson) twice: products first, then the
on-demand terms of the products kept; neither section is held whole.

GetProducts (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html) is
served in us-east-1, eu-central-1 and ap-south-1 (botocore's endpoints, ``api.pricing``), paginated, and answers
each product as a JSON string of ``product``, ``serviceCode``, ``terms``, ``version`` and ``publicationDate``
(botocore pricing GetProductsResponse.PriceList, and the GetProducts example of botocore's pricing examples).

What is kept, by the attributes AWS publishes for SageMaker (the names public readers of this offer use too:
awslabs/llmeter's hosting price look-up filters ``component`` ``Hosting`` and ``instanceName``; vantage-sh's
ec2instances.info reads ``instanceType`` as ``<instance>-<component>`` and skips Outposts locations):

- real-time inference instance-hours: product family ``ML Instance`` and ``component`` ``Hosting`` (notebooks,
  training, processing, ... are other components), whose usage type is ``<region prefix>-Host:<instance type>``
  (``USE1-Host:ml.c5.xlarge``) with ``instanceName`` the instance type, one on-demand price per ``Hrs``. Only
  instance types a real-time endpoint accepts are kept: those of botocore's ``sagemaker``
  ProductionVariantInstanceType enum (botocore sagemaker ProductionVariantInstanceType; ``ml.t3.*`` is not one).
  The product's ``memory`` attribute (``8 GiB``) is kept per instance type, to find the real-time instance
  comparable to a serverless variant (:func:`lowlatency.pricing.comparable_instance`);
- serverless inference compute: product family ``ML Serverless``, usage type
  ``<region prefix>-ServerlessInf:Mem-<N>GB``, one on-demand price per second for endpoints of N GB of memory,
  kept by memory size in MB as an endpoint config gives it
  (botocore sagemaker ProductionVariantServerlessConfig.MemorySizeInMB).
  Serverless inference is billed per millisecond of compute and per GB of data processed, with no charge per
  request (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html); data processing is not kept;
- serverless inference with provisioned concurrency: "you pay for the compute capacity used to process inference
  requests, billed by the millisecond, and the amount of data processed. You also pay for Provisioned Concurrency
  usage, based on the memory configured, duration provisioned, and the amount of concurrency enabled" (the same
  page). Two more ``ML Serverless`` products per memory size, told apart by their ``group``:
  ``ServerlessProvisionedConcurrency-Usage`` (usage type ``<region prefix>-ProvisionedConcurrency:Usage-<N>GB``),
  a second of one unit of provisioned concurrency, and ``ServerlessProvisionedConcurrency-Duration`` (usage type
  ``<region prefix>-ProvisionedConcurrency:Mem-<N>GB``), a second of inference served by it. AWS documents neither
  attribute value; they are those that public readers of this offer select on (infracost's SageMaker endpoint
  configuration resource filters both groups with these usage types), and a product of one of the groups whose
  usage type disagrees stops the command;
- only locations of type ``AWS Region``, keyed by ``regionCode``.

A product that matches but cannot be read as meant (a hosting product whose usage type is not
``Host:<its instanceName>`` or whose memory is not ``<number> GiB``, a provisioned concurrency product whose usage
type is not its group's, no on-demand term, several price dimensions, another unit, a price that is not a number,
two prices for one instance type and region, two memory sizes for one instance type) stops the command with the SKU
named: a table is never built from a source read wrongly.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final, Literal

import boto3
import botocore.config
import botocore.session
import ijson  # type: ignore[import-untyped]

from lowlatency.desired import endpoint_instance_types

SERVICE_CODE: Final = "AmazonSageMaker"
FORMAT_VERSION: Final = "aws_v1"
HOSTING_FAMILY: Final = "ML Instance"
HOSTING_COMPONENT: Final = "Hosting"
SERVERLESS_FAMILY: Final = "ML Serverless"
PROVISIONED_GROUP: Final = "ServerlessProvisionedConcurrency-Usage"
PROVISIONED_INFERENCE_GROUP: Final = "ServerlessProvisionedConcurrency-Duration"
REGION_LOCATION: Final = "AWS Region"
HOSTING_USAGE: Final = re.compile(r"(?:^|-)Host:(?P<instance>ml\.[a-z0-9-]+\.[a-z0-9]+)$")
PROVISIONED_USAGE_TYPES: Final = {
    PROVISIONED_GROUP: "ProvisionedConcurrency:Usage",
    PROVISIONED_INFERENCE_GROUP: "ProvisionedConcurrency:Mem",
}
MEMORY: Final = re.compile(r"^(?P<gibibytes>[0-9]+(?:\.[0-9]+)?) GiB$")
HOUR_UNITS: Final = frozenset({"hrs"})
SECOND_UNITS: Final = frozenset({"second", "seconds"})
MEGABYTES_PER_GIGABYTE: Final = 1024

DESCRIPTION: Final = (
    "On-demand prices of Amazon SageMaker AI inference from AWS's Price List (USD, Linux, no Savings Plans): "
    "regions.<region>.<instance type> is a real-time inference instance-hour, "
    "serverlessPerSecondUsd.<region>.<memory size in MB> a second of serverless inference compute, "
    "serverlessProvisionedConcurrencyPerSecondUsd.<region>.<memory size in MB> a second of one provisioned "
    "concurrency, serverlessProvisionedInferencePerSecondUsd.<region>.<memory size in MB> a second of inference on "
    "provisioned concurrency; instanceMemoryGiB.<instance type> is the memory of an instance type."
)
NOTE: Final = (
    "Built by `lowlatency-operator prices` from the source above. Real-time: product family 'ML Instance', component "
    "'Hosting', usage type <region prefix>-Host:<instance type>, only instance types real-time endpoints accept "
    "(botocore sagemaker ProductionVariantInstanceType). Serverless: product family 'ML Serverless', usage type "
    "<region prefix>-ServerlessInf:Mem-<N>GB; provisioned concurrency: groups ServerlessProvisionedConcurrency-Usage "
    "(<region prefix>-ProvisionedConcurrency:Usage-<N>GB) and ServerlessProvisionedConcurrency-Duration "
    "(<region prefix>-ProvisionedConcurrency:Mem-<N>GB); serverless inference has no per-request charge, and the "
    "data it processes (per GB) is not in this table. Instance memory: the 'memory' attribute of the hosting "
    "products. A price the table lacks leaves status.cost unknown."
)

Kind = Literal["hosting", "serverless", "provisioned", "provisioned-inference"]
KIND_OF_GROUP: Final[dict[str, Kind]] = {
    PROVISIONED_GROUP: "provisioned",
    PROVISIONED_INFERENCE_GROUP: "provisioned-inference",
}


class PriceListError(ValueError):
    """A source that is not an AmazonSageMaker offer the command can read, or that it cannot price."""


@dataclass(frozen=True)
class Line:
    """A product the table keeps: what it prices, where."""

    kind: Kind
    region: str
    key: str
    """The instance type (hosting) or the memory size in MB (the serverless kinds)."""
    usage_type: str
    memory_gib: Decimal | None = None
    """The instance type's memory (hosting), when the product gives it."""


@dataclass
class Offer:
    """The prices read from one source, with the offer's version and publication date."""

    source: str
    version: str = ""
    publication_date: str = ""
    hourly_usd: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    serverless_usd_per_second: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    provisioned_usd_per_second: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    """Region, then memory size in MB, to USD per second of one provisioned concurrency."""
    provisioned_inference_usd_per_second: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    """Region, then memory size in MB, to USD per second of inference served by provisioned concurrency."""
    memory_gib: dict[str, Decimal] = field(default_factory=dict)
    """Instance type to its memory in GiB, for the instance types priced."""
    dropped: set[str] = field(default_factory=set)
    """Hosting instance types left out: real-time endpoints do not accept them."""
    _priced_by: dict[tuple[Kind, str, str], str] = field(default_factory=dict)
    _memory_from: dict[str, str] = field(default_factory=dict)

    def prices(self, kind: Kind) -> dict[str, dict[str, Decimal]]:
        """The prices of one kind of line, by region then key."""
        return {
            "hosting": self.hourly_usd,
            "serverless": self.serverless_usd_per_second,
            "provisioned": self.provisioned_usd_per_second,
            "provisioned-inference": self.provisioned_inference_usd_per_second,
        }[kind]

    def record(self, sku: str, line: Line, price: Decimal) -> None:
        prices = self.prices(line.kind)
        known = prices.setdefault(line.region, {}).get(line.key)
        if known is not None and known != price:
            other = self._priced_by[(line.kind, line.region, line.key)]
            raise PriceListError(
                f"{self.source}: SKUs {other} and {sku} give {line.key} in {line.region} two prices "
                f"({known} and {price} USD)"
            )
        prices[line.region][line.key] = price
        self._priced_by[(line.kind, line.region, line.key)] = sku
        if line.memory_gib is not None:
            self._record_memory(sku, line.key, line.memory_gib)

    def _record_memory(self, sku: str, instance_type: str, gibibytes: Decimal) -> None:
        known = self.memory_gib.get(instance_type)
        if known is not None and known != gibibytes:
            raise PriceListError(
                f"{self.source}: SKUs {self._memory_from[instance_type]} and {sku} give {instance_type} two memory "
                f"sizes ({known} and {gibibytes} GiB)"
            )
        self.memory_gib[instance_type] = gibibytes
        self._memory_from[instance_type] = sku


def _per_memory_size(usage: str) -> re.Pattern[str]:
    """Usage types ``<region prefix>-<usage>-<N>GB``, one per serverless memory size."""
    return re.compile(rf"(?:^|-){re.escape(usage)}-(?P<gigabytes>[1-9][0-9]*)GB$")


SERVERLESS_USAGE: Final = _per_memory_size("ServerlessInf:Mem")


def classify(source: str, sku: str, product: Any) -> Line | None:
    """The line the table keeps for this product, or None for what it does not price."""
    if not isinstance(product, dict) or not isinstance(product.get("attributes"), dict):
        raise PriceListError(f"{source}: product {sku} has no attributes")
    attributes: dict[str, Any] = product["attributes"]
    family = product.get("productFamily")
    usage_type = str(attributes.get("usagetype", ""))
    if attributes.get("locationType") != REGION_LOCATION:
        return None
    if family == HOSTING_FAMILY and attributes.get("component") == HOSTING_COMPONENT:
        # The component selects real-time hosting; its usage type must agree, or the offer is not read as meant.
        hosting = HOSTING_USAGE.search(usage_type)
        instance = attributes.get("instanceName")
        if hosting is None or hosting["instance"] != instance:
            raise PriceListError(
                f"{source}: hosting product {sku}: usage type {usage_type!r} is not <region prefix>-Host:{instance}"
            )
        memory = _memory_gib(source, sku, attributes)
        return Line("hosting", _region(source, sku, attributes), hosting["instance"], usage_type, memory)
    if family != SERVERLESS_FAMILY:
        return None
    group = str(attributes.get("group", ""))
    kind = KIND_OF_GROUP.get(group)
    if kind is not None:
        # The group selects provisioned concurrency; its usage type must agree, or the offer is not read as meant.
        provisioned = _per_memory_size(PROVISIONED_USAGE_TYPES[group]).search(usage_type)
        if provisioned is None:
            raise PriceListError(
                f"{source}: product {sku} of group {group}: usage type {usage_type!r} is not "
                f"<region prefix>-{PROVISIONED_USAGE_TYPES[group]}-<N>GB"
            )
        return Line(kind, _region(source, sku, attributes), _megabytes(provisioned), usage_type)
    serverless = SERVERLESS_USAGE.search(usage_type)
    if serverless is None:
        return None
    return Line("serverless", _region(source, sku, attributes), _megabytes(serverless), usage_type)


def _megabytes(usage: re.Match[str]) -> str:
    """The memory size in MB, as an endpoint config gives it, of a usage type's ``<N>GB``."""
    return str(int(usage["gigabytes"]) * MEGABYTES_PER_GIGABYTE)


def _memory_gib(source: str, sku: str, attributes: dict[str, Any]) -> Decimal | None:
    """A hosting product's ``memory`` (``8 GiB``) in GiB; None when the product does not give it."""
    text = attributes.get("memory")
    if text is None:
        return None
    memory = MEMORY.match(str(text))
    if memory is None:
        raise PriceListError(f"{source}: hosting product {sku}: memory {text!r} is not '<number> GiB'")
    return Decimal(memory["gibibytes"])


def _region(source: str, sku: str, attributes: dict[str, Any]) -> str:
    region = attributes.get("regionCode")
    if not isinstance(region, str) or not region:
        raise PriceListError(f"{source}: product {sku} (usage type {attributes.get('usagetype')}) has no regionCode")
    return region


def on_demand_price(source: str, sku: str, line: Line, terms: Any) -> Decimal:
    """The USD price of a kept product's one on-demand price dimension, in the unit its kind is priced in."""
    where = f"{source}: product {sku} (usage type {line.usage_type})"
    if not isinstance(terms, dict) or len(terms) != 1:
        raise PriceListError(f"{where} has {len(terms) if isinstance(terms, dict) else 'no'} on-demand terms, not 1")
    term = next(iter(terms.values()))
    dimensions = term.get("priceDimensions") if isinstance(term, dict) else None
    if not isinstance(dimensions, dict) or len(dimensions) != 1:
        raise PriceListError(f"{where}: expected one price dimension in its on-demand term")
    dimension = next(iter(dimensions.values()))
    units = HOUR_UNITS if line.kind == "hosting" else SECOND_UNITS
    unit = str(dimension.get("unit", ""))
    if unit.lower() not in units:
        raise PriceListError(f"{where} is priced per {unit!r}, expected one of {sorted(units)}")
    text = (dimension.get("pricePerUnit") or {}).get("USD")
    try:
        price = Decimal(str(text))
    except InvalidOperation:
        raise PriceListError(f"{where}: pricePerUnit.USD {text!r} is not a number") from None
    if not price.is_finite() or price < 0:
        raise PriceListError(f"{where}: pricePerUnit.USD {text!r} is not a price")
    return price


class _Selection:
    """Keeps the lines of the wanted regions, and the hosting instance types endpoints accept."""

    def __init__(self, offer: Offer, regions: Sequence[str]) -> None:
        self.offer = offer
        self.regions = frozenset(regions)
        self.instance_types = endpoint_instance_types()

    def line(self, sku: str, product: Any) -> Line | None:
        line = classify(self.offer.source, sku, product)
        if line is None or (self.regions and line.region not in self.regions):
            return None
        if line.kind == "hosting" and line.key not in self.instance_types:
            self.offer.dropped.add(line.key)
            return None
        return line

    def finish(self) -> Offer:
        if not self.offer.hourly_usd:
            wanted = f" in {', '.join(sorted(self.regions))}" if self.regions else ""
            raise PriceListError(f"{self.offer.source}: no real-time inference instance prices{wanted}")
        return self.offer


_HEADER: Final = ("offerCode", "version", "publicationDate")


def from_offer_file(path: Path, regions: Sequence[str] = ()) -> Offer:
    """The prices of an AmazonSageMaker offer file, of ``regions`` (all when empty), read as a stream."""
    selection = _Selection(Offer(f"AWS Price List offer file {path}"), regions)
    header: dict[str, Any] = {}
    seen: set[str] = set()
    kept: dict[str, Line] = {}
    try:
        with path.open("rb") as stream:
            for sku, product in ijson.kvitems(_watch(ijson.parse(stream), header, seen), "products"):
                line = selection.line(str(sku), product)
                if line is not None:
                    kept[str(sku)] = line
        _check_header(selection.offer, header, seen)
        with path.open("rb") as stream:
            for sku, terms in ijson.kvitems(_watch(ijson.parse(stream), {}, seen), "terms.OnDemand"):
                line = kept.pop(str(sku), None)
                if line is not None:
                    selection.offer.record(str(sku), line, on_demand_price(selection.offer.source, sku, line, terms))
    except ijson.JSONError as error:
        raise PriceListError(f"{path}: not a complete JSON document ({str(error).splitlines()[0]})") from None
    if "terms.OnDemand" not in seen:
        raise PriceListError(f"{path}: no terms.OnDemand object (not an offer file?)")
    if kept:
        sku, line = next(iter(kept.items()))
        raise PriceListError(f"{path}: product {sku} (usage type {line.usage_type}) has no on-demand term")
    return selection.finish()


def _watch(
    events: Iterable[tuple[str, str, Any]], header: dict[str, Any], seen: set[str]
) -> Iterator[tuple[str, str, Any]]:
    """Pass the parser's events on, noting the offer's header fields and the objects that were there."""
    for prefix, event, value in events:
        if prefix in _HEADER and event == "string":
            header[prefix] = value
        elif event == "start_map" and prefix in {"products", "terms.OnDemand"}:
            seen.add(prefix)
        yield prefix, event, value


def _check_header(offer: Offer, header: dict[str, Any], seen: set[str]) -> None:
    if "products" not in seen:
        raise PriceListError(f"{offer.source}: no products object (not an offer file?)")
    if header.get("offerCode") != SERVICE_CODE:
        raise PriceListError(f"{offer.source}: offerCode is {header.get('offerCode')!r}, not {SERVICE_CODE!r}")
    for name in ("version", "publicationDate"):
        if not header.get(name):
            raise PriceListError(f"{offer.source}: the offer has no {name}")
    offer.version, offer.publication_date = header["version"], header["publicationDate"]
    _publication_day(offer)


def _publication_day(offer: Offer) -> datetime.date:
    try:
        return datetime.datetime.fromisoformat(offer.publication_date).date()
    except ValueError:
        raise PriceListError(f"{offer.source}: publicationDate {offer.publication_date!r} is not a date") from None


def pricing_client(region: str) -> Any:
    """A Price List Query API client; boto3 reads credentials and AWS_ENDPOINT_URL(_PRICING) as usual."""
    config = botocore.config.Config(retries={"mode": "adaptive", "max_attempts": 10}, user_agent_extra="lowlatency")
    return boto3.client("pricing", region_name=region, config=config)


def from_pricing_api(client: Any, regions: Sequence[str] = ()) -> Offer:
    """The prices GetProducts answers for service code AmazonSageMaker, of ``regions`` (all when empty)."""
    selection = _Selection(Offer(f"AWS Price List Query API GetProducts at {client.meta.endpoint_url}"), regions)
    families = [
        [_term_match("productFamily", HOSTING_FAMILY), _term_match("component", HOSTING_COMPONENT)],
        [_term_match("productFamily", SERVERLESS_FAMILY)],
    ]
    published: list[tuple[str, str]] = []
    scopes: list[str | None] = [*regions] or [None]
    for filters in families:
        for region in scopes:
            region_filter = [] if region is None else [_term_match("regionCode", region)]
            pages = client.get_paginator("get_products").paginate(
                ServiceCode=SERVICE_CODE, Filters=filters + region_filter, FormatVersion=FORMAT_VERSION
            )
            for page in pages:
                for text in page["PriceList"]:
                    published.append(_price_list_item(selection, text))
    if published:
        selection.offer.publication_date, selection.offer.version = max(published)
        _publication_day(selection.offer)
    return selection.finish()


def _term_match(name: str, value: str) -> dict[str, str]:
    return {"Type": "TERM_MATCH", "Field": name, "Value": value}


def _price_list_item(selection: _Selection, text: str) -> tuple[str, str]:
    """Keep one GetProducts answer's product; its (publicationDate, version)."""
    source = selection.offer.source
    try:
        item = json.loads(text)
        product, sku = item["product"], str(item["product"]["sku"])
        published = (str(item["publicationDate"]), str(item["version"]))
    except (ValueError, KeyError, TypeError) as error:
        raise PriceListError(f"{source}: a PriceList entry is not a product of the aws_v1 format ({error})") from None
    if item.get("serviceCode") != SERVICE_CODE:
        raise PriceListError(f"{source}: product {sku} is of service {item.get('serviceCode')!r}")
    line = selection.line(sku, product)
    if line is not None:
        terms = (item.get("terms") or {}).get("OnDemand")
        if not terms:
            raise PriceListError(f"{source}: product {sku} (usage type {line.usage_type}) has no on-demand term")
        selection.offer.record(sku, line, on_demand_price(source, sku, line, terms))
    return published


def table_document(offer: Offer, note: str | None = None) -> dict[str, Any]:
    """The price table the operator reads (``lowlatency.pricing``), regions and keys in a stable order."""
    return {
        "description": DESCRIPTION,
        "source": offer.source,
        "compiled": _publication_day(offer).isoformat(),
        "offerVersion": offer.version,
        "publicationDate": offer.publication_date,
        "note": NOTE if not note else f"{NOTE} {note}",
        "currency": "USD",
        "regions": _sorted_prices(offer.hourly_usd),
        "serverlessPerSecondUsd": _sorted_prices(offer.serverless_usd_per_second),
        "serverlessProvisionedConcurrencyPerSecondUsd": _sorted_prices(offer.provisioned_usd_per_second),
        "serverlessProvisionedInferencePerSecondUsd": _sorted_prices(offer.provisioned_inference_usd_per_second),
        "instanceMemoryGiB": {name: float(offer.memory_gib[name]) for name in sorted(offer.memory_gib, key=_natural)},
    }


def _sorted_prices(prices: dict[str, dict[str, Decimal]]) -> dict[str, dict[str, float]]:
    return {
        region: {key: float(prices[region][key]) for key in sorted(prices[region], key=_natural)}
        for region in sorted(prices)
    }


def _natural(key: str) -> tuple[Any, ...]:
    """ml.c5.2xlarge before ml.c5.18xlarge, 2048 before 10240."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key))


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"
