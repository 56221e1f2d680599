"""auditkit.mlflow against a real local MLflow store (SQLite), never a mock.

An audit is logged and read back with ``MlflowClient``: every metric under its documented name
and value, the verdict and policy tags, and the artifacts (``audit.json`` byte-identical to the
JSON of the result). One store for the module: creating MLflow's tables takes seconds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _report_fixtures import rich_result

import auditkit
from auditkit.exceptions import MissingDependencyError, ParameterError
from auditkit.result import AuditResult, MetricValue, SectionResult
from auditkit.result.summary import summarize

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("sqlalchemy")
pytest.importorskip("alembic")

import auditkit.mlflow as am  # noqa: E402 - after the skips


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A local SQLite tracking store; artifacts under the same folder.

    In memory-backed ``/dev/shm`` where there is one: creating MLflow's tables runs some fifty
    migrations, each synced to disk (14 s on a disk of the test machine, 3 s in memory).
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        root = Path(tempfile.mkdtemp(prefix="auditkit-mlflow-", dir=shm))
    else:
        root = tmp_path_factory.mktemp("mlflow")
    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri("sqlite:///" + str(root / "mlflow.db"))
    client = mlflow.MlflowClient()
    client.search_experiments()  # creates the tables once
    yield root
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(before)
    if root.parent == shm:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def experiment(
    store: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A fresh experiment named after the test, chosen the MLflow way (the environment)."""
    name = f"audits-{request.node.name}"
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(name)
    if exp is None:
        client.create_experiment(name, artifact_location=(store / name).as_uri())
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", name)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    return name


@pytest.fixture(scope="module")
def log_result() -> AuditResult:
    rng = np.random.default_rng(5)
    n = 1200
    df = pd.DataFrame(
        {"sex": rng.choice(["F", "M"], n), "race": rng.choice(["A/B", "C D", "É"], n)}
    )
    y = rng.integers(0, 2, n)
    s = np.clip(0.4 * y + 0.6 * rng.random(n) - 0.1 * (df["sex"] == "F"), 0, 1)
    df["y"], df["p"], df["s"] = y, (s > 0.5).astype(int), s
    return auditkit.audit_predictions(
        data=df, y_true="y", y_pred="p", y_score="s", sensitive_features=["sex", "race"],
        n_boot=50,
    )  # fmt: skip


def _artifact_text(run_id: str, path: str, dst: Path) -> str:
    local = mlflow.MlflowClient().download_artifacts(run_id, path, str(dst))
    return Path(local).read_text(encoding="utf-8")


def test_log_audit_and_read_it_back(experiment, log_result, tmp_path):
    logged = am.log_audit(log_result)
    client = mlflow.MlflowClient()
    run = client.get_run(logged.run_id)
    assert logged.started and run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == experiment
    assert mlflow.active_run() is None  # the run it started is ended
    # metrics: every record with a value, under its documented name, with its value
    keys = am.metric_keys(log_result)
    expected = {k: m.value for k, (m, _) in keys.items() if m.value is not None}
    assert run.data.metrics == pytest.approx(expected, rel=1e-12)
    assert len(expected) > 100
    assert "performance.accuracy" in run.data.metrics
    assert "fairness.sex.demographic_parity_difference" in run.data.metrics
    assert "fairness.sex.F.selection_rate" in run.data.metrics
    assert "fairness.race.A_B.selection_rate" in run.data.metrics  # "A/B" made safe
    assert "fairness.race.E.selection_rate" in run.data.metrics  # the accent dropped
    assert "fairness.sex_x_race.F_x_C_D.selection_rate" in run.data.metrics
    assert any(k.endswith(".to_reference") for k in run.data.metrics)
    # tags: the card's verdict and the policy outcome
    s = summarize(log_result.to_dict())
    tags = run.data.tags
    assert (
        tags["auditkit.verdict"] == s.verdict and tags["auditkit.verdict_word"] == s.verdict_word
    )
    assert tags["auditkit.policy"] == "not_checked"
    assert tags["auditkit.sections"].startswith("performance=ok,fairness=ok")
    # artifacts: the files, audit.json exactly the result's JSON
    paths = {a.path for a in client.list_artifacts(logged.run_id, "auditkit")}
    assert paths == {f"auditkit/{n}" for n in ("audit.json", "card.html", "card.md",
                                                "metric_keys.json")}  # fmt: skip
    assert _artifact_text(logged.run_id, "auditkit/audit.json", tmp_path) == auditkit.to_json(
        log_result
    )
    html = _artifact_text(logged.run_id, "auditkit/card.html", tmp_path)
    assert html.lstrip().lower().startswith("<!doctype html")
    mapping = json.loads(_artifact_text(logged.run_id, "auditkit/metric_keys.json", tmp_path))
    assert set(mapping) == set(keys)
    assert mapping["performance.accuracy"]["name"] == "accuracy"


