"""Atomic writes and input hashing.

Every write into a folder (:func:`atomic_write_bytes`, :func:`atomic_write_set`,
:func:`recover_set`) holds the folder's advisory lock (:func:`folder_lock`: ``flock`` on the
folder itself, so no lock file is left behind), so two auditkit writers never interleave in one
folder: a second writer waits up to :data:`LOCK_WAIT_S` seconds for the first, then gives up
with an :class:`~auditkit.exceptions.OutputError` naming the folder and the holder's pid,
having written nothing. Readers (:func:`current_file`) take no lock.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import stat
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from ..exceptions import OutputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, writes are not excluded
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "LOCK_WAIT_S",
    "atomic_write_bytes",
    "atomic_write_set",
    "atomic_write_text",
    "check_regular_file",
    "current_file",
    "current_umask",
    "describe_file_type",
    "folder_lock",
    "recover_set",
    "sha256_bytes",
    "sha256_file",
]

#: Longest wait, in seconds, for another auditkit writer to release an output folder. Writing
#: a set of files takes milliseconds, so a writer still holding the folder after this long is
#: stuck or is writing something very large; the waiting writer then stops, writing nothing.
LOCK_WAIT_S = 5.0
#: Fallback lock file, used only where a folder itself cannot be locked (some network
#: file systems); it is left in place, since removing a lock file races with its next user.
LOCK_NAME = ".auditkit.lock"


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
    with folder_lock(folder):
        if (folder / COMMIT_NAME).exists():
            _recover(folder)  # a set of files committed there first, then this file
        return _replace_file(folder, target, data)


def _replace_file(folder: Path, target: Path, data: bytes) -> Path:
    """Write ``target`` atomically; the caller holds ``folder``'s lock."""
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


# ----------------------------------------------------------------- one writer per folder
@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str], *, wait: float | None = None) -> Iterator[None]:
    """Hold ``folder``'s advisory write lock for the ``with`` block.

    The lock is ``flock`` on the folder itself (or, where the file system refuses that, on
    :data:`LOCK_NAME` inside it); the operating system drops it when the holder exits or is
    killed, so a dead writer never blocks the next one. Locks are per open file, so two
    threads of one process exclude each other too; the lock is not re-entrant.

    Parameters
    ----------
    folder : str or path-like
        An existing folder.
    wait : float, optional
        Seconds to wait for another holder to finish (default :data:`LOCK_WAIT_S`, read at
        call time; 0 tries once).

    Raises
    ------
    OutputError
        When another process (or thread) still holds the lock after ``wait`` seconds, naming
        the folder and, where the system tells, the holder's pid; or when the folder cannot be
        opened for locking.
    """
    if fcntl is None:  # pragma: no cover - no advisory locks on this platform
        yield
        return
    out = Path(folder)
    limit = LOCK_WAIT_S if wait is None else max(0.0, float(wait))
    fd = _lock_fd(out)
    try:
        deadline = time.monotonic() + limit
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OutputError(
                        f"another auditkit run is writing to {out} (pid {_lock_holder(fd)}); "
                        f"waited {limit:g} s for it, and wrote nothing. Run again when it "
                        "has finished."
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _lock_fd(folder: Path) -> int:
    """Open what :func:`folder_lock` locks: the folder, else :data:`LOCK_NAME` inside it."""
    assert fcntl is not None
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    except OSError:
        fd = -1
    if fd >= 0:
        try:  # probe: can this file system lock a folder? (shared, so no holder is disturbed)
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return fd
        except BlockingIOError:
            return fd  # lockable; another writer holds it now
        except OSError:
            os.close(fd)
    try:
        return os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise OutputError(f"Cannot lock output folder {folder}: {exc.strerror or exc}") from exc


def _lock_holder(fd: int) -> str:
    """Return the pid holding a ``flock`` on ``fd``'s file (``/proc/locks``), else "unknown"."""
    try:
        st = os.fstat(fd)
        want = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
        with open("/proc/locks", encoding="ascii") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) < 6 or parts[1] != "FLOCK" or parts[3] != "WRITE":
                    continue  # not a flock write lock, or a waiter ("1: -> FLOCK ...")
                dev = parts[5].split(":")
                if len(dev) == 3 and (int(dev[0], 16), int(dev[1], 16), int(dev[2])) == want:
                    return parts[4]
    except (OSError, ValueError):
        pass
    return "unknown"


# ----------------------------------------------------------------- sets of files, all or none
#: The commit record of a set of files being put in place (see :func:`atomic_write_set`).
COMMIT_NAME = ".auditkit-commit.json"
_COMMIT_FORMAT = "auditkit-commit/1"


