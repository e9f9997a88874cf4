"""``finops evaluate`` and ``finops figures``: run the experiments headlessly.

An *experiment* is one YAML file in ``experiments/`` (merged over
``experiments/defaults.yaml``)::

    notebook: 03-simulate-scenarios      # notebooks/<notebook>.ipynb
    description: one line for results/index.md
    thesis: false                        # true -> only with --all or by name
    snapshot:                            # which data the notebook reads
      source: sandbox                    # sandbox | path | aws
      world: {seed: 42, n_instances: 20, days: 7}   # sandbox config
      # path: /some/snapshot             # source: path
      # collect: {region: ..., window_start: ..., window_end: ...}  # source: aws, kwargs of collect_snapshot
      # profile: readonly                # source: aws, AWS profile (default: the environment's credentials);
      #                                  # API keys only from ELECTRICITYMAPS_API_KEY / WATTTIME_USERNAME+PASSWORD
    parameters: {n_draws: 500}           # must be declared in the notebook
    headline: [co2_kg_q50]               # metrics shown in results/index.md

The runner (1) validates every selected experiment's parameters against the
notebook's ``parameters`` cell and its snapshot spec (:func:`validate_snapshot_spec`)
before anything runs, (2) collects each distinct
snapshot once into ``results/snapshots/<hash>/`` (reused when present and
valid), (3) executes each notebook with papermill into
``results/<name>.partial/`` and renames it to ``results/<name>/`` on success
(only then replacing the previous result) or to ``results/<name>.FAILED/`` on
failure, naming the notebook and cell (a failed snapshot gives ``<name>.FAILED/error.txt``;
the other experiments still run), and (4) always writes ``results/index.md``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from finops_lib.report import atomic_write_text, export_html

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
#: Parameters the runner sets itself; every notebook must declare them.
RUNNER_PARAMETERS = ("snapshot_dir", "out_dir")
SNAPSHOT_SOURCES = ("sandbox", "path", "aws")


class ExperimentError(ValueError):
    """An experiment definition is invalid (unknown parameter, notebook, source, ...)."""


@dataclass
class Experiment:
    name: str
    notebook: str
    snapshot: dict
    parameters: dict = field(default_factory=dict)
    description: str = ""
    thesis: bool = False
    headline: list = field(default_factory=list)
    html: bool = False

    @property
    def snapshot_key(self) -> str:
        """Hash of the snapshot spec: experiments sharing it share one collection."""
        blob = json.dumps(self.snapshot, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def load_experiments(experiments_dir=ROOT / "experiments") -> dict[str, Experiment]:
    """All experiments of ``experiments_dir`` (``defaults.yaml`` merged under each file)."""
    experiments_dir = Path(experiments_dir)
    defaults_path = experiments_dir / "defaults.yaml"
    defaults = yaml.safe_load(defaults_path.read_text()) if defaults_path.exists() else {}
    known = {"notebook", "snapshot", "parameters", "description", "thesis", "headline", "html"}
    out = {}
    for path in sorted(experiments_dir.glob("*.yaml")):
        if path.name == "defaults.yaml":
            continue
        raw = yaml.safe_load(path.read_text()) or {}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ExperimentError(f"{path.name}: unknown keys {unknown}; allowed {sorted(known)}")
        cfg = _deep_merge(defaults or {}, raw)
        if "notebook" not in cfg:
            raise ExperimentError(f"{path.name}: no 'notebook'")
        src = cfg.get("snapshot", {}).get("source")
        if src not in SNAPSHOT_SOURCES:
            raise ExperimentError(f"{path.name}: snapshot.source {src!r} not one of {SNAPSHOT_SOURCES}")
        out[path.stem] = Experiment(name=path.stem, **{k: v for k, v in cfg.items() if k in known})
    return out


def notebook_path(exp: Experiment, notebooks_dir=ROOT / "notebooks") -> Path:
    p = Path(notebooks_dir) / f"{exp.notebook}.ipynb"
    if not p.exists():
        raise ExperimentError(f"experiment {exp.name!r}: notebook {p} does not exist")
    return p


def validate(exp: Experiment, notebooks_dir=ROOT / "notebooks") -> None:
    """Check the experiment's parameters against the notebook's ``parameters`` cell.

    Raises
    ------
    ExperimentError
        Naming the experiment, the notebook and every undeclared parameter.
    """
    import papermill

    nb = notebook_path(exp, notebooks_dir)
    declared = set(papermill.inspect_notebook(str(nb)))
    if not declared:
        raise ExperimentError(f"notebook {nb.name} has no cell tagged 'parameters'")
    missing_runner = [p for p in RUNNER_PARAMETERS if p not in declared]
    if missing_runner:
        raise ExperimentError(f"notebook {nb.name} does not declare runner parameters {missing_runner}")
    unknown = sorted(set(exp.parameters) - declared)
    if unknown:
        raise ExperimentError(
            f"experiment {exp.name!r}: parameters {unknown} are not declared in {nb.name} (declared: {sorted(declared)})"
        )
    reserved = sorted(set(exp.parameters) & set(RUNNER_PARAMETERS))
    if reserved:
        raise ExperimentError(f"experiment {exp.name!r}: {reserved} are set by the runner; use snapshot: instead")


def ensure_snapshot(exp: Experiment, results_dir: Path, progress: bool = False) -> Path:
    """Collect (or reuse) the experiment's snapshot; returns its directory."""
    return _ensure_spec(exp.snapshot, exp.snapshot_key, results_dir, progress)


