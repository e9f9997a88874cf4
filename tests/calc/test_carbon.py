"""Energy, operational and embodied CO2e, hour-aligned vs average factor, SCI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from finops_lib.calc import (
    embodied_co2_g,
    energy_kwh,
    hour_aligned_vs_average,
    operational_co2_g,
    sci_g_per_unit,
)
from finops_lib.factors import CCF_EC2_INSTANCE_TYPES, CCF_LIFETIME_H


def test_energy_scalar_and_series():
    assert_allclose(energy_kwh(100.0, 2.0, 0.5, 1.2), 0.12)
    p = pd.Series([10.0, 20.0], index=pd.to_datetime(["2026-11-01T00:00Z", "2026-11-01T01:00Z"], utc=True))
    e = energy_kwh(p, running_frac=pd.Series([1.0, 0.25], index=p.index), pue=1.135)
    assert isinstance(e, pd.Series) and e.index.equals(p.index)
    assert_allclose(e, [0.01135, 0.005675])


@pytest.mark.parametrize("kw,match", [({"pue": 0.9}, "pue"), ({"running_frac": 1.2}, "running_frac"),
                                      ({"power_w": -1.0}, "power_w")])
def test_energy_rejects_impossible_inputs(kw, match):
    args = {"power_w": 10.0} | kw
    with pytest.raises(ValueError, match=match):
        energy_kwh(**args)


def test_operational_co2():
    assert_allclose(operational_co2_g([2.0, 0.5], [300.0, 100.0]), [600.0, 50.0])
    assert np.isnan(operational_co2_g(1.0, np.nan))


def test_hour_aligned_vs_average_hand_example():
    hours = pd.date_range("2026-11-01", periods=2, freq="h", tz="UTC")
    e = pd.Series([1.0, 3.0], index=hours)
    i = pd.Series([100.0, 300.0], index=hours)
    r = hour_aligned_vs_average(e, i)
    # hour-aligned: 1*100 + 3*300 = 1000 g; average: (1 + 3) * 200 = 800 g
    assert_allclose(r["hour_aligned_co2_g"], 1000.0)
    assert_allclose(r["average_factor_co2_g"], 800.0)
    assert_allclose(r["mean_intensity_g_per_kwh"], 200.0)
    assert_allclose(r["relative_difference_frac"], 0.25)
    assert r["missing_intensity_hours"] == 0


def test_hour_aligned_equals_average_for_flat_energy():
    hours = pd.date_range("2026-11-01", periods=4, freq="h", tz="UTC")
    r = hour_aligned_vs_average(pd.Series(2.0, index=hours), pd.Series([100.0, 200, 300, 400], index=hours))
    assert_allclose(r["relative_difference_frac"], 0.0, atol=1e-12)


def test_missing_intensity_never_filled():
    hours = pd.date_range("2026-11-01", periods=3, freq="h", tz="UTC")
    e = pd.Series([1.0, 3.0, 5.0], index=hours)
    i = pd.Series([100.0, 300.0], index=hours[:2])  # third hour missing
    r = hour_aligned_vs_average(e, i)
    assert np.isnan(r["hour_aligned_co2_g"]) and np.isnan(r["average_factor_co2_g"])
    assert r["missing_intensity_hours"] == 1 and r["uncovered_energy_kwh"] == 5.0
    r = hour_aligned_vs_average(e, i, missing="skip")
    assert_allclose([r["hour_aligned_co2_g"], r["average_factor_co2_g"]], [1000.0, 800.0])
    assert r["compared_hours"] == 2


def test_average_with_given_annual_factor():
    hours = pd.date_range("2026-11-01", periods=2, freq="h", tz="UTC")
    r = hour_aligned_vs_average(pd.Series([1.0, 3.0], index=hours), pd.Series([100.0, 300.0], index=hours),
                                mean_intensity_g_per_kwh=370.93)
    assert_allclose(r["average_factor_co2_g"], 4 * 370.93)


def test_embodied_ccf_share():
    te_g = CCF_EC2_INSTANCE_TYPES["m5"]["large"][2] * 1e6  # CCF scope 3 of m5, 1.6103792 t
    assert_allclose(embodied_co2_g(te_g, 1.0, CCF_LIFETIME_H, 2 / 96), 1_610_379.2 / 35_040 / 48)
    # BoaviztAPI: m6a.large 20.0 kg over its whole 52,560 h lifetime -> 1 h share
    assert_allclose(embodied_co2_g(20_000.0, pd.Series([1.0, 24.0]), 52_560), [20_000 / 52_560, 24 * 20_000 / 52_560])
    with pytest.raises(ValueError, match="lifetime_h"):
        embodied_co2_g(1.0, 1.0, 0)


def test_sci():
    # (E*I + M) / R = (2 kWh * 300 g/kWh + 100 g) / 10 units = 70 g/unit
    assert_allclose(sci_g_per_unit(2.0, 300.0, 100.0, 10), 70.0)
    out = sci_g_per_unit(pd.Series([1.0, 2.0]), 100.0, 0.0, 2)
    assert isinstance(out, pd.Series)
    assert_allclose(out, [50.0, 100.0])
    with pytest.raises(ValueError, match="functional_units"):
        sci_g_per_unit(1.0, 1.0, 1.0, 0)
