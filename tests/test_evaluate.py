"""The experiment runner: validation before running, publish/FAILED handling, index, figures."""

import json
from pathlib import Path

import nbformat
import pytest

from finops_lib import evaluate as ev
from finops_lib import report


def _nb(path: Path, body: str):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('snapshot_dir = ""\nout_dir = "."\nx = 1\nfail = False')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


BODY = """
from finops_lib.report import write_metrics
if fail:
    raise ValueError("boom on purpose")
write_metrics(out_dir, {"x_count": x, "double_usd": 2.0 * x}, {"x": x})
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    nbs, exps, res = tmp_path / "notebooks", tmp_path / "experiments", tmp_path / "results"
    nbs.mkdir()
    exps.mkdir()
    _nb(nbs / "01-test-thing.ipynb", BODY)
    (exps / "defaults.yaml").write_text("snapshot: {source: sandbox, world: {seed: 1}}\nparameters: {x: 2}\n")
    (exps / "good.yaml").write_text("notebook: 01-test-thing\nheadline: [double_usd]\n")
    (exps / "big.yaml").write_text("notebook: 01-test-thing\nthesis: true\nparameters: {x: 100}\n")
    monkeypatch.setattr(ev, "ensure_snapshot", lambda exp, results_dir, progress=False: tmp_path / "snap")
    return {"notebooks_dir": nbs, "experiments_dir": exps, "results_dir": res, "progress": False}


def test_defaults_merge_and_thesis_selection(project):
    exps = ev.load_experiments(project["experiments_dir"])
    assert exps["good"].parameters == {"x": 2} and exps["big"].parameters == {"x": 100}
    assert exps["good"].snapshot_key == exps["big"].snapshot_key  # same snapshot spec -> collected once
    assert [e.name for e in ev.select(exps, [], include_thesis=False)] == ["good"]
    assert {e.name for e in ev.select(exps, [], include_thesis=True)} == {"good", "big"}
    with pytest.raises(ev.ExperimentError, match="nope"):
        ev.select(exps, ["nope"], False)


def test_undeclared_parameter_is_an_error_before_anything_runs(project):
    (project["experiments_dir"] / "bad.yaml").write_text("notebook: 01-test-thing\nparameters: {n_drawz: 5}\n")
    with pytest.raises(ev.ExperimentError, match=r"n_drawz.*01-test-thing"):
        ev.evaluate(["good", "bad"], **project)
    assert not project["results_dir"].exists()  # nothing ran, not even 'good'


def test_success_then_failure_keeps_good_result_and_names_cell(project, capsys):
    assert ev.evaluate(["good"], **project) == 0
    res = project["results_dir"]
    doc = report.read_metrics(res / "good")
    assert doc["metrics"] == {"double_usd": 4.0, "x_count": 2}
    index = (res / "index.md").read_text()
    assert "`double_usd` = 4" in index and "[metrics](good/metrics.json)" in index

    (project["experiments_dir"] / "good.yaml").write_text("notebook: 01-test-thing\nparameters: {fail: true}\n")
    assert ev.evaluate(["good"], **project) == 1
    err = capsys.readouterr().err
    assert "01-test-thing.ipynb failed in cell" in err and "boom on purpose" in err
    assert (res / "good.FAILED" / "01-test-thing.ipynb").exists()
    assert report.read_metrics(res / "good")["metrics"]["double_usd"] == 4.0  # earlier good result intact
    assert not (res / "good.partial").exists()
    assert "FAILED" in (res / "index.md").read_text()


def test_collect_figures_flat_and_skips_failed(tmp_path):
    for d in ("a/figures", "b.FAILED/figures"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "f.pdf").write_text("x")
    out = ev.collect_figures(tmp_path / "flat", tmp_path)
    assert [p.name for p in out] == ["a--f.pdf"]


def test_write_metrics_requires_unit_suffix_and_writes_nan_as_null(tmp_path):
    with pytest.raises(ValueError, match="'energy'"):
        report.write_metrics(tmp_path, {"energy": 1.0}, {})
    report.write_metrics(tmp_path, {"co2_kg": float("nan"), "n_instances_count": 3}, {"seed": 1})
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert doc["metrics"] == {"co2_kg": None, "n_instances_count": 3}
    assert doc["parameters"] == {"seed": 1} and len(doc["git_commit"] or "x" * 40) == 40


def test_write_table_csv_and_latex(tmp_path):
    import pandas as pd

    paths = report.write_table(pd.DataFrame({"cost_eur": [1.23456]}, index=["base"]), "t1", tmp_path)
    assert paths[0].read_text().splitlines()[1] == "base,1.23456"
    assert "1.235" in paths[1].read_text() and "tab:t1" in paths[1].read_text()


def test_notebook_parameters_keeps_plain_values_only():
    import math

    ns = {"seed": 42, "out_dir": "x", "rates": [0.1], "In": [""], "Out": {}, "_": None, "get_ipython": print,
          "math": math, "f": len}
    assert report.notebook_parameters(ns) == {"seed": 42, "out_dir": "x", "rates": [0.1]}
