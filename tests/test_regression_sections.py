"""Explainability, privacy and stability sections of a regression, on contexts built directly.

The adapters of regressors (scikit-learn, torch with one output) belong to the inputs stage; the
tests here use a small :class:`ModelAdapter` of their own (``task="regression"``, ``_values``,
``refit``, optional ``torch_parts``) so the sections are checked on their own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from auditkit.adapters.base import ModelAdapter, ModelKind, Task, TorchParts
from auditkit.exceptions import ParameterError
from auditkit.inputs.context import (
    AuditConfig,
    AuditContext,
    Predictions,
    RegressionPredictions,
    TrainData,
)

EMPTY = Predictions(np.empty(0, int), np.empty(0, int), None, (), None)


class Regressor(ModelAdapter):
    """A scikit-learn regressor over numeric columns and one-hot ``sex`` (a regression adapter)."""

    kind: ModelKind = "sklearn"
    task: Task = "regression"
    has_scores = False

    def __init__(self, factory: Any, est: Any = None) -> None:
        super().__init__(est, name=type(factory()).__name__)
        self.factory = factory
        self.est = est

    @staticmethod
    def matrix(X: pd.DataFrame) -> np.ndarray:
        num = X.drop(columns=["sex"]).to_numpy(dtype=np.float64)
        return np.column_stack([num, (X["sex"].astype(str) == "F").to_numpy(dtype=np.float64)])

    def _values(self, X: Any) -> Any:
        return self.est.predict(self.matrix(X))

    @property
    def can_refit(self) -> bool:
        return True

    def refit(self, X: Any, y: Any, *, random_state: int = 0) -> Regressor:
        est = self.factory()
        if "random_state" in est.get_params():
            est.set_params(random_state=random_state)
        return Regressor(self.factory, est.fit(self.matrix(X), np.asarray(y, dtype=np.float64)))


class TorchRegressor(Regressor):
    """A one-output torch module (linear) with torch parts, as a checkpoint would give."""

    kind: ModelKind = "torch"

    def __init__(self, module: Any, columns: list[str]) -> None:
        ModelAdapter.__init__(self, module, name="torch-linear")
        self.module, self.columns = module, columns

    def _encode(self, X: pd.DataFrame) -> Any:
        import torch

        return torch.as_tensor(np.array(X[self.columns], dtype=np.float32))

    def _values(self, X: Any) -> Any:
        import torch

        with torch.no_grad():
            return self.module(self._encode(X)).double().numpy()[:, 0]

    def torch_parts(self) -> TorchParts:
        return TorchParts(module=self.module, encode=self._encode, feature_names=self.columns)

    @property
    def can_refit(self) -> bool:
        return False


def make_data(n: int, seed: int, noise: float = 1.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows with two numeric inputs, a sex column (input) and y = 3 a - 2 b + 1.5 [sex=F]."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "sex": rng.choice(["F", "M"], size=n),
        }
    )
    y = 3 * X["a"] - 2 * X["b"] + 1.5 * (X["sex"] == "F") + noise * rng.normal(size=n)
    return X, y.to_numpy(dtype=np.float64)


def context(
    model: ModelAdapter,
    X: pd.DataFrame,
    y: np.ndarray,
    train: tuple[pd.DataFrame, np.ndarray] | None,
    *,
    sections: tuple[str, ...],
    options: dict[str, Any] | None = None,
    n_boot: int = 200,
    seed: int = 0,
) -> AuditContext:
    """An AuditContext of a regression, as the inputs stage builds it."""
    sens = pd.DataFrame({"sex": X["sex"].astype(str).to_numpy()})
    tr = None
    if train is not None:
        Xt, yt = train
        tr = TrainData(Xt, yt, sensitive=pd.DataFrame({"sex": Xt["sex"].astype(str).to_numpy()}))
    return AuditContext(
        config=AuditConfig(
            sections=sections, n_boot=n_boot, random_state=seed, options=options or {}
        ),
        predictions=EMPTY,
        regression=RegressionPredictions(
            y_true=y, y_pred=model.predict_values(X), target="hours", unit="hours"
        ),
        model=model,
        X=X,
        sensitive=sens,
        train=tr,
    )


def fitted(factory: Any, X: pd.DataFrame, y: np.ndarray) -> Regressor:
    return Regressor(factory).refit(X, y)


def _by(result: Any, name: str, **fields: Any) -> list[Any]:
    return [
        m
        for m in result.metrics
        if m.name == name and all(getattr(m, k) == v for k, v in fields.items())
    ]


# ----------------------------------------------------------------------------- explainability
def test_explainability_of_a_linear_regressor_recovers_the_coefficients() -> None:
    from sklearn.linear_model import LinearRegression

    from auditkit.sections.explainability import ExplainabilitySection

    X, y = make_data(400, 0, noise=0.1)
    model = fitted(LinearRegression, X, y)
    ctx = context(model, X, y, None, sections=("explainability",), n_boot=100)
    res = ExplainabilitySection().run(ctx)
    assert res.status == "ok"
    imp = {m.input_feature: m for m in _by(res, "importance", feature=None)}
    assert set(imp) == {"a", "b", "sex"}
    # feature ablation against the median row: |coef| * mean |x - median|
    for f, coef in (("a", 3.0), ("b", 2.0)):
        expected = coef * np.mean(np.abs(X[f] - X[f].median()))
        assert imp[f].value == pytest.approx(expected, rel=0.05)
        assert imp[f].unit == "hours"
    assert res.info["target"].startswith("the predicted hours")
    words = " ".join(f.text for f in res.findings)
    assert "contribution to the predicted hours" in words
    # sex is an input: the prediction moves by about 1.5 hours when it alone changes
    cf = _by(res, "counterfactual_mean_change", group=None)
    assert cf and cf[0].value == pytest.approx(1.5, abs=0.1)
    assert any(t.name == "local_explanations" for t in res.tables)


def test_explainability_of_a_torch_regressor_uses_integrated_gradients() -> None:
    import torch

    from auditkit.sections.explainability import ExplainabilitySection

    X, y = make_data(300, 1)
    X = X.assign(sex=(X["sex"] == "F").astype(float).astype(str))
    net = torch.nn.Linear(2, 1)
    with torch.no_grad():
        net.weight[:] = torch.tensor([[3.0, -2.0]])
        net.bias[:] = 0.5
    model = TorchRegressor(net, ["a", "b"])
    ctx = context(model, X, y, None, sections=("explainability",), n_boot=50)
    res = ExplainabilitySection().run(ctx)
    assert res.status == "ok" and res.info["method"] == "integrated_gradients"
    imp = {m.input_feature: m.value for m in _by(res, "importance", feature=None)}
    # zero baseline: attribution = w * x exactly
    assert imp["a"] == pytest.approx(3 * np.mean(np.abs(X["a"])), rel=1e-4)
    p95 = _by(res, "completeness_delta_p95")[0]
    assert p95.value < 1e-4 and p95.unit == "hours"


# ----------------------------------------------------------------------------------- stability
def test_stability_of_a_regressor_equals_cross_validate() -> None:
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, cross_validate

    from auditkit.sections.stability import StabilitySection

    X, y = make_data(300, 2)
    Xt, yt = make_data(500, 3)
    model = fitted(Ridge, Xt, yt)
    ctx = context(model, X, y, (Xt, yt), sections=("stability",), options={"cv": 4})
    res = StabilitySection().run(ctx)
    assert res.status == "ok" and res.info["splitter"] == "KFold"
    cv = cross_validate(
        Ridge(), Regressor.matrix(Xt), yt, cv=KFold(4, shuffle=True, random_state=0),
        scoring=("neg_mean_absolute_error", "neg_root_mean_squared_error", "r2"),
    )  # fmt: skip
    for name, key, sign in (
        ("mean_absolute_error", "test_neg_mean_absolute_error", -1),
        ("root_mean_squared_error", "test_neg_root_mean_squared_error", -1),
        ("r2_score", "test_r2", 1),
    ):
        folds = sorted(_by(res, name), key=lambda m: m.fold)
        np.testing.assert_allclose([m.value for m in folds], sign * cv[key], rtol=1e-10)
        std = _by(res, f"{name}_std")[0]
        assert std.value == pytest.approx(np.std(cv[key]))
    mae_std = _by(res, "mean_absolute_error_std")[0]
    assert mae_std.test == "cochran_q" and 0 <= mae_std.p_value <= 1
    spread = _by(res, "fold_prediction_std_mean", feature=None)[0]
    assert spread.unit == "hours" and 0 < spread.value < 0.5  # a linear fit on 375 rows
    assert {m.group for m in _by(res, "fold_prediction_std_mean", feature=("sex",))} == {
        ("F",),
        ("M",),
    }
    words = " ".join(f.text for f in res.findings)
    assert "retrained models' predictions of hours for the same row differ by" in words
    assert "sampling noise" in words


def test_stability_spread_test_false_alarm_rate() -> None:
    """A stable model (linear, no real fold differences): p < 0.05 in about 5% of the runs."""
    from sklearn.linear_model import LinearRegression

    from auditkit.sections._regression_stability import spread_p_value
    from auditkit.sections._regression_stability_folds import get_regression_folds

    hits = {"mean_absolute_error": 0, "root_mean_squared_error": 0}
    reps = 200
    for rep in range(reps):
        Xt, yt = make_data(400, 1000 + rep)
        model = fitted(LinearRegression, Xt, yt)
        ctx = context(model, Xt[:10], yt[:10], (Xt, yt), sections=("stability",), seed=rep)
        folds = get_regression_folds(ctx)
        for name in hits:
            p = spread_p_value(name, folds)
            assert p is not None
            hits[name] += p < 0.05
    for name, k in hits.items():
        # binomial(200, 0.05): 10 expected; 3..20 covers > 99.5%
        assert 3 <= k <= 20, (name, k)


def test_stability_spread_test_finds_unequal_folds() -> None:
    """Folds with truly different errors (noise that differs by fold) are found."""
    from auditkit.sections._regression_stability import spread_p_value
    from auditkit.sections._regression_stability_folds import RegressionFolds

    rng = np.random.default_rng(0)
    k, n = 5, 200
    y = rng.normal(size=k * n)
    idx = tuple(np.arange(i * n, (i + 1) * n) for i in range(k))
    pred = tuple(y[ix] + rng.normal(scale=1.0 + 0.3 * i, size=n) for i, ix in enumerate(idx))
    folds = RegressionFolds("refit", "train", k, 0, "KFold", y, idx, pred, ())
    for name in ("root_mean_squared_error", "mean_absolute_error"):
        p = spread_p_value(name, folds)
        assert p is not None and p < 1e-3


# ------------------------------------------------------------------------------------- privacy
def _privacy(
    model: Regressor, train: tuple[pd.DataFrame, np.ndarray], n_eval: int, seed: int,
    **opts: Any,
) -> Any:  # fmt: skip
    from auditkit.sections.privacy import PrivacySection

    X, y = make_data(n_eval, seed + 7)
    ctx = context(model, X, y, train, sections=("privacy",), options=opts, n_boot=200, seed=seed)
    return PrivacySection().run(ctx)


def test_privacy_finds_a_memorising_regressor() -> None:
    """1-nearest-neighbour reproduces its training targets: both attacks tell members apart."""
    from sklearn.neighbors import KNeighborsRegressor

    Xt, yt = make_data(600, 4, noise=2.0)
    model = fitted(lambda: KNeighborsRegressor(n_neighbors=1), Xt, yt)
    res = _privacy(model, (Xt, yt), 600, 4, cv=3)
    assert res.status == "ok"
    for attack in ("loss", "reference"):
        auc = _by(res, "membership_auc", attack=attack, feature=None)[0]
        assert auc.value > 0.8 and auc.ci[0] > 0.5, (attack, auc.value)
        adv = _by(res, "membership_advantage", attack=attack, feature=None)[0]
        assert adv.value > 0.5
    gap = _by(res, "generalization_gap_mae")[0]
    assert gap.value > 1.0 and gap.ci[0] > 0 and gap.unit == "hours"
    assert any(f.severity == "fail" for f in res.findings)
    assert {m.group for m in _by(res, "membership_auc", attack="loss", feature=("sex",))} == {
        ("F",),
        ("M",),
    }


def test_privacy_deep_tree_leaks_too() -> None:
    from sklearn.tree import DecisionTreeRegressor

    Xt, yt = make_data(500, 5, noise=2.0)
    model = fitted(DecisionTreeRegressor, Xt, yt)
    res = _privacy(model, (Xt, yt), 500, 5, membership_reference=False)
    auc = _by(res, "membership_auc", attack="loss", feature=None)[0]
    assert auc.value > 0.8
    assert _by(res, "membership_auc", attack="reference", feature=None)[0].value is None


def _linear_run(rep: int, reference: bool) -> tuple[Any, Any]:
    from sklearn.linear_model import LinearRegression

    Xt, yt = make_data(2000, 100 + rep)
    model = fitted(LinearRegression, Xt, yt)
    res = _privacy(model, (Xt, yt), 2000, rep, membership_reference=reference, cv=3,
                   privacy_max_rows=600, privacy_population=500)  # fmt: skip
    loss = _by(res, "membership_auc", attack="loss", feature=None)[0]
    ref = _by(res, "membership_auc", attack="reference", feature=None)[0]
    return loss, ref


def test_privacy_linear_model_on_much_data_is_at_chance() -> None:
    """A model that cannot memorise: the interval holds 0.5 at about the nominal rate."""
    reps = 40
    covered = 0
    for rep in range(reps):
        loss, _ = _linear_run(rep, reference=False)
        covered += loss.ci[0] <= 0.5 <= loss.ci[1]
    # nominal 95%: binomial(40, 0.95) gives at least 34 with probability > 99%
    assert covered >= 34, covered
    loss, ref = _linear_run(0, reference=True)
    assert ref.ci[0] <= 0.5 <= ref.ci[1] and abs(ref.value - 0.5) < 0.06


@pytest.mark.slow
def test_privacy_interval_coverage_at_chance_slow() -> None:
    """200 runs of both attacks on a linear model: coverage of 0.5 near 95% (slow)."""
    reps = 200
    cov = {"loss": 0, "reference": 0}
    for rep in range(reps):
        loss, ref = _linear_run(rep, reference=True)
        cov["loss"] += loss.ci[0] <= 0.5 <= loss.ci[1]
        cov["reference"] += ref.ci[0] <= 0.5 <= ref.ci[1]
    for attack, k in cov.items():
        # binomial(200, 0.95): 190 expected; 181 or more with probability > 99%
        assert k >= 181, (attack, k)


# ------------------------------------------------------------------ with the library's adapters
def test_sections_with_a_wrapped_scikit_learn_pipeline() -> None:
    """A scikit-learn regression pipeline wrapped by auditkit: refit, explain, attack."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from auditkit.adapters import wrap
    from auditkit.sections.explainability import ExplainabilitySection
    from auditkit.sections.privacy import PrivacySection
    from auditkit.sections.stability import StabilitySection

    Xt, yt = make_data(400, 8)
    X, y = make_data(300, 9)
    pipe = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["sex"]), remainder="passthrough"), Ridge()
    )
    model = wrap(pipe.fit(Xt, yt))
    assert model.task == "regression"
    ctx = context(model, X, y, (Xt, yt), sections=("stability",), options={"cv": 3}, n_boot=50)
    ex = ExplainabilitySection().run(ctx)
    assert ex.status == "ok" and ex.info["method"] == "feature_ablation"
    imp = {m.input_feature: m.value for m in _by(ex, "importance", feature=None)}
    assert imp["a"] > imp["b"] > 0
    st = StabilitySection().run(ctx)
    assert st.status == "ok" and st.info["mode"] == "refit"
    pr = PrivacySection().run(ctx)
    aucs = {m.attack: m for m in _by(pr, "membership_auc", feature=None)}
    assert set(aucs) == {"loss", "reference"} and all(m.value is not None for m in aucs.values())


