"""Rightsizing recommendations: hand-computed EUR and kg CO2e per month, risk flags."""

from __future__ import annotations

import pandas as pd
from numpy.testing import assert_allclose

from finops_lib.scheduler.recommend import H_PER_MONTH, recommend

HOURS = pd.date_range("2026-10-01T00:00Z", periods=24, freq="h")


def _fleet(cpu: dict, peak: dict):
    fh = pd.DataFrame([{"instance_id": i, "hour": h, "instance_type": "m5.xlarge", "lifecycle": "on-demand",
                        "running_frac": 1.0, "cpu_util_frac": c} for i, c in cpu.items() for h in HOURS])
    ch = pd.DataFrame([{"instance_id": i, "hour": h, "cpu_util_frac": cpu[i], "cpu_util_max_frac": p}
                       for i, p in peak.items() for h in HOURS])
    # linear curves: m5.xlarge 10 + 20 u W, m5.large 5 + 10 u W
    profiles = pd.DataFrame({"instance_type": ["m5.xlarge"] * 2 + ["m5.large"] * 2, "load_frac": [0, 1, 0, 1],
                             "power_w": [10.0, 30.0, 5.0, 15.0]})
    return fh, ch, profiles


def test_recommendation_numbers_and_risk():
    fh, ch, profiles = _fleet({"i-ok": 0.2, "i-peaky": 0.2, "i-busy": 0.5}, {"i-ok": 0.45, "i-peaky": 0.6, "i-busy": 0.7})
    prices = {"m5.xlarge": 0.23, "m5.large": 0.115}
    ci = pd.Series(400.0, index=HOURS)
    rec = recommend(fh, ch, profiles, prices, ci, pue=1.35, eur_per_usd=0.9).set_index("instance_id")
    ok = rec.loc["i-ok"]
    assert (ok["current_type"], ok["proposed_type"]) == ("m5.xlarge", "m5.large")
    assert_allclose(ok["running_h_per_month"], H_PER_MONTH)
    assert_allclose(ok["saving_eur_per_month"], (0.23 - 0.115) * 0.9 * H_PER_MONTH)
    # same work on half the vCPUs: u 0.2 -> 0.4; P 10 + 20*0.2 = 14 W -> 5 + 10*0.4 = 9 W
    assert_allclose(ok["saving_co2_kg_per_month"], (14 - 9) * 1.35 / 1000 * 400 / 1000 * H_PER_MONTH)
    assert_allclose(ok["cpu_p95_after_frac"], 0.4) and ok["risk"] == "medium"  # memory halves, unobserved
    assert "memory x0.5" in ok["risk_reason"]
    assert rec.loc["i-peaky", "risk"] == "high"  # hourly max 0.6 -> 1.2 of the new vCPUs
    busy = rec.loc["i-busy"]  # p95 0.5 x 2 = 1.0 > 0.6: stays
    assert busy["proposed_type"] == "m5.xlarge" and busy["risk"] == "none" and busy["saving_eur_per_month"] == 0
