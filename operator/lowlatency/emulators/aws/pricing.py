"""The AWS Price List Query API (service ``pricing``), which moto does not serve: GetProducts from an offer file.

What the real API does, and what is modelled:

- It is served in us-east-1, eu-central-1 and ap-south-1 only (botocore's endpoints, ``api.pricing``), over the JSON
  1.1 protocol with target prefix ``AWSPriceListService`` (botocore ``pricing`` service model). A client reaches the
  emulator by its URL whatever its region, so the missing endpoints of other regions are not modelled; the command
  that calls it builds its client for one of the three.
- **GetProducts** (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html)
  returns the products of ``ServiceCode`` that match every filter
  (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_Filter.html,
  botocore pricing Filter.Type): ``Field`` is ``ServiceCode``, ``productFamily`` or an attribute name;
  ``TERM_MATCH`` and ``EQUALS`` match the value exactly, ``CONTAINS`` as a substring. ``ANY_OF`` and ``NONE_OF``
  are refused with InvalidParameterException here: how their lists of values are written is not documented, so they
  are not modelled.
- The answer is ``{"FormatVersion": "aws_v1", "PriceList": [...], "NextToken": ...}``; each PriceList entry is a
  JSON *string* of one product: ``product`` (``productFamily``, ``attributes``, ``sku``), ``serviceCode``, ``terms``
  (each term type of the offer that has the SKU, e.g. ``OnDemand``), ``version`` and ``publicationDate``
  (botocore pricing GetProductsResponse.PriceList, and the GetProducts example of botocore's pricing examples).
  The products are those of an offer file in AWS's bulk format
  (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html).
- Pages of ``MaxResults`` (botocore pricing GetProductsRequest.MaxResults: 1-100; 100 without it, as AWS documents
  no default) chained by ``NextToken``; a token the emulator did not issue for the same query is
  InvalidNextTokenException (botocore pricing InvalidNextTokenException).
- A ``FormatVersion`` other than ``aws_v1`` is InvalidParameterException
  (botocore pricing GetProductsRequest.FormatVersion, botocore pricing InvalidParameterException), a service code the
  emulator holds no offer for NotFoundException (botocore pricing NotFoundException). AWS's exact message texts are
  not known: the messages are of AWS's shape.

Tests give the offer: ``with aws.pricing.serving(offer_file): ...``; outside it the offer is gone again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from lowlatency.emulators.aws.gateway import ApiRequest, Gateway, PassThrough, Reply, ServiceError, json_reply

SERVICE: Final = "pricing"
FORMAT_VERSION: Final = "aws_v1"
PAGE_SIZE: Final = 100
_EXACT: Final = frozenset({"TERM_MATCH", "EQUALS"})


@dataclass(frozen=True)
class _Product:
    service_code: str
    family: str | None
    attributes: Mapping[str, str]
    entry: str
    """The PriceList entry GetProducts answers for it."""

    def field(self, name: str) -> str | None:
        if name == "ServiceCode":
            return self.service_code
        if name == "productFamily":
            return self.family
        return self.attributes.get(name)


def products_of(offer: Mapping[str, Any]) -> list[_Product]:
    """Each product of an offer file, with its PriceList entry."""
    products: list[_Product] = []
    for sku, product in offer["products"].items():
        entry = {
            "product": product,
            "serviceCode": offer["offerCode"],
            "terms": {kind: by_sku[sku] for kind, by_sku in offer["terms"].items() if sku in by_sku},
            "version": offer["version"],
            "publicationDate": offer["publicationDate"],
        }
        products.append(
            _Product(offer["offerCode"], product.get("productFamily"), product["attributes"], json.dumps(entry))
        )
    return products


class PriceListApi:
    """GetProducts of the Price List Query API, answered from the offer files being served."""

    def __init__(self, gateway: Gateway) -> None:
        self._lock = threading.Lock()
        self._products: dict[str, list[_Product]] = {}
        gateway.route(SERVICE, "GetProducts", self._get_products)

    @contextmanager
    def serving(self, offer_file: Path) -> Iterator[None]:
        """Serve the products of an offer file (its ``offerCode``) while the block runs."""
        offer = json.loads(offer_file.read_text(encoding="utf-8"))
        code = str(offer["offerCode"])
        with self._lock:
            previous = self._products.get(code)
            self._products[code] = products_of(offer)
        try:
            yield
        finally:
            with self._lock:
                if previous is None:
                    self._products.pop(code, None)
                else:
                    self._products[code] = previous

    def _get_products(self, request: ApiRequest, _pass_through: PassThrough) -> Reply:
        params = request.params
        format_version = params.get("FormatVersion", FORMAT_VERSION)
        if format_version != FORMAT_VERSION:
            raise ServiceError("InvalidParameterException", f"Unsupported FormatVersion: {format_version}")
        code = str(params["ServiceCode"])
        filters = list(params.get("Filters", []))
        for entry in filters:
            if entry["Type"] not in _EXACT | {"CONTAINS"}:
                raise ServiceError(
                    "InvalidParameterException", f"Filter type {entry['Type']} is not supported by the AWS emulator"
                )
        with self._lock:
            products = self._products.get(code)
        if products is None:
            raise ServiceError("NotFoundException", f"Could not find service code: {code}")
        matching = [product.entry for product in products if all(_matches(product, entry) for entry in filters)]
        query = hashlib.sha256(json.dumps([code, filters], sort_keys=True).encode()).hexdigest()[:16]
        start = _offset(params.get("NextToken"), query)
        end = start + int(params.get("MaxResults", PAGE_SIZE))
        answer: dict[str, Any] = {"FormatVersion": FORMAT_VERSION, "PriceList": matching[start:end]}
        if end < len(matching):
            answer["NextToken"] = base64.b64encode(f"{query}:{end}".encode()).decode()
        return json_reply(answer)


def _matches(product: _Product, entry: Mapping[str, str]) -> bool:
    value = product.field(entry["Field"])
    if value is None:
        return False
    return value == entry["Value"] if entry["Type"] in _EXACT else entry["Value"] in value


def _offset(token: str | None, query: str) -> int:
    if token is None:
        return 0
    try:
        issued_for, _, offset = base64.b64decode(token, validate=True).decode().partition(":")
        if issued_for == query:
            return int(offset)
    except ValueError:
        pass
    raise ServiceError("InvalidNextTokenException", "The pagination token is invalid. Try again without it.")
