"""Hardening of ``auditkit._core.io``: file modes under the umask, sets of files written as one."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import auditkit._core.io as _io
from auditkit._core.io import (
    COMMIT_NAME,
    atomic_write_bytes,
    atomic_write_set,
    current_file,
    current_umask,
    recover_set,
)
from auditkit.exceptions import OutputError


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002, 0o000, 0o027])
def test_written_files_get_the_mode_open_would_give(
    tmp_path: Path, umask: None, mask: int
) -> None:
    os.umask(mask)
    assert current_umask() == mask
    assert current_umask() == mask  # reading it did not change it
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # what open() gives under this umask
    expected = stat.S_IMODE(plain.stat().st_mode)
    assert expected == 0o666 & ~mask
    a = atomic_write_bytes(tmp_path / "a.bin", b"x")
    assert stat.S_IMODE(a.stat().st_mode) == expected
    atomic_write_bytes(a, b"y")  # replacing keeps the rule
    assert stat.S_IMODE(a.stat().st_mode) == expected
    paths = atomic_write_set(tmp_path / "set", {"one.json": b"1", "two.html": b"2"})
    assert {stat.S_IMODE(p.stat().st_mode) for p in paths.values()} == {expected}


def test_umask_without_proc(tmp_path: Path, umask: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where /proc is missing the umask is read by setting and restoring it."""
    os.umask(0o027)
    real_open = open

    def no_proc(file: object, *a: object, **k: object) -> object:
        if str(file).startswith("/proc/"):
            raise FileNotFoundError(file)
        return real_open(file, *a, **k)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", no_proc)
    assert current_umask() == 0o027
    assert current_umask() == 0o027
    monkeypatch.undo()
    assert os.umask(0o027) == 0o027


def test_write_set_replaces_all_and_leaves_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "o"
    atomic_write_set(out, {"a": b"1", "b": b"2"})
    (out / "keep.txt").write_text("other file")
    atomic_write_set(out, {"a": b"3", "b": b"4"})
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {
        "a": b"3", "b": b"4", "keep.txt": b"other file",
    }  # fmt: skip


@pytest.mark.parametrize("name", ["", "sub/a", "../a", COMMIT_NAME])
def test_write_set_refuses_names_with_folders(tmp_path: Path, name: str) -> None:
    with pytest.raises(OutputError, match="not a plain file name"):
        atomic_write_set(tmp_path, {name: b"x"})
    assert list(tmp_path.iterdir()) == []


def test_write_set_fault_after_some_temporaries_removes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    atomic_write_set(tmp_path, {"a": b"old a", "b": b"old b"})
    real, calls = _io._write_temporary, []

    def second_fails(target: Path, data: bytes) -> str:
        calls.append(target)
        if len(calls) == 2:
            raise OutputError(f"Cannot write {target}: No space left on device")
        return real(target, data)

    monkeypatch.setattr(_io, "_write_temporary", second_fails)
    with pytest.raises(OutputError, match="No space left"):
        atomic_write_set(tmp_path, {"a": b"new a", "b": b"new b"})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {"a": b"old a", "b": b"old b"}


def pending(folder: Path, files: dict[str, bytes], record: object) -> None:
    for tmp, data in files.items():
        (folder / tmp).write_bytes(data)
    (folder / COMMIT_NAME).write_text(json.dumps(record))


def test_current_file_and_recover_follow_a_commit_record(tmp_path: Path) -> None:
    atomic_write_set(tmp_path, {"a": b"old a", "b": b"old b"})
    pending(
        tmp_path,
        {".a.x1.tmp": b"new a", ".b.x2.tmp": b"new b"},
        {"format": "auditkit-commit/1", "files": {"a": ".a.x1.tmp", "b": ".b.x2.tmp"}},
    )
    (tmp_path / ".b.x2.tmp").rename(tmp_path / "b")  # the writer renamed b, then died
    assert current_file(tmp_path / "a").read_bytes() == b"new a"
    assert current_file(tmp_path / "b").read_bytes() == b"new b"
    assert current_file(tmp_path / "other") == tmp_path / "other"
    recover_set(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {"a": b"new a", "b": b"new b"}
    recover_set(tmp_path)  # nothing to do


@pytest.mark.parametrize(
    "record",
    [
        "not json {",
        {"format": "something else", "files": {"a": ".a.x.tmp"}},
        {"format": "auditkit-commit/1", "files": ["a"]},
        {"format": "auditkit-commit/1", "files": {"a": "../../etc/passwd"}},
        {"format": "auditkit-commit/1", "files": {"../a": ".a.x.tmp"}},
        {"format": "auditkit-commit/1", "files": {"a": ".b.x.tmp"}},
    ],
)
def test_a_foreign_or_damaged_commit_record_moves_nothing(tmp_path: Path, record: object) -> None:
    atomic_write_set(tmp_path, {"a": b"old a"})
    (tmp_path / ".a.x.tmp").write_bytes(b"planted")
    (tmp_path / ".b.x.tmp").write_bytes(b"planted")
    if isinstance(record, str):
        (tmp_path / COMMIT_NAME).write_text(record)
    else:
        pending(tmp_path, {}, record)
    assert current_file(tmp_path / "a").read_bytes() == b"old a"
    recover_set(tmp_path)
    assert (tmp_path / "a").read_bytes() == b"old a"
    assert not (tmp_path / COMMIT_NAME).exists()
    atomic_write_set(tmp_path, {"a": b"new a"})  # strays of "a" are cleaned on the next write
    assert sorted(p.name for p in tmp_path.iterdir()) == [".b.x.tmp", "a"]


def test_a_single_file_write_completes_a_pending_set_first(tmp_path: Path) -> None:
    atomic_write_set(tmp_path, {"a": b"old a", "b": b"old b"})
    pending(
        tmp_path,
        {".a.x1.tmp": b"new a", ".b.x2.tmp": b"new b"},
        {"format": "auditkit-commit/1", "files": {"a": ".a.x1.tmp", "b": ".b.x2.tmp"}},
    )
    atomic_write_bytes(tmp_path / "a", b"newest a")  # e.g. write_json over audit.json
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {
        "a": b"newest a", "b": b"new b",
    }  # fmt: skip


def test_recovery_killed_midway_is_finished_by_the_next_one(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import textwrap

    atomic_write_set(tmp_path, {"a": b"old a", "b": b"old b", "c": b"old c"})
    files = {"a": ".a.x1.tmp", "b": ".b.x2.tmp", "c": ".c.x3.tmp"}
    pending(
        tmp_path,
        {tmp: f"new {name}".encode() for name, tmp in files.items()},
        {"format": "auditkit-commit/1", "files": files},
    )
    script = textwrap.dedent(
        f"""
        import os, signal
        import auditkit._core.io as io
        real = os.replace
        def replace(src, dst, *a, **k):
            if os.path.basename(dst) == "b":
                os.kill(os.getpid(), signal.SIGKILL)
            return real(src, dst, *a, **k)
        io.os.replace = replace
        io.recover_set({str(tmp_path)!r})
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert (tmp_path / "a").read_bytes() == b"new a"  # renamed before the kill
    assert {n: current_file(tmp_path / n).read_bytes() for n in "abc"} == {
        "a": b"new a", "b": b"new b", "c": b"new c",
    }  # fmt: skip
    recover_set(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {
        "a": b"new a", "b": b"new b", "c": b"new c",
    }  # fmt: skip
