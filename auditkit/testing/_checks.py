"""Conformance checks every registered section must pass, and the toy data they run on."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..adapters import wrap
from ..inputs.context import AuditConfig, AuditContext, Predictions, TrainData, predict_from_proba
from ..result.json_io import validate_dict
from ..result.records import AuditResult, SectionResult


def make_tabular(
    n: int = 600, *, seed: int = 0, n_features: int = 4
) -> tuple[Any, np.ndarray, Any]:
    """Return ``(X, y, sensitive)`` toy data.

    ``X`` has a categorical ``group`` column that shifts the label rate; ``y`` is binary; the
    sensitive column comes back as a DataFrame.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(n_features)})
    group = rng.choice(np.array(["a", "b", "c"]), size=n, p=[0.5, 0.35, 0.15])
    X["group"] = group
    logit = X["x0"].to_numpy() + 0.8 * (group == "a") + rng.normal(scale=0.7, size=n)
    y = (logit > 0.3).astype(np.int64)
    return X, y, pd.DataFrame({"group": group})


def make_context(
    *, seed: int = 0, n: int = 600, sections: tuple[str, ...] = (), n_boot: int = 50,
    options: dict[str, Any] | None = None,
) -> AuditContext:  # fmt: skip
    """Return an :class:`AuditContext` over toy data and a fitted logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    X, y, sens = make_tabular(2 * n, seed=seed)
    Xtr, ytr, Xte, yte = X.iloc[:n], y[:n], X.iloc[n:].reset_index(drop=True), y[n:]
    pre = ColumnTransformer([("g", OneHotEncoder(), ["group"])], remainder="passthrough")
    est = make_pipeline(pre, LogisticRegression(max_iter=500)).fit(Xtr, ytr)
    model = wrap(est)
    proba = model.predict_proba(Xte)
    preds = Predictions(
        y_true=yte, y_pred=predict_from_proba(proba), y_proba=proba, classes=("0", "1"),
        pos_label=1,
    )  # fmt: skip
    cfg = AuditConfig(
        sections=sections, n_boot=n_boot, random_state=seed, options=dict(options or {})
    )
    return AuditContext(
        config=cfg, predictions=preds, model=model, X=Xte,
        sensitive=sens.iloc[n:].reset_index(drop=True),
        train=TrainData(X=Xtr, y=ytr, sensitive=sens.iloc[:n]),
    )  # fmt: skip


def check_section(section: Any, ctx: AuditContext | None = None) -> SectionResult:
    """Run ``section`` and check the contract every section keeps.

    The result is a :class:`SectionResult` named like the section; every metric belongs to the
    section; the result serialises to JSON that validates against the shipped schema; and the
    same context gives the same result twice (determinism).
    """
    for attr in ("name", "requires", "run"):
        if not hasattr(section, attr):
            raise AssertionError(f"section {section!r} has no {attr!r}")
    ctx = ctx if ctx is not None else make_context()
    res = section.run(ctx)
    if not isinstance(res, SectionResult):
        raise AssertionError(f"{section.name}.run returned {type(res).__name__}")
    if res.name != section.name:
        raise AssertionError(f"result named {res.name!r}, section {section.name!r}")
    if res.status not in ("ok", "skipped", "failed"):
        raise AssertionError(f"bad status {res.status!r}")
    if res.status != "ok" and not res.reason:
        raise AssertionError("a skipped or failed section must say why")
    for m in res.metrics:
        if m.section != section.name:
            raise AssertionError(f"metric {m.name} claims section {m.section!r}")
    doc = AuditResult("1.0", "test", "1970-01-01T00:00:00Z", {}, {}, {}, (res,)).to_dict()
    validate_dict(doc, source=f"section {section.name}")
    again = section.run(ctx)
    if again.to_dict() != res.to_dict():
        raise AssertionError(f"section {section.name} is not deterministic for a fixed seed")
    return res
