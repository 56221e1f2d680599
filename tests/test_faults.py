"""Faults while writing outputs: a killed writer, a full disk, a read-only folder.

The report writers (``auditkit.report.write_outputs``, ``write_json``, ``write_cards``) and the
CLI commands that call them must leave every previous output intact and whole, clean up their
temporary files (at the latest on the next run), and turn an operating-system error into a
clear ``OutputError`` naming the file (exit code 2 and one line on stderr in the CLI).
``tests/test_io.py`` covers ``auditkit._core.io`` itself; this file covers its callers.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import auditkit
import auditkit._core.io as _io
from auditkit.cli import main
from auditkit.exceptions import OutputError
from auditkit.report import AuditResult, load_result, to_json, write_json, write_outputs

NAMES = ["audit.json", "card.html", "card.md"]


def small_result(seed: int = 0) -> AuditResult:
    rng = np.random.default_rng(seed)
    n = 200
    y = rng.integers(0, 2, n)
    s = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    return auditkit.audit_predictions(
        y, (s > 0.5).astype(int), y_score=s, sensitive_features={"g": rng.choice(["a", "b"], n)},
        n_boot=20, sections=["performance", "fairness"], random_state=seed,
    )  # fmt: skip


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two different results saved as JSON (the subprocesses load them instead of auditing)."""
    folder = tmp_path_factory.mktemp("results")
    out = {}
    for seed in (0, 1):
        p = folder / f"result{seed}.json"
        write_json(small_result(seed), p)
        out[f"r{seed}"] = p
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in NAMES)


# ----------------------------------------------------------------------------- killed writer
KILL_AT = textwrap.dedent(
    """
    import os, signal, sys
    import auditkit._core.io as io
    from auditkit.report import load_result, write_outputs, write_json
    result = load_result(sys.argv[1])
    victim, out, how = sys.argv[2], sys.argv[3], sys.argv[4]
    call, name = victim.split(":")

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if call == "fsync":  # the n-th fsync: while a temporary file is being written
        real_fsync, count = os.fsync, [0]
        def fsync(fd):
            count[0] += 1
            if count[0] == int(name):
                die()
            return real_fsync(fd)
        io.os.fsync = fsync
    else:
        real = getattr(os, call)
        def wrapped(*a, **k):
            if os.path.basename(a[-1] if call == "replace" else a[0]) == name:
                die()  # just before this rename or removal
            return real(*a, **k)
        setattr(io.os, call, wrapped)
    if how == "outputs":
        write_outputs(result, out)
    else:
        write_json(result, os.path.join(out, name))
    """
)
KILL_ON_REPLACE = KILL_AT  # the JSON writer test below uses it with "replace:audit.json"

#: Where the writer of the three outputs is killed, and which set is current afterwards.
KILL_POINTS = {
    "fsync:1": "old",  # writing the first temporary file
    "fsync:3": "old",  # writing the last one
    "fsync:4": "old",  # writing the commit record
    f"replace:{_io.COMMIT_NAME}": "old",  # all written, the commit record not yet renamed
    "replace:audit.json": "new",  # committed, nothing renamed yet
    "replace:card.html": "new",  # committed, the JSON renamed: a mix on disk, not for readers
    "replace:card.md": "new",
    f"unlink:{_io.COMMIT_NAME}": "new",  # all renamed, the record not yet removed
}


def current_set(folder: Path) -> dict[str, bytes]:
    """The three outputs as a reader sees them (through a pending commit record)."""
    return {n: _io.current_file(folder / n).read_bytes() for n in NAMES}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_writer_killed_anywhere_leaves_the_old_set_or_the_new_set(
    tmp_path: Path, results: dict[str, Path], point: str
) -> None:
    old_dir, new_dir, out = tmp_path / "old", tmp_path / "new", tmp_path / "out"
    write_outputs(load_result(results["r0"]), old_dir)
    write_outputs(load_result(results["r1"]), new_dir)
    write_outputs(load_result(results["r0"]), out)
    old, new = snapshot(old_dir), snapshot(new_dir)
    assert old != new
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AT, str(results["r1"]), point, str(out), "outputs"],
        capture_output=True,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    expected = old if KILL_POINTS[point] == "old" else new
    assert current_set(out) == expected  # whole files, all of one version
    assert temporaries(out), "the killed writer should have left its temporary files"
    # readers see the same version: load_result, and `auditkit render` re-creating the cards
    assert to_json(load_result(out / "audit.json")) == expected["audit.json"].decode()
    cards = tmp_path / "cards"
    assert main(["render", str(out / "audit.json"), "--out", str(cards)]) == 0
    assert snapshot(cards) == {n: expected[n] for n in ("card.html", "card.md")}
    # the next write into the folder finishes the committed set first, then replaces it
    _io.recover_set(out)
    assert {n: (out / n).read_bytes() for n in NAMES} == expected  # on disk too, now
    paths = write_outputs(load_result(results["r0"]), out)
    assert temporaries(out) == []
    assert snapshot(out) == old
    assert load_result(paths["json"]).to_dict() == load_result(results["r0"]).to_dict()