def open_snapshot(snapshot_dir: str = "", world: dict | None = None, cache_dir=None):
    """The snapshot a notebook reads.

    ``snapshot_dir`` set (the runner always sets it): read that snapshot.
    Empty: collect (once, then reuse) a sandbox snapshot with ``world`` config
    into ``cache_dir`` (default ``results/snapshots``) -- the notebooks' fast
    offline default.
    """
    from finops_lib.snapshot import read_snapshot

    if snapshot_dir:
        return read_snapshot(snapshot_dir)
    spec = {"source": "sandbox", "world": dict(world or {})}
    key = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return read_snapshot(_ensure_spec(spec, key, Path(cache_dir or ROOT / "results"), progress=False))


#: Spec keys (at any depth) that look like secrets; the spec is written to
#: ``results/snapshots/<hash>.spec.json``, so secrets must come from the
#: environment / AWS profile instead.
_SECRET_KEY_PARTS = ("key", "secret", "password", "token", "credentials")
#: Keys of ``snapshot.collect`` the runner sets itself (source: aws).
_RUNNER_COLLECT_KEYS = ("session", "out_dir")
_REQUIRED_COLLECT_KEYS = ("region", "window_start", "window_end")


def _secret_keys(obj, prefix: str = "") -> list[str]:
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            name = f"{prefix}{k}"
            if any(part in str(k).lower() for part in _SECRET_KEY_PARTS):
                found.append(name)
            found += _secret_keys(v, f"{name}.")
    return found


def validate_snapshot_spec(spec: dict, name: str = "") -> None:
    """Check a ``snapshot:`` spec without collecting anything.

    sandbox: ``world`` must build a :class:`finops_lib.sandbox.WorldConfig`;
    path: ``path`` must be given and exist; aws: ``collect`` must hold
    ``region``, ``window_start``, ``window_end`` and only arguments of
    :func:`finops_lib.collect.collect_snapshot`. No source may carry a
    secret-looking key (``*key*``, ``*secret*``, ``*password*``, ``*token*``,
    ``*credentials*``): API keys come from the environment
    (``ELECTRICITYMAPS_API_KEY``, ``WATTTIME_USERNAME``/``WATTTIME_PASSWORD``)
    and AWS credentials from ``snapshot.profile``.

    Raises
    ------
    ExperimentError
        Naming the experiment and the offending key or value.
    """
    where = f"experiment {name!r}: snapshot" if name else "snapshot"
    if not isinstance(spec, dict):
        raise ExperimentError(f"{where} must be a mapping, got {spec!r}")
    source = spec.get("source")
    if source not in SNAPSHOT_SOURCES:
        raise ExperimentError(f"{where}.source {source!r} not one of {SNAPSHOT_SOURCES}")
    secrets = _secret_keys(spec)
    if secrets:
        raise ExperimentError(
            f"{where} contains secret-looking key(s) {secrets}; the spec is written to results/snapshots/. "
            "Use snapshot.profile for AWS and the environment (ELECTRICITYMAPS_API_KEY, WATTTIME_USERNAME/"
            "WATTTIME_PASSWORD) for API keys"
        )
    if source == "sandbox":
        from finops_lib.sandbox import WorldConfig

        try:
            WorldConfig.from_dict(spec.get("world"))
        except (ValueError, TypeError) as exc:
            raise ExperimentError(f"{where}.world: {exc}") from None
    elif source == "path":
        if not spec.get("path"):
            raise ExperimentError(f"{where}: source 'path' needs snapshot.path")
        path = Path(spec["path"]).expanduser()
        if not (path / "manifest.json").exists():
            raise ExperimentError(f"{where}.path {str(path)!r} is not a snapshot (no manifest.json)")
    else:  # aws
        import inspect

        from finops_lib.collect import collect_snapshot

        collect = spec.get("collect") or {}
        if not isinstance(collect, dict):
            raise ExperimentError(f"{where}.collect must be a mapping, got {collect!r}")
        missing = [k for k in _REQUIRED_COLLECT_KEYS if k not in collect]
        if missing:
            raise ExperimentError(f"{where}.collect misses {missing} (source 'aws')")
        reserved = sorted(set(collect) & set(_RUNNER_COLLECT_KEYS))
        if reserved:
            raise ExperimentError(f"{where}.collect: {reserved} are set by the runner")
        params = inspect.signature(collect_snapshot).parameters
        accepted = set(params) - set(_RUNNER_COLLECT_KEYS)
        unknown = sorted(set(collect) - accepted)
        if unknown and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            raise ExperimentError(f"{where}.collect: unknown argument(s) {unknown}; accepted {sorted(accepted)}")
        profile = spec.get("profile")
        if profile is not None and not isinstance(profile, str):
            raise ExperimentError(f"{where}.profile must be an AWS profile name, got {profile!r}")


