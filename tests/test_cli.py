"""The command line, in process: audit / check / render / demo, exit codes, bad input."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auditkit._core.io import sha256_file
from auditkit.cli import main
from auditkit.report import load_result
from auditkit.result.json_io import validate_dict

OUTPUTS = {"audit.json", "card.html", "card.md"}


# ------------------------------------------------------------------------------ fixtures
def make_log(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    grp = rng.choice(["north", "south", "east"], n)
    label = rng.integers(0, 2, n)
    score = np.clip(0.4 * label + 0.6 * rng.random(n) - 0.1 * (grp == "east"), 0, 1)
    return pd.DataFrame(
        {"grp": grp, "sex": rng.choice(["F", "M"], n), "label": label,
         "decision": (score >= 0.5).astype(int), "score": score}
    )  # fmt: skip


@pytest.fixture
def log_csv(tmp_path: Path) -> Path:
    p = tmp_path / "log.csv"
    make_log().to_csv(p, index=False)
    return p


def log_args(log: Path, out: Path, *extra: str) -> list[str]:
    return [
        "audit", "--predictions", str(log), "--y-true", "label", "--y-pred", "decision",
        "--y-score", "score", "--sensitive", "grp,sex", "--out", str(out), "--n-boot", "20",
        "--no-progress", *extra,
    ]  # fmt: skip


def policy_file(tmp_path: Path, threshold: float, name: str = "policy.toml") -> Path:
    p = tmp_path / name
    p.write_text(
        '[[rule]]\nsection = "performance"\nmetric = "accuracy"\nop = ">="\n'
        f"threshold = {threshold}\n"
    )
    return p


def one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("auditkit: ")
    return lines[0]


# ---------------------------------------------------------------------- prediction logs
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_audit_a_prediction_log(
    tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / f"log.{fmt}"
    df = make_log()
    df.to_csv(log, index=False) if fmt == "csv" else df.to_parquet(log)
    out = tmp_path / "out"
    assert main(log_args(log, out)) == 0
    assert {p.name for p in out.iterdir()} == OUTPUTS
    stdout = capsys.readouterr().out
    assert str(out / "card.html") in stdout and "no policy checked" in stdout
    data = json.loads((out / "audit.json").read_text())
    validate_dict(data)
    assert data["run"]["command"].startswith("auditkit audit --predictions")
    assert data["data"]["file"] == log.name
    assert data["data"]["file_sha256"] == sha256_file(log)
    assert data["data"]["sensitive_features"] == ["grp", "sex"]


def test_policy_passed_and_failed_exit_codes(
    tmp_path: Path, log_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok = policy_file(tmp_path, 0.0, "ok.toml")
    assert main(log_args(log_csv, tmp_path / "a", "--policy", str(ok))) == 0
    assert "policy passed" in capsys.readouterr().out
    strict = policy_file(tmp_path, 1.01, "strict.toml")
    assert main(log_args(log_csv, tmp_path / "b", "--policy", str(strict))) == 1
    captured = capsys.readouterr()
    assert "policy FAILED" in captured.out and "rule-1" in captured.err
    res = load_result(tmp_path / "b" / "audit.json")
    assert res.policy["passed"] is False  # the verdict is in the JSON and the cards
    assert "Policy verdict" in (tmp_path / "b" / "card.html").read_text()


def test_check_command(tmp_path: Path, log_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(log_args(log_csv, tmp_path / "o")) == 0
    audit_json = str(tmp_path / "o" / "audit.json")
    ok, strict = policy_file(tmp_path, 0.0, "ok.toml"), policy_file(tmp_path, 1.01, "no.toml")
    capsys.readouterr()
    junit = tmp_path / "junit.xml"
    assert main(["check", audit_json, "--policy", str(ok), "--junit", str(junit)]) == 0
    assert "PASS rule-1" in capsys.readouterr().out
    assert ET.parse(junit).getroot().find(".//failure") is None
    assert main(["check", audit_json, "--policy", str(strict), "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    assert "FAIL rule-1" in out and "policy FAILED" in out
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert len(cases) == 1 and cases[0].find("failure") is not None


def test_render_recreates_the_cards_from_the_json(tmp_path: Path, log_csv: Path) -> None:
    assert main(log_args(log_csv, tmp_path / "o")) == 0
    src = tmp_path / "o"
    assert main(["render", str(src / "audit.json"), "--out", str(tmp_path / "r")]) == 0
    for name in ("card.html", "card.md"):
        assert (tmp_path / "r" / name).read_bytes() == (src / name).read_bytes()
    assert not (tmp_path / "r" / "audit.json").exists()
    # default: next to the JSON
    (src / "card.md").unlink()
    assert main(["render", str(src / "audit.json")]) == 0
    assert (src / "card.md").exists()


def test_card_info_fields_reach_the_cards(tmp_path: Path, log_csv: Path) -> None:
    info = tmp_path / "card.yaml"
    info.write_text("intended_use: Screening loan applications <b>\nlimitations:\n"
                    "  - Trained on 1994 census data\n  - Binary sex only\n")  # fmt: skip
    assert main(log_args(log_csv, tmp_path / "o", "--card-info", str(info))) == 0
    res = load_result(tmp_path / "o" / "audit.json")
    assert res.card_info["limitations"] == ["Trained on 1994 census data", "Binary sex only"]
    html = (tmp_path / "o" / "card.html").read_text()
    md = (tmp_path / "o" / "card.md").read_text()
    assert "Screening loan applications &lt;b&gt;" in html and "Binary sex only" in md


def _card_info_list(tmp_path: Path) -> Path:
    p = tmp_path / "info.yaml"
    p.write_text("- just\n- a list\n")
    return p


# ---------------------------------------------------------------------------- bad input
def _nan_labels(tmp_path: Path) -> Path:
    df = make_log()
    df["label"] = df["label"].astype(float)
    df.loc[7, "label"] = np.nan
    p = tmp_path / "nan.csv"
    df.to_csv(p, index=False)
    return p


def _bad_scores(tmp_path: Path) -> Path:
    df = make_log()
    df.loc[3, "score"] = 1.7
    p = tmp_path / "scores.csv"
    df.to_csv(p, index=False)
    return p


def _garbage(tmp_path: Path) -> Path:
    p = tmp_path / "log.parquet"
    p.write_bytes(b"PAR1 this is not parquet")
    return p


def _malformed_policy(tmp_path: Path) -> Path:
    p = tmp_path / "bad.toml"
    p.write_text('[[rule]]\nsection = "fairness"\nmetric = "x"\nop = "=>"\nthreshold = 0.8\n')
    return p


BAD: list[tuple[str, Callable[[Path, Path], list[str]], str]] = [
    ("missing column", lambda t, log: [
        "audit", "--predictions", str(log), "--y-true", "approved", "--y-pred", "decision",
        "--sensitive", "grp", "--out", str(t / "out")], "'approved'"),
    ("misspelt column", lambda t, log: [
        "audit", "--predictions", str(log), "--y-true", "label", "--y-pred", "decision",
        "--sensitive", "gpr", "--out", str(t / "out")], "did you mean 'grp'"),
    ("NaN in labels", lambda t, log: [
        "audit", "--predictions", str(_nan_labels(t)), "--y-true", "label", "--y-pred",
        "decision", "--sensitive", "grp", "--out", str(t / "out")], "missing"),
    ("scores outside [0, 1]", lambda t, log: [
        "audit", "--predictions", str(_bad_scores(t)), "--y-true", "label", "--y-pred",
        "decision", "--y-score", "score", "--sensitive", "grp", "--out", str(t / "out")],
     "1.7"),
    ("missing file", lambda t, log: [
        "audit", "--predictions", str(t / "nope.csv"), "--y-true", "label", "--y-pred",
        "decision", "--sensitive", "grp", "--out", str(t / "out")], "nope.csv"),
    ("unreadable file", lambda t, log: [
        "audit", "--predictions", str(_garbage(t)), "--y-true", "label", "--y-pred",
        "decision", "--sensitive", "grp", "--out", str(t / "out")], "log.parquet"),
    ("malformed policy", lambda t, log: [
        *log_args(log, t / "out"), "--policy", str(_malformed_policy(t))], "bad.toml"),
    ("unknown section", lambda t, log: [*log_args(log, t / "out"), "--sections", "perfomance"],
     "perfomance"),
    ("negative n-boot", lambda t, log: [*log_args(log, t / "out")[:-3], "--n-boot", "-1"],
     "n_boot"),
    ("no model and no log", lambda t, log: ["audit", "--out", str(t / "out")], "checkpoint"),
    ("model and log", lambda t, log: ["audit", "x.ckpt", *log_args(log, t / "out")[1:]],
     "--predictions"),
    ("log without labels", lambda t, log: [
        "audit", "--predictions", str(log), "--sensitive", "grp", "--out", str(t / "out")],
     "--y-true"),
    ("unknown option", lambda t, log: [*log_args(log, t / "out"), "--bogus"], "--bogus"),
    ("seed not an int", lambda t, log: [*log_args(log, t / "out"), "--seed", "x"], "--seed"),
    ("not a checkpoint", lambda t, log: [
        "audit", str(log), "--out", str(t / "out")], "log.csv"),
    ("missing checkpoint", lambda t, log: [
        "audit", str(t / "m.ckpt"), "--out", str(t / "out")], "m.ckpt"),
    ("card info not a mapping", lambda t, log: [
        *log_args(log, t / "out"), "--card-info", str(_card_info_list(t))], "info.yaml"),
    ("check: bad json", lambda t, log: ["check", str(log), "--policy", str(log)], "log.csv"),
    ("render: missing json", lambda t, log: ["render", str(t / "a.json"), "--out",
                                             str(t / "out")], "a.json"),
]  # fmt: skip


@pytest.mark.parametrize("label,make_argv,needle", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path,
    log_csv: Path,
    label: str,
    make_argv: Callable[[Path, Path], list[str]],
    needle: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = make_argv(tmp_path, log_csv)
    assert main(argv) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert needle in line
    assert not (tmp_path / "out").exists()


def test_internal_error_is_exit_3_one_line_and_writes_nothing(
    tmp_path: Path, log_csv: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from auditkit.report import _render

    def crash(*args: object, **kwargs: object) -> str:
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(_render, "render_html", crash)
    assert main(log_args(log_csv, tmp_path / "out")) == 3
    line = one_error_line(capsys.readouterr().err)
    assert "internal error" in line and "renderer bug" in line
    assert not (tmp_path / "out").exists()


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "auditkit" in capsys.readouterr().out
    for cmd in ("audit", "check", "render", "demo"):
        assert main([cmd, "--help"]) == 0
        assert "usage" in capsys.readouterr().out
    assert main([]) == 2


# --------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def adult_ckpt(tiny_ckpt: Callable[[str], Path]) -> Path:
    return tiny_ckpt("adult-mlp")


def test_audit_a_checkpoint_on_its_own_test_split(
    tmp_path: Path, adult_ckpt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["audit", str(adult_ckpt), "--sections", "performance,fairness", "--n-boot", "20",
            "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    data = json.loads((out / "audit.json").read_text())
    validate_dict(data)
    assert data["data"]["name"] == "adult" and data["data"]["n_rows"] == 16281
    assert data["data"]["sensitive_features"] == ["sex", "race", "age_band"]
    assert data["model"]["checkpoint_sha256"] == sha256_file(adult_ckpt)
    assert [s["name"] for s in data["sections"]] == ["performance", "fairness"]
    html = (out / "card.html").read_text()
    assert "&lt;=50K" in html and "<=50K" not in html  # class names are escaped


def test_audit_a_checkpoint_on_a_bundled_dataset_and_a_csv(
    tmp_path: Path, adult_ckpt: Path
) -> None:
    from auditkit.data import load_dataset

    ds = load_dataset("adult")
    argv = ["audit", str(adult_ckpt), "--data", "adult", "--sensitive", "sex",
            "--sections", "performance", "--n-boot", "10", "--no-progress"]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    a = load_result(tmp_path / "a" / "audit.json")
    assert a.data["sensitive_features"] == ["sex"] and a.data["n_rows"] == 16281
    table = ds.test.X.iloc[:500].copy()
    table["income"] = np.asarray(ds.schema.class_names, dtype=object)[ds.test.y[:500]]
    csv = tmp_path / "slice.csv"
    table.to_csv(csv, index=False)
    argv_csv = ["audit", str(adult_ckpt), "--data", str(csv), "--target", "income",
                "--sensitive", "sex,race", "--sections", "performance,fairness", "--n-boot", "10",
                "--no-progress", "--out", str(tmp_path / "b")]  # fmt: skip
    assert main(argv_csv) == 0
    b = load_result(tmp_path / "b" / "audit.json")
    assert b.data["n_rows"] == 500 and b.data["file_sha256"] == sha256_file(csv)


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--data", "adlt"], "did you mean 'adult'"),
        (["--data", "x.csv"], "--target"),
        (["--target", "income"], "--data"),
        (["--sensitive", "gender"], "'gender'"),
    ],
)
def test_checkpoint_bad_input(
    tmp_path: Path, adult_ckpt: Path, extra: list[str], needle: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    argv = ["audit", str(adult_ckpt), *extra, "--out", str(tmp_path / "out"), "--no-progress"]
    assert main(argv) == 2
    assert needle in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_demo_reuses_a_checkpoint(
    tmp_path: Path, adult_ckpt: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import auditkit.models.training

    def no_training(*args: object, **kwargs: object) -> Path:
        raise AssertionError("the demo should reuse the checkpoint")

    monkeypatch.setattr(auditkit.models.training, "train", no_training)
    shutil.copy(adult_ckpt, tmp_path / "adult-mlp.ckpt")
    assert main(["demo", "--out", str(tmp_path), "--n-boot", "10", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "card.html") in out
    data = json.loads((tmp_path / "audit.json").read_text())
    validate_dict(data)
    assert {s["name"] for s in data["sections"]} >= {"performance", "fairness"}


@pytest.mark.slow
def test_demo_from_scratch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole demo: train adult-mlp, audit it with every section, write the card."""
    from auditkit.sections import SECTIONS

    assert main(["demo", "--out", str(tmp_path), "--no-progress"]) == 0
    assert str(tmp_path / "card.html") in capsys.readouterr().out
    assert (tmp_path / "adult-mlp.ckpt").exists()
    res = load_result(tmp_path / "audit.json")
    assert {s.name for s in res.sections} == set(SECTIONS.names())
    assert all(s.status == "ok" for s in res.sections), [(s.name, s.reason) for s in res.sections]


