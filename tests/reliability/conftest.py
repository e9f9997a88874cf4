"""Small worlds for the reliability suite (issue 10): a tiny snapshot, a tiny notebook, CLI subprocesses.

Every test reproduces one numbered failure of issue 10 and proves its fix; the
module names carry the item number. Runs that start kernels or servers are
marked ``slow``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from finops_lib import schema
from finops_lib.snapshot import write_snapshot

ROOT = Path(__file__).resolve().parents[2]

MANIFEST = {"source": "sandbox", "region": "eu-central-1", "zone": "DE",
            "window_start": "2026-11-01T00:00:00Z", "window_end": "2026-11-02T00:00:00Z"}

NOTEBOOK_PARAMS = 'snapshot_dir = ""\nout_dir = "."\nn_instances = 12\ndays = 7\nsleep_s = 0.0\nfail = False'
NOTEBOOK_BODY = textwrap.dedent("""
    from finops_lib import report

    PARAMETERS = report.notebook_parameters(globals())
    import pathlib
    import time

    from finops_lib.evaluate import open_snapshot

    snap = open_snapshot(snapshot_dir)
    time.sleep(sleep_s)
    if fail:
        raise ValueError("boom on purpose")
    figs = pathlib.Path(out_dir) / "figures"
    figs.mkdir(exist_ok=True)
    (figs / "f.pdf").write_bytes(b"%PDF-1.4 tiny")
    report.write_metrics(out_dir, {"instances_count": len(snap["instances"])}, PARAMETERS, snap)
""")


def tiny_tables(n_instances: int = 2) -> dict[str, pd.DataFrame]:
    t = {name: schema.empty_table(name) for name in schema.TABLES}
    t["instances"] = pd.DataFrame({
        "instance_id": [f"i-{k}" for k in range(n_instances)], "instance_type": "m5.large",
        "region": "eu-central-1", "az": "eu-central-1a", "platform": "linux", "lifecycle": "on-demand",
        "launch_time": pd.Timestamp("2026-10-01T08:00Z"), "state": "running", "tags": "{}", "vcpu": 2,
        "memory_gib": 8.0,
    })
    return t


def tiny_snapshot(path: Path, n_instances: int = 2, **manifest) -> Path:
    """A valid (simulated) snapshot with ``n_instances`` instances and empty other tables."""
    return write_snapshot(tiny_tables(n_instances), {**MANIFEST, **manifest}, path)


def tiny_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(NOTEBOOK_PARAMS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(NOTEBOOK_BODY)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def project(tmp_path):
    """notebooks/ with the tiny notebook, experiments/ with ``tiny`` (path snapshot), results/ (absent)."""
    nbs, exps, res = tmp_path / "notebooks", tmp_path / "experiments", tmp_path / "results"
    tiny_notebook(nbs / "01-tiny.ipynb")
    snap = tiny_snapshot(tmp_path / "snap")
    exps.mkdir()
    (exps / "defaults.yaml").write_text(f"snapshot: {{source: path, path: {snap}}}\n")
    (exps / "tiny.yaml").write_text("notebook: 01-tiny\nheadline: [instances_count]\n")
    return {"root": tmp_path, "notebooks": nbs, "experiments": exps, "results": res, "snapshot": snap}


def finops(*args, env: dict | None = None) -> subprocess.Popen:
    """Start ``finops ARGS`` as a separate process (stdout/stderr captured as text)."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "finops_lib.cli", *map(str, args)], cwd=ROOT, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def evaluate_args(project, *extra, results=None) -> list:
    return ["evaluate", "tiny", "--experiments", project["experiments"], "--notebooks", project["notebooks"],
            "--results", results or project["results"], "--no-progress", *extra]


def assert_complete_result(folder: Path, n_instances: int = 2) -> None:
    """A published result: marker listing every file, metrics, executed notebook, figure; nothing half-written."""
    import json

    from finops_lib import storage

    marker = json.loads((folder / storage.RESULT_MARKER).read_text())
    assert sorted(marker["files"]) == storage.list_files(folder)
    doc = json.loads((folder / "metrics.json").read_text())
    assert doc["metrics"] == {"instances_count": n_instances}
    assert (folder / "01-tiny.ipynb").stat().st_size > 0
    assert (folder / "figures" / "f.pdf").read_bytes() == b"%PDF-1.4 tiny"


def leftovers(folder: Path) -> list[str]:
    """The tool's temporary folders (partial runs, old copies, temp snapshots) left in ``folder``."""
    return sorted(p.name for p in folder.iterdir()
                  if p.name.endswith(".partial") or any(t in p.name for t in (".old-", ".tmp-", ".raw-")))


@pytest.fixture
def responder():
    from finops_lib.collect import fakes

    with fakes.LocalResponder() as r:
        yield r
