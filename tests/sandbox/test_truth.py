"""The sandbox's truth shares nothing with the estimators, and behaves like hardware."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import finops_lib
from finops_lib.sandbox import truth as T
from finops_lib.sandbox.world import build_world

PKG = Path(finops_lib.__file__).parent


def _module_file(mod: str) -> Path | None:
    parts = mod.split(".")[1:]
    if not parts:
        return PKG / "__init__.py"
    rel = Path(*parts)
    for cand in (PKG / rel.with_suffix(".py"), PKG / rel / "__init__.py"):
        if cand.exists():
            return cand
    return None


def _imports(path: Path, mod: str) -> set[str]:
    """finops_lib modules imported by a file (absolute and relative, at any level of the file)."""
    out = set()
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            subs = {f"{base}.{a.name}" for a in node.names if _module_file(f"{base}.{a.name}") is not None}
            out |= subs if len(subs) == len(node.names) else subs | {base}  # ``from pkg import module``
    return {m for m in out if m.startswith("finops_lib") and _module_file(m) is not None}


def import_closure(mod: str) -> set[str]:
    """Transitive finops_lib imports of ``mod``'s own import statements.

    Parent packages' ``__init__`` are not followed: ``finops_lib.sandbox``
    re-exports the world for convenience, but the truth's code cannot reach
    anything through it without importing it by name.
    """
    seen, todo = set(), [mod]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        f = _module_file(m)
        if f is not None:
            todo += sorted(_imports(f, m))
    return seen


def _names_used(mod: str) -> set[str]:
    tree = ast.parse(_module_file(mod).read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    return names


def test_import_graph_helper_sees_known_edges():
    """The helper itself can fail: it finds calc.power's import of factors and uncertainty's of scenarios."""
    assert "finops_lib.factors" in import_closure("finops_lib.calc.power")
    assert "finops_lib.calc.scenarios" in import_closure("finops_lib.calc.uncertainty")
    assert "UNCERTAINTY_PRIORS" in _names_used("finops_lib.calc.uncertainty")


def test_truth_imports_no_estimator_code_and_no_priors():
    closure = import_closure("finops_lib.sandbox.truth")
    assert closure <= {"finops_lib", "finops_lib.sandbox", "finops_lib.sandbox.truth", "finops_lib.constants"}, closure
    assert not any(m.startswith("finops_lib.calc") for m in closure), closure
    assert "finops_lib.factors" not in closure, "the truth must not see the estimators' factors or priors"


def test_world_uses_no_estimator_code_and_no_priors():
    closure = import_closure("finops_lib.sandbox.world")
    assert not any(m.startswith("finops_lib.calc") for m in closure), sorted(closure)
    for m in closure - {"finops_lib.factors"}:
        assert "UNCERTAINTY_PRIORS" not in _names_used(m), m


def test_host_curve_interpolates_the_specpower_points():
    c = T.HOST_CURVES["skylake"]
    assert_allclose(T.host_power_w("skylake", [0.0, 0.05, 1.0]),
                    [c["frac"][0] * c["full_w"], 0.5 * (c["frac"][0] + c["frac"][1]) * c["full_w"], c["full_w"]])
    for fam, cv in T.HOST_CURVES.items():
        assert np.all(np.diff(cv["frac"]) > 0) and cv["frac"][-1] == 1.0, fam


def test_instance_power_hand_computed():
    p = T.TruthParams(pue_annual=1.3, memory_w_per_gib=0.3, storage_w_per_tb=4.0,
                      family_level={f: 1.0 for f in T.HOST_CURVES} | {"skylake": 1.1})  # fmt: skip
    got = T.instance_power_w("m5.large", 2, 8, 100, 0.5, offset=0.9, params=p)
    want = 0.9 * 1.1 * 2 / 96 * 0.59 * 390 + 8 * 0.3 + 0.1 * 4.0
    assert_allclose(got, want)
    with pytest.raises(KeyError, match="x9"):
        T.processor_family("x9.large")


def test_pue_is_seasonal_around_the_annual_value():
    hours = pd.date_range("2025-01-01", "2026-01-01", freq="h", inclusive="left", tz="UTC")
    pue = pd.Series(T.pue_hourly(hours, 1.34), index=hours)
    assert_allclose(pue.mean(), 1.34, rtol=2e-3)
    assert pue["2025-07"].mean() > pue["2025-01"].mean() * 1.04


def test_served_intensity_flags_estimated_hours_and_errs_more_there():
    hours = pd.date_range("2026-01-01", periods=24 * 200, freq="h", tz="UTC")
    true = pd.Series(300.0, index=hours)
    served, est = T.served_intensity(true, hours[-1] + pd.Timedelta(hours=1), np.random.default_rng(0))
    assert est.iloc[-T.RECENT_ESTIMATED_H:].all() and est.mean() < 0.2
    err = np.log(served / true)
    assert err[est].std() > 2 * err[~est].std()
    assert_allclose(err[~est].std(), T.MEASURED_ERROR_LOG_SD, rtol=0.3)


def test_true_to_estimated_energy_ratio_varies_like_hardware():
    """Per instance-hour, truth / a fixed-curve estimate is not a constant (issue 9 measured CV 0.06 % before)."""
    w = build_world({"n_instances": 20, "days": 5})
    e_true = w.truth_it_energy_kwh
    u = np.nan_to_num(w.truth_cpu_hourly)
    # a simple linear estimate on the hourly mean (same for every instance of a type)
    vcpu = w.instances["vcpu"].to_numpy()[:, None]
    est = vcpu * (0.7 + 3.3 * u) * w.running_frac_hourly / 1000
    on = w.running_frac_hourly > 0.99
    r = e_true[on] / est[on]
    cv_hours = np.std(r) / np.mean(r)
    per_inst = pd.Series(r).groupby(np.nonzero(on)[0]).mean()
    assert cv_hours > 0.05
    assert per_inst.std() / per_inst.mean() > 0.03
