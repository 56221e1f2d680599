"""Atomic writes and input hashing."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from .exceptions import OutputError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_set",
    "atomic_write_text",
    "current_file",
    "current_umask",
    "recover_set",
    "sha256_bytes",
    "sha256_file",
]


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """Return the process's file-mode creation mask without changing it.

    Linux reports it in ``/proc/self/status``; elsewhere it is read by setting and restoring it
    under a lock (``os.umask`` has no read-only form).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, then rename.

    A process killed mid-write leaves the previous file intact. Stray temporary files left by
    an earlier killed run (``.<name>.*.tmp``) are removed, after a set of files committed in
    the folder is completed (:func:`recover_set`). The file gets the mode of a file
    created by ``open()``: ``0o666`` less the umask (``mkstemp`` alone would make it ``0o600``).
    """
    target = Path(path)
    folder = _make_folder(target.parent if str(target.parent) else Path("."))
    if target.name != COMMIT_NAME and (folder / COMMIT_NAME).exists():
        recover_set(folder)  # a set of files committed there first, then this file
    _remove_strays(folder, [target.name])
    tmp_name = _write_temporary(target, data)
    try:
        os.replace(tmp_name, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise OutputError(f"Cannot write {target}: {exc.strerror or exc}") from exc
    return target


def _make_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Cannot create output folder {folder}: {exc.strerror or exc}") from exc
    return folder


def _remove_strays(folder: Path, names: Iterable[str]) -> None:
    """Remove the temporary files (``.<name>.*.tmp``) an earlier killed writer left behind."""
    for name in names:
        for stray in folder.glob(f".{glob.escape(name)}.*.tmp"):
            with contextlib.suppress(OSError):
                stray.unlink()


def _write_temporary(target: Path, data: bytes) -> str:
    """Write ``data`` whole (flushed, fsynced, mode set) to a temporary file next to ``target``.

    Returns its path; on failure nothing is left behind and :class:`OutputError` names
    ``target``.
    """
    tmp_name: str | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, 0o666 & ~current_umask())
    except OSError as exc:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        raise OutputError(f"Cannot write {target}: {exc.strerror or exc}") from exc
    return tmp_name


def _fsync_folder(folder: Path) -> None:
    """Make renames in ``folder`` durable where the platform allows it (best effort)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ----------------------------------------------------------------- sets of files, all or none
#: The commit record of a set of files being put in place (see :func:`atomic_write_set`).
COMMIT_NAME = ".auditkit-commit.json"
_COMMIT_FORMAT = "auditkit-commit/1"


def atomic_write_set(
    folder: str | os.PathLike[str], files: Mapping[str, bytes]
) -> dict[str, Path]:
    """Write several files into ``folder`` as one unit: all the new ones or all the old ones.

    Each file is first written whole to a temporary file next to its target. Then a commit
    record (:data:`COMMIT_NAME`, written atomically) lists the temporary files; only then are
    they renamed into place, and the record is removed. A process killed before the record
    exists leaves the previous files (and stray temporaries, removed by the next write); one
    killed after it leaves a set that :func:`recover_set` completes (every write into the
    folder does so first) and that :func:`current_file` reads correctly meanwhile: readers
    see either the old set or the new set, never a mix.

    Parameters
    ----------
    folder : str or path-like
        Created when missing.
    files : mapping of str to bytes
        File names (no folder part) and their contents.

    Returns
    -------
    dict
        File name -> path written.

    Raises
    ------
    OutputError
        When the folder or a file cannot be written (the previous files are then intact).
    """
    out = _make_folder(Path(folder))
    for name in files:
        if not name or Path(name).name != name or name == COMMIT_NAME:
            raise OutputError(f"Cannot write {name!r} into {out}: not a plain file name.")
    recover_set(out)
    _remove_strays(out, [*files, COMMIT_NAME])
    temps: dict[str, str] = {}
    try:
        for name, data in files.items():
            temps[name] = _write_temporary(out / name, data)
        record = {"format": _COMMIT_FORMAT, "files": {n: Path(t).name for n, t in temps.items()}}
        atomic_write_bytes(out / COMMIT_NAME, json.dumps(record, sort_keys=True).encode())
    except BaseException:
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    _fsync_folder(out)  # the record is durable before any target changes
    for name, tmp in temps.items():
        try:
            os.replace(tmp, out / name)
        except OSError as exc:
            raise OutputError(
                f"Cannot write {out / name}: {exc.strerror or exc}; the new files are complete "
                f"in {out} and the next auditkit write or read there puts them in place."
            ) from exc
    _fsync_folder(out)
    with contextlib.suppress(OSError):
        os.unlink(out / COMMIT_NAME)
    return {name: out / name for name in files}


def _commit_record(folder: Path) -> dict[str, str] | None:
    """Return the pending renames (name -> temporary name) of ``folder``, or None."""
    try:
        raw = (folder / COMMIT_NAME).read_bytes()
    except OSError:
        return None
    try:
        record = json.loads(raw)
        files = record["files"]
        ok = record.get("format") == _COMMIT_FORMAT and isinstance(files, dict)
    except (ValueError, TypeError, KeyError, AttributeError):
        ok = False
    if not ok:
        return {}  # not ours or damaged: nothing to roll forward
    pending: dict[str, str] = {}
    for name, tmp in files.items():
        plain = isinstance(name, str) and isinstance(tmp, str) and Path(name).name == name
        if (
            plain
            and Path(tmp).name == tmp
            and tmp.startswith(f".{name}.")
            and tmp.endswith(".tmp")
        ):
            pending[name] = tmp
    return pending


def recover_set(folder: str | os.PathLike[str]) -> None:
    """Finish a set of files whose writer (:func:`atomic_write_set`) was killed after its commit.

    The temporary files the commit record lists are renamed into place and the record is
    removed. A folder without a record is left as it is.

    Raises
    ------
    OutputError
        When a file cannot be renamed (for example a read-only folder).
    """
    out = Path(folder)
    pending = _commit_record(out)
    if pending is None:
        return
    for name, tmp in pending.items():
        src = out / tmp
        if src.exists():
            try:
                os.replace(src, out / name)
            except OSError as exc:
                raise OutputError(f"Cannot write {out / name}: {exc.strerror or exc}") from exc
    _fsync_folder(out)
    try:
        os.unlink(out / COMMIT_NAME)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise OutputError(f"Cannot write {out / COMMIT_NAME}: {exc.strerror or exc}") from exc


def current_file(path: str | os.PathLike[str]) -> Path:
    """Return the file that holds the current content of ``path``, without changing anything.

    That is ``path`` itself, or, while a set of files written by :func:`atomic_write_set` is
    committed but not yet all renamed (its writer was killed), the temporary file the commit
    record names for it.
    """
    p = Path(path)
    pending = _commit_record(p.parent if str(p.parent) else Path("."))
    if pending and p.name in pending:
        tmp = p.parent / pending[p.name]
        if tmp.exists():
            return tmp
    return p


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Return the hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
