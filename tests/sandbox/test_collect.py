"""collect_sandbox_snapshot end to end; servers never outlive the command; the CLI."""

from __future__ import annotations

import argparse
import io
import signal
import socket
import threading
from contextlib import redirect_stdout
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from finops_lib.collect.errors import CollectError
from finops_lib.sandbox import cli as sandbox_cli
from finops_lib.sandbox import collect_sandbox_snapshot, servers
from finops_lib.sandbox.world import build_world
from finops_lib.snapshot import read_snapshot

pytestmark = pytest.mark.slow

SMALL = {"n_instances": 8, "days": 5, "seed": 11, "terminated_launch_within_retention": False}


def _closed(url: str) -> bool:
    u = urlparse(url)
    try:
        with socket.create_connection((u.hostname, u.port), timeout=1):
            return False
    except OSError:
        return True


def test_same_seed_gives_byte_identical_snapshot_tables(tmp_path):
    a = read_snapshot(collect_sandbox_snapshot(tmp_path / "a", SMALL, progress=False))
    b = read_snapshot(collect_sandbox_snapshot(tmp_path / "b", SMALL, progress=False))
    sha = {k: v["sha256"] for k, v in a.manifest["tables"].items()}
    assert sha == {k: v["sha256"] for k, v in b.manifest["tables"].items()}
    assert a.snapshot_id == b.snapshot_id
    for name in a.manifest["tables"]:
        assert (tmp_path / "a" / f"{name}.parquet").read_bytes() == (tmp_path / "b" / f"{name}.parquet").read_bytes()
    m = a.manifest
    assert m["source"] == "sandbox" and m["simulated"] is True and m["seed"] == 11
    assert m["world_config"]["n_instances"] == 8 and m["truth_power_model"] == "specpower"
    assert not m["gaps"], m["gaps"]
    # a Spot/production instance terminated in the window is gone from DescribeInstances; its launch was
    # more than 90 days ago, so no RunInstances record can name its type: a reported gap, not a guess
    inst = a["instances"].set_index("instance_id")
    gone = [i for i in inst.index if pd.isna(inst.at[i, "instance_type"])]
    assert gone and (inst.loc[gone, "state"] == "terminated").all()
    assert any("no RunInstances record within CloudTrail's 90 days" in w for w in m["warnings"])
    for name in ("truth_intervals", "truth_billing", "truth_hourly", "truth_intensity", "truth_factors",
                 "truth_cases", "instances", "state_events", "cpu_hourly", "costs", "prices", "power_profiles"):
        assert len(a[name]) > 0, name
    assert (a["intensity_hourly"]["source"] == "sandbox-synthetic").all()
    # truth energy is the truth's own (not the collected BoaviztAPI curve): it differs from it
    th, prof, inst = a["truth_hourly"], a["power_profiles"], a["instances"]
    on = th[th["running_frac"] > 0]
    itype = on["instance_id"].map(inst.set_index("instance_id")["instance_type"])
    on, itype = on[itype.notna()], itype[itype.notna()]  # a vanished instance of unknown type: a gap
    est = np.array([np.interp(u, prof.loc[prof["instance_type"] == t, "load_frac"],
                              prof.loc[prof["instance_type"] == t, "power_w"])
                    for t, u in zip(itype, on["cpu_util_frac"], strict=True)])  # fmt: skip
    ratio = on["energy_kwh"].to_numpy() / (est * on["running_frac"].to_numpy() / 1000)
    assert np.std(ratio) / np.mean(ratio) > 0.02, "truth / estimate must not be a constant"
    assert (a["intensity_hourly"]["is_estimated"]).any(), "recent hours are served as estimates"
    assert th.loc[th["running_frac"] > 0, "energy_kwh"].notna().all()
    # the collected costs reproduce the billing truth
    daily = a["costs"][a["costs"]["granularity"] == "DAILY"]
    compute = daily[daily["usage_type"].str.contains("Usage:")]
    assert_allclose(compute["cost_usd"].sum(), a["truth_billing"]["cost_usd"].sum(), rtol=1e-9)


