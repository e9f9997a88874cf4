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


def test_collect_figures_flat_and_skips_failed_and_unpublished(tmp_path):
    from finops_lib import storage

    for d in ("a/figures", "b.FAILED/figures", "c/figures"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "f.pdf").write_text("x")
    storage.write_result_marker(tmp_path / "a", "a")  # c has neither marker nor metrics.json: not a result
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


# --------------------------------------------------------------------------- #
# Snapshot specs: validated before anything runs; one failure does not abort the run
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("snapshot", "match"),
    [
        ("{source: sandbox, world: {n_instances: -5}}", r"'bad'.*n_instances=-5"),
        ("{source: sandbox, world: {n_instancez: 5}}", r"'bad'.*n_instancez"),
        ("{source: path}", r"'bad'.*needs snapshot.path"),
        ("{source: path, path: /nonexistent/snap}", r"'bad'.*/nonexistent/snap"),
        ("{source: aws, collect: {region: eu-central-1}}", r"'bad'.*window_start"),
        ("{source: aws, collect: {region: r, window_start: a, window_end: b, regionz: x}}", r"'bad'.*regionz"),
    ],
)
def test_bad_snapshot_spec_is_an_error_before_anything_runs(project, snapshot, match):
    (project["experiments_dir"] / "bad.yaml").write_text(f"notebook: 01-test-thing\nsnapshot: {snapshot}\n")
    with pytest.raises(ev.ExperimentError, match=match):
        ev.evaluate(["good", "bad"], **project)
    assert not project["results_dir"].exists()  # nothing ran, not even 'good'


@pytest.mark.parametrize(
    "secret",
    [
        "{source: aws, collect: {region: r, window_start: a, window_end: b, electricitymaps_api_key: abc}}",
        "{source: aws, aws_secret_access_key: abc, collect: {region: r, window_start: a, window_end: b}}",
        "{source: aws, collect: {region: r, window_start: a, window_end: b, watttime_credentials: [u, p]}}",
        "{source: aws, session_token: abc, collect: {region: r, window_start: a, window_end: b}}",
        "{source: sandbox, world: {seed: 1}, password: abc}",
    ],
)
def test_secret_looking_keys_in_the_snapshot_spec_are_rejected(project, secret):
    (project["experiments_dir"] / "bad.yaml").write_text(f"notebook: 01-test-thing\nsnapshot: {secret}\n")
    with pytest.raises(ev.ExperimentError, match="secret-looking key"):
        ev.evaluate(["bad"], **project)


@pytest.mark.parametrize("exc", [ValueError("world says no"), KeyError("path"), OSError("disk full")])
def test_snapshot_failure_of_one_experiment_marks_it_failed_and_the_others_run(project, monkeypatch, capsys, exc):
    exps = project["experiments_dir"]
    (exps / "other.yaml").write_text("notebook: 01-test-thing\nsnapshot: {world: {seed: 2}}\n")
    (exps / "other2.yaml").write_text("notebook: 01-test-thing\nsnapshot: {world: {seed: 2}}\n")
    calls = []

    def fake_ensure(exp, results_dir, progress=False):
        calls.append(exp.name)
        if exp.snapshot["world"]["seed"] == 2:
            raise exc
        return project["results_dir"].parent / "snap"

    monkeypatch.setattr(ev, "ensure_snapshot", fake_ensure)
    assert ev.evaluate(["other", "other2", "good"], **project) == 1
    res = project["results_dir"]
    assert report.read_metrics(res / "good")["metrics"]["double_usd"] == 4.0  # ran after the failures
    assert calls == ["other", "good"]  # the failing snapshot is not collected twice
    for name in ("other", "other2"):
        assert repr(exc) in (res / f"{name}.FAILED" / "error.txt").read_text()
    index = (res / "index.md").read_text()
    assert "| other | 01-test-thing | -- | **FAILED**" in index and "`double_usd` = 4" in index
    assert "FAILED: experiment 'other'" in capsys.readouterr().err


