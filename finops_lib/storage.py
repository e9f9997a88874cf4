"""Safe storage of snapshots and results: locks, ownership, publishing without a gap.

Guarantees (README, "Guarantees"):

- **One writer per target.** :func:`lock` takes an exclusive ``fcntl.flock``
  on a lock file named after the target's resolved path, in a per-user folder
  of the temp directory (:func:`lock_path_for`; nothing is added to the user's
  folders). A second run either waits for it or stops with :class:`BusyError`
  naming the holder. The kernel releases the lock when the
  holder dies (even on SIGKILL), so a crash never leaves a stale lock.
- **Never delete what the tool did not write.** A folder is replaced only when
  :func:`check_owned` finds that every entry in it is listed by a file the
  tool owns (a result's :data:`RESULT_MARKER`; a snapshot's ``manifest.json``).
  Anything else -- a user's ``notes.md``, an ``analysis/`` folder -- makes the
  replacement stop with :class:`ForeignDataError`, which says what to do.
- **No window without a result.** :func:`replace_dir` swaps the new folder in
  with one atomic ``renameat2(RENAME_EXCHANGE)`` where the kernel offers it;
  elsewhere it renames the old folder aside first, and :func:`recover` (run
  under the lock at the next start) puts such an orphaned old folder back.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

#: File in every published result folder: says the tool wrote it and lists its files.
RESULT_MARKER = ".finops-result.json"


class BusyError(RuntimeError):
    """Another finops run holds the lock of the same results folder or snapshot target."""


class ForeignDataError(RuntimeError):
    """A folder holds files the tool did not write; it is never replaced or deleted."""


class OutputError(ValueError):
    """An output location cannot be written (found before any collection or run starts)."""


# --------------------------------------------------------------------------- #
# locks
# --------------------------------------------------------------------------- #
_held: dict[str, list] = {}  # lock path -> [fd, depth, thread id]
_registry = threading.Lock()


def lock_path_for(target) -> Path:
    """The lock file of a target folder: ``<tmp>/finops-locks-<uid>/<sha256 of its resolved path>.lock``."""
    resolved = str(Path(target).expanduser().resolve())
    digest = hashlib.sha256(resolved.encode()).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / f"finops-locks-{os.getuid()}" / f"{digest}.lock"


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "unknown process"


@contextlib.contextmanager
def lock(lock_file, what: str, wait: bool | float = False, poll_s: float = 0.1) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` for the ``with`` block.

    Re-entrant within one thread (a collection that already holds its target's
    lock may call :func:`finops_lib.snapshot.write_snapshot`, which locks again).

    Parameters
    ----------
    lock_file : path-like
        Created if missing; never deleted (deleting a lock file races with waiters).
    what : str
        What is locked, for the error message (e.g. ``"results folder results/"``).
    wait : bool or float, default False
        False: raise :class:`BusyError` at once if another process holds it;
        True: wait as long as it takes; a number: wait at most that long. [s]

    Raises
    ------
    BusyError
        Naming the holder (pid, start time) and what to do.
    """
    key = os.path.abspath(lock_file)
    me = threading.get_ident()
    with _registry:
        entry = _held.get(key)
        if entry is not None and entry[2] == me:
            entry[1] += 1
    if entry is not None and entry[2] == me:
        try:
            yield
        finally:
            with _registry:
                entry[1] -= 1
        return
    Path(key).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = None if wait is True else time.monotonic() + (float(wait) if wait else 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise BusyError(
                        f"{what} is in use by another finops run ({_holder(fd)}); nothing was changed. "
                        "Wait until it has finished (or pass --wait), or use another folder."
                    ) from None
                time.sleep(poll_s)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {datetime.now(UTC).isoformat(timespec='seconds')}\n".encode(), 0)
        with _registry:
            _held[key] = [fd, 1, me]
        try:
            yield
        finally:
            with _registry:
                _held.pop(key, None)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- #
# ownership
# --------------------------------------------------------------------------- #
def list_files(folder) -> list[str]:
    """Every file and folder below ``folder``, relative, sorted (folders end in ``/``)."""
    folder = Path(folder)
    out = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder).as_posix()
        out.append(rel + "/" if p.is_dir() and not p.is_symlink() else rel)
    return sorted(out)


