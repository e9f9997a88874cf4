"""Deviation metrics between calculated and billed cost; gap decomposition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from finops_lib import schema
from finops_lib.calc import bland_altman, gap_decomposition, mape, mean_bias, validation_factor


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
