"""Energy and carbon: hourly energy with PUE, operational and embodied CO₂e, SCI.

References
----------
.. [1] ISO/IEC 30134-2:2016, Data centres -- Key performance indicators --
   Part 2: Power usage effectiveness (PUE).
.. [2] Green Software Foundation, Software Carbon Intensity (SCI)
   Specification v1.0; ISO/IEC 21031:2024. SCI = (E · I + M) per R;
   M = TE · (TiR / EL) · (RR / ToR).
.. [3] Cloud Carbon Footprint, Methodology: energy × PUE × grid factor;
   its embodied estimator (EmbodiedEmissionsEstimator.ts) implements the SCI
   formula of :func:`embodied_co2_g` (tests/calc/test_ccf_source.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from finops_lib.constants import WH_PER_KWH


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x, dtype="float64")


def _result(values: Any, *inputs: Any) -> Any:
    """Return ``values`` as the kind of the first Series input, else array/scalar."""
    for x in inputs:
        if isinstance(x, pd.Series):
            return pd.Series(np.asarray(values, dtype="float64"), index=x.index)
    return float(values) if np.ndim(values) == 0 else np.asarray(values, dtype="float64")


def _nonneg(name: str, x: Any) -> None:
    a = _arr(x)
    if (a < 0).any():
        raise ValueError(f"{name} must be >= 0, got {a[a < 0][:5].tolist()}")


def energy_kwh(power_w: Any, duration_h: Any = 1.0, running_frac: Any = 1.0, pue: Any = 1.0) -> Any:
    r"""
    Facility energy of an instance in an interval: E = P · t · r · PUE [1]_ [3]_.

    Parameters
    ----------
    power_w : numeric
        IT power. [W]
    duration_h : numeric, default 1.0
        Length of the interval. [h]
    running_frac : numeric, default 1.0
        Fraction of the interval the instance ran, 0..1. [-]
    pue : numeric, default 1.0
        Power usage effectiveness, >= 1 [1]_. [-]

    Returns
    -------
    energy_kwh : numeric (Series if any input is a Series). [kWh]

    Examples
    --------
    2.022 W for 1 h with CCF's AWS PUE 1.135 -> 0.002295 kWh (the CCF
    ComputeEstimator formula; CCF's own test numbers: tests/calc/test_ccf_source.py).
    """
    _nonneg("power_w", power_w)
    _nonneg("duration_h", duration_h)
    r = _arr(running_frac)
    if ((r < 0) | (r > 1)).any():
        raise ValueError(f"running_frac must lie in 0..1, got {r[(r < 0) | (r > 1)][:5].tolist()}")
    p = _arr(pue)
    if (p < 1).any():
        raise ValueError(f"pue must be >= 1, got {p[p < 1][:5].tolist()}")
    e = _arr(power_w) * _arr(duration_h) * r * p / WH_PER_KWH
    return _result(e, power_w, duration_h, running_frac, pue)


def operational_co2_g(energy_kwh: Any, intensity_g_per_kwh: Any) -> Any:
    r"""
    Location-based operational CO₂e, elementwise (hour-aligned): E · I [2]_.

    Parameters
    ----------
    energy_kwh : numeric
        Energy of each interval (facility energy, PUE applied). [kWh]
    intensity_g_per_kwh : numeric
        Grid carbon intensity of the same interval. [gCO₂e/kWh]

    Returns
    -------
    co2_g : numeric. [gCO₂e]  NaN where an input is NaN.
    """
    _nonneg("energy_kwh", energy_kwh)
    _nonneg("intensity_g_per_kwh", intensity_g_per_kwh)
    return _result(_arr(energy_kwh) * _arr(intensity_g_per_kwh), energy_kwh, intensity_g_per_kwh)


def hour_aligned_vs_average(
    energy_kwh_hourly: pd.Series,
    intensity_hourly: pd.Series,
    *,
    missing: str = "nan",
    mean_intensity_g_per_kwh: float | None = None,
) -> dict[str, float]:
    r"""
    Compare hour-aligned CO₂e Σ_h E_h·I_h with one average factor Σ_h E_h·Ī.

    Parameters
    ----------
    energy_kwh_hourly : pandas.Series
        Energy per hour, indexed by hour (fleet total or one instance). [kWh]
    intensity_hourly : pandas.Series
        Grid intensity indexed by hour. [gCO₂e/kWh]
    missing : {"nan", "skip"}, default "nan"
        Energy hours whose intensity is missing (absent or NaN) are never
        filled. "nan": both totals are NaN when any such hour exists.
        "skip": both totals (and Ī) use only the hours with intensity, so the
        comparison stays like for like.
    mean_intensity_g_per_kwh : float, optional
        Ī to use (e.g. an annual factor). Default: the unweighted mean of the
        intensity over the compared hours.

    Returns
    -------
    dict
        ``hour_aligned_co2_g``, ``average_factor_co2_g`` [gCO₂e],
        ``mean_intensity_g_per_kwh`` [gCO₂e/kWh], ``relative_difference_frac``
        = (hour-aligned − average) / average [-], ``missing_intensity_hours``
        and ``compared_hours`` (counts), ``uncovered_energy_kwh`` [kWh].
    """
    if missing not in ("nan", "skip"):
        raise ValueError(f"missing must be 'nan' or 'skip', got {missing!r}")
    if energy_kwh_hourly.index.duplicated().any() or intensity_hourly.index.duplicated().any():
        raise ValueError("energy and intensity must have one value per hour (duplicate hours found)")
    if energy_kwh_hourly.isna().any():
        raise ValueError(f"energy_kwh_hourly has {int(energy_kwh_hourly.isna().sum())} NaN hours")
    intensity = intensity_hourly.reindex(energy_kwh_hourly.index)
    gap = intensity.isna().to_numpy()
    e = energy_kwh_hourly.to_numpy(dtype="float64")[~gap]
    i = intensity.to_numpy(dtype="float64")[~gap]
    i_mean = float(np.mean(i)) if mean_intensity_g_per_kwh is None and i.size else (
        float(mean_intensity_g_per_kwh) if mean_intensity_g_per_kwh is not None else float("nan"))
    aligned = float(np.sum(e * i))
    average = float(np.sum(e) * i_mean)
    if gap.any() and missing == "nan":
        aligned = average = float("nan")
    rel = (aligned - average) / average if average else float("nan")
    return {
        "hour_aligned_co2_g": aligned,
        "average_factor_co2_g": average,
        "mean_intensity_g_per_kwh": i_mean,
        "relative_difference_frac": rel,
        "missing_intensity_hours": int(gap.sum()),
        "compared_hours": int((~gap).sum()),
        "uncovered_energy_kwh": float(energy_kwh_hourly.to_numpy(dtype="float64")[gap].sum()),
    }


def embodied_co2_g(total_embodied_g: Any, duration_h: Any, lifetime_h: Any, resource_share: Any = 1.0) -> Any:
    r"""
    Embodied emissions by time and resource share: M = TE · (TiR / EL) · (RR / ToR) [2]_.

    Parameters
    ----------
    total_embodied_g : numeric
        TE, embodied emissions of the whole host. [gCO₂e]
    duration_h : numeric
        TiR, time reserved. [h]
    lifetime_h : numeric
        EL, expected lifetime of the host (CCF 35,040 h; BoaviztAPI AWS
        52,560 h). [h]
    resource_share : numeric, default 1.0
        RR / ToR, e.g. vCPU of the instance ÷ vCPU of the host. [-]

    Returns
    -------
    embodied_g : numeric. [gCO₂e]
    """
    _nonneg("total_embodied_g", total_embodied_g)
    _nonneg("duration_h", duration_h)
    el = _arr(lifetime_h)
    if (el <= 0).any():
        raise ValueError(f"lifetime_h must be > 0, got {el[el <= 0][:5].tolist()}")
    rs = _arr(resource_share)
    if ((rs < 0) | (rs > 1)).any():
        raise ValueError(f"resource_share must lie in 0..1, got {rs[(rs < 0) | (rs > 1)][:5].tolist()}")
    m = _arr(total_embodied_g) * _arr(duration_h) / el * rs
    return _result(m, total_embodied_g, duration_h, lifetime_h, resource_share)


def sci_g_per_unit(energy_kwh: Any, intensity_g_per_kwh: Any, embodied_g: Any, functional_units: Any) -> Any:
    r"""
    Software Carbon Intensity: SCI = (E · I + M) / R [2]_.

    Parameters
    ----------
    energy_kwh : numeric
        E. [kWh]
    intensity_g_per_kwh : numeric
        I, location-based marginal or average intensity. [gCO₂e/kWh]
    embodied_g : numeric
        M, e.g. from :func:`embodied_co2_g`. [gCO₂e]
    functional_units : numeric
        R, number of functional units (requests, users, instance-hours), > 0.

    Returns
    -------
    sci : numeric. [gCO₂e per functional unit]
    """
    r = _arr(functional_units)
    if (r <= 0).any():
        raise ValueError(f"functional_units must be > 0, got {r[r <= 0][:5].tolist()}")
    _nonneg("embodied_g", embodied_g)
    op = _arr(operational_co2_g(energy_kwh, intensity_g_per_kwh))
    return _result((op + _arr(embodied_g)) / r, energy_kwh, intensity_g_per_kwh, embodied_g, functional_units)
