"""Same inputs and seed give byte-identical JSON (and cards), with SOURCE_DATE_EPOCH set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import auditkit
from auditkit.cli import main
from auditkit.report import AuditResult, write_outputs


def sklearn_audit(seed: int) -> AuditResult:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(123)
    n = 500
    X = rng.normal(size=(n, 4))
    sex = rng.choice(["Female", "Male"], n)
    y = (X[:, 0] - 0.4 * (sex == "Female") + rng.normal(size=n) > 0).astype(int)
    model = LogisticRegression().fit(X[:300], y[:300])
    return auditkit.audit(model, X[300:], y[300:], sensitive_features=sex[300:],
                          train=(X[:300], y[:300]), n_boot=100, random_state=seed)  # fmt: skip


def predictions_audit(seed: int) -> AuditResult:
    rng = np.random.default_rng(7)
    n = 900
    g = rng.choice(["a", "b", "c"], n)
    y = rng.integers(0, 2, n)
    s = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    return auditkit.audit_predictions(y, (s > 0.5).astype(int), y_score=s,
                                      sensitive_features={"g": g}, n_boot=200,
                                      random_state=seed)  # fmt: skip


@pytest.mark.parametrize("make", [sklearn_audit, predictions_audit])
def test_same_audit_twice_is_byte_identical(
    make: Callable[[int], AuditResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a = write_outputs(make(0), tmp_path / "a")
    b = write_outputs(make(0), tmp_path / "b")
    for key in ("json", "html", "markdown"):
        assert a[key].read_bytes() == b[key].read_bytes(), key
    assert '"created_at": "2023-11-14T22:13:20Z"' in a["json"].read_text()


def test_a_different_seed_changes_the_intervals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    a, b = predictions_audit(0), predictions_audit(1)
    cis_a = [m.ci for m in a.metrics if m.ci is not None]
    cis_b = [m.ci for m in b.metrics if m.ci is not None]
    if not cis_a:
        pytest.skip("no section reports bootstrap intervals yet")
    assert cis_a != cis_b


def test_cli_twice_is_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    rng = np.random.default_rng(3)
    n = 400
    y = rng.integers(0, 2, n)
    pd.DataFrame(
        {"y": y, "p": np.where(rng.random(n) < 0.8, y, 1 - y), "g": rng.choice(["u", "v"], n)}
    ).to_csv(tmp_path / "log.csv", index=False)
    for run in ("a", "b"):  # the same command line (it is recorded), run in two folders
        (tmp_path / run).mkdir()
        monkeypatch.chdir(tmp_path / run)
        argv = ["audit", "--predictions", str(tmp_path / "log.csv"), "--y-true", "y",
                "--y-pred", "p", "--sensitive", "g", "--n-boot", "50", "--no-progress",
                "--out", "out"]  # fmt: skip
        assert main(argv) == 0
    for name in ("audit.json", "card.html", "card.md"):
        a, b = tmp_path / "a" / "out" / name, tmp_path / "b" / "out" / name
        assert a.read_bytes() == b.read_bytes()
