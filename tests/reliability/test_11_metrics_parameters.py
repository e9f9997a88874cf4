"""Item 11: ``metrics.json`` records the parameters in effect, with relative paths.

Before: it recorded notebook defaults that did not apply (``days: 7,
n_instances: 12`` for a 40-instance, 30-day snapshot) and the absolute
``.partial`` path as ``out_dir``.
"""

import json

import pytest

from finops_lib import evaluate, report

from .conftest import tiny_snapshot


def test_notebook_parameters_drop_world_defaults_only_with_a_snapshot():
    ns = {"snapshot_dir": "", "out_dir": ".", "seed": 1, "n_instances": 12, "days": 7, "n_draws": 5}
    assert report.notebook_parameters(ns) == ns  # interactive: the world defaults did apply
    ns["snapshot_dir"] = "../snapshots/abc"
    assert report.notebook_parameters(ns) == {"snapshot_dir": "../snapshots/abc", "out_dir": ".", "seed": 1,
                                              "n_draws": 5}


@pytest.mark.slow
def test_metrics_record_relative_paths_and_the_snapshots_world(project):
    res = project["results"]
    snap = tiny_snapshot(res / "snapshots" / "tiny", n_instances=3, world_config={"n_instances": 3, "days": 1})
    (project["experiments"] / "defaults.yaml").write_text(f"snapshot: {{source: path, path: {snap}}}\n")
    assert evaluate.evaluate(["tiny"], experiments_dir=project["experiments"], notebooks_dir=project["notebooks"],
                             results_dir=res, progress=False) == 0
    doc = json.loads((res / "tiny" / "metrics.json").read_text())
    params = doc["parameters"]
    assert params["out_dir"] == "." and params["snapshot_dir"] == "../snapshots/tiny"
    assert "n_instances" not in params and "days" not in params
    assert doc["world_config"] == {"n_instances": 3, "days": 1} and doc["metrics"]["instances_count"] == 3
    assert str(res) not in (res / "tiny" / "metrics.json").read_text()
