"""Execute every notebook with its defaults (papermill) on a small sandbox snapshot; check headlines.

Complements ``pytest --nbval-lax notebooks/`` (which only checks that every
cell runs): here the headline numbers in ``metrics.json`` must make sense.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

pytestmark = pytest.mark.slow


def _run(name: str, snapshot_dir: Path, out_dir: Path) -> dict:
    import papermill

    out_dir.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(out_dir / f"{name}.ipynb"),
        parameters={"snapshot_dir": str(snapshot_dir), "out_dir": str(out_dir)},
        cwd=str(out_dir),
        progress_bar=False,
        kernel_name="python3",
    )
    return json.loads((out_dir / "metrics.json").read_text())


def test_notebooks_are_committed_sources():
    """The .ipynb files are the source (no generator): valid nbformat, stable unique cell ids,
    and exactly what the nbstripout git filter would commit (no outputs, no execution counts)."""
    import subprocess
    import sys

    import nbformat

    assert not list(NOTEBOOKS.glob("*.py")), "notebooks are edited as .ipynb; no generator scripts"
    nbstripout = Path(sys.executable).with_name("nbstripout")
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
        ids = [c.get("id") for c in nb.cells]
        assert all(ids) and len(set(ids)) == len(ids), f"{path.name}: cell ids missing or repeated"
        stripped = subprocess.run([str(nbstripout), "--keep-id", "-t", str(path)], check=True,
                                  capture_output=True, text=True).stdout
        assert stripped == path.read_text(), f"{path.name} is not stripped: run `git add` (nbstripout filter)"


def test_notebooks_are_clean_and_parameterised():
    import nbformat
    import papermill

    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "parameters" in code[0].metadata.get("tags", []), path.name
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), f"{path.name} has outputs"
        assert not any("def " in c.source or "class " in c.source for c in code), f"{path.name} defines functions"
        assert {"snapshot_dir", "out_dir", "seed"} <= set(papermill.inspect_notebook(str(path))), path.name


def test_runtime_notebook_cloudtrail_beats_naive_estimators(small_sandbox_snapshot, tmp_path):
    doc = _run("01-evaluate-runtime", small_sandbox_snapshot, tmp_path)
    m = doc["metrics"]
    assert doc["is_simulated"] is True and doc["snapshot_id"]
    assert m["runtime_abs_error_cloudtrail_frac"] < m["runtime_abs_error_always_on_frac"]
    assert m["runtime_abs_error_cloudtrail_frac"] < m["runtime_abs_error_current_state_frac"]
    assert m["runtime_abs_error_cloudtrail_frac"] < m["runtime_abs_error_launch_time_frac"]
    # CloudWatch datapoints locate the stops CloudTrail misses: better than events alone and than presence
    assert m["runtime_abs_error_cloudtrail_cloudwatch_frac"] <= m["runtime_abs_error_cloudtrail_frac"]
    assert m["runtime_abs_error_cloudtrail_cloudwatch_frac"] < m["runtime_abs_error_cloudwatch_presence_frac"]
    assert (m["runtime_abs_error_cloudtrail_cloudwatch_missing_40pct_frac"]
            < m["runtime_abs_error_cloudtrail_missing_40pct_frac"])
    # dropping 40 % of the records must hurt
    assert m["runtime_abs_error_cloudtrail_missing_40pct_frac"] > m["runtime_abs_error_cloudtrail_missing_00pct_frac"]
    assert (tmp_path / "figures" / "runtime_error_by_case.pdf").exists()
    # its HTML export (offline template): every figure carries a description
    import re

    from finops_lib.report import export_html

    page = export_html(tmp_path / "01-evaluate-runtime.ipynb", tmp_path / "01.html").read_text()
    imgs = re.findall(r"<img[^>]*>", page)
    assert len(imgs) == 2 and all('alt="Figure. SIMULATED' in i for i in imgs)


def test_cost_notebook_gap_adds_up(small_sandbox_snapshot, tmp_path):
    m = _run("02-evaluate-cost", small_sandbox_snapshot, tmp_path)["metrics"]
    parts = sum(m[f"gap_{c}_usd"] for c in ("compute", "ebs", "data_transfer", "other", "unknown"))
    assert parts == pytest.approx(m["gap_total_usd"], rel=1e-9)
    assert m["billed_total_usd"] - m["calculated_compute_usd"] == pytest.approx(m["gap_total_usd"], rel=1e-9)
    assert 0.5 < m["validation_factor_ratio"] < 2.0
    assert (tmp_path / "tables" / "cost_gap_decomposition.tex").exists()


def test_scenarios_notebook_intervals_and_savings(small_sandbox_snapshot, tmp_path):
    m = _run("03-simulate-scenarios", small_sandbox_snapshot, tmp_path)["metrics"]
    for k in ("baseline", "office_hours", "combined"):
        assert m[f"{k}_co2_q05_kg"] < m[f"{k}_co2_q50_kg"] < m[f"{k}_co2_q95_kg"]
    # office hours only stops instances: it never costs more, and combined saves at least as much cost
    assert m["office_hours_saving_cost_q50_frac"] >= 0
    assert m["combined_saving_cost_q50_frac"] >= m["office_hours_saving_cost_q50_frac"] - 1e-12
    # decided on the forecast issued before release (not the realised series): a move can turn out slightly
    # worse, never much; delay-only: no job starts earlier than it did
    assert m["carbon_aware_shift_saving_co2_q50_frac"] > -0.01
    assert m["median_job_shift_h"] >= 0
    assert m["co2_pue_region_kg"] / m["co2_pue_ccf_kg"] == pytest.approx(1.35 / 1.135)
    assert 0 < m["embodied_share_frac"] < 1
    assert sum(v for k, v in m.items() if k.startswith("sobol_total_co2_")) > 0.9
    # power models side by side on the same fleet (issue 8): every type priced by every model, no gaps
    assert m["power_model_types_with_gap_count"] == 0 and m["embodied_types_without_value_count"] == 0
    assert m["power_model_spread_max_frac"] > 0
    assert m["power_model_fleet_energy_ccf_kwh"] > 0 and m["power_model_fleet_energy_boavizta_kwh"] > 0

# notebook 04 (the fleet report) runs in tests/test_fleet_report.py, with the browser test


def test_start_here_notebook_shows_each_table_and_call(small_sandbox_snapshot, tmp_path):
    import nbformat
    import papermill

    out = tmp_path / "00-start-here.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS / "00-start-here.ipynb"), str(out),
                               parameters={"snapshot_dir": str(small_sandbox_snapshot), "out_dir": str(tmp_path)},
                               cwd=str(tmp_path), progress_bar=False, kernel_name="python3")
    nb = nbformat.read(str(out), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    # code = parameters, papermill's injected parameters, imports, then calls: every call shows its output
    assert all(c.outputs for c in code[3:]) and not any(c.outputs for c in code[:3])
    text = "\n".join(o.get("data", {}).get("text/plain", "") for c in code for o in c.outputs)
    for table in ("instances", "state_events", "cpu_hourly", "prices", "costs", "intensity_hourly", "power_profiles",
                  "truth_hourly"):
        assert table in text, table
    assert "hour_aligned_co2_g" in text and "boavizta" in text
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1 and "Simulated data" in images[0]["metadata"]["image/png"]["alt"]


def test_scheduler_notebook_replay_vs_simulation_and_live_apply(small_sandbox_snapshot, tmp_path):
    doc = _run("05-evaluate-scheduler", small_sandbox_snapshot, tmp_path)
    m = doc["metrics"]
    assert doc["is_simulated"] is True
    # office hours only stop instances: the enacted schedule saves cost, and the scenario predicts it closely
    assert m["office_hours_achieved_persistence_saving_cost_frac"] > 0.2
    # the prediction error is a result (reported, not asserted to be small); it is predicted - achieved
    assert m["office_hours_error_persistence_cost_frac"] == pytest.approx(
        m["office_hours_predicted_saving_cost_frac"] - m["office_hours_achieved_persistence_saving_cost_frac"])
    assert abs(m["office_hours_error_persistence_cost_frac"]) < 0.5  # same sign and order: the replay is not broken
    # the never-scheduled group is untouched, in prediction and in enactment
    assert m["always_on_achieved_persistence_saving_cost_frac"] == 0 == m["always_on_predicted_saving_cost_frac"]
    # a perfect forecast never does worse on CO2e for deadline work than the persistence forecast
    assert m["nightly_achieved_oracle_saving_co2_frac"] >= m["nightly_achieved_persistence_saving_co2_frac"] - 1e-9
    assert m["fleet_persistence_truth_cost_eur"] > m["fleet_persistence_scheduled_cost_eur"] > 0
    # live on the sandbox's moto: the dry run writes nothing, the second apply makes no EC2 call,
    # the starts and stops appear as CloudWatch metrics
    assert m["live_dry_run_write_calls_count"] == 0 and m["live_second_apply_ec2_writes_count"] == 0
    assert m["live_apply_starts_count"] > 0 and m["live_metric_startups_count"] == m["live_apply_starts_count"]
    assert m["live_metric_shutdowns_count"] == m["live_evening_stops_count"] > 0
    assert m["live_metric_names_count"] == 4
    assert (tmp_path / "figures" / "scheduler_vs_simulation.pdf").exists()
