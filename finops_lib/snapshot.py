"""Snapshots: what one collection produced, frozen and hashed.

A snapshot is a directory with one Parquet file per table of the contract
(:mod:`finops_lib.schema`) plus ``manifest.json``. It is written into a
temporary sibling directory and renamed into place, so a reader sees either a
whole snapshot or none. Reading verifies every table's sha256: a corrupted or
half-written snapshot raises :class:`SnapshotError`, it never yields a result.

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

from finops_lib import schema

MANIFEST = "manifest.json"
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
        """True for sandbox data (never to be reported as a real fleet)."""
        return self.manifest.get("source") == "sandbox" or bool(self.manifest.get("simulated"))

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


def _snapshot_id(tables_meta: dict, manifest: dict) -> str:
    ident = {
        "tables": {k: v["sha256"] for k, v in sorted(tables_meta.items())},
        **{k: manifest.get(k) for k in ("source", "region", "zone", "window_start", "window_end")},
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


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
    man["window_start"] = _iso_utc(man["window_start"])
    man["window_end"] = _iso_utc(man["window_end"])
    # Sandbox data is always labelled simulated (DESIGN.md, rules that hold everywhere).
    man["simulated"] = bool(manifest.get("simulated", False)) or man["source"] == "sandbox"

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
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
                "refusing to replace it. Choose another (new or empty) directory."
            )
        if old_id != snapshot_id and not overwrite:
            raise SnapshotError(
                f"{out_dir} already holds snapshot {old_id}; new snapshot is {snapshot_id}. "
                "Choose another directory or pass overwrite=True."
            )
        trash = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        os.replace(out_dir, trash / "old")
        os.replace(tmp, out_dir)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(tmp, out_dir)


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
    if not isinstance(manifest, dict):
        raise SnapshotError(f"{man_path} is not a JSON object (found {type(manifest).__name__})")
    if not isinstance(manifest.get("tables"), dict):
        raise SnapshotError(f"{man_path} has no 'tables' entry")
    tables = {}
    for name, info in manifest["tables"].items():
        if not isinstance(info, dict):
            raise SnapshotError(f"{man_path}: entry of table {name!r} is not an object: {info!r}")
        file = path / info.get("file", f"{name}.parquet")
        if not file.is_file():
            raise SnapshotError(f"table {name!r}: file {file} is missing")
        digest = _sha256(file)
        if digest != info.get("sha256"):
            raise SnapshotError(
                f"table {name!r}: {file} has sha256 {digest}, manifest says {info.get('sha256')} "
                "(file changed or corrupted)"
            )
        try:
            df = pq.read_table(file).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise SnapshotError(f"table {name!r}: cannot read {file}: {exc}") from exc
        tables[name] = schema.conform(name, df)
    return Snapshot(path=path, manifest=manifest, tables=tables)
