"""The model registry: every model listed once, with source and version; CLI and README agree."""

from pathlib import Path

from finops_lib import factors, models
from finops_lib.calc import POWER_MODELS
from finops_lib.cli import main


def test_every_power_model_is_registered_with_source_and_version():
    names = [m.name for m in models.MODELS]
    assert len(names) == len(set(names))
    assert set(POWER_MODELS) <= set(names)
    for m in models.MODELS:
        assert m.source and m.version and m.tests
    ccf = next(m for m in models.MODELS if m.name == "ccf")
    assert factors.CCF_COMMIT[:12] in ccf.version
    refined = next(m for m in models.MODELS if m.name == "ccf_refined")
    assert len(refined.departures) >= 2  # a refinement lists each departure


def test_finops_models_command(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in POWER_MODELS:
        assert f"{name} (" in out
    assert main(["models", "--markdown"]) == 0
    assert capsys.readouterr().out.strip() == models.markdown_table()


def test_readme_carries_the_registry_table():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert models.markdown_table() in readme
