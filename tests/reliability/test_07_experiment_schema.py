"""Item 7: experiment files are checked against a schema before anything runs.

Before: ``headline: 5`` ran every notebook and then crashed ``write_index``
(index.md lost); ``snapshot: [1, 2]`` gave an AttributeError traceback;
``thesis: "no"`` counted as true; a parameter of the wrong type was caught
only inside the notebook; a YAML syntax error did not name the file; a file
named ``...yaml`` became experiment ``..``.
"""

import pytest

from finops_lib import cli, evaluate, exit_codes

BAD = [
    ("headline: 5\n", r"tiny\.yaml: key headline: 5 is not of type 'array'"),
    ("headline: [5]\n", r"tiny\.yaml: key headline\.0"),
    ("snapshot: [1, 2]\n", r"tiny\.yaml: key snapshot: \[1, 2\] is not of type 'object'"),
    ('thesis: "no"\n', r"tiny\.yaml: key thesis: 'no' is not of type 'boolean'"),
    ("html: 1\n", r"tiny\.yaml: key html"),
    ("snapshot: {source: ftp}\n", r"tiny\.yaml: key snapshot\.source: 'ftp' is not one of"),
    ("parameters: {sleep_s: fast}\n", r"parameters\.sleep_s = 'fast' is str, 01-tiny\.ipynb expects float"),
    ("parameters: {fail: 1}\n", r"parameters\.fail = 1 is int, 01-tiny\.ipynb expects bool"),
    ("parameters: {n_instances: 2.5}\n", r"parameters\.n_instances = 2\.5 is float, 01-tiny\.ipynb expects int"),
    ("headline: [a\n", r"tiny\.yaml: not valid YAML"),
    ("- a\n- b\n", r"tiny\.yaml: must be a mapping"),
    ("notebookz: x\n", r"tiny\.yaml: key \(top level\): Additional properties are not allowed \('notebookz'"),
]


@pytest.mark.parametrize(("extra", "match"), BAD)
def test_bad_experiment_file_is_an_error_naming_file_and_key_before_anything_runs(project, extra, match):
    text = "notebook: 01-tiny\n" + extra if not extra.startswith("- ") else extra
    (project["experiments"] / "tiny.yaml").write_text(text)
    with pytest.raises(evaluate.ExperimentError, match=match):
        evaluate.evaluate(["tiny"], experiments_dir=project["experiments"], notebooks_dir=project["notebooks"],
                          results_dir=project["results"], progress=False)
    assert not project["results"].exists()  # nothing ran, no index lost


def test_good_types_pass_int_for_float_too(project):
    (project["experiments"] / "tiny.yaml").write_text("notebook: 01-tiny\nparameters: {sleep_s: 0, fail: false}\n")
    exps = evaluate.load_experiments(project["experiments"])
    evaluate.validate(exps["tiny"], project["notebooks"])


def test_bad_defaults_file_is_named(project):
    (project["experiments"] / "defaults.yaml").write_text("thesis: maybe\n")
    with pytest.raises(evaluate.ExperimentError, match=r"defaults\.yaml: key thesis"):
        evaluate.load_experiments(project["experiments"])


@pytest.mark.parametrize("name", ["...yaml", "a b.yaml", "x.y.yaml"])
def test_file_names_that_are_not_experiment_names(project, name):
    (project["experiments"] / name).write_text("notebook: 01-tiny\n")
    with pytest.raises(evaluate.ExperimentError, match="rename the file"):
        evaluate.load_experiments(project["experiments"])


def test_cli_exit_code_2_and_message(project, capsys):
    (project["experiments"] / "tiny.yaml").write_text("notebook: 01-tiny\nheadline: 5\n")
    rc = cli.main(["evaluate", "--list", "--experiments", str(project["experiments"])])
    assert rc == exit_codes.USAGE
    err = capsys.readouterr().err
    assert "tiny.yaml: key headline" in err and "Traceback" not in err


def test_the_projects_own_experiments_pass_the_schema():
    exps = evaluate.load_experiments()
    assert {"cost", "runtime", "scenarios"} <= set(exps)
    for exp in exps.values():
        evaluate.validate(exp)
