"""``auditkit audit`` on a regression: a log of continuous columns, a saved regressor, --task."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from auditkit.cli import main

FAST = ["--n-boot", "0", "--no-progress", "--sections", "performance,fairness"]


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip() and "Warning" not in ln]
    assert len(lines) == 1, err
    assert lines[0].startswith("auditkit: error: ") and "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    skops = pytest.importorskip("skops.io")
    d = tmp_path_factory.mktemp("reg")
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                       "sex": rng.choice(["f", "m"], n)})  # fmt: skip
    df["price"] = 3 * df["a"] - df["b"] + (df["sex"] == "f") + rng.normal(size=n) + 20
    pre = ColumnTransformer([("num", "passthrough", ["a", "b"]),
                             ("cat", OneHotEncoder(), ["sex"])])  # fmt: skip
    est = make_pipeline(pre, LinearRegression()).fit(df[["a", "b", "sex"]], df["price"])
    df.to_csv(d / "t.csv", index=False)
    df.assign(yhat=est.predict(df[["a", "b", "sex"]])).to_csv(d / "log.csv", index=False)
    skops.dump(est, d / "model.skops")
    return {"dir": d, "table": d / "t.csv", "log": d / "log.csv", "model": d / "model.skops"}


def test_log_of_continuous_columns_is_a_regression(files: dict[str, Path]) -> None:
    out = files["dir"] / "o-log"
    rc = main(
        [
            "audit",
            "--predictions",
            str(files["log"]),
            "--y-true",
            "price",
            "--y-pred",
            "yhat",
            "--sensitive",
            "sex",
            "--target-unit",
            "EUR",
            *FAST,
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    doc = json.loads((out / "audit.json").read_text())
    assert doc["data"]["task"] == "regression" and doc["model"]["task"] == "regression"
    assert doc["data"]["target"] == "price" and doc["data"]["unit"] == "EUR"
    assert doc["data"]["file"] == "log.csv" and doc["data"]["n_rows"] == 300
    assert (out / "card.html").is_file() and (out / "card.md").is_file()


def test_saved_regressor_on_a_table(files: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    out = files["dir"] / "o-model"
    rc = main(["audit", str(files["model"]), "--data", str(files["table"]), "--target", "price",
               "--sensitive", "sex", *FAST, "--out", str(out)])  # fmt: skip
    assert rc == 0
    assert "regression: predicts a number" in capsys.readouterr().out
    doc = json.loads((out / "audit.json").read_text())
    assert doc["data"]["task"] == "regression" and doc["data"]["target"] == "price"
    assert doc["model"]["task"] == "regression" and doc["model"]["file"] == "model.skops"
    rc = main(["audit", str(files["model"]), "--data", str(files["table"]), "--target", "price",
               "--sensitive", "sex", "--task", "regression", *FAST, "--out",
               str(files["dir"] / "o-model2")])  # fmt: skip
    assert rc == 0


def test_info_says_regression(files: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert main(["info", str(files["model"])]) == 0
    text = capsys.readouterr().out
    assert (
        "none: a regression predicts a number" in text and "regression" in text.split("task", 1)[1]
    )
    assert main(["info", str(files["model"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["task"] == "regression"


def test_task_errors_are_one_line(files: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    out = str(files["dir"] / "o-err")
    rc = main(
        [
            "audit",
            "--predictions",
            str(files["log"]),
            "--y-true",
            "price",
            "--y-pred",
            "yhat",
            "--sensitive",
            "sex",
            "--task",
            "classification",
            *FAST,
            "--out",
            out,
        ]
    )
    assert rc == 2
    assert "task='classification'" in _one_error_line(capsys.readouterr().err)
    rc = main(
        [
            "audit",
            str(files["model"]),
            "--data",
            str(files["table"]),
            "--target",
            "price",
            "--sensitive",
            "sex",
            "--task",
            "classification",
            *FAST,
            "--out",
            out,
        ]
    )
    assert rc == 2
    assert "regressor" in _one_error_line(capsys.readouterr().err)
    rc = main(
        [
            "audit",
            "--predictions",
            str(files["log"]),
            "--y-true",
            "price",
            "--y-pred",
            "yhat",
            "--sensitive",
            "sex",
            "--task",
            "numbers",
            *FAST,
            "--out",
            out,
        ]
    )
    assert rc == 2
    assert "--task" in _one_error_line(capsys.readouterr().err)
    rc = main(
        [
            "audit",
            "--predictions",
            str(files["log"]),
            "--y-true",
            "price",
            "--y-pred",
            "yhat",
            "--sensitive",
            "sex",
            "--pos-label",
            "1",
            *FAST,
            "--out",
            out,
        ]
    )
    assert rc == 2
    assert "pos_label" in _one_error_line(capsys.readouterr().err)
