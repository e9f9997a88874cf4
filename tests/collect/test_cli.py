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
