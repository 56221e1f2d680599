import os
import signal
import subprocess
import sys
import textwrap

import pytest

from auditkit._core.io import atomic_write_text, sha256_file
from auditkit.exceptions import OutputError


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "out" / "a.json"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert sorted(x.name for x in p.parent.iterdir()) == ["a.json"]
    assert len(sha256_file(p)) == 64


def test_killed_writer_keeps_old_file_and_next_run_cleans(tmp_path):
    target = tmp_path / "card.html"
    atomic_write_text(target, "previous")
    script = textwrap.dedent(
        f"""
        import os, signal
        import auditkit._core.io as io
        real = os.replace
        def die(*a, **k):
            os.kill(os.getpid(), signal.SIGKILL)
        io.os.replace = die
        io.atomic_write_text({str(target)!r}, "new content " * 100000)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert target.read_text() == "previous"
    strays = [x for x in tmp_path.iterdir() if x.name != "card.html"]
    assert strays, "the killed writer should have left its temporary file"
    atomic_write_text(target, "next")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["card.html"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_gives_clear_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="Cannot write"):
            atomic_write_text(ro / "a.txt", "x")
    finally:
        ro.chmod(0o700)


def test_output_error_when_parent_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputError, match="Cannot create output folder"):
        atomic_write_text(f / "a.txt", "x")


@pytest.mark.parametrize("err", [28, 30])  # ENOSPC (disk full), EROFS (read-only file system)
def test_disk_full_or_read_only_gives_clear_error(tmp_path, monkeypatch, err):
    import auditkit._core.io as io

    target = tmp_path / "a.json"
    atomic_write_text(target, "old")

    def fail(*a, **k):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(io.os, "fsync", fail)
    with pytest.raises(OutputError, match=f"Cannot write .*a.json: {os.strerror(err)}"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.json"]
