"""Generate the four evaluation notebooks (clean, no outputs) from the cell sources below.

Run once after editing: ``.venv/bin/python notebooks/make_notebooks.py``.
The notebooks only orchestrate and plot; every calculation lives in
``finops_lib``. First code cell: ``parameters`` (literal defaults = the fast
offline CI configuration); second: imports; then Load -> Compute -> Plot ->
Save; the last cell writes ``metrics.json``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).parent

COMMON_IMPORTS = """\
from finops_lib import report

PARAMETERS = report.notebook_parameters(globals())  # what the parameters cell (and papermill) set

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from finops_lib import calc, factors, figures
from finops_lib.calc import scenarios, uncertainty
from finops_lib.evaluate import open_snapshot

figures.use_style()
rng = np.random.default_rng(seed)"""

LOAD = """\
snap = open_snapshot(snapshot_dir, world={"seed": seed, "n_instances": n_instances, "days": days})
sim = snap.is_simulated
ws, we = snap.window_start, snap.window_end
instances, events, cpu_hourly = snap["instances"], snap["state_events"], snap["cpu_hourly"]
ids = list(instances["instance_id"])
display(Markdown(f"## {TITLE}{' -- SIMULATED data (sandbox)' if sim else ''}\\n\\n"
                 f"Snapshot `{snap.snapshot_id}` ({snap.manifest.get('source')}), window {ws} -- {we}, "
                 f"{len(instances)} instances."))"""

NOTEBOOKS = {
    # ------------------------------------------------------------------ 01
    "01-evaluate-runtime": [
        ("md", "# Runtime accuracy: CloudTrail reconstruction vs naive estimators\n\n"
               "How close is the runtime reconstructed from CloudTrail state changes to the truth "
               "(sandbox: simulated truth; real account: billed usage hours), next to the baseline "
               "estimators, per failure case, and how does the error grow with missing records?"),
        ("code", 'snapshot_dir = ""  # empty: collect a small sandbox snapshot into results/snapshots\n'
                 'out_dir = "../results/_interactive/01-evaluate-runtime"  # the runner sets results/<experiment>\nseed = 42\nn_instances = 12\ndays = 7\n'
                 "missing_rates = [0.0, 0.1, 0.2, 0.4]\nn_repeats = 3"),
        ("code", COMMON_IMPORTS),
        ("md", "## Load"),
        ("code", 'TITLE = "Runtime accuracy"\n' + LOAD),
        ("md", "## Compute\n\nEstimators: CloudTrail reconstruction from state events alone (`cloudtrail`), "
               "the same with CloudWatch datapoint presence locating stops CloudTrail does not record "
               "(`cloudtrail_cloudwatch`), and four baselines."),
        ("code", """\
_, diagnostics = calc.running_intervals(events, instances, ws, we, cpu_hourly=cpu_hourly)
estimates = {m: calc.estimate_runtime(m, events, instances, cpu_hourly, ws, we) for m in calc.RUNTIME_ESTIMATORS}
est_h = report.runtime_by_instance(estimates)
diagnostics.sum(numeric_only=True).to_frame("count").T"""),
        ("md", "Truth (scoring only): the sandbox's true running hours and the fault case of each instance."),
        ("code", """\
if sim:
    true_h = snap["truth_hourly"].groupby("instance_id")["running_frac"].sum().rename("true_h")
    cases = snap["truth_cases"].set_index("instance_id")["case"]
else:  # real account: billed usage hours per instance (Cost Explorer with resources)
    billed = snap["costs"].dropna(subset=["resource_id"])
    billed = billed[billed["usage_type"].str.contains("BoxUsage|SpotUsage", regex=True)]
    true_h = billed.groupby("resource_id")["usage_quantity"].sum().rename("true_h")
    cases = pd.Series("real", index=true_h.index)