@pytest.mark.parametrize("point", ["replace:audit.json", "replace:card.md"])
def test_render_into_a_folder_with_a_pending_set_finishes_it(
    tmp_path: Path, results: dict[str, Path], point: str
) -> None:
    """`auditkit render audit.json` in the killed writer's folder: one consistent set after."""
    out = tmp_path / "out"
    write_outputs(load_result(results["r0"]), out)
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AT, str(results["r1"]), point, str(out), "outputs"],
        capture_output=True,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL
    new_dir = tmp_path / "new"
    write_outputs(load_result(results["r1"]), new_dir)
    assert main(["render", str(out / "audit.json")]) == 0
    assert temporaries(out) == []
    assert snapshot(out) == snapshot(new_dir)


def test_json_writer_killed_before_rename_keeps_previous_file(
    tmp_path: Path, results: dict[str, Path]
) -> None:
    write_json(load_result(results["r0"]), tmp_path / "audit.json")
    before = (tmp_path / "audit.json").read_bytes()
    proc = subprocess.run(
        [sys.executable, "-c", KILL_ON_REPLACE, str(results["r1"]), "replace:audit.json",
         str(tmp_path), "json"], capture_output=True,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL
    assert (tmp_path / "audit.json").read_bytes() == before
    write_json(load_result(results["r1"]), tmp_path / "audit.json")
    assert temporaries(tmp_path) == []


LOOP_WRITER = textwrap.dedent(
    """
    import sys
    from auditkit.report import load_result, write_outputs
    a, b = load_result(sys.argv[1]), load_result(sys.argv[2])
    import dataclasses
    # a large card: long card-info text makes each write take a while
    big = {"intended_use": "x" * 4_000_000}
    a, b = dataclasses.replace(a, card_info=big), dataclasses.replace(b, card_info=big)
    print("ready", flush=True)
    i = 0
    while True:
        write_outputs(a if i % 2 else b, sys.argv[3])
        i += 1
    """
)


@pytest.mark.parametrize("delay", [0.1, 0.7])
def test_writer_killed_at_a_random_moment_leaves_whole_files(
    tmp_path: Path, results: dict[str, Path], delay: float
) -> None:
    """SIGKILL during a loop of large writes: each file is one whole version, never a mix."""
    big = {"intended_use": "x" * 4_000_000}
    refs = {}
    for key, name in (("a", "r0"), ("b", "r1")):
        res = dataclasses.replace(load_result(results[name]), card_info=big)
        refs[key] = snapshot(Path(write_outputs(res, tmp_path / key)["json"]).parent)
    out = tmp_path / "out"
    write_outputs(dataclasses.replace(load_result(results["r0"]), card_info=big), out)
    with subprocess.Popen(
        [sys.executable, "-c", LOOP_WRITER, str(results["r0"]), str(results["r1"]), str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None
        try:
            assert proc.stdout.readline().strip() == b"ready"
            time.sleep(delay)
        finally:
            proc.kill()
            proc.wait()
    current = current_set(out)
    assert current in (refs["a"], refs["b"])  # one whole version of all three files, never a mix
    load_result(_io.current_file(out / "audit.json"))
    write_outputs(load_result(results["r1"]), out)
    assert temporaries(out) == []


def test_cli_killed_mid_write_then_rerun(tmp_path: Path, results: dict[str, Path]) -> None:
    """The CLI's render command killed while writing: rerunning it cleans up."""
    out = tmp_path / "cards"
    assert main(["render", str(results["r0"]), "--out", str(out)]) == 0
    before = snapshot(out)
    script = textwrap.dedent(
        f"""
        import os, signal
        import auditkit._core.io as io
        io.os.replace = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
        from auditkit.cli import main
        main(["render", {str(results["r1"])!r}, "--out", {str(out)!r}])
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert snapshot(out).items() >= before.items()
    assert main(["render", str(results["r1"]), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["card.html", "card.md"]


# ------------------------------------------------------------------- full disk, read-only folder
def _raise(code: int) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise OSError(code, os.strerror(code))

    return fail


FAULTS: dict[str, tuple[str, int]] = {
    # where the OS error strikes, and which error
    "disk full on write": ("fdopen_write", errno.ENOSPC),
    "disk full on fsync": ("fsync", errno.ENOSPC),
    "read-only file system": ("mkstemp", errno.EROFS),
    "permission denied": ("mkstemp", errno.EACCES),
    "read-only on rename": ("replace", errno.EROFS),
    "read-only new folder": ("mkdir", errno.EROFS),
}


def inject(monkeypatch: pytest.MonkeyPatch, where: str, code: int) -> None:
    if where == "fsync":
        monkeypatch.setattr(_io.os, "fsync", _raise(code))
    elif where == "mkstemp":
        monkeypatch.setattr(_io.tempfile, "mkstemp", _raise(code))
    elif where == "replace":
        monkeypatch.setattr(_io.os, "replace", _raise(code))
    elif where == "mkdir":
        monkeypatch.setattr(Path, "mkdir", _raise(code))
    else:  # writing the bytes fails after the temporary file was created
        real = os.fdopen

        class FullFile:
            def __init__(self, fh: Any) -> None:
                self.fh = fh

            def __enter__(self) -> FullFile:
                return self

            def __exit__(self, *exc: Any) -> None:
                self.fh.close()

            def write(self, data: bytes) -> int:
                self.fh.write(data[: len(data) // 2])  # half of it made it to disk
                raise OSError(code, os.strerror(code))

        monkeypatch.setattr(_io.os, "fdopen", lambda fd, *a, **k: FullFile(real(fd, *a, **k)))


@pytest.mark.parametrize("fault", list(FAULTS))
def test_write_outputs_fault_is_output_error_and_keeps_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, results: dict[str, Path], fault: str
) -> None:
    where, code = FAULTS[fault]
    out = tmp_path / ("new" if where == "mkdir" else "out")
    if where != "mkdir":
        write_outputs(load_result(results["r0"]), out)
    before = snapshot(out) if out.exists() else {}
    new = load_result(results["r1"])
    inject(monkeypatch, where, code)
    with pytest.raises(OutputError) as info:
        write_outputs(new, out)
    msg = str(info.value)
    assert os.strerror(code) in msg
    assert str(out) in msg  # names the file or folder
    monkeypatch.undo()
    if out.exists():
        assert snapshot(out) == before  # nothing half-written, no temporary file left
    else:
        assert before == {}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_cli_audit_fault_is_exit_2_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    fault: str,
) -> None:  # fmt: skip
    import pandas as pd

    where, code = FAULTS[fault]
    rng = np.random.default_rng(0)
    n = 120
    y = rng.integers(0, 2, n)
    pd.DataFrame(
        {"y": y, "p": np.where(rng.random(n) < 0.8, y, 1 - y), "g": rng.choice(["u", "v"], n)}
    ).to_csv(tmp_path / "log.csv", index=False)
    out = tmp_path / ("new" if where == "mkdir" else "out")
    argv = ["audit", "--predictions", str(tmp_path / "log.csv"), "--y-true", "y", "--y-pred", "p",
            "--sensitive", "g", "--sections", "performance,fairness", "--n-boot", "5",
            "--no-progress", "--out", str(out), "--force"]  # fmt: skip
    if where != "mkdir":
        assert main(argv) == 0
    before = snapshot(out) if out.exists() else {}
    capsys.readouterr()
    inject(monkeypatch, where, code)
    assert main(argv) == 2
    err = capsys.readouterr().err
    monkeypatch.undo()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("auditkit: error: Cannot"), err
    assert os.strerror(code) in lines[0]
    assert (snapshot(out) if out.exists() else {}) == before


@pytest.mark.parametrize("command", ["render", "check --junit"])
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_cli_render_and_junit_faults_are_exit_2_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    results: dict[str, Path], command: str, code: int,
) -> None:  # fmt: skip
    policy = tmp_path / "policy.toml"
    policy.write_text('[[rule]]\nsection = "performance"\nmetric = "accuracy"\nop = ">="\n'
                      "threshold = 0.0\n")  # fmt: skip
    if command == "render":
        argv = ["render", str(results["r0"]), "--out", str(tmp_path / "cards")]
    else:
        argv = ["check", str(results["r0"]), "--policy", str(policy), "--junit",
                str(tmp_path / "junit.xml")]  # fmt: skip
    inject(monkeypatch, "mkstemp", code)
    assert main(argv) == 2
    err = capsys.readouterr().err
    monkeypatch.undo()
    assert len(err.strip().splitlines()) == 1 and os.strerror(code) in err, err
    assert not (tmp_path / "junit.xml").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions (simulated above)")
def test_real_read_only_folder(tmp_path: Path, results: dict[str, Path]) -> None:
    out = tmp_path / "out"
    write_outputs(load_result(results["r0"]), out)
    before = snapshot(out)
    out.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="Cannot write"):
            write_outputs(load_result(results["r1"]), out)
    finally:
        out.chmod(0o700)
    assert snapshot(out) == before
