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

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

STYLE_PATH = Path(__file__).parent / "style" / "thesis.mplstyle"
#: Thesis text width. [in]
TEXT_WIDTH_IN = 5.91


#: The style's colour cycle (Okabe-Ito, colour-blind safe), resolved once so a figure
#: keeps its colours whatever style is active when it is drawn.
PALETTE = tuple(matplotlib.rc_params_from_file(STYLE_PATH, use_default_template=False)["axes.prop_cycle"].by_key()["color"])


def _c(k: int) -> str:
    """The k-th colour of :data:`PALETTE`."""
    c = PALETTE[k % len(PALETTE)]
    return c if c.startswith("#") else f"#{c}"


def _styled(fn):
    """Build the whole figure inside the project style (fonts of labels, legends, texts; layout)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with plt.style.context(STYLE_PATH):
            return fn(*args, **kwargs)

    return wrapper


def use_style() -> None:
    """Activate the project matplotlib style (call once per notebook)."""
    plt.style.use(STYLE_PATH)


def _title(text: str, simulated: bool) -> str:
    return f"SIMULATED -- {text}" if simulated else text


def _new(height_frac: float = 0.618, ncols: int = 1):
    with plt.style.context(STYLE_PATH):
        fig, ax = plt.subplots(1, ncols, figsize=(TEXT_WIDTH_IN, TEXT_WIDTH_IN * height_frac))
    return fig, ax


def legend_below(*axes, ncols: int = 3, **kwargs):
    """One legend for ``axes`` under the plot area, outside every axes (never over the data).

    Uses constrained layout's ``"outside lower center"`` placement, so tick
    labels and the legend never collide; repeated labels appear once.
    """
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels and not lab.startswith("_"):
                handles.append(h)
                labels.append(lab)
    if not handles:
        return None
    fig = axes[0].figure
    return fig.legend(handles, labels, loc="outside lower center", ncols=min(ncols, len(handles)), frameon=False, **kwargs)


def _mark_tiny_hbars(ax, y, values, color, span: float, height: float = 0.4) -> None:
    """A vertical dash at zero for horizontal bars too short to see (|value| < 1 % of ``span``)."""
    v = np.asarray(values, float)
    tiny = np.abs(np.nan_to_num(v, nan=np.inf)) < 0.01 * span
    if tiny.any():
        ax.plot(np.zeros(tiny.sum()), np.asarray(y, float)[tiny], ls="none", marker="|", ms=height * 25, mew=2.5,
                color=color, clip_on=False, zorder=3)


def alt_text(fig: Figure) -> str:
    """A description of a figure for screen readers and HTML exports.

    The text set with :func:`set_alt` when there is one; otherwise built from
    the figure's titles and axis labels (what is plotted against what).
    """
    given = getattr(fig, "_finops_alt", None)
    if given:
        return given
    parts = []
    if fig._suptitle is not None and fig._suptitle.get_text():
        parts.append(fig._suptitle.get_text())
    for ax in fig.axes:
        title, xl, yl = ax.get_title(), ax.get_xlabel(), ax.get_ylabel()
        desc = " against ".join(t for t in (yl, xl) if t)
        if title or desc:
            parts.append(f"{title}: {desc}" if title and desc else title or desc)
    text = ". ".join(dict.fromkeys(p.replace("$_2$", "2").replace("$", "") for p in parts))
    return f"Figure. {text}." if text else "Figure without title or axis labels."


def set_alt(fig: Figure, text: str) -> Figure:
    """Attach an explicit alt text (what the figure shows, in one or two sentences) to ``fig``."""
    if not text or not text.strip():
        raise ValueError("alt text must not be empty")
    fig._finops_alt = text.strip()
    return fig


def show(fig: Figure, alt: str | None = None, dpi: int = 110):
    """Display ``fig`` in a notebook as a PNG that carries its alt text.

    The alt text goes into the output's metadata (``image/png`` -> ``alt``),
    which the ``fleet_report`` nbconvert template writes into ``<img alt>``.
    The figure is closed so the inline backend does not show it twice.

    Returns None, so a cell ending in ``figures.show(fig)`` shows the figure once.
    """
    import io

    from IPython.display import Image, display

    buf = io.BytesIO()
    with plt.style.context(STYLE_PATH):
        fig.savefig(buf, format="png", dpi=dpi)
    img = Image(data=buf.getvalue(), format="png", metadata={"alt": alt or alt_text(fig)})
    plt.close(fig)
    display(img)


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
@_styled
def fig_runtime_error(errors: pd.DataFrame, simulated: bool = False) -> Figure:
    """Fleet runtime error by estimator and case.

    Bars near zero stay visible: each bar has an outline and its value is
    written above it (an estimator with no error shows "0.0"); NaN (no
    estimate) is marked "n/a" instead of an empty slot.

    Parameters
    ----------
    errors : pandas.DataFrame
        Columns ``case``, ``estimator``, ``abs_error_frac`` (|estimated - true|
        / true runtime of the instances in that case). [-]
    """
    fig, ax = _new(0.7)
    wide = errors.pivot_table(index="case", columns="estimator", values="abs_error_frac", aggfunc="mean", dropna=False) * 100
    n_case, n_est = wide.shape
    width = 0.8 / max(n_est, 1)
    x = np.arange(n_case)
    top = float(np.nanmax(wide.to_numpy())) if np.isfinite(wide.to_numpy()).any() else 1.0
    for k, est in enumerate(wide.columns):
        pos = x - 0.4 + width * (k + 0.5)
        vals = wide[est].to_numpy(float)
        color = _c(k)
        ax.bar(pos, np.nan_to_num(vals), width=width, color=color, edgecolor=color, linewidth=0.8, label=est)
        tiny = np.nan_to_num(vals, nan=np.inf) < top * 0.01  # a bar too short to see: a dash in its colour
        if tiny.any():  # (an empty line would still claim layout space at the origin)
            ax.plot(pos[tiny], np.zeros(tiny.sum()), ls="none", marker="_", ms=width * 40, mew=2.5, color=color,
                    clip_on=False, zorder=3)
        for xp, v in zip(pos, vals, strict=True):
            label = "n/a" if np.isnan(v) else f"{v:.1f}" if v < 10 else f"{v:.0f}"
            ax.text(xp, (0 if np.isnan(v) else v) + top * 0.01, label, ha="center", va="bottom", fontsize=5, rotation=90)
    ax.set_xticks(x, wide.index.astype(str), rotation=20, ha="right")
    ax.set_ylim(0, top * 1.18 if top > 0 else 1)
    ax.set_xlabel("Case")
    ax.set_ylabel("Absolute runtime error [%]")
    ax.set_title(_title("Runtime error by case and estimator", simulated))
    legend_below(ax, ncols=3, title="Estimator")
    return fig


@_styled
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
    legend_below(ax)
    return fig


# --------------------------------------------------------------------------- #
# 02 cost deviation
# --------------------------------------------------------------------------- #
@_styled
def fig_bland_altman(calculated_usd, billed_usd, stats: dict, simulated: bool = False) -> Figure:
    """Bland-Altman plot: difference (calculated - billed) against the mean.

    The differences have the sign of ``calc.bland_altman`` (calculated -
    reference), so the points scatter around the bias line drawn from ``stats``.

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
    ax.scatter((a + b) / 2, a - b, s=10, alpha=0.7)
    for key, ls, label in (("bias", "-", "bias"), ("loa_low", "--", "95 % limits"), ("loa_high", "--", None)):
        ax.axhline(stats[key], ls=ls, color="0.3", lw=1, label=label)
    ax.set_xlabel("Mean of billed and calculated [USD]")
    ax.set_ylabel("Calculated - billed [USD]")
    ax.set_title(_title("Bland-Altman: calculated vs billed cost", simulated))
    legend_below(ax)
    return fig


