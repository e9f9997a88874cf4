"""Does the simulation predict the scheduler? Predicted savings (``calc.scenarios``) vs enacted savings (replay).

:func:`predicted_savings` runs the scenario functions of
``03-simulate-scenarios`` on the *observed* snapshot (CloudTrail runtime,
CloudWatch CPU, the collected power curves, list prices, intensity) for the
same instances and the same policies the replay enacts; :func:`compare` puts
it beside :func:`finops_lib.scheduler.replay.savings_summary` (the truth).
The prediction is a point estimate (:func:`~finops_lib.calc.scenarios.fleet_hourly_totals`),
the quantity whose Monte Carlo median notebook 03 reports.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from finops_lib import calc, factors
from finops_lib.calc import scenarios
from finops_lib.figures import STYLE_PATH, TEXT_WIDTH_IN
from finops_lib.scheduler.decide import parse_tags
from finops_lib.scheduler.policy import PolicyError, PolicySet


def policy_groups(instances: pd.DataFrame, policies: PolicySet) -> dict[str, list[str]]:
    """Instance ids by the policy their Schedule tag names (untagged ones under ``none``)."""
    out: dict[str, list[str]] = {}
    for iid, tags in zip(instances["instance_id"], instances["tags"], strict=True):
        value = parse_tags(tags).get(policies.schedule_tag)
        out.setdefault(policies.resolve(value).name if value is not None else "none", []).append(iid)
    return out


def predicted_savings(snap, instances: pd.DataFrame, policies: PolicySet, *, shift_window_h: int = 24,
                      runtime_cloudwatch: bool = True, pue: float = factors.PUE["aws_eu_central_1_2024"]["value"],
                      eur_per_usd: float = factors.EUR_PER_USD["value"]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What ``03-simulate-scenarios`` predicts when ``instances`` (tags as replayed) follow ``policies``.

    ``hours`` policies -> :func:`~finops_lib.calc.scenarios.apply_office_hours` with the policy's
    start/end hour, time zone and holidays; deadline policies ->
    :func:`~finops_lib.calc.scenarios.apply_carbon_aware_shift` of
    :func:`~finops_lib.calc.scenarios.flexible_jobs` (window ``shift_window_h``).

    Returns
    -------
    summary : pandas.DataFrame
        Index group (policy names and ``fleet``); ``base_cost_eur``,
        ``predicted_cost_eur``, ``saving_cost_frac``, ``base_co2_kg``,
        ``predicted_co2_kg``, ``saving_co2_frac``.
    scenario : pandas.DataFrame
        The predicted fleet-hourly table.

    Raises
    ------
    PolicyError
        A policy the scenario functions cannot express (weekdays other than
        Mon-Fri, times not on the hour, a threshold-only carbon-aware policy).
    """
    ws, we = snap.window_start, snap.window_end
    snap_inst, events, cpu_hourly = snap["instances"], snap["state_events"], snap["cpu_hourly"]
    intervals, _ = calc.running_intervals(events, snap_inst, ws, we, cpu_hourly=cpu_hourly if runtime_cloudwatch else None)
    frac = calc.hourly_running_fraction(intervals, ws, we, list(snap_inst["instance_id"]))
    base = scenarios.fleet_hourly_table(frac, cpu_hourly, snap_inst)
    intensity = snap.intensity()
    groups = policy_groups(instances, policies)
    out = base
    for name, ids in groups.items():
        if name == "none":
            continue
        p = policies.policies[name]
        if p.kind == "hours":
            if p.weekdays != (0, 1, 2, 3, 4) or p.start_min % 60 or p.end_min % 60:
                raise PolicyError(f"policy {name!r}: the office-hours scenario covers Mon-Fri on whole hours only")
            out = scenarios.apply_office_hours(out, ids, tz=policies.timezone, start_h=p.start_min // 60,
                                               end_h=p.end_min // 60, country=policies.holiday_country,
                                               subdiv=policies.holiday_subdiv)
        elif p.kind == "carbon-aware":
            if not p.has_deadline:
                raise PolicyError(f"policy {name!r}: no scenario function models a threshold-only policy")
            jobs = scenarios.flexible_jobs(out, snap_inst, window_h=shift_window_h)
            out, _ = scenarios.apply_carbon_aware_shift(out, jobs[jobs["instance_id"].isin(ids)], intensity)
    profiles, prices = snap["power_profiles"], snap.usd_per_hour()
    rows = []
    for name, ids in [*groups.items(), ("fleet", list(snap_inst["instance_id"]))]:
        b = scenarios.fleet_hourly_totals(base[base["instance_id"].isin(ids)], profiles, prices, intensity, pue, eur_per_usd)
        s = scenarios.fleet_hourly_totals(out[out["instance_id"].isin(ids)], profiles, prices, intensity, pue, eur_per_usd)
        rows.append({"group": name, "base_cost_eur": b["cost_eur"], "predicted_cost_eur": s["cost_eur"],
                     "saving_cost_frac": 1 - s["cost_eur"] / b["cost_eur"] if b["cost_eur"] else np.nan,
                     "base_co2_kg": b["co2_kg"], "predicted_co2_kg": s["co2_kg"],
                     "saving_co2_frac": 1 - s["co2_kg"] / b["co2_kg"] if b["co2_kg"] else np.nan})
    return pd.DataFrame(rows).set_index("group"), out


