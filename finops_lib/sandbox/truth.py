"""The sandbox's hidden truth: its own physics, its own billing, its own distributions.

This module is how the sandbox lets an evaluation **fail**. It imports
nothing of the estimators -- none of the calculation package (power, billing,
runtime, uncertainty), not the factors module (so none of the Monte Carlo's
priors) -- only :mod:`finops_lib.constants` (exact unit conversions). ``tests/sandbox/test_truth.py`` checks that on the import graph.
Every number below is the truth's own, with its source or marked as a
modelling choice; none is tuned to make an estimator look good.

What the truth models (and the estimators do not see):

Power (per instance, every 5 minutes)
    ``P = offset_i * share_i * P_host(u_slot) + mem_i + storage_i`` where
    ``P_host`` is a SPECpower_ssj2008-style curve of a whole 2-socket (or
    Graviton 1-socket) host at 11 load points (0, 10, ..., 100 %) per processor
    family (:data:`HOST_CURVES`), ``u_slot`` the 5-minute CPU (so the hourly
    mean the estimators use loses the curve's non-linearity), ``share_i`` =
    instance vCPU / host threads, ``offset_i`` a hidden per-instance hardware
    offset (part-to-part variation, :data:`HW_OFFSET_LOG_SD`), a per-world
    family level (:data:`FAMILY_LEVEL_LOG_SD`, how much published results for
    the same processor differ by configuration), memory power of the
    instance's DRAM (:data:`MEMORY_W_PER_GIB_RANGE`) and a share of networked
    storage for its EBS volume (:data:`STORAGE_W_PER_TB_RANGE`).
PUE
    An hourly series: the world's annual value (:data:`PUE_ANNUAL`, drawn per
    world around the regional figure) with a seasonal cooling swing
    (:data:`PUE_SEASONAL_AMPLITUDE`, summer peak) and a small diurnal term.
Intensity
    The world's hidden true series is given (calibrated by
    :mod:`finops_lib.sandbox.intensity`); what Electricity Maps serves is an
    *estimate* of it: measured hours carry a small AR(1) error
    (:data:`MEASURED_ERROR_LOG_SD`), estimated hours (the most recent
    :data:`RECENT_ESTIMATED_H` before collection and random outages) a larger
    one (:data:`ESTIMATED_ERROR_LOG_SD`) and are flagged ``isEstimated``.
Billing (AWS's rules, the sandbox's own code)
    Per second with a 60 s minimum for a period that starts in the window;
    ``pending`` is not billed (billing starts when the instance is running,
    :data:`PENDING_S_RANGE` after the API call); a Spot instance that AWS
    interrupts within its first instance hour is not charged; the Spot price
    varies by hour around a per-type discount; part of the always-on
    on-demand fleet is covered by Reserved Instances (usage billed at 0, the
    RI fee billed every hour, used or not), so Cost Explorer shows net cost.

References
----------
.. [1] SPEC, SPECpower_ssj2008 results, https://www.spec.org/power_ssj2008/results/
   (shape: active idle 12-25 % of full-load power for 2017-2021 2-socket Xeon
   and EPYC servers; levels below are modelling choices in the range of those
   results, *unconfirmed* per value).
.. [2] Inadomi, Y. et al. (2015), "Analyzing and mitigating the impact of
   manufacturing variability in power-constrained supercomputing", SC'15
   (power of identical processors differs by up to ~20 % at equal load).
.. [3] AWS, "Amazon EC2 per-second billing" (2017) and EC2 user guide, "Spot
   Instance interruptions" (no charge for a partial first hour interrupted by
   Amazon EC2); EC2 instance lifecycle (billing starts in ``running``).
.. [4] Google, "Data center efficiency" quarterly PUE per site (seasonal swing
   of a few hundredths, higher in summer); used for the swing's shape only.
.. [5] Electricity Maps, "Data estimation" documentation: recent hours and
   hours with missing source data are estimated and flagged ``isEstimated``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from finops_lib import constants

# --------------------------------------------------------------------------- #
# power: hosts and instances
# --------------------------------------------------------------------------- #
#: Host power at 0, 10, ..., 100 % load as a fraction of full-load power
#: (SPECpower_ssj2008 reporting format [1]_), full-load power [W] and hardware
#: threads per host. Per processor family; modelling choices in the range of
#: published 2-socket results of comparable processors (*unconfirmed* values).
HOST_CURVES = {
    # Xeon Platinum 8175M / 8124M (Skylake-SP), 2 x 24 cores, HT
    "skylake": {"threads": 96, "full_w": 390.0,
                "frac": (0.14, 0.30, 0.38, 0.45, 0.52, 0.59, 0.66, 0.74, 0.82, 0.91, 1.00)},
    # Xeon 8375C (Ice Lake-SP), 2 x 32 cores, HT
    "icelake": {"threads": 128, "full_w": 580.0,
                "frac": (0.18, 0.33, 0.41, 0.48, 0.55, 0.62, 0.69, 0.76, 0.84, 0.92, 1.00)},
    # AMD EPYC 7R13 (Milan), 2 x 48 cores, SMT
    "milan": {"threads": 192, "full_w": 520.0,
              "frac": (0.21, 0.38, 0.46, 0.53, 0.60, 0.66, 0.72, 0.79, 0.86, 0.93, 1.00)},
    # AWS Graviton2, 1 x 64 cores, no SMT
    "graviton2": {"threads": 64, "full_w": 175.0,
                  "frac": (0.26, 0.40, 0.48, 0.55, 0.62, 0.68, 0.74, 0.81, 0.87, 0.94, 1.00)},
}  # fmt: skip
HOST_LOADS_FRAC = np.linspace(0.0, 1.0, 11)
#: Processor family of each instance family (AWS EC2 instance-type pages).
FAMILY_PROCESSOR = {"t3": "skylake", "m5": "skylake", "c5": "skylake", "r5": "skylake",
                    "m6i": "icelake", "c6i": "icelake", "r6i": "icelake", "m6a": "milan",
                    "t4g": "graviton2", "m6g": "graviton2", "c6g": "graviton2", "r6g": "graviton2"}  # fmt: skip
#: Part-to-part power variation of one instance's hardware, log-sd [-] ([2]_: up to ~20 %
#: between identical parts; a log-sd of 0.08 puts 95 % within +-17 %).
HW_OFFSET_LOG_SD = 0.08
#: Per-world level of each processor family's curve, log-sd [-]: published results for the
#: same processor differ by configuration (DIMMs, PSU, fans) by roughly +-10 % (modelling choice).
FAMILY_LEVEL_LOG_SD = 0.10
#: DRAM power per GiB, drawn per world uniformly [W/GiB]: DDR4 RDIMM datasheet-level figures
#: (about 3-6 W per 16 GiB module under load; modelling choice, *unconfirmed*).
MEMORY_W_PER_GIB_RANGE = (0.20, 0.40)
#: Networked block storage per TB provisioned incl. replication, drawn per world [W/TB]
#: (modelling choice: a few enterprise SSDs' ~5-10 W per several TB, x3 replicas).
STORAGE_W_PER_TB_RANGE = (2.0, 6.0)

# --------------------------------------------------------------------------- #
# PUE
# --------------------------------------------------------------------------- #
#: Regional annual PUE around which each world draws its own (Frankfurt region; GSF
#: real-time-cloud lists 1.32 for 2022 and 1.35 for 2024) and the world-to-world sd.
PUE_ANNUAL = {"eu-central-1": (1.34, 0.03)}
#: Seasonal swing of the hourly PUE, relative amplitude [-], peak in mid-July ([4]_ shape;
#: amplitude a modelling choice for a temperate climate with free cooling).
PUE_SEASONAL_AMPLITUDE = 0.03
#: Diurnal swing (afternoon peak), relative amplitude [-] (modelling choice).
PUE_DIURNAL_AMPLITUDE = 0.01

# --------------------------------------------------------------------------- #
# intensity served vs true
# --------------------------------------------------------------------------- #
#: Error of a measured hour, AR(1) in log space: stationary log-sd and time constant
#: [-], [h] (modelling choice: flow-tracing and emission-factor error of a few %).
MEASURED_ERROR_LOG_SD = 0.04
MEASURED_ERROR_TAU_H = 24.0
#: Error of an estimated hour, log-sd [-] (modelling choice: gap-filled hours are
#: markedly worse than measured ones [5]_).
ESTIMATED_ERROR_LOG_SD = 0.12
#: Hours before the collection time that are still estimates [h] ([5]_).
RECENT_ESTIMATED_H = 48
#: Outages: probability an hour starts a gap of 2-12 estimated hours (modelling choice).
OUTAGE_START_P = 0.004

# --------------------------------------------------------------------------- #
# billing
# --------------------------------------------------------------------------- #
#: Per-second billing minimum [s] (AWS, "per-second billing", 2017 [3]_).
MIN_BILLED_S = 60
#: Time in ``pending`` after RunInstances / StartInstances, not billed [s] (modelling choice).
PENDING_S_RANGE = (8, 45)
#: Spot: a partial first hour is free when AWS interrupts [s] [3]_.
SPOT_FREE_IF_INTERRUPTED_WITHIN_S = 3_600
#: Spot price as a fraction of on-demand: per-type mean drawn uniformly, then an hourly
#: AR(1) in log space (log-sd, time constant [h]). Modelling choices in the range of the
#: EC2 Spot Instance Advisor's "savings over on-demand" for these families (55-80 %).
SPOT_MEAN_FRAC_RANGE = (0.20, 0.45)
SPOT_HOURLY_LOG_SD = 0.06
SPOT_TAU_H = 72.0
#: Reserved Instances: fraction of always-on on-demand instances covered and the RI fee
#: as a fraction of on-demand (1-year standard, no upfront: ~35-40 % off; AWS RI
#: pricing page, *unconfirmed*).
RI_COVERED_FRAC = 0.3
RI_FEE_FRAC = 0.62


@dataclass(frozen=True)
class TruthParams:
    """Hidden per-world parameters of the truth (recorded in ``truth_factors``)."""

    pue_annual: float
    memory_w_per_gib: float
    storage_w_per_tb: float
    family_level: dict  # processor family -> multiplicative level [-]

    def as_factors(self) -> dict[str, float]:
        out = {"pue_annual": self.pue_annual, "memory_w_per_gib": self.memory_w_per_gib,
               "storage_w_per_tb": self.storage_w_per_tb}  # fmt: skip
        out |= {f"host_level_{k}": v for k, v in sorted(self.family_level.items())}
        return out


def draw_params(rng: np.random.Generator, region: str) -> TruthParams:
    """Draw a world's hidden truth parameters from the distributions documented above."""
    mu, sd = PUE_ANNUAL[region]
    return TruthParams(
        pue_annual=float(rng.normal(mu, sd)),
        memory_w_per_gib=float(rng.uniform(*MEMORY_W_PER_GIB_RANGE)),
        storage_w_per_tb=float(rng.uniform(*STORAGE_W_PER_TB_RANGE)),
        family_level={f: float(np.exp(rng.normal(0.0, FAMILY_LEVEL_LOG_SD))) for f in sorted(HOST_CURVES)},
    )