errors = report.runtime_errors(est_h, true_h, cases)
per_instance = est_h.join(true_h).join(cases.rename("case"))
errors.pivot_table(index="case", columns="estimator", values="abs_error_frac").round(3)"""),
        ("md", "Missing records: drop each state event with probability *r* (repeated, seeded) and "
               "reconstruct again; the baselines do not read events and stay constant."),
        ("code", """\
rows = []
for rate in missing_rates:
    for rep in range(n_repeats):
        kept = report.drop_records(events, rate, rng)
        h = report.runtime_by_instance({m: calc.estimate_runtime(m, kept, instances, cpu_hourly, ws, we)
                                        for m in ("cloudtrail", "cloudtrail_cloudwatch")})
        err = report.runtime_errors(h, true_h, cases).query("case == 'fleet'")
        rows += [{"missing_record_rate_frac": rate, "repeat": rep, "estimator": e, "abs_error_frac": v}
                 for e, v in err.set_index("estimator")["abs_error_frac"].items()]
    for est in ("always_on", "cloudwatch_presence"):
        rows.append({"missing_record_rate_frac": rate, "repeat": 0, "estimator": est,
                     "abs_error_frac": errors.query("case == 'fleet' and estimator == @est")["abs_error_frac"].iloc[0]})
sweep = pd.DataFrame(rows).groupby(["missing_record_rate_frac", "estimator"], as_index=False)["abs_error_frac"].mean()
sweep.pivot(index="missing_record_rate_frac", columns="estimator", values="abs_error_frac").round(3)"""),
        ("md", "## Plot"),
        ("code", """\
fig_err = figures.fig_runtime_error(errors, simulated=sim)
fig_sweep = figures.fig_runtime_missing_sweep(sweep, simulated=sim)"""),
        ("md", "## Save"),
        ("code", """\
figures.save(fig_err, "runtime_error_by_case", out_dir)
figures.save(fig_sweep, "runtime_error_vs_missing_records", out_dir)
report.write_table(errors.pivot_table(index="case", columns="estimator", values="abs_error_frac"), "runtime_error_by_case", out_dir)
report.write_table(per_instance, "runtime_per_instance", out_dir)
report.write_table(sweep, "runtime_missing_sweep", out_dir)
fleet = errors.query("case == 'fleet'").set_index("estimator")
best_baseline = fleet.drop(index=["cloudtrail", "cloudtrail_cloudwatch"])["abs_error_frac"].min()
metrics = {f"runtime_abs_error_{e}_frac": v for e, v in fleet["abs_error_frac"].items()}
metrics |= {f"runtime_net_error_{e}_frac": v for e, v in fleet["net_error_frac"].items()}
for m in ("cloudtrail", "cloudtrail_cloudwatch"):
    metrics |= {f"runtime_abs_error_{m}_{c}_frac": v for c, v in
                errors.query("estimator == @m and case != 'fleet'").set_index("case")["abs_error_frac"].items()}
    metrics |= {f"runtime_abs_error_{m}_missing_{round(r * 100):02d}pct_frac": v for r, v in
                sweep.query("estimator == @m").set_index("missing_record_rate_frac")["abs_error_frac"].items()}
metrics |= {"runtime_best_baseline_abs_error_frac": best_baseline, "runtime_true_h": float(true_h.sum()),
            "instances_count": len(instances)}
report.write_metrics(out_dir, metrics, PARAMETERS, snap)
pd.Series(metrics).round(4).to_frame("value")"""),
    ],
    # ------------------------------------------------------------------ 02
    "02-evaluate-cost": [
        ("md", "# Cost deviation: runtime x list price vs Cost Explorer\n\n"
               "Calculated compute cost (CloudTrail runtime x on-demand list price) against what Cost "
               "Explorer bills, per day and instance type: MAPE, bias, Bland-Altman limits, validation "
               "factor, and a decomposition of the gap (compute vs EBS vs other) that explains it."),
        ("code", 'snapshot_dir = ""  # empty: collect a small sandbox snapshot into results/snapshots\n'
                 'out_dir = "../results/_interactive/02-evaluate-cost"  # the runner sets results/<experiment>\nseed = 42\nn_instances = 12\ndays = 7\n'
                 "runtime_cloudwatch = True  # runtime from CloudTrail + CloudWatch datapoints (False: CloudTrail events only)"),
        ("code", COMMON_IMPORTS),
        ("md", "## Load"),
        ("code", 'TITLE = "Cost deviation"\n' + LOAD + """
