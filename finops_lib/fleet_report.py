"""The fleet report a FinOps engineer reads in a minute: HTML pieces, export, ``make report``.

Notebook 04 computes with :mod:`finops_lib.fleet` and shows the results with
the ``*_html`` functions here; :func:`export_report` turns the executed
notebook into one standalone HTML page with the ``fleet_report`` nbconvert
template shipped in ``finops_lib/templates`` (no code, no CDN, no
require.js: it works offline). Every number of the summary is written with
``data-metric="<key>"`` and its exact value in ``data-value``, the same key
and value as in ``metrics.json`` -- the browser test compares the two.

Command line (``make report``)::

    python -m finops_lib.fleet_report [--snapshot DIR] [--results DIR]

runs notebook 04 on one snapshot (default: the ``fleet-report`` experiment's
sandbox world) into ``results/report-<snapshot id>/``.
"""

from __future__ import annotations

import argparse
import html
import math
import sys
from pathlib import Path

import pandas as pd

TEMPLATES_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "fleet_report"
#: Validation factor (Cost Explorer / calculated) within 1 ± this is "good", within 1 ± FAIR "fair". [-]
COST_CHECK_GOOD_FRAC = 0.05
COST_CHECK_FAIR_FRAC = 0.15


# --------------------------------------------------------------------------- #
# Number formats (one place, so the test can re-derive what the page shows)
# --------------------------------------------------------------------------- #
def _nan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or pd.isna(v)


def fmt_number(v, decimals: int = 0) -> str:
    """``1,234.5`` style; ``n/a`` for NaN/None."""
    return "n/a" if _nan(v) else f"{float(v):,.{decimals}f}"


def fmt_eur(v, decimals: int = 0) -> str:
    return "n/a" if _nan(v) else f"€ {fmt_number(v, decimals)}"


def fmt_pct(v, decimals: int = 0, signed: bool = False) -> str:
    if _nan(v):
        return "n/a"
    return f"{float(v) * 100:+.{decimals}f} %" if signed else f"{float(v) * 100:.{decimals}f} %"


def _sig_decimals(v, digits: int = 3) -> int:
    """Decimals that show about ``digits`` significant digits (at least 0, at most 3)."""
    if _nan(v) or v == 0:
        return 0
    return max(0, min(3, digits - 1 - int(math.floor(math.log10(abs(float(v)))))))


def _esc(v) -> str:
    return html.escape(str(v), quote=True)


def _metric(key: str, value, text: str, cls: str = "") -> str:
    """A number bound to its ``metrics.json`` key."""
    raw = "nan" if _nan(value) else repr(float(value))
    return f'<span class="{cls}" data-metric="{_esc(key)}" data-value="{raw}">{_esc(text)}</span>'


# --------------------------------------------------------------------------- #
# Summary
# --------------------------------------------------------------------------- #
def cost_check_level(ratio: float) -> str:
    """``good``/``fair``/``poor`` for the validation factor (Cost Explorer / calculated)."""
    if _nan(ratio):
        return "n/a"
    d = abs(float(ratio) - 1)
    return "good" if d <= COST_CHECK_GOOD_FRAC else "fair" if d <= COST_CHECK_FAIR_FRAC else "poor"


def badges_html(metrics: dict) -> str:
    """Data-quality and coverage badges (good / fair / poor)."""
    from finops_lib.fleet import coverage_level

    items = [
        ("time_alignment_coverage_frac", "Cost + carbon on one time axis", coverage_level(metrics["time_alignment_coverage_frac"]),
         fmt_pct(metrics["time_alignment_coverage_frac"], 1),
         "hours with both cost and grid-intensity data / hours in the window"),
        ("cpu_running_coverage_frac", "CPU data for running hours", coverage_level(metrics["cpu_running_coverage_frac"]),
         fmt_pct(metrics["cpu_running_coverage_frac"], 1),
         "running instance-hours with a CloudWatch CPU datum; the others are left out of energy and CO2e"),
        ("intensity_data_coverage_frac", "Grid-intensity data", coverage_level(metrics["intensity_data_coverage_frac"]),
         fmt_pct(metrics["intensity_data_coverage_frac"], 1), "hours of the window with a grid-intensity value"),
        ("validation_factor_ratio", "Cost check: billed / calculated", cost_check_level(metrics["validation_factor_ratio"]),
         fmt_number(metrics["validation_factor_ratio"], 3),
         "Cost Explorer compute cost / runtime x list price, per day and instance type"),
    ]
    out = ['<div class="badges">']
    for key, label, level, text, title in items:
        out.append(f'<span class="badge {level}" title="{_esc(title)}">{_esc(label)}: '
                   f'{_metric(key, metrics[key], text)} ({level})</span>')
    out.append("</div>")
    return "".join(out)


