"""Benchmark of the evaluation step: the Monte Carlo (and optionally ``make evaluate``).

``python -m finops_lib.bench evaluate`` times, for a synthetic fleet of the
thesis size (100 instances, 30 days = 720 h, 10,000 draws):

1. ``fleet_aggregates`` -- the one pass over instances x hours x cpu_scale grid;
2. ``monte_carlo`` -- the totals for every draw;
3. ``hourly_co2_quantiles`` -- the hourly band (draws x hours);

with wall time and peak traced memory (``tracemalloc``). Target: the whole
Monte Carlo step < 5 s and < 1 GB on 2 cores. It then times a full
``finops evaluate`` of the default experiments into a fresh temporary results
folder (collecting the sandbox snapshots included; a few minutes). Set
``FINOPS_BENCH_FULL=0`` to skip that.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np
import pandas as pd

from finops_lib import factors
from finops_lib.calc import uncertainty as unc

N_INSTANCES = 100
N_HOURS = 30 * 24
N_DRAWS = 10_000
TARGET_S = 5.0
TARGET_PEAK_MB = 1_024.0


def synthetic_inputs(n_instances: int = N_INSTANCES, n_hours: int = N_HOURS, seed: int = 0):
    """A random fleet-hourly table, power profiles, prices and intensity of the given size."""
    rng = np.random.default_rng(seed)
    types = list(factors.BOAVIZTA_REFERENCE_POWER_W)
    hours = pd.date_range("2024-03-01", periods=n_hours, freq="h", tz="UTC")
    itypes = np.array(types)[np.arange(n_instances) % len(types)]
    fh = pd.DataFrame(
        {
            "instance_id": np.repeat([f"i-{i:04d}" for i in range(n_instances)], n_hours),
            "hour": np.tile(hours, n_instances),
            "instance_type": np.repeat(itypes, n_hours),
            "lifecycle": "on-demand",
            "running_frac": (rng.random(n_instances * n_hours) < 0.7).astype(float),
            "cpu_util_frac": rng.beta(2, 5, n_instances * n_hours),
        }
    )
    profiles = pd.DataFrame(
        [
            {"instance_type": t, "load_frac": x, "power_w": w}
            for t, ws in factors.BOAVIZTA_REFERENCE_POWER_W.items()
            for x, w in zip(factors.BOAVIZTA_REFERENCE_LOADS_FRAC, ws, strict=True)
        ]
    )
    prices = {t: factors.INSTANCE_CATALOG[t]["usd_per_hour"] for t in types}
    intensity = pd.Series(371 * (1 + 0.3 * np.sin(np.arange(n_hours) / 24 * 2 * np.pi)), index=hours)
    return fh, profiles, prices, intensity


def _timed(label, fn):
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, {"step": label, "wall_s": round(wall, 3), "peak_mb": round(peak / 2**20, 1)}


def run(full: bool | None = None) -> list[dict]:
    """Time the Monte Carlo step and (unless ``FINOPS_BENCH_FULL=0``) a full ``make evaluate``."""
    if full is None:
        full = os.environ.get("FINOPS_BENCH_FULL", "1") != "0"
    fh, profiles, prices, intensity = synthetic_inputs()
    rows = []
    agg, row = _timed("fleet_aggregates (100 inst x 720 h)", lambda: unc.fleet_aggregates(fh, profiles, prices, intensity))
    rows.append(row)
    mc, row = _timed(f"monte_carlo totals ({N_DRAWS} draws)", lambda: unc.monte_carlo(agg, N_DRAWS, seed=42))
    rows.append(row)
    _, row = _timed(f"hourly_co2_quantiles ({N_DRAWS} draws x 720 h)", lambda: unc.hourly_co2_quantiles(agg, mc.draws))
    rows.append(row)
    total_s = sum(r["wall_s"] for r in rows)
    peak = max(r["peak_mb"] for r in rows)
    rows.append(
        {
            "step": "monte_carlo step total",
            "wall_s": round(total_s, 3),
            "peak_mb": peak,
            "target": f"< {TARGET_S} s, < {TARGET_PEAK_MB:.0f} MB",
            "ok": bool(total_s < TARGET_S and peak < TARGET_PEAK_MB),
        }
    )
    if full:
        # a fresh results folder, so the time includes collecting the sandbox snapshots
        with tempfile.TemporaryDirectory(prefix="finops-bench-") as tmp:
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "finops_lib.cli", "evaluate", "--no-progress",
                                   "--results", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            rows.append({"step": "make evaluate (default set, fresh results/)",
                         "wall_s": round(time.perf_counter() - t0, 1), "ok": proc.returncode == 0})
            if proc.returncode:
                print(proc.stderr[-3000:], file=sys.stderr)
    for r in rows:
        extra = f"  peak {r['peak_mb']} MB" if "peak_mb" in r else ""
        flag = "" if "ok" not in r else ("  OK" if r["ok"] else "  OVER TARGET / FAILED")
        print(f"    {r['step']:<48} {r['wall_s']:>8.3f} s{extra}{flag}")
    return rows


if __name__ == "__main__":  # pragma: no cover
    run()