prices, costs = snap["prices"], snap["costs"]
daily_costs = costs[(costs["granularity"] == "DAILY") & (costs["group_key"] == "USAGE_TYPE")]
daily_costs = daily_costs[(daily_costs["period_start"] >= ws) & (daily_costs["period_start"] < we)]"""),
        ("md", "## Compute"),
        ("code", """\
intervals, _ = calc.running_intervals(events, instances, ws, we, cpu_hourly=cpu_hourly if runtime_cloudwatch else None)
frac = calc.hourly_running_fraction(intervals, ws, we, ids)
hourly_cost = calc.hourly_cost_usd(frac, instances, prices)
billed_intervals = calc.interval_cost_usd(intervals, instances, prices)
daily = calc.daily_compute_comparison(hourly_cost, instances, daily_costs)
pairs = daily.dropna(subset=["calculated_usd", "billed_usd"])
nonzero = pairs[pairs["billed_usd"] > 0]
ba = calc.bland_altman(pairs["calculated_usd"], pairs["billed_usd"])
stats = {
    "mape_frac": calc.mape(nonzero["calculated_usd"], nonzero["billed_usd"]),
    "mean_bias_usd": calc.mean_bias(pairs["calculated_usd"], pairs["billed_usd"]),
    "validation_factor_ratio": calc.validation_factor(pairs["calculated_usd"], pairs["billed_usd"]),
    "bland_altman_bias_usd": ba["bias"], "bland_altman_loa_low_usd": ba["loa_low"], "bland_altman_loa_high_usd": ba["loa_high"],
    "pairs_count": ba["n"], "pairs_billed_zero_count": len(pairs) - len(nonzero),
}
pd.Series(stats).round(4).to_frame("value")"""),
        ("md", "Where the gap comes from: usage categories, the Spot discount (list price is on-demand), "
               "and the 60 s billing minimum per start."),
        ("code", """\
calculated_compute_usd = float(hourly_cost["cost_usd"].sum())
gap = calc.gap_decomposition(daily_costs, calculated_compute_usd).set_index("category")
lifecycle = instances.set_index("instance_id")["lifecycle"]
calc_by_lifecycle = hourly_cost.groupby(hourly_cost["instance_id"].map(lifecycle))["cost_usd"].sum()
billed_compute = daily_costs[calc.usage_category(daily_costs["usage_type"]) == "compute"]
billed_by_lifecycle = billed_compute.groupby(np.where(billed_compute["usage_type"].str.contains("SpotUsage"), "spot", "on-demand"))["cost_usd"].sum()
by_lifecycle = pd.DataFrame({"calculated_usd": calc_by_lifecycle, "billed_usd": billed_by_lifecycle}).fillna(0.0)
by_lifecycle["gap_usd"] = by_lifecycle["billed_usd"] - by_lifecycle["calculated_usd"]
billing_minimum_usd = float(billed_intervals["cost_usd"].sum()) - float(
    (billed_intervals["duration_s"] / 3600 * billed_intervals["usd_per_hour"]).sum())
display(gap.round(3))
by_lifecycle.round(3)"""),
        ("md", "## Plot"),
        ("code", """\
per_day = daily.groupby("day")[["calculated_usd", "billed_usd"]].sum(min_count=1)
fig_ba = figures.fig_bland_altman(pairs["calculated_usd"], pairs["billed_usd"], ba, simulated=sim)
fig_daily = figures.fig_cost_daily(per_day, simulated=sim)
fig_gap = figures.fig_cost_gap(gap.drop(index="total").rename(columns={"gap_usd": "cost_usd"})[["cost_usd"]], simulated=sim)"""),
        ("md", "## Save"),
        ("code", """\