def processor_family(instance_type: str) -> str:
    """Processor family of an instance type (``KeyError`` naming it when unknown)."""
    fam = instance_type.split(".", 1)[0]
    try:
        return FAMILY_PROCESSOR[fam]
    except KeyError:
        raise KeyError(f"the sandbox truth has no host model for instance family {fam!r} "
                       f"({instance_type}); known: {sorted(FAMILY_PROCESSOR)}") from None  # fmt: skip


def host_power_w(family: str, load_frac) -> np.ndarray:
    """Whole-host wall power at a load, by linear interpolation in its SPECpower-style curve. [W]"""
    c = HOST_CURVES[family]
    return np.interp(np.clip(load_frac, 0.0, 1.0), HOST_LOADS_FRAC, np.asarray(c["frac"]) * c["full_w"])


def instance_power_w(instance_type: str, vcpu: int, memory_gib: float, volume_gb: float, load_frac,
                     offset: float, params: TruthParams) -> np.ndarray:
    """
    True power of one instance at a CPU load (without PUE).

    ``P = offset * level_family * vcpu / threads * P_host(u) + memory_gib * w_mem + volume_tb * w_storage``.

    Returns
    -------
    power_w : numpy.ndarray
        Same shape as ``load_frac``. [W]
    """
    fam = processor_family(instance_type)
    share = vcpu / HOST_CURVES[fam]["threads"]
    cpu = offset * params.family_level[fam] * share * host_power_w(fam, load_frac)
    static = memory_gib * params.memory_w_per_gib + volume_gb / 1_000 * params.storage_w_per_tb
    return cpu + static


