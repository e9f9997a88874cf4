"""Monte Carlo, quantiles, Sobol indices and calibration against a simulated truth."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from finops_lib import factors
from finops_lib.calc import scenarios as sc
from finops_lib.calc import uncertainty as unc

TYPES = list(factors.BOAVIZTA_REFERENCE_POWER_W)
PRICES = {t: factors.INSTANCE_CATALOG[t]["usd_per_hour"] for t in TYPES}


def _profiles():
    rows = []
    for t, watts in factors.BOAVIZTA_REFERENCE_POWER_W.items():
        for load, w in zip(factors.BOAVIZTA_REFERENCE_LOADS_FRAC, watts, strict=True):
            rows.append({"instance_type": t, "load_frac": load, "power_w": w})
    return pd.DataFrame(rows)


def _world(seed, n_inst=8, n_h=72):
    """A random small fleet: running fractions, CPU, intensity (all reported values)."""
    rng = np.random.default_rng(seed)
    hours = pd.date_range("2024-03-01", periods=n_h, freq="h", tz="UTC")
    rows = []
    for i in range(n_inst):
        t = TYPES[i % len(TYPES)]
        on = rng.random(n_h) < 0.7
        r = np.where(on, rng.choice([1.0, 0.5, 0.25], n_h, p=[0.8, 0.1, 0.1]), 0.0)
        u = rng.beta(2, 5, n_h)
        for h, rr, uu in zip(hours, r, u, strict=True):
            rows.append({"instance_id": f"i-{i}", "hour": h, "instance_type": t,
                         "lifecycle": "spot" if i == 1 else "on-demand",
                         "running_frac": rr, "cpu_util_frac": uu})
    intensity = pd.Series(371 * (1 + 0.35 * np.sin(np.arange(n_h) / 24 * 2 * np.pi)), index=hours)
    return pd.DataFrame(rows), intensity


def _list_cost_usd(fh, spot_price_frac):
    """Σ running_frac x list price, Spot rows at spot_price_frac of it. [USD]"""
    cost = fh["running_frac"] * fh["instance_type"].map(PRICES)
    return float((cost * np.where(fh["lifecycle"] == "spot", spot_price_frac, 1.0)).sum())


def _truth(fh, intensity, f, span=None):
    """Exact instance-level truth with the factors' documented meanings (a self-consistency check)."""
    true = fh.copy()
    true["cpu_util_frac"] = np.clip(fh["cpu_util_frac"] * f.get("cpu_scale", 1.0), 0, 1)
    fpt = sc.instance_hour_footprint(true, _profiles(), PRICES, intensity * f.get("intensity_scale", 1.0),
                                     pue=f.get("pue", 1.0))
    mult = 1.0
    if span is not None and "power_model" in f:
        q = f["power_model"]
        mult = np.exp(fh["instance_type"].map(span["log_lo"] + q * (span["log_hi"] - span["log_lo"]))).to_numpy()
    return {
        "co2_kg": float(np.nansum(fpt["co2_g"].to_numpy() * mult)) / 1000 * f.get("power_scale", 1.0),
        "cost_eur": _list_cost_usd(fh, f["spot_price_frac"]) * f["price_scale"] * FX,
    }


FX = factors.EUR_PER_USD["value"]


def test_prior_distributions_match_factor_meanings():
    d = unc.prior_distributions()
    assert set(d) == set(factors.UNCERTAINTY_PRIORS)
    assert "eur_per_usd" not in d  # a past period's FX rate is data
    assert_allclose(d["pue"].mean(), 1.35)
    assert_allclose(d["pue"].std(), 0.04)
    assert_allclose(d["power_model"].ppf([0, 1]), [0, 1])
    assert_allclose(np.log(d["cpu_scale"].ppf(0.8413447460685429)), 0.05, rtol=1e-9)
    with pytest.raises(ValueError, match="'x'.*unknown kind"):
        unc.prior_distributions({"x": {"kind": "beta"}})


