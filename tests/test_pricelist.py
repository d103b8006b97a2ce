"""`lowlatency-operator prices`: the price table built from AWS's Price List, from an offer file or GetProducts.

``tests/data/sagemaker-offer-excerpt.json`` is a small excerpt in AWS's offer-file format, assembled for these tests:
real-time hosting instance types in us-east-1 and us-west-2 (with their memory), an ``ml.t3.medium`` hosting line
(real-time endpoints do not accept ``ml.t3``), a notebook, a training and a hosting-storage product that must be left
out, serverless inference lines, and the two lines of serverless inference with provisioned concurrency for three
memory sizes in us-east-1. Its prices are AWS's published us-east-1 and us-west-2 on-demand rates; those of provisioned
concurrency ($0.0000048 per second of provisioned concurrency and $0.000014 per second of inference on it for each GB
of memory) are those of AWS's SageMaker pricing page as recalled, not read from a downloaded offer file: a table built
with ``lowlatency-operator prices --source api`` has the current ones. The bundled table is the command's output on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest

from lowlatency import cli, pricelist, pricing
from lowlatency.emulators.aws import AwsEmulator, boto3_settings

REPO = Path(__file__).resolve().parent.parent
EXCERPT = Path("tests/data/sagemaker-offer-excerpt.json")
BUNDLED = REPO / "operator" / "lowlatency" / "data" / "prices.json"
BUNDLED_NOTE = (
    "This bundled table is built from a small excerpt in AWS's offer-file format, assembled for the tests: a few "
    "products of us-east-1 and us-west-2 at AWS's published on-demand rates (those of serverless provisioned "
    "concurrency as AWS's SageMaker pricing page gives them, not read from an offer file), with a version and "
    "publication date of its own. It is not a complete or current price list: build one for your regions with "
    "`lowlatency-operator prices --source api` (or from a downloaded offer file) and pass it with --prices."
)
NEW_BY_MEMORY_SIZE = ("serverlessProvisionedConcurrencyPerSecondUsd", "serverlessProvisionedInferencePerSecondUsd")
REGENERATE = ["prices", "--source", str(EXCERPT), "--note", BUNDLED_NOTE, "--output", str(BUNDLED.relative_to(REPO))]


def excerpt() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((REPO / EXCERPT).read_text())
    return document


def sku_of(usage_type: str) -> str:
    return next(
        sku for sku, product in excerpt()["products"].items() if product["attributes"]["usagetype"] == usage_type
    )


def published_price(usage_type: str) -> float:
    """The excerpt's on-demand USD price of the product with this usage type, read straight from the JSON."""
    sku = sku_of(usage_type)
    (term,) = excerpt()["terms"]["OnDemand"][sku].values()
    (dimension,) = term["priceDimensions"].values()
    return float(dimension["pricePerUnit"]["USD"])


def memory_gib(usage_type: str) -> float:
    """The excerpt's ``memory`` attribute (``8 GiB``) of the hosting product with this usage type, in GiB."""
    number, unit = excerpt()["products"][sku_of(usage_type)]["attributes"]["memory"].split()
    assert unit == "GiB"
    return float(number)


def endpoint_instance_types() -> set[str]:
    shape: Any = boto3.client("sagemaker", region_name="us-east-1").meta.service_model.shape_for(
        "ProductionVariantInstanceType"
    )
    return set(shape.enum)


