"""Hardening of the CLI: ``auditkit audit --out DIR`` replaces outputs only with --force."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auditkit.cli import main
from auditkit.report import load_result


def make_log(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    n = 120
    y = rng.integers(0, 2, n)
    pd.DataFrame(
        {"y": y, "p": np.where(rng.random(n) < 0.8, y, 1 - y), "g": rng.choice(["u", "v"], n)}
    ).to_csv(path, index=False)
    return path


def argv(log: Path, out: Path, *extra: str) -> list[str]:
    return ["audit", "--predictions", str(log), "--y-true", "y", "--y-pred", "p",
            "--sensitive", "g", "--sections", "performance", "--n-boot", "5",
            "--no-progress", "--out", str(out), *extra]  # fmt: skip


@pytest.mark.parametrize("existing", ["audit.json", "card.html", "card.md"])
def test_audit_refuses_to_replace_outputs_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], existing: str
) -> None:
    log0, log1 = make_log(tmp_path / "a.csv", 0), make_log(tmp_path / "b.csv", 1)
    out = tmp_path / "out"
    assert main(argv(log0, out)) == 0
    for name in {"audit.json", "card.html", "card.md"} - {existing}:
        (out / name).unlink()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert main(argv(log1, out)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert str(out / existing) in lines[0] and "--force" in lines[0]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing touched
    # --force replaces them
    assert main(argv(log1, out, "--force")) == 0
    assert sorted(p.name for p in out.iterdir()) == ["audit.json", "card.html", "card.md"]
    assert load_result(out / "audit.json").data["file"] == "b.csv"


def test_audit_into_a_folder_with_other_files_needs_no_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(argv(make_log(tmp_path / "a.csv", 0), out)) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "audit.json").exists()
