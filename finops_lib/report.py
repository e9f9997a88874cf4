"""Writers for experiment outputs: ``metrics.json``, tables (CSV + LaTeX), HTML report.

The thesis quotes the numbers in ``metrics.json``; it never retypes them.
Every write is atomic (temporary file in the same folder, then rename).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import tempfile
import types
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

#: Accepted unit suffixes of metric keys (names carry units; STYLE.md).
UNIT_SUFFIXES = (
    "_usd", "_eur", "_kg", "_g", "_t", "_kwh", "_wh", "_w", "_h", "_s", "_frac", "_pct",
    "_g_per_kwh", "_usd_per_h", "_count", "_n", "_mb", "_ratio",
)  # fmt: skip
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp creates 0600; results are ordinary files
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def git_commit(repo_dir=None) -> str | None:
    """Current git commit of the project (None outside a git checkout)."""
    repo_dir = Path(repo_dir) if repo_dir else Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "-C", str(repo_dir), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def check_metric_key(key: str) -> None:
    """Raise ValueError unless ``key`` is snake_case and ends with a unit suffix."""
    if not _KEY_RE.match(key) or not key.endswith(UNIT_SUFFIXES):
        raise ValueError(f"metric key {key!r} must be snake_case and end with a unit suffix, one of {UNIT_SUFFIXES}")


def _clean_value(key: str, value):
    if isinstance(value, bool) or value is None:
        return value
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"metric {key!r} must be a number, got {value!r}") from None
    return None if not math.isfinite(v) else (int(v) if isinstance(value, int) else v)


def _json_safe(obj):
    """Parameters as standard JSON: non-finite floats become the strings ``"nan"``, ``"inf"``, ``"-inf"``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, Mapping):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


#: Names IPython puts into a notebook's namespace; never parameters.
_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "open"})
#: Parameters that only configure the notebook's own sandbox world, used only when
#: ``snapshot_dir`` is empty; metrics.json records the snapshot's ``world_config`` instead.
_WORLD_ONLY = ("n_instances", "days")


def notebook_parameters(namespace: Mapping) -> dict:
    """The parameters of a running notebook: every plain value in its namespace.

    Call it first thing in the cell after the ``parameters`` cell, when the
    namespace holds only what that cell and papermill's ``injected-parameters``
    cell set, so ``metrics.json`` records every parameter without a hand-kept
    list that could drift. With a ``snapshot_dir`` set, the world-only defaults
    (:data:`_WORLD_ONLY`) did not apply and are left out.
    """
    out = {
        k: v
        for k, v in namespace.items()
        if not k.startswith("_")
        and k not in _IPYTHON_NAMES
        and not callable(v)
        and not isinstance(v, types.ModuleType)
    }
    if out.get("snapshot_dir"):
        for k in _WORLD_ONLY:
            out.pop(k, None)
    return out


def write_metrics(out_dir, metrics: Mapping, parameters: Mapping, snapshot=None) -> Path:
    """Write ``<out_dir>/metrics.json``: unit-suffixed numbers, parameters, snapshot id, git commit.

    Parameters
    ----------
    out_dir : path-like
    metrics : mapping
        ``{key: number}``; keys end with a unit suffix (e.g. ``_usd``,
        ``_kg``, ``_frac``). NaN and ±inf are written as null (standard
        JSON); the keys that were ±inf are listed under ``non_finite``
        (``{key: "inf" | "-inf"}``) so an infinity is not mistaken for a gap.
    parameters : mapping
        The notebook's parameters (JSON-serialisable).
    snapshot : finops_lib.snapshot.Snapshot, optional
        Adds ``snapshot_id``, ``snapshot_source`` and ``is_simulated``.

    Returns
    -------
    pathlib.Path
    """
    clean, non_finite = {}, {}
    for key in sorted(metrics):
        check_metric_key(key)
        clean[key] = _clean_value(key, metrics[key])
        if clean[key] is None and metrics[key] is not None and math.isinf(float(metrics[key])):
            non_finite[key] = "inf" if float(metrics[key]) > 0 else "-inf"
    doc = {
        "metrics": clean,
        "non_finite": non_finite,
        "parameters": _json_safe(dict(parameters)),
        "snapshot_id": getattr(snapshot, "snapshot_id", None),
        "snapshot_source": (snapshot.manifest.get("source") if snapshot is not None else None),
        "is_simulated": (bool(snapshot.is_simulated) if snapshot is not None else None),
        # the world actually read (sandbox); notebook defaults like n_instances only apply without a snapshot_dir
        "world_config": (snapshot.manifest.get("world_config") if snapshot is not None else None),
        "git_commit": git_commit(),
    }
    text = json.dumps(doc, indent=2, sort_keys=True, default=str, allow_nan=False)  # standard JSON
    return atomic_write_text(Path(out_dir) / "metrics.json", text + "\n")