# ------------------------------------------------------------------------------- explain() API
@pytest.mark.parametrize("method", ["feature_ablation", "shapley_value_sampling", "kernel_shap"])
def test_explain_a_scikit_learn_regressor(method: str) -> None:
    """Attributions of the predicted value: for a linear model, coef * (x - reference row)."""
    from sklearn.linear_model import LinearRegression

    import auditkit

    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = 3 * X["a"] - 2 * X["b"] + rng.normal(size=200)
    est = LinearRegression().fit(X, y)
    e = auditkit.explain(est, X.iloc[:25], method=method)
    assert e.feature_names == ["a", "b"] and (e.target == 0).all()
    assert e.info["output"] == "the predicted value"
    ref = X.iloc[:25].median().to_numpy()  # the reference row: medians of the rows explained
    expected = (X.iloc[:25].to_numpy() - ref) * est.coef_
    np.testing.assert_allclose(e.values, expected, rtol=1e-5, atol=1e-5)  # float32 sums


def test_explain_a_one_output_torch_module() -> None:
    import torch

    import auditkit

    net = torch.nn.Linear(3, 1)
    x = torch.randn(6, 3)
    e = auditkit.explain(net, x)
    assert e.values.shape == (6, 3) and (e.target == 0).all()
    np.testing.assert_allclose(e.values, (x * net.weight.detach()).numpy(), rtol=1e-4, atol=1e-6)
    with pytest.raises(ParameterError, match="has 1 output"):
        auditkit.explain(net, x, target=1)
