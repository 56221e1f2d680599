"""Regressions on huge inputs (found by benchmarks/fuzz.py).

Was: explainability failed on features near 1e300 ("Input X contains infinity": the
attributions encoded inputs as float32, where 1e300 is infinite; fuzz seeds 1898, 2249), and a
bare torch module warned "overflow encountered in cast" and computed on infinities. Now
non-torch models are attributed through a float64 encoding, and torch models refuse values
beyond float32's range with an error naming the column.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

import auditkit
from auditkit.adapters import TorchModel
from auditkit.exceptions import DataValidationError
from auditkit.report import to_json


def frame(n: int = 80, seed: int = 0, scale: float = 1e300) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"small": rng.normal(size=n), "huge <x>": rng.normal(size=n) * scale})
    y = (X["small"] > 0).astype(int).to_numpy()
    return X, y


def fitted(X: object, y: np.ndarray) -> LogisticRegression:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs does not converge on 1e300: not the point here
        return LogisticRegression().fit(X, y)


def small_only(X: pd.DataFrame) -> np.ndarray:
    p = 1 / (1 + np.exp(-np.asarray(X["small"], dtype=float)))
    return np.c_[1 - p, p]


@pytest.mark.parametrize("kind", ["sklearn", "callable"])
def test_explainability_attributes_features_beyond_float32_for_non_torch_models(
    kind: str,
) -> None:
    """Non-torch models are attributed through a float64 encoding: 1e300 is a value like any."""
    X, y = frame()
    est = fitted(X, y) if kind == "sklearn" else small_only
    s = np.where(np.arange(len(y)) % 2, "a", "b")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing escapes
        res = auditkit.audit(est, X, y, sensitive_features={"g": s}, n_boot=2,
                             sections=["performance", "fairness", "explainability"])  # fmt: skip
    to_json(res)
    by = {sec.name: sec for sec in res.sections}
    assert by["performance"].status == by["fairness"].status == "ok"
    assert by["explainability"].status == "ok", by["explainability"].reason
    if kind == "callable":  # the model reads 'small' only: 'huge <x>' gets no attribution
        imp = {m.input_feature: m.value for m in by["explainability"].metrics
               if m.name == "importance" and m.feature is None}  # fmt: skip
        assert imp["huge <x>"] == 0.0 and imp["small"] > 0.0


def test_feature_ablation_asks_the_estimator_about_its_exact_inputs() -> None:
    """Integers beyond 2**24 and 1e300 survive the encoding (float32 would round them)."""
    seen: list[pd.DataFrame] = []
    X = pd.DataFrame({"id": np.array([16_777_217, 2**40 + 1, 3], dtype=np.int64),
                      "x": [1e300, -2.5e299, 0.1]})  # fmt: skip

    def proba(df: pd.DataFrame) -> np.ndarray:
        seen.append(df.copy())
        p = 1 / (1 + np.exp(-np.sign(df["x"].to_numpy(dtype=float))))
        return np.c_[1 - p, p]

    auditkit.explain(proba, X, method="feature_ablation")
    full = [df for df in seen if len(df) == len(X)]
    assert full, "the estimator never saw the rows whole"
    # The unperturbed rows, exactly (feature ablation asks about them first).
    assert any(df["id"].tolist() == X["id"].tolist() and df["x"].tolist() == X["x"].tolist()
               for df in full)  # fmt: skip
    # Every value the estimator saw is an original value or the ablation's baseline.
    for df in full:
        assert set(df["id"].tolist()) <= set(X["id"].tolist()) | {0}
        assert set(df["x"].tolist()) <= set(X["x"].tolist()) | {0.0}


def test_explainability_runs_at_the_edge_of_float32() -> None:
    """Values large but inside float32's range are attributed as before."""
    X, y = frame(scale=1e30)
    est = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    res = auditkit.audit(est, X, y, n_boot=2, sections=["explainability"])
    assert res.sections[0].status == "ok", res.sections[0].reason


def test_explainability_of_an_array_beyond_float32() -> None:
    X, y = frame()
    arr = X.to_numpy()
    est = fitted(arr, y)
    res = auditkit.audit(est, arr, y, n_boot=2, sections=["explainability"])
    assert res.sections[0].status == "ok", res.sections[0].reason


def mlp(d: int = 2) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(d, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))


@pytest.mark.parametrize("form", ["frame", "array", "tensor"])
def test_torch_model_refuses_values_beyond_float32_without_warning(form: str) -> None:
    X, y = frame()
    data = {"frame": X, "array": X.to_numpy(), "tensor": torch.tensor(X.to_numpy())}[form]
    model = TorchModel(mlp())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataValidationError) as info:
            model.predict_proba(data)
        with pytest.raises(DataValidationError):
            auditkit.audit(mlp(), data, y, n_boot=2, sections=["performance"])
    msg = str(info.value)
    name = "column 'huge <x>'" if form == "frame" else "feature 1"
    assert msg.startswith(f"The torch module 'Sequential' could not predict on X: {name} holds")
    assert "float32" in msg and f"{X['huge <x>'][0]:.6g}" in msg


def test_torch_model_takes_inputs_inside_float32_and_infinities_as_before() -> None:
    X, _ = frame(scale=1e30)
    X.loc[0, "small"] = np.inf
    model = TorchModel(mlp())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = model.predict_proba(X)
    assert p.shape == (len(X), 2)
    ref = torch.softmax(mlp()(torch.tensor(X.to_numpy(), dtype=torch.float32)), 1)
    np.testing.assert_allclose(p[1:], ref.detach().double().numpy()[1:], rtol=1e-6)


def test_torch_model_names_a_text_column() -> None:
    X = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    with pytest.raises(DataValidationError, match="column 'b'"):
        TorchModel(mlp()).predict_proba(X)


def test_checkpoint_with_huge_values_gives_a_clear_error_or_result(
    tiny_ckpt: Callable[[str], Path],
) -> None:
    from auditkit.data import load_dataset
    from auditkit.models.checkpoint import load_checkpoint

    loaded = load_checkpoint(tiny_ckpt("adult-mlp"))
    ds = load_dataset("adult")
    X = ds.test.X.iloc[:200].copy()
    X["age"] = X["age"].astype(float)
    X.loc[3, "age"] = 1e300
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            res = auditkit.audit(loaded, X, ds.test.y[:200], n_boot=2,
                                 sections=["performance", "explainability"])  # fmt: skip
        except DataValidationError as exc:
            assert "'age'" in str(exc) and "1e+300 at row 3" in str(exc)
        else:
            raise AssertionError(f"a clear error was expected; got {res.sections}")