def energy_kwh_hourly(instances: pd.DataFrame, cpu_frac_slots: np.ndarray, running_s_slots: np.ndarray,
                      slots_per_h: int, offsets: np.ndarray, params: TruthParams) -> np.ndarray:
    """
    True IT energy per instance-hour from 5-minute CPU and running seconds (no PUE).

    Parameters
    ----------
    instances : DataFrame
        instance_type, vcpu, memory_gib, volume_gb; one row per instance.
    cpu_frac_slots : ndarray (n, slots)
        CPU in each slot. [frac]
    running_s_slots : ndarray (n, slots)
        Running seconds in each slot. [s]
    slots_per_h : int
    offsets : ndarray (n,)
        Hidden hardware offsets. [-]

    Returns
    -------
    energy_kwh : ndarray (n, hours)
        [kWh]
    """
    n, t = cpu_frac_slots.shape
    out = np.zeros((n, t // slots_per_h))
    for k, row in enumerate(instances.itertuples(index=False)):
        p = instance_power_w(row.instance_type, row.vcpu, row.memory_gib, row.volume_gb, cpu_frac_slots[k],
                             offsets[k], params)  # fmt: skip
        wh = p * running_s_slots[k] / constants.S_PER_H
        out[k] = wh.reshape(-1, slots_per_h).sum(-1) / constants.WH_PER_KWH
    return out


def pue_hourly(hours: pd.DatetimeIndex, pue_annual: float) -> np.ndarray:
    """Hourly PUE: annual value x (1 + seasonal swing peaking mid-July + afternoon diurnal swing). [-]"""
    doy = hours.dayofyear.to_numpy(float)
    hod = hours.hour.to_numpy(float)
    season = PUE_SEASONAL_AMPLITUDE * np.cos(2 * np.pi * (doy - 196.0) / 365.25)
    diurnal = PUE_DIURNAL_AMPLITUDE * np.cos(2 * np.pi * (hod - 14.0) / 24.0)
    return pue_annual * (1.0 + season + diurnal)


# --------------------------------------------------------------------------- #
# intensity: served estimate of the hidden truth
# --------------------------------------------------------------------------- #
def served_intensity(true_g_per_kwh: pd.Series, as_of: pd.Timestamp,
                     rng: np.random.Generator) -> tuple[pd.Series, pd.Series]:
    """
    What Electricity Maps serves: an estimate of the hidden true series.

    Returns
    -------
    served_g_per_kwh : Series
        Same index. [gCO2e/kWh]
    is_estimated : Series of bool
        Hours served as estimates (the last :data:`RECENT_ESTIMATED_H` before
        ``as_of`` and random outages).
    """
    hours = true_g_per_kwh.index
    n = len(hours)
    phi = np.exp(-1.0 / MEASURED_ERROR_TAU_H)
    eps = rng.normal(0.0, MEASURED_ERROR_LOG_SD * np.sqrt(1 - phi**2), size=n)
    eps[0] = rng.normal(0.0, MEASURED_ERROR_LOG_SD)
    err = lfilter([1.0], [1.0, -phi], eps)
    est = np.zeros(n, dtype=bool)
    starts = np.flatnonzero(rng.random(n) < OUTAGE_START_P)
    lengths = rng.integers(2, 13, size=len(starts))
    for s, k in zip(starts, lengths, strict=True):
        est[s:s + k] = True
    est |= np.asarray(hours >= as_of.floor("h") - pd.Timedelta(hours=RECENT_ESTIMATED_H))
    err = np.where(est, rng.normal(0.0, ESTIMATED_ERROR_LOG_SD, size=n), err)
    served = pd.Series(true_g_per_kwh.to_numpy(float) * np.exp(err), index=hours, name="intensity_g_per_kwh")
    return served.round(3), pd.Series(est, index=hours, name="is_estimated")


#: Forecast error: log-sd at a 24 h horizon, growing like sqrt(horizon) (modelling choice
#: in the range of published day-ahead carbon-intensity forecast errors for Germany,
#: MAPE ~ 10-20 %, Maji et al. 2022, CarbonCast; *unconfirmed*).
FORECAST_LOG_SD_24H = 0.15
#: Forecast horizon served per issue [h] and issue interval [h] (modelling choices).
FORECAST_HORIZON_H = 24
FORECAST_ISSUE_EVERY_H = 1


def forecasts_as_issued(true_g_per_kwh: pd.Series, issued_at: pd.DatetimeIndex,
                        rng: np.random.Generator, horizon_h: int = FORECAST_HORIZON_H) -> pd.DataFrame:
    """
    Forecasts as they were issued: for each issue time, the next ``horizon_h`` hours.

    ``forecast = truth x exp(e_k)``; within one issue ``e`` is a random walk
    over the horizon k = 1..H with step sd ``FORECAST_LOG_SD_24H / sqrt(24)``
    (so sd(e_24) = :data:`FORECAST_LOG_SD_24H`); issues are independent.

    Returns
    -------
    pandas.DataFrame
        ``issued_at``, ``hour`` (target hour start), ``intensity_g_per_kwh``;
        only targets inside ``true_g_per_kwh``'s index.
    """
    step = FORECAST_LOG_SD_24H / np.sqrt(24.0)
    k = np.arange(1, horizon_h + 1)
    frames = []
    for t in issued_at:
        targets = t.floor("h") + pd.to_timedelta(k, unit="h")
        vals = true_g_per_kwh.reindex(targets).to_numpy(float)
        e = np.cumsum(rng.normal(0.0, step, size=horizon_h))
        ok = ~np.isnan(vals)
        frames.append(pd.DataFrame({"issued_at": t, "hour": targets[ok], "intensity_g_per_kwh": (vals * np.exp(e))[ok]}))
    if not frames:
        return pd.DataFrame(columns=["issued_at", "hour", "intensity_g_per_kwh"])
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- #
# billing
# --------------------------------------------------------------------------- #
def spot_price_frac_hourly(types: list[str], n_hours: int, rng: np.random.Generator,
                           mean_frac: float | None = None) -> dict[str, np.ndarray]:
    """Hourly Spot price as a fraction of on-demand, per instance type. [-]"""
    phi = np.exp(-1.0 / SPOT_TAU_H)
    out = {}
    for t in sorted(types):
        m = float(rng.uniform(*SPOT_MEAN_FRAC_RANGE)) if mean_frac is None else float(mean_frac)
        eps = rng.normal(0.0, SPOT_HOURLY_LOG_SD * np.sqrt(1 - phi**2), size=n_hours)
        eps[0] = rng.normal(0.0, SPOT_HOURLY_LOG_SD)
        x = lfilter([1.0], [1.0, -phi], eps)
        out[t] = np.clip(m * np.exp(x - SPOT_HOURLY_LOG_SD**2 / 2), 0.05, 1.0)
    return out


def billed_pieces(pieces: pd.DataFrame, lifecycle: pd.Series, pending_s: np.ndarray) -> pd.DataFrame:
    """
    Billed seconds of each running period by AWS's rules.

    Parameters
    ----------
    pieces : DataFrame
        instance_id, start_s, end_s, start_cause, end_cause (seconds since
        the window start; the start is the API call).
    lifecycle : Series
        Lifecycle of each piece's instance (``spot`` / ``on-demand``), aligned with ``pieces``.
    pending_s : ndarray
        Time in ``pending`` after each piece's API call. [s]

    Returns
    -------
    DataFrame
        ``pieces`` plus ``bill_start_s``, ``bill_end_s`` and ``billed_s``:
        billing starts at ``running`` (after ``pending``) for a period started
        in the window; 60 s minimum for a period that started in the window and
        ended in it; a Spot period interrupted by AWS within its first hour is
        billed 0 s.
    """
    p = pieces.copy()
    started = p["start_cause"].isin(["run", "start_api"]).to_numpy()
    a = p["start_s"].to_numpy(float) + np.where(started, pending_s, 0.0)
    b = p["end_s"].to_numpy(float)
    a = np.minimum(a, b)
    dur = b - a
    ended = ~p["end_cause"].eq("window_end").to_numpy()
    billed = np.where(started & ended, np.maximum(dur, MIN_BILLED_S), dur)
    free = (p["end_cause"].eq("spot_interruption").to_numpy() & lifecycle.eq("spot").to_numpy()
            & started & (b - a < SPOT_FREE_IF_INTERRUPTED_WITHIN_S))  # fmt: skip
    p["bill_start_s"], p["bill_end_s"] = a, b
    p["billed_s"] = np.where(free, 0.0, billed)
    p["spot_free"] = free
    return p


def ri_covered(instances: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Which instances a Reserved Instance covers: a share of the on-demand ones running the whole window."""
    eligible = (instances["lifecycle"].eq("on-demand") & instances["always_on_whole_window"]).to_numpy()
    idx = np.flatnonzero(eligible)
    k = int(round(RI_COVERED_FRAC * len(idx)))
    chosen = rng.choice(idx, size=k, replace=False) if k else np.array([], dtype=int)
    out = np.zeros(len(instances), dtype=bool)
    out[chosen] = True
    return out
