"""Deviation between calculated and billed cost.

References
----------
.. [1] Bland, J. M. and Altman, D. G. (1986), "Statistical methods for
   assessing agreement between two methods of clinical measurement",
   The Lancet 327(8476), 307-310.
.. [2] Hyndman, R. J. and Koehler, A. B. (2006), "Another look at measures of
   forecast accuracy", International Journal of Forecasting 22(4), 679-688
   (MAPE).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Bland-Altman limits of agreement: bias +/- 1.96 sd (95 % of differences) [1].
LOA_Z = 1.96

#: Cost Explorer usage-type substrings -> gap category (first match wins). ``HeavyUsage`` is the
#: hourly fee of an EC2 Reserved Instance (its covered usage shows as BoxUsage at 0): compute.
USAGE_CATEGORIES = (
    ("compute", ("BoxUsage", "SpotUsage", "HeavyUsage")),
    ("ebs", ("EBS:",)),
    ("data_transfer", ("DataTransfer",)),
)


def _pairs(calculated: Any, reference: Any, nan_policy: str) -> tuple[np.ndarray, np.ndarray]:
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
    if isinstance(calculated, pd.Series) and isinstance(reference, pd.Series):
        calculated, reference = calculated.align(reference, join="outer")
    c = np.atleast_1d(np.asarray(calculated, dtype="float64"))
    r = np.atleast_1d(np.asarray(reference, dtype="float64"))
    if c.shape != r.shape:
        raise ValueError(f"calculated has shape {c.shape}, reference {r.shape}")
    nan = np.isnan(c) | np.isnan(r)
    if nan.any():
        if nan_policy == "raise":
            raise ValueError(f"{int(nan.sum())} of {c.size} pairs contain NaN (use nan_policy='omit')")
        c, r = c[~nan], r[~nan]
    if c.size == 0:
        raise ValueError("no pairs to compare")
    return c, r


def mape(calculated: Any, reference: Any, *, nan_policy: str = "raise") -> float:
    r"""
    Mean absolute percentage error as a fraction: mean(|c − r| / |r|) [2]_. [-]

    Series are aligned on their index. A zero reference makes the error
    undefined and raises ``ValueError``.
    """
    c, r = _pairs(calculated, reference, nan_policy)
    if (r == 0).any():
        raise ValueError(f"reference is 0 in {int((r == 0).sum())} pairs; MAPE undefined")
    return float(np.mean(np.abs(c - r) / np.abs(r)))


def mean_bias(calculated: Any, reference: Any, *, nan_policy: str = "raise") -> float:
    """Mean difference calculated − reference (units of the inputs, e.g. [USD])."""
    c, r = _pairs(calculated, reference, nan_policy)
    return float(np.mean(c - r))


def bland_altman(calculated: Any, reference: Any, *, nan_policy: str = "raise") -> dict[str, float]:
    r"""
    Bland–Altman agreement of two methods [1]_.

    Returns
    -------
    dict
        ``bias`` = mean(c − r), ``sd`` = sample standard deviation of the
        differences (ddof 1; NaN for n = 1), ``loa_low``/``loa_high`` =
        bias ∓ 1.96·sd (units of the inputs), ``n`` = number of pairs.
    """
    c, r = _pairs(calculated, reference, nan_policy)
    d = c - r
    bias = float(np.mean(d))
    sd = float(np.std(d, ddof=1)) if d.size > 1 else float("nan")
    return {"bias": bias, "sd": sd, "loa_low": bias - LOA_Z * sd, "loa_high": bias + LOA_Z * sd, "n": int(d.size)}


def validation_factor(calculated: Any, reference: Any, *, nan_policy: str = "raise") -> float:
    """Σ reference ÷ Σ calculated (e.g. Cost Explorer ÷ calculated cost). [-]"""
    c, r = _pairs(calculated, reference, nan_policy)
    total = c.sum()
    if total == 0:
        raise ValueError("sum of calculated values is 0; validation factor undefined")
    return float(r.sum() / total)


def usage_category(usage_type: pd.Series) -> pd.Series:
    """Gap category of Cost Explorer usage types: compute / ebs / data_transfer / other / unknown (NA)."""
    ut = usage_type.astype("string")
    out = pd.Series("other", index=ut.index, dtype="string")
    assigned = pd.Series(False, index=ut.index)
    for cat, needles in USAGE_CATEGORIES:
        hit = pd.Series(False, index=ut.index)
        for n in needles:
            hit |= ut.str.contains(n, regex=False).fillna(False).astype(bool)
        out[hit & ~assigned] = cat
        assigned |= hit
    out[ut.isna()] = "unknown"
    return out


def gap_decomposition(costs: pd.DataFrame, calculated_compute_usd: float) -> pd.DataFrame:
    r"""
    Split the gap between billed cost and calculated compute cost by category.

    Parameters
    ----------
    costs : pandas.DataFrame
        Cost Explorer ``costs`` table (``usage_type``, ``cost_usd``).
    calculated_compute_usd : float
        Calculated compute cost of the same period. [USD]

    Returns
    -------
    pandas.DataFrame
        One row per category (compute, ebs, data_transfer, other, unknown --
        usage type missing -- and total) with ``billed_usd``,
        ``calculated_usd`` (only compute is calculated; 0 elsewhere),
        ``gap_usd`` = billed − calculated and ``gap_share_frac`` = gap_usd /
        total gap (NaN when the total gap is 0). [USD], [-]

    Notes
    -----
    Categories by usage-type substring (first match wins): "BoxUsage" or
    "SpotUsage" -> compute, "EBS:" -> ebs, "DataTransfer" -> data_transfer.
    """
    if not np.isfinite(calculated_compute_usd):
        raise ValueError(f"calculated_compute_usd must be finite, got {calculated_compute_usd!r}")
    if costs["cost_usd"].isna().any():
        raise ValueError(f"costs has {int(costs['cost_usd'].isna().sum())} rows with NaN cost_usd")
    cats = ["compute", "ebs", "data_transfer", "other", "unknown"]
    billed = costs.groupby(usage_category(costs["usage_type"]))["cost_usd"].sum().reindex(cats, fill_value=0.0)
    calc = pd.Series(0.0, index=cats)
    calc["compute"] = float(calculated_compute_usd)
    out = pd.DataFrame({"billed_usd": billed.astype("float64"), "calculated_usd": calc})
    out.loc["total"] = out.sum()
    out["gap_usd"] = out["billed_usd"] - out["calculated_usd"]
    total_gap = out.loc["total", "gap_usd"]
    out["gap_share_frac"] = out["gap_usd"] / total_gap if total_gap != 0 else np.nan
    return out.rename_axis("category").reset_index()


def usage_instance_type(usage_type: pd.Series) -> pd.Series:
    """Instance type of compute usage types ("EUC1-BoxUsage:m5.large" -> "m5.large"), else <NA>."""
    ut = usage_type.astype("string")
    out = ut.str.extract(r"(?:BoxUsage|SpotUsage):([a-z0-9\-]+\.[a-z0-9\-]+)$", expand=False)
    return out.astype("string")


def daily_compute_comparison(hourly_cost: pd.DataFrame, instances: pd.DataFrame, costs: pd.DataFrame) -> pd.DataFrame:
    r"""
    Calculated vs billed compute cost per UTC day and instance type.

    Parameters
    ----------
    hourly_cost : pandas.DataFrame
        ``instance_id``, ``hour``, ``cost_usd`` (e.g. from
        :func:`finops_lib.calc.hourly_cost_usd`), covering every instance x
        hour of the window. [USD]
    instances : pandas.DataFrame
        ``instances`` table (``instance_id``, ``instance_type``).
    costs : pandas.DataFrame
        Cost Explorer ``costs`` table grouped by usage type. [USD]

    Returns
    -------
    pandas.DataFrame
        ``day`` (UTC), ``instance_type``, ``calculated_usd``, ``billed_usd``
        [USD]. A side that has data for a day but no row for a type is 0; a
        day that a side does not cover at all is NaN (never filled), so
        metrics with ``nan_policy="omit"`` compare only common days.

    Notes
    -----
    Billed compute = usage types "…BoxUsage:<type>" and "…SpotUsage:<type>"
    (``usage_instance_type``); other usage types are left to
    :func:`gap_decomposition`.
    """
    types = instances.drop_duplicates("instance_id").set_index("instance_id")["instance_type"]
    unknown = sorted(set(hourly_cost["instance_id"]) - set(types.index))
    if unknown:
        raise KeyError(f"instances not in the instances table: {unknown[:5]}")
    calc = pd.DataFrame({
        "day": pd.to_datetime(hourly_cost["hour"], utc=True).dt.floor("D"),
        "instance_type": hourly_cost["instance_id"].map(types).astype("string"),
        "cost_usd": hourly_cost["cost_usd"].astype("float64"),
    })
    calc_days = set(calc["day"])
    calc = calc.groupby(["day", "instance_type"])["cost_usd"].sum(min_count=1).rename("calculated_usd")
    cday = pd.to_datetime(costs["period_start"], utc=True).dt.floor("D")
    bill_days = set(cday)
    itype = usage_instance_type(costs["usage_type"])
    comp = itype.notna().to_numpy()
    billed = (pd.DataFrame({"day": cday[comp], "instance_type": itype[comp], "cost_usd": costs["cost_usd"][comp]})
              .groupby(["day", "instance_type"])["cost_usd"].sum().rename("billed_usd"))
    # a (day, type) row absent from a side that covers that day is 0 on that side; a
    # NaN the side computed itself (e.g. unknown runtime) stays NaN, never 0
    index = calc.index.union(billed.index)
    out = pd.concat([calc.reindex(index), billed.reindex(index)], axis=1)
    for col, side, days in (("calculated_usd", calc, calc_days), ("billed_usd", billed, bill_days)):
        absent = ~index.isin(side.index)
        out.loc[absent, col] = np.where(index[absent].get_level_values("day").isin(days), 0.0, np.nan)
    out = out.reset_index()
    return out.sort_values(["day", "instance_type"]).reset_index(drop=True)


def runtime_error(estimated: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    r"""
    Runtime error of an estimator against the truth, per instance.

    Parameters
    ----------
    estimated, truth : pandas.DataFrame
        Long tables ``instance_id``, ``hour``, ``running_frac`` (an
        estimator's output and e.g. the sandbox's ``truth_hourly``). Pairs
        missing on one side count as 0 there (both tables cover every
        instance x hour of the window).

    Returns
    -------
    pandas.DataFrame
        Per instance: ``estimated_h``, ``true_h``, ``error_h`` = estimated −
        true (signed) and ``abs_hourly_error_h`` = Σ_h |r̂_h − r_h| (catches
        hours shifted in time that cancel in the total) [h]; NaN where the
        estimate is NaN.
    """
    key = ["instance_id", "hour"]
    e = estimated[key + ["running_frac"]].rename(columns={"running_frac": "est"})
    t = truth[key + ["running_frac"]].rename(columns={"running_frac": "true"})
    if e.duplicated(key).any() or t.duplicated(key).any():
        raise ValueError("estimated and truth must have one row per instance and hour")
    m = e.merge(t, on=key, how="outer", indicator=True)
    m.loc[m["_merge"] == "right_only", "est"] = 0.0  # hour absent from the estimate: not running
    m.loc[m["_merge"] == "left_only", "true"] = 0.0
    m["abs"] = (m["est"] - m["true"]).abs()
    g = m.groupby("instance_id", sort=True)
    est_nan = m["est"].isna().groupby(m["instance_id"], sort=True).any()
    out = pd.DataFrame({"estimated_h": g["est"].sum().where(~est_nan), "true_h": g["true"].sum()})
    out["error_h"] = out["estimated_h"] - out["true_h"]
    out["abs_hourly_error_h"] = g["abs"].sum(min_count=1).where(out["estimated_h"].notna())
    return out.reset_index()


def runtime_placement_summary(errors: pd.DataFrame) -> dict[str, float]:
    r"""
    Fleet runtime accuracy as totals and hour by hour (placement error).

    Hour-aligned CO₂e depends on *when* an instance ran, not only how long:
    an estimate that puts an hour at the wrong time scores perfectly on the
    total but not hour by hour.

    Parameters
    ----------
    errors : pandas.DataFrame
        :func:`runtime_error` output (``error_h``, ``abs_hourly_error_h``,
        ``true_h`` per instance).

    Returns
    -------
    dict
        ``total_abs_error_frac`` = Σ_i |error_i| / Σ_i true_i (per-instance
        totals); ``hourly_abs_error_frac`` = Σ_i Σ_h |r̂_ih − r_ih| / Σ true;
        ``placement_error_frac`` = their difference (hours at the wrong time
        that cancel in the totals, >= 0); ``true_h`` [h]. NaN estimates are
        left out (and counted in ``instances_without_estimate_count``).
    """
    ok = errors["estimated_h"].notna()
    true_h = float(errors.loc[ok, "true_h"].sum())
    tot = float(errors.loc[ok, "error_h"].abs().sum())
    hourly = float(errors.loc[ok, "abs_hourly_error_h"].sum())
    den = true_h if true_h > 0 else float("nan")
    return {"total_abs_error_frac": tot / den, "hourly_abs_error_frac": hourly / den,
            "placement_error_frac": (hourly - tot) / den, "true_h": true_h,
            "instances_without_estimate_count": int((~ok).sum())}


def energy_ratio_spread(estimated: pd.DataFrame, truth: pd.DataFrame, *, min_running_frac: float = 0.999,
                        quantiles=(0.05, 0.5, 0.95)) -> dict[str, float]:
    r"""
    How the true / estimated energy ratio varies per instance-hour (scoring only).

    Parameters
    ----------
    estimated, truth : pandas.DataFrame
        ``instance_id``, ``hour``, ``energy_kwh`` (e.g. the point estimate of
        :func:`finops_lib.calc.scenarios.instance_hour_footprint` and the
        sandbox's ``truth_hourly``). Only instance-hours that ran at least
        ``min_running_frac`` in the truth and have both values count (so
        runtime error does not enter the ratio).

    Returns
    -------
    dict
        ``q05_ratio``/``q50_ratio``/``q95_ratio`` [-], ``cv_frac`` (sd / mean
        over instance-hours), ``cv_across_hours_frac`` (mean over instances
        of the within-instance CV), ``cv_across_instances_frac`` (CV of the
        per-instance mean ratios), ``instance_hours_count``.
    """
    key = ["instance_id", "hour"]
    m = estimated[key + ["energy_kwh"]].merge(truth[key + ["energy_kwh", "running_frac"]], on=key,
                                              suffixes=("_est", "_true"))  # fmt: skip
    m = m[(m["running_frac"] >= min_running_frac) & (m["energy_kwh_est"] > 0) & m["energy_kwh_true"].notna()]
    r = m["energy_kwh_true"] / m["energy_kwh_est"]
    out = {f"q{round(q * 100):02d}_ratio": float(r.quantile(q)) for q in quantiles}
    g = r.groupby(m["instance_id"])
    out |= {"cv_frac": float(r.std() / r.mean()),
            "cv_across_hours_frac": float((g.std() / g.mean()).mean()),
            "cv_across_instances_frac": float(g.mean().std() / g.mean().mean()),
            "instance_hours_count": int(len(r))}  # fmt: skip
    return out