def test_real_time_hosting_and_serverless_prices_are_kept_with_their_offer_date() -> None:
    offer = pricelist.from_offer_file(REPO / EXCERPT)
    table = pricing.parse(pricelist.table_document(offer), "the command's output")
    assert {region: set(prices) for region, prices in table.hourly_usd.items()} == {
        "us-east-1": {"ml.c5.xlarge", "ml.m5.large", "ml.g4dn.xlarge", "ml.g6e.2xlarge", "ml.t2.medium"},
        "us-west-2": {"ml.c5.xlarge", "ml.g5.2xlarge"},
    }
    assert table.price("ml.c5.xlarge", "us-east-1") == published_price("USE1-Host:ml.c5.xlarge")
    assert table.price("ml.g5.2xlarge", "us-west-2") == published_price("USW2-Host:ml.g5.2xlarge")
    assert table.serverless_usd_per_second == {
        "us-east-1": {
            gigabytes * 1024: published_price(f"USE1-ServerlessInf:Mem-{gigabytes}GB") for gigabytes in (1, 2, 3, 6)
        },
        "us-west-2": {4096: published_price("USW2-ServerlessInf:Mem-4GB")},
    }
    assert (offer.version, offer.publication_date) == (excerpt()["version"], excerpt()["publicationDate"])
    assert table.compiled.isoformat() == excerpt()["publicationDate"][:10]
    assert str(REPO / EXCERPT) in table.source


def test_provisioned_concurrency_prices_and_instance_memory_are_kept() -> None:
    """Provisioned concurrency is priced per memory size by two products told apart by their group: a second of one
    unit of provisioned concurrency (ProvisionedConcurrency:Usage-<N>GB) and a second of inference on it
    (ProvisionedConcurrency:Mem-<N>GB); hosting products give the instance type's memory."""
    table = pricing.parse(pricelist.table_document(pricelist.from_offer_file(REPO / EXCERPT)), "the command's output")
    assert table.provisioned_concurrency_usd_per_second == {
        "us-east-1": {gb * 1024: published_price(f"USE1-ProvisionedConcurrency:Usage-{gb}GB") for gb in (1, 2, 6)}
    }
    assert table.provisioned_inference_usd_per_second == {
        "us-east-1": {gb * 1024: published_price(f"USE1-ProvisionedConcurrency:Mem-{gb}GB") for gb in (1, 2, 6)}
    }
    assert table.provisioned_inference_usd_per_second != table.provisioned_concurrency_usd_per_second
    hosting = {"USE1-Host:ml.c5.xlarge", "USE1-Host:ml.m5.large", "USE1-Host:ml.g4dn.xlarge"}
    hosting |= {"USE1-Host:ml.g6e.2xlarge", "USE1-Host:ml.t2.medium", "USW2-Host:ml.g5.2xlarge"}
    assert table.instance_memory_gib == {usage.partition(":")[2]: memory_gib(usage) for usage in hosting}


def test_what_real_time_endpoints_cannot_use_and_other_components_are_left_out() -> None:
    offer = pricelist.from_offer_file(REPO / EXCERPT)
    kept = {name for prices in offer.hourly_usd.values() for name in prices}
    assert "ml.t3.medium" not in kept, "a hosting line of an instance type endpoints refuse (ml.t3)"
    assert offer.dropped == {"ml.t3.medium"}
    assert "ml.p3.2xlarge" not in kept, "a training product (component Training, usage type USE1-Train:)"
    assert all(name.startswith("ml.") and "VolumeUsage" not in name for name in kept), "hosting storage is not kept"
    assert kept <= endpoint_instance_types()


def test_regions_can_be_chosen() -> None:
    offer = pricelist.from_offer_file(REPO / EXCERPT, ["us-west-2"])
    assert set(offer.hourly_usd) == set(offer.serverless_usd_per_second) == {"us-west-2"}
    with pytest.raises(pricelist.PriceListError, match=r"no real-time inference instance prices in eu-west-1"):
        pricelist.from_offer_file(REPO / EXCERPT, ["eu-west-1"])


def _truncated(path: Path) -> None:
    path.write_text((REPO / EXCERPT).read_text()[:5000])


def _edited(change: Any) -> Any:
    def write(path: Path) -> None:
        document = excerpt()
        change(document)
        path.write_text(json.dumps(document))

    return write


def _dimension(document: dict[str, Any], usage_type: str, sku: str | None = None) -> dict[str, Any]:
    sku = sku or next(sku for sku, p in document["products"].items() if p["attributes"]["usagetype"] == usage_type)
    (term,) = document["terms"]["OnDemand"][sku].values()
    (dimension,) = term["priceDimensions"].values()
    return dimension  # type: ignore[no-any-return]