def _ensure_spec(spec: dict, key: str, results_dir: Path, progress: bool) -> Path:
    from finops_lib.snapshot import SnapshotError, read_snapshot

    validate_snapshot_spec(spec)
    if spec["source"] == "path":
        path = Path(spec["path"]).expanduser()
        read_snapshot(path)  # fail early on a corrupted snapshot
        return path.resolve()
    target = (Path(results_dir) / "snapshots" / key).resolve()
    if (target / "manifest.json").exists():
        try:
            read_snapshot(target)
            log.info("reusing snapshot %s", target)
            return target
        except (SnapshotError, OSError, ValueError) as exc:
            log.warning("snapshot %s is invalid (%s); collecting again", target, exc)
            shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if spec["source"] == "sandbox":
        from finops_lib.sandbox import collect_sandbox_snapshot

        collect_sandbox_snapshot(target, config=dict(spec.get("world") or {}), progress=progress)
    else:  # aws
        _collect_aws(spec, target, progress)
    atomic_write_text(target.parent / f"{key}.spec.json", json.dumps(spec, indent=2, sort_keys=True) + "\n")
    return target


def _collect_aws(spec: dict, target: Path, progress: bool) -> Path:
    """``source: aws``: a boto3 session from ``snapshot.profile``; API keys from the environment, read now."""
    import os

    import boto3
    from botocore.exceptions import BotoCoreError

    from finops_lib.collect import collect_snapshot

    collect = dict(spec.get("collect") or {})
    try:
        session = boto3.Session(profile_name=spec.get("profile"), region_name=collect["region"])
    except BotoCoreError as exc:  # e.g. ProfileNotFound
        raise ExperimentError(f"snapshot.profile {spec.get('profile')!r}: {exc}") from None
    wt_user, wt_password = os.environ.get("WATTTIME_USERNAME"), os.environ.get("WATTTIME_PASSWORD")
    collect.setdefault("progress", progress)
    return collect_snapshot(
        session,
        out_dir=target,
        electricitymaps_api_key=os.environ.get("ELECTRICITYMAPS_API_KEY"),
        watttime_credentials=(wt_user, wt_password) if wt_user and wt_password else None,
        **collect,
    )


