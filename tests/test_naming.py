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
