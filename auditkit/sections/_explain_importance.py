"""Explainability: global importance (per feature, channel or token) and per-group profiles."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..inputs.context import AuditContext
from ..result.records import Chart, Finding, MetricValue
from ._explain_common import SECTION, ExplainOptions, _ci, _pct, _Run, _token_values

_TOKEN_MIN_COUNT = 3


_TOP_TOKENS = 20


def _bootstrap_means(
    A: np.ndarray, n_boot: int, level: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of the column means of ``A`` (rows resampled with replacement)."""
    lo, hi = _bootstrap_group_means(A, {None: None}, n_boot, level, rng)[None]
    return lo, hi


def _bootstrap_group_means(
    A: np.ndarray,
    groups: dict[Any, np.ndarray | None],
    n_boot: int,
    level: float,
    rng: np.random.Generator,
) -> dict[Any, tuple[np.ndarray, np.ndarray]]:
    """Percentile intervals of the column means of ``A`` over all rows and within groups.

    One set of resamples of the rows serves every group (``groups`` maps a key to the row
    indices of the group, or None for all rows): a group's mean in a resample is the mean over
    the resampled rows that belong to it, as when the rows of the whole data are resampled.
    """
    from ..metrics.stats import percentile_interval, row_weight_chunks

    n, p = A.shape
    nan = np.full(p, np.nan)
    if n_boot <= 0 or n < 2:
        return {k: (nan, nan) for k in groups}
    keys = list(groups)
    # One matmul per chunk of resamples: column block g of B holds A on the rows of group g.
    member = np.zeros((n, len(keys)))
    for g, k in enumerate(keys):
        idx = groups[k]
        member[slice(None) if idx is None else idx, g] = 1.0
    B = (member[:, :, None] * A[:, None, :]).reshape(n, len(keys) * p)
    boots: list[np.ndarray] = []
    for w in row_weight_chunks(n, n_boot, rng):
        wf = w.astype(np.float64)
        sums = (wf @ B).reshape(len(wf), len(keys), p)
        cnt = (wf @ member)[:, :, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            boots.append(np.where(cnt > 0, sums / cnt, np.nan))
    lo, hi = percentile_interval(np.concatenate(boots, axis=0), level)
    return {k: (lo[g], hi[g]) for g, k in enumerate(keys)}


# ------------------------------------------------------------------------ global importance
def _global_importance(
    ctx: AuditContext, run: _Run, metrics: list[MetricValue], charts: list[Chart],
    findings: list[Finding],
) -> np.ndarray | None:  # fmt: skip
    cfg = ctx.config
    rng = ctx.rng("explainability-importance")
    if run.modality == "tabular":
        A = np.abs(run.values[run.main])
        means = A.mean(axis=0)
        lo, hi = _bootstrap_means(A, cfg.n_boot, cfg.ci_level, rng)
        total = float(means.sum())
        for j, f in enumerate(run.feature_names):
            metrics.append(MetricValue(
                section=SECTION, name="importance", value=float(means[j]), input_feature=f,
                ci=_ci(lo[j], hi[j]), n=len(A), method=run.method,
            ))  # fmt: skip
            metrics.append(MetricValue(
                section=SECTION, name="importance_share", input_feature=f, n=len(A),
                value=float(means[j] / total) if total > 0 else None,
                reason=None if total > 0 else "every attribution is zero",
            ))  # fmt: skip
        order = np.argsort(-means, kind="stable")
        charts.append(Chart(
            name="importance", kind="bar", title="Global feature importance",
            data={
                "labels": [run.feature_names[j] for j in order],
                "values": [float(means[j]) for j in order],
                "lows": [None if math.isnan(lo[j]) else float(lo[j]) for j in order],
                "highs": [None if math.isnan(hi[j]) else float(hi[j]) for j in order],
                "reference": None, "xlabel": "mean |attribution|", "ylabel": "feature",
                "horizontal": True,
            },
            description=(
                f"Mean absolute {run.method.replace('_', ' ')} attribution of each input "
                f"feature over {len(A):,} rows, with {cfg.ci_level:.0%} bootstrap intervals. "
                "Longer bars: the model's predictions move more with that feature."
            ),
        ))  # fmt: skip
        if total > 0 and len(order):
            top = [run.feature_names[j] for j in order[:3]]
            listed = f"{', '.join(top[:-1])} and {top[-1]}" if len(top) > 1 else top[0]
            findings.append(Finding(
                SECTION, "info",
                f"The model relies most on {listed} ({_pct(means[order[0]] / total)} of the "
                f"attribution goes to {top[0]}).",
                metric=f"{SECTION}.importance",
            ))  # fmt: skip
        return means
    if run.modality == "image":
        v = run.values[run.main]
        if v.ndim == 4:
            per_channel = np.abs(v).reshape(v.shape[0], v.shape[1], -1).sum(axis=2)
            names = (
                ["red", "green", "blue"] if v.shape[1] == 3
                else ["grey"] if v.shape[1] == 1 else [f"channel {c}" for c in range(v.shape[1])]
            )  # fmt: skip
        else:
            per_channel = np.abs(v).reshape(v.shape[0], -1).sum(axis=1, keepdims=True)
            names = ["pixels"]
        means = per_channel.mean(axis=0)
        lo, hi = _bootstrap_means(per_channel, cfg.n_boot, cfg.ci_level, rng)
        for j, f in enumerate(names):
            metrics.append(MetricValue(
                section=SECTION, name="importance", value=float(means[j]), input_feature=f,
                ci=_ci(lo[j], hi[j]), n=len(per_channel), method=run.method,
                reason="sum over the pixels of one channel of |attribution|, mean over images",
            ))  # fmt: skip
        return None
    # text: per token, over its occurrences in the sampled reviews
    if run.tokens is None:
        return None
    occ: dict[str, list[float]] = {}
    special = set(run.info.get("special_tokens", ()))  # [CLS], [SEP]...: not words of the text
    for i in run.main:
        toks = run.tokens[i]
        vals = _token_values(run, int(i))
        for tok, val in zip(toks, vals):
            if tok not in special:
                occ.setdefault(tok, []).append(abs(float(val)))
    cands = [(t, np.asarray(v)) for t, v in occ.items() if len(v) >= _TOKEN_MIN_COUNT]
    cands.sort(key=lambda tv: (-float(tv[1].mean()), tv[0]))
    top = cands[:_TOP_TOKENS]
    labels, vals_, los, his = [], [], [], []
    for tok, v in top:
        lo, hi = _bootstrap_means(v[:, None], min(cfg.n_boot, 500), cfg.ci_level, rng)
        metrics.append(MetricValue(
            section=SECTION, name="importance", value=float(v.mean()), input_feature=tok,
            ci=_ci(lo[0], hi[0]), n=len(v), method=run.method,
            reason="mean |attribution| of the token over its occurrences",
        ))  # fmt: skip
        labels.append(tok)
        vals_.append(float(v.mean()))
        los.append(None if math.isnan(lo[0]) else float(lo[0]))
        his.append(None if math.isnan(hi[0]) else float(hi[0]))
    if labels:
        charts.append(Chart(
            name="token_importance", kind="bar", title="Most influential tokens",
            data={"labels": labels, "values": vals_, "lows": los, "highs": his,
                  "reference": None, "xlabel": "mean |attribution| per occurrence",
                  "ylabel": "token", "horizontal": True},
            description=(
                f"Tokens seen at least {_TOKEN_MIN_COUNT} times in {len(run.main)} reviews, "
                "ranked by their mean absolute attribution."
            ),
        ))  # fmt: skip
    return None


# --------------------------------------------------------------------------- group profiles
def _group_profiles(
    ctx: AuditContext, run: _Run, metrics: list[MetricValue], charts: list[Chart],
    findings: list[Finding],
) -> None:  # fmt: skip
    from ..runtime.attribution import spearman_rows

    cfg = ctx.config
    sens = ctx.sensitive.iloc[run.rows[run.main]].reset_index(drop=True)
    A = np.abs(run.values[run.main])
    names = run.feature_names
    threshold = ctx.options_for(ExplainOptions).explain_profile_threshold
    heat_rows: list[str] = []
    heat_vals: list[list[float | None]] = []
    for sf in sens.columns:
        col = sens[sf].to_numpy()
        groups = sorted(set(col.tolist()), key=str)
        profiles: dict[str, np.ndarray] = {}
        sizes: dict[str, int] = {}
        members = {g: np.flatnonzero(col == g) for g in groups}
        intervals = _bootstrap_group_means(
            A, dict(members), cfg.n_boot, cfg.ci_level, ctx.rng(f"explainability-group-{sf}")
        )
        for g in groups:
            idx = members[g]
            m = A[idx].mean(axis=0)
            lo, hi = intervals[g]
            small = len(idx) < cfg.min_group_size
            for j, f in enumerate(names):
                metrics.append(MetricValue(
                    section=SECTION, name="group_importance", value=float(m[j]),
                    feature=(sf,), group=(str(g),), input_feature=f, ci=_ci(lo[j], hi[j]),
                    n=len(idx), flags=("too_small",) if small else (),
                    reason=(f"{len(idx)} rows, fewer than min_group_size={cfg.min_group_size}"
                            if small else None),
                ))  # fmt: skip
            sizes[str(g)] = len(idx)
            total = float(m.sum())
            profiles[str(g)] = m / total if total > 0 else np.zeros_like(m)
            heat_rows.append(f"{sf} = {g}")
            heat_vals.append([float(x) for x in profiles[str(g)]])
        judged = [g for g in profiles if sizes[g] >= cfg.min_group_size]
        best: tuple[float, str, str, int] | None = None
        min_rho: float | None = None
        for a_i, a in enumerate(judged):
            for b in judged[a_i + 1 :]:
                d = np.abs(profiles[a] - profiles[b])
                j = int(np.argmax(d))
                if best is None or d[j] > best[0]:
                    best = (float(d[j]), a, b, j)
                rho = float(spearman_rows(profiles[a][None, :], profiles[b][None, :])[0])
                if not math.isnan(rho):
                    min_rho = rho if min_rho is None else min(min_rho, rho)
        reason = None if best is not None else (
            "fewer than two groups with at least min_group_size rows"
        )  # fmt: skip
        metrics.append(MetricValue(
            section=SECTION, name="importance_profile_difference", feature=(sf,),
            value=None if best is None else best[0], n=int(sum(sizes[g] for g in judged)),
            method="max over group pairs and features of |share_a - share_b|", reason=reason,
        ))  # fmt: skip
        metrics.append(MetricValue(
            section=SECTION, name="importance_rank_correlation", feature=(sf,), value=min_rho,
            n=int(sum(sizes[g] for g in judged)),
            method="min over group pairs of the Spearman correlation of the profiles",
            reason=reason if min_rho is None and reason else (
                None if min_rho is not None else "the profiles are constant"
            ),
        ))  # fmt: skip
        if best is not None:
            diff, a, b, j = best
            f = names[j]
            text = (
                f"The model weighs {f} differently across {sf} groups: it carries "
                f"{_pct(profiles[a][j])} of the attribution for {a} and "
                f"{_pct(profiles[b][j])} for {b}"
            )
            if diff >= threshold:
                findings.append(Finding(
                    SECTION, "warn", text + " (the model may reason differently for these "
                    "groups).", metric=f"{SECTION}.importance_profile_difference",
                ))  # fmt: skip
            else:
                findings.append(Finding(
                    SECTION, "pass", f"The model relies on similar features for every {sf} "
                    f"group (largest gap in a feature's share: {_pct(diff)}, {f}).",
                    metric=f"{SECTION}.importance_profile_difference",
                ))  # fmt: skip
    if heat_rows:
        charts.append(Chart(
            name="group_importance", kind="heatmap",
            title="Share of the attribution per feature, by group",
            data={"rows": heat_rows, "cols": list(names), "values": heat_vals,
                  "xlabel": "feature", "ylabel": "group"},
            description=(
                "Each row is one group's importance profile, normalised to sum to 1: rows that "
                "look alike mean the model relies on the same features for those groups."
            ),
        ))  # fmt: skip