def run_experiment(exp: Experiment, snapshot_dir: Path, results_dir: Path, notebooks_dir=ROOT / "notebooks") -> Path:
    """Execute one notebook into ``results/<name>.partial`` and publish it.

    Returns the published directory. On failure the partial run is renamed to
    ``<name>.FAILED`` (replacing an older failure), the previous good result is
    left untouched, and :class:`RuntimeError` names the notebook and cell.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    nb = notebook_path(exp, notebooks_dir)
    final = results_dir / exp.name
    partial = results_dir / f"{exp.name}.partial"
    failed = results_dir / f"{exp.name}.FAILED"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    executed = partial / nb.name
    params = {**exp.parameters, "snapshot_dir": str(snapshot_dir), "out_dir": str(partial.resolve())}
    try:
        papermill.execute_notebook(
            str(nb), str(executed), parameters=params, cwd=str(partial), progress_bar=False, kernel_name="python3"
        )
        if exp.html:
            export_html(executed, partial / f"{nb.stem}.html")
    except PapermillExecutionError as exc:
        _mark_failed(partial, failed)
        raise RuntimeError(
            f"experiment {exp.name!r}: notebook {nb.name} failed in cell {exc.cell_index} "
            f"(execution count {exc.exec_count}): {exc.ename}: {exc.evalue}. Partial run kept in {failed}"
        ) from None
    except (RuntimeError, OSError, TimeoutError, ValueError) as exc:  # dead kernel, timeout, I/O
        _mark_failed(partial, failed)
        raise RuntimeError(f"experiment {exp.name!r}: notebook {nb.name} could not run: {exc!r}. Partial run kept in {failed}") from exc
    # publish: move the old result aside only now
    old = results_dir / f".{exp.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        final.rename(old)
    try:
        partial.rename(final)
    except OSError:
        if old.exists() and not final.exists():
            old.rename(final)  # never lose the earlier good result
        raise
    if old.exists():
        shutil.rmtree(old)
    if failed.exists():
        shutil.rmtree(failed)
    return final


def _mark_failed(partial: Path, failed: Path) -> None:
    if failed.exists():
        shutil.rmtree(failed)
    partial.rename(failed)


def write_index(experiments: dict[str, Experiment], results_dir: Path) -> Path:
    """``results/index.md``: each experiment's headline metrics with links."""
    lines = [
        "# Results",
        "",
        "Generated by `finops evaluate`; numbers come from each experiment's `metrics.json`.",
        "",
        "| experiment | notebook | data | headline metrics | links |",
        "|---|---|---|---|---|",
    ]
    for name, exp in sorted(experiments.items()):
        d = results_dir / name
        if (results_dir / f"{name}.FAILED").exists():
            status = f"**FAILED** (see `{name}.FAILED/`)"
        else:
            status = ""
        if not (d / "metrics.json").exists():
            lines.append(f"| {name} | {exp.notebook} | -- | {status or 'not run'} | |")
            continue
        doc = json.loads((d / "metrics.json").read_text())
        m = doc.get("metrics", {})
        keys = exp.headline or list(m)[:6]
        shown = "<br>".join(f"`{k}` = {_fmt(m.get(k))}" for k in keys)
        data = f"{'SIMULATED ' if doc.get('is_simulated') else ''}{doc.get('snapshot_id') or ''}"
        links = [f"[notebook]({name}/{exp.notebook}.ipynb)", f"[metrics]({name}/metrics.json)"]
        if (d / f"{exp.notebook}.html").exists():
            links.append(f"[html]({name}/{exp.notebook}.html)")
        if (d / "figures").exists():
            links.append(f"[figures]({name}/figures/)")
        lines.append(f"| {name} | {exp.notebook} | {data} | {shown} {status} | {' '.join(links)} |")
    return atomic_write_text(results_dir / "index.md", "\n".join(lines) + "\n")


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def select(experiments: dict[str, Experiment], names: list[str], include_thesis: bool) -> list[Experiment]:
    unknown = sorted(set(names) - set(experiments))
    if unknown:
        raise ExperimentError(f"unknown experiment(s) {unknown}; known: {sorted(experiments)}")
    if names:
        return [experiments[n] for n in names]
    return [e for e in experiments.values() if include_thesis or not e.thesis]


def evaluate(
    names: list[str] | None = None,
    include_thesis: bool = False,
    experiments_dir=ROOT / "experiments",
    notebooks_dir=ROOT / "notebooks",
    results_dir=ROOT / "results",
    progress: bool = True,
) -> int:
    """Run experiments; returns 0 if all succeeded, 1 otherwise (failures are printed)."""
    from tqdm import tqdm

    results_dir = Path(results_dir)
    experiments = load_experiments(experiments_dir)
    chosen = select(experiments, list(names or []), include_thesis)
    for exp in chosen:  # everything is checked before anything runs
        validate(exp, notebooks_dir)
        validate_snapshot_spec(exp.snapshot, exp.name)
    snapshots: dict[str, Path] = {}
    snapshot_errors: dict[str, str] = {}
    failures = []
    try:
        bar = tqdm(chosen, desc="notebooks", unit="nb", disable=not progress, file=sys.stderr)
        for exp in bar:
            bar.set_postfix_str(exp.name)
            try:
                if exp.snapshot_key in snapshot_errors:  # do not collect a failing snapshot twice
                    raise RuntimeError(f"experiment {exp.name!r}: snapshot failed: {snapshot_errors[exp.snapshot_key]}")
                if exp.snapshot_key not in snapshots:
                    try:
                        snapshots[exp.snapshot_key] = ensure_snapshot(exp, results_dir)
                    except (RuntimeError, ValueError, OSError, KeyError) as exc:
                        snapshot_errors[exp.snapshot_key] = repr(exc)
                        raise
                run_experiment(exp, snapshots[exp.snapshot_key], results_dir, notebooks_dir)
            except (RuntimeError, ValueError, OSError, KeyError) as exc:
                msg = str(exc) if isinstance(exc, RuntimeError) else repr(exc)
                if not msg.startswith(f"experiment {exp.name!r}"):
                    msg = f"experiment {exp.name!r}: {msg}"
                failures.append(msg)
                _record_failure(exp, results_dir, msg)
                tqdm.write(f"FAILED: {msg}", file=sys.stderr)
    finally:
        write_index(experiments, results_dir)
    for f in failures:
        print(f"FAILED: {f}", file=sys.stderr)
    return 1 if failures else 0