def achieved_savings(applied: pd.DataFrame, groups: dict[str, list[str]], eur_per_usd: float) -> pd.DataFrame:
    """:func:`~finops_lib.scheduler.replay.savings_summary` by the same groups as :func:`predicted_savings`, plus ``fleet``."""
    from finops_lib.scheduler.replay import savings_summary

    group_of = {i: g for g, ids in groups.items() for i in ids}
    a = applied.assign(group=applied["instance_id"].map(group_of))
    return pd.concat([savings_summary(a, eur_per_usd, by="group"), savings_summary(a, eur_per_usd)])


def compare(predicted: pd.DataFrame, achieved: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Savings fractions side by side: predicted vs achieved (per forecast), and their difference.

    Parameters
    ----------
    predicted : pandas.DataFrame
        :func:`predicted_savings` summary.
    achieved : dict of str to pandas.DataFrame
        Forecast name -> :func:`finops_lib.scheduler.replay.savings_summary` (with a ``fleet`` row).

    Returns
    -------
    pandas.DataFrame
        Index group; ``predicted_saving_{cost,co2}_frac``,
        ``achieved_<forecast>_saving_{cost,co2}_frac`` and
        ``error_<forecast>_{cost,co2}_frac`` (predicted - achieved saving fraction).
    """
    out = predicted[["saving_cost_frac", "saving_co2_frac"]].add_prefix("predicted_")
    for name, a in achieved.items():
        a = a.reindex(out.index)
        for k in ("cost", "co2"):
            out[f"achieved_{name}_saving_{k}_frac"] = a[f"saving_{k}_frac"]
            out[f"error_{name}_{k}_frac"] = out[f"predicted_saving_{k}_frac"] - a[f"saving_{k}_frac"]
    return out


def fig_scheduler_vs_simulation(comparison: pd.DataFrame, simulated: bool = False) -> Figure:
    """Predicted (scenario functions) vs achieved (replayed scheduler on the truth) savings by group."""
    with plt.style.context(STYLE_PATH):
        fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH_IN, TEXT_WIDTH_IN * 0.5), sharey=True)
        cols = [c for c in comparison.columns if c.endswith("_frac") and not c.startswith("error_")]
        for ax, k in zip(axes, ("cost", "co2"), strict=True):
            sel = [c for c in cols if c.endswith(f"saving_{k}_frac")]
            x = np.arange(len(comparison))
            w = 0.8 / max(len(sel), 1)
            for j, c in enumerate(sel):
                label = c.replace(f"_saving_{k}_frac", "").replace("_", " ")
                ax.bar(x + j * w, 100 * comparison[c].to_numpy(float), w, label=label)
            ax.set_xticks(x + w * (len(sel) - 1) / 2, comparison.index, rotation=30, ha="right")
            ax.axhline(0, color="0.3", lw=0.6)
            ax.set_title("cost" if k == "cost" else "CO$_2$e")
        axes[0].set_ylabel("Saving [%]")
        axes[1].legend(fontsize="x-small")
        fig.suptitle(("SIMULATED -- " if simulated else "") + "Scheduler: predicted vs achieved savings")
    return fig


def fig_scheduler_hourly(applied: pd.DataFrame, simulated: bool = False) -> Figure:
    """Fleet running instances per hour: the world's truth vs with the scheduler."""
    with plt.style.context(STYLE_PATH):
        fig, ax = plt.subplots(figsize=(TEXT_WIDTH_IN, TEXT_WIDTH_IN * 0.45))
        h = applied.groupby("hour")[["truth_running_frac", "running_frac"]].sum()
        ax.plot(h.index, h["truth_running_frac"], lw=0.8, label="truth (no scheduler)")
        ax.plot(h.index, h["running_frac"], lw=0.8, label="with the scheduler")
        ax.set_ylabel("Running instances [-]")
        ax.set_xlabel("Hour [UTC]")
        ax.legend(fontsize="x-small")
        ax.set_title(("SIMULATED -- " if simulated else "") + "Running instances, truth vs scheduled")
        fig.autofmt_xdate()
    return fig
