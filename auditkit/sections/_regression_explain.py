"""Explainability of a regression: attributions of the predicted value (the model's one output).

The same methods as for a classifier, through :func:`auditkit.explain`: integrated gradients for
torch models and checkpoints, perturbation methods (feature ablation, Shapley value sampling,
KernelSHAP) for scikit-learn, ONNX and callables. There is no target class: every row's
attributions explain output 0, the predicted value, so each attribution is a *contribution to
the predicted <target>* in the target's units (hours, EUR...), and a row's contributions add up
to its prediction minus the baseline's (the completeness delta measures the gap).

Records (section ``"explainability"``), as for a classifier: ``importance`` and
``importance_share`` per input feature (``unit``: the target's unit), ``group_importance``
and the group-profile comparisons, ``proxy_score`` / ``proxy_auc`` for features that predict a
sensitive attribute, the ``completeness_delta_*`` records and ``randomization_rank_correlation``;
and, in place of the classifier's flip rate, ``counterfactual_mean_change``: the mean absolute
change of the predicted value when only a sensitive input is set to another group's value
(per group and overall, with a bootstrap interval). Local explanations show the requested rows
and the largest errors (``explain_n_errors``), with their true and predicted values.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from .._core.rows import take_rows
from ..exceptions import ParameterError
from ..inputs.context import AuditContext, RegressionPredictions
from ..result.records import Chart, Finding, MetricValue, SectionResult, Table
from ._explain_common import (
    MAX_ROWS,
    N_STEPS,
    SECTION,
    ExplainOptions,
    _beyond_float32,
    _ci,
    _is_frame,
    _modality,
    _pct,
    _Run,
)
from ._explain_importance import _bootstrap_means, _global_importance, _group_profiles
from ._explain_proxies import _proxies
from ._explain_trust import _completeness, _sanity
from ._regression_stability_folds import regression_rows

__all__ = ["run_regression_explainability", "target_words"]

_TOP_LOCAL = 5


def target_words(r: RegressionPredictions) -> tuple[str, str]:
    """Return ``(the predicted <target>, unit suffix)`` for the words of findings."""
    name = r.target or "value"
    return f"the predicted {name}", f" {r.unit}" if r.unit else ""


def run_regression_explainability(ctx: AuditContext) -> SectionResult:
    """Compute the explainability section of a regression (see the module docstring)."""
    from ..explanation import explain

    r = regression_rows(ctx)
    if r is None or ctx.model is None or ctx.X is None:
        why = (
            "needs the model and its input rows; a regression log of predictions has neither"
            if r is None or ctx.model is None
            else "needs the model's input features; none were given"
        )
        return SectionResult(name=SECTION, status="skipped", reason=why)
    modality = _modality(ctx)
    adapter = ctx.model
    parts = adapter.torch_parts()
    beyond = _beyond_float32(ctx.X) if parts is not None else None
    if beyond is not None:
        return SectionResult(name=SECTION, status="skipped", reason=beyond)
    opts = ctx.options_for(ExplainOptions)
    n = len(r)
    max_rows = MAX_ROWS[modality] if opts.explain_max_rows is None else opts.explain_max_rows
    rows, main, requested, errors = _select_rows(ctx, r, n, max_rows)
    method = opts.explain_method
    if method is None:
        method = (
            "integrated_gradients" if parts is not None
            else "occlusion" if modality == "image" else "feature_ablation"
        )  # fmt: skip
    n_steps = N_STEPS[modality] if opts.explain_n_steps is None else opts.explain_n_steps
    scoring = getattr(adapter, "scoring", None) or {}
    budget = opts.explain_memory_mb
    if budget is None:
        budget = float(scoring.get("memory_budget_mb") or 256.0)
    devices = opts.explain_devices if opts.explain_devices is not None else scoring.get("devices")
    exp = explain(
        adapter, take_rows(ctx.X, rows), method=method, n_steps=n_steps,
        random_state=ctx.config.random_state, memory_budget_mb=budget,
        show_progress=ctx.config.show_progress, devices=devices,
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
    what, unit = target_words(r)
    imp = _global_importance(ctx, run, metrics, charts, [])
    if imp is not None:
        findings += _importance_findings(ctx, run, imp, what, unit)
    if modality == "tabular" and ctx.sensitive is not None and ctx.sensitive.shape[1] > 0:
        _group_profiles(ctx, run, metrics, charts, findings)
        if _is_frame(ctx.X):
            _proxies(ctx, run, imp, metrics, tables, findings)
            _counterfactual_change(ctx, run, r, metrics, tables, findings)
    _local(ctx, run, r, requested, errors, tables)
    _completeness(run, metrics, findings)
    _sanity(ctx, run, parts, n_steps, budget, metrics, findings)
    metrics = [_with_unit(m, r.unit) for m in metrics]
    charts = [_reworded(c, what) for c in charts]
    info = {
        "method": run.method,
        "n_rows_attributed": int(len(rows)),
        "n_rows_global": int(len(main)),
        "n_steps": run.info.get("n_steps"),
        "fast_path": bool(run.info.get("fast_path")),
        "modality": modality,
        "target": f"{what} (the model's one output; no target class)",
    }
    return SectionResult(
        name=SECTION, status="ok", metrics=tuple(metrics), tables=tuple(tables),
        findings=tuple(findings), charts=tuple(charts), info=info,
    )  # fmt: skip


def _select_rows(
    ctx: AuditContext, r: RegressionPredictions, n: int, max_rows: int
) -> tuple[np.ndarray, np.ndarray, list[int], list[int]]:
    """Return (rows attributed, main sample as indices into them, requested, largest errors)."""
    opts = ctx.options_for(ExplainOptions)
    rng = ctx.rng("explainability-rows")
    main_rows = np.arange(n) if n <= max_rows else np.sort(rng.choice(n, max_rows, replace=False))
    requested_opt = opts.explain_rows or []
    if isinstance(requested_opt, (int, np.integer)):
        requested_opt = [requested_opt]
    requested: list[int] = []
    for row in requested_opt:
        if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not 0 <= row < n:
            raise ParameterError(
                f"Row {row!r} in the 'explain_rows' option is not a row of the evaluation data "
                f"(0..{n - 1})."
            )
        requested.append(int(row))
    err = np.abs(np.asarray(r.y_pred) - np.asarray(r.y_true))
    order = np.lexsort((np.arange(n), -err))  # largest error first, ties by row
    errors = [int(i) for i in order[: opts.explain_n_errors] if err[i] > 0]
    extra = np.asarray(sorted(set(requested) | set(errors)), dtype=np.int64)
    rows = np.union1d(main_rows, extra).astype(np.int64)
    return rows, np.searchsorted(rows, main_rows), requested, errors


def _importance_findings(
    ctx: AuditContext, run: _Run, imp: np.ndarray, what: str, unit: str
) -> list[Finding]:
    total = float(imp.sum())
    if not total > 0 or not len(imp):
        return [Finding(SECTION, "info", f"Every contribution to {what} is zero.")]
    order = np.argsort(-imp, kind="stable")[:3]
    top = [run.feature_names[j] for j in order]
    listed = f"{', '.join(top[:-1])} and {top[-1]}" if len(top) > 1 else top[0]
    j = int(order[0])
    return [
        Finding(
            SECTION, "info",
            f"{what[0].upper()}{what[1:]} moves most with {listed}: {top[0]}'s contribution "
            f"to {what} is {imp[j]:.3g}{unit} on average (in absolute value), "
            f"{_pct(imp[j] / total)} of all contributions.",
            metric=f"{SECTION}.importance",
        )
    ]  # fmt: skip


def _with_unit(m: MetricValue, unit: str | None) -> MetricValue:
    """Put the target's unit on the records measured in it (importances, deltas, changes)."""
    in_units = (
        m.name in ("importance", "group_importance", "counterfactual_mean_change")
        or m.name.startswith("completeness_delta_p") or m.name == "completeness_delta_max"
    )  # fmt: skip
    if not in_units:
        return m
    return replace(m, unit=unit or "predicted value")