def _without_term(document: dict[str, Any]) -> None:
    del document["terms"]["OnDemand"][sku_of("USE1-Host:ml.c5.xlarge")]


def _copy_of(document: dict[str, Any], usage_type: str, sku: str, usd: str, **attributes: str) -> None:
    """Add a product like the one of ``usage_type``, under another SKU, at another price."""
    original = sku_of(usage_type)
    product = json.loads(json.dumps(document["products"][original]))
    product["sku"] = sku
    product["attributes"].update(attributes)
    document["products"][sku] = product
    terms = json.dumps(document["terms"]["OnDemand"][original]).replace(original, sku)
    document["terms"]["OnDemand"][sku] = json.loads(terms)
    _dimension(document, usage_type, sku)["pricePerUnit"]["USD"] = usd


@pytest.mark.parametrize(
    ("write", "message"),
    [
        pytest.param(_truncated, r"not a complete JSON document", id="truncated"),
        pytest.param(_edited(lambda d: d.update(offerCode="AmazonEC2")), r"offerCode is 'AmazonEC2'", id="other-offer"),
        pytest.param(_edited(lambda d: d.pop("publicationDate")), r"no publicationDate", id="no-date"),
        pytest.param(_edited(lambda d: d.pop("terms")), r"no terms.OnDemand", id="no-terms"),
        pytest.param(
            _edited(_without_term),
            r"product \w+ \(usage type USE1-Host:ml.c5.xlarge\) has no on-demand term",
            id="unpriced",
        ),
        pytest.param(
            _edited(lambda d: d["products"][sku_of("USE1-Host:ml.m5.large")]["attributes"].update(usagetype="Box")),
            r"hosting product \w+: usage type 'Box' is not <region prefix>-Host:ml.m5.large",
            id="hosting-usage-type",
        ),
        pytest.param(
            _edited(lambda d: _dimension(d, "USE1-Host:ml.m5.large")["pricePerUnit"].update(USD="cheap")),
            r"USE1-Host:ml.m5.large\): pricePerUnit.USD 'cheap' is not a number",
            id="price-not-a-number",
        ),
        pytest.param(
            _edited(lambda d: _copy_of(d, "USE1-Host:ml.c5.xlarge", "ZZZZZZZZZZZZZZZZ", "0.3000000000")),
            r"SKUs \w+ and ZZZZZZZZZZZZZZZZ give ml.c5.xlarge in us-east-1 two prices \(0.2040000000 and 0.3000000000",
            id="two-prices",
        ),
        pytest.param(
            _edited(lambda d: _dimension(d, "USE1-Host:ml.m5.large").update(unit="GB-Mo")),
            r"USE1-Host:ml.m5.large\) is priced per 'GB-Mo'",
            id="other-unit",
        ),
        pytest.param(
            _edited(
                lambda d: d["products"][sku_of("USE1-ProvisionedConcurrency:Mem-2GB")]["attributes"].update(
                    usagetype="USE1-ServerlessInf:Mem-2GB"
                )
            ),
            r"of group ServerlessProvisionedConcurrency-Duration: usage type 'USE1-ServerlessInf:Mem-2GB' is not "
            r"<region prefix>-ProvisionedConcurrency:Mem-<N>GB",
            id="provisioned-usage-type",
        ),
        pytest.param(
            _edited(lambda d: d["products"][sku_of("USE1-Host:ml.m5.large")]["attributes"].update(memory="8 GB")),
            r"hosting product \w+: memory '8 GB' is not '<number> GiB'",
            id="memory-unit",
        ),
        pytest.param(
            _edited(
                lambda d: _copy_of(
                    d,
                    "USW2-Host:ml.c5.xlarge",
                    "ZZZZZZZZZZZZZZZZ",
                    "0.2040000000",
                    regionCode="eu-west-1",
                    memory="16 GiB",
                )
            ),
            r"SKUs \w+ and ZZZZZZZZZZZZZZZZ give ml.c5.xlarge two memory sizes \(8 and 16 GiB\)",
            id="two-memory-sizes",
        ),
    ],
)
def test_a_malformed_offer_file_is_refused_naming_what_is_wrong(write: Any, message: str, tmp_path: Path) -> None:
    path = tmp_path / "offer.json"
    write(path)
    with pytest.raises(pricelist.PriceListError, match=message):
        pricelist.from_offer_file(path)


