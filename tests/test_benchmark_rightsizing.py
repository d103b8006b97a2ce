"""Rightsizing arithmetic (AWS's target formula, instance counts, cost) and the dated price table."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from lowlatency import pricing
from lowlatency.benchmark.rightsizing import Ramp, recommend, target_invocations_per_instance


def test_the_autoscaling_target_and_instance_counts_follow_from_the_measured_maximum() -> None:
    advice = recommend(max_rps_per_instance=250, peak_rps=1000, safety_factor=0.5, hourly_price_usd=0.204)
    assert advice.target_invocations_per_instance == 7500  # 250 x 0.5 x 60
    assert advice.min_instances == 4  # 1000 / 250
    assert advice.max_instances == 8  # 1000 / (250 x 0.5)
    assert advice.min_hourly_usd == pytest.approx(0.816)
    assert advice.max_hourly_usd == pytest.approx(1.632)


def test_the_target_alone_for_autoscaling_auto() -> None:
    assert target_invocations_per_instance(250) == 7500
    assert target_invocations_per_instance(250, safety_factor=0.8) == 12000
    assert target_invocations_per_instance(0.001) == 1  # Application Auto Scaling needs a positive target


def test_counts_round_up_and_never_go_below_two_instances() -> None:
    advice = recommend(max_rps_per_instance=300, peak_rps=1000, safety_factor=0.6)
    assert advice.target_invocations_per_instance == 10800
    assert (advice.min_instances, advice.max_instances) == (4, 6)  # 3.33 -> 4, 5.56 -> 6
    assert (advice.min_hourly_usd, advice.max_hourly_usd) == (None, None)
    small = recommend(max_rps_per_instance=1000, peak_rps=100)
    assert (small.min_instances, small.max_instances) == (2, 2)
    # 0.1 x 3 is not exactly 0.3 in floating point; the count must not grow for it.
    assert recommend(max_rps_per_instance=0.1, peak_rps=0.3, safety_factor=1.0).min_instances == 3


@pytest.mark.parametrize(("max_rps", "peak", "safety"), [(0, 100, 0.5), (100, 100, 0), (100, 100, 1.5), (100, -1, 0.5)])
def test_impossible_inputs_are_refused(max_rps: float, peak: float, safety: float) -> None:
    with pytest.raises(ValueError, match="safety factor"):
        recommend(max_rps, peak, safety)


def test_a_ramp_steps_up_to_its_maximum() -> None:
    assert Ramp(start_rps=100, step_rps=100, max_rps=500).rates() == [100, 200, 300, 400, 500]
    assert Ramp(start_rps=50, step_rps=30, max_rps=120).rates() == [50, 80, 110]
    assert Ramp(start_rps=0.1, step_rps=0.1, max_rps=0.3).rates() == pytest.approx([0.1, 0.2, 0.3])


def test_the_bundled_price_table_is_dated_and_sourced() -> None:
    table = pricing.load()
    assert table.source.startswith("AWS Price List")  # built by `lowlatency-operator prices` (test_pricelist)
    assert datetime.date(2026, 1, 1) <= table.compiled <= datetime.date.today()
    assert table.price("ml.c5.xlarge", "us-east-1") == 0.204
    assert table.hourly_cost("ml.c5.xlarge", 4, "us-east-1") == pytest.approx(0.816)
    assert all(name.startswith("ml.") and price > 0 for name, price in table.hourly_usd["us-east-1"].items())
    assert table.price("ml.c5.xlarge", "ap-south-2") is None
    assert table.price("ml.nonexistent.xlarge", "us-east-1") is None
    assert table.hourly_cost("ml.nonexistent.xlarge", 4, "us-east-1") is None


def test_cost_per_million_invocations_at_the_measured_throughput() -> None:
    # DESIGN.md's example: 4 x ml.c5.xlarge serving 2140 requests/s.
    assert pricing.cost_per_million_invocations(0.816, 2140) == pytest.approx(0.10592, abs=1e-5)
    assert pricing.cost_per_million_invocations(0.816, 0) is None


def test_a_price_table_file_overrides_the_bundled_one(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps({"source": "negotiated", "compiled": "2026-10-01", "regions": {"eu-west-1": {"ml.c5.xlarge": 0.1}}})
    )
    table = pricing.load(path)
    assert (table.source, table.compiled) == ("negotiated", datetime.date(2026, 10, 1))
    assert table.price("ml.c5.xlarge", "eu-west-1") == 0.1
    assert table.price("ml.c5.xlarge", "us-east-1") is None
    path.write_text(json.dumps({"regions": {}}))
    with pytest.raises(pricing.PriceTableError, match=r"prices\.json"):
        pricing.load(path)
