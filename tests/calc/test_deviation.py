"""Deviation metrics between calculated and billed cost; gap decomposition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from finops_lib import schema
from finops_lib.calc import (
    bland_altman,
    daily_compute_comparison,
    gap_decomposition,
    mape,
    mean_bias,
    runtime_error,
    validation_factor,
)


def test_mape_bias_validation_factor_hand_values():
    calc, ref = [110.0, 95.0], [100.0, 100.0]
    assert_allclose(mape(calc, ref), (0.10 + 0.05) / 2)
    assert_allclose(mean_bias(calc, ref), 2.5)
    assert_allclose(validation_factor(calc, ref), 200 / 205)


def test_series_are_aligned_on_index():
    calc = pd.Series([110.0, 90.0], index=["d2", "d1"])
    ref = pd.Series([100.0, 100.0], index=["d1", "d2"])
    assert_allclose(mean_bias(calc, ref), 0.0)
    assert_allclose(mape(calc, ref), 0.1)


def test_bland_altman_hand_values():
    calc, ref = [20.0, 5.0, 11.0], [10.0, 10.0, 10.0]  # d = 10, -5, 1
    r = bland_altman(calc, ref)
    sd = np.sqrt((8**2 + 7**2 + 1**2) / 2)  # sqrt(57)
    assert_allclose([r["bias"], r["sd"]], [2.0, sd])
    assert_allclose([r["loa_low"], r["loa_high"]], [2 - 1.96 * sd, 2 + 1.96 * sd])
    assert r["n"] == 3


def test_nan_pairs_raise_or_are_omitted_and_counted():
    calc, ref = [110.0, np.nan, 90.0], [100.0, 100.0, 100.0]
    with pytest.raises(ValueError, match="1 of 3"):
        mape(calc, ref)
    assert_allclose(mape(calc, ref, nan_policy="omit"), 0.1)
    assert bland_altman(calc, ref, nan_policy="omit")["n"] == 2


def test_zero_reference_mape_undefined():
    with pytest.raises(ValueError, match="reference is 0"):
        mape([1.0], [0.0])


def test_gap_decomposition():
    costs = schema.conform("costs", pd.DataFrame({
        "period_start": pd.Timestamp("2026-11-01", tz="UTC"), "granularity": "DAILY", "group_key": "USAGE_TYPE",
        "usage_type": ["EUC1-BoxUsage:m5.large", "EUC1-SpotUsage:m5.large", "EUC1-EBS:VolumeUsage.gp3",
                       "EUC1-DataTransfer-Out-Bytes", "EUC1-EBSOptimized:m5.large", None],
        "resource_id": None, "cost_usd": [50.0, 10.0, 8.0, 2.0, 1.0, 0.5], "usage_quantity": 1.0,
        "estimated": False}))
    out = gap_decomposition(costs, 55.0).set_index("category")
    assert_allclose(out.loc[["compute", "ebs", "data_transfer", "other", "unknown", "total"], "billed_usd"],
                    [60, 8, 2, 1, 0.5, 71.5])
    assert_allclose(out.loc["compute", "gap_usd"], 5.0)
    assert_allclose(out.loc["total", "gap_usd"], 16.5)
    assert_allclose(out.loc["ebs", "gap_share_frac"], 8 / 16.5)
    assert_allclose(out.drop("total")["gap_usd"].sum(), out.loc["total", "gap_usd"])


def test_runtime_error_per_instance():
    hours = pd.date_range("2026-11-01", periods=3, freq="h", tz="UTC")
    est = pd.DataFrame({"instance_id": ["a"] * 3 + ["b"] * 3, "hour": list(hours) * 2,
                        "running_frac": [1.0, 1.0, 0.0, 0.5, np.nan, 0.0]})
    truth = pd.DataFrame({"instance_id": ["a"] * 3 + ["b"] * 3 + ["c"] * 3, "hour": list(hours) * 3,
                          "running_frac": [0.0, 1.0, 1.0, 0.5, 0.5, 0.0, 1.0, 0.0, 0.0]})
    out = runtime_error(est, truth).set_index("instance_id")
    # a: same total (2 h) but shifted by an hour -> error 0, absolute hourly error 2 h
    assert_allclose(out.loc["a", ["estimated_h", "true_h", "error_h", "abs_hourly_error_h"]], [2, 2, 0, 2])
    assert np.isnan(out.loc["b", "estimated_h"]) and np.isnan(out.loc["b", "error_h"])
    # c: missing from the estimate -> estimated 0 h
    assert_allclose(out.loc["c", ["estimated_h", "error_h"]], [0, -1])


def test_daily_compute_comparison():
    hours = pd.date_range("2026-11-01T22:00", periods=4, freq="h", tz="UTC")  # 2 h on Nov 1, 2 h on Nov 2
    hc = pd.DataFrame({"instance_id": ["i-a"] * 4, "hour": hours, "cost_usd": [1.0, 1.0, 2.0, 2.0]})
    inst = pd.DataFrame({"instance_id": ["i-a"], "instance_type": ["m5.large"]})
    costs = schema.conform("costs", pd.DataFrame({
        "period_start": pd.to_datetime(["2026-11-01", "2026-11-01", "2026-11-01"], utc=True),
        "granularity": "DAILY", "group_key": "USAGE_TYPE",
        "usage_type": ["EUC1-BoxUsage:m5.large", "EUC1-BoxUsage:c5.large", "EUC1-EBS:VolumeUsage.gp3"],
        "resource_id": None, "cost_usd": [2.2, 0.5, 9.0], "usage_quantity": 1.0, "estimated": False}))
    out = daily_compute_comparison(hc, inst, costs)
    assert list(out["instance_type"]) == ["c5.large", "m5.large", "m5.large"]
    assert_allclose(out["calculated_usd"], [0.0, 2.0, 4.0])
    assert_allclose(out["billed_usd"].to_numpy()[:2], [0.5, 2.2])
    assert np.isnan(out["billed_usd"].iloc[2])  # Nov 2 not in Cost Explorer data: NaN, not 0
    assert_allclose(mape(out["calculated_usd"][1:], out["billed_usd"][1:], nan_policy="omit"), 0.2 / 2.2)


def test_daily_compute_comparison_keeps_a_calculated_gap_as_nan():
    # i-b's runtime is unknown (NaN cost every hour): its days must stay NaN, never 0 against a bill
    hours = pd.date_range("2024-01-01", periods=48, freq="h", tz="UTC")
    hc = pd.concat([pd.DataFrame({"instance_id": "i-a", "hour": hours, "cost_usd": 0.115}),
                    pd.DataFrame({"instance_id": "i-b", "hour": hours, "cost_usd": np.nan})])
    inst = pd.DataFrame({"instance_id": ["i-a", "i-b"], "instance_type": ["m5.large", "c5.large"]})
    costs = pd.DataFrame({"period_start": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-02"], utc=True),
                          "usage_type": ["EUC1-BoxUsage:m5.large", "EUC1-BoxUsage:c5.large"] * 2,
                          "cost_usd": [2.76, 2.33, 2.76, 2.33]})
    out = daily_compute_comparison(hc, inst, costs).set_index(["instance_type"])
    assert out.loc["c5.large", "calculated_usd"].isna().all()
    assert_allclose(out.loc["m5.large", "calculated_usd"], [2.76, 2.76])
    assert_allclose(mape(out["calculated_usd"], out["billed_usd"], nan_policy="omit"), 0.0, atol=1e-12)


def test_reserved_instance_fee_counts_as_compute():
    from finops_lib.calc.deviation import usage_category

    got = usage_category(pd.Series(["EUC1-HeavyUsage:m5.large", "EUC1-BoxUsage:m5.large", "EUC1-EBS:VolumeUsage.gp3"]))
    assert got.tolist() == ["compute", "compute", "ebs"]
