"""Hardening of output writing: one writer per folder, whole sets, true messages, symlinks.

The concurrent test runs two real processes that write into the same folder at the same moment,
200 times, through the writer the CLI uses (:func:`auditkit.report._render.write_outputs`), and
checks every folder afterwards: the three files carry one run id, it is the id of a writer that
reported success, a writer that reported failure left no trace, and nothing else is left.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import auditkit._core.io as _io
from auditkit._core.io import COMMIT_NAME, atomic_write_bytes, atomic_write_set, folder_lock
from auditkit.cli import main
from auditkit.exceptions import OutputError
from auditkit.report import AuditResult, MetricValue, SectionResult
from auditkit.report._render import write_outputs

NAMES = ("audit.json", "card.html", "card.md")

_WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    import auditkit._core.io as io
    from auditkit.exceptions import OutputError
    from auditkit.report import AuditResult, MetricValue, SectionResult
    from auditkit.report._render import write_outputs

    wid, root, n = int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])

    def result(run_id):
        sec = SectionResult("performance", "ok",
                            metrics=(MetricValue("performance", "accuracy", 0.5, n=10),))
        return AuditResult("1.0", "0.0.test", "2024-01-01T00:00:00Z", {"ci_level": 0.95},
                           {"name": run_id}, {"name": "d", "sha256": "0"}, (sec,))

    log = []
    for i in range(n):
        run_id = f"RUN-{i}-W{wid}-END"
        res = result(run_id)
        io.LOCK_WAIT_S = 0.0 if i % 2 else 5.0  # odd trials: give up at once when refused
        (root / f"ready-{i}-{wid}").touch()
        other = root / f"ready-{i}-{1 - wid}"
        while not other.exists():  # both start writing at the same moment
            os.sched_yield()
        try:
            write_outputs(res, root / f"t{i}", overwrite=True)
            log.append([run_id, "ok"])
        except OutputError as exc:
            log.append([run_id, str(exc)])
    print(json.dumps(log))
    """
)


def _run_ids(folder: Path) -> dict[str, set[str]]:
    return {p.name: set(re.findall(r"RUN-\d+-W\d-END", p.read_text())) for p in folder.iterdir()}


def test_two_processes_writing_with_force_never_leave_a_mix(tmp_path: Path) -> None:
    n = 200
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(w), str(tmp_path), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for w in (0, 1)
    ]
    logs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        logs.append(json.loads(out))
    mixed, refused, refused_waiting, both_ok = 0, 0, 0, 0
    for i in range(n):
        folder = tmp_path / f"t{i}"
        outcome = {run_id: msg for log in logs for run_id, msg in [log[i]]}
        ok = {r for r, m in outcome.items() if m == "ok"}
        for m in outcome.values():
            if m != "ok":  # the refusal says so and names the folder and the holder
                refused += 1
                assert m.startswith(f"another auditkit run is writing to {folder} (pid ")
                assert "wrote nothing" in m
                refused_waiting += i % 2 == 0
        both_ok += len(ok) == 2
        assert ok, outcome  # one of the two always writes
        files = sorted(p.name for p in folder.iterdir())
        assert files == sorted(NAMES), files  # no temporaries, no commit record, no lock file
        ids = _run_ids(folder)
        if len({frozenset(v) for v in ids.values()}) != 1 or len(ids["audit.json"]) != 1:
            mixed += 1
            continue
        (final,) = ids["audit.json"]
        assert final in ok  # what is on disk is from a writer that said it wrote
    assert mixed == 0
    # with 5 s to wait (even trials) a writer gives up only if the other stalls that long
    assert refused_waiting <= 5
    assert both_ok >= n // 2 - 5  # the waiting trials: both wrote, one after the other
    # the odd trials with no wait do collide sometimes, so the refusal path was exercised
    assert refused >= 1


def _log(folder: Path) -> Path:
    """A small log of decisions (60 rows, two groups)."""
    log = folder / "log.csv"
    rows = "".join(f"{i % 2},{(i // 2) % 2},{'ab'[i % 3 > 0]}\n" for i in range(60))
    log.write_text("y,p,g\n" + rows)
    return log


def _small_result(name: str) -> AuditResult:
    sec = SectionResult(
        "performance", "ok", metrics=(MetricValue("performance", "accuracy", 0.5, n=10),)
    )
    return AuditResult(
        "1.0", "0.0.test", "2024-01-01T00:00:00Z", {"ci_level": 0.95}, {"name": name},
        {"name": "d", "sha256": "0"}, (sec,),
    )  # fmt: skip