@_styled
def fig_cost_gap(gap: pd.DataFrame, simulated: bool = False) -> Figure:
    """Decomposition of the gap between Cost Explorer and the calculated cost.

    Parameters
    ----------
    gap : pandas.DataFrame
        Index = component (compute, EBS, other, ...), column ``cost_usd``. [USD]
    """
    fig, ax = _new(0.5)
    s = gap["cost_usd"]
    colors = [_c(0) if v >= 0 else _c(1) for v in s]
    ax.barh(np.arange(len(s)), s.to_numpy(), color=colors)
    ax.set_yticks(np.arange(len(s)), s.index.astype(str))
    span = float(np.nanmax(np.abs(s.to_numpy()))) if len(s) and np.isfinite(s.to_numpy()).any() else 1.0
    _mark_tiny_hbars(ax, np.arange(len(s)), s.to_numpy(), "0.3", span=span or 1.0, height=0.8)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel("Billed - calculated [USD]")
    ax.set_title(_title("What explains the cost gap", simulated))
    return fig


@_styled
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
    legend_below(ax, ncols=2)
    fig.autofmt_xdate()
    return fig


# --------------------------------------------------------------------------- #
# 03 scenarios with uncertainty
# --------------------------------------------------------------------------- #
@_styled
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


@_styled
def fig_scenario_savings(savings: pd.DataFrame, literature: dict, simulated: bool = False,
                         job_level_co2_frac: float | None = None) -> Figure:
    """Savings per scenario (5/50/95 %) beside the literature ranges, level against level.

    A literature range is drawn only across the row it can be compared with:
    the office-hours cost range (a saving of the scheduled instances' cost)
    on the ``office_hours`` row; the temporal-shifting CO₂e range (a saving of
    the shifted *jobs*) only on a job-level row, never against fleet-level
    savings. Legends sit below the axes, never over the data points.

    Parameters
    ----------
    savings : pandas.DataFrame
        Index = scenario; columns ``cost_eur_q05/q50/q95``, ``co2_kg_q05/q50/q95``. [-]
    literature : dict
        ``factors.LITERATURE_SAVINGS_FRAC`` (``office_hours_cost``,
        ``temporal_shift_co2``: low/high). [-]
    job_level_co2_frac : float, optional
        CO₂e saving of the flexible jobs themselves (job level), shown as an
        extra row on the CO₂e axis with the temporal-shifting range. [-]
    """
    fig, axes = _new(0.5, ncols=2)
    rows = list(savings.index)
    if job_level_co2_frac is not None:
        rows.append("flexible jobs (job level)")
    y = np.arange(len(rows))
    bands = {"cost_eur": ("office_hours", literature["office_hours_cost"], "literature: office hours, cost"),
             "co2_kg": ("flexible jobs (job level)", literature["temporal_shift_co2"],
                        "literature: temporal shifting, CO$_2$e (job level)")}
    for ax, key, label in ((axes[0], "cost_eur", "Cost saving [%]"), (axes[1], "co2_kg", "CO$_2$e saving [%]")):
        row, lit, name = bands[key]
        if row in rows:
            i = rows.index(row)
            ax.fill_between([lit["low"] * 100, lit["high"] * 100], i - 0.4, i + 0.4, color=_c(2), alpha=0.25,
                            lw=0, label=name)
        mid = savings[f"{key}_q50"] * 100
        err = np.vstack([mid - savings[f"{key}_q05"] * 100, savings[f"{key}_q95"] * 100 - mid])
        ax.errorbar(mid, y[: len(savings)], xerr=err, fmt="o", capsize=3, color=_c(0),
                    label="fleet level: median, 90 % interval")
        if key == "co2_kg" and job_level_co2_frac is not None:
            ax.plot([job_level_co2_frac * 100], [y[-1]], "D", color=_c(1), label="job level (point estimate)")
        ax.axvline(0, color="0.3", lw=0.6)
        ax.set_yticks(y, rows)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlabel(label)
    axes[1].set_yticklabels([])
    legend_below(*axes, ncols=2)
    fig.suptitle(_title("Savings vs baseline, with literature ranges at their own level", simulated), fontsize=9)
    return fig


