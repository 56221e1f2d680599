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
``explain_sanity_threshold`` (0.5), ``explain_sanity_rows``; declared, typed and documented in
:class:`ExplainOptions`.

The work is split by theme: ``_explain_importance`` (global and per-group importance),
``_explain_proxies`` (proxies, counterfactual flips), ``_explain_views`` (local views) and
``_explain_trust`` (completeness, randomisation test); ``_explain_common`` holds what they share.

A regression (``ctx.task == "regression"``) runs :mod:`._regression_explain`: attributions of the
predicted value (the model's one output, no target class), in the target's units.
"""

from __future__ import annotations

import numpy as np

from .._core.rows import take_rows
from ..exceptions import ParameterError
from ..inputs.context import AuditContext
from ..result.records import Chart, Finding, MetricValue, SectionResult, Table
from ._explain_common import MAX_ROWS as MAX_ROWS
from ._explain_common import N_STEPS as N_STEPS
from ._explain_common import SECTION, ExplainOptions, _beyond_float32, _is_frame, _modality, _Run
from ._explain_importance import _global_importance, _group_profiles
from ._explain_proxies import _binned as _binned  # tests import these three from here
from ._explain_proxies import _counterfactuals, _proxies
from ._explain_proxies import _rank_auc as _rank_auc
from ._explain_proxies import _single_feature_auc as _single_feature_auc
from ._explain_trust import RANDOMIZATION as RANDOMIZATION
from ._explain_trust import SANITY_ROWS as SANITY_ROWS
from ._explain_trust import _completeness, _sanity
from ._explain_views import _image_maps, _local, _token_rows
from .registry import SECTIONS


class ExplainabilitySection:
    """Global and per-group importance, proxies, counterfactuals, local maps, trust checks."""

    name = SECTION
    requires: tuple[str, ...] = ("model", "features")

    def run(self, ctx: AuditContext) -> SectionResult:
        """Compute the section from the context."""
        if ctx.task == "regression":
            from ._regression_explain import run_regression_explainability

            return run_regression_explainability(ctx)
        from ..explanation import explain

        modality = _modality(ctx)
        adapter = ctx.model
        parts = adapter.torch_parts() if adapter is not None else None
        # Torch models are attributed on float32 tensors; other models through a float64
        # encoding of their inputs, which holds every value they were given.
        beyond = _beyond_float32(ctx.X) if parts is not None else None
        if beyond is not None:
            return SectionResult(name=SECTION, status="skipped", reason=beyond)
        opts = ctx.options_for(ExplainOptions)
        n = len(ctx.predictions)
        rows, main, shown, requested, errors = _select_rows(ctx, modality, n)
        method = opts.explain_method
        if method is None:  # no gradients: occlusion for images (ablating each pixel is too slow)
            method = (
                "integrated_gradients" if parts is not None
                else "occlusion" if modality == "image" else "feature_ablation"
            )  # fmt: skip
        n_steps = N_STEPS[modality] if opts.explain_n_steps is None else opts.explain_n_steps
        # A checkpoint scored on several devices (`audit --devices`) is attributed on them too.
        scoring = getattr(adapter, "scoring", None) or {}
        budget = opts.explain_memory_mb
        if budget is None:
            budget = float(scoring.get("memory_budget_mb") or 256.0)
        devices = opts.explain_devices
        if devices is None:
            devices = scoring.get("devices")
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


def _select_rows(
    ctx: AuditContext, modality: str, n: int
) -> tuple[np.ndarray, np.ndarray, list[int], list[int], list[int]]:
    """Return (rows attributed, main sample as indices into them, shown, requested, errors)."""
    opts = ctx.options_for(ExplainOptions)
    max_rows = MAX_ROWS[modality] if opts.explain_max_rows is None else opts.explain_max_rows
    rng = ctx.rng("explainability-rows")
    if n <= max_rows:
        main_rows = np.arange(n)
    else:
        main_rows = np.sort(rng.choice(n, size=max_rows, replace=False))
    requested_opt = opts.explain_rows or []
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
    n_err = opts.explain_n_errors
    wrong = np.flatnonzero(p.y_pred != p.y_true)
    if len(wrong) and n_err and p.y_proba is not None:
        conf = p.y_proba[wrong, p.y_pred[wrong]]
        order = np.lexsort((wrong, -conf))
        errors = [int(i) for i in wrong[order[:n_err]]]
    shown: list[int] = []
    if modality in ("image", "text"):
        per_class = opts.explain_per_class
        perm = rng.permutation(n)
        for c in range(p.n_classes):
            cls_rows = perm[p.y_true[perm] == c][:per_class]
            shown.extend(int(i) for i in cls_rows)
    extra = sorted(set(requested) | set(errors) | set(shown))
    rows = np.union1d(main_rows, np.asarray(extra, dtype=np.int64)).astype(np.int64)
    main = np.searchsorted(rows, main_rows)
    return rows, main, shown, requested, errors