def test_power_span_comes_from_the_models_at_run_time():
    from finops_lib.calc import power

    fh, intensity = _world(11)
    agg = unc.fleet_aggregates(fh, _profiles(), PRICES, intensity)
    sp = agg.power_span
    assert set(sp.index) == set(TYPES)
    run = fh[fh["running_frac"] > 0]
    for t in TYPES:
        g = run[run["instance_type"] == t]
        e_ccf = (power.fleet_power_w(g["instance_type"], g["cpu_util_frac"], "ccf") * g["running_frac"]).sum()
        e_boa = (power.fleet_power_w(g["instance_type"], g["cpu_util_frac"], "boavizta", _profiles(),
                                     profile_source=None) * g["running_frac"]).sum()  # fmt: skip
        assert_allclose(sp.loc[t, "ratio_ccf"], e_ccf / e_boa, rtol=1e-9)
        assert_allclose(sp.loc[t, "ratio_boavizta"], 1.0, rtol=1e-9)  # the chosen curve is BoaviztAPI's
        assert_allclose(sp.loc[t, "log_lo"], min(0.0, *np.log(sp.loc[t, ["ratio_ccf", "ratio_linear_share"]])))
    assert_allclose(sp["energy_w"].sum(), 1.0)
    # CCF and BoaviztAPI differ markedly (issue 9: 0.7-1.9x at the same load): the span is not a rounding error
    assert (sp["log_hi"] - sp["log_lo"]).max() > 0.2
    # the fleet factor runs from the smallest to the largest model at q = 0 / 1
    f = unc._power_factor(agg, np.array([0.0, 1.0]))
    assert_allclose(f, [(sp["energy_w"] * np.exp(sp["log_lo"])).sum(), (sp["energy_w"] * np.exp(sp["log_hi"])).sum()])


def test_draws_are_reproducible_by_seed():
    a = unc.draw_factors(50, np.random.default_rng(3))
    b = unc.draw_factors(50, np.random.default_rng(3))
    c = unc.draw_factors(50, np.random.default_rng(4))
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_evaluate_draws_equals_point_estimate_at_given_factors():
    fh, intensity = _world(1)
    est = pd.Series(False, index=intensity.index)
    est.iloc[-10:] = True
    agg = unc.fleet_aggregates(fh, _profiles(), PRICES, intensity, intensity_is_estimated=est)
    f = {"pue": 1.2, "intensity_scale": 0.95, "intensity_estimated_scale": 1.3, "cpu_scale": 1.0, "price_scale": 1.02,
         "spot_price_frac": 0.4}
    got = unc.evaluate_draws(agg, pd.DataFrame([f]), eur_per_usd=0.9).iloc[0]
    pt = sc.fleet_hourly_totals(fh, _profiles(), PRICES, intensity, pue=1.2, eur_per_usd=0.9)
    assert_allclose(got["energy_kwh"], pt["energy_kwh"], rtol=1e-12)
    i_true = intensity * np.where(est, 1.3, 0.95)
    assert_allclose(got["co2_kg"], sc.fleet_hourly_totals(fh, _profiles(), PRICES, i_true, pue=1.2, eur_per_usd=1.0)["co2_kg"], rtol=1e-12)
    assert_allclose(got["cost_eur"], _list_cost_usd(fh, 0.4) * 1.02 * 0.9, rtol=1e-12)
    assert _list_cost_usd(fh, 0.4) < pt["cost_usd"]  # the Spot instance is billed below its list price
    # the power model-form factor: q = 0 and 1 scale energy to the smallest / largest model
    lo, hi = unc.evaluate_draws(agg, pd.DataFrame([f | {"power_model": 0.0}, f | {"power_model": 1.0}]))["energy_kwh"]
    sp = agg.power_span
    assert_allclose([lo, hi], pt["energy_kwh"] * np.array([(sp["energy_w"] * np.exp(sp[c])).sum()
                                                           for c in ("log_lo", "log_hi")]), rtol=1e-12)  # fmt: skip


@pytest.mark.parametrize("s", [0.83, 0.97, 1.07, 1.2])
def test_cpu_scale_grid_interpolation_is_accurate(s):
    fh, intensity = _world(2)
    agg = unc.fleet_aggregates(fh, _profiles(), PRICES, intensity)
    f = {"pue": 1.0, "intensity_scale": 1.0, "cpu_scale": s, "price_scale": 1.0, "spot_price_frac": 1.0}
    got = unc.evaluate_draws(agg, pd.DataFrame([f])).iloc[0]
    assert_allclose(got["co2_kg"], _truth(fh, intensity, f)["co2_kg"], rtol=2e-3)