def _record_failure(exp: Experiment, results_dir: Path, message: str) -> None:
    """Make sure ``<name>.FAILED/`` exists (a snapshot failure leaves no partial run) and holds the error."""
    failed = Path(results_dir) / f"{exp.name}.FAILED"
    try:
        failed.mkdir(parents=True, exist_ok=True)
        atomic_write_text(failed / "error.txt", message + "\n")
    except OSError as exc:
        log.error("could not record the failure of %s in %s: %s", exp.name, failed, exc)


def collect_figures(out_dir, results_dir=ROOT / "results") -> list[Path]:
    """Copy every ``results/<experiment>/figures/*.{pdf,png}`` into one flat folder.

    Files are named ``<experiment>--<figure>.<ext>``; failed/partial runs are skipped.
    ``<out_dir>/manifest.json`` says where each came from (see :func:`figures_manifest`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    copied = []
    for fig in sorted(Path(results_dir).glob("*/figures/*")):
        exp = fig.parent.parent.name
        if exp.endswith((".partial", ".FAILED")) or exp.startswith(".") or fig.suffix not in (".pdf", ".png"):
            continue
        dest = out_dir / f"{exp}--{fig.name}"
        shutil.copy2(fig, dest)
        copied.append(dest)
    figures_manifest(copied, out_dir, results_dir)
    return copied


def figures_manifest(copied: list[Path], out_dir, results_dir=ROOT / "results") -> Path:
    """``<out_dir>/manifest.json``: figure -> experiment, snapshot id, simulated, git commit.

    Read from each experiment's ``metrics.json`` (the run that drew the
    figure); ``null`` where that file is missing -- never guessed.
    """
    entries = []
    for dest in copied:
        exp, name = dest.stem.split("--", 1)
        metrics_path = Path(results_dir) / exp / "metrics.json"
        doc = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
        entries.append({"file": dest.name, "figure": name, "experiment": exp,
                        "snapshot_id": doc.get("snapshot_id"), "is_simulated": doc.get("is_simulated"),
                        "git_commit": doc.get("git_commit")})
    text = json.dumps({"figures": entries}, indent=2, sort_keys=True) + "\n"
    return atomic_write_text(Path(out_dir) / "manifest.json", text)


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #
def _cmd_evaluate(args) -> int:
    try:
        if args.list:
            for name, exp in sorted(load_experiments(args.experiments).items()):
                print(f"{name:<32} {exp.notebook:<28} {'thesis' if exp.thesis else 'default':<8} {exp.description}")
            return 0
        return evaluate(args.names, args.all, args.experiments, args.notebooks, args.results, progress=not args.no_progress)
    except (ExperimentError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _cmd_figures(args) -> int:
    copied = collect_figures(args.out, args.results)
    print(f"copied {len(copied)} figure files into {args.out} (sources in {args.out / 'manifest.json'})")
    return 0 if copied else 1


def register(subparsers) -> None:
    """Add the ``evaluate`` and ``figures`` subcommands."""
    p = subparsers.add_parser("evaluate", help="run experiments (notebooks) into results/")
    p.add_argument("names", nargs="*", metavar="NAME", help="experiments to run (default: all non-thesis ones)")
    p.add_argument("--all", action="store_true", help="include the thesis-size experiments (slow)")
    p.add_argument("--list", action="store_true", help="list experiments and exit")
    p.add_argument("--experiments", type=Path, default=ROOT / "experiments", help="experiment YAML folder")
    p.add_argument("--notebooks", type=Path, default=ROOT / "notebooks", help="notebook folder")
    p.add_argument("--results", type=Path, default=ROOT / "results", help="results folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_evaluate)
    f = subparsers.add_parser("figures", help="copy all result figures into one flat folder")
    f.add_argument("--out", type=Path, default=ROOT / "results" / "figures-all", help="target folder (e.g. THESIS_DIR)")
    f.add_argument("--results", type=Path, default=ROOT / "results", help="results folder")
    f.set_defaults(func=_cmd_figures)
