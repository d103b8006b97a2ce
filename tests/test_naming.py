"""Names are deterministic, valid for SageMaker, readable when they fit, and never collide when shortened."""

import re

import pytest

from lowlatency import naming

SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")


def test_short_names_stay_readable() -> None:
    assert naming.endpoint_name("adtech", "bid-filter") == "adtech-bid-filter"


@pytest.mark.parametrize(
    ("namespace", "name"),
    [
        ("adtech", "x" * 253),
        ("a" * 63, "bid-filter"),
        ("adtech", "bid.filter.v2"),
        ("adtech", "bid-filter-" + "9" * 60),
    ],
)
def test_long_or_dotted_names_fit_sagemaker(namespace: str, name: str) -> None:
    result = naming.endpoint_name(namespace, name)
    assert len(result) <= naming.MAX_NAME_LENGTH
    assert SAGEMAKER_NAME.match(result), result
    assert result == naming.endpoint_name(namespace, name)


def test_shortened_names_that_share_a_prefix_do_not_collide() -> None:
    first = naming.endpoint_name("adtech", "bid-filter-" + "a" * 60 + "-one")
    second = naming.endpoint_name("adtech", "bid-filter-" + "a" * 60 + "-two")
    assert first[:50] == second[:50]
    assert first != second


def test_sanitised_names_do_not_collide_with_their_lookalikes() -> None:
    assert naming.endpoint_name("adtech", "bid.filter") != naming.endpoint_name("adtech", "bid-filter")


def test_content_names_change_with_content_and_fit() -> None:
    base = naming.endpoint_name("adtech", "y" * 200)
    first = naming.content_name(base, {"image": "a"})
    assert first == naming.content_name(base, {"image": "a"})
    assert first != naming.content_name(base, {"image": "b"})
    assert len(first) <= naming.MAX_NAME_LENGTH
    assert SAGEMAKER_NAME.match(first)
    assert first.startswith(naming.content_prefix(base))


def test_content_hash_ignores_key_order() -> None:
    assert naming.short_hash({"a": 1, "b": 2}) == naming.short_hash({"b": 2, "a": 1})


@pytest.mark.parametrize("name", ["a", "legacy-bidder", "A1--b2", "x" * 63])
def test_valid_sagemaker_names(name: str) -> None:
    assert naming.is_sagemaker_name(name)


@pytest.mark.parametrize("name", ["", "-lead", "trail-", "dotted.name", "under_score", "x" * 64])
def test_invalid_sagemaker_names(name: str) -> None:
    assert not naming.is_sagemaker_name(name)


# The names an earlier version gave: a restarted or upgraded operator finds its endpoints, configs and models only by
# deriving the same names again, so a change here orphans every resource already in AWS.
NAMES_OF_EARLIER_VERSIONS = [
    ("adtech", "bid-filter", "adtech-bid-filter"),
    ("adtech", "b" * 56, "adtech-" + "b" * 56),  # 63 characters: still readable
    ("adtech", "bid.filter.v2", "adtech-bid-filter-v2-4263d887"),
    ("adtech", "x" * 253, "adtech-" + "x" * 47 + "-ba5519be"),
    ("adtech", "a" * 46 + "-" + "b" * 20, "adtech-" + "a" * 46 + "-9f51e759"),  # cut right after a hyphen
]


@pytest.mark.parametrize(("namespace", "name", "expected"), NAMES_OF_EARLIER_VERSIONS)
def test_endpoint_names_are_those_earlier_versions_gave(namespace: str, name: str, expected: str) -> None:
    assert naming.endpoint_name(namespace, name) == expected


def test_long_namespaces_that_share_a_prefix_do_not_collide() -> None:
    """Two teams' namespaces that differ only past the shortened prefix: the hash must cover the namespace."""
    first = naming.endpoint_name("a" * 58 + "-one", "bid-filter")
    second = naming.endpoint_name("a" * 58 + "-two", "bid-filter")
    assert first[:50] == second[:50]
    assert first != second


@pytest.mark.parametrize(
    "base",
    [
        "adtech-bid-filter",
        "FraudModelX",  # an adopted endpoint's name: SageMaker allows capitals
        "Legacy-Ranker-" + "c" * 39 + "-" + "d" * 20,  # shortened right after a hyphen
    ],
)
def test_a_content_name_is_its_prefix_and_the_content_hash(base: str) -> None:
    """Superseded configs and models are found by listing names that start with the prefix: every content name of
    the base must be that prefix followed by nothing but the hash."""
    content = {"image": "a"}
    name = naming.content_name(base, content)
    assert name == naming.content_prefix(base) + naming.short_hash(base, content)
    assert naming.is_sagemaker_name(name)
    assert "--" not in name
    if len(base) <= naming.MAX_NAME_LENGTH - naming.HASH_LENGTH - 1:
        assert name.startswith(f"{base}-")


def test_a_sibling_arn_has_the_endpoints_account_and_region() -> None:
    endpoint_arn = "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/adtech-bid-filter"
    assert (
        naming.sibling_arn(endpoint_arn, "endpoint-config", "Adtech-Bid-Filter-1a2b3c4d")
        == "arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/adtech-bid-filter-1a2b3c4d"
    )