def test_servers_stop_on_exception():
    world = build_world(SMALL)
    urls = []
    with pytest.raises(RuntimeError, match="boom"), servers.serve(world, boavizta=False) as ep:
        urls = [ep.aws, ep.pricing, ep.electricitymaps, ep.watttime]
        assert not any(_closed(u) for u in urls)
        raise RuntimeError("boom")
    assert urls and all(_closed(u) for u in urls)
    from moto.cloudtrail.responses import CloudTrailResponse

    assert "lookup_events" not in CloudTrailResponse.__dict__ or \
        CloudTrailResponse.__dict__["lookup_events"].__module__.startswith("moto")  # fmt: skip
    assert not servers._ACTIVE


def test_failed_collection_stops_every_server_incl_boavizta(tmp_path, monkeypatch):
    seen = {}

    def failing_collect(session, *, endpoints, **kw):
        seen.update(aws=endpoints.aws, pricing=endpoints.pricing, em=endpoints.electricitymaps,
                    wt=endpoints.watttime, boavizta=endpoints.boavizta)
        raise CollectError("simulated collector failure")

    monkeypatch.setattr("finops_lib.collect.core.collect_snapshot", failing_collect)
    with pytest.raises(CollectError, match="simulated collector failure"):
        collect_sandbox_snapshot(tmp_path / "x", SMALL, progress=False)
    assert seen["boavizta"], "BoaviztAPI should have been started"
    assert all(_closed(u) for u in seen.values())
    assert not (tmp_path / "x").exists()
    assert not servers._ACTIVE


@pytest.mark.parametrize(("bad", "field"), [({"days": 91}, "days"), ({"os_shutdown_rate": -1}, "os_shutdown_rate"),
                                            ({"instance_types": {"batch": ["x9.huge"]}}, "x9.huge")])
def test_bad_config_fails_before_anything_starts(tmp_path, monkeypatch, bad, field):
    def no_serve(*a, **k):
        raise AssertionError("a server was started for a bad configuration")

    monkeypatch.setattr("finops_lib.sandbox.collect.serve", no_serve)
    with pytest.raises(ValueError, match=field):
        collect_sandbox_snapshot(tmp_path / "x", {**SMALL, **bad}, progress=False)


def test_only_one_world_served_per_process():
    world = build_world(SMALL)
    with servers.serve(world, boavizta=False):
        with pytest.raises(RuntimeError, match="already being served"), servers.serve(world, boavizta=False):
            pass
    assert not servers._ACTIVE


def test_cli_serve_prints_endpoints_and_stops():
    args = argparse.Namespace(seed=3, n_instances=4, days=2, config=None, no_boavizta=True,
                              throttle_cloudtrail=False)  # fmt: skip
    stop = threading.Event()
    stop.set()
    out = io.StringIO()
    before = signal.getsignal(signal.SIGINT)
    with redirect_stdout(out):
        assert sandbox_cli.run_serve(args, stop_event=stop) == 0
    assert signal.getsignal(signal.SIGINT) is before
    text = out.getvalue()
    assert "SIMULATED" in text and "AWS_ENDPOINT_URL=http://127.0.0.1:" in text
    aws = text.split("AWS_ENDPOINT_URL=")[1].split()[0]
    assert _closed(aws)


def test_cli_bad_config_is_a_clear_error(capsys):
    args = argparse.Namespace(seed=None, n_instances=None, days=400, config=None, no_boavizta=True,
                              throttle_cloudtrail=False)  # fmt: skip
    assert sandbox_cli.run_serve(args) == 2
    assert "days" in capsys.readouterr().err


def test_cli_is_registered():
    from finops_lib.cli import build_parser

    args = build_parser().parse_args(["sandbox", "serve", "--days", "3", "--no-boavizta"])
    assert args.func is sandbox_cli.run_serve and args.days == 3
