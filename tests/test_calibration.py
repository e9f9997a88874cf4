"""Calibration as evidence: does the Monte Carlo's 90 % interval cover an independent truth?

Each seed is a fresh simulated world whose hidden truth comes from the
sandbox's own physics and billing (:mod:`finops_lib.sandbox.truth`: SPECpower-
style host curves on 5-minute CPU, hardware offsets, memory and storage power,
a seasonal PUE, a hidden intensity series behind the served estimate, AWS's
billing rules with Reserved Instances and hourly Spot prices). The estimator's
priors (``factors.UNCERTAINTY_PRIORS``) come from published sources and are
never read by the sandbox (``tests/sandbox/test_truth.py`` checks the import
graph). So coverage here is evidence, not true by construction.

The estimate reads only the contract tables (never ``truth_*``), exactly as
notebook 03 does (:func:`finops_lib.calc.uncertainty.snapshot_interval`).

Thresholds: for a calibrated interval the hit count over 20 worlds is
Binomial(20, 0.9): P(X >= 15) = 0.989; an interval covering 60 % passes with
P = 0.13, one covering 50 % with P = 0.02. Seeds are fixed: deterministic.

Result as it came out (experiment ``thesis-calibration``: 24 further worlds of
12 instances x 7 days): CO2e is covered in 23 of 24 worlds (coverage 0.96,
Clopper-Pearson 95 % CI 0.79-1.00; median truth / q50 = 0.97, half-width
~ 20 %, the span between the power models dominating, Sobol ~ 0.78).
**Cost is not covered in any world** (0/24, CI 0-0.14): the billed truth lies
*below* the interval every time (median truth / q50 = 0.88), because the
estimate is runtime x list price while AWS bills Reserved-Instance-covered
usage at 0 (plus the RI fee) and Spot at the hour's Spot price. That is a gap
of the cost estimator (commitments are data in Cost Explorer, not an
uncertainty), recorded here as a strict xfail so that fixing it shows up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finops_lib.calc import uncertainty
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


@pytest.fixture(scope="module")
def table(boavizta_url, tmp_path_factory):
    from finops_lib.sandbox import collect_sandbox_snapshot

    rows = []
    for seed in SEEDS:
        path = collect_sandbox_snapshot(tmp_path_factory.mktemp(f"w{seed}"), {"seed": seed, **WORLD},
                                        progress=False, overwrite=True)  # fmt: skip
        snap = read_snapshot(path)
        q = uncertainty.snapshot_interval(snap, 2_000, seed=0)
        # scoring only; over the instances the estimate can cover (the others are a reported gap)
        truth = uncertainty.truth_totals(snap.tables, instance_ids=uncertainty.known_type_ids(snap["instances"]))
        for o in ("co2_kg", "cost_eur"):
            assert np.isfinite(truth[o]), f"seed {seed}: truth {o} has a gap"
        rows.append(uncertainty.calibration_row(q, truth))
    return uncertainty.coverage_table(pd.DataFrame(rows))


def test_co2_interval_covers_the_independent_truth_at_about_its_nominal_rate(table):
    row = table.loc["co2_kg"]
    assert row["hits_count"] >= 15, table.T
    # ...and not by being uselessly wide
    assert row["median_half_width_frac"] < 0.40, table.T


@pytest.mark.xfail(strict=True, reason="cost = runtime x list price ignores Reserved Instances and real Spot "
                   "prices; the billed truth is 9-15 % below the interval (see module docstring)")
def test_cost_interval_covers_the_billed_truth(table):
    assert table.loc["cost_eur", "hits_count"] >= 15, table.T


def test_coverage_table_binomial_interval():
    rows = pd.DataFrame({"co2_kg_hit": [True] * 18 + [False] * 2, "co2_kg_truth": 1.0, "co2_kg_q05": 0.9,
                         "co2_kg_q95": 1.1, "co2_kg_truth_over_q50": 1.0, "co2_kg_half_width_frac": 0.1})
    t = uncertainty.coverage_table(rows, outputs=("co2_kg",)).loc["co2_kg"]
    # Clopper-Pearson 95 % for 18/20: 0.683 .. 0.988 (scipy.stats.binomtest, exact)
    assert t["coverage_frac"] == 0.9 and t["nominal_inside_ci_count"] == 1
    np.testing.assert_allclose([t["coverage_ci_low_frac"], t["coverage_ci_high_frac"]], [0.6830, 0.9877], atol=5e-4)
    low = uncertainty.coverage_table(rows.assign(co2_kg_hit=[True] * 10 + [False] * 10), outputs=("co2_kg",))
    assert low.loc["co2_kg", "nominal_inside_ci_count"] == 0