figures.save(fig_ba, "cost_bland_altman", out_dir)
figures.save(fig_daily, "cost_daily", out_dir)
figures.save(fig_gap, "cost_gap_decomposition", out_dir)
report.write_table(gap, "cost_gap_decomposition", out_dir)
report.write_table(by_lifecycle, "cost_by_lifecycle", out_dir)
report.write_table(daily.set_index(["day", "instance_type"]), "cost_daily_by_type", out_dir)
metrics = dict(stats)
metrics |= {f"gap_{c}_usd": v for c, v in gap["gap_usd"].items()}
metrics |= {"calculated_compute_usd": calculated_compute_usd, "billed_total_usd": float(gap.loc["total", "billed_usd"]),
            "billing_minimum_effect_usd": billing_minimum_usd,
            "spot_gap_usd": float(by_lifecycle["gap_usd"].get("spot", 0.0)),
            "on_demand_gap_usd": float(by_lifecycle["gap_usd"].get("on-demand", 0.0))}
report.write_metrics(out_dir, metrics, PARAMETERS, snap)
pd.Series(metrics).round(4).to_frame("value")"""),
    ],
    # ------------------------------------------------------------------ 03
    "03-simulate-scenarios": [
        ("md", "# CO2e and cost scenarios with uncertainty\n\n"
               "Baseline, office hours (Mon-Fri 08-18 Europe/Berlin, German public holidays), "
               "carbon-aware shifting of flexible jobs into the greenest window before their deadline, "
               "rightsizing from CPU percentiles, and all combined. Cost [EUR] and CO2e [kg] with "
               "5/50/95 % intervals from a Monte Carlo over the named priors of "
               "`factors.UNCERTAINTY_PRIORS`; Sobol indices; hour-aligned vs annual-average footprint; "
               "PUE 1.135 (CCF) vs 1.35 (2024 regional); embodied vs operational share; literature ranges."),
        ("code", 'snapshot_dir = ""  # empty: collect a small sandbox snapshot into results/snapshots\n'
                 'out_dir = "../results/_interactive/03-simulate-scenarios"  # the runner sets results/<experiment>\nseed = 42\nn_instances = 12\ndays = 7\nn_draws = 500\nsobol_n = 256\n'
                 'office_hours_roles = ["office_hours", "variable"]\nshift_window_h = 24\n'
                 "rightsize_quantile = 0.95\nrightsize_target_util_frac = 0.6\n"
                 "runtime_cloudwatch = True  # runtime from CloudTrail + CloudWatch datapoints (False: CloudTrail events only)\n"
                 'power_profile_source = "snapshot"  # snapshot (BoaviztAPI) or ccf'),
        ("code", COMMON_IMPORTS),
        ("md", "## Load"),
        ("code", 'TITLE = "CO2e and cost scenarios"\n' + LOAD + """
intensity = snap.intensity()
profiles = snap["power_profiles"] if power_profile_source == "snapshot" else calc.ccf_power_profile(factors.INSTANCE_CATALOG)
usd_per_hour = snap.usd_per_hour()
tags = scenarios.instance_tags(instances)"""),
        ("md", "## Compute\n\n### Scenarios (fleet-hourly tables)"),
        ("code", """\
