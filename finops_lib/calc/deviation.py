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

#: Cost Explorer usage-type substrings -> gap category (first match wins).
USAGE_CATEGORIES = (
    ("compute", ("BoxUsage", "SpotUsage")),
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