def summary_html(metrics: dict, change: dict, *, simulated: bool, snapshot_id: str, source: str, zone: str,
                 window_start, window_end, last_h: int = 48) -> str:
    """The report's first screen: banner, key figures, change, savings potential, grid, badges.

    Parameters
    ----------
    metrics : dict
        The report's metrics (the keys written to ``metrics.json``).
    change : dict
        ``fleet.period_change`` (for the reason when there is no previous period).
    last_h : int
        Hours the ``grid_*_last_*`` metrics cover (``fleet.totals``). [h]
    """
    ws, we = pd.Timestamp(window_start), pd.Timestamp(window_end)
    days = (we - ws).total_seconds() / 86_400
    parts = []
    if simulated:
        parts.append('<div class="banner simulated" role="alert">SIMULATED DATA -- sandbox fleet, not a real AWS '
                     'account. Every number below describes a simulated world.</div>')
    parts.append(f'<p class="meta">Snapshot <code>{_esc(snapshot_id)}</code> ({_esc(source)}), grid zone {_esc(zone)}; '
                 f'window {ws:%Y-%m-%d %H:%M} to {we:%Y-%m-%d %H:%M} UTC ({days:g} days); '
                 f'{_metric("instances_count", metrics["instances_count"], str(metrics["instances_count"]))} instances.</p>')
    m = metrics
    co2_dec = _sig_decimals(m["total_co2_kg"])
    t_dec = _sig_decimals(m["annual_co2_t"])
    if _nan(m["cost_change_prev_period_frac"]):
        change_value = "n/a"
        change_sub = _esc(change.get("reason") or "no previous period")
    else:
        cc, ce = m["cost_change_prev_period_frac"], m["co2_change_prev_period_frac"]
        change_value = (f'<span class="{"up" if cc > 0 else "down"}">cost '
                        f'{_metric("cost_change_prev_period_frac", cc, fmt_pct(cc, 1, signed=True))}</span>')
        change_sub = (f'<span class="{"up" if ce > 0 else "down"}">CO₂e '
                      f'{_metric("co2_change_prev_period_frac", ce, fmt_pct(ce, 1, signed=True))}</span>'
                      f' -- last {change["period_days"]} days vs the {change["period_days"]} before')
    save_cost, save_co2 = m.get("annual_saving_combined_cost_q50_eur"), m.get("annual_saving_combined_co2_q50_t")
    cards = [
        ("Cost in the window", _metric("total_cost_eur", m["total_cost_eur"], fmt_eur(m["total_cost_eur"])),
         f'≈ {_metric("annual_cost_eur", m["annual_cost_eur"], fmt_eur(m["annual_cost_eur"]))} per year'),
        ("CO₂e in the window", _metric("total_co2_kg", m["total_co2_kg"], f'{fmt_number(m["total_co2_kg"], co2_dec)} kg'),
         f'≈ {_metric("annual_co2_t", m["annual_co2_t"], fmt_number(m["annual_co2_t"], t_dec) + " t")} per year'),
        ("Change vs previous period", change_value, change_sub),
    ]
    if save_cost is not None:
        lo, hi = m["annual_saving_combined_cost_q05_eur"], m["annual_saving_combined_cost_q95_eur"]
        cards.append((
            "Savings potential per year (all measures)",
            _metric("annual_saving_combined_cost_q50_eur", save_cost, fmt_eur(save_cost)),
            f'{_metric("annual_saving_combined_co2_q50_t", save_co2, f"{fmt_number(save_co2, _sig_decimals(save_co2))} t")}'
            f' CO₂e per year; 90 % interval {fmt_eur(lo)} to {fmt_eur(hi)}',
        ))
    cards.append((
        f"Grid now ({_esc(zone)})",
        f'{_metric("grid_latest_g_per_kwh", m["grid_latest_g_per_kwh"], fmt_number(m["grid_latest_g_per_kwh"]))} g/kWh',
        f'last {last_h} h: {fmt_number(m["grid_min_last_g_per_kwh"])} to {fmt_number(m["grid_max_last_g_per_kwh"])} g/kWh',
    ))
    parts.append('<div class="kpis">')
    for label, value, sub in cards:
        parts.append(f'<div class="kpi"><div class="label">{label}</div><div class="value">{value}</div>'
                     f'<div class="sub">{sub}</div></div>')
    parts.append("</div>")
    parts.append(badges_html(m))
    parts.append('<p class="note">Per-year figures extrapolate the window linearly (365 days; no growth, no '
                 'seasonality). CO₂e is operational and location-based, hour by hour; embodied emissions are not '
                 'included here.</p>')
    return "\n".join(parts)


