"""Power models: CCF worked example, Boavizta readings, linear share; errors."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from finops_lib import schema
from finops_lib.calc import (
    POWER_MODELS,
    UnknownInstanceTypeError,
    ccf_embodied_g_per_h,
    ccf_power_profile,
    energy_kwh,
    fleet_power_w,
    instance_power_w,
)
from finops_lib.factors import BOAVIZTA_REFERENCE_LOADS_FRAC, BOAVIZTA_REFERENCE_POWER_W

# REFERENCES.md, "Cloud Carbon Footprint": m5.large (Skylake, 2 vCPU), 1 h at 10 % CPU
# -> (0.65 + 0.1 * 3.61) * 2 = 2.02 Wh; x 1.135 = 2.30 Wh.


def test_ccf_worked_example():
    p = instance_power_w("m5.large", 0.1, "ccf", include_memory=False)
    assert_allclose(p, 2.022, rtol=1e-12)
    wh = energy_kwh(p, 1.0) * 1000
    assert round(wh, 2) == 2.02
    wh_pue = energy_kwh(p, 1.0, pue=1.135) * 1000
    assert_allclose(wh_pue, 2.022 * 1.135, rtol=1e-12)  # 2.29497 Wh
    # the published 2.30 Wh rounds the intermediate 2.295 Wh; agree to 0.3 %
    assert_allclose(wh_pue, 2.30, rtol=3e-3)


def test_ccf_with_memory_adds_0392_w_per_gib():
    assert_allclose(instance_power_w("m5.large", 0.1, "ccf"), 2.022 + 8 * 0.392, rtol=1e-12)
    # m6a.large: EPYC 3rd gen 0.445/2.019 W per vCPU, 2 vCPU, 8 GiB, at 50 %
    assert_allclose(instance_power_w("m6a.large", 0.5), 2 * (0.445 + 0.5 * 1.574) + 8 * 0.392)


def test_ccf_series_keeps_index():
    u = pd.Series([0.0, 1.0, np.nan], index=["a", "b", "c"])
    p = instance_power_w("m5.large", u, "ccf", include_memory=False)
    assert list(p.index) == ["a", "b", "c"]
    assert_allclose(p.to_numpy()[:2], [1.3, 8.52])
    assert np.isnan(p["c"])  # NaN propagates


@pytest.mark.parametrize("itype", sorted(BOAVIZTA_REFERENCE_POWER_W))
def test_boavizta_reproduces_published_readings(itype):
    loads = np.asarray(BOAVIZTA_REFERENCE_LOADS_FRAC)
    assert_allclose(instance_power_w(itype, loads, "boavizta"), BOAVIZTA_REFERENCE_POWER_W[itype])


def test_boavizta_literal_readings():
    # REFERENCES.md: m5.xlarge 5.388/10.867/22.592/30.321 W at 0/10/50/100 %
    assert_allclose(instance_power_w("m5.xlarge", np.array([0, 0.1, 0.5, 1]), "boavizta"),
                    [5.388, 10.867, 22.592, 30.321])


def test_boavizta_linear_interpolation_between_points():
    # m6a.large at 30 %: halfway between 3.161 (10 %) and 6.010 (50 %)
    assert_allclose(instance_power_w("m6a.large", 0.3, "boavizta"), (3.161 + 6.010) / 2)
    # t3.micro at 75 %: halfway between 10.119 and 13.775
    assert_allclose(instance_power_w("t3.micro", 0.75, "boavizta"), (10.119 + 13.775) / 2)
    # c6g.large at 5 %
    assert_allclose(instance_power_w("c6g.large", 0.05, "boavizta"), 1.297 + 0.5 * (2.583 - 1.297))


def profiles_table() -> pd.DataFrame:
    return schema.conform("power_profiles", pd.DataFrame({
        "instance_type": ["x.large"] * 3 + ["m5.large"] * 2,
        "load_frac": [1.0, 0.0, 0.5, 0.0, 1.0],  # unsorted on purpose
        "power_w": [20.0, 4.0, 10.0, 1.0, 2.0],
        "source": ["boavizta"] * 3 + ["ccf"] * 2,
        "embodied_g_per_h": np.nan,
    }))


def test_boavizta_from_profiles_table():
    assert_allclose(instance_power_w("x.large", [0.25, 0.75], "boavizta", profiles=profiles_table()), [7.0, 15.0])


def test_boavizta_unknown_type_names_type_and_model():
    with pytest.raises(UnknownInstanceTypeError, match=r"z9\.huge.*boavizta"):
        instance_power_w("z9.huge", 0.5, "boavizta", profiles=profiles_table())
    with pytest.raises(UnknownInstanceTypeError, match=r"m5\.large.*boavizta"):
        instance_power_w("m5.large", 0.5, "boavizta")  # no reference reading for m5.large


def test_boavizta_no_extrapolation():
    prof = profiles_table()
    prof = prof[~((prof["instance_type"] == "x.large") & (prof["load_frac"] == 1.0))]
    with pytest.raises(ValueError, match="outside the profile"):
        instance_power_w("x.large", 0.9, "boavizta", profiles=prof)


def test_linear_share_seed_model():
    assert_allclose(instance_power_w("m5.large", 0.5, "linear_share", p_ref_w=100.0), 65.0)
    assert_allclose(instance_power_w("m5.large", [0, 1], "linear_share", p_ref_w={"m5.large": 10.0}), [3.0, 10.0])
    # default P_ref: CCF full-load power of the type, 2 * 4.26 + 8 * 0.392 = 11.656 W
    assert_allclose(instance_power_w("m5.large", 0.0, "linear_share"), 0.3 * 11.656)


def test_unknown_instance_type_is_a_clear_error():
    with pytest.raises(UnknownInstanceTypeError, match=r"m9\.huge.*ccf"):
        instance_power_w("m9.huge", 0.5, "ccf")
    assert issubclass(UnknownInstanceTypeError, ValueError)


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_cpu_out_of_range_names_value(bad):
    for model in POWER_MODELS:
        with pytest.raises(ValueError, match=str(bad)):
            instance_power_w("m6a.large", [0.2, bad], model)


def test_unknown_model():
    with pytest.raises(ValueError, match="watts"):
        instance_power_w("m5.large", 0.5, "watts")


def test_fleet_power_matches_per_type_and_is_fast():
    rng = np.random.default_rng(1)
    types = np.array(["m5.xlarge", "m6a.large", "t3.micro", "c6g.large"])
    n = 100 * 720
    it = pd.Series(types[rng.integers(0, 4, n)], index=pd.RangeIndex(n) + 10)
    u = pd.Series(rng.uniform(0, 1, n), index=it.index)
    for model in POWER_MODELS:
        t0 = time.perf_counter()
        p = fleet_power_w(it, u, model)
        assert time.perf_counter() - t0 < 1.0
        assert p.index.equals(u.index)
        for t in types:
            sel = it == t
            assert_allclose(p[sel], instance_power_w(t, u[sel], model))


def test_fleet_power_unknown_type_in_fleet():
    with pytest.raises(UnknownInstanceTypeError, match="q1.tiny"):
        fleet_power_w(pd.Series(["m5.large", "q1.tiny"]), pd.Series([0.1, 0.2]), "ccf")


def test_ccf_power_profile_table():
    prof = ccf_power_profile(["m5.large", "t3.micro"], load_fracs=(0, 0.1, 1))
    assert list(prof.columns) == list(schema.TABLES["power_profiles"])
    m5 = prof[prof["instance_type"] == "m5.large"]
    assert_allclose(m5["power_w"], [1.3 + 3.136, 2.022 + 3.136, 8.52 + 3.136])
    # CCF embodied: 1,610.79 kg * (1 h / 35,040 h) * (2 vCPU / 96 vCPU of m5.24xlarge)
    expected = 1_610.79e3 / 35_040 * 2 / 96
    assert_allclose(m5["embodied_g_per_h"], expected)
    assert_allclose(ccf_embodied_g_per_h("m5.large"), 0.95767, rtol=1e-4)
    assert prof.loc[prof["instance_type"] == "t3.micro", "embodied_g_per_h"].isna().all()
    assert (prof["source"] == "ccf").all()


def test_boavizta_ignores_profiles_of_other_sources():
    # the table holds a ccf-sourced curve for m5.large: not a boavizta curve
    with pytest.raises(UnknownInstanceTypeError, match=r"m5\.large.*boavizta"):
        instance_power_w("m5.large", 0.5, "boavizta", profiles=profiles_table())
    assert_allclose(instance_power_w("m5.large", 0.5, "boavizta", profiles=profiles_table(), profile_source="ccf"),
                    1.5)