def _reworded(c: Chart, what: str) -> Chart:
    if c.name == "importance":
        data = {**c.data, "xlabel": f"mean |contribution to {what}|"}
        return replace(
            c, data=data,
            description=(c.description or "").replace(
                "the model's predictions move more", f"{what} moves more"
            ),
        )  # fmt: skip
    return c


def _counterfactual_change(
    ctx: AuditContext, run: _Run, r: RegressionPredictions, metrics: list[MetricValue],
    tables: list[Table], findings: list[Finding],
) -> None:  # fmt: skip
    """Measure how the predicted value moves when only a sensitive input is changed."""
    assert ctx.model is not None
    X = ctx.X.reset_index(drop=True)
    base = np.asarray(r.y_pred, dtype=np.float64)
    what, unit = target_words(r)
    cfg = ctx.config
    scale = float(np.mean(np.abs(base - np.mean(base)))) or 1.0
    rows_out: list[tuple[Any, ...]] = []
    for sf in ctx.sensitive.columns:
        if sf not in X.columns or sf not in set(run.feature_names):
            continue
        raw = X[sf]
        values = sorted(raw.dropna().unique().tolist(), key=str)
        if len(values) < 2:
            continue
        orig = raw.astype(str).to_numpy()
        change = np.zeros(len(X))  # per row: the largest |change| over the other values
        for v in values:
            Xv = X.copy()
            Xv[sf] = v
            d = ctx.model.predict_values(Xv) - base
            d[orig == str(v)] = 0.0
            change = np.maximum(change, np.abs(d))
            for u in values:
                m = orig == str(u)
                if str(u) != str(v) and m.any():
                    rows_out.append((sf, str(u), str(v), int(m.sum()), float(d[m].mean())))
        groups = {str(u): np.flatnonzero(orig == str(u)) for u in values}
        ci: tuple[float, float] | None = None
        for g, idx in [*groups.items(), (None, np.arange(len(X)))]:
            lo, hi = _bootstrap_means(change[idx, None], cfg.n_boot, cfg.ci_level,
                                      ctx.rng(f"explainability-cf-{sf}-{g}"))  # fmt: skip
            ci = _ci(float(lo[0]), float(hi[0]))
            small = g is not None and len(idx) < cfg.min_group_size
            metrics.append(MetricValue(
                section=SECTION, name="counterfactual_mean_change", feature=(sf,),
                group=None if g is None else (g,), value=float(change[idx].mean()),
                n=len(idx), ci=ci, flags=("too_small",) if small else (),
                method=f"mean |change of {what}| when only {sf} is set to another value",
            ))  # fmt: skip
        mean = float(change.mean())  # ``ci`` is now the overall interval (the last record)
        rel = mean / scale
        flip = ctx.options_for(ExplainOptions).explain_flip_threshold
        uses = ci is not None and ci[0] > 0 and rel > flip
        text = (
            f"Changing only {sf} moves {what} by {mean:.3g}{unit} on average (interval "
            f"{ci[0]:.3g} to {ci[1]:.3g}), {_pct(rel)} of the predictions' typical spread (mean "
            "absolute deviation)"
            if ci is not None
            else f"Changing only {sf} moves {what} by {mean:.3g}{unit} on average"
        )
        findings.append(Finding(
            SECTION, "warn" if uses else "pass",
            text + ("; the model uses this attribute directly." if uses else "."),
            metric=f"{SECTION}.counterfactual_mean_change",
        ))  # fmt: skip
    if rows_out:
        tables.append(Table(
            name="counterfactual_changes",
            title=f"Change of {what} with the sensitive attribute alone",
            columns=("sensitive feature", "from", "to", "rows", "mean change"),
            rows=tuple(rows_out),
            note=(
                "Each row: the rows of group 'from', with only this attribute set to 'to'; the "
                f"mean signed change of {what}."
            ),
        ))  # fmt: skip