def test_a_held_folder_is_refused_after_the_bounded_wait(tmp_path: Path) -> None:
    write_outputs(_small_result("old"), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with folder_lock(tmp_path):
        t0 = time.monotonic()
        with pytest.raises(OutputError) as info:
            _io_wait(tmp_path, 0.3)
        waited = time.monotonic() - t0
    msg = str(info.value)
    assert msg.startswith(f"another auditkit run is writing to {tmp_path} (pid {os.getpid()})")
    assert "waited 0.3 s" in msg and "wrote nothing" in msg
    assert 0.25 <= waited < 3
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    write_outputs(_small_result("new"), tmp_path)  # released: the next writer goes ahead


def _io_wait(folder: Path, wait: float) -> None:
    with folder_lock(folder, wait=wait):
        raise AssertionError("the lock was taken twice")


def test_every_writer_waits_for_the_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Single files, sets and recovery all take the folder's lock; a short holder is waited for."""
    monkeypatch.setattr(_io, "LOCK_WAIT_S", 5.0)
    order: list[str] = []
    held = threading.Event()

    def holder() -> None:
        with folder_lock(tmp_path):
            held.set()
            time.sleep(0.2)
            order.append("holder done")

    t = threading.Thread(target=holder)
    t.start()
    held.wait()
    atomic_write_bytes(tmp_path / "a", b"1")
    order.append("single file written")
    t.join()
    assert order == ["holder done", "single file written"]
    monkeypatch.setattr(_io, "LOCK_WAIT_S", 0.0)
    for write in (
        lambda: atomic_write_bytes(tmp_path / "b", b"2"),
        lambda: atomic_write_set(tmp_path, {"c": b"3"}),
    ):
        with folder_lock(tmp_path), pytest.raises(OutputError, match="another auditkit run"):
            write()
    (tmp_path / COMMIT_NAME).write_text('{"format": "auditkit-commit/1", "files": {}}')
    with folder_lock(tmp_path), pytest.raises(OutputError, match="another auditkit run"):
        _io.recover_set(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [COMMIT_NAME, "a"]


def test_a_killed_holder_does_not_block_the_next_writer(tmp_path: Path) -> None:
    script = (
        "import os, signal, sys; from auditkit._core.io import folder_lock\n"
        f"with folder_lock({str(tmp_path)!r}):\n"
        "    print('held', flush=True); os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.stdout.strip() == "held"
    with folder_lock(tmp_path, wait=0):  # the OS dropped the dead holder's lock
        pass
    assert list(tmp_path.iterdir()) == []  # and no lock file was ever made


def test_a_folder_that_cannot_be_locked_falls_back_to_a_lock_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some network file systems refuse ``flock`` on a folder; a lock file inside stands in."""
    import errno

    real = _io.fcntl.flock

    def no_folder_locks(fd: int, op: int) -> None:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOLCK, "No locks available")
        real(fd, op)

    monkeypatch.setattr(_io.fcntl, "flock", no_folder_locks)
    atomic_write_set(tmp_path, {"a": b"1"})
    assert sorted(p.name for p in tmp_path.iterdir()) == [_io.LOCK_NAME, "a"]
    monkeypatch.setattr(_io, "LOCK_WAIT_S", 0.0)
    with folder_lock(tmp_path), pytest.raises(OutputError, match="another auditkit run"):
        atomic_write_set(tmp_path, {"a": b"2"})
    assert (tmp_path / "a").read_bytes() == b"1"


# ----------------------------------------------------------------- symbolic links as outputs
@pytest.mark.parametrize("name", NAMES)
def test_a_dangling_symlink_is_an_existing_output(tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / name).symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputError, match=re.escape(f"{name} exists")):
        write_outputs(_small_result("m"), out, overwrite=False)
    assert sorted(p.name for p in out.iterdir()) == [name]
    assert (out / name).is_symlink()
    write_outputs(_small_result("m"), out, overwrite=True)  # replaced: the link, not its target
    assert not (out / name).is_symlink()
    assert not (tmp_path / "nowhere").exists()


def test_cli_refuses_a_dangling_symlink_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "card.md").symlink_to(tmp_path / "missing.md")
    log = _log(tmp_path)
    argv = ["audit", "--predictions", str(log), "--y-true", "y", "--y-pred", "p",
            "--sensitive", "g", "--out", str(out), "--no-progress", "--n-boot", "20"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "card.md exists (a symbolic link); pass --force" in err
    assert sorted(p.name for p in out.iterdir()) == ["card.md"]
    assert main([*argv, "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(NAMES)
    assert not (tmp_path / "missing.md").exists()


def test_cli_reports_a_held_folder_as_exit_2(
    tmp_path: Path,
    capsys,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setattr(_io, "LOCK_WAIT_S", 0.2)
    out = tmp_path / "out"
    out.mkdir()
    log = _log(tmp_path)
    argv = ["audit", "--predictions", str(log), "--y-true", "y", "--y-pred", "p",
            "--sensitive", "g", "--out", str(out), "--no-progress", "--n-boot", "20"]  # fmt: skip
    with folder_lock(out):
        assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"another auditkit run is writing to {out} (pid {os.getpid()})" in err
    assert list(out.iterdir()) == []


def test_a_failed_rename_after_the_commit_says_what_is_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    atomic_write_set(tmp_path, {"a": b"old a", "b": b"old b", "c": b"old c"})
    real = os.replace

    def b_fails(src: str, dst: object, *a: object, **k: object) -> None:
        if Path(str(dst)).name == "b":
            raise OSError(5, "Input/output error")
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(_io.os, "replace", b_fails)
    with pytest.raises(OutputError) as info:
        atomic_write_set(tmp_path, {"a": b"new a", "b": b"new b", "c": b"new c"})
    msg = str(info.value)
    assert "Input/output error" in msg
    assert "a already hold the new content; b, c wait in temporary files" in msg
    # the message is true: a is new on disk, b and c are pending and read as new
    assert (tmp_path / "a").read_bytes() == b"new a"
    assert (tmp_path / "b").read_bytes() == b"old b"
    assert {n: _io.current_file(tmp_path / n).read_bytes() for n in "abc"} == {
        "a": b"new a", "b": b"new b", "c": b"new c",
    }  # fmt: skip
    monkeypatch.undo()
    atomic_write_bytes(tmp_path / "other", b"x")  # "the next auditkit write ... tries again"
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {
        "a": b"new a", "b": b"new b", "c": b"new c", "other": b"x",
    }  # fmt: skip