def test_products_outside_aws_regions_are_left_out(tmp_path: Path) -> None:
    """An Outposts product of a region (locationType other than AWS Region) does not price the region."""
    path = tmp_path / "offer.json"
    _edited(
        lambda d: _copy_of(d, "USE1-Host:ml.c5.xlarge", "ZZZZZZZZZZZZZZZZ", "0.3000000000", locationType="AWS Outposts")
    )(path)
    offer = pricelist.from_offer_file(path)
    assert float(offer.hourly_usd["us-east-1"]["ml.c5.xlarge"]) == published_price("USE1-Host:ml.c5.xlarge")


def test_the_command_refuses_a_malformed_offer_file_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, output = tmp_path / "offer.json", tmp_path / "prices.json"
    _truncated(path)
    assert cli.main(["prices", "--source", str(path), "--output", str(output)]) == 1
    assert "not a complete JSON document" in capsys.readouterr().err
    assert not output.exists()


def test_the_bundled_table_is_the_command_output_on_the_excerpt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    output = tmp_path / "prices.json"
    assert cli.main([*REGENERATE[:-1], str(output)]) == 0
    assert "Left out (not instance types of real-time endpoints): ml.t3.medium." in capsys.readouterr().err
    assert output.read_text() == BUNDLED.read_text(), (
        "the bundled table differs from the excerpt's; regenerate it: lowlatency-operator "
        + " ".join(f"'{argument}'" for argument in REGENERATE)
    )
    bundled = pricing.load()
    assert bundled.source == f"AWS Price List offer file {EXCERPT}"
    assert {name for prices in bundled.hourly_usd.values() for name in prices} <= endpoint_instance_types()


def test_a_table_without_serverless_prices_is_read_as_before_and_bad_ones_are_refused() -> None:
    old = {"source": "mine", "compiled": "2026-10-01", "regions": {"us-east-1": {"ml.c5.xlarge": 0.204}}}
    table = pricing.parse(old, "old format")
    assert (table.price("ml.c5.xlarge", "us-east-1"), table.serverless_usd_per_second) == (0.204, {})
    assert table.provisioned_concurrency_usd_per_second == table.provisioned_inference_usd_per_second == {}
    assert table.instance_memory_gib == {}
    by_memory_size = ("serverlessPerSecondUsd", *NEW_BY_MEMORY_SIZE)
    for key in by_memory_size:
        for bad in ({"us-east-1": {"1 GB": 0.00002}}, {"us-east-1": {"1024": -1}}, {"us-east-1": {"1024": "cheap"}}):
            with pytest.raises(pricing.PriceTableError, match=key):
                pricing.parse({**old, key: bad}, "bad serverless")
    for bad_memory in ({"ml.c5.xlarge": "lots"}, {"ml.c5.xlarge": -8}, ["ml.c5.xlarge"]):
        with pytest.raises(pricing.PriceTableError, match="instanceMemoryGiB"):
            pricing.parse({**old, "instanceMemoryGiB": bad_memory}, "bad memory")


