"""Privacy of a regression: membership inference with squared errors, the generalisation gap.

The attacks are the classifier's (:mod:`auditkit.sections._privacy_attacks`: sampling of
members and non-members, records with bootstrap intervals, per-group records with Holm-adjusted
Mann-Whitney p-values, findings, ROC charts, the table), fed with a regression's loss:

* ``attack="loss"``: the loss-threshold attack (Yeom et al., 2018) with the squared error
  ``(y - ŷ)²``: members (training rows) tend to have lower squared errors than non-members
  (evaluation rows), so the score is the negative squared error;
* ``attack="reference"``: offline RMIA (:func:`~auditkit.sections._mia.reference_attack_scores`)
  on the cross-validation fold models
  (:mod:`~auditkit.sections._regression_stability_folds`), each candidate compared with
  exactly one fold model that did not train on it. Its likelihoods are Gaussian in the
  residual: ``p(x) = exp(-(y - ŷ)² / (2 σ²))`` (the density relative to its peak), with
  ``σ²`` the target model's mean squared error on the evaluation rows, the same for
  the target and the reference models.

Records (section ``"privacy"``), with ``attack`` set: ``membership_auc``,
``membership_advantage``, ``membership_tpr_at_1pct_fpr``, ``membership_tpr_at_0_1pct_fpr``
overall and per sensitive group; ``train_mean_absolute_error``, ``eval_mean_absolute_error``,
``train_root_mean_squared_error``, ``eval_root_mean_squared_error`` and
``generalization_gap_mae`` (evaluation minus training MAE, in the target's unit, with a
bootstrap interval); the learning-curve note of a checkpoint, the identifier scan and the DP
bounds as for a classifier. The options are the classifier's (:class:`PrivacyOptions`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.rows import take_rows
from ..inputs.context import AuditContext, RegressionPredictions
from ..result.records import Chart, Finding, MetricValue, SectionResult, Severity, Table
from ._mia import reference_attack_scores
from ._privacy_attacks import PrivacyOptions, run_attacks
from ._privacy_identifiers import identifier_records
from ._privacy_training import _bootstrap_mean_diff, _dp, _dp_budget, _learning_curves
from ._regression_stability_folds import get_regression_folds, regression_rows

__all__ = ["gaussian_likelihood", "run_regression_privacy", "squared_error_scores"]

SECTION = "privacy"
#: Evaluation MAE above the training MAE by more than this share of it (with an interval
#: above 0) is called overfitting.
OVERFIT_RELATIVE = 0.10


def squared_error_scores(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Return the loss attack's scores of a regression: the negative squared error."""
    e = np.asarray(pred, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    return -(e**2)


def gaussian_likelihood(y: np.ndarray, pred: np.ndarray, sigma2: float) -> np.ndarray:
    """Return ``exp(-(y - pred)² / (2 sigma2))``: a Gaussian likelihood relative to its peak."""
    e = np.asarray(pred, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    return np.exp(-(e**2) / (2.0 * max(float(sigma2), 1e-300)))


def run_regression_privacy(ctx: AuditContext) -> SectionResult:
    """Compute the privacy section of a regression (see the module docstring)."""
    r = regression_rows(ctx)
    tr = ctx.train_regression()
    if r is None or tr is None or ctx.model is None:
        return SectionResult(
            name=SECTION, status="skipped",
            reason="needs the model, its training data and the evaluation rows of a regression",
        )  # fmt: skip
    records: list[MetricValue] = []
    findings: list[Finding] = []
    charts: list[Chart] = []
    tables: list[Table] = []
    info: dict[str, Any] = {"loss": "squared error (y - prediction)²"}
    attack_vals = _membership(ctx, tr, r, records, findings, charts, tables, info)
    gap_recs, gap_finding = _generalisation(ctx, tr, r)
    records += gap_recs
    findings.append(gap_finding)
    desc = ctx.model.describe()
    if ctx.model.kind == "checkpoint" and desc.get("history"):
        c, note = _learning_curves(desc["history"])
        charts += c
        if note is not None:
            sev: Severity = "warn" if "overfit" in note and "no clear sign" not in note else "info"
            findings.append(Finding(SECTION, sev, note))
            info["learning_curve_note"] = note
    rec_id, find_id, id_note = identifier_records(ctx)
    records += rec_id
    findings += find_id
    info["identifier_scan"] = id_note
    budget = _dp_budget(desc)
    if budget is not None:
        rec_dp, find_dp, dp_info = _dp(budget, attack_vals, records)
        records += rec_dp
        findings += find_dp
        info["dp"] = dp_info
    return SectionResult(
        name=SECTION, status="ok", metrics=tuple(records), tables=tuple(tables),
        findings=tuple(findings), charts=tuple(charts), info=info,
    )  # fmt: skip


def _membership(
    ctx: AuditContext, tr: RegressionPredictions, ev: RegressionPredictions,
    records: list[MetricValue], findings: list[Finding], charts: list[Chart],
    tables: list[Table], info: dict[str, Any],
) -> dict[str, dict[str, float]]:  # fmt: skip
    """Run the loss (squared error) and reference attacks (:func:`run_attacks`)."""
    return run_attacks(
        ctx, n_train=len(tr), n_eval=len(ev),
        loss_scores=lambda m, nm: (
            squared_error_scores(tr.y_true[m], tr.y_pred[m]),
            squared_error_scores(ev.y_true[nm], ev.y_pred[nm]),
        ),
        reference_scores=lambda m, nm, pop: _reference_scores(ctx, tr, ev, m, nm, pop),
        records=records, findings=findings, charts=charts, tables=tables, info=info,
    )  # fmt: skip


def _reference_scores(
    ctx: AuditContext, tr: RegressionPredictions, ev: RegressionPredictions,
    members: np.ndarray, non_members: np.ndarray, population: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Offline RMIA scores of members and non-members against the fold models."""
    folds = get_regression_folds(ctx)
    if folds.mode != "refit" or folds.source != "train":
        raise RuntimeError("the fold models were not trained on the training data")
    sigma2 = float(np.mean((ev.y_pred - ev.y_true) ** 2))
    held = folds.held_out_values()
    fold_of = folds.fold_of()
    y_tr, y_ev = tr.y_true, ev.y_true
    p_in = gaussian_likelihood(y_tr[members], tr.y_pred[members], sigma2)
    p_ref_in = gaussian_likelihood(y_tr[members], held[members], sigma2)
    rows = np.concatenate([non_members, population])
    values = folds.models_values(take_rows(ctx.X, rows))  # (k, n_rows)
    p_rows = gaussian_likelihood(y_ev[rows][None, :], values, sigma2)
    m = len(non_members)
    ref_out = ctx.rng("privacy-reference").integers(0, folds.k, size=m)
    p_pop_ref = p_rows[:, m:]
    p_pop_tgt = gaussian_likelihood(y_ev[population], ev.y_pred[population], sigma2)
    a = ctx.options_for(PrivacyOptions).rmia_offline_a
    s_in = reference_attack_scores(
        p_in, p_ref_in, fold_of[members], p_pop_tgt, p_pop_ref, offline_a=a
    )
    p_out = gaussian_likelihood(y_ev[non_members], ev.y_pred[non_members], sigma2)
    s_out = reference_attack_scores(
        p_out, p_rows[ref_out, np.arange(m)], ref_out, p_pop_tgt, p_pop_ref, offline_a=a
    )
    return s_in, s_out


def _generalisation(
    ctx: AuditContext, tr: RegressionPredictions, ev: RegressionPredictions
) -> tuple[list[MetricValue], Finding]:
    """Training against evaluation errors, and the MAE gap with a bootstrap interval."""
    a_tr = np.abs(tr.y_pred - tr.y_true)
    a_ev = np.abs(ev.y_pred - ev.y_true)
    unit = ev.unit
    u = f" {unit}" if unit else ""
    mae_tr, mae_ev = float(a_tr.mean()), float(a_ev.mean())
    rmse_tr, rmse_ev = float(np.sqrt(np.mean(a_tr**2))), float(np.sqrt(np.mean(a_ev**2)))
    gap = mae_ev - mae_tr
    ci = _bootstrap_mean_diff(
        a_ev, a_tr, n_boot=ctx.config.n_boot, rng=ctx.rng("privacy-gap"),
        ci_level=ctx.config.ci_level,
    )  # fmt: skip
    recs = [
        MetricValue(section=SECTION, name="train_mean_absolute_error", value=mae_tr,
                    n=len(a_tr), unit=unit),
        MetricValue(section=SECTION, name="eval_mean_absolute_error", value=mae_ev,
                    n=len(a_ev), unit=unit),
        MetricValue(section=SECTION, name="train_root_mean_squared_error", value=rmse_tr,
                    n=len(a_tr), unit=unit),
        MetricValue(section=SECTION, name="eval_root_mean_squared_error", value=rmse_ev,
                    n=len(a_ev), unit=unit),
        MetricValue(section=SECTION, name="generalization_gap_mae", value=gap, ci=ci,
                    n=len(a_tr) + len(a_ev), unit=unit,
                    method="evaluation MAE minus training MAE"),
    ]  # fmt: skip
    ci_txt = f" (interval {ci[0]:.3g} to {ci[1]:.3g})" if ci is not None else ""
    text = (
        f"The model's mean absolute error is {mae_tr:.3g}{u} on its training rows and "
        f"{mae_ev:.3g}{u} on new rows: a gap of {gap:.3g}{u}{ci_txt}."
    )
    real = ci is not None and ci[0] > 0
    if real and mae_tr > 0 and gap > OVERFIT_RELATIVE * mae_tr:
        sev: Severity = "warn"
        text += (
            " The model fits its training rows clearly better than new ones (overfitting), "
            "which is what membership-inference attacks exploit."
        )
    elif real:
        sev = "info"
        text += f" The gap is real but small (under {OVERFIT_RELATIVE:.0%} of the training error)."
    else:
        sev = "pass"
        text += " The gap is not distinguishable from zero: no sign of overfitting."
    return recs, Finding(SECTION, sev, text, metric=f"{SECTION}.generalization_gap_mae")
