"""One function per figure (``fig_<name>(...) -> Figure``) and :func:`save`.

All figures use the project style ``finops_lib/style/thesis.mplstyle``
(thesis text width, serif fonts, TrueType in PDF, Okabe-Ito colours); axis
labels carry units in brackets. Figures of simulated data say so in their
title (``simulated=True`` prefixes "SIMULATED").
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

STYLE_PATH = Path(__file__).parent / "style" / "thesis.mplstyle"
#: Thesis text width. [in]
TEXT_WIDTH_IN = 5.91


def use_style() -> None:
    """Activate the project matplotlib style (call once per notebook)."""
    plt.style.use(STYLE_PATH)


def _title(text: str, simulated: bool) -> str:
    return f"SIMULATED -- {text}" if simulated else text


def _new(height_frac: float = 0.618, ncols: int = 1):
    with plt.style.context(STYLE_PATH):
        fig, ax = plt.subplots(1, ncols, figsize=(TEXT_WIDTH_IN, TEXT_WIDTH_IN * height_frac))
    return fig, ax


def save(fig: Figure, name: str, out_dir) -> list[Path]:
    """Write ``<out_dir>/figures/<name>.pdf`` (vector) and ``.png`` (300 dpi), atomically.

    Returns
    -------
    list of pathlib.Path
        The two files written.
    """
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"bad figure name {name!r}")
    fig_dir = Path(out_dir) / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with plt.style.context(STYLE_PATH):
        for ext, kw in (("pdf", {}), ("png", {"dpi": 300})):
            final = fig_dir / f"{name}.{ext}"
            fd, tmp = tempfile.mkstemp(dir=fig_dir, prefix=f".{name}.", suffix=f".{ext}")
            os.close(fd)
            try:
                fig.savefig(tmp, format=ext, **kw)
                os.replace(tmp, final)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            paths.append(final)
    return paths


# --------------------------------------------------------------------------- #
# 01 runtime accuracy
# --------------------------------------------------------------------------- #
def fig_runtime_error(errors: pd.DataFrame, simulated: bool = False) -> Figure:
    """Fleet runtime error by estimator and case.

    Parameters
    ----------
    errors : pandas.DataFrame
        Columns ``case``, ``estimator``, ``abs_error_frac`` (|estimated - true|
        / true runtime of the instances in that case). [-]
    """
    fig, ax = _new()
    wide = errors.pivot_table(index="case", columns="estimator", values="abs_error_frac", aggfunc="mean")
    (wide * 100).plot.bar(ax=ax, width=0.8, rot=20)
    ax.set_xlabel("Case")
    ax.set_ylabel("Absolute runtime error [%]")
    ax.set_title(_title("Runtime error by case and estimator", simulated))
    ax.legend(title="Estimator", ncols=2)
    return fig


def fig_runtime_missing_sweep(sweep: pd.DataFrame, simulated: bool = False) -> Figure:
    """Fleet runtime error against the rate of missing CloudTrail records.

    Parameters
    ----------
    sweep : pandas.DataFrame
        Columns ``missing_record_rate_frac``, ``estimator``, ``abs_error_frac``. [-]
    """
    fig, ax = _new()
    for est, g in sweep.sort_values("missing_record_rate_frac").groupby("estimator"):
        ax.plot(g["missing_record_rate_frac"] * 100, g["abs_error_frac"] * 100, marker="o", label=est)
    ax.set_xlabel("Missing state-change records [%]")
    ax.set_ylabel("Fleet runtime error [%]")
    ax.set_title(_title("Runtime error vs missing records", simulated))
    ax.legend()
    return fig


# --------------------------------------------------------------------------- #
# 02 cost deviation
# --------------------------------------------------------------------------- #
def fig_bland_altman(calculated_usd, billed_usd, stats: dict, simulated: bool = False) -> Figure:
    """Bland-Altman plot: difference (billed - calculated) against the mean.

    Parameters
    ----------
    calculated_usd, billed_usd : array-like
        Paired amounts (e.g. per day and usage type). [USD]
    stats : dict
        ``bias``, ``loa_low``, ``loa_high`` from ``calc.bland_altman``. [USD]
    """
    a = np.asarray(calculated_usd, float)
    b = np.asarray(billed_usd, float)
    fig, ax = _new()
    ax.scatter((a + b) / 2, b - a, s=10, alpha=0.7)
    for key, ls, label in (("bias", "-", "bias"), ("loa_low", "--", "95 % limits"), ("loa_high", "--", None)):
        ax.axhline(stats[key], ls=ls, color="0.3", lw=1, label=label)
    ax.set_xlabel("Mean of billed and calculated [USD]")
    ax.set_ylabel("Billed - calculated [USD]")
    ax.set_title(_title("Bland-Altman: calculated vs billed cost", simulated))
    ax.legend()
    return fig


def fig_cost_gap(gap: pd.DataFrame, simulated: bool = False) -> Figure:
    """Decomposition of the gap between Cost Explorer and the calculated cost.

    Parameters
    ----------
    gap : pandas.DataFrame
        Index = component (compute, EBS, other, ...), column ``cost_usd``. [USD]
    """
    fig, ax = _new(0.5)
    s = gap["cost_usd"]
    colors = ["C0" if v >= 0 else "C1" for v in s]
    ax.barh(s.index.astype(str), s.to_numpy(), color=colors)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel("Billed - calculated [USD]")
    ax.set_title(_title("What explains the cost gap", simulated))
    return fig


def fig_cost_daily(daily: pd.DataFrame, simulated: bool = False) -> Figure:
    """Daily calculated vs billed compute cost.

    Parameters
    ----------
    daily : pandas.DataFrame
        Index = day; columns ``calculated_usd``, ``billed_usd``. [USD]
    """
    fig, ax = _new()
    ax.plot(daily.index, daily["billed_usd"], marker=".", label="Cost Explorer")
    ax.plot(daily.index, daily["calculated_usd"], marker=".", label="runtime x list price")
    ax.set_xlabel("Day [UTC]")
    ax.set_ylabel("Compute cost [USD/day]")
    ax.set_title(_title("Calculated vs billed compute cost per day", simulated))
    ax.legend()
    fig.autofmt_xdate()
    return fig


# --------------------------------------------------------------------------- #
# 03 scenarios with uncertainty
# --------------------------------------------------------------------------- #
def fig_scenario_intervals(summary: pd.DataFrame, simulated: bool = False) -> Figure:
    """Cost and CO2e per scenario with 5/50/95 % intervals.

    Parameters
    ----------
    summary : pandas.DataFrame
        Index = scenario; columns ``cost_eur_q05/q50/q95``, ``co2_kg_q05/q50/q95``.
    """
    fig, axes = _new(0.45, ncols=2)
    for ax, key, label in ((axes[0], "cost_eur", "Cost [EUR]"), (axes[1], "co2_kg", "CO$_2$e [kg]")):
        mid = summary[f"{key}_q50"]
        err = np.vstack([mid - summary[f"{key}_q05"], summary[f"{key}_q95"] - mid])
        y = np.arange(len(summary))
        ax.errorbar(mid, y, xerr=err, fmt="o", capsize=3)
        ax.set_yticks(y, summary.index)
        ax.set_xlabel(label)
        ax.invert_yaxis()
    axes[1].set_yticklabels([])
    fig.suptitle(_title("Scenarios: median and 90 % interval", simulated), fontsize=9)
    return fig


def fig_scenario_savings(savings: pd.DataFrame, literature: dict, simulated: bool = False) -> Figure:
    """Savings per scenario (5/50/95 %) beside the literature ranges.

    Parameters
    ----------
    savings : pandas.DataFrame
        Index = scenario; columns ``cost_eur_q05/q50/q95``, ``co2_kg_q05/q50/q95``. [-]
    literature : dict
        ``factors.LITERATURE_SAVINGS_FRAC`` (``office_hours_cost``,
        ``temporal_shift_co2``: low/high). [-]
    """
    fig, axes = _new(0.45, ncols=2)
    lit = {"cost_eur": literature["office_hours_cost"], "co2_kg": literature["temporal_shift_co2"]}
    names = {"cost_eur": "office hours, cost", "co2_kg": "temporal shifting, CO$_2$e"}
    for ax, key, label in ((axes[0], "cost_eur", "Cost saving [%]"), (axes[1], "co2_kg", "CO$_2$e saving [%]")):
        mid = savings[f"{key}_q50"] * 100
        err = np.vstack([mid - savings[f"{key}_q05"] * 100, savings[f"{key}_q95"] * 100 - mid])
        y = np.arange(len(savings))
        ax.axvspan(lit[key]["low"] * 100, lit[key]["high"] * 100, color="C2", alpha=0.2, label=f"literature ({names[key]})")
        ax.errorbar(mid, y, xerr=err, fmt="o", capsize=3)
        ax.set_yticks(y, savings.index)
        ax.set_xlabel(label)
        ax.invert_yaxis()
        ax.legend(loc="lower right")
    axes[1].set_yticklabels([])
    fig.suptitle(_title("Savings vs baseline with literature ranges", simulated), fontsize=9)
    return fig


def fig_sobol(indices: pd.DataFrame, simulated: bool = False) -> Figure:
    """Sobol first-order and total indices per input factor.

    Parameters
    ----------
    indices : pandas.DataFrame
        Index = factor; columns ``<output>_first``, ``<output>_total`` (from
        ``calc.uncertainty.sobol``). [-]
    """
    outputs = sorted({c.rsplit("_", 1)[0] for c in indices.columns})
    fig, axes = _new(0.45, ncols=len(outputs))
    axes = np.atleast_1d(axes)
    y = np.arange(len(indices))
    for ax, o in zip(axes, outputs, strict=True):
        ax.barh(y - 0.2, indices[f"{o}_first"].clip(lower=0), height=0.4, label="first order")
        ax.barh(y + 0.2, indices[f"{o}_total"].clip(lower=0), height=0.4, label="total")
        ax.set_yticks(y, indices.index)
        ax.set_xlabel(f"Sobol index, {o} [-]")
        ax.set_xlim(0, 1)
        ax.invert_yaxis()
    for ax in axes[1:]:
        ax.set_yticklabels([])
    axes[0].legend(loc="lower right")
    fig.suptitle(_title("Global sensitivity (Sobol)", simulated), fontsize=9)
    return fig


def fig_hourly_band(band: pd.DataFrame, intensity_g_per_kwh: pd.Series, simulated: bool = False) -> Figure:
    """Hourly fleet CO2e with its 90 % band, and the grid intensity.

    Parameters
    ----------
    band : pandas.DataFrame
        Index = hour; columns ``q05``, ``q50``, ``q95``. [gCO2e]
    intensity_g_per_kwh : pandas.Series
        Reported intensity by hour. [gCO2e/kWh]
    """
    fig, ax = _new()
    ax.fill_between(band.index, band["q05"] / 1000, band["q95"] / 1000, alpha=0.3, label="90 % interval")
    ax.plot(band.index, band["q50"] / 1000, label="median")
    ax.set_xlabel("Hour [UTC]")
    ax.set_ylabel("Fleet CO$_2$e [kg/h]")
    ax2 = ax.twinx()
    ax2.plot(intensity_g_per_kwh.index, intensity_g_per_kwh.to_numpy(), color="C1", lw=0.8, alpha=0.8)
    ax2.set_ylabel("Grid intensity [gCO$_2$e/kWh]", color="C1")
    ax2.grid(False)
    ax.set_title(_title("Hourly fleet CO$_2$e and grid intensity", simulated))
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    return fig


def fig_footprint_variants(variants: pd.Series, simulated: bool = False) -> Figure:
    """CO2e of the same fleet under accounting variants (hour-aligned vs annual, PUE, embodied).

    Parameters
    ----------
    variants : pandas.Series
        Index = variant label; values in kg. [kgCO2e]
    """
    fig, ax = _new(0.45)
    ax.barh(variants.index.astype(str), variants.to_numpy())
    ax.set_xlabel("CO$_2$e [kg]")
    ax.invert_yaxis()
    ax.set_title(_title("Footprint under accounting choices", simulated))
    return fig


# --------------------------------------------------------------------------- #
# 04 fleet report
# --------------------------------------------------------------------------- #
def fig_fleet_hourly(hourly: pd.DataFrame, simulated: bool = False) -> Figure:
    """Hourly fleet cost and CO2e on one time axis.

    Parameters
    ----------
    hourly : pandas.DataFrame
        Index = hour; columns ``cost_eur`` [EUR/h] and ``co2_kg`` [kg/h].
    """
    fig, ax = _new()
    ax.step(hourly.index, hourly["cost_eur"], where="post", label="cost")
    ax.set_xlabel("Hour [UTC]")
    ax.set_ylabel("Cost [EUR/h]", color="C0")
    ax2 = ax.twinx()
    ax2.step(hourly.index, hourly["co2_kg"], where="post", color="C1", label="CO$_2$e")
    ax2.set_ylabel("CO$_2$e [kg/h]", color="C1")
    ax2.grid(False)
    ax.set_title(_title("Fleet cost and CO$_2$e per hour", simulated))
    fig.autofmt_xdate()
    return fig
