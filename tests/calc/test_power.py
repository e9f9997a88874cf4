"""Power models: CCF (see test_ccf_source.py for CCF's own numbers), Boavizta curve, linear share; errors."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from finops_lib import factors, schema
from finops_lib.calc import (
    POWER_MODELS,
    UnknownInstanceTypeError,
    ccf_embodied_g_per_h,
    ccf_power_profile,
    fleet_energy_by_model_kwh,
    fleet_power_w,
    instance_power_w,
    power_model_comparison,
)
from finops_lib.factors import BOAVIZTA_CURVE_LOADS_FRAC, BOAVIZTA_CURVE_POWER_W

M5_LARGE_MEM_W = (384 - 81.32) / 48 * 0.392  # CCF memory above the Skylake per-chip baseline


def test_ccf_cpu_only_and_with_memory():
    # m5.large: Skylake 0.65 / 4.26 W per vCPU (AwsFootprintEstimationConstants.ts), 2 vCPU
    assert_allclose(instance_power_w("m5.large", 0.5, "ccf", include_memory=False), 2 * (0.65 + 0.5 * 3.61))
    assert_allclose(instance_power_w("m5.large", 0.1, "ccf"), 2 * (0.65 + 0.1 * 3.61) + M5_LARGE_MEM_W)


def test_ccf_refined_departs_only_where_listed():
    # EPYC 3rd Gen: CCF core 0.45 / 2.02 W per vCPU and 128 GB per chip instead of 0.74 / 3.5 and 80.69
    m6a_mem = (768 - 128.0) / (768 / 8) * 0.392
    assert_allclose(instance_power_w("m6a.large", 0.5, "ccf_refined"), 2 * (0.45 + 0.5 * 1.57) + m6a_mem)
    assert_allclose(instance_power_w("m6a.large", 0.5, "ccf"),
                    2 * (0.74 + 0.5 * 2.76) + (768 - 80.69) / 96 * 0.392)
    # Ice Lake -> Cascade Lake (0.64 / 3.97, 98.12 GB per chip)
    assert_allclose(instance_power_w("c6i.large", 0.0, "ccf_refined", include_memory=False), 2 * 0.64)
    for itype in ("m5.large", "t3.micro", "c5.large", "c6g.large", "r5.large"):
        assert_allclose(instance_power_w(itype, 0.3, "ccf_refined"), instance_power_w(itype, 0.3, "ccf"))


def test_ccf_series_keeps_index():
    u = pd.Series([0.0, 1.0, np.nan], index=["a", "b", "c"])
    p = instance_power_w("m5.large", u, "ccf", include_memory=False)
    assert list(p.index) == ["a", "b", "c"]
    assert_allclose(p.to_numpy()[:2], [1.3, 8.52])
    assert np.isnan(p["c"])  # NaN propagates


@pytest.mark.parametrize("itype", sorted(BOAVIZTA_CURVE_POWER_W))
def test_boavizta_default_curve_is_the_server_readings(itype):
    loads = np.asarray(BOAVIZTA_CURVE_LOADS_FRAC)
    assert_allclose(instance_power_w(itype, loads, "boavizta"), BOAVIZTA_CURVE_POWER_W[itype])
    # the four old reference readings are points of the same curve (server readings rounded to 1 mW)
    assert_allclose(instance_power_w(itype, np.asarray(factors.BOAVIZTA_REFERENCE_LOADS_FRAC), "boavizta"),
                    factors.BOAVIZTA_REFERENCE_POWER_W[itype], rtol=0, atol=5.01e-4)


def test_boavizta_between_points():
    # m6a.large at 31 %: interpolated between the 30 % and 35 % readings
    assert_allclose(instance_power_w("m6a.large", 0.31, "boavizta"), 4.8563 + 0.2 * (5.17956 - 4.8563))


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
        instance_power_w("m5.large", 0.5, "boavizta")  # no default curve for m5.large


def test_boavizta_no_extrapolation():
    prof = profiles_table()
    prof = prof[~((prof["instance_type"] == "x.large") & (prof["load_frac"] == 1.0))]
    with pytest.raises(ValueError, match="outside the profile"):
        instance_power_w("x.large", 0.9, "boavizta", profiles=prof)


def test_linear_share_seed_model():
    assert_allclose(instance_power_w("m5.large", 0.5, "linear_share", p_ref_w=100.0), 65.0)
    assert_allclose(instance_power_w("m5.large", [0, 1], "linear_share", p_ref_w={"m5.large": 10.0}), [3.0, 10.0])
    # default P_ref: ccf power of the type at full load, 2 * 4.26 W + CCF memory
    assert_allclose(instance_power_w("m5.large", 0.0, "linear_share"), 0.3 * (8.52 + M5_LARGE_MEM_W))


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
    assert_allclose(m5["power_w"], [1.3 + M5_LARGE_MEM_W, 2.022 + M5_LARGE_MEM_W, 8.52 + M5_LARGE_MEM_W])
    # CCF embodied per instance-hour: 1.6103792 t / (35,040 h * 96 vCPU of m5's last size)
    assert_allclose(m5["embodied_g_per_h"], 1.6103792e6 / 35_040 / 96)
    assert_allclose(ccf_embodied_g_per_h("m5.large"), 0.478735, rtol=1e-5)
    # t3 has CCF embodied too (no NaN): 1.6103792 t / (35,040 h * 8 vCPU of t3.2xlarge)
    assert_allclose(prof.loc[prof["instance_type"] == "t3.micro", "embodied_g_per_h"], 1.6103792e6 / 35_040 / 8)
    assert (prof["source"] == "ccf").all()
    assert (ccf_power_profile(["m6a.large"], model="ccf_refined")["source"] == "ccf_refined").all()
    with pytest.raises(UnknownInstanceTypeError, match="p3.2xlarge"):
        ccf_power_profile(["m5.large", "p3.2xlarge"])


def test_power_model_comparison_table():
    t = power_model_comparison(["m5.xlarge", "m5.large"], load_fracs=(0.5,))
    row = t.set_index("instance_type").loc["m5.xlarge"]
    assert_allclose(row["ccf_w"], instance_power_w("m5.xlarge", 0.5, "ccf"))
    assert_allclose(row["boavizta_w"], 22.5918)
    assert_allclose(row["ratio_ccf_vs_boavizta"], row["ccf_w"] / 22.5918)
    # m5.large has no default BoaviztAPI curve: an explicit gap with its reason, not a silent fill
    gap = t.set_index("instance_type").loc["m5.large"]
    assert np.isnan(gap["boavizta_w"]) and "boavizta" in gap["gap"] and np.isnan(gap["spread_frac"])


def test_boavizta_ignores_profiles_of_other_sources():
    # the table holds a ccf-sourced curve for m5.large: not a boavizta curve
    with pytest.raises(UnknownInstanceTypeError, match=r"m5\.large.*boavizta"):
        instance_power_w("m5.large", 0.5, "boavizta", profiles=profiles_table())
    assert_allclose(instance_power_w("m5.large", 0.5, "boavizta", profiles=profiles_table(), profile_source="ccf"),
                    1.5)


def test_fleet_energy_by_model_hand_computed():
    fh = pd.DataFrame({"instance_type": ["m5.xlarge", "m5.xlarge", "m5.xlarge", "m5.large"],
                       "running_frac": [1.0, 0.5, 1.0, 1.0], "cpu_util_frac": [0.5, 0.1, np.nan, 0.5]})
    out = fleet_energy_by_model_kwh(fh, models=("ccf", "boavizta"))
    m5x = out.loc["m5.xlarge"]
    ccf = instance_power_w("m5.xlarge", np.array([0.5, 0.1]), "ccf")
    assert_allclose(m5x["ccf_kwh"], (ccf[0] + 0.5 * ccf[1]) / 1000)
    assert_allclose(m5x["boavizta_kwh"], (22.5918 + 0.5 * 10.8672) / 1000)
    assert m5x["running_h"] == 2.5 and m5x["running_h_without_cpu"] == 1.0
    # m5.large has no boavizta curve: a gap with its reason; the total is NaN, not a partial sum
    assert np.isnan(out.loc["m5.large", "boavizta_kwh"]) and "boavizta" in out.loc["m5.large", "gap"]
    assert np.isnan(out.loc["total", "boavizta_kwh"])
    assert_allclose(out.loc["total", "ccf_kwh"], out.loc[["m5.xlarge", "m5.large"], "ccf_kwh"].sum())


def test_fit_boavizta_curve_recovers_the_form_and_rejects_other_shapes():
    # BoaviztAPI's form (consumption_profile.py __log_model + linear RAM): P(x%) = A ln(x + c) + S x + D
    from finops_lib.calc.power import boavizta_curve_w, fit_boavizta_curve

    loads = np.array([0.0, 0.05, 0.15, 0.35, 0.65, 1.0])
    true = {"a": 13.53, "c": 20.46, "slope": 0.0095, "d": -35.45}
    watts = true["a"] * np.log(loads * 100 + true["c"]) + true["slope"] * loads * 100 + true["d"]
    fit = fit_boavizta_curve(loads, watts)
    u = np.linspace(0, 1, 201)
    expected = true["a"] * np.log(u * 100 + true["c"]) + true["slope"] * u * 100 + true["d"]
    assert_allclose(boavizta_curve_w(fit, u), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="deviate"):  # a step is not BoaviztAPI's curve
        fit_boavizta_curve(loads, [1.0, 1.0, 1.0, 5.0, 5.0, 5.0])
    with pytest.raises(ValueError, match=">= 5"):
        fit_boavizta_curve(loads[:4], watts[:4])