def actions_html(schedule: pd.DataFrame, rightsize: pd.DataFrame) -> str:
    """One sentence: what to do first (the recommendations in brief, € per year, point estimates)."""
    parts = []
    if len(schedule):
        names = ", ".join(str(n) for n in schedule["name"].fillna(pd.Series(schedule.index, index=schedule.index)).head(3))
        more = f" and {len(schedule) - 3} more" if len(schedule) > 3 else ""
        parts.append(f"put <strong>{len(schedule)} instance{'s' * (len(schedule) != 1)}</strong> on office hours "
                     f"({_esc(names)}{more}): {fmt_eur(schedule['saved_eur_per_year'].sum())} per year")
    if len(rightsize):
        low = rightsize[rightsize["risk"] != "high"]
        parts.append(f"rightsize <strong>{len(rightsize)} instance{'s' * (len(rightsize) != 1)}</strong>: "
                     f"{fmt_eur(rightsize['saved_eur_per_year'].sum())} per year "
                     f"({len(rightsize) - len(low)} with high risk -- check first)")
    if not parts:
        return '<p class="takeaway"><strong>What to do first:</strong> no schedule or rightsizing candidate in this window.</p>'
    return ('<p class="takeaway"><strong>What to do first:</strong> ' + "; ".join(parts)
            + ". Details under Recommendations.</p>")