intervals, _ = calc.running_intervals(events, instances, ws, we, cpu_hourly=cpu_hourly if runtime_cloudwatch else None)
frac = calc.hourly_running_fraction(intervals, ws, we, ids)
base = scenarios.fleet_hourly_table(frac, cpu_hourly, instances)
office_ids = list(tags.index[tags["role"].isin(office_hours_roles)]) if "role" in tags else []
have_curve = set(profiles["instance_type"]) & set(usd_per_hour)
catalog = {t: v for t, v in factors.INSTANCE_CATALOG.items() if t in have_curve}
plan_rs = scenarios.rightsizing_plan(base, rightsize_quantile, rightsize_target_util_frac, catalog)
jobs = scenarios.flexible_jobs(base, instances, window_h=shift_window_h)
office = scenarios.apply_office_hours(base, office_ids)
shifted, plan_shift = scenarios.apply_carbon_aware_shift(base, jobs, intensity)
rightsized = scenarios.apply_rightsizing(base, plan_rs)
combined = scenarios.apply_rightsizing(base, plan_rs)
combined = scenarios.apply_office_hours(combined, office_ids)
combined, _ = scenarios.apply_carbon_aware_shift(combined, scenarios.flexible_jobs(combined, instances, shift_window_h), intensity)
tables = {"baseline": base, "office_hours": office, "carbon_aware_shift": shifted, "rightsizing": rightsized, "combined": combined}
display(Markdown(f"{len(office_ids)} instances on office hours; {len(jobs)} flexible jobs "
                 f"({int((plan_shift['shift_h'] != 0).sum())} moved); "
                 f"{int((plan_rs['new_type'] != plan_rs['instance_type']).sum())} instances rightsized."))
plan_rs[plan_rs["new_type"] != plan_rs["instance_type"]]"""),
        ("md", "### Monte Carlo (common random numbers across scenarios)"),
        ("code", """\
aggs = {k: uncertainty.fleet_aggregates(t, profiles, usd_per_hour, intensity) for k, t in tables.items()}
mcs = {k: uncertainty.monte_carlo(a, n_draws, seed) for k, a in aggs.items()}
summary = pd.DataFrame({k: mc.quantiles().stack() for k, mc in mcs.items()}).T
summary.columns = [f"{o}_{q}" for o, q in summary.columns]
savings = pd.DataFrame({k: uncertainty.savings_frac(mcs["baseline"], mc).stack() for k, mc in mcs.items() if k != "baseline"}).T
savings.columns = [f"{o}_{q}" for o, q in savings.columns]
gaps = pd.DataFrame({"running_h_without_cpu": {k: a.running_h_without_cpu for k, a in aggs.items()},
                     "running_h_unknown": {k: a.running_h_unknown for k, a in aggs.items()}})
display(summary[[c for c in summary.columns if c.startswith(("cost_eur", "co2_kg"))]].round(3))
savings[[c for c in savings.columns if c.startswith(("cost_eur", "co2_kg"))]].round(3)"""),
        ("md", "### Sobol indices (baseline)"),
        ("code", """\
sobol = uncertainty.sobol(aggs["baseline"], n=sobol_n, seed=seed)
sobol.round(3)"""),
        ("md", "### Accounting choices: hour-aligned vs annual average, PUE, embodied"),
        ("code", """\
annual = factors.GRID_INTENSITY_G_PER_KWH["DE_2024_consumption"]["value"]
pue_ccf, pue_region = factors.PUE["ccf_aws"]["value"], factors.PUE["aws_eu_central_1_2024"]["value"]
energy_h = aggs["baseline"].energy_kwh_hourly(pue=pue_region)
hva = calc.hour_aligned_vs_average(energy_h, intensity, missing="skip", mean_intensity_g_per_kwh=annual)
point = pd.DataFrame([{"pue": p, "power_scale": 1.0, "intensity_scale": 1.0, "cpu_scale": 1.0, "price_scale": 1.0, "spot_price_frac": 1.0,
                       "eur_per_usd": factors.EUR_PER_USD["value"]} for p in (pue_ccf, pue_region)])
