"""Thesis figures: legends never over data, zero values visible, alt text, the figures manifest."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from finops_lib import factors, figures, storage  # noqa: E402

SCENARIOS = ["office_hours", "carbon_aware_shift", "rightsizing", "combined"]


def _savings():
    mid = {"cost_eur": [0.22, 0.0, 0.04, 0.25], "co2_kg": [0.15, 0.30, 0.01, 0.33]}
    cols = {}
    for k, m in mid.items():
        m = np.array(m)
        cols |= {f"{k}_q05": m - 0.02, f"{k}_q50": m, f"{k}_q95": m + 0.02}
    return pd.DataFrame(cols, index=SCENARIOS)


def _legend_boxes(fig):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [lg.get_window_extent(r) for lg in legends], [ax.get_window_extent(r) for ax in fig.axes], r


def _assert_no_legend_over_axes(fig):
    legends, axes, _ = _legend_boxes(fig)
    assert legends, "figure has no legend"
    for lg in legends:
        for ax in axes:
            assert not lg.overlaps(ax), f"legend {lg} overlaps axes {ax}"


def test_scenario_savings_legend_is_outside_every_axes():
    """Regression: the literature legends covered the points (loc='lower right' inside the axes)."""
    fig = figures.fig_scenario_savings(_savings(), factors.LITERATURE_SAVINGS_FRAC, simulated=True,
                                       job_level_co2_frac=0.2)
    _assert_no_legend_over_axes(fig)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("office hours" in t for t in labels) and any("temporal shifting" in t for t in labels)


def test_scenario_savings_compares_literature_only_at_its_own_level():
    """Job-level literature (temporal shifting) is drawn only on a job-level row, never across fleet rows."""
    fig = figures.fig_scenario_savings(_savings(), factors.LITERATURE_SAVINGS_FRAC, job_level_co2_frac=0.2)
    cost_ax, co2_ax = fig.axes[:2]
    assert [t.get_text() for t in cost_ax.get_yticklabels()][-1] == "flexible jobs (job level)"
    (band,) = co2_ax.collections[:1]
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() >= len(SCENARIOS) - 0.5  # only on the last (job-level) row
    (cband,) = cost_ax.collections[:1]
    i = list(SCENARIOS).index("office_hours")
    assert i - 0.5 <= cband.get_paths()[0].vertices[:, 1].min() < cband.get_paths()[0].vertices[:, 1].max() <= i + 0.5
    # without a job-level figure, no temporal-shifting band at all
    fig2 = figures.fig_scenario_savings(_savings(), factors.LITERATURE_SAVINGS_FRAC)
    assert not any("temporal" in t.get_text() for t in fig2.legends[0].get_texts())


@pytest.mark.parametrize("make", [
    lambda: figures.fig_sobol(pd.DataFrame({"co2_kg_first": [0.6, 0.3], "co2_kg_total": [0.65, 0.35],
                                            "cost_eur_first": [0.1, 0.9], "cost_eur_total": [0.1, 0.9]},
                                           index=["intensity_scale", "pue"])),
    lambda: figures.fig_hourly_band(
        pd.DataFrame({"q05": np.arange(48.0), "q50": np.arange(48.0) + 1, "q95": np.arange(48.0) + 2},
                     index=pd.date_range("2026-01-01", periods=48, freq="h", tz="UTC")),
        pd.Series(300.0, index=pd.date_range("2026-01-01", periods=48, freq="h", tz="UTC"))),
    lambda: figures.fig_bland_altman([1.0, 2.0, 3.0], [1.1, 1.9, 3.2], {"bias": 0.07, "loa_low": -0.2, "loa_high": 0.3}),
    lambda: figures.fig_runtime_missing_sweep(pd.DataFrame({"missing_record_rate_frac": [0, 0.2, 0, 0.2],
                                                            "estimator": ["a", "a", "b", "b"],
                                                            "abs_error_frac": [0.0, 0.1, 0.05, 0.05]})),
], ids=["sobol", "hourly_band", "bland_altman", "missing_sweep"])
def test_other_legends_are_outside_the_axes(make):
    _assert_no_legend_over_axes(make())


def test_runtime_error_zero_bars_are_visible_and_labelled():
    """Regression: an estimator with ~0 error had invisible bars."""
    errors = pd.DataFrame({"case": ["fleet", "fleet", "spot", "spot"], "estimator": ["cloudtrail", "always_on"] * 2,
                           "abs_error_frac": [0.0, 0.7, 0.0004, 1.46]})
    fig = figures.fig_runtime_error(errors, simulated=True)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("0.0") == 2 and "70" in texts and "146" in texts
    # a dash at zero in the estimator's colour for each bar too short to see
    dashes = [ln for ln in ax.get_lines() if ln.get_marker() == "_" and len(ln.get_xdata())]
    assert sum(len(ln.get_xdata()) for ln in dashes) == 2
    legend = fig.legends[0]
    colors = {t.get_text(): h.get_facecolor() for t, h in zip(legend.get_texts(), legend.legend_handles, strict=True)}
    assert all(matplotlib.colors.same_color(ln.get_color(), colors["cloudtrail"]) for ln in dashes)
    _assert_no_legend_over_axes(fig)


def test_alt_text_from_titles_and_labels_and_explicit():
    fig = figures.fig_cost_daily(pd.DataFrame({"calculated_usd": [1.0, 2.0], "billed_usd": [1.1, 2.1]},
                                              index=pd.date_range("2026-01-01", periods=2, tz="UTC")), simulated=True)
    alt = figures.alt_text(fig)
    assert "SIMULATED" in alt and "Compute cost [USD/day] against Day [UTC]" in alt
    figures.set_alt(fig, "Two lines, billed and calculated cost per day.")
    assert figures.alt_text(fig) == "Two lines, billed and calculated cost per day."
    with pytest.raises(ValueError, match="empty"):
        figures.set_alt(fig, "  ")


def test_show_displays_png_with_alt_metadata(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    fig = figures.fig_footprint_variants(pd.Series({"hour-aligned": 4.3, "annual average": 3.9}), simulated=False)
    assert figures.show(fig, alt="Bars of two footprints.") is None
    (img,) = shown
    assert img.metadata == {"alt": "Bars of two footprints."} and img.data[:8] == b"\x89PNG\r\n\x1a\n"


def test_timeline_and_business_case_figures(tmp_path):
    hours = pd.date_range("2026-01-01", periods=24 * 10, freq="h", tz="UTC")
    hourly = pd.DataFrame({"cost_eur": 2.0, "co2_kg": 0.1}, index=hours)
    fig = figures.fig_fleet_timeline(hourly, pd.Series(400.0, index=hours), last_h=48, simulated=True)
    assert len(fig.axes) == 6 and "last 48 hours" in figures.alt_text(fig)
    left, right = fig.axes[4].get_xlim(), fig.axes[5].get_xlim()
    assert right[1] - right[0] < (left[1] - left[0]) / 4  # the zoom is a zoom
    case = pd.DataFrame({f"{k}_{q}": v for k, v in (("cost_eur_per_year", [100.0, 0.0]), ("co2_t_per_year", [0.1, 0.0]))
                         for q in ("q05", "q50", "q95")}, index=["office_hours", "carbon_aware_shift"])
    fig2 = figures.fig_business_case(case, simulated=True)
    # a zero saving keeps a visible median marker
    markers = [ln for ax in fig2.axes for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert markers and all(len(ln.get_xdata()) == 2 for ln in markers)
    paths = figures.save(fig2, "business_case", tmp_path)
    assert [p.suffix for p in paths] == [".pdf", ".png"]


def test_figures_manifest_names_experiment_snapshot_and_commit(tmp_path):
    from finops_lib import evaluate

    res = tmp_path / "results"
    for exp, snap in (("runtime", "snapA"), ("cost", None)):
        (res / exp / "figures").mkdir(parents=True)
        (res / exp / "figures" / "f.png").write_bytes(b"png")
        (res / exp / "figures" / "f.pdf").write_bytes(b"pdf")
        if snap:
            (res / exp / "metrics.json").write_text(json.dumps({"snapshot_id": snap, "git_commit": "c0ffee",
                                                                "is_simulated": True, "metrics": {}}))
        else:  # a result the tool wrote (marker) whose metrics.json is missing: fields are null, not guessed
            storage.write_result_marker(res / exp, exp)
    (res / "foreign" / "figures").mkdir(parents=True)  # not written by the tool: never copied
    (res / "foreign" / "figures" / "y.png").write_bytes(b"png")
    (res / "bad.FAILED" / "figures").mkdir(parents=True)
    (res / "bad.FAILED" / "figures" / "x.png").write_bytes(b"png")
    copied = evaluate.collect_figures(tmp_path / "flat", res)
    assert sorted(p.name for p in copied) == ["cost--f.pdf", "cost--f.png", "runtime--f.pdf", "runtime--f.png"]
    man = json.loads((tmp_path / "flat" / "manifest.json").read_text())["figures"]
    by_file = {e["file"]: e for e in man}
    assert by_file["runtime--f.png"] == {"file": "runtime--f.png", "figure": "f", "experiment": "runtime",
                                         "snapshot_id": "snapA", "is_simulated": True, "git_commit": "c0ffee"}
    assert by_file["cost--f.pdf"]["snapshot_id"] is None and by_file["cost--f.pdf"]["git_commit"] is None


def test_bland_altman_points_scatter_around_the_bias_line():
    """Regression: points were billed - calculated while the bias line is calculated - billed."""
    from finops_lib import calc

    calc_usd, billed = np.array([1.0, 2.0, 4.0, 3.0]), np.array([1.2, 2.1, 3.0, 3.1])
    stats = calc.bland_altman(calc_usd, billed)
    fig = figures.fig_bland_altman(calc_usd, billed, stats)
    ax = fig.axes[0]
    y = ax.collections[0].get_offsets()[:, 1]
    assert y.mean() == pytest.approx(stats["bias"])
    assert ax.get_lines()[0].get_ydata()[0] == pytest.approx(stats["bias"])
    assert ax.get_ylabel() == "Calculated - billed [USD]"


def test_sobol_and_cost_gap_mark_zero_bars():
    fig = figures.fig_sobol(pd.DataFrame({"co2_kg_first": [0.6, 0.0], "co2_kg_total": [0.65, 0.004]},
                                         index=["intensity_scale", "cpu_scale"]))
    dashes = [ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "|"]
    assert sum(len(ln.get_ydata()) for ln in dashes) == 2  # cpu_scale: first and total
    fig = figures.fig_cost_gap(pd.DataFrame({"cost_usd": [5.0, 0.0, -1.0]}, index=["ebs", "other", "compute"]))
    dashes = [ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "|"]
    assert [float(v) for ln in dashes for v in ln.get_ydata()] == [1.0]  # "other"
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["ebs", "other", "compute"]
