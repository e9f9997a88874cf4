"""``finops collect``: argument handling and delegation to the sandbox."""

import argparse
from pathlib import Path

import pytest

from finops_lib import sandbox
from finops_lib.collect import cli


def _parse(argv):
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["collect", *argv])


def test_sandbox_source_delegates_with_world_options(monkeypatch, tmp_path, capsys):
    seen = {}

    def fake(out_dir, **kwargs):
        seen.update(out_dir=out_dir, **kwargs)
        raise ValueError("stop here")

    monkeypatch.setattr(sandbox, "collect_sandbox_snapshot", fake)
    args = _parse(["--source", "sandbox", "--days", "7", "--seed", "3", "--instances", "25", "--out",
                   str(tmp_path / "s"), "--no-cache", "--no-progress"])
    assert args.func(args) == 1
    assert seen == {"out_dir": tmp_path / "s", "days": 7, "region": "eu-central-1", "seed": 3, "n_instances": 25,
                    "intensity_source": "electricitymaps", "progress": False}
    assert "collect failed: stop here" in capsys.readouterr().err


def test_days_must_be_positive(tmp_path, capsys):
    args = _parse(["--days", "0", "--out", str(tmp_path)])
    assert args.func(args) == 2 and "--days" in capsys.readouterr().err


def test_bad_source_rejected():
    with pytest.raises(SystemExit):
        _parse(["--source", "azure", "--out", "x"])


def test_defaults():
    args = _parse(["--out", "snap"])
    assert (args.source, args.region, args.days, args.out) == ("sandbox", "eu-central-1", 30, Path("snap"))


@pytest.mark.parametrize("argv, named", [
    (["--profile", "prod"], "--profile prod"),
    (["--intensity-source", "none"], "--intensity-source none"),
    (["--intensity-source", "electricitymaps-csv", "--electricitymaps-csv", "em.csv"], "--electricitymaps-csv em.csv"),
    (["--power-source", "none"], "--power-source none"),
])
def test_sandbox_rejects_options_it_cannot_honour(monkeypatch, tmp_path, capsys, argv, named):
    monkeypatch.setattr(sandbox, "collect_sandbox_snapshot", lambda **kw: pytest.fail("must not collect"))
    args = _parse(["--source", "sandbox", "--out", str(tmp_path / "s"), *argv])
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "--source sandbox does not support" in err and named in err


def test_sandbox_passes_zone_through(monkeypatch, tmp_path):
    seen = {}

    def fake(out_dir, **kwargs):
        seen.update(kwargs)
        raise ValueError("stop here")

    monkeypatch.setattr(sandbox, "collect_sandbox_snapshot", fake)
    args = _parse(["--source", "sandbox", "--zone", "DE", "--intensity-source", "watttime", "--out", str(tmp_path)])
    assert args.func(args) == 1 and seen["zone"] == "DE" and seen["intensity_source"] == "watttime"
    # a zone the world does not support is bad input, found before collecting (exit 2, issue 10 item 9)
    seen.clear()
    args = _parse(["--source", "sandbox", "--zone", "FR", "--out", str(tmp_path)])
    assert args.func(args) == 2 and seen == {}


def test_aws_window_longer_than_cloudtrail_history_is_rejected(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "_collect_aws", lambda args: pytest.fail("must not collect"))
    args = _parse(["--source", "aws", "--days", "91", "--out", str(tmp_path / "s")])
    assert args.func(args) == 2 and "90-day" in capsys.readouterr().err
