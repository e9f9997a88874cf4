"""The Monte Carlo's 90 % interval covers the sandbox's hidden truth at about its nominal rate.

Each seed is a fresh simulated world whose true factors (PUE, power scale,
intensity and CPU errors, price scale, Spot discount, FX) are drawn from
``factors.UNCERTAINTY_PRIORS``. The world is served on loopback and collected
by the unchanged collectors; the estimate reads only the contract tables
(never ``truth_*``), exactly as notebook 03 does. Scoring then reads the truth.

Why 15 of 20: for a calibrated interval the hit count is Binomial(20, 0.9),
so P(X >= 15) = 0.989; an over-confident interval covering 60 % passes with
P = 0.13 only, and one covering 50 % with P = 0.02. The seeds are fixed, so
the test is deterministic; the threshold says how much luck it tolerates.
"""

from __future__ import annotations

import numpy as np
import pytest

from finops_lib import calc
from finops_lib.calc import scenarios, uncertainty
from finops_lib.snapshot import read_snapshot

pytestmark = pytest.mark.slow

SEEDS = range(1000, 1020)
WORLD = {"n_instances": 8, "days": 3}


@pytest.fixture(scope="module")
def boavizta_url():
    """One local BoaviztAPI for all worlds (the sandbox uses $BOAVIZTA_URL when set)."""
    from finops_lib.collect.boavizta import boavizta_server

    with boavizta_server() as url, pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOAVIZTA_URL", url)
        yield url


def _interval_and_truth(snapshot_dir):
    snap = read_snapshot(snapshot_dir)
    ws, we = snap.window_start, snap.window_end
    inst, events, cpu = snap["instances"], snap["state_events"], snap["cpu_hourly"]
    frac = calc.estimate_runtime("cloudtrail_cloudwatch", events, inst, cpu, ws, we)
    fleet = scenarios.fleet_hourly_table(frac, cpu, inst)
    intensity = snap["intensity_hourly"].set_index("hour")["intensity_g_per_kwh"].sort_index()
    usd_per_hour = snap["prices"].drop_duplicates("instance_type").set_index("instance_type")["usd_per_hour"]
    agg = uncertainty.fleet_aggregates(fleet, snap["power_profiles"], usd_per_hour.to_dict(), intensity)
    q = uncertainty.monte_carlo(agg, 2_000, seed=0).quantiles()
    # scoring only: the hidden truth
    eur_per_usd = snap["truth_factors"].set_index("name")["value"]["eur_per_usd"]
    truth = {"co2_kg": snap["truth_hourly"]["co2_g"].sum(min_count=1) / 1_000,
             "cost_eur": snap["truth_billing"]["cost_usd"].sum(min_count=1) * eur_per_usd}
    return q, truth


def test_truth_inside_90pct_interval_at_nominal_rate(boavizta_url, tmp_path):
    from finops_lib.sandbox import collect_sandbox_snapshot

    hits = {"co2_kg": 0, "cost_eur": 0}
    half_width = {"co2_kg": [], "cost_eur": []}
    for seed in SEEDS:
        path = collect_sandbox_snapshot(tmp_path / str(seed), {"seed": seed, **WORLD}, progress=False)
        q, truth = _interval_and_truth(path)
        for out in hits:
            assert np.isfinite(truth[out]), f"seed {seed}: truth {out} has a gap"
            hits[out] += bool(q.loc[out, "q05"] <= truth[out] <= q.loc[out, "q95"])
            half_width[out].append((q.loc[out, "q95"] - q.loc[out, "q05"]) / 2 / q.loc[out, "q50"])
    assert hits["co2_kg"] >= 15, hits
    assert hits["cost_eur"] >= 15, hits
    # ...and not by being uselessly wide: the priors imply roughly +-20 % (CO2e) and +-8 % (cost)
    assert np.median(half_width["co2_kg"]) < 0.30
    assert np.median(half_width["cost_eur"]) < 0.12