def test_index_is_written_even_when_the_run_is_interrupted(project, monkeypatch):
    def interrupted(exp, results_dir, progress=False):
        raise KeyboardInterrupt

    monkeypatch.setattr(ev, "ensure_snapshot", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ev.evaluate(["good"], **project)
    assert "| good | 01-test-thing | -- | not run |" in (project["results_dir"] / "index.md").read_text()


def test_publish_failure_keeps_the_earlier_good_result(project, monkeypatch):
    from finops_lib import storage

    assert ev.evaluate(["good"], **project) == 0
    res = project["results_dir"]

    def refuse(a, b):
        raise OSError("exchange refused")

    monkeypatch.setattr(storage, "_exchange", refuse)
    (project["experiments_dir"] / "good.yaml").write_text("notebook: 01-test-thing\nparameters: {x: 5}\n")
    assert ev.evaluate(["good"], **project) == 1
    assert report.read_metrics(res / "good")["metrics"]["double_usd"] == 4.0  # old result still in place
    assert not list(res.glob(".good.old*"))


# --------------------------------------------------------------------------- #
# source: aws -- a boto3 session from the profile; API keys from the environment only
# --------------------------------------------------------------------------- #
def test_aws_source_builds_a_session_from_the_profile_and_keeps_keys_out_of_the_spec(tmp_path, monkeypatch):
    import finops_lib.collect

    cfg = tmp_path / "aws_config"
    cfg.write_text("[profile readonly]\nregion = us-east-1\n")
    creds = tmp_path / "aws_credentials"
    creds.write_text("[readonly]\naws_access_key_id = AKIAPROFILEKEY\naws_secret_access_key = profilesecret\n")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(cfg))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("ELECTRICITYMAPS_API_KEY", "em-key-from-env")
    monkeypatch.setenv("WATTTIME_USERNAME", "wt-user")
    monkeypatch.setenv("WATTTIME_PASSWORD", "wt-password-from-env")
    seen = {}

    def fake_collect(session, **kwargs):
        seen.update(kwargs, session=session)
        return kwargs["out_dir"]

    monkeypatch.setattr(finops_lib.collect, "collect_snapshot", fake_collect)
    spec = {"source": "aws", "profile": "readonly",
            "collect": {"region": "eu-central-1", "window_start": "2026-01-01", "window_end": "2026-01-02"}}
    target = ev._ensure_spec(spec, "abc", tmp_path / "results", progress=False)
    session = seen["session"]
    assert session.profile_name == "readonly" and session.region_name == "eu-central-1"
    assert session.get_credentials().access_key == "AKIAPROFILEKEY"
    assert seen["region"] == "eu-central-1" and seen["out_dir"] == target == (tmp_path / "results/snapshots/abc").resolve()
    assert seen["electricitymaps_api_key"] == "em-key-from-env"
    assert seen["watttime_credentials"] == ("wt-user", "wt-password-from-env")
    written = (tmp_path / "results/snapshots/abc.spec.json").read_text()
    assert json.loads(written) == spec
    assert "from-env" not in written and "profilesecret" not in written

    spec["profile"] = "no-such-profile"
    with pytest.raises(ev.ExperimentError, match="no-such-profile"):
        ev._ensure_spec(spec, "abd", tmp_path / "results", progress=False)


# --------------------------------------------------------------------------- #
# report writers: standard JSON, normal file permissions
# --------------------------------------------------------------------------- #
def test_write_metrics_writes_inf_as_null_listed_under_non_finite(tmp_path):
    report.write_metrics(tmp_path, {"ratio_frac": float("inf"), "drop_usd": float("-inf"), "co2_kg": float("nan"),
                                    "n_count": 1}, {"deadline_h": float("inf")})
    text = (tmp_path / "metrics.json").read_text()
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert doc["metrics"] == {"ratio_frac": None, "drop_usd": None, "co2_kg": None, "n_count": 1}
    assert doc["non_finite"] == {"ratio_frac": "inf", "drop_usd": "-inf"}  # NaN is a gap, not listed
    assert doc["parameters"] == {"deadline_h": "inf"}


def test_atomic_write_text_gives_normal_permissions(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        p = report.atomic_write_text(tmp_path / "a.txt", "x")
        assert stat.S_IMODE(p.stat().st_mode) == 0o644
        os.umask(0o077)
        p = report.atomic_write_text(tmp_path / "b.txt", "x")
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    finally:
        os.umask(old)