@_styled
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
        for dy, kind, label, color in ((-0.2, "first", "first order", _c(0)), (0.2, "total", "total", _c(1))):
            vals = indices[f"{o}_{kind}"].clip(lower=0)
            ax.barh(y + dy, vals, height=0.4, label=label, color=color)
            _mark_tiny_hbars(ax, y + dy, vals, color, span=1.0)  # an index of ~0 stays visible
        ax.set_yticks(y, indices.index)
        ax.set_xlabel(f"Sobol index, {o} [-]")
        ax.set_xlim(0, 1)
        ax.invert_yaxis()
    for ax in axes[1:]:
        ax.set_yticklabels([])
    legend_below(axes[0], ncols=2)
    fig.suptitle(_title("Global sensitivity (Sobol)", simulated), fontsize=9)
    return fig


@_styled
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
    ax2.plot(intensity_g_per_kwh.index, intensity_g_per_kwh.to_numpy(), color=_c(1), lw=0.8, alpha=0.8)
    ax2.set_ylabel("Grid intensity [gCO$_2$e/kWh]", color=_c(1))
    ax2.grid(False)
    ax.set_title(_title("Hourly fleet CO$_2$e and grid intensity", simulated))
    legend_below(ax, ncols=2)
    fig.autofmt_xdate()
    return fig


@_styled
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
@_styled
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
    ax.set_ylabel("Cost [EUR/h]", color=_c(0))
    ax2 = ax.twinx()
    ax2.step(hourly.index, hourly["co2_kg"], where="post", color=_c(1), label="CO$_2$e")
    ax2.set_ylabel("CO$_2$e [kg/h]", color=_c(1))
    ax2.grid(False)
    ax.set_title(_title("Fleet cost and CO$_2$e per hour", simulated))
    fig.autofmt_xdate()
    return fig


