"""auditkit.mitigate: group thresholds as a model that audits, saves safely and loads back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

import auditkit
from auditkit.exceptions import DataValidationError, ModelFileError, ParameterError
from auditkit.mitigation import mitigate
from auditkit.models.mitigated import (
    GroupThresholdModel,
    is_group_thresholds_file,
)


def _data(seed: int = 0, n: int = 2400) -> tuple[pd.DataFrame, np.ndarray]:
    """Two features and a planted group effect: the model scores group M higher."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n, p=[0.45, 0.55])
    region = rng.choice(["north", "south"], n)
    x1 = rng.normal(size=n)
    logit = 1.3 * x1 + 1.0 * (sex == "M") - 0.3 * (region == "south")
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame({"x1": x1, "x2": rng.normal(size=n), "sex": sex, "region": region}), y


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    X, y = _data()
    pre = ColumnTransformer([("c", OneHotEncoder(), ["sex", "region"])], remainder="passthrough")
    est = make_pipeline(pre, LogisticRegression(max_iter=500)).fit(X[:1200], y[:1200])
    return est, X[1200:1800].reset_index(drop=True), y[1200:1800], X[1800:], y[1800:]


def test_mitigate_meets_the_tolerance_and_matches_fairlearn(fitted: Any) -> None:
    est, Xv, yv, _, _ = fitted
    for constraint, metric in (("demographic_parity", demographic_parity_difference),
                               ("equalized_odds", equalized_odds_difference)):  # fmt: skip
        m = mitigate(est, Xv, yv, sensitive_features="sex", constraint=constraint,
                     tolerance=0.02)  # fmt: skip
        assert isinstance(m, GroupThresholdModel) and m.has_scores is False
        d = m.decide(Xv)
        gap = metric((yv == "yes").astype(int), d, sensitive_features=Xv["sex"])
        assert gap <= 0.02 + 1e-12
        assert m.info[f"fit_{metric.__name__}"] == pytest.approx(gap)
        before = metric((yv == "yes").astype(int), (est.predict_proba(Xv)[:, 1] >= 0.5),
                        sensitive_features=Xv["sex"])  # fmt: skip
        assert before > 0.1  # the planted effect was there to remove


def test_save_load_audit_round_trip_gives_the_same_predictions(
    fitted: Any, tmp_path: Path
) -> None:
    est, Xv, yv, Xt, yt = fitted
    m = mitigate(est, Xv, yv, sensitive_features=["sex", "region"], tolerance=0.03)
    path = m.save(tmp_path / "mitigated.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mitigated.base.skops", "mitigated.json"]
    doc = json.loads(path.read_text())
    assert doc["format"] == "auditkit.group_thresholds" and len(doc["groups"]) == 4
    assert doc["base"]["kind"] == "skops" and len(doc["base"]["sha256"]) == 64
    assert is_group_thresholds_file(path)
    loaded = auditkit.load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(Xt), m.predict_proba(Xt))
    r1 = auditkit.audit(m, Xt, yt, sensitive_features=["sex", "region"],
                        sections=["performance", "fairness"], n_boot=0)  # fmt: skip
    r2 = auditkit.audit(loaded, Xt, yt, sensitive_features=["sex", "region"],
                        sections=["performance", "fairness"], n_boot=0)  # fmt: skip
    v1 = [(x.name, x.feature, x.group, x.method, x.value) for x in r1.metrics]
    v2 = [(x.name, x.feature, x.group, x.method, x.value) for x in r2.metrics]
    assert v1 == v2
    assert r2.model["kind"] == "group_thresholds" and r2.model["base"]["kind"] == "sklearn"
    # the audit's decisions are the model's: its selection rates are those of decide()
    d = loaded.decide(Xt)
    (dp,) = [x.value for x in r2.metrics if x.name == "demographic_parity_difference"
             and x.feature == ("sex", "region") and x.method == "between_groups"]  # fmt: skip
    sf = Xt[["sex", "region"]]
    assert dp == pytest.approx(
        demographic_parity_difference(yt == "yes", d, sensitive_features=sf)
    )


def test_a_base_model_opened_from_a_file_is_referenced_by_path_and_hash(
    fitted: Any, tmp_path: Path
) -> None:
    import skops.io as sio

    est, Xv, yv, Xt, _ = fitted
    base = tmp_path / "models" / "base.skops"
    base.parent.mkdir()
    sio.dump(est, base)
    m = mitigate(str(base), Xv, yv, sensitive_features="sex")
    path = m.save(tmp_path / "models" / "mit.json")
    doc = json.loads(path.read_text())
    assert doc["base"] == {"kind": "file", "path": "base.skops", "sha256": doc["base"]["sha256"]}
    assert not (tmp_path / "models" / "mit.base.skops").exists()
    np.testing.assert_array_equal(auditkit.load_model(path).decide(Xt), m.decide(Xt))
    base.write_bytes(base.read_bytes() + b"\0")  # another file under the same name
    with pytest.raises(ModelFileError, match="sha256 differs"):
        auditkit.load_model(path)


def test_drop_sensitive_feeds_the_base_model_without_the_column(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = _data(1, 1600)
    X = X[["x1", "x2", "sex"]]
    est = LogisticRegression().fit(X[["x1", "x2"]][:800], y[:800])
    m = mitigate(est, X[800:], y[800:], sensitive_features="sex", drop_sensitive=True)
    loaded = auditkit.load_model(m.save(tmp_path / "m.json"))
    np.testing.assert_array_equal(loaded.decide(X[800:]), m.decide(X[800:]))
    res = auditkit.audit(loaded, X[800:], y[800:], sensitive_features="sex",
                         sections=["fairness"], n_boot=0)  # fmt: skip
    assert res.section("fairness") is not None


def test_clear_errors(fitted: Any, tmp_path: Path) -> None:
    est, Xv, yv, Xt, _ = fitted
    with pytest.raises(ParameterError, match="must name column"):
        mitigate(est, Xv, yv, sensitive_features=Xv["sex"].to_numpy())  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="'gender', which is not a column"):
        mitigate(est, Xv, yv, sensitive_features="gender")
    with pytest.raises(ParameterError, match="'constraint'"):
        mitigate(est, Xv, yv, sensitive_features="sex", constraint="parity")
    with pytest.raises(ParameterError, match="'tolerance'"):
        mitigate(est, Xv, yv, sensitive_features="sex", tolerance=2)
    with pytest.raises(ParameterError, match="'maybe', which is not one of the model's"):
        mitigate(est, Xv, np.where(yv == "yes", "yes", "maybe"), sensitive_features="sex")
    m = mitigate(est, Xv, yv, sensitive_features="sex")
    with pytest.raises(DataValidationError, match="has no column 'sex'"):
        m.predict_proba(Xt.drop(columns="sex"))
    odd = Xt.copy()
    odd.loc[odd.index[0], "sex"] = "X"
    with pytest.raises(DataValidationError, match=r"no threshold for the group \(X\)"):
        m.predict_proba(odd)
    with pytest.raises(ParameterError, match="already a group-threshold model"):
        mitigate(m, Xv, yv, sensitive_features="sex")
    callable_model = auditkit.wrap(lambda X: est.predict_proba(X))
    cm = mitigate(callable_model, Xv, (yv == "yes").astype(int), sensitive_features="sex")
    with pytest.raises(ParameterError, match="Cannot save the base model"):
        cm.save(tmp_path / "c.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    assert not is_group_thresholds_file(bad)
    with pytest.raises(ModelFileError, match="bad.json is of no model kind auditkit opens"):
        auditkit.load_model(bad)