by_pue = uncertainty.evaluate_draws(aggs["baseline"], point).set_index("pue")["co2_kg"]
emb_g_per_h = profiles.drop_duplicates("instance_type").set_index("instance_type")["embodied_g_per_h"]
embodied_kg = float((base["running_frac"] * base["instance_type"].map(emb_g_per_h)).sum(min_count=1)) / 1000
operational_kg = float(summary.loc["baseline", "co2_kg_q50"])
variants = pd.Series({
    f"hour-aligned, PUE {pue_region}": hva["hour_aligned_co2_g"] / 1000,
    f"annual average {annual:g} g/kWh, PUE {pue_region}": hva["average_factor_co2_g"] / 1000,
    f"hour-aligned, PUE {pue_ccf} (CCF)": by_pue[pue_ccf],
    f"hour-aligned, PUE {pue_region} (2024 regional)": by_pue[pue_region],
    "embodied (time share)": embodied_kg,
})
variants.round(3).to_frame("co2_kg")"""),
        ("md", "### Calibration on the sandbox (scoring only: reads the hidden truth)"),
        ("code", """\
truth = {}
if sim:
    tf = snap["truth_factors"].set_index("name")["value"]
    truth = {"truth_co2_kg": float(snap["truth_hourly"]["co2_g"].sum()) / 1000,
             "truth_cost_eur": float(snap["truth_billing"]["cost_usd"].sum()) * float(tf["eur_per_usd"])}
    q = summary.loc["baseline"]
    truth |= {"truth_co2_in_90pct_interval_count": int(q["co2_kg_q05"] <= truth["truth_co2_kg"] <= q["co2_kg_q95"]),
              "truth_cost_in_90pct_interval_count": int(q["cost_eur_q05"] <= truth["truth_cost_eur"] <= q["cost_eur_q95"])}
pd.Series(truth, dtype=float).round(3).to_frame("value")"""),
        ("md", "## Plot"),
        ("code", """\
band = uncertainty.hourly_co2_quantiles(aggs["baseline"], mcs["baseline"].draws)
fig_int = figures.fig_scenario_intervals(summary, simulated=sim)
fig_sav = figures.fig_scenario_savings(savings, factors.LITERATURE_SAVINGS_FRAC, simulated=sim)
fig_sob = figures.fig_sobol(sobol, simulated=sim)
fig_band = figures.fig_hourly_band(band, intensity, simulated=sim)
fig_var = figures.fig_footprint_variants(variants, simulated=sim)"""),
        ("md", "## Save"),
        ("code", """\
for fig, name in [(fig_int, "scenario_intervals"), (fig_sav, "scenario_savings"), (fig_sob, "sobol_indices"),
                  (fig_band, "hourly_co2_band"), (fig_var, "footprint_variants")]:
    figures.save(fig, name, out_dir)
report.write_table(summary, "scenario_summary", out_dir)
report.write_table(savings, "scenario_savings", out_dir)
report.write_table(sobol, "sobol_indices", out_dir)
report.write_table(variants.to_frame("co2_kg"), "footprint_variants", out_dir)
report.write_table(plan_rs, "rightsizing_plan", out_dir)
metrics = {}
for k in summary.index:
    for c in ("cost_eur", "co2_kg", "energy_kwh"):
        metrics |= {f"{k}_{c.rsplit('_', 1)[0]}_{q}_{c.rsplit('_', 1)[1]}": summary.loc[k, f"{c}_{q}"] for q in ("q05", "q50", "q95")}
for k in savings.index:
    for c in ("cost_eur", "co2_kg"):
        metrics |= {f"{k}_saving_{c.rsplit('_', 1)[0]}_{q}_frac": savings.loc[k, f"{c}_{q}"] for q in ("q05", "q50", "q95")}