def _local(
    ctx: AuditContext, run: _Run, r: RegressionPredictions, requested: list[int],
    errors: list[int], tables: list[Table],
) -> None:  # fmt: skip
    wanted = [(i, "requested") for i in requested] + [
        (i, "large error") for i in errors if i not in requested
    ]
    if not wanted:
        return
    what, _ = target_words(r)
    out = []
    for row, why in wanted:
        i = int(np.searchsorted(run.rows, row))
        v = run.values[i].reshape(-1)
        order = np.argsort(-np.abs(v), kind="stable")[:_TOP_LOCAL]
        parts = []
        for j in order:
            f = run.feature_names[j] if j < len(run.feature_names) else f"input {j}"
            val = ""
            if _is_frame(ctx.X) and f in ctx.X.columns:
                raw = ctx.X[f].iloc[row]
                val = f"={raw:.4g}" if isinstance(raw, (float, np.floating)) else f"={raw}"
            parts.append(f"{f}{val} ({v[j]:+.3g})")
        t, p = float(r.y_true[row]), float(r.y_pred[row])
        out.append((row, why, t, p, p - t, "; ".join(parts)))
    tables.append(Table(
        name="local_explanations", title="Explanations of single predictions",
        columns=("row", "why shown", "true value", "predicted value", "error",
                 "strongest inputs (contribution)"),
        rows=tuple(out),
        note=(
            f"Contributions to {what}: positive values raise it, negative values lower it "
            "(from the baseline's prediction)."
        ),
    ))  # fmt: skip