def write_result_marker(folder, experiment: str) -> Path:
    """Write :data:`RESULT_MARKER` into ``folder``, listing every file in it now."""
    folder = Path(folder)
    files = [f for f in list_files(folder) if f != RESULT_MARKER]
    doc = {"tool": "finops evaluate", "experiment": experiment, "files": files + [RESULT_MARKER],
           "written_at": datetime.now(UTC).isoformat(timespec="seconds")}
    path = folder / RESULT_MARKER
    tmp = folder / f".{RESULT_MARKER}.{uuid.uuid4().hex}.tmp"  # atomic: a torn marker would make the folder foreign
    try:
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _owned_result_files(folder: Path) -> set[str] | None:
    try:
        doc = json.loads((folder / RESULT_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = doc.get("files") if isinstance(doc, dict) else None
    return set(files) if isinstance(files, list) else None


def _owned_snapshot_files(folder: Path) -> set[str] | None:
    from finops_lib.snapshot import MANIFEST

    try:
        man = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(man, dict) or not isinstance(man.get("snapshot_id"), str):
        return None
    tables = man.get("tables")
    if not isinstance(tables, dict):
        return None
    files = {MANIFEST}
    for name, info in tables.items():
        f = info.get("file", f"{name}.parquet") if isinstance(info, dict) else None
        if isinstance(f, str):
            files.add(f)
    return files


def foreign_entries(folder, kind: str) -> list[str]:
    """Entries of ``folder`` the tool did not write (``kind``: ``"result"``, ``"partial"`` or ``"snapshot"``).

    An absent or empty folder has none. A folder without the tool's marker
    (a result's :data:`RESULT_MARKER`, a snapshot's ``manifest.json``) is foreign
    as a whole (``["<every entry>"]``).
    """
    folder = Path(folder)
    if not folder.exists():
        return []
    if not folder.is_dir():
        return [folder.name]
    present = list_files(folder)
    if not present:
        return []
    if kind == "partial":  # a run in progress: the marker alone (its file list is written at the end)
        return [] if (folder / RESULT_MARKER).is_file() else present
    owned = _owned_result_files(folder) if kind == "result" else _owned_snapshot_files(folder)
    if owned is None:
        return present
    return [f for f in present if f not in owned]


def check_owned(folder, kind: str, action: str = "replace") -> None:
    """Raise :class:`ForeignDataError` unless ``folder`` holds only what the tool wrote there.

    The message lists (up to 5 of) the foreign entries and says what to do.
    """
    foreign = foreign_entries(folder, kind)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        marker = "manifest.json" if kind == "snapshot" else RESULT_MARKER
        raise ForeignDataError(
            f"refusing to {action} {folder}: it holds {shown}, which finops did not write "
            f"(not listed in its {marker}). Nothing was deleted. Move those files elsewhere, "
            "or choose another output folder, and run again."
        )


# --------------------------------------------------------------------------- #
# atomic replacement and recovery
# --------------------------------------------------------------------------- #
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically (Linux ``renameat2``); False when unsupported."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def old_prefix(target) -> str:
    return f".{Path(target).name}.old-"


def replace_dir(new, target) -> None:
    """Put folder ``new`` at ``target``; an existing ``target`` is never missing in between.

    With ``renameat2(RENAME_EXCHANGE)`` the swap is one atomic step and the old
    content ends up at ``new`` (then deleted). Without it the old folder is
    renamed to ``.<name>.old-<id>`` first; an interrupt between the two renames
    is repaired by :func:`recover` at the next start. The caller holds the
    target's lock and has checked that ``target`` is the tool's (:func:`check_owned`).
    """
    new, target = Path(new), Path(target)
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new)  # now the old content
        return
    old = target.parent / f"{old_prefix(target)}{uuid.uuid4().hex[:8]}"
    os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old)


def recover(target) -> str | None:
    """Repair an interrupted :func:`replace_dir` and delete its leftovers; call under the target's lock.

    ``target`` missing but an ``.<name>.old-*`` folder present: the newest one
    is renamed back (returns a note saying so). Leftover ``.old-*`` folders
    next to an existing target are deleted (they are copies the tool moved aside).
    """
    target = Path(target)
    olds = sorted(target.parent.glob(old_prefix(target) + "*"), key=lambda p: p.stat().st_mtime)
    note = None
    if olds and not target.exists():
        newest = olds.pop()
        os.rename(newest, target)
        note = f"restored {target} from {newest.name} (an earlier run was interrupted while replacing it)"
    for p in olds:
        shutil.rmtree(p, ignore_errors=True)
    return note


def remove_stale(parent, prefixes: tuple[str, ...]) -> list[Path]:
    """Delete folders in ``parent`` whose names start with one of ``prefixes``; call under the lock.

    Only the tool's own temporary names are passed (``.<name>.tmp-``,
    ``.<name>.raw-``, ``<name>.partial``); a live run of the same target
    cannot exist while the lock is held.
    """
    removed = []
    parent = Path(parent)
    if not parent.is_dir():
        return removed
    for p in sorted(parent.iterdir()):
        if p.is_dir() and not p.is_symlink() and p.name.startswith(prefixes):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


# --------------------------------------------------------------------------- #
# output checks before any work
# --------------------------------------------------------------------------- #
def check_writable_dir(folder, what: str) -> Path:
    """Create ``folder`` (and parents) if needed and prove a file can be written in it.

    Raises
    ------
    OutputError
        ``folder`` is a file, cannot be created or is not writable; says which and what to do.
    """
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{what} {folder} is a file, not a folder; choose a folder path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".finops-write-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"{what} {folder} is not writable ({exc.strerror or exc}); choose another folder") from None
    return folder


def check_snapshot_target(out_dir, overwrite: bool = False) -> Path:
    """Check a snapshot target before collecting: parent writable, target not a file, not foreign.

    Raises
    ------
    OutputError, ForeignDataError
    """
    out_dir = Path(out_dir).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"snapshot target {out_dir} is a file, not a folder; choose a folder path")
    check_writable_dir(out_dir.absolute().parent, "the folder of the snapshot target")
    check_owned(out_dir, "snapshot")
    return out_dir


def dir_mode() -> int:
    """Mode of a new folder under the process umask (``mkdtemp`` alone gives 0700)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o777 & ~mask