@_styled
def fig_fleet_timeline(hourly: pd.DataFrame, intensity_g_per_kwh: pd.Series, last_h: int = 48,
                       simulated: bool = False) -> Figure:
    """Fleet cost, CO2e and grid intensity on one time axis: whole window (left), last ``last_h`` hours (right).

    Parameters
    ----------
    hourly : pandas.DataFrame
        Index = hour [UTC]; columns ``cost_eur`` [EUR/h] and ``co2_kg`` [kg/h]
        (``fleet.hourly``).
    intensity_g_per_kwh : pandas.Series
        Grid intensity by hour. [gCO2e/kWh]
    last_h : int
        Hours in the zoomed panel. [h]
    """
    with plt.style.context(STYLE_PATH):
        fig, axes = plt.subplots(3, 2, figsize=(TEXT_WIDTH_IN, TEXT_WIDTH_IN * 0.72), sharex="col", sharey="row",
                                 gridspec_kw={"width_ratios": [2.2, 1]})
    end = hourly.index.max() + pd.Timedelta(hours=1) if len(hourly) else None
    start_zoom = end - pd.Timedelta(hours=last_h) if end is not None else None
    rows = ((hourly["cost_eur"], "Cost [EUR/h]", _c(0)), (hourly["co2_kg"], "CO$_2$e [kg/h]", _c(1)),
            (intensity_g_per_kwh, "Grid [g/kWh]", _c(2)))
    for r, (series, label, color) in enumerate(rows):
        for c in (0, 1):
            ax = axes[r, c]
            s = series if c == 0 else series[series.index >= start_zoom]
            ax.step(s.index, s.to_numpy(float), where="post", color=color, lw=0.8 if c == 0 else 1.1)
            ax.fill_between(s.index, s.to_numpy(float), step="post", color=color, alpha=0.15)
            ax.set_ylim(bottom=0)
        axes[r, 0].set_ylabel(label)
    if start_zoom is not None:
        for r in range(3):
            axes[r, 0].axvspan(start_zoom, end, color="0.5", alpha=0.12, lw=0)
    axes[0, 0].set_title(f"Whole window ({len(hourly) / 24:.0f} days)")
    axes[0, 1].set_title(f"Last {last_h} h (shaded left)")
    for c in (0, 1):
        axes[2, c].set_xlabel("Time [UTC]")
        for lab in axes[2, c].get_xticklabels():
            lab.set_rotation(30)
            lab.set_ha("right")
    axes[2, 1].xaxis.set_major_formatter(plt.matplotlib.dates.DateFormatter("%a %H:%M"))
    axes[2, 1].xaxis.set_major_locator(plt.matplotlib.dates.HourLocator(byhour=[0, 12]))
    axes[2, 0].xaxis.set_major_formatter(plt.matplotlib.dates.DateFormatter("%d %b"))
    fig.suptitle(_title("Fleet cost and CO$_2$e per hour, with grid intensity", simulated), fontsize=9)
    set_alt(fig, f"{'Simulated data. ' if simulated else ''}Three stacked time series on one UTC time axis: fleet cost "
                 f"per hour in euro, fleet CO2e per hour in kg and grid carbon intensity in g per kWh; the left "
                 f"column covers the whole window, the right column zooms into the last {last_h} hours.")
    return fig


@_styled
def fig_business_case(case: pd.DataFrame, simulated: bool = False) -> Figure:
    """Savings potential per measure per year: median and 90 % interval, cost and CO2e.

    Parameters
    ----------
    case : pandas.DataFrame
        ``fleet.business_case``: index = measure; ``cost_eur_per_year_q05/q50/q95``
        [EUR/a] and ``co2_t_per_year_q05/q50/q95`` [t/a].
    """
    fig, axes = _new(0.36, ncols=2)
    y = np.arange(len(case))
    for ax, key, label, color in ((axes[0], "cost_eur_per_year", "Saving [EUR/year]", _c(0)),
                                  (axes[1], "co2_t_per_year", "Saving [t CO$_2$e/year]", _c(1))):
        mid = case[f"{key}_q50"].to_numpy(float)
        err = np.vstack([mid - case[f"{key}_q05"].to_numpy(float), case[f"{key}_q95"].to_numpy(float) - mid])
        ax.barh(y, mid, color=color, alpha=0.35, edgecolor=color, linewidth=0.8)
        # a marker at the median keeps a zero saving visible
        ax.errorbar(mid, y, xerr=np.clip(err, 0, None), fmt="o", ms=3, color="0.2", ecolor="0.2", capsize=3, lw=0.9)
        ax.axvline(0, color="0.3", lw=0.6)
        ax.set_yticks(y, [str(i).replace("_", " ") for i in case.index])
        ax.set_xlabel(label)
        ax.invert_yaxis()
    axes[1].set_yticklabels([])
    fig.suptitle(_title("Savings potential per measure (median, 90 % interval)", simulated), fontsize=9)
    set_alt(fig, f"{'Simulated data. ' if simulated else ''}Horizontal bars: median yearly saving per measure "
                 "(office hours, carbon-aware shifting, rightsizing, combined), in euro per year (left) and tonnes "
                 "CO2e per year (right), with whiskers for the 5 to 95 percent interval.")
    return fig
