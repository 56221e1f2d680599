"""The explainability section: records, findings, charts, trust checks, conformance."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import normalized_mutual_info_score
from torch import nn

from auditkit import explain
from auditkit.adapters.base import ModelAdapter, TorchParts
from auditkit.exceptions import ParameterError
from auditkit.inputs.context import AuditConfig, AuditContext, Predictions, predict_from_proba
from auditkit.sections import SECTIONS
from auditkit.sections.explainability import _binned, _single_feature_auc
from auditkit.testing import check_section, make_context

pytestmark = [
    pytest.mark.filterwarnings("ignore:Input Tensor .* did not already require gradients"),
]

SECTION = SECTIONS.get("explainability")
GROUPS = ["a", "b", "c"]


# --------------------------------------------------------- a linear torch "checkpoint"
def encode(X: pd.DataFrame) -> torch.Tensor:
    onehot = (X["group"].to_numpy()[:, None] == np.asarray(GROUPS)[None, :]).astype(np.float32)
    num = X[["x0", "x1", "proxy"]].to_numpy(np.float32)
    return torch.as_tensor(np.concatenate([num, onehot], axis=1))


ENCODED_GROUPS = [("x0", [0]), ("x1", [1]), ("proxy", [2]), ("group", [3, 4, 5])]
#: logit of class 1 = 2 x0 + 0.05 x1 + 1.5 proxy + 0.8 [group = a] - 0.4 [group = c]
WEIGHTS = [2.0, 0.05, 1.5, 0.8, 0.0, -0.4]


def linear_module() -> nn.Module:
    lin = nn.Linear(6, 2)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.zero_()
        lin.weight[1] = torch.tensor(WEIGHTS)
    return lin.eval()


class LinearCheckpoint(ModelAdapter):
    kind = "checkpoint"

    def __init__(self, module: nn.Module) -> None:
        super().__init__(module, name="linear")
        self.module = module

    def _proba(self, X: Any) -> Any:
        with torch.no_grad():
            return torch.softmax(self.module(encode(X)), dim=1).double().numpy()

    def torch_parts(self) -> TorchParts:
        return TorchParts(
            module=self.module, encode=encode, feature_names=[g for g, _ in ENCODED_GROUPS],
            feature_groups=ENCODED_GROUPS,
        )  # fmt: skip


def table(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    group = rng.choice(GROUPS, size=n, p=[0.5, 0.3, 0.2])
    X = pd.DataFrame({
        "x0": rng.normal(size=n),
        "x1": rng.normal(size=n),
        "proxy": (group == "a") * 1.5 + rng.normal(scale=0.5, size=n),  # predicts the group
        "group": group,
    })  # fmt: skip
    z = 2 * X["x0"] + 1.5 * X["proxy"] + 0.8 * (group == "a") + rng.normal(size=n)
    return X, (z > 1.0).to_numpy().astype(np.int64)


def context(
    n: int = 400, *, seed: int = 0, n_boot: int = 100, options: dict[str, Any] | None = None,
    module: nn.Module | None = None, X: pd.DataFrame | None = None, y: np.ndarray | None = None,
) -> AuditContext:  # fmt: skip
    if X is None or y is None:
        X, y = table(n, seed)
    model = LinearCheckpoint(module if module is not None else linear_module())
    proba = model.predict_proba(X)
    preds = Predictions(
        y_true=y, y_pred=predict_from_proba(proba), y_proba=proba, classes=("no", "yes"),
        pos_label=1,
    )  # fmt: skip
    cfg = AuditConfig(sections=("explainability",), n_boot=n_boot, random_state=seed,
                      min_group_size=30, options=dict(options or {}))  # fmt: skip
    return AuditContext(config=cfg, predictions=preds, model=model, X=X,
                        sensitive=pd.DataFrame({"group": X["group"].to_numpy()}))  # fmt: skip


def records(res: Any, name: str) -> list[Any]:
    return [m for m in res.metrics if m.name == name]


# ------------------------------------------------------------------------------- the tests
def test_conformance_on_the_toy_sklearn_context() -> None:
    res = check_section(SECTION, make_context(n=300, n_boot=20))
    assert res.status == "ok"
    assert res.info["method"] == "feature_ablation"
    assert records(res, "importance")
    sanity = records(res, "randomization_rank_correlation")
    assert sanity and all(m.value is None and "torch model" in m.reason for m in sanity)


def test_conformance_on_the_linear_torch_model() -> None:
    res = check_section(SECTION, context(300, n_boot=30))
    assert res.status == "ok" and res.info["method"] == "integrated_gradients"


def test_global_importance_is_the_mean_absolute_attribution() -> None:
    ctx = context(500)
    res = SECTION.run(ctx)
    X = ctx.X
    # linear model, zero baseline, predicted-class target: attribution_j = x_j * w_j for rows
    # predicted "yes" (logit 1), 0 for rows predicted "no" (logit 0 is constant)
    enc = encode(X).numpy().astype(np.float64)
    yes = (ctx.predictions.y_pred == 1)[:, None]
    contrib = enc * np.asarray(WEIGHTS)[None, :] * yes
    folded = np.column_stack([contrib[:, 0], contrib[:, 1], contrib[:, 2],
                              contrib[:, 3:].sum(axis=1)])  # fmt: skip
    imp = {m.input_feature: m for m in records(res, "importance")}
    for j, f in enumerate(["x0", "x1", "proxy", "group"]):
        assert imp[f].value == pytest.approx(np.abs(folded[:, j]).mean(), rel=1e-4)
        lo, hi = imp[f].ci
        assert lo <= imp[f].value <= hi
        assert imp[f].n == 500
    shares = {m.input_feature: m.value for m in records(res, "importance_share")}
    assert sum(shares.values()) == pytest.approx(1.0)
    top = ["x0", "x1", "proxy", "group"][int(np.abs(folded).mean(axis=0).argmax())]
    assert max(shares, key=shares.get) == top
    bar = next(c for c in res.charts if c.name == "importance")
    assert bar.kind == "bar" and bar.data["labels"][0] == top


def test_group_profiles_match_a_direct_computation() -> None:
    ctx = context(600, options={"explain_profile_threshold": 0.01})
    res = SECTION.run(ctx)
    e = explain(ctx.model, ctx.X)
    A = np.abs(e.values)
    g = ctx.X["group"].to_numpy()
    got = {(m.group[0], m.input_feature): m for m in records(res, "group_importance")}
    assert len(got) == 3 * 4
    for grp in GROUPS:
        for j, f in enumerate(e.feature_names):
            m = got[(grp, f)]
            assert m.feature == ("group",)
            assert m.value == pytest.approx(A[g == grp, j].mean(), rel=1e-6)
            assert m.n == int((g == grp).sum())
    profiles = {grp: A[g == grp].mean(axis=0) / A[g == grp].mean(axis=0).sum() for grp in GROUPS}
    expect = max(np.abs(profiles[a] - profiles[b]).max()
                 for i, a in enumerate(GROUPS) for b in GROUPS[i + 1:])  # fmt: skip
    (diff,) = records(res, "importance_profile_difference")
    assert diff.value == pytest.approx(expect, rel=1e-6)
    assert any(f.severity == "warn" and "differently across group" in f.text
               for f in res.findings)  # fmt: skip
    heat = next(c for c in res.charts if c.name == "group_importance")
    assert heat.kind == "heatmap" and len(heat.data["rows"]) == 3


def test_small_groups_are_flagged_not_dropped() -> None:
    X, y = table(300, seed=1)
    X.loc[:9, "group"] = "c"
    X.loc[10:, "group"] = np.where(X.loc[10:, "group"] == "c", "b", X.loc[10:, "group"])
    res = SECTION.run(context(X=X, y=y))
    small = [m for m in records(res, "group_importance") if m.group == ("c",)]
    assert small and all("too_small" in m.flags for m in small)


def test_proxies_flag_a_feature_that_predicts_the_group_and_is_used() -> None:
    ctx = context(800)
    res = SECTION.run(ctx)
    nmi = {m.input_feature: m for m in records(res, "proxy_score")}
    auc = {m.input_feature: m for m in records(res, "proxy_auc")}
    assert set(nmi) == {"x0", "x1", "proxy"}  # the sensitive column itself is skipped
    X, g = ctx.X, ctx.X["group"].to_numpy()
    for f in ("x0", "x1", "proxy"):
        assert nmi[f].value == pytest.approx(
            normalized_mutual_info_score(g, _binned(X[f].to_numpy()))
        )
    assert "possible_proxy" in auc["proxy"].flags and auc["proxy"].value > 0.7
    assert "possible_proxy" not in auc["x0"].flags and auc["x0"].value < 0.6
    assert "possible_proxy" not in auc["x1"].flags
    assert any("proxy predicts group" in f.text for f in res.findings)
    assert any(t.name == "proxies" for t in res.tables)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_rank_auc_matches_scikit_learn(k: int) -> None:
    from sklearn.metrics import roc_auc_score

    from auditkit.sections.explainability import _rank_auc

    rng = np.random.default_rng(k)
    for _ in range(20):
        y = rng.integers(0, k, size=300)
        y[:k] = np.arange(k)
        s = rng.integers(0, 6, size=(300, k)).astype(float)  # many ties
        for c in range(k):
            assert _rank_auc(y == c, s[:, c]) == pytest.approx(roc_auc_score(y == c, s[:, c]))
    y = rng.choice(["a", "b", "c"], size=400)
    codes = rng.integers(0, 4, size=400)
    got = _single_feature_auc(codes, y, np.random.default_rng(0))
    # the same cross-fitted scores through scikit-learn's weighted one-vs-rest AUC
    classes, yc = np.unique(y, return_inverse=True)
    fold = np.random.default_rng(0).permutation(400) % 2
    scores = np.zeros((400, 3))
    for f in (0, 1):
        table = np.ones((4, 3))
        np.add.at(table, (codes[fold != f], yc[fold != f]), 1.0)
        table /= table.sum(axis=1, keepdims=True)
        scores[fold == f] = table[codes[fold == f]]
    ref = roc_auc_score(yc, scores, multi_class="ovr", average="weighted")
    assert got == pytest.approx(ref)


def test_single_feature_auc() -> None:
    rng = np.random.default_rng(0)
    y = rng.choice(["m", "f"], size=2000)
    informative = np.where(y == "m", rng.integers(0, 3, 2000), rng.integers(2, 5, 2000))
    noise = rng.integers(0, 5, 2000)
    assert _single_feature_auc(informative, y, rng) > 0.85
    assert abs(_single_feature_auc(noise, y, rng) - 0.5) < 0.05
    y3 = rng.choice(["a", "b", "c"], size=2000)
    assert 0.4 < _single_feature_auc(noise, y3, rng) < 0.6


def test_counterfactual_flip_rate_matches_a_direct_computation() -> None:
    ctx = context(500)
    res = SECTION.run(ctx)
    X, model = ctx.X, ctx.model
    base = ctx.predictions.y_pred
    changed = np.zeros(len(X), dtype=bool)
    for v in GROUPS:
        Xv = X.copy()
        Xv["group"] = v
        changed |= (model.predict_proba(Xv).argmax(axis=1) != base) & (X["group"] != v).to_numpy()
    got = {m.group: m for m in records(res, "counterfactual_flip_rate")}
    assert got[None].value == pytest.approx(changed.mean())
    for grp in GROUPS:
        m = X["group"].to_numpy() == grp
        assert got[(grp,)].value == pytest.approx(changed[m].mean())
        assert got[(grp,)].ci[0] <= got[(grp,)].value <= got[(grp,)].ci[1]
    assert got[None].value > 0.01
    assert any(f.severity == "warn" and "Changing only group" in f.text for f in res.findings)


def test_no_flip_rate_when_the_attribute_is_not_a_model_input() -> None:
    X, y = table(300)
    ctx = context(X=X, y=y)
    ctx = AuditContext(
        config=ctx.config, predictions=ctx.predictions, model=ctx.model, X=ctx.X,
        sensitive=pd.DataFrame({"region": np.where(X["x1"] > 0, "north", "south")}),
    )  # fmt: skip
    res = SECTION.run(ctx)
    assert not records(res, "counterfactual_flip_rate")
    assert records(res, "proxy_score")


def test_local_explanations_for_named_rows_and_confident_errors() -> None:
    ctx = context(400, options={"explain_rows": [3, 7], "explain_n_errors": 4})
    res = SECTION.run(ctx)
    (tab,) = [t for t in res.tables if t.name == "local_explanations"]
    assert [r[0] for r in tab.rows[:2]] == [3, 7]
    assert [r[1] for r in tab.rows[:2]] == ["requested", "requested"]
    p = ctx.predictions
    wrong = np.flatnonzero(p.y_pred != p.y_true)
    conf = p.y_proba[wrong, p.y_pred[wrong]]
    expect = wrong[np.argsort(-conf, kind="stable")][:4].tolist()
    errs = [r[0] for r in tab.rows if r[1] == "confident error"]
    assert errs == [e for e in expect if e not in (3, 7)]
    assert "x0=" in tab.rows[0][5]


@pytest.mark.parametrize("rows", [[10_000], ["3"], -1])
def test_bad_explain_rows_raise(rows: Any) -> None:
    with pytest.raises(ParameterError, match="explain_rows"):
        SECTION.run(context(100, options={"explain_rows": rows}))


def test_completeness_records() -> None:
    res = SECTION.run(context(300))
    vals = {m.name: m.value for m in res.metrics if m.name.startswith("completeness_delta")}
    assert set(vals) == {
        "completeness_delta_p50",
        "completeness_delta_p95",
        "completeness_delta_max",
        "completeness_delta_relative_p95",
    }
    assert 0 <= vals["completeness_delta_p50"] <= vals["completeness_delta_p95"]
    assert vals["completeness_delta_p95"] <= vals["completeness_delta_max"] < 1e-4  # linear
    assert any(f.severity == "pass" and "add up" in f.text for f in res.findings)


def test_randomisation_check_warns_for_input_dominated_explanations() -> None:
    """Gradient x input with wildly different input scales: the ranking is the inputs'."""
    X, y = table(300)
    X["x0"] *= 1000.0
    X["x1"] *= 0.001
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 2)).eval()
    res = SECTION.run(context(X=X, y=y, module=mlp))
    top = next(m for m in records(res, "randomization_rank_correlation")
               if m.method.startswith("top layer"))  # fmt: skip
    assert top.value > 0.5
    assert any(f.severity == "warn" and "barely change" in f.text for f in res.findings)


