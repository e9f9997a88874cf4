"""The fleet report: HTML pieces, the offline template, notebook 04 end to end, and a real browser.

The browser test opens the exported report in headless Chromium (Debian's
``chromium``; ``.ci/run`` installs it), asserts no console errors, no network
request beyond the page and its inline images, the summary numbers equal
``metrics.json``, that a table sorts, and saves a screenshot under
``results/browser-test/``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from finops_lib import fleet_report as fr

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SCREENSHOT_DIR = ROOT / "results" / "browser-test"

METRICS = {
    "total_cost_eur": 1825.91, "annual_cost_eur": 22215.27, "total_co2_kg": 67.164, "annual_co2_t": 0.8172,
    "cost_change_prev_period_frac": float("nan"), "co2_change_prev_period_frac": float("nan"),
    "instances_count": 40, "grid_latest_g_per_kwh": 450.1, "grid_min_last_g_per_kwh": 281.7,
    "grid_max_last_g_per_kwh": 473.4, "time_alignment_coverage_frac": 1.0, "cpu_running_coverage_frac": 0.85,
    "intensity_data_coverage_frac": 0.5, "validation_factor_ratio": 0.9897,
    "annual_saving_combined_cost_q05_eur": 4787.0, "annual_saving_combined_cost_q50_eur": 5148.3,
    "annual_saving_combined_cost_q95_eur": 5512.1, "annual_saving_combined_co2_q50_t": 0.1089,
}
CHANGE_NONE = {"cost_change_frac": float("nan"), "co2_change_frac": float("nan"), "period_days": 7,
               "reason": "window of 7 days is shorter than two 7-day periods"}


def _summary(metrics=METRICS, change=CHANGE_NONE, simulated=True) -> str:
    return fr.summary_html(metrics, change, simulated=simulated, snapshot_id="abc123", source="sandbox", zone="DE",
                           window_start="2026-10-02T00:00Z", window_end="2026-10-09T00:00Z")


def test_formats():
    assert fr.fmt_eur(1825.91) == "€ 1,826" and fr.fmt_eur(float("nan")) == "n/a"
    assert fr.fmt_pct(-0.11785, 1, signed=True) == "-11.8 %" and fr.fmt_pct(0.05, 1, signed=True) == "+5.0 %"
    assert fr.fmt_number(0.98968, 3) == "0.990" and fr.fmt_number(None) == "n/a"
    assert fr.cost_check_level(1.04) == "good" and fr.cost_check_level(0.88) == "fair"
    assert fr.cost_check_level(1.3) == "poor" and fr.cost_check_level(float("nan")) == "n/a"


def test_summary_binds_every_number_to_its_metric_key():
    html = _summary()
    bound = dict(re.findall(r'data-metric="([a-z0-9_]+)" data-value="([^"]+)"', html))
    for key in ("total_cost_eur", "annual_cost_eur", "total_co2_kg", "annual_co2_t", "instances_count",
                "annual_saving_combined_cost_q50_eur", "annual_saving_combined_co2_q50_t", "grid_latest_g_per_kwh",
                "time_alignment_coverage_frac", "cpu_running_coverage_frac", "intensity_data_coverage_frac",
                "validation_factor_ratio"):
        assert float(bound[key]) == METRICS[key], key
    assert "€ 1,826" in html and "67.2 kg" in html and "0.817 t" in html and "€ 5,148" in html
    assert "SIMULATED DATA" in html and "last 48 h: 282 to 473 g/kWh" in html
    # badges: 100 % good, 85 % fair, 50 % poor, cost check 0.99 good
    assert re.search(r'badge good[^>]*>Cost \+ carbon on one time axis', html)
    assert re.search(r'badge fair[^>]*>CPU data for running hours', html)
    assert re.search(r'badge poor[^>]*>Grid-intensity data', html)
    # no previous period: the reason, no invented change
    assert "shorter than two 7-day periods" in html and "cost_change_prev_period_frac" not in html


def test_summary_real_data_has_no_banner_and_shows_change():
    m = dict(METRICS, cost_change_prev_period_frac=0.125, co2_change_prev_period_frac=-0.02)
    html = _summary(m, {"cost_change_frac": 0.125, "co2_change_frac": -0.02, "period_days": 7, "reason": None},
                    simulated=False)
    assert "SIMULATED" not in html
    assert 'data-metric="cost_change_prev_period_frac" data-value="0.125">+12.5 %' in html
    assert 'class="up"' in html and 'class="down"' in html  # cost up (red), CO2e down (green)


def test_table_html_formats_escapes_and_keeps_sort_values():
    df = pd.DataFrame({"name": ["<b>x</b>", None], "cost": [1234.567, np.nan], "share": [0.25, 0.5],
                       "risk": ["high", "low"]}, index=["i-1", "i-2"])
    html = fr.table_html(df, {"name": ("Name", "text"), "cost": ("Cost", "eur"), "share": ("Share", "pct"),
                              "risk": ("Risk", "text")}, index="Instance", table_id="t", row_class="risk")
    assert html.startswith('<table class="sortable" id="t">')
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert '<td class="num" data-sort="1234.567">€ 1,235</td>' in html
    assert '<td class="num">n/a</td>' in html  # NaN: no sort value, shown as a gap
    assert '<td class="num" data-sort="0.25">25.0 %</td>' in html and 'class="risk-high"' in html


def _tiny_executed_notebook(tmp_path) -> Path:
    """An 'executed' notebook with a code cell, a PNG with alt text, HTML, stderr and a report-skip cell."""
    import base64

    png = base64.b64encode(bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000" "1f15c4890000000d4944415478da63f8ffff3f0005fe02fe"
        "a7d6a4b30000000049454e44ae426082")).decode()
    nb = nbformat.v4.new_notebook()
    nb.metadata["title"] = "Tiny report"
    code = nbformat.v4.new_code_cell("secret_source_line = 42\nfigures.show(fig)")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": png}, metadata={"image/png": {"alt": "A tiny chart"}}),
        nbformat.v4.new_output("display_data", data={"text/html": '<table class="sortable"><thead><tr><th>a</th></tr>'
                                                                  "</thead><tbody><tr><td>2</td></tr></tbody></table>"}),
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: noise\n"),
    ]
    skip = nbformat.v4.new_markdown_cell("## Save section only for the notebook")
    skip.metadata["tags"] = ["report-skip"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny\n\n$x^2$ stays text"), code, skip]
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, str(path))
    return path


def test_export_is_offline_codeless_and_has_alt_text(tmp_path, caplog):
    page = fr.export_report(_tiny_executed_notebook(tmp_path), tmp_path / "tiny.html").read_text()
    assert "<title>Tiny report</title>" in page
    assert "secret_source_line" not in page  # code hidden
    assert "UserWarning" not in page  # stderr stays in the notebook
    assert "Save section" not in page  # report-skip
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"(https?:)?//", page), "external resource"
    assert "require" not in page.lower() and "mathjax" not in page.lower() and "cdn" not in page.lower()
    imgs = re.findall(r"<img[^>]*>", page)
    assert len(imgs) == 1 and 'alt="A tiny chart"' in imgs[0]
    assert "Alternative text is missing" not in caplog.text
    assert "table.sortable" in page  # the inline sort script


def test_export_without_alt_metadata_is_not_faked_and_default_is_offline(tmp_path):
    from finops_lib.report import export_html

    path = _tiny_executed_notebook(tmp_path)
    nb = nbformat.read(str(path), as_version=4)
    del nb.cells[1].outputs[0]["metadata"]["image/png"]["alt"]
    del nb.metadata["title"]
    nbformat.write(nb, str(path))
    page = export_html(path, tmp_path / "plain.html").read_text()  # no template named, none in the metadata
    assert "<title>Tiny</title>" in page and "secret_source_line" not in page and "require" not in page.lower()
    # no description given: nbconvert's own placeholder (and warning), never an invented description
    assert 'alt="No description has been provided for this image"' in page


def test_export_unknown_template_is_a_clear_error(tmp_path):
    from finops_lib.report import export_html

    with pytest.raises(ValueError, match="unknown report template 'nope'.*fleet_report"):
        export_html(_tiny_executed_notebook(tmp_path), tmp_path / "x.html", template="nope")


# --------------------------------------------------------------------------- #
# Notebook 04 end to end (slow): one run shared by the checks below
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def report_run(small_sandbox_snapshot, tmp_path_factory):
    import papermill

    out = tmp_path_factory.mktemp("fleet-report")
    papermill.execute_notebook(
        str(NOTEBOOKS / "04-report-fleet.ipynb"), str(out / "04-report-fleet.ipynb"),
        parameters={"snapshot_dir": str(small_sandbox_snapshot), "out_dir": str(out)},
        cwd=str(out), progress_bar=False, kernel_name="python3",
    )
    fr.export_report(out / "04-report-fleet.ipynb", out / "04-report-fleet.html")
    return out


@pytest.mark.slow
def test_report_notebook_totals(report_run):
    doc = json.loads((report_run / "metrics.json").read_text())
    m = doc["metrics"]
    assert doc["is_simulated"] is True
    assert m["total_cost_eur"] > 0 and m["total_co2_kg"] > 0
    assert 0 < m["time_alignment_coverage_frac"] <= 1
    assert m["instances_count"] == 12 and m["window_h"] == 168
    assert m["annual_cost_eur"] == pytest.approx(m["total_cost_eur"] * 8760 / 168)
    assert m["cost_change_prev_period_frac"] is None  # 7-day window: no previous week
    for measure in ("office_hours", "carbon_aware_shift", "rightsizing", "combined"):
        assert m[f"annual_saving_{measure}_cost_q05_eur"] <= m[f"annual_saving_{measure}_cost_q50_eur"] \
            <= m[f"annual_saving_{measure}_cost_q95_eur"]
    per_instance = pd.read_csv(report_run / "tables" / "fleet_per_instance.csv")
    assert per_instance["cost_eur"].sum() == pytest.approx(m["total_cost_eur"])
    assert (report_run / "figures" / "fleet_timeline.png").exists()


@pytest.mark.slow
def test_report_html_sections_and_no_notebook_scaffolding(report_run):
    page = (report_run / "04-report-fleet.html").read_text()
    assert "<title>Fleet cost and carbon report</title>" in page
    for heading in ("Summary", "Business case", "Recommendations", "Cost and CO₂e over time", "Instances"):
        assert f">{heading}<" in page or f">{heading}<a" in page, heading
    assert "## Save" not in page and ">Save<" not in page and ">Load<" not in page
    assert "fleet.footprint(" not in page  # code hidden
    assert 'id="instances"' in page and 'class="sortable"' in page


@pytest.mark.slow
def test_report_in_headless_chromium(request):
    from tests.cdp import CHROMIUM, Browser, chromium_path

    if chromium_path() is None:  # before running the notebook
        pytest.skip(f"chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium); .ci/run installs it")
    report_run = request.getfixturevalue("report_run")
    metrics = json.loads((report_run / "metrics.json").read_text())["metrics"]
    with Browser(width=1280, height=900) as b:
        b.open((report_run / "04-report-fleet.html").as_uri())
        assert b.console_errors() == []
        external = [u for u in b.requested_urls() if not u.startswith(("file:", "data:"))]
        assert external == [], f"the report requested network resources: {external}"
        assert b.evaluate("document.title") == "Fleet cost and carbon report"
        shown = b.evaluate("Array.from(document.querySelectorAll('[data-metric]'))"
                           ".map(e => [e.dataset.metric, e.dataset.value, e.textContent, e.offsetParent !== null])")
        seen = {k for k, *_ in shown}
        for key in ("total_cost_eur", "annual_cost_eur", "total_co2_kg", "annual_co2_t",
                    "annual_saving_combined_cost_q50_eur", "time_alignment_coverage_frac", "validation_factor_ratio"):
            assert key in seen, f"summary lacks {key}"
        for key, raw, text, visible in shown:
            assert visible, f"{key} is not visible"
            assert float(raw) == pytest.approx(metrics[key], rel=1e-12), key
            number = float(re.sub(r"[^0-9.+\-]", "", text))
            scale = 100 if text.strip().endswith("%") else 1
            decimals = len(text.split(".")[1].rstrip(" %tkg")) if "." in text else 0
            assert number == pytest.approx(metrics[key] * scale, abs=0.51 * 10 ** -decimals), (key, text)
        assert b.evaluate("document.querySelector('.banner.simulated') !== null")
        assert b.evaluate("document.querySelectorAll('#business-case tbody tr').length") == 4
        assert b.evaluate("document.querySelectorAll('img:not([alt]), img[alt=\"\"]').length") == 0
        # sort the per-instance table by cost (column 7: index, name, role, type, lifecycle, running, cpu, cost)
        col = "Array.from(document.querySelectorAll('#instances tbody tr')).map(r => parseFloat(r.cells[7].dataset.sort))"
        b.evaluate("document.querySelectorAll('#instances thead th')[7].click()")
        asc = b.evaluate(col)
        assert asc == sorted(asc) and len(asc) == 12
        b.evaluate("document.querySelectorAll('#instances thead th')[7].click()")
        assert b.evaluate(col) == sorted(asc, reverse=True)
        b.evaluate("window.scrollTo(0, 0)")
        shot = b.screenshot(SCREENSHOT_DIR / "fleet-report.png")
        assert b.console_errors() == []
    assert shot.stat().st_size > 50_000


def test_actions_html_sums_recommendations_and_counts_high_risk():
    s = pd.DataFrame({"name": ["a", "b", None, "d"], "saved_eur_per_year": [100.0, 50.0, 20.0, 10.0]},
                     index=["i1", "i2", "i3", "i4"])
    r = pd.DataFrame({"risk": ["high", "medium"], "saved_eur_per_year": [30.0, 5.0]}, index=["i5", "i6"])
    html = fr.actions_html(s, r)
    assert "<strong>4 instances</strong> on office hours (a, b, i3 and 1 more): € 180 per year" in html
    assert "rightsize <strong>2 instances</strong>: € 35 per year (1 with high risk" in html
    assert "no schedule or rightsizing candidate" in fr.actions_html(s.iloc[:0], r.iloc[:0])