# ------------------------------------------------------------------------------ examples
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_compliance_gate_example(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "compliance_gate.py"), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    res = load_result(tmp_path / "audit.json")
    assert proc.returncode == (0 if res.policy["passed"] else 1)
    cases = ET.parse(tmp_path / "policy-junit.xml").getroot().findall(".//testcase")
    assert len(cases) == len(res.policy["checks"]) == 4
    assert ("policy passed" if res.policy["passed"] else "policy FAILED") in proc.stdout


@pytest.mark.slow
def test_sklearn_example(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "audit_sklearn_model.py"), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = load_result(tmp_path / "out" / "audit.json")
    assert res.model["kind"] == "sklearn"
    assert {s.name: s.status for s in res.sections}["fairness"] == "ok"
    assert "Card:" in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "kind"),
    [
        ("audit_hf_text_classifier.py", "huggingface"),
        ("audit_user_lightning_module.py", "lightning"),
    ],
)
def test_model_kind_examples_run_offline(tmp_path: Path, script: str, kind: str) -> None:
    import os
    import subprocess
    import sys

    if kind == "huggingface":
        pytest.importorskip("transformers")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = load_result(tmp_path / "out" / "audit.json")
    status = {s.name: s.status for s in res.sections}
    assert status["performance"] == "ok" and status["explainability"] == "ok", status
    assert status["privacy"] == "ok", status  # each example gives its training rows
    assert (tmp_path / "out" / "card.html").is_file()