def test_randomisation_check_passes_when_explanations_depend_on_the_weights() -> None:
    torch.manual_seed(1)
    X, y = table(300)
    res = SECTION.run(context(X=X, y=y))
    top = next(m for m in records(res, "randomization_rank_correlation")
               if m.method.startswith("top layer"))  # fmt: skip
    assert top.value < 0.5
    assert any(f.severity == "pass" and "depend on what the model learned" in f.text
               for f in res.findings)  # fmt: skip


def test_max_rows_option_samples_rows() -> None:
    res = SECTION.run(context(500, options={"explain_max_rows": 100, "explain_n_errors": 0}))
    assert res.info["n_rows_global"] == 100 and res.info["n_rows_attributed"] == 100
    assert all(m.n == 100 for m in records(res, "importance"))
    overall = [m for m in records(res, "counterfactual_flip_rate") if m.group is None]
    assert overall and overall[0].n == 500  # counterfactuals use every row


# ------------------------------------------------------------- the reference checkpoints
def test_adult_mlp_checkpoint_through_audit(tiny_ckpt) -> None:  # type: ignore[no-untyped-def]
    import auditkit
    from auditkit.data import load_dataset

    ds = load_dataset("adult")
    X, y = ds.test.X.iloc[:1500].reset_index(drop=True), ds.test.y[:1500]
    res = auditkit.audit(
        tiny_ckpt("adult-mlp"), X, y, sections=["explainability"], n_boot=50,
        options={"explain_rows": [0]},
    )  # fmt: skip
    (sec,) = res.sections
    assert sec.status == "ok", sec.reason
    imp = {m.input_feature for m in sec.metrics if m.name == "importance"}
    assert imp == set(ds.schema.feature_names)
    flips = {m.feature for m in sec.metrics if m.name == "counterfactual_flip_rate"}
    assert flips == {("sex",), ("race",)}  # age_band is derived, not an input
    proxy = {(m.feature, m.input_feature) for m in sec.metrics if m.name == "proxy_score"}
    assert (("age_band",), "age") not in proxy and (("sex",), "relationship") in proxy
    assert sec.info["fast_path"] is True