def read_metrics(out_dir) -> dict:
    """Read ``<out_dir>/metrics.json``."""
    return json.loads((Path(out_dir) / "metrics.json").read_text(encoding="utf-8"))


def write_table(df: pd.DataFrame, name: str, out_dir, float_format: str = "%.3f", caption: str | None = None) -> list[Path]:
    """Write ``<out_dir>/tables/<name>.csv`` and ``.tex`` (pandas ``to_latex``)."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"bad table name {name!r}")
    tdir = Path(out_dir) / "tables"
    csv = atomic_write_text(tdir / f"{name}.csv", df.to_csv())
    tex = atomic_write_text(
        tdir / f"{name}.tex",
        df.to_latex(float_format=lambda x: float_format % x, caption=caption, label=f"tab:{name}", escape=True),
    )
    return [csv, tex]


def export_html(notebook_path, html_path, template: str | None = None) -> Path:
    """Export an executed notebook as a standalone HTML page without code cells.

    Parameters
    ----------
    template : str, optional
        Name of an nbconvert template shipped in ``finops_lib/templates``.
        Default: the notebook's metadata ``finops.html_template`` if set,
        else ``"fleet_report"``. Shipped templates are standalone: no code,
        no CDN or require.js, figures with the alt text ``figures.show``
        puts into their metadata. The page title is the notebook's
        ``title`` metadata, else its first ``# `` heading, else its file name.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook_path), as_version=4)
    template = template or nb.metadata.get("finops", {}).get("html_template") or "fleet_report"
    templates = Path(__file__).parent / "templates"
    if not (templates / template / "index.html.j2").exists():
        raise ValueError(f"unknown report template {template!r}; shipped: {sorted(p.name for p in templates.iterdir() if p.is_dir())}")
    if not nb.metadata.get("title"):  # a real title, never nbconvert's "Notebook"
        h1 = [ln[2:].strip() for c in nb.cells if c.cell_type == "markdown" for ln in c.source.splitlines()
              if ln.startswith("# ")]
        nb.metadata["title"] = h1[0] if h1 else Path(notebook_path).stem
    exporter = HTMLExporter(template_name=template, extra_template_basedirs=[str(templates)], exclude_input=True,
                            exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": Path(notebook_path).stem}})
    return atomic_write_text(html_path, body)


# --------------------------------------------------------------------------- #
# Scoring against the sandbox truth (the only code that reads truth_* tables)
# --------------------------------------------------------------------------- #
def runtime_by_instance(estimates: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Running hours per instance for each estimator.

    Parameters
    ----------
    estimates : mapping
        estimator name -> long table ``instance_id``, ``hour``, ``running_frac``.

    Returns
    -------
    pandas.DataFrame
        Index instance_id; one column per estimator. NaN where an estimator
        has NaN in any hour of the instance (no value invented). [h]
    """
    cols = {}
    for name, frac in estimates.items():
        g = frac.groupby("instance_id")["running_frac"]
        cols[name] = g.sum(min_count=1).where(~g.apply(lambda s: s.isna().any()))
    return pd.DataFrame(cols).rename_axis("instance_id")


def runtime_errors(est_h: pd.DataFrame, true_h: pd.Series, cases: pd.Series) -> pd.DataFrame:
    """Runtime error by case and estimator.

    ``abs_error_frac`` = Σ|estimated − true| / Σ true over the instances of a
    case (and over the whole fleet, case "fleet"); ``net_error_frac`` =
    (Σ estimated − Σ true) / Σ true. [-]

    Returns
    -------
    pandas.DataFrame
        Columns ``case``, ``estimator``, ``n_instances_count``, ``true_h``,
        ``abs_error_frac``, ``net_error_frac``.
    """
    df = est_h.join(true_h.rename("true_h"), how="outer").join(cases.rename("case"))
    df["case"] = df["case"].fillna("unknown")
    rows = []
    groups = [("fleet", df)] + list(df.groupby("case"))
    for case, g in groups:
        t = g["true_h"].sum()
        for est in est_h.columns:
            e = g[est]
            rows.append(
                {
                    "case": case,
                    "estimator": est,
                    "n_instances_count": len(g),
                    "true_h": t,
                    "abs_error_frac": (e - g["true_h"]).abs().sum(min_count=1) / t if t > 0 and e.notna().all() else float("nan"),
                    "net_error_frac": (e.sum() - t) / t if t > 0 and e.notna().all() else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def drop_records(state_events: pd.DataFrame, rate_frac: float, rng) -> pd.DataFrame:
    """Emulate missing CloudTrail records: drop each state event with probability ``rate_frac``."""
    if not 0 <= rate_frac <= 1:
        raise ValueError(f"rate_frac must be in [0, 1], got {rate_frac}")
    keep = rng.random(len(state_events)) >= rate_frac
    return state_events[keep].reset_index(drop=True)


def runtime_truth(snap) -> tuple[pd.Series, pd.Series]:
    """What runtime estimates are scored against, and each instance's case.

    Sandbox: the simulated true running hours (``truth_hourly``) and fault
    case (``truth_cases``). Real account: billed usage hours per instance
    (Cost Explorer with resources, Box/Spot usage), case ``"real"``.

    Returns
    -------
    true_h : pandas.Series
        Index instance_id; running hours. [h]
    cases : pandas.Series
        Index instance_id; case name.
    """
    if snap.is_simulated:
        true_h = snap["truth_hourly"].groupby("instance_id")["running_frac"].sum().rename("true_h")
        return true_h, snap["truth_cases"].set_index("instance_id")["case"]
    billed = snap["costs"].dropna(subset=["resource_id"])
    billed = billed[billed["usage_type"].str.contains("BoxUsage|SpotUsage", regex=True)]
    true_h = billed.groupby("resource_id")["usage_quantity"].sum().rename("true_h").rename_axis("instance_id")
    return true_h, pd.Series("real", index=true_h.index, name="case")


#: Estimators that read state events (the missing-record sweep re-runs only these).
EVENT_ESTIMATORS = ("cloudtrail", "cloudtrail_cloudwatch")
#: Baselines that do not read events: constant across the sweep.
SWEEP_BASELINES = ("always_on", "cloudwatch_presence")


def missing_records_sweep(events, instances, cpu_hourly, window_start, window_end, true_h, cases, errors,
                          rates, n_repeats: int, rng) -> pd.DataFrame:
    """Fleet runtime error when each state event is dropped with probability r (repeated, seeded).

    The event estimators (:data:`EVENT_ESTIMATORS`) reconstruct again from the
    kept events; the baselines (:data:`SWEEP_BASELINES`) do not read events
    and keep their fleet error from ``errors`` at every rate.

    Returns
    -------
    pandas.DataFrame
        ``missing_record_rate_frac``, ``estimator``, ``abs_error_frac`` (mean
        over the repeats). [-]
    """
    from finops_lib import calc

    fleet_err = errors[errors["case"] == "fleet"].set_index("estimator")["abs_error_frac"]
    rows = []
    for rate in rates:
        for rep in range(int(n_repeats)):
            kept = drop_records(events, rate, rng)
            h = runtime_by_instance({m: calc.estimate_runtime(m, kept, instances, cpu_hourly, window_start, window_end)
                                     for m in EVENT_ESTIMATORS})
            err = runtime_errors(h, true_h, cases)
            err = err[err["case"] == "fleet"]
            rows += [{"missing_record_rate_frac": rate, "repeat": rep, "estimator": e, "abs_error_frac": v}
                     for e, v in zip(err["estimator"], err["abs_error_frac"], strict=True)]
        rows += [{"missing_record_rate_frac": rate, "repeat": 0, "estimator": b, "abs_error_frac": fleet_err[b]}
                 for b in SWEEP_BASELINES]
    df = pd.DataFrame(rows)
    return df.groupby(["missing_record_rate_frac", "estimator"], as_index=False)["abs_error_frac"].mean()


def runtime_metrics(errors: pd.DataFrame, sweep: pd.DataFrame, true_h: pd.Series, instances_count: int) -> dict:
    """Headline metrics of the runtime evaluation (notebook 01).

    Keys: ``runtime_abs_error_<estimator>_frac``,
    ``runtime_net_error_<estimator>_frac`` (fleet);
    ``runtime_abs_error_<event estimator>_<case>_frac``;
    ``runtime_abs_error_<event estimator>_missing_<NN>pct_frac``;
    ``runtime_best_baseline_abs_error_frac`` (best estimator that is not an
    event estimator); ``runtime_true_h``; ``instances_count``.
    """
    fleet_rows = errors[errors["case"] == "fleet"].set_index("estimator")
    out = {f"runtime_abs_error_{e}_frac": v for e, v in fleet_rows["abs_error_frac"].items()}
    out |= {f"runtime_net_error_{e}_frac": v for e, v in fleet_rows["net_error_frac"].items()}
    for m in EVENT_ESTIMATORS:
        by_case = errors[(errors["estimator"] == m) & (errors["case"] != "fleet")].set_index("case")["abs_error_frac"]
        out |= {f"runtime_abs_error_{m}_{c}_frac": v for c, v in by_case.items()}
        by_rate = sweep[sweep["estimator"] == m].set_index("missing_record_rate_frac")["abs_error_frac"]
        out |= {f"runtime_abs_error_{m}_missing_{round(r * 100):02d}pct_frac": v for r, v in by_rate.items()}
    out["runtime_best_baseline_abs_error_frac"] = fleet_rows.drop(index=list(EVENT_ESTIMATORS), errors="ignore")[
        "abs_error_frac"].min()
    out["runtime_true_h"] = float(true_h.sum())
    out["instances_count"] = int(instances_count)
    return out


# --------------------------------------------------------------------------- #
# Scoring against Cost Explorer (notebook 02)
# --------------------------------------------------------------------------- #
def cost_deviation_stats(pairs: pd.DataFrame) -> dict:
    """MAPE, bias, Bland-Altman limits and validation factor of calculated vs billed pairs.

    ``pairs`` has ``calculated_usd`` and ``billed_usd`` (both known); MAPE
    uses only pairs with a non-zero bill (their count is reported).
    """
    from finops_lib import calc

    nonzero = pairs[pairs["billed_usd"] > 0]
    ba = calc.bland_altman(pairs["calculated_usd"], pairs["billed_usd"])
    return {
        "mape_frac": calc.mape(nonzero["calculated_usd"], nonzero["billed_usd"]),
        "mean_bias_usd": calc.mean_bias(pairs["calculated_usd"], pairs["billed_usd"]),
        "validation_factor_ratio": calc.validation_factor(pairs["calculated_usd"], pairs["billed_usd"]),
        "bland_altman_bias_usd": ba["bias"], "bland_altman_loa_low_usd": ba["loa_low"],
        "bland_altman_loa_high_usd": ba["loa_high"],
        "pairs_count": ba["n"], "pairs_billed_zero_count": len(pairs) - len(nonzero),
    }


def cost_by_lifecycle(hourly_cost: pd.DataFrame, instances: pd.DataFrame, daily_costs: pd.DataFrame) -> pd.DataFrame:
    """Calculated (list price) vs billed compute cost for on-demand and Spot instances.

    Billed compute rows are Spot when their usage type contains ``SpotUsage``.

    Returns
    -------
    pandas.DataFrame
        Index ``on-demand`` / ``spot``; ``calculated_usd``, ``billed_usd``,
        ``gap_usd`` (billed - calculated). [USD]
    """
    from finops_lib import calc

    lifecycle = instances.drop_duplicates("instance_id").set_index("instance_id")["lifecycle"]
    calc_by = hourly_cost.groupby(hourly_cost["instance_id"].map(lifecycle))["cost_usd"].sum()
    billed = daily_costs[calc.usage_category(daily_costs["usage_type"]) == "compute"]
    kind = np.where(billed["usage_type"].str.contains("SpotUsage"), "spot", "on-demand")
    billed_by = billed.groupby(kind)["cost_usd"].sum()
    out = pd.DataFrame({"calculated_usd": calc_by, "billed_usd": billed_by}).fillna(0.0)
    out["gap_usd"] = out["billed_usd"] - out["calculated_usd"]
    return out


def cost_per_day(daily: pd.DataFrame) -> pd.DataFrame:
    """Calculated and billed compute cost per day over all instance types (NaN only when a day has no value). [USD]"""
    return daily.groupby("day")[["calculated_usd", "billed_usd"]].sum(min_count=1)


def billing_minimum_effect_usd(billed_intervals: pd.DataFrame) -> float:
    """Cost added by the 60 s minimum per running period: billed - duration x price. [USD]"""
    from finops_lib.constants import S_PER_H

    exact = (billed_intervals["duration_s"] / S_PER_H * billed_intervals["usd_per_hour"]).sum()
    return float(billed_intervals["cost_usd"].sum()) - float(exact)


def cost_metrics(stats: Mapping, gap: pd.DataFrame, by_lifecycle: pd.DataFrame, calculated_compute_usd: float,
                 billing_minimum_usd: float) -> dict:
    """Headline metrics of the cost evaluation (notebook 02): the stats, ``gap_<category>_usd``,
    ``calculated_compute_usd``, ``billed_total_usd``, ``billing_minimum_effect_usd``,
    ``spot_gap_usd``, ``on_demand_gap_usd``."""
    out = dict(stats)
    out |= {f"gap_{c}_usd": v for c, v in gap["gap_usd"].items()}
    out |= {"calculated_compute_usd": float(calculated_compute_usd),
            "billed_total_usd": float(gap.loc["total", "billed_usd"]),
            "billing_minimum_effect_usd": float(billing_minimum_usd),
            "spot_gap_usd": float(by_lifecycle["gap_usd"].get("spot", 0.0)),
            "on_demand_gap_usd": float(by_lifecycle["gap_usd"].get("on-demand", 0.0))}
    return out


# --------------------------------------------------------------------------- #
# Scenario metrics (notebook 03 may use these; same keys it writes today)
# --------------------------------------------------------------------------- #
def scenario_metrics(summary: pd.DataFrame, savings: pd.DataFrame) -> dict:
    """``<scenario>_<quantity>_<q>_<unit>`` from the Monte Carlo summary and
    ``<scenario>_saving_<quantity>_<q>_frac`` from the savings, e.g.
    ``baseline_co2_q50_kg``, ``office_hours_saving_cost_q05_frac``.

    Parameters
    ----------
    summary : pandas.DataFrame
        Index = scenario; columns ``cost_eur_q05``, ..., ``co2_kg_q95``,
        ``energy_kwh_q50``, ...
    savings : pandas.DataFrame
        Index = scenario; columns ``cost_eur_q05``, ..., ``co2_kg_q95``. [-]
    """
    out = {}
    for k in summary.index:
        for c in ("cost_eur", "co2_kg", "energy_kwh"):
            quantity, unit = c.rsplit("_", 1)
            out |= {f"{k}_{quantity}_{q}_{unit}": summary.loc[k, f"{c}_{q}"] for q in ("q05", "q50", "q95")}
    for k in savings.index:
        for c in ("cost_eur", "co2_kg"):
            quantity = c.rsplit("_", 1)[0]
            out |= {f"{k}_saving_{quantity}_{q}_frac": savings.loc[k, f"{c}_{q}"] for q in ("q05", "q50", "q95")}
    return out
