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
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from finops_lib import calc, factors, figures, report
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
                 'out_dir = "."\nseed = 42\nn_instances = 12\ndays = 7\n'
                 "missing_rates = [0.0, 0.1, 0.2, 0.4]\nn_repeats = 3"),
        ("code", COMMON_IMPORTS),
        ("md", "## Load"),
        ("code", 'TITLE = "Runtime accuracy"\n' + LOAD),
        ("md", "## Compute\n\nEstimators: CloudTrail reconstruction and four baselines."),
        ("code", """\
intervals, diagnostics = calc.running_intervals(events, instances, ws, we)
estimates = {
    "cloudtrail": calc.hourly_running_fraction(intervals, ws, we, ids),
    "always_on": calc.runtime_always_on(instances, ws, we),
    "launch_time": calc.runtime_from_launch_time(instances, ws, we),
    "current_state": calc.runtime_current_state(instances, ws, we),
    "cloudwatch_presence": calc.runtime_cloudwatch_presence(cpu_hourly, ws, we, ids),
}
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
        iv, _ = calc.running_intervals(kept, instances, ws, we)
        h = report.runtime_by_instance({"cloudtrail": calc.hourly_running_fraction(iv, ws, we, ids)})
        err = report.runtime_errors(h, true_h, cases)
        rows.append({"missing_record_rate_frac": rate, "repeat": rep, "estimator": "cloudtrail",
                     "abs_error_frac": err.query("case == 'fleet'")["abs_error_frac"].iloc[0]})
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
best_baseline = fleet.drop(index="cloudtrail")["abs_error_frac"].min()
metrics = {f"runtime_abs_error_{e}_frac": v for e, v in fleet["abs_error_frac"].items()}
metrics |= {f"runtime_net_error_{e}_frac": v for e, v in fleet["net_error_frac"].items()}
metrics |= {f"runtime_abs_error_cloudtrail_{c}_frac": v for c, v in
            errors.query("estimator == 'cloudtrail' and case != 'fleet'").set_index("case")["abs_error_frac"].items()}
metrics |= {f"runtime_abs_error_cloudtrail_missing_{round(r * 100):02d}pct_frac": v for r, v in
            sweep.query("estimator == 'cloudtrail'").set_index("missing_record_rate_frac")["abs_error_frac"].items()}
metrics |= {"runtime_best_baseline_abs_error_frac": best_baseline, "runtime_true_h": float(true_h.sum()),
            "instances_count": len(instances)}
report.write_metrics(out_dir, metrics, {"seed": seed, "n_instances": n_instances, "days": days,
                                        "missing_rates": missing_rates, "n_repeats": n_repeats}, snap)
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