def test_cifar10_cnn_checkpoint_draws_maps(tiny_ckpt) -> None:  # type: ignore[no-untyped-def]
    import auditkit
    from auditkit.data import load_dataset

    ds = load_dataset("cifar10")
    res = auditkit.audit(
        tiny_ckpt("cifar10-cnn"), ds.test.X[:60], ds.test.y[:60], sections=["explainability"],
        n_boot=20, options={"explain_max_rows": 4, "explain_n_steps": 4, "explain_per_class": 1,
                            "explain_n_errors": 1, "explain_sanity_rows": 2},
    )  # fmt: skip
    (sec,) = res.sections
    assert sec.status == "ok", sec.reason
    (maps,) = [c for c in sec.charts if c.kind == "images"]
    items = maps.data["items"]
    assert len(items) >= 10  # one per class, plus the error
    png = base64.b64decode(items[0]["png_base64"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert {m.input_feature for m in sec.metrics if m.name == "importance"} == {
        "red", "green", "blue"}  # fmt: skip


def test_imdb_lstm_checkpoint_shades_tokens(tiny_ckpt) -> None:  # type: ignore[no-untyped-def]
    import auditkit
    from auditkit.data import load_dataset

    ds = load_dataset("imdb")
    res = auditkit.audit(
        tiny_ckpt("imdb-lstm"), ds.test.X[:40], ds.test.y[:40], sections=["explainability"],
        n_boot=20, options={"explain_max_rows": 4, "explain_n_steps": 4, "explain_per_class": 1,
                            "explain_n_errors": 1, "explain_sanity_rows": 2},
    )  # fmt: skip
    (sec,) = res.sections
    assert sec.status == "ok", sec.reason
    assert sec.info["method"] == "layer_integrated_gradients"
    (tok,) = [c for c in sec.charts if c.kind == "tokens"]
    for row in tok.data["rows"]:
        assert len(row["tokens"]) == len(row["weights"]) > 0
        assert max(abs(w) for w in row["weights"]) <= 1.0
        if "first 120 of" not in row["caption"]:  # scaled to the review's strongest token
            assert max(abs(w) for w in row["weights"]) == pytest.approx(1.0)
    assert any(m.name == "randomization_rank_correlation" and m.value is not None
               for m in sec.metrics)  # fmt: skip