# --------------------------------------------------------------------------- #
# Tables
# --------------------------------------------------------------------------- #
def table_html(df: pd.DataFrame, columns: dict, *, index: str | None = None, sortable: bool = True,
               table_id: str | None = None, row_class: str | None = None, caption: str | None = None,
               wrap: tuple = ()) -> str:
    """An HTML table with formatted numbers; numeric cells keep their raw value in ``data-sort``.

    Parameters
    ----------
    df : pandas.DataFrame
    columns : dict
        column -> (header, format) where format is ``"text"``, ``"eur"``,
        ``"pct"``, or an int (decimals of a plain number).
    index : str, optional
        Header of a first column showing the index.
    row_class : str, optional
        Column whose value (prefixed ``risk-``) becomes the class of its cell.
    wrap : tuple of str
        Text columns whose cells may wrap (long explanations); ``"__index__"`` for the index.
    """
    cls = ' class="sortable"' if sortable else ""
    tid = f' id="{_esc(table_id)}"' if table_id else ""
    out = [f"<table{cls}{tid}>"]
    if caption:
        out.append(f"<caption>{_esc(caption)}</caption>")
    heads = ([f"<th>{_esc(index)}</th>"] if index else []) + [
        f'<th class="{"" if fmt == "text" else "num"}">{_esc(h)}</th>' for h, fmt in columns.values()]
    out.append("<thead><tr>" + "".join(heads) + "</tr></thead><tbody>")
    for idx, row in df.iterrows():
        cells = [f'<td{" class=wrap" if "__index__" in wrap else ""}>{_esc(idx)}</td>'] if index else []
        for col, (_, fmt) in columns.items():
            v = row[col]
            if fmt == "text":
                extra = f' class="risk-{_esc(v)}"' if col == row_class else ' class="wrap"' if col in wrap else ""
                cells.append(f"<td{extra}>{'' if _nan(v) else _esc(v)}</td>")
                continue
            text = fmt_eur(v) if fmt == "eur" else fmt_pct(v, 1) if fmt == "pct" else fmt_number(v, int(fmt))
            sort = "" if _nan(v) else f' data-sort="{float(v)!r}"'
            cells.append(f'<td class="num"{sort}>{_esc(text)}</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def business_case_html(case: pd.DataFrame) -> str:
    """The business case table: per measure € and t CO2e per year, median and 90 % interval."""
    from finops_lib.fleet import MEASURE_LABELS

    df = case.copy()
    df.index = [MEASURE_LABELS.get(m, m) for m in df.index]
    for q in ("q05", "q50", "q95"):
        df[f"co2_kg_{q}"] = df[f"co2_t_per_year_{q}"] * 1000
    df["cost_int"] = [f"{fmt_eur(a)} to {fmt_eur(b)}" for a, b in zip(df["cost_eur_per_year_q05"], df["cost_eur_per_year_q95"], strict=True)]
    df["co2_int"] = [f"{fmt_number(a)} to {fmt_number(b)}" for a, b in zip(df["co2_kg_q05"], df["co2_kg_q95"], strict=True)]
    cols = {
        "cost_eur_per_year_q50": ("€ saved per year (median)", "eur"),
        "cost_int": ("90 % interval", "text"),
        "cost_frac_q50": ("share of cost", "pct"),
        "co2_kg_q50": ("kg CO₂e saved per year (median)", 0),
        "co2_int": ("90 % interval [kg]", "text"),
        "co2_frac_q50": ("share of CO₂e", "pct"),
    }
    return table_html(df, cols, index="Measure", sortable=False, table_id="business-case", wrap=("__index__",))


def schedule_html(rec: pd.DataFrame, max_rows: int = 15) -> str:
    """Instances to schedule (office hours), largest € first."""
    if rec.empty:
        return ("<p>No instance whose role tag allows a schedule runs notably outside office hours: "
                "nothing to schedule.</p>")
    cols = {"name": ("Name", "text"), "role": ("Role tag", "text"), "schedule_tag": ("Schedule tag", "text"),
            "instance_type": ("Type", "text"), "off_h_per_week": ("Hours off per week", 0),
            "saved_eur_per_year": ("€ saved per year", "eur"), "saved_co2_kg_per_year": ("kg CO₂e saved per year", 1)}
    more = (f'<p class="note">{len(rec) - max_rows} more instances with smaller savings are in '
            f'<code>tables/recommendations_schedule.csv</code>.</p>' if len(rec) > max_rows else "")
    return table_html(rec.head(max_rows), cols, index="Instance", table_id="schedule") + more


def rightsizing_html(rec: pd.DataFrame) -> str:
    """Instances to rightsize with their risk flag, largest € first."""
    if rec.empty:
        return "<p>No instance can move to a cheaper type of its family at the target CPU load.</p>"
    cols = {"instance_type": ("Type now", "text"), "new_type": ("Proposed type", "text"),
            "cpu_p95_frac": ("CPU p95 now", "pct"), "peak_after_frac": ("Peak CPU after", "pct"),
            "saved_eur_per_year": ("€ saved per year", "eur"), "saved_co2_kg_per_year": ("kg CO₂e saved per year", 1),
            "risk": ("Risk", "text"), "risk_reason": ("Why", "text")}
    return table_html(rec, cols, index="Instance", table_id="rightsizing", row_class="risk", wrap=("risk_reason",))


def instances_html(per_instance: pd.DataFrame) -> str:
    """The per-instance table, sortable by any column."""
    cols = {"name": ("Name", "text"), "role": ("Role", "text"), "instance_type": ("Type", "text"),
            "lifecycle": ("Lifecycle", "text"), "running_h": ("Running [h]", 0), "cpu_mean_frac": ("CPU mean", "pct"),
            "cost_eur": ("Cost [€]", 2), "energy_kwh": ("Energy [kWh]", 2), "co2_kg": ("CO₂e [kg]", 3),
            "co2_g_per_eur": ("g CO₂e per €", 1), "cpu_missing_h": ("Running h without CPU data", 0)}
    return '<div class="scroll">' + table_html(per_instance, cols, index="Instance", table_id="instances") + "</div>"


def data_quality_html(metrics: dict, diagnostics: pd.DataFrame, *, pue: float, pue_source: str,
                      eur_per_usd: float, power_source: str, n_draws: int, simulated: bool) -> str:
    """What the numbers rest on: gaps (never filled), runtime reconstruction, factors used."""
    d = diagnostics.sum(numeric_only=True)
    fixes = ", ".join(f"{int(v)} {k.replace('_', ' ')}" for k, v in d.items() if v) or "none"
    items = [
        f"Running instance-hours without a CPU datum: {fmt_number(metrics['running_h_without_cpu_h'], 1)} h of "
        f"{fmt_number(metrics['total_running_h'])} h -- in cost, left out of energy and CO₂e (a gap, not a zero).",
        f"Energy in hours without grid intensity: {fmt_number(metrics['energy_without_intensity_kwh'], 2)} kWh -- "
        "left out of CO₂e.",
        f"Runtime from CloudTrail state changes (CloudWatch datapoints locate unrecorded stops); records handled: {fixes}.",
        f"Cost check: Cost Explorer compute cost / calculated (runtime x list price) = "
        f"{fmt_number(metrics['validation_factor_ratio'], 3)} over all days and instance types.",
        f"Energy = power model ({_esc(power_source)}) at hourly CPU x running share x PUE {pue:g} ({_esc(pue_source)}); "
        f"CO₂e = energy x grid intensity of the same hour. EUR/USD {eur_per_usd:g}.",
        f"Savings intervals: Monte Carlo with {n_draws} draws over the named priors of "
        "<code>factors.UNCERTAINTY_PRIORS</code> (intensity, power model, CPU, PUE, price, FX); 5 to 95 %.",
    ]
    if simulated:
        items.insert(0, "<strong>Simulated data</strong> from the offline sandbox.")
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


# --------------------------------------------------------------------------- #
# Export and command line
# --------------------------------------------------------------------------- #
def export_report(notebook_path, html_path) -> Path:
    """Export an executed notebook with the ``fleet_report`` template (standalone, offline, no code)."""
    from finops_lib.report import export_html

    return export_html(notebook_path, html_path, template=TEMPLATE_NAME)


def main(argv=None) -> int:
    from finops_lib import evaluate
    from finops_lib.snapshot import read_snapshot

    ap = argparse.ArgumentParser(prog="python -m finops_lib.fleet_report", description=__doc__.split("\n\n")[0])
    ap.add_argument("--snapshot", type=Path, default=None,
                    help="snapshot directory (default: the fleet-report experiment's sandbox world, collected once)")
    ap.add_argument("--results", type=Path, default=evaluate.ROOT / "results", help="results folder")
    args = ap.parse_args(argv)
    exp = evaluate.load_experiments()["fleet-report"]
    if args.snapshot:
        exp.snapshot = {"source": "path", "path": str(args.snapshot)}
    snap_dir = evaluate.ensure_snapshot(exp, args.results, progress=True)
    exp.name = f"report-{read_snapshot(snap_dir).snapshot_id}"
    exp.html = True
    evaluate.validate(exp)
    out = evaluate.run_experiment(exp, snap_dir, args.results)
    page = out / f"{exp.notebook}.html"
    print(f"fleet report: {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
