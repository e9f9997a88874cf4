"""Snapshots: what one collection produced, frozen and hashed.

A snapshot is a directory with one Parquet file per table of the contract
(:mod:`finops_lib.schema`) plus ``manifest.json``. It is written into a
temporary sibling directory and renamed into place, so a reader sees either a
whole snapshot or none. Reading verifies every table's sha256: a corrupted or
half-written snapshot raises :class:`SnapshotError`, it never yields a result.

Every manifest is validated on read (:func:`validate_manifest`): all contract
tables present, identity fields present, row counts and hashes matching, table
files inside the folder. The ``snapshot_id`` hashes the tables *and* the
identity fields (:data:`IDENTITY_FIELDS`: source, simulated, region, zone,
window, endpoints), so editing ``"simulated": false`` into a sandbox manifest
makes the snapshot unreadable instead of relabelling simulated data as real.

Writers hold the target's lock (:mod:`finops_lib.storage`); a folder is only
replaced when it holds nothing but the snapshot the manifest lists.

Parquet files are written deterministically: the same tables give
byte-identical files (no pandas index, row order as given, no timestamps in
the file metadata), so the per-table sha256 identifies content.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from finops_lib import schema, storage

MANIFEST = "manifest.json"
#: Manifest fields that, with the tables' hashes, make up the ``snapshot_id``.
IDENTITY_FIELDS = ("source", "simulated", "region", "zone", "window_start", "window_end", "endpoints")
#: Values of ``source``.
SOURCES = ("aws", "sandbox")
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
#: Packages whose versions go into every manifest.
PACKAGES = (
    "finops_lib", "numpy", "pandas", "pyarrow", "scipy", "boto3", "botocore",
    "requests", "requests-cache", "moto",
)
#: Manifest keys every reader may rely on (filled with defaults when absent).
MANIFEST_DEFAULTS: dict[str, Any] = {
    "source": "aws",
    "simulated": False,
    "region": None,
    "zone": None,
    "window_start": None,
    "window_end": None,
    "api_calls": {},
    "coverage": {},
    "gaps": [],
    "warnings": [],
}


class SnapshotError(RuntimeError):
    """A snapshot is missing, incomplete, corrupted or would be overwritten."""


@dataclass
class Snapshot:
    """A snapshot read from disk, hashes verified.

    Attributes
    ----------
    path : Path
        Snapshot directory.
    manifest : dict
        Contents of ``manifest.json``.
    tables : dict of str to DataFrame
        Every table, conformed to :mod:`finops_lib.schema`.
    """

    path: Path
    manifest: dict
    tables: dict[str, pd.DataFrame] = field(repr=False)

    def __getitem__(self, name: str) -> pd.DataFrame:
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(f"snapshot {self.path} has no table {name!r}; it has {sorted(self.tables)}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    @property
    def snapshot_id(self) -> str:
        return self.manifest["snapshot_id"]

    @property
    def window_start(self) -> pd.Timestamp:
        """Start of the collected window (inclusive). [UTC]"""
        return pd.Timestamp(self.manifest["window_start"]).tz_convert("UTC")

    @property
    def window_end(self) -> pd.Timestamp:
        """End of the collected window (exclusive). [UTC]"""
        return pd.Timestamp(self.manifest["window_end"]).tz_convert("UTC")

    @property
    def is_simulated(self) -> bool:
        """True for sandbox data and for data from non-AWS endpoints (never to be reported as a real fleet)."""
        return self.manifest["source"] == "sandbox" or self.manifest["simulated"] is not False

    @property
    def zone(self) -> str:
        """Grid zone of the snapshot (manifest, else the region's zone in ``factors.REGION_ZONE``)."""
        from finops_lib import factors

        region = self.manifest.get("region", "eu-central-1")
        zone = self.manifest.get("zone") or factors.REGION_ZONE.get(region)
        if not zone:
            raise SnapshotError(f"{self.path}: no zone in the manifest and none known for region {region!r}")
        return zone

    def intensity(self) -> pd.Series:
        """Hourly grid intensity of the snapshot's zone inside its window, by hour. [gCO2e/kWh]

        Hours the source did not deliver are absent (a gap), never filled.
        """
        ih = self["intensity_hourly"]
        s = ih[ih["zone"] == self.zone].set_index("hour")["intensity_g_per_kwh"].sort_index()
        return s[(s.index >= self.window_start) & (s.index < self.window_end)]

    def usd_per_hour(self) -> dict[str, float]:
        """On-demand list price per instance type (``prices`` table). [USD/h]"""
        return self["prices"].drop_duplicates("instance_type").set_index("instance_type")["usd_per_hour"].to_dict()


def _iso_utc(value) -> str | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.isoformat()


def _json_default(obj):
    if isinstance(obj, pd.Timestamp | datetime):
        return _iso_utc(obj)
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    raise TypeError(f"manifest value of type {type(obj).__name__} is not JSON-serialisable: {obj!r}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    # Fixed writer options, no statistics timestamps: same input -> same bytes.
    pq.write_table(table, path, compression="zstd", write_statistics=True, use_dictionary=True)


def git_commit(repo_dir: Path | None = None) -> str | None:
    """HEAD commit of the repository holding ``repo_dir`` (default: this package), or None."""
    repo_dir = Path(repo_dir) if repo_dir is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo_dir, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def package_versions(names=PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (None when not installed)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _endpoint_identity(url):
    """An endpoint URL as it enters the snapshot id: loopback ports dropped (they change every run)."""
    if not isinstance(url, str):
        return url
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if host in _LOOPBACK_HOSTS:
        return f"{parts.scheme}://{host}{parts.path.rstrip('/')}"
    return url.rstrip("/")


def _snapshot_id(tables_meta: dict, manifest: dict) -> str:
    """sha256 over the tables' hashes and the manifest's :data:`IDENTITY_FIELDS` (first 16 hex digits)."""
    ident = {
        "tables": {k: v["sha256"] for k, v in sorted(tables_meta.items())},
        **{k: manifest.get(k) for k in IDENTITY_FIELDS},
    }
    endpoints = ident.get("endpoints")
    if isinstance(endpoints, dict):
        ident["endpoints"] = {k: _endpoint_identity(v) for k, v in endpoints.items()}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_snapshot(tables: dict[str, pd.DataFrame], manifest: dict, out_dir, *, overwrite: bool = False) -> Path:
    """Write ``tables`` and ``manifest`` as a snapshot directory, atomically.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Contract tables (see :data:`finops_lib.schema.ALL_TABLES`); each is
        passed through :func:`finops_lib.schema.conform`.
    manifest : dict
        Collection metadata (source, region, zone, window_start, window_end,
        api_calls, coverage, gaps, warnings, ...). Not modified.
    out_dir : path-like
        Target directory. Written to a temporary sibling, then renamed.
    overwrite : bool, default False
        Replace an existing snapshot with different content. An existing
        snapshot with the same ``snapshot_id`` is replaced without asking.
        A non-empty directory that is not a snapshot (no ``manifest.json``
        with a ``snapshot_id``) is never replaced.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    SnapshotError
        ``out_dir`` is an existing file; or it is a non-empty directory that
        is not a snapshot; or it holds a different snapshot and ``overwrite``
        is False.
    finops_lib.schema.SchemaError
        A table does not match the contract.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise SnapshotError(f"{out_dir} is a file, not a directory; choose a directory path for the snapshot")
    conformed = {name: schema.conform(name, df) for name, df in tables.items()}
    man = {**MANIFEST_DEFAULTS, **manifest}
    if man["source"] not in SOURCES:
        raise SnapshotError(f"manifest source {man['source']!r} is not one of {SOURCES}")
    man["window_start"] = _iso_utc(man["window_start"])
    man["window_end"] = _iso_utc(man["window_end"])
    # Sandbox data is always labelled simulated (DESIGN.md, rules that hold everywhere).
    man["simulated"] = bool(manifest.get("simulated", False)) or man["source"] == "sandbox"

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with storage.lock(storage.lock_path_for(out_dir), f"snapshot target {out_dir}", wait=True):
        prepare_target(out_dir, raw=False)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
        try:
            os.chmod(tmp, storage.dir_mode())  # mkdtemp gives 0700; the files are 0644
            tables_meta = {}
            for name, df in conformed.items():
                path = tmp / f"{name}.parquet"
                _write_parquet(df, path)
                tables_meta[name] = {"rows": int(len(df)), "sha256": _sha256(path), "file": path.name}
            man["tables"] = tables_meta
            man["snapshot_id"] = _snapshot_id(tables_meta, man)
            man["created_at"] = datetime.now(UTC).isoformat()
            man["git_commit"] = git_commit()
            man["packages"] = package_versions()
            text = json.dumps(man, indent=2, sort_keys=True, default=_json_default)
            (tmp / MANIFEST).write_text(text + "\n", encoding="utf-8")
            _replace_dir(tmp, out_dir, man["snapshot_id"], overwrite)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return out_dir


def prepare_target(out_dir, raw: bool = True) -> str | None:
    """Repair an interrupted replacement of ``out_dir`` and delete the tool's stale temp folders.

    Call while holding ``out_dir``'s lock: ``.<name>.old-*`` is put back if
    ``out_dir`` is missing (else deleted), ``.<name>.tmp-*`` (and with ``raw``
    the sandbox's ``.<name>.raw-*``) are deleted. Returns a note when
    something was restored.
    """
    out_dir = Path(out_dir)
    note = storage.recover(out_dir)
    prefixes = (f".{out_dir.name}.tmp-",) + ((f".{out_dir.name}.raw-",) if raw else ())
    storage.remove_stale(out_dir.parent, prefixes)
    return note


def _existing_snapshot_id(out_dir: Path) -> str | None:
    """``snapshot_id`` of the manifest in ``out_dir``; None when it holds no readable snapshot manifest."""
    existing = out_dir / MANIFEST
    if not existing.is_file():
        return None
    try:
        man = json.loads(existing.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return None
    old_id = man.get("snapshot_id") if isinstance(man, dict) else None
    return old_id if isinstance(old_id, str) and old_id else None


def _replace_dir(tmp: Path, out_dir: Path, snapshot_id: str, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise SnapshotError(f"{out_dir} is a file, not a directory; choose a directory path for the snapshot")
    if out_dir.exists() and any(out_dir.iterdir()):
        old_id = _existing_snapshot_id(out_dir)
        if old_id is None:
            # Never delete a directory we did not write, whatever overwrite says.
            raise SnapshotError(
                f"{out_dir} is not empty and is not a snapshot (no {MANIFEST} with a snapshot_id); "
                "refusing to replace it, nothing was deleted. Choose another (new or empty) directory."
            )
        try:
            storage.check_owned(out_dir, "snapshot")
        except storage.ForeignDataError as exc:
            raise SnapshotError(str(exc)) from None
        if old_id != snapshot_id and not overwrite:
            raise SnapshotError(
                f"{out_dir} already holds snapshot {old_id}; new snapshot is {snapshot_id}. "
                "Choose another directory or pass overwrite=True."
            )
        storage.replace_dir(tmp, out_dir)
    else:
        if out_dir.exists():
            out_dir.rmdir()
        os.rename(tmp, out_dir)


def read_snapshot(path) -> Snapshot:
    """Read a snapshot directory and verify every table's sha256.

    Parameters
    ----------
    path : path-like
        Snapshot directory (or its ``manifest.json``).

    Returns
    -------
    Snapshot

    Raises
    ------
    SnapshotError
        Missing or unreadable manifest, missing table file, or a hash that
        does not match (the message names the file).
    """
    path = Path(path)
    if path.name == MANIFEST:
        path = path.parent
    man_path = path / MANIFEST
    if not man_path.is_file():
        raise SnapshotError(f"{man_path} not found: {path} is not a (complete) snapshot")
    try:
        manifest = json.loads(man_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"{man_path} is not valid JSON: {exc}") from exc
    validate_manifest(manifest, path)
    tables = {}
    for name, info in manifest["tables"].items():
        file = path / info["file"]
        if not file.is_file():
            raise SnapshotError(f"table {name!r}: file {file} is missing")
        digest = _sha256(file)
        if digest != info["sha256"]:
            raise SnapshotError(
                f"table {name!r}: {file} has sha256 {digest}, manifest says {info['sha256']} "
                "(file changed or corrupted)"
            )
        try:
            df = pq.read_table(file).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise SnapshotError(f"table {name!r}: cannot read {file}: {exc}") from exc
        if len(df) != info["rows"]:
            raise SnapshotError(f"table {name!r}: {file} has {len(df)} rows, manifest says {info['rows']}")
        try:
            tables[name] = schema.conform(name, df)
        except schema.SchemaError as exc:
            raise SnapshotError(f"table {name!r} in {file}: {exc}") from exc
    return Snapshot(path=path, manifest=manifest, tables=tables)


def _fail(man_path: Path, msg: str):
    raise SnapshotError(f"{man_path}: {msg}; the snapshot is not used (collect it again)")


def validate_manifest(manifest, path) -> None:
    """Check a manifest strictly before any table is opened.

    Every contract table (:data:`finops_lib.schema.TABLES`) listed, only known
    tables, each with a plain file name inside the folder, an integer row count
    and a sha256; ``snapshot_id``, ``source`` (aws/sandbox), ``simulated``
    (true for sandbox), ``region``, ``window_start`` < ``window_end`` present;
    and the ``snapshot_id`` recomputed from tables and :data:`IDENTITY_FIELDS`
    equal to the recorded one.

    Raises
    ------
    SnapshotError
        Naming the manifest and the first problem found.
    """
    path = Path(path)
    man_path = path / MANIFEST
    if not isinstance(manifest, dict):
        _fail(man_path, f"is not a JSON object (found {type(manifest).__name__})")
    tables = manifest.get("tables")
    if not isinstance(tables, dict):
        _fail(man_path, "has no 'tables' entry")
    unknown = sorted(set(tables) - set(schema.ALL_TABLES))
    if unknown:
        _fail(man_path, f"lists unknown tables {unknown}")
    missing = [t for t in schema.TABLES if t not in tables]
    if missing:
        _fail(man_path, f"misses contract tables {missing}")
    root = path.resolve()
    for name, info in tables.items():
        if not isinstance(info, dict):
            _fail(man_path, f"entry of table {name!r} is not an object: {info!r}")
        file = info.get("file")
        if not isinstance(file, str) or not file or "/" in file or "\\" in file or file.startswith("."):
            _fail(man_path, f"table {name!r} has file {file!r}; expected a plain file name inside the snapshot")
        if (path / file).resolve().parent != root:
            _fail(man_path, f"table {name!r}: file {file!r} lies outside the snapshot folder")
        rows = info.get("rows")
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            _fail(man_path, f"table {name!r} has row count {rows!r}")
        sha = info.get("sha256")
        if not isinstance(sha, str) or len(sha) != 64:
            _fail(man_path, f"table {name!r} has no sha256")
    snapshot_id = manifest.get("snapshot_id")
    if not isinstance(snapshot_id, str) or not snapshot_id:
        _fail(man_path, "has no snapshot_id")
    source = manifest.get("source")
    if source not in SOURCES:
        _fail(man_path, f"source {source!r} is not one of {SOURCES}")
    simulated = manifest.get("simulated")
    if not isinstance(simulated, bool):
        _fail(man_path, f"'simulated' must be true or false, found {simulated!r}")
    if source == "sandbox" and not simulated:
        _fail(man_path, "says source 'sandbox' but simulated false")
    if not isinstance(manifest.get("region"), str) or not manifest["region"]:
        _fail(man_path, "has no region")
    try:
        start, end = pd.Timestamp(manifest.get("window_start")), pd.Timestamp(manifest.get("window_end"))
    except (TypeError, ValueError) as exc:
        _fail(man_path, f"window is not a pair of times: {exc}")
    if pd.isna(start) or pd.isna(end) or start.tzinfo is None or end.tzinfo is None or not start < end:
        _fail(man_path, f"window [{manifest.get('window_start')}, {manifest.get('window_end')}) is not a "
                        "non-empty UTC interval")
    expected = _snapshot_id(tables, manifest)
    if expected != snapshot_id:
        _fail(man_path, f"snapshot_id {snapshot_id} does not match its tables and identity fields "
                        f"{list(IDENTITY_FIELDS)} (recomputed {expected}): the manifest was edited")
