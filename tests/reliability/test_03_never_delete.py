"""Item 3: user files are never deleted.

Before: ``finops collect --out Y`` onto a snapshot with the same id removed a
user's ``notes.md`` and ``analysis/``; ``finops evaluate --results thesis``
replaced ``thesis/<experiment>/`` and ``thesis/index.md`` the tool had not
written. Now the tool replaces a folder only if every entry is listed by its
own marker (a snapshot's manifest, a result's ``.finops-result.json``) and
refuses with a message that says what to do.
"""

import pytest

from finops_lib import cli, evaluate, exit_codes, storage
from finops_lib.snapshot import SnapshotError, write_snapshot

from .conftest import MANIFEST, tiny_snapshot, tiny_tables


def _user_files(folder):
    (folder / "notes.md").write_text("my notes")
    (folder / "analysis").mkdir()
    (folder / "analysis" / "a.py").write_text("x = 1")


def test_rewriting_a_snapshot_keeps_user_files_and_refuses(tmp_path):
    snap = tiny_snapshot(tmp_path / "Y")
    _user_files(snap)
    with pytest.raises(SnapshotError, match=r"notes\.md.*Nothing was deleted.*Move those files"):
        write_snapshot(tiny_tables(), MANIFEST, snap)  # same id
    with pytest.raises(SnapshotError, match="analysis/"):
        write_snapshot(tiny_tables(3), MANIFEST, snap, overwrite=True)
    assert (snap / "notes.md").read_text() == "my notes" and (snap / "analysis" / "a.py").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Y"]


def test_collect_cli_refuses_before_collecting(tmp_path, monkeypatch, capsys):
    snap = tiny_snapshot(tmp_path / "Y")
    _user_files(snap)
    from finops_lib.collect import cli as collect_cli

    monkeypatch.setattr(collect_cli, "_collect_sandbox", lambda args: pytest.fail("collected although refusing"))
    rc = cli.main(["collect", "--source", "sandbox", "--out", str(snap), "--overwrite", "--no-progress"])
    assert rc == exit_codes.USAGE
    assert "notes.md" in capsys.readouterr().err
    assert (snap / "notes.md").read_text() == "my notes"


def test_evaluate_never_replaces_a_foreign_result_folder_or_index(project, capsys):
    res = project["results"]
    (res / "tiny").mkdir(parents=True)
    (res / "tiny" / "chapter.tex").write_text("years of work")
    rc = cli.main(["evaluate", "tiny", "--experiments", str(project["experiments"]), "--notebooks",
                   str(project["notebooks"]), "--results", str(res), "--no-progress"])
    assert rc == exit_codes.USAGE
    assert "chapter.tex" in capsys.readouterr().err
    assert (res / "tiny" / "chapter.tex").read_text() == "years of work"
    assert sorted(p.name for p in res.iterdir()) == ["tiny"]  # nothing ran, no index written

    (res / "tiny" / "chapter.tex").unlink()
    (res / "tiny").rmdir()
    (res / "index.md").write_text("# My thesis index\n")
    with pytest.raises(storage.ForeignDataError, match="index.md"):
        evaluate.evaluate(["tiny"], experiments_dir=project["experiments"], notebooks_dir=project["notebooks"],
                          results_dir=res, progress=False)
    assert (res / "index.md").read_text() == "# My thesis index\n"


def test_files_added_to_a_published_result_are_kept(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "metrics.json").write_text("{}")
    storage.write_result_marker(folder, "tiny")
    assert storage.foreign_entries(folder, "result") == []
    (folder / "my-notes.md").write_text("keep")
    assert storage.foreign_entries(folder, "result") == ["my-notes.md"]
    with pytest.raises(storage.ForeignDataError, match="my-notes.md"):
        storage.check_owned(folder, "result")


def test_a_result_of_an_earlier_version_is_adopted_but_not_with_user_files(project, monkeypatch):
    """Results written before markers existed (only the runner's outputs) are the tool's; extra files are not."""
    res = project["results"]
    legacy = res / "tiny"
    (legacy / "figures").mkdir(parents=True)
    (legacy / "figures" / "f.pdf").write_text("x")
    (legacy / "metrics.json").write_text("{}")
    (legacy / "01-tiny.ipynb").write_text("{}")
    exp = evaluate.load_experiments(project["experiments"])["tiny"]
    evaluate._check_results_dir(res, [exp])
    assert storage.foreign_entries(legacy, "result") == []
    (legacy / storage.RESULT_MARKER).unlink()
    (legacy / "notes.md").write_text("mine")
    with pytest.raises(storage.ForeignDataError, match="notes.md"):
        evaluate._check_results_dir(res, [exp])
