"""Explainability: features that act as proxies of a sensitive attribute, counterfactual flips."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..inputs.context import AuditContext
from ..result.records import Finding, MetricValue, Severity, Table
from ._explain_common import SECTION, ExplainOptions, _ci, _pct, _Run


# ---------------------------------------------------------------------------------- proxies
def _codes(values: Any) -> np.ndarray:
    """Integer codes of the values' string forms (sorted)."""
    import pandas as pd

    return pd.factorize(pd.Series(values).astype(str), sort=True)[0].astype(np.int64)


def _binned(values: Any, n_bins: int = 10) -> np.ndarray:
    """Category codes of a raw column: numeric columns in quantile bins, others as strings."""
    import pandas as pd

    s = pd.Series(values)
    if s.dtype.kind in "biuf" and s.nunique(dropna=True) > n_bins:
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
        edges = np.unique(np.nanquantile(v, np.linspace(0, 1, n_bins + 1)[1:-1]))
        codes = np.searchsorted(edges, v, side="right").astype(np.int64)
        codes[np.isnan(v)] = len(edges) + 1
        return codes
    return _codes(s)


def _single_feature_auc(x_codes: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> float:
    """AUC of predicting ``y`` from one binned feature, cross-fitted on two halves.

    Each row is scored by the class frequencies of its bin in the *other* half (add-one
    smoothing), so the AUC is not inflated by rare bins. Multiclass: prevalence-weighted
    one-vs-rest AUC (scikit-learn's ``roc_auc_score(..., multi_class="ovr",
    average="weighted")``), computed from ranks.
    """
    classes, yc = np.unique(y, return_inverse=True)
    k = len(classes)
    if k < 2:
        return math.nan
    n_bins = int(x_codes.max()) + 1 if len(x_codes) else 1
    fold = rng.permutation(len(y)) % 2
    scores = np.zeros((len(y), k))
    for f in (0, 1):
        train, test = fold != f, fold == f
        table = np.ones((n_bins, k))
        np.add.at(table, (x_codes[train], yc[train]), 1.0)
        table /= table.sum(axis=1, keepdims=True)
        scores[test] = table[x_codes[test]]
    if k == 2:
        return _rank_auc(yc == 1, scores[:, 1])
    counts = np.bincount(yc, minlength=k)
    aucs = np.asarray([_rank_auc(yc == c, scores[:, c]) for c in range(k)])
    return float((aucs * counts).sum() / counts.sum())


def _rank_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC from the ranks of the scores (Mann-Whitney U; ties count one half)."""
    from scipy.stats import rankdata

    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _proxies(
    ctx: AuditContext, run: _Run, imp: np.ndarray | None, metrics: list[MetricValue],
    tables: list[Table], findings: list[Finding],
) -> None:  # fmt: skip
    from sklearn.metrics import normalized_mutual_info_score

    if imp is None:
        return
    X = ctx.X
    total = float(imp.sum())
    share = {f: (float(imp[j]) / total if total > 0 else 0.0)
             for j, f in enumerate(run.feature_names)}  # fmt: skip
    opts = ctx.options_for(ExplainOptions)
    auc_min, share_min = opts.explain_proxy_auc, opts.explain_proxy_share
    derived = {d.name: d.source for d in ctx.schema.derived} if ctx.schema is not None else {}
    rows: list[tuple[Any, ...]] = []
    codes_of = {f: _binned(X[f].to_numpy()) for f in run.feature_names if f in X.columns}
    for sf in ctx.sensitive.columns:
        y = _codes(ctx.sensitive[sf].to_numpy())
        for f in run.feature_names:
            if f == sf or f == derived.get(sf) or f not in codes_of:
                continue
            codes = codes_of[f]
            nmi = float(normalized_mutual_info_score(y, codes))
            auc = _single_feature_auc(codes, y, ctx.rng(f"explainability-proxy-{sf}-{f}"))
            flagged = (not math.isnan(auc)) and auc >= auc_min and share[f] >= share_min
            flags = ("possible_proxy",) if flagged else ()
            why = (
                f"{f} predicts {sf} (AUC {auc:.2f} >= {auc_min}) and carries "
                f"{_pct(share[f])} of the attribution (>= {_pct(share_min)})"
                if flagged else None
            )  # fmt: skip
            metrics.append(MetricValue(
                section=SECTION, name="proxy_score", value=nmi, feature=(sf,),
                input_feature=f, n=len(y), method="normalized_mutual_information",
                flags=flags, reason=why,
            ))  # fmt: skip
            metrics.append(MetricValue(
                section=SECTION, name="proxy_auc", value=auc, feature=(sf,), input_feature=f,
                n=len(y), method="cross-fitted single-feature AUC", flags=flags, reason=why,
                ))  # fmt: skip
            rows.append((sf, f, nmi, auc, share[f], "possible proxy" if flagged else ""))
            if flagged:
                findings.append(Finding(
                    SECTION, "warn",
                    f"{f} predicts {sf} (AUC {auc:.2f}) and the model relies on it "
                    f"({_pct(share[f])} of the attribution): it may act as a proxy for {sf}.",
                    metric=f"{SECTION}.proxy_auc",
                ))  # fmt: skip
    if rows:
        rows.sort(key=lambda r: (str(r[0]), -float(r[3]) if not math.isnan(r[3]) else 1.0))
        tables.append(Table(
            name="proxies", title="Features that predict a sensitive attribute",
            columns=("sensitive feature", "input feature", "normalised mutual information",
                     "AUC", "share of attribution", "flag"),
            rows=tuple(rows),
            note=(
                "AUC: how well the feature alone predicts the sensitive attribute (0.5 = not "
                f"at all). A feature is flagged when its AUC is at least {auc_min} and it "
                f"carries at least {_pct(share_min)} of the model's attribution."
            ),
        ))  # fmt: skip


# --------------------------------------------------------------------------- counterfactuals
def _counterfactuals(
    ctx: AuditContext, run: _Run, metrics: list[MetricValue], tables: list[Table],
    findings: list[Finding],
) -> None:  # fmt: skip
    from ..metrics.stats import wilson_interval

    X = ctx.X
    model = ctx.model
    if model is None:
        return
    Xs = X.reset_index(drop=True)
    base_pred = ctx.predictions.y_pred
    inputs = set(run.feature_names)
    level = ctx.config.ci_level
    flip_threshold = ctx.options_for(ExplainOptions).explain_flip_threshold
    pair_rows: list[tuple[Any, ...]] = []
    for sf in ctx.sensitive.columns:
        if sf not in X.columns or sf not in inputs:
            continue
        raw = Xs[sf]
        values = sorted(raw.dropna().unique().tolist(), key=str)
        if len(values) < 2:
            continue
        orig = raw.astype(str).to_numpy()
        changed_any = np.zeros(len(Xs), dtype=bool)
        for v in values:
            Xv = Xs.copy()
            Xv[sf] = v
            pred_v = model.predict_proba(Xv).argmax(axis=1)
            moved = (pred_v != base_pred) & (orig != str(v))
            changed_any |= moved
            for u in values:
                if str(u) == str(v):
                    continue
                m = orig == str(u)
                if m.any():
                    pair_rows.append((sf, str(u), str(v), int(m.sum()),
                                      float(moved[m].mean())))  # fmt: skip
        per_group = []
        for u in values:
            m = orig == str(u)
            k, nn_ = int(changed_any[m].sum()), int(m.sum())
            lo, hi = wilson_interval(k, nn_, level)
            small = nn_ < ctx.config.min_group_size
            metrics.append(MetricValue(
                section=SECTION, name="counterfactual_flip_rate", feature=(sf,),
                group=(str(u),), value=k / nn_ if nn_ else None, n=nn_,
                ci=_ci(float(lo), float(hi)), flags=("too_small",) if small else (),
                reason=("no rows" if not nn_ else
                        f"{nn_} rows, fewer than min_group_size={ctx.config.min_group_size}"
                        if small else None),
            ))  # fmt: skip
            if nn_:
                per_group.append((str(u), k / nn_))
        k, nn_ = int(changed_any.sum()), len(changed_any)
        lo, hi = wilson_interval(k, nn_, level)
        rate = k / nn_
        metrics.append(MetricValue(
            section=SECTION, name="counterfactual_flip_rate", feature=(sf,), value=rate,
            n=nn_, ci=_ci(float(lo), float(hi)),
            method=f"share of predictions that change when only {sf} is set to another value",
        ))  # fmt: skip
        detail = ", ".join(f"{g}: {_pct(r)}" for g, r in per_group)
        sev: Severity = "warn" if rate > flip_threshold else "pass"
        findings.append(Finding(
            SECTION, sev,
            f"Changing only {sf} changes {_pct(rate)} of the predictions ({detail})"
            + ("; the model uses this attribute directly." if sev == "warn" else "."),
            metric=f"{SECTION}.counterfactual_flip_rate",
        ))  # fmt: skip
    if pair_rows:
        tables.append(Table(
            name="counterfactual_flips", title="Predictions that change with the sensitive "
            "attribute alone", columns=("sensitive feature", "from", "to", "rows",
                                        "share changed"),
            rows=tuple(pair_rows),
            note="Each row: the rows of group 'from', with only this attribute set to 'to'.",
        ))  # fmt: skip