def test_aggregates_report_missing_cpu_as_gap_and_refuse_missing_price():
    fh, intensity = _world(3)
    bad = fh.copy()
    i = bad.index[bad["running_frac"] > 0][0]
    bad.loc[i, "cpu_util_frac"] = np.nan
    full = unc.fleet_aggregates(fh, _profiles(), PRICES, intensity)
    gap = unc.fleet_aggregates(bad, _profiles(), PRICES, intensity)
    assert gap.running_h_without_cpu == bad.loc[i, "running_frac"]
    assert_allclose(gap.cost_usd.sum(), full.cost_usd.sum())  # still billed
    assert gap.it_power_w.sum() < full.it_power_w.sum()  # but no invented energy
    with pytest.raises(KeyError, match="m6a.large"):
        unc.fleet_aggregates(fh, _profiles(), {k: v for k, v in PRICES.items() if k != "m6a.large"}, intensity)


def test_quantiles_hourly_band_and_savings():
    fh, intensity = _world(4)
    fh = fh.assign(lifecycle="on-demand")  # all at list price: cost savings are then exact per draw
    agg = unc.fleet_aggregates(fh, _profiles(), PRICES, intensity)
    base = unc.monte_carlo(agg, 2000, seed=7)
    q = base.quantiles()
    assert list(q.columns) == ["q05", "q50", "q95"]
    assert (q["q05"] < q["q50"]).all() and (q["q50"] < q["q95"]).all()
    band = unc.hourly_co2_quantiles(agg, base.draws)
    assert band.shape == (72, 3) and (band["q05"] <= band["q95"]).all()
    # the hourly medians add up to roughly the median total (sum of medians ~ median of sums here)
    assert_allclose(band["q50"].sum() / 1000, q.loc["co2_kg", "q50"], rtol=0.02)
    office = sc.apply_office_hours(fh, fh["instance_id"].unique())
    scen = unc.monte_carlo(unc.fleet_aggregates(office, _profiles(), PRICES, intensity), 2000, seed=7)
    sav = unc.savings_frac(base, scen)
    # cost savings are exact per draw (price factors cancel): all quantiles equal the running-hour cut
    cut = 1 - sc.fleet_hourly_totals(office, _profiles(), PRICES, intensity, 1, 1)["cost_usd"] / sc.fleet_hourly_totals(
        fh, _profiles(), PRICES, intensity, 1, 1
    )["cost_usd"]
    assert_allclose(sav.loc["cost_eur"], cut, rtol=1e-9)
    with pytest.raises(ValueError, match="common random numbers"):
        unc.savings_frac(base, unc.monte_carlo(agg, 2000, seed=8))


def test_sobol_indices_attribute_cost_to_price_only():
    fh, intensity = _world(5)
    agg = unc.fleet_aggregates(fh, _profiles(), PRICES, intensity)
    s = unc.sobol(agg, n=2048, seed=1)
    for f in ("pue", "power_model", "intensity_scale", "cpu_scale"):
        assert abs(s.loc[f, "cost_eur_total"]) < 0.02
    for f in ("price_scale", "spot_price_frac"):
        assert abs(s.loc[f, "co2_kg_total"]) < 0.02
    # one of the eight instances is Spot (1.5 % of list cost): a small but real share, zero without Spot
    assert s.loc["spot_price_frac", "cost_eur_total"] > 0.001
    no_spot = unc.sobol(unc.fleet_aggregates(fh.assign(lifecycle="on-demand"), _profiles(), PRICES, intensity), n=256)
    assert abs(no_spot.loc["spot_price_frac", "cost_eur_total"]) < 1e-9
    # CO2: the model-form span (CCF vs BoaviztAPI, a factor ~2) dominates PUE (sd 0.04/1.35) and intensity (0.05)
    st = s["co2_kg_total"]
    assert st["power_model"] > 0.5 and st["power_model"] > 3 * st["pue"]
    # no hour is estimated here: that factor explains nothing
    assert abs(st["intensity_estimated_scale"]) < 0.01
    with pytest.raises(ValueError, match="power of two"):
        unc.sobol(agg, n=1000)