metrics |= {f"sobol_total_co2_{f}_frac": v for f, v in sobol["co2_kg_total"].items()}
metrics |= {"hour_aligned_co2_kg": hva["hour_aligned_co2_g"] / 1000, "annual_average_co2_kg": hva["average_factor_co2_g"] / 1000,
            "hour_aligned_vs_annual_frac": hva["relative_difference_frac"],
            "co2_pue_ccf_kg": by_pue[pue_ccf], "co2_pue_region_kg": by_pue[pue_region],
            "embodied_co2_kg": embodied_kg, "embodied_share_frac": embodied_kg / (embodied_kg + operational_kg),
            "running_h_without_cpu_h": float(gaps.loc["baseline", "running_h_without_cpu"]),
            "running_h_unknown_h": float(gaps.loc["baseline", "running_h_unknown"]),
            "moved_jobs_count": int((plan_shift["reason"] == "moved").sum()),
            "energy_without_intensity_kwh": aggs["baseline"].energy_without_intensity_kwh,
            "office_hours_instances_count": len(office_ids), "flexible_jobs_count": len(jobs),
            "rightsized_instances_count": int((plan_rs["new_type"] != plan_rs["instance_type"]).sum())}
metrics |= truth
report.write_metrics(out_dir, metrics, PARAMETERS, snap)
pd.Series(metrics).round(4).to_frame("value").head(20)"""),
    ],
    # ------------------------------------------------------------------ 04
    "04-report-fleet": [
        ("md", "# Fleet report: cost and CO2e on one time axis\n\n"
               "Totals, per-instance table, hourly cost and carbon over the last 48 h, grid status, "
               "data coverage and time-alignment coverage, validation factor."),
        ("code", 'snapshot_dir = ""  # empty: collect a small sandbox snapshot into results/snapshots\n'
                 'out_dir = "../results/_interactive/04-report-fleet"  # the runner sets results/<experiment>\nseed = 42\nn_instances = 12\ndays = 7\nlast_h = 48\n'
                 'pue_name = "aws_eu_central_1_2024"\n'
                 "runtime_cloudwatch = True  # runtime from CloudTrail + CloudWatch datapoints (False: CloudTrail events only)"),
        ("code", COMMON_IMPORTS),
        ("md", "## Load"),
        ("code", 'TITLE = "Fleet report"\n' + LOAD + """
ih = snap["intensity_hourly"]
intensity = snap.intensity()
usd_per_hour = snap.usd_per_hour()
pue = factors.PUE[pue_name]["value"]
eur_per_usd = factors.EUR_PER_USD["value"]
tags = scenarios.instance_tags(instances)"""),
        ("md", "## Compute"),
        ("code", """\
intervals, diagnostics = calc.running_intervals(events, instances, ws, we, cpu_hourly=cpu_hourly if runtime_cloudwatch else None)
frac = calc.hourly_running_fraction(intervals, ws, we, ids)
fleet = scenarios.fleet_hourly_table(frac, cpu_hourly, instances)
fp = scenarios.instance_hour_footprint(fleet, snap["power_profiles"], usd_per_hour, intensity, pue)
fp["cost_eur"] = calc.usd_to_eur(fp["cost_usd"], eur_per_usd)
per_instance = fp.groupby("instance_id").agg(
    instance_type=("instance_type", "first"), running_h=("running_frac", "sum"), cost_eur=("cost_eur", "sum"),
    energy_kwh=("energy_kwh", lambda s: s.sum(min_count=1)), co2_kg=("co2_g", lambda s: s.sum(min_count=1) / 1000),
    cpu_mean_frac=("cpu_util_frac", "mean"))