def test_the_command_builds_the_same_table_from_the_pricing_api(
    aws_emulator: AwsEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in aws_emulator.environment().items():
        monkeypatch.setenv(name, value)
    output = tmp_path / "prices.json"
    with aws_emulator.pricing.serving(REPO / EXCERPT):
        assert cli.main(["prices", "--source", "api", "--output", str(output)]) == 0
        assert cli.main(["prices", "--source", "api", "--region", "us-west-2", "--output", str(tmp_path / "w")]) == 0
    from_api = json.loads(output.read_text())
    from_file = pricelist.table_document(pricelist.from_offer_file(REPO / EXCERPT))
    compared = ("regions", "serverlessPerSecondUsd", *NEW_BY_MEMORY_SIZE, "instanceMemoryGiB")
    for key in (*compared, "compiled", "offerVersion", "publicationDate"):
        assert from_api[key] == from_file[key], key
    assert from_api["serverlessProvisionedConcurrencyPerSecondUsd"], "the serverless query returns provisioned lines"
    assert from_api["source"] == f"AWS Price List Query API GetProducts at {aws_emulator.url}"
    assert set(json.loads((tmp_path / "w").read_text())["regions"]) == {"us-west-2"}
    calls = aws_emulator.calls(service="pricing", operation="GetProducts")
    assert len(calls) == 4, "hosting and serverless, for every region and then for us-west-2"
    assert all(call.region == "us-east-1" and call.status == 200 for call in calls)
    capsys.readouterr()
    refused = tmp_path / "refused.json"
    assert cli.main(["prices", "--source", "api", "--output", str(refused)]) == 1, "no offer served: NotFound"
    assert "NotFoundException" in capsys.readouterr().err
    assert not refused.exists()


def test_the_pricing_api_emulator_pages_filters_and_refuses_as_getproducts_does(aws_emulator: AwsEmulator) -> None:
    client: Any = boto3.client("pricing", **boto3_settings(aws_emulator))  # type: ignore[call-overload]
    hosting = [{"Type": "TERM_MATCH", "Field": "component", "Value": "Hosting"}]
    with aws_emulator.pricing.serving(REPO / EXCERPT):
        pages = list(
            client.get_paginator("get_products").paginate(
                ServiceCode="AmazonSageMaker", Filters=hosting, PaginationConfig={"PageSize": 3}
            )
        )
        everything = client.get_products(ServiceCode="AmazonSageMaker")["PriceList"]
        contains = client.get_products(
            ServiceCode="AmazonSageMaker", Filters=[{"Type": "CONTAINS", "Field": "usagetype", "Value": "Serverless"}]
        )["PriceList"]
        errors = {}
        for name, call in {
            "unknown service": lambda: client.get_products(ServiceCode="AmazonEC2"),
            "bad token": lambda: client.get_products(ServiceCode="AmazonSageMaker", NextToken="bm90IG1pbmU="),
            "format": lambda: client.get_products(ServiceCode="AmazonSageMaker", FormatVersion="aws_v2"),
        }.items():
            with pytest.raises(botocore.exceptions.ClientError) as refused:
                call()
            errors[name] = refused.value.response["Error"]["Code"]
    served = [json.loads(text) for page in pages for text in page["PriceList"]]
    hosting_skus = {sku for sku, p in excerpt()["products"].items() if p["attributes"].get("component") == "Hosting"}
    assert [len(page["PriceList"]) for page in pages][:-1] == [3] * (len(pages) - 1)
    assert len(pages) > 1
    assert {item["product"]["sku"] for item in served} == hosting_skus
    assert len(everything) == len(excerpt()["products"])
    first = served[0]
    sku = first["product"]["sku"]
    assert first["product"] == excerpt()["products"][sku]
    assert first["terms"] == {"OnDemand": excerpt()["terms"]["OnDemand"][sku]}
    assert (first["serviceCode"], first["version"]) == ("AmazonSageMaker", excerpt()["version"])
    assert {json.loads(text)["product"]["productFamily"] for text in contains} == {"ML Serverless"}
    assert errors == {
        "unknown service": "NotFoundException",
        "bad token": "InvalidNextTokenException",
        "format": "InvalidParameterException",
    }
    with pytest.raises(botocore.exceptions.ClientError, match="NotFoundException"):
        client.get_products(ServiceCode="AmazonSageMaker")