def atomic_write_set(
    folder: str | os.PathLike[str], files: Mapping[str, bytes], *, replace: bool = True
) -> dict[str, Path]:
    """Write several files into ``folder`` as one unit: all the new ones or all the old ones.

    The whole write holds the folder's lock (:func:`folder_lock`), so a concurrent auditkit
    writer waits for it (or gives up, having written nothing) instead of interleaving. Each
    file is first written whole to a temporary file next to its target. Then a commit record
    (:data:`COMMIT_NAME`, written atomically) lists the temporary files; only then are they
    renamed into place, and the record is removed. A process killed before the record exists
    leaves the previous files (and stray temporaries, removed by the next write); one killed
    after it leaves a set that :func:`recover_set` completes (every write into the folder does
    so first) and that :func:`current_file` reads correctly meanwhile: readers see either the
    old set or the new set, never a mix.

    Parameters
    ----------
    folder : str or path-like
        Created when missing.
    files : mapping of str to bytes
        File names (no folder part) and their contents.
    replace : bool, default=True
        When False, an existing file of one of these names (a symbolic link too, even a
        dangling one) raises :class:`OutputError`; checked under the lock, before anything is
        written.

    Returns
    -------
    dict
        File name -> path written.

    Raises
    ------
    OutputError
        When another writer holds the folder, or a target exists (``replace=False``) or is a
        folder, or the folder or a file cannot be written before the commit: nothing was
        changed then. In the rare failure of a rename after the commit, the message says which
        files already hold the new content and which wait to be renamed.
    """
    out = _make_folder(Path(folder))
    for name in files:
        if not name or Path(name).name != name or name == COMMIT_NAME:
            raise OutputError(f"Cannot write {name!r} into {out}: not a plain file name.")
    with folder_lock(out):
        _recover(out)
        for name in files:
            target = out / name
            if target.is_dir() and not target.is_symlink():
                raise OutputError(f"Cannot write {target}: a folder of that name exists.")
            if not replace and os.path.lexists(target):
                link = " (a symbolic link)" if target.is_symlink() else ""
                raise OutputError(
                    f"{target} exists{link}; pass overwrite=True (or --force) to replace it."
                )
        _remove_strays(out, [*files, COMMIT_NAME])
        temps: dict[str, str] = {}
        try:
            for name, data in files.items():
                temps[name] = _write_temporary(out / name, data)
            record = {
                "format": _COMMIT_FORMAT,
                "files": {n: Path(t).name for n, t in temps.items()},
            }
            _replace_file(out, out / COMMIT_NAME, json.dumps(record, sort_keys=True).encode())
        except BaseException:
            for tmp in temps.values():
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise
        _fsync_folder(out)  # the record is durable before any target changes
        done: list[str] = []
        for name, tmp in temps.items():
            try:
                os.replace(tmp, out / name)
            except OSError as exc:
                left = [n for n in temps if n not in done]
                raise OutputError(
                    f"Cannot put {out / name} in place: {exc.strerror or exc}. The new set is "
                    f"committed but not finished: "
                    + (f"{', '.join(done)} already hold the new content; " if done else "")
                    + f"{', '.join(left)} wait in temporary files listed in {COMMIT_NAME}, "
                    f"which auditkit's readers follow; the next auditkit write into {out} "
                    "tries the renames again."
                ) from exc
            done.append(name)
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
    removed, under the folder's lock (:func:`folder_lock`). A folder without a record is left
    as it is.

    Raises
    ------
    OutputError
        When a file cannot be renamed (for example a read-only folder), or another writer
        holds the folder.
    """
    out = Path(folder)
    if _commit_record(out) is None:
        return
    with folder_lock(out):
        _recover(out)


def _recover(out: Path) -> None:
    """:func:`recover_set` for a caller that holds ``out``'s lock."""
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


def describe_file_type(mode: int) -> str:
    """Name the kind of file of an ``st_mode`` ("a FIFO (named pipe)", "a character device"...)."""
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISREG, "a regular file"),
    )
    return next((text for test, text in kinds if test(mode)), "not a regular file")


def check_regular_file(
    path: str | os.PathLike[str], what: str = "File", *, error: type[Exception] | None = None
) -> Path:
    """Return ``path`` when it is a regular file (after symbolic links); refuse anything else.

    Checked with ``os.stat`` before anything opens the file, so a FIFO (whose ``open`` would
    wait for a writer), a device such as ``/dev/zero`` (endless) or a link to one is refused at
    once instead of hanging or filling memory.

    Raises
    ------
    DataValidationError (or ``error``)
        Naming ``what`` and the path: missing, a folder, or not a regular file.
    """
    from ..exceptions import DataValidationError

    err = error or DataValidationError
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise err(f"{what} {str(p)!r} does not exist.") from None
    except OSError as exc:
        raise err(f"Cannot read {what.lower()} {str(p)!r}: {exc.strerror or exc}.") from exc
    if stat.S_ISDIR(st.st_mode):
        raise err(f"{what} {str(p)!r} is a folder, not a file.")
    if not stat.S_ISREG(st.st_mode):
        raise err(
            f"{what} {str(p)!r} is {describe_file_type(st.st_mode)}, not a regular file; "
            "auditkit reads only regular files."
        )
    return p


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
