"""The regression reference model ``adult-hours``: training, checkpoint, adapter, explanations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from auditkit.data import DatasetSchema, load_dataset
from auditkit.exceptions import CheckpointError, DataValidationError, ParameterError


@pytest.fixture(scope="module")
def hours_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from auditkit.models.training import train

    out = tmp_path_factory.mktemp("hours") / "adult-hours.ckpt"
    return train(
        "adult-hours", out=out, max_epochs=2, limit_train_rows=600, num_threads=1,
        accelerator="cpu", devices=1, seed=3,
    )  # fmt: skip


def test_dataset_declares_a_regression_target() -> None:
    ds = load_dataset("adult-hours")
    assert ds.schema.task == "regression" and ds.schema.unit == "hours"
    assert ds.schema.class_names == () and ds.schema.target == "hours-per-week"
    assert "hours-per-week" not in ds.schema.feature_names
    assert "income" not in ds.schema.feature_names
    assert ds.train.y.dtype == np.float64 and len(ds.train.y) == 32561
    adult = load_dataset("adult")
    np.testing.assert_array_equal(ds.test.y, adult.test.X["hours-per-week"].to_numpy())
    assert set(ds.sensitive("test").columns) == {"sex", "race", "age_band"}


def test_schema_plain_data_of_a_classifier_is_unchanged() -> None:
    d = load_dataset("adult").schema.to_dict()
    assert "task" not in d and "unit" not in d
    hours = load_dataset("adult-hours").schema
    back = DatasetSchema.from_dict(hours.to_dict())
    assert back == hours and back.is_regression
    with pytest.raises(ValueError, match="schema task"):
        DatasetSchema.from_dict({**hours.to_dict(), "task": "ranking"})


def test_checkpoint_is_a_regression(hours_ckpt: Path) -> None:
    import auditkit

    loaded = auditkit.load_checkpoint(hours_ckpt)
    assert loaded.task == "regression" and loaded.meta["task"] == "regression"
    assert set(loaded.meta["history"][0]) == {
        "epoch", "train_loss", "val_loss", "train_rmse", "val_rmse",
    }  # fmt: skip
    tm = loaded.meta["test_metrics"]
    assert set(tm) == {"mean_absolute_error", "root_mean_squared_error", "r2_score", "n"}
    assert 5 < tm["root_mean_squared_error"] < 20
    ds = load_dataset("adult-hours")
    adapter = loaded.as_adapter()
    assert adapter.task == "regression" and adapter.classes_ is None and not adapter.has_scores
    v = adapter.predict_values(ds.test.X.iloc[:200])
    assert v.shape == (200,) and v.dtype == np.float64
    assert 20 < float(v.mean()) < 60  # un-standardised: hours, not z-scores
    # the module's one output is the value in hours
    import torch

    with torch.no_grad():
        out = loaded.module(loaded.encode(ds.test.X.iloc[:5])).double().numpy()[:, 0]
    np.testing.assert_allclose(out, v[:5], rtol=1e-6)
    with pytest.raises(ParameterError, match="regression model"):
        loaded.predict_proba(ds.test.X.iloc[:5])
    rmse = float(np.sqrt(np.mean((adapter.predict_values(ds.test.X) - ds.test.y) ** 2)))
    assert rmse == pytest.approx(tm["root_mean_squared_error"], rel=1e-6)


def test_info_shows_the_target_and_the_rmse_history(
    hours_ckpt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from auditkit.cli import main

    assert main(["info", str(hours_ckpt)]) == 0
    out = capsys.readouterr().out
    assert "target        hours-per-week (regression, in hours)" in out
    assert "classes" not in out
    head = next(x for x in out.splitlines() if x.startswith("epoch"))
    assert head.split() == ["epoch", "train_loss", "train_rmse", "val_loss", "val_rmse"]


def test_checkpoint_task_must_match_the_model(hours_ckpt: Path, tmp_path: Path) -> None:
    import io

    import torch

    from auditkit.models.checkpoint import load_checkpoint, read_checkpoint

    ckpt, meta, _ = read_checkpoint(hours_ckpt)
    ckpt["auditkit"] = {k: v for k, v in meta.items() if k != "task"}
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    bad = tmp_path / "no-task.ckpt"
    bad.write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError, match="'classification' but adult-hours is a regression"):
        load_checkpoint(bad)


def test_refit_and_errors(hours_ckpt: Path) -> None:
    import auditkit
    from auditkit.models.fitting import fit_model

    ds = load_dataset("adult-hours")
    adapter = auditkit.load_checkpoint(hours_ckpt).as_adapter()
    X, y = ds.train.X.iloc[:300], ds.train.y[:300]
    refit = adapter.refit(X, y, random_state=1)
    assert refit.task == "regression" and refit.predict_values(X.iloc[:4]).shape == (4,)
    with pytest.raises(DataValidationError, match="row 2 holds nan"):
        fit_model("adult-hours", X.iloc[:8], [1.0, 2.0, np.nan, 4, 5, 6, 7, 8],
                  schema=ds.schema, max_epochs=1)  # fmt: skip
    with pytest.raises(DataValidationError, match="regression model; got the value 'x'"):
        fit_model("adult-hours", X.iloc[:4], ["1", "x", "2", "3"], schema=ds.schema, max_epochs=1)
    with pytest.raises(ParameterError, match="adult-mlp is a classification model"):
        fit_model("adult-mlp", X, y, schema=ds.schema, max_epochs=1)
    with pytest.raises(ParameterError, match="adult-hours is a regression model"):
        fit_model("adult-hours", X, y, schema=load_dataset("adult").schema, max_epochs=1)


def test_explain_the_checkpoint(hours_ckpt: Path) -> None:
    import auditkit

    ds = load_dataset("adult-hours")
    loaded = auditkit.load_checkpoint(hours_ckpt)
    e = auditkit.explain(loaded, ds.test.X.iloc[:40])
    assert e.method == "integrated_gradients" and e.values.shape == (40, 13)
    assert e.feature_names == ds.schema.feature_names
    assert (e.target == 0).all() and e.info["output"] == "the predicted value"
    # completeness: contributions add up to prediction minus the baseline's, in hours
    spread = float(np.std(loaded.predict_values(ds.test.X.iloc[:40])))
    assert e.delta is not None and np.abs(e.delta).max() < 0.05 * spread


def _ctx(adapter: Any, sections: tuple[str, ...], n: int, options: dict[str, Any]) -> Any:
    from auditkit.inputs.context import (
        AuditConfig,
        AuditContext,
        Predictions,
        RegressionPredictions,
        TrainData,
    )

    ds = load_dataset("adult-hours")
    X, y = ds.test.X.iloc[:n].reset_index(drop=True), ds.test.y[:n]
    Xt, yt = ds.train.X.iloc[:n].reset_index(drop=True), ds.train.y[:n]
    sens = ds.schema.sensitive_frame(X).reset_index(drop=True)
    return AuditContext(
        config=AuditConfig(sections=sections, n_boot=100, options=options),
        predictions=Predictions(np.empty(0, int), np.empty(0, int), None, (), None),
        regression=RegressionPredictions(
            y, adapter.predict_values(X), target="hours-per-week", unit="hours"
        ),
        model=adapter, X=X, sensitive=sens, schema=ds.schema,
        train=TrainData(Xt, yt, sensitive=ds.schema.sensitive_frame(Xt).reset_index(drop=True)),
    )  # fmt: skip


def test_sections_on_the_checkpoint(hours_ckpt: Path) -> None:
    import auditkit
    from auditkit.sections.explainability import ExplainabilitySection
    from auditkit.sections.privacy import PrivacySection
    from auditkit.sections.stability import StabilitySection

    adapter = auditkit.load_checkpoint(hours_ckpt).as_adapter()
    opts = {"cv": 2, "explain_max_rows": 60, "explain_sanity_rows": 20, "privacy_max_rows": 100}
    ctx = _ctx(adapter, ("explainability", "privacy", "stability"), 300, opts)
    ex = ExplainabilitySection().run(ctx)
    assert ex.status == "ok" and ex.info["method"] == "integrated_gradients"
    assert {m.input_feature for m in ex.metrics if m.name == "importance"} == set(
        load_dataset("adult-hours").schema.feature_names
    )
    flips = [m for m in ex.metrics if m.name == "counterfactual_mean_change" and m.group is None]
    assert {m.feature for m in flips} == {("sex",), ("race",)}  # age_band is not an input
    pr = PrivacySection().run(ctx)
    assert pr.status == "ok"
    ref = [m for m in pr.metrics if m.name == "membership_auc" and m.attack == "reference"]
    assert ref and ref[0].value is not None
    st = StabilitySection().run(ctx)
    assert st.status == "ok" and st.info["k"] == 2
    assert any(m.name == "fold_prediction_std_mean" and m.unit == "hours" for m in st.metrics)


def test_classification_checkpoint_unchanged(tmp_path: Path) -> None:
    """An adult-mlp checkpoint carries no task and its adapter is the classifier it was."""
    import auditkit
    from auditkit.models.training import train

    path = train("iris-mlp", out=tmp_path / "iris.ckpt", max_epochs=1, num_threads=1,
                 accelerator="cpu", devices=1)  # fmt: skip
    loaded = auditkit.load_checkpoint(path)
    assert "task" not in loaded.meta and "task" not in loaded.meta["schema"]
    assert set(loaded.meta["history"][0]) == {
        "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
    }  # fmt: skip
    a = loaded.as_adapter()
    assert a.task == "classification" and list(a.classes_) == [0, 1, 2]


@pytest.mark.slow
def test_train_and_audit_adult_hours_end_to_end(tmp_path: Path) -> None:
    """`auditkit train adult-hours` for a few seconds, then `audit` of the checkpoint."""
    import subprocess
    import sys

    import auditkit

    out = tmp_path / "adult-hours.ckpt"
    subprocess.run(
        [sys.executable, "-m", "auditkit", "train", "adult-hours", "--out", str(out),
         "--max-epochs", "3", "--limit-train-rows", "4000", "--threads", "1", "--quiet"],
        check=True, timeout=600,
    )  # fmt: skip
    loaded = auditkit.load_checkpoint(out)
    assert loaded.meta["test_metrics"]["r2_score"] > 0.05
    # the sections of this part of issue 17 (performance and fairness have their own tests)
    result = auditkit.audit(
        loaded,
        sections=("explainability", "privacy", "stability"),
        options={"cv": 2, "explain_max_rows": 500, "privacy_max_rows": 1000},
        n_boot=100,
    )
    d = result.to_dict()
    assert d["data"]["task"] == "regression" and d["model"]["task"] == "regression"
    status = {s["name"]: s["status"] for s in d["sections"]}
    assert status == dict.fromkeys(("explainability", "privacy", "stability"), "ok"), status
    words = " ".join(f["text"] for s in d["sections"] for f in s["findings"])
    assert "contribution to the predicted hours-per-week" in words
    assert " hours on average" in words  # the unit comes from the checkpoint's schema
    recs = pd.DataFrame([m.to_dict() for m in result.metrics])
    auc = recs[(recs["name"] == "membership_auc") & recs["feature"].isna()]
    assert set(auc["attack"]) == {"loss", "reference"}
    # a small MLP trained for 3 epochs does not memorise: both attacks near chance
    assert ((auc["value"] > 0.4) & (auc["value"] < 0.6)).all()
    # the command a user runs: every section, the three outputs, a regression card
    cards = tmp_path / "card"
    done = subprocess.run(
        [sys.executable, "-m", "auditkit", "audit", str(out), "--out", str(cards),
         "--n-boot", "100"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    full = auditkit.load_result(cards / "audit.json").to_dict()
    status = {s["name"]: s["status"] for s in full["sections"]}
    assert status["performance"] == "ok" and status["fairness"] == "ok", status
    assert "failed" not in status.values(), status
    html = (cards / "card.html").read_text(encoding="utf-8")
    assert "Regression" in html and "hours-per-week" in html
    assert "mean absolute error" in (cards / "card.md").read_text(encoding="utf-8").lower()
