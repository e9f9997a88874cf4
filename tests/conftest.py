"""Shared fixtures. Subfolders add their own in their own conftest.py."""

from __future__ import annotations

import pytest

#: The small world every notebook test reads (the notebooks' own defaults).
SMALL_WORLD = {"seed": 42, "n_instances": 12, "days": 7}


@pytest.fixture(scope="session")
def small_sandbox_snapshot(tmp_path_factory):
    """A small simulated snapshot (12 instances, 7 days), collected once per session (~15 s)."""
    from finops_lib.sandbox import collect_sandbox_snapshot

    out = tmp_path_factory.mktemp("snapshots") / "small"
    return collect_sandbox_snapshot(out, dict(SMALL_WORLD), progress=False)