per_instance["role"] = tags["role"] if "role" in tags else pd.NA
per_instance["co2_g_per_eur"] = per_instance["co2_kg"] * 1000 / per_instance["cost_eur"]
hourly = fp.groupby("hour").agg(cost_eur=("cost_eur", "sum"), co2_kg=("co2_g", lambda s: s.sum() / 1000))
recent = hourly[hourly.index >= we - pd.Timedelta(hours=last_h)]
daily_costs = snap["costs"][(snap["costs"]["granularity"] == "DAILY") & (snap["costs"]["group_key"] == "USAGE_TYPE")]
daily_costs = daily_costs[(daily_costs["period_start"] >= ws) & (daily_costs["period_start"] < we)]
daily = calc.daily_compute_comparison(calc.hourly_cost_usd(frac, instances, snap["prices"]), instances, daily_costs)
pairs = daily.dropna(subset=["calculated_usd", "billed_usd"])
cost_hours = fp.dropna(subset=["cost_eur"])["hour"].unique()  # a known cost, idle hours (0 EUR) included
totals = {
    "cost_eur": float(fp["cost_eur"].sum()), "energy_kwh": float(fp["energy_kwh"].sum()), "co2_kg": float(fp["co2_g"].sum()) / 1000,
    "running_h": float(fp["running_frac"].sum()),
    "running_h_without_cpu_h": float(fp.loc[(fp["running_frac"] > 0) & fp["cpu_util_frac"].isna(), "running_frac"].sum()),
    "validation_factor_ratio": calc.validation_factor(pairs["calculated_usd"], pairs["billed_usd"]),
    "time_alignment_coverage_frac": calc.time_alignment_coverage(cost_hours, intensity.dropna().index, ws, we),
    "cpu_data_coverage_frac": calc.data_coverage(cpu_hourly, "hour", ws, we, key_col="instance_id"),
    "intensity_data_coverage_frac": calc.data_coverage(ih[ih["zone"] == snap.zone], "hour", ws, we),
    "grid_latest_g_per_kwh": float(intensity.iloc[-1]), "grid_mean_last_g_per_kwh": float(intensity.iloc[-last_h:].mean()),
    "grid_min_last_g_per_kwh": float(intensity.iloc[-last_h:].min()), "grid_max_last_g_per_kwh": float(intensity.iloc[-last_h:].max()),
    "instances_count": len(instances),
}
display(Markdown(f"**Totals** over {ws:%Y-%m-%d} -- {we:%Y-%m-%d}: {totals['cost_eur']:.2f} EUR, "
                 f"{totals['energy_kwh']:.2f} kWh (PUE {pue}), {totals['co2_kg']:.2f} kg CO2e (hour-aligned); "
                 f"validation factor (Cost Explorer / calculated) {totals['validation_factor_ratio']:.3f}; "
                 f"time-alignment coverage {totals['time_alignment_coverage_frac']:.1%}."))
display(Markdown(f"**Grid status** ({snap.zone}): latest {totals['grid_latest_g_per_kwh']:.0f} g/kWh; last {last_h} h "
                 f"mean {totals['grid_mean_last_g_per_kwh']:.0f}, range {totals['grid_min_last_g_per_kwh']:.0f}--"
                 f"{totals['grid_max_last_g_per_kwh']:.0f} g/kWh."))
per_instance.sort_values("cost_eur", ascending=False).round(3)"""),
        ("md", "## Plot"),
        ("code", "fig_hourly = figures.fig_fleet_hourly(recent, simulated=sim)"),
        ("md", "## Save"),
        ("code", """\
figures.save(fig_hourly, "fleet_hourly_last_48h", out_dir)
report.write_table(per_instance, "fleet_per_instance", out_dir)
report.write_table(hourly, "fleet_hourly", out_dir)
metrics = {f"total_{k}" if not k.startswith(("grid", "instances", "validation", "time_", "cpu_", "intensity_", "running_h_without")) else k: v
           for k, v in totals.items()}
report.write_metrics(out_dir, metrics, PARAMETERS, snap)
pd.Series(metrics).round(4).to_frame("value")"""),
    ],
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    first_code = True
    for kind, src in cells:
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(src))
        else:
            cell = nbformat.v4.new_code_cell(src)
            if first_code:
                cell.metadata["tags"] = ["parameters"]
                first_code = False
            nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):  # stable ids -> clean diffs
        cell["id"] = f"{name[:2]}-{i:02d}"
    return nb


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        path = HERE / f"{name}.ipynb"
        nbformat.write(build(name, cells), str(path))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
