"""Explainability section: what the model relies on, for whom, and whether to trust the answer.

Attributions come from :func:`auditkit.explain` (Captum's classes on the fast path): integrated
gradients for torch models (at the token embeddings for text), feature ablation for other
estimators. From them the section reports

* global importance: the mean absolute attribution of each original feature, with a bootstrap
  interval (records ``importance``, field ``input_feature``); for text, per token;
* per-group profiles: the same per sensitive group (``group_importance``, with ``feature`` and
  ``group`` as in the fairness records) and how far the groups' normalised profiles are apart
  (``importance_profile_difference``, ``importance_rank_correlation``);
* proxies: features that predict a sensitive attribute (normalised mutual information and a
  cross-fitted single-feature AUC on the raw data) and that the model relies on, flagged
  ``possible_proxy`` (``proxy_score``, ``proxy_auc``);
* counterfactual flip rate where a sensitive attribute is a model input: the share of
  predictions that change when only that attribute is set to another group's value
  (``counterfactual_flip_rate``);
* local explanations for rows the user names (option ``explain_rows``) and the most confident
  errors; attribution maps for images, shaded tokens for text;
* trust checks: the distribution of completeness deltas (``completeness_delta_*``) and a model
  randomisation test (Adebayo et al., 2018): the top layer, then every layer, of a copy of the
  model is re-initialised and the rank correlation of the attributions measured
  (``randomization_rank_correlation``); explanations that barely change get a warning.

Options (``audit(..., options={...})``): ``explain_method``, ``explain_max_rows`` (rows
attributed, a random sample beyond: 20,000 for tables, 48 images, 24 reviews by default),
``explain_n_steps``, ``explain_rows``, ``explain_n_errors``, ``explain_per_class``,
``explain_memory_mb``, ``explain_devices`` (processes for the attributions; a checkpoint's
scoring devices by default), ``explain_proxy_auc`` (0.7), ``explain_proxy_share`` (0.05),
``explain_profile_threshold`` (0.1), ``explain_flip_threshold`` (0.01),
``explain_sanity_threshold`` (0.5), ``explain_sanity_rows``.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.rows import take_rows
from ..exceptions import ParameterError
from ..inputs.context import SECTIONS, AuditContext
from ..result.records import Chart, Finding, MetricValue, SectionResult, Severity, Table

SECTION = "explainability"

#: Default rows attributed, per modality (a random sample beyond that; the intervals say how
#: precise the global figures are). Proxies and counterfactual flips use every row. All of
#: Adult's test split (16,281 rows) fits the tabular default.
MAX_ROWS = {"tabular": 20_000, "image": 48, "text": 24}
#: Default integration steps per modality (image and text models are costly per step).
N_STEPS = {"tabular": 50, "image": 16, "text": 16}
#: Rows the randomisation check re-attributes.
SANITY_ROWS = {"tabular": 256, "image": 6, "text": 6}
#: The two randomisations of the sanity check, as the records' ``method`` says them.
RANDOMIZATION = {
    "top_layer": "top layer re-initialised; mean Spearman correlation of |attribution| per row",
    "all_layers": "every layer re-initialised; mean Spearman correlation of |attribution| per row",
}
_TOKEN_MIN_COUNT = 3
_TOP_TOKENS = 20
_MAX_TOKENS_SHOWN = 120
_TOP_LOCAL = 5


@dataclass
class _Run:
    """The attributions the section works from."""

    modality: str
    rows: np.ndarray  # positions in ctx.X of the attributed rows
    main: np.ndarray  # indices into ``rows`` of the random sample used for global figures
    values: np.ndarray
    feature_names: list[str]
    delta: np.ndarray | None
    target: np.ndarray
    method: str
    tokens: list[list[str]] | None
    info: dict[str, Any]


class ExplainabilitySection:
    """Global and per-group importance, proxies, counterfactuals, local maps, trust checks."""

    name = SECTION
    requires: tuple[str, ...] = ("model", "features")

    def run(self, ctx: AuditContext) -> SectionResult:
        """Compute the section from the context."""
        from ..explanation import explain

        modality = _modality(ctx)
        adapter = ctx.model
        parts = adapter.torch_parts() if adapter is not None else None
        # Torch models are attributed on float32 tensors; other models through a float64
        # encoding of their inputs, which holds every value they were given.
        beyond = _beyond_float32(ctx.X) if parts is not None else None
        if beyond is not None:
            return SectionResult(name=SECTION, status="skipped", reason=beyond)
        n = len(ctx.predictions)
        rows, main, shown, requested, errors = _select_rows(ctx, modality, n)
        method = ctx.option("explain_method")
        if method is None:
            method = "integrated_gradients" if parts is not None else "feature_ablation"
        n_steps = int(ctx.option("explain_n_steps", N_STEPS[modality]))
        # A checkpoint scored on several devices (`audit --devices`) is attributed on them too.
        scoring = getattr(adapter, "scoring", None) or {}
        budget = float(ctx.option("explain_memory_mb", scoring.get("memory_budget_mb") or 256.0))
        devices = ctx.option("explain_devices", scoring.get("devices"))
        Xs = take_rows(ctx.X, rows)
        exp = explain(
            adapter, Xs, method=method, n_steps=n_steps, random_state=ctx.config.random_state,
            memory_budget_mb=budget, show_progress=ctx.config.show_progress, devices=devices,
            accelerator=scoring.get("accelerator", "auto"),
        )  # fmt: skip
        run = _Run(
            modality=modality, rows=rows, main=main, values=exp.values,
            feature_names=list(exp.feature_names), delta=exp.delta, target=exp.target,
            method=exp.method, tokens=exp.tokens, info=dict(exp.info),
        )  # fmt: skip
        metrics: list[MetricValue] = []
        tables: list[Table] = []
        findings: list[Finding] = []
        charts: list[Chart] = []

        imp = _global_importance(ctx, run, metrics, charts, findings)
        if modality == "tabular" and ctx.sensitive is not None and ctx.sensitive.shape[1] > 0:
            _group_profiles(ctx, run, metrics, charts, findings)
            if _is_frame(ctx.X):
                _proxies(ctx, run, imp, metrics, tables, findings)
                _counterfactuals(ctx, run, metrics, tables, findings)
        _local(ctx, run, requested, errors, tables)
        if modality == "image":
            _image_maps(ctx, run, shown, requested, errors, charts)
        elif modality == "text":
            _token_rows(ctx, run, shown, requested, errors, charts)
        _completeness(run, metrics, findings)
        _sanity(ctx, run, parts, n_steps, budget, metrics, findings)

        info = {
            "method": run.method,
            "n_rows_attributed": int(len(rows)),
            "n_rows_global": int(len(main)),
            "n_steps": run.info.get("n_steps"),
            "fast_path": bool(run.info.get("fast_path")),
            "modality": modality,
            "target": "the predicted class of each row",
        }
        return SectionResult(
            name=SECTION, status="ok", metrics=tuple(metrics), tables=tuple(tables),
            findings=tuple(findings), charts=tuple(charts), info=info,
        )  # fmt: skip


SECTIONS.register(SECTION)(ExplainabilitySection())


# ------------------------------------------------------------------------------- plumbing
def _is_frame(X: Any) -> bool:
    import sys

    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(X, pd.DataFrame)


def _modality(ctx: AuditContext) -> str:
    if ctx.schema is not None and ctx.schema.modality in ("tabular", "image", "text"):
        return str(ctx.schema.modality)
    X = ctx.X
    if _is_frame(X):
        return "tabular"
    arr = np.asarray(X) if not hasattr(X, "detach") else X
    if getattr(arr, "dtype", None) is not None and arr.dtype == object:
        return "text"
    return "image" if getattr(arr, "ndim", 2) >= 3 else "tabular"


#: The largest finite float32: torch models are attributed on float32 tensors.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _beyond_float32(X: Any) -> str | None:
    """Return why the inputs cannot be attributed when a float feature exceeds float32's range.

    Torch models are attributed on float32 tensors; a finite value beyond about 3.4e38 would become
    infinite there and the model would be asked about inputs it was never given. The reason
    names the columns (the feature indices of an array) and their largest magnitude.
    """
    if hasattr(X, "detach"):
        return None  # a torch tensor is float32 (or integer) already
    if _is_frame(X):
        cols = [(str(c), X.iloc[:, j]) for j, c in enumerate(X.columns)]
        cols = [(c, v.to_numpy()) for c, v in cols if getattr(v.dtype, "kind", "O") == "f"]
    else:
        try:
            arr = np.asarray(X)
        except (TypeError, ValueError):
            return None
        if arr.dtype.kind != "f" or arr.ndim == 0:
            return None
        if arr.ndim == 2:
            cols = [(f"feature {j}", arr[:, j]) for j in range(arr.shape[1])]
        else:
            cols = [("the input array", arr)]
    big: list[tuple[str, float]] = []
    for name, v in cols:
        with np.errstate(invalid="ignore"):
            a = np.abs(np.asarray(v, dtype=np.float64))
        finite = a[np.isfinite(a)]
        if finite.size and float(finite.max()) > _FLOAT32_MAX:
            big.append((name, float(finite.max())))
    if not big:
        return None
    shown = ", ".join(
        (f"'{n}'" if not n.startswith(("feature ", "the ")) else n) + f" (up to {m:.3g})"
        for n, m in big[:5]
    )
    more = f" and {len(big) - 5} more" if len(big) > 5 else ""
    return (
        "values outside the float32 range that attributions are computed in (about 3.4e38 "
        f"in magnitude): {shown}{more}; rescale these features (other units) to explain the "
        "model"
    )


def _int_option(ctx: AuditContext, name: str, default: int) -> int:
    v = ctx.option(name, default)
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or int(v) < 0:
        raise ParameterError(
            f"The {name!r} option of the explainability section must be a non-negative int. "
            f"Got {v!r} instead."
        )
    return int(v)


def _select_rows(
    ctx: AuditContext, modality: str, n: int
) -> tuple[np.ndarray, np.ndarray, list[int], list[int], list[int]]:
    """Return (rows attributed, main sample as indices into them, shown, requested, errors)."""
    max_rows = _int_option(ctx, "explain_max_rows", MAX_ROWS[modality])
    rng = ctx.rng("explainability-rows")
    if n <= max_rows:
        main_rows = np.arange(n)
    else:
        main_rows = np.sort(rng.choice(n, size=max_rows, replace=False))
    requested_opt = ctx.option("explain_rows", None) or []
    if isinstance(requested_opt, (int, np.integer)):
        requested_opt = [requested_opt]
    requested: list[int] = []
    for r in requested_opt:
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not 0 <= int(r) < n:
            raise ParameterError(
                f"Row {r!r} in the 'explain_rows' option is not a row of the evaluation data "
                f"(0..{n - 1})."
            )
        requested.append(int(r))
    p = ctx.predictions
    errors: list[int] = []
    n_err = _int_option(ctx, "explain_n_errors", 5)
    wrong = np.flatnonzero(p.y_pred != p.y_true)
    if len(wrong) and n_err and p.y_proba is not None:
        conf = p.y_proba[wrong, p.y_pred[wrong]]
        order = np.lexsort((wrong, -conf))
        errors = [int(i) for i in wrong[order[:n_err]]]
    shown: list[int] = []
    if modality in ("image", "text"):
        per_class = _int_option(ctx, "explain_per_class", 2 if modality == "image" else 2)
        perm = rng.permutation(n)
        for c in range(p.n_classes):
            cls_rows = perm[p.y_true[perm] == c][:per_class]
            shown.extend(int(i) for i in cls_rows)
    extra = sorted(set(requested) | set(errors) | set(shown))
    rows = np.union1d(main_rows, np.asarray(extra, dtype=np.int64)).astype(np.int64)
    main = np.searchsorted(rows, main_rows)
    return rows, main, shown, requested, errors


def _pos(run: _Run, row: int) -> int:
    return int(np.searchsorted(run.rows, row))


def _class_name(ctx: AuditContext, k: int) -> str:
    classes = ctx.predictions.classes
    return str(classes[k]) if 0 <= k < len(classes) else str(k)


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


def _ci(lo: float, hi: float) -> tuple[float, float] | None:
    return None if not (math.isfinite(lo) and math.isfinite(hi)) else (float(lo), float(hi))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


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
    for i in run.main:
        toks = run.tokens[i]
        vals = _token_values(run, int(i))
        for tok, val in zip(toks, vals):
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


def _token_values(run: _Run, i: int) -> np.ndarray:
    """Attributions of row ``i`` aligned with ``run.tokens[i]`` (padding dropped)."""
    assert run.tokens is not None
    toks = run.tokens[i]
    v = run.values[i].reshape(-1)
    return v[: len(toks)]


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
    threshold = float(ctx.option("explain_profile_threshold", 0.1))
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
    auc_min = float(ctx.option("explain_proxy_auc", 0.7))
    share_min = float(ctx.option("explain_proxy_share", 0.05))
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
        sev: Severity = (
            "warn" if rate > float(ctx.option("explain_flip_threshold", 0.01)) else "pass"
        )
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


# ------------------------------------------------------------------------------ local views
def _local(
    ctx: AuditContext, run: _Run, requested: Sequence[int], errors: Sequence[int],
    tables: list[Table],
) -> None:  # fmt: skip
    wanted = [(r, "requested") for r in requested] + [
        (r, "confident error") for r in errors if r not in requested
    ]
    if not wanted:
        return
    p = ctx.predictions
    out = []
    for r, why in wanted:
        i = _pos(run, r)
        conf = float(p.y_proba[r, p.y_pred[r]]) if p.y_proba is not None else None
        out.append(
            (
                r,
                why,
                _class_name(ctx, int(p.y_true[r])),
                _class_name(ctx, int(p.y_pred[r])),
                conf,
                _top_features(ctx, run, i, r),
            )
        )
    tables.append(Table(
        name="local_explanations", title="Explanations of single predictions",
        columns=("row", "why shown", "true class", "predicted class", "confidence",
                 "strongest inputs (attribution)"),
        rows=tuple(out),
        note=(
            "Attributions explain the predicted class: positive values push toward it, "
            "negative values away from it."
        ),
    ))  # fmt: skip


def _top_features(ctx: AuditContext, run: _Run, i: int, r: int) -> str:
    if run.modality == "tabular":
        v = run.values[i]
        order = np.argsort(-np.abs(v), kind="stable")[:_TOP_LOCAL]
        parts = []
        for j in order:
            f = run.feature_names[j]
            val = ""
            if _is_frame(ctx.X) and f in ctx.X.columns:
                raw = ctx.X[f].iloc[r]
                val = f"={raw:.4g}" if isinstance(raw, (float, np.floating)) else f"={raw}"
            parts.append(f"{f}{val} ({v[j]:+.3g})")
        return "; ".join(parts)
    if run.modality == "text" and run.tokens is not None:
        toks = run.tokens[i]
        vals = _token_values(run, i)
        order = np.argsort(-np.abs(vals), kind="stable")[:_TOP_LOCAL]
        return "; ".join(f"{toks[j]} ({vals[j]:+.3g})" for j in order)
    total = float(run.values[i].sum())
    return f"see the attribution maps (sum of attributions {total:+.3g})"


def _caption(ctx: AuditContext, r: int, why: str | None = None) -> str:
    p = ctx.predictions
    conf = ""
    if p.y_proba is not None:
        conf = f" ({p.y_proba[r, p.y_pred[r]]:.2f})"
    tail = f"; {why}" if why else ""
    return (f"row {r}: true {_class_name(ctx, int(p.y_true[r]))}, predicted "
            f"{_class_name(ctx, int(p.y_pred[r]))}{conf}{tail}")  # fmt: skip


def _display_order(
    shown: Sequence[int], requested: Sequence[int], errors: Sequence[int]
) -> list[tuple[int, str | None]]:
    seen: set[int] = set()
    out: list[tuple[int, str | None]] = []
    for rows, why in ((requested, "requested"), (errors, "confident error"), (shown, None)):
        for r in rows:
            if r not in seen:
                seen.add(r)
                out.append((r, why))
    return out


def _image_maps(
    ctx: AuditContext, run: _Run, shown: Sequence[int], requested: Sequence[int],
    errors: Sequence[int], charts: list[Chart],
) -> None:  # fmt: skip
    from ..explanation import encode_png, map_panel

    items = []
    X = ctx.X
    for r, why in _display_order(shown, requested, errors):
        i = _pos(run, r)
        img = np.asarray(X[r]) if not hasattr(X, "iloc") else None
        panel = map_panel(run.values[i], img, scale=3)
        items.append({
            "png_base64": base64.b64encode(encode_png(panel)).decode("ascii"),
            "caption": _caption(ctx, r, why),
        })  # fmt: skip
    if items:
        charts.append(Chart(
            name="attribution_maps", kind="images", title="Where the model looks",
            data={"items": items},
            description=(
                "Each image with its attribution map to the right: red pixels push toward the "
                "predicted class, blue pixels away from it (channels summed)."
            ),
        ))  # fmt: skip


def _token_rows(
    ctx: AuditContext, run: _Run, shown: Sequence[int], requested: Sequence[int],
    errors: Sequence[int], charts: list[Chart],
) -> None:  # fmt: skip
    if run.tokens is None:
        return
    rows = []
    for r, why in _display_order(shown, requested, errors):
        i = _pos(run, r)
        toks = run.tokens[i]
        vals = _token_values(run, i)
        scale = float(np.abs(vals).max()) if len(vals) else 0.0
        w = vals / scale if scale > 0 else np.zeros_like(vals)
        cut = len(toks) > _MAX_TOKENS_SHOWN
        cap = _caption(ctx, r, why) + (
            f"; first {_MAX_TOKENS_SHOWN} of {len(toks)} tokens" if cut else ""
        )
        rows.append({
            "tokens": [str(t) for t in toks[:_MAX_TOKENS_SHOWN]],
            "weights": [float(x) for x in w[:_MAX_TOKENS_SHOWN]],
            "caption": cap,
        })  # fmt: skip
    if rows:
        charts.append(Chart(
            name="token_highlights", kind="tokens", title="Which words drive the prediction",
            data={"rows": rows},
            description=(
                "Each review's tokens shaded by their attribution to the predicted class, "
                "scaled to the strongest token of the review."
            ),
        ))  # fmt: skip


# ------------------------------------------------------------------------------ trust checks
def _completeness(run: _Run, metrics: list[MetricValue], findings: list[Finding]) -> None:
    if run.delta is None:
        return
    d = np.abs(run.delta)
    sums = run.values.reshape(len(run.values), -1).sum(axis=1)
    gap = np.abs(sums - run.delta)  # |f(x) - f(baseline)|
    unit = "model output (logit)" if run.method != "feature_ablation" else None
    for q, name in ((50, "p50"), (95, "p95")):
        metrics.append(MetricValue(
            section=SECTION, name=f"completeness_delta_{name}", value=float(np.percentile(d, q)),
            n=len(d), method=run.method, unit=unit,
        ))  # fmt: skip
    metrics.append(MetricValue(
        section=SECTION, name="completeness_delta_max", value=float(d.max()), n=len(d),
        method=run.method, unit=unit,
    ))  # fmt: skip
    mean_gap = float(gap.mean())
    rel95 = float(np.percentile(d, 95)) / mean_gap if mean_gap > 0 else 0.0
    metrics.append(MetricValue(
        section=SECTION, name="completeness_delta_relative_p95", value=rel95, n=len(d),
        method="95th percentile of |delta| / mean |f(x) - f(baseline)|",
    ))  # fmt: skip
    if rel95 > 0.05:
        findings.append(Finding(
            SECTION, "warn",
            f"The attributions do not add up for some rows: for 5% of them the completeness "
            f"error exceeds {_pct(rel95)} of the typical output gap they explain (raise "
            "explain_n_steps for a finer integral).",
            metric=f"{SECTION}.completeness_delta_relative_p95",
        ))  # fmt: skip
    else:
        findings.append(Finding(
            SECTION, "pass",
            f"The attributions add up: for 95% of rows they account for the model's output "
            f"gap to the baseline within {_pct(max(rel95, 0.0))} of the typical gap.",
            metric=f"{SECTION}.completeness_delta_relative_p95",
        ))  # fmt: skip


def _comparable(run: _Run, values: np.ndarray) -> np.ndarray:
    """Per-row vectors of |attribution| to rank: features, pixels (channels summed), tokens."""
    v = np.abs(values)
    if run.modality == "image" and v.ndim == 4:
        v = np.abs(values.sum(axis=1))
    return v.reshape(len(v), -1)


def _sanity(
    ctx: AuditContext, run: _Run, parts: Any, n_steps: int, budget: float,
    metrics: list[MetricValue], findings: list[Finding],
) -> None:  # fmt: skip
    from ..explanation import explain
    from ..runtime import attribution as A

    def skip(reason: str) -> None:
        for how in RANDOMIZATION.values():
            metrics.append(MetricValue(
                section=SECTION, name="randomization_rank_correlation", value=None,
                method=how, reason=reason,
            ))  # fmt: skip

    if parts is None or ctx.model is None:
        skip("needs a torch model whose layers can be re-initialised")
        return
    layers = [m for m in parts.module.modules()
              if any(True for _ in m.parameters(recurse=False))
              and hasattr(m, "reset_parameters")]  # fmt: skip
    if not layers:
        skip("the model has no layers with parameters to re-initialise")
        return
    k = min(len(run.main), _int_option(ctx, "explain_sanity_rows", SANITY_ROWS[run.modality]))
    if run.modality == "tabular" and len(run.feature_names) < 3:
        skip("fewer than 3 features to rank")
        return
    idx = run.main[:k]
    Xs = take_rows(ctx.X, run.rows[idx])
    base = _comparable(run, run.values[idx])
    threshold = float(ctx.option("explain_sanity_threshold", 0.5))
    results: dict[str, float] = {}
    for label, top in (("top_layer", 1), ("all_layers", None)):
        clone = A.reinitialized_copy(parts.module, top=top, random_state=ctx.config.random_state)
        adapter = _SwappedModule(ctx.model, parts, clone)
        e = explain(
            adapter, Xs, method=run.method, target=run.target[idx], n_steps=n_steps,
            random_state=ctx.config.random_state, memory_budget_mb=budget,
            show_progress=ctx.config.show_progress,
        )  # fmt: skip
        rho = A.spearman_rows(base, _comparable(run, e.values))
        ok = rho[~np.isnan(rho)]
        value = float(ok.mean()) if len(ok) else None
        metrics.append(MetricValue(
            section=SECTION, name="randomization_rank_correlation", value=value,
            n=int(len(ok)), method=RANDOMIZATION[label],
            reason=None if value is not None else "the attributions are constant",
        ))  # fmt: skip
        if value is not None:
            results[label] = value
    top_rho = results.get("top_layer")
    if top_rho is None:
        return
    if top_rho >= threshold:
        findings.append(Finding(
            SECTION, "warn",
            f"The explanations barely change when the model's top layer is replaced by random "
            f"weights (rank correlation {top_rho:.2f}): they may reflect the input more than "
            "what the model learned (Adebayo et al., 2018). Read them with care.",
            metric=f"{SECTION}.randomization_rank_correlation",
        ))  # fmt: skip
    else:
        findings.append(Finding(
            SECTION, "pass",
            f"The explanations depend on what the model learned: re-initialising its top layer "
            f"changes them (rank correlation {top_rho:.2f}, below {threshold}).",
            metric=f"{SECTION}.randomization_rank_correlation",
        ))  # fmt: skip


class _SwappedModule:
    """An adapter-like object whose torch parts carry another module (a re-initialised copy)."""

    def __init__(self, adapter: Any, parts: Any, module: Any) -> None:
        from ..adapters.base import ModelAdapter, TorchParts

        layer = None
        if parts.embedding is not None:
            names = {id(m): n for n, m in parts.module.named_modules()}
            name = names.get(id(parts.embedding))
            layer = dict(module.named_modules()).get(name) if name is not None else None
        swapped = TorchParts(
            module=module, encode=parts.encode, feature_names=parts.feature_names,
            feature_groups=parts.feature_groups, embedding=layer,
            decode_tokens=parts.decode_tokens, extras=parts.extras,
        )  # fmt: skip

        class Swapped(ModelAdapter):
            kind = adapter.kind

            def torch_parts(self) -> TorchParts:
                return swapped

        self._adapter = Swapped(module, name=adapter.name, schema=adapter.schema)

    def as_adapter(self) -> Any:
        """Return the adapter (so :func:`auditkit.adapters.base.wrap` accepts this object)."""
        return self._adapter