def _coverage(priors, n_seeds=40):
    """Self-consistency: truths drawn from the real priors, intervals from ``priors``."""
    hits = {"co2_kg": 0, "cost_eur": 0}
    dists = unc.prior_distributions()  # the truth always comes from the real priors
    for seed in range(n_seeds):
        fh, intensity = _world(100 + seed, n_inst=6, n_h=48)
        rng = np.random.default_rng(10_000 + seed)
        f = {k: float(d.rvs(random_state=rng)) for k, d in dists.items()}
        agg = unc.fleet_aggregates(fh, _profiles(), PRICES, intensity)
        truth = _truth(fh, intensity, f, agg.power_span)
        q = unc.monte_carlo(agg, 1000, seed=seed, priors=priors).quantiles()
        for k in hits:
            hits[k] += q.loc[k, "q05"] <= truth[k] <= q.loc[k, "q95"]
    return hits


def test_propagation_covers_truths_drawn_from_its_own_priors():
    """Self-consistency of the propagation code (NOT evidence of calibration: see tests/test_calibration.py).

    Coverage of the 5-95 % interval over 40 synthetic fleets whose truth is
    drawn from the same priors. Threshold >= 31/40: a correct propagation
    (p = 0.9) passes with probability 0.995 (binomial), one whose true coverage
    is 0.6 passes with 0.016. The second half shows the check has teeth: an
    over-confident MC (every prior three times too narrow) fails it.
    """
    hits = _coverage(factors.UNCERTAINTY_PRIORS)
    assert hits["co2_kg"] >= 31 and hits["cost_eur"] >= 31, hits

    narrow = {}
    for k, p in factors.UNCERTAINTY_PRIORS.items():
        if p["kind"] == "uniform":
            mid, half = (p["low"] + p["high"]) / 2, (p["high"] - p["low"]) / 6
            narrow[k] = {"kind": "uniform", "low": mid - half, "high": mid + half}
        elif p["kind"] == "model_span":
            narrow[k] = {"kind": "uniform", "low": 1 / 3, "high": 2 / 3}
        elif p["kind"] == "normal":
            narrow[k] = p | {"sd": p["sd"] / 3}
        else:
            narrow[k] = {"kind": "lognormal_frac", "sd": p["sd"] / 3}
    bad = _coverage(narrow)
    assert bad["co2_kg"] < 31 and bad["cost_eur"] < 31, bad


def test_fleet_aggregates_reports_unknown_running_state_as_gap_like_point_estimate():
    h = pd.date_range("2024-01-01", periods=2, freq="h", tz="UTC")
    fh = pd.DataFrame({"instance_id": "i-a", "hour": h, "instance_type": "m6a.large", "lifecycle": "on-demand",
                       "running_frac": [1.0, np.nan], "cpu_util_frac": [0.1, 0.1]})
    intensity = pd.Series([400.0, 400.0], index=h)
    agg = unc.fleet_aggregates(fh, _profiles(), {"m6a.large": 0.1}, intensity)
    assert agg.running_h_unknown == 1 and agg.running_h_without_cpu == 0
    assert_allclose(agg.cost_usd, [0.1, 0.0])  # the unknown hour is in no total (not NaN, not invented)
    assert_allclose(agg.energy_kwh_hourly(), [3.161 / 1000, 0.0])
    one = {"pue": 1.0, "intensity_scale": 1.0, "cpu_scale": 1.0, "price_scale": 1.0,
           "spot_price_frac": 1.0, "eur_per_usd": 1.0}
    got = unc.evaluate_draws(agg, pd.DataFrame([one])).iloc[0]
    pt = sc.fleet_hourly_totals(fh, _profiles(), {"m6a.large": 0.1}, intensity, pue=1.0, eur_per_usd=1.0)
    assert_allclose([got["cost_usd"], got["energy_kwh"], got["co2_kg"]], [pt["cost_usd"], pt["energy_kwh"], pt["co2_kg"]])
    assert pt["running_h_unknown"] == agg.running_h_unknown
    with pytest.raises(ValueError, match="NaN.*m6a.large"):
        unc.fleet_aggregates(fh, _profiles(), {"m6a.large": np.nan}, intensity)