def test_log_into_the_active_run_and_a_given_run_with_prefixes(experiment):
    policy = rich_result()  # a checked policy that passed with a warning
    with mlflow.start_run() as active:
        mlflow.log_metric("train_loss", 0.5)
        a = am.log_audit(policy, prefix="test")
        assert mlflow.active_run().info.run_id == active.info.run_id  # still open
    b = am.log_audit(rich_result(seed=1, with_policy=False), run_id=active.info.run_id,
                     prefix="validation", artifacts=False)  # fmt: skip
    assert a.run_id == b.run_id == active.info.run_id and not a.started and not b.started
    run = mlflow.MlflowClient().get_run(active.info.run_id)
    assert run.data.metrics["train_loss"] == 0.5
    assert "test.performance.accuracy" in run.data.metrics
    assert "validation.performance.accuracy" in run.data.metrics
    assert run.data.tags["auditkit.test.policy"] == "passed"
    assert run.data.tags["auditkit.test.verdict_word"] == "PASSED WITH WARNINGS"
    assert run.data.tags["auditkit.test.policy_failed_rules"] == "rule-3"
    assert run.data.tags["auditkit.validation.policy"] == "not_checked"
    arts = {x.path for x in mlflow.MlflowClient().list_artifacts(a.run_id, "auditkit/test")}
    assert "auditkit/test/card.md" in arts
    assert mlflow.MlflowClient().list_artifacts(a.run_id, "auditkit/validation") == []


def test_cli_hook_logs_the_written_files(experiment, tmp_path):
    from auditkit.report import write_outputs

    r = rich_result(seed=3)
    paths = write_outputs(r, tmp_path / "out")
    line = am.log_from_cli(r, paths)
    assert line.startswith("Logged to MLflow: run ") and "sqlite:///" in line
    rid = line.split()[4]
    got = _artifact_text(rid, "auditkit/card.html", tmp_path / "dl")
    assert got == paths["html"].read_text(encoding="utf-8")


def test_cli_flag_logs_the_audit(experiment, tmp_path, capsys):
    from auditkit.cli import main

    rng = np.random.default_rng(4)
    n = 400
    y = rng.integers(0, 2, n)
    log = pd.DataFrame({"y": y, "p": np.where(rng.random(n) < 0.8, y, 1 - y),
                        "grp": rng.choice(["a", "b"], n)})  # fmt: skip
    log.to_csv(tmp_path / "log.csv", index=False)
    out = tmp_path / "out"
    args = ["audit", "--predictions", str(tmp_path / "log.csv"), "--y-true", "y", "--y-pred",
            "p", "--sensitive", "grp", "--out", str(out), "--n-boot", "50",
            "--mlflow"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out.splitlines()
    line = next(x for x in printed if x.startswith("Logged to MLflow: run "))
    rid = line.split()[4]
    run = mlflow.MlflowClient().get_run(rid)
    assert run.data.tags["auditkit.verdict_word"]
    assert run.info.experiment_id == mlflow.get_experiment_by_name(experiment).experiment_id
    got = _artifact_text(rid, "auditkit/audit.json", tmp_path / "dl")
    assert got == (out / "audit.json").read_text(encoding="utf-8")


def test_cli_flag_without_mlflow_fails_before_the_audit(tmp_path, monkeypatch, capsys):
    from auditkit.cli import main

    monkeypatch.setitem(sys.modules, "mlflow", None)
    args = ["audit", "--predictions", str(tmp_path / "none.csv"), "--y-true", "y", "--y-pred",
            "p", "--out", str(tmp_path / "out"), "--mlflow"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "auditkit[mlflow]" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_errors_name_what_is_wrong(experiment):
    with pytest.raises(ParameterError, match="run_id 'no-such-run'"):
        am.log_audit(rich_result(), run_id="no-such-run")
    with pytest.raises(ParameterError, match="AuditResult"):
        am.log_audit({"metrics": []})  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="prefix"):
        am.log_audit(rich_result(), prefix="..")
    assert mlflow.active_run() is None


def test_missing_mlflow_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(MissingDependencyError, match=r"auditkit\[mlflow\]"):
        am.log_audit(rich_result())


# ------------------------------------------------------------------ names, without a store
def _result(*metrics: MetricValue) -> AuditResult:
    secs: dict[str, list[MetricValue]] = {}
    for m in metrics:
        secs.setdefault(m.section, []).append(m)
    sections = tuple(SectionResult(k, "ok", metrics=tuple(v)) for k, v in secs.items())
    return AuditResult("1.0", "0", "2024-01-01T00:00:00Z", {}, {}, {}, sections)


def test_names_are_safe_stable_and_disambiguated():
    a = MetricValue("fairness", "selection_rate", 0.1, feature=("race",), group=("A/B",))
    b = MetricValue("fairness", "selection_rate", 0.2, feature=("race",), group=("A B",))
    c = MetricValue("fairness", "selection_rate", 0.3, feature=("race",), group=("C",))
    keys = am.metric_keys(_result(a, b, c))
    names = list(keys)
    assert names[2] == "fairness.race.C.selection_rate"
    assert names[0].startswith("fairness.race.A_B.selection_rate-") and len(names[0]) == 41
    assert names[0] != names[1]
    # the suffix hashes the record's identity: the same in any order, in any audit
    again = am.metric_keys(_result(c, b, dataclasses.replace(a, value=0.9)))
    assert {k: m.group for k, (m, _) in again.items()} == {
        k: m.group for k, (m, _) in keys.items()
    }
    # every name passes MLflow's own validation, on every platform (no colon)
    from mlflow.utils.validation import _validate_metric_name

    weird = MetricValue("s p", "n\u202e:/..", 1.0, feature=("日本", ""), group=("x", "..."),
                        label="<b>", method="to_reference", fold=2, attack="loss")  # fmt: skip
    long = MetricValue("fairness", "x" * 300, 1.0)
    for name in am.metric_keys(_result(weird, long)):
        _validate_metric_name(name)
        assert ":" not in name and len(name) <= am.MAX_KEY
    dup = am.metric_keys(_result(c, c))  # the same record twice
    assert len(dup) == 2
    lower = dataclasses.replace(c, group=("c",))  # names differing only in case
    assert all("-" in k for k in am.metric_keys(_result(c, lower)))
