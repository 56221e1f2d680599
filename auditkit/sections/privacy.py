"""Privacy section: membership inference, the generalisation gap, learning curves, identifiers.

Membership inference asks whether an attacker who can query the model can tell the rows it was
trained on ("members", sampled from the training data) from rows it never saw ("non-members",
sampled from the evaluation data), in balanced samples. Two attacks:

* ``attack="loss"``: the loss-threshold attack (Yeom et al., 2018), which guesses "member"
  when the model's loss on the row is low;
* ``attack="reference"``: a reference-model attack in the spirit of offline RMIA (Zarifzadeh
  et al., 2024) that calibrates each row's likelihood against a model retrained without that
  row (the cross-validation fold models, shared with the stability section). Each candidate is
  compared against exactly one "out" reference: a member of fold ``i`` against fold model ``i``
  (the one that did not train on it) and a non-member against a fold model drawn at random; the
  population rows of the likelihood-ratio test are evaluation rows kept apart from the
  non-members. No candidate is ever scored with a model that trained on it, so the attack has
  no membership leak of its own: against a model that never saw either set it is at chance.

Records (section ``"privacy"``): ``membership_auc``, ``membership_advantage`` (max TPR - FPR),
``membership_tpr_at_1pct_fpr`` and ``membership_tpr_at_0_1pct_fpr`` with ``attack`` set, overall
and per sensitive group (``feature``/``group``), with bootstrap intervals;
per group, ``membership_auc`` also carries the one-sided Mann-Whitney p-value of "the attack is
at chance in this group" (``p_value``, ``test="mann_whitney_u"``) and its Holm adjustment over
the groups of the attack (``p_adjusted``). A group is said to be more exposed only when it is
large enough to judge, its own interval excludes 0.5 (chance), its adjusted p-value is below
``1 - ci_level`` and its AUC exceeds the overall one by more than 0.05;
``generalization_gap_accuracy`` (train minus evaluation accuracy) and
``generalization_gap_loss`` (evaluation minus train log loss); ``identifier_risk`` per input
column that looks like a direct identifier (``input_feature``, ``reason``); and, when the model
was trained with differential privacy (``describe()["dp"]``), ``dp_epsilon``, ``dp_delta`` and
the bounds they imply, ``membership_auc_bound`` and ``membership_advantage_bound``.

Options: ``privacy_max_rows`` (members sampled, default 10000), ``privacy_population``
(population rows of the reference attack, default 5000), ``membership_reference`` (run the
reference attack, default True), ``rmia_offline_a`` (default 0.3), declared in
:class:`PrivacyOptions`; ``cv`` (fold models, default 5) and ``fold_threads``, declared in
:class:`auditkit.sections._folds.FoldOptions`.

The attacks are in ``_privacy_attacks`` (sampling, scores, records, findings, charts), the
generalisation gap, learning curves and DP bounds in ``_privacy_training``.

A regression (``ctx.task == "regression"``) runs :mod:`._regression_privacy`: the same attacks
with the squared error as the loss, the reference attack on the regression fold models, and the
generalisation gap of the mean absolute error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..inputs.context import AuditContext, Predictions
from ..result.records import Chart, Finding, MetricValue, SectionResult, Severity, Table
from ._privacy_attacks import ATTACK_LABELS as ATTACK_LABELS
from ._privacy_attacks import ATTACK_METRICS as ATTACK_METRICS
from ._privacy_attacks import AUC_FAIL as AUC_FAIL
from ._privacy_attacks import AUC_WARN as AUC_WARN
from ._privacy_attacks import PrivacyOptions as PrivacyOptions
from ._privacy_attacks import _attack_findings, _group_records, _membership
from ._privacy_attacks import _sample_rows as _sample_rows
from ._privacy_attacks import auc_p_value as auc_p_value
from ._privacy_attacks import exposed_group as exposed_group
from ._privacy_identifiers import identifier_records
from ._privacy_training import OVERFIT_ACCURACY_GAP as OVERFIT_ACCURACY_GAP
from ._privacy_training import _dp, _dp_budget, _generalisation, _learning_curves
from ._privacy_training import history_series as history_series
from ._privacy_training import learning_curve_note as learning_curve_note
from .registry import SECTIONS


def _proba(p: Predictions) -> np.ndarray:
    if p.y_proba is not None:
        return p.y_proba
    return np.eye(p.n_classes)[p.y_pred]


class PrivacySection:
    """Membership-inference attacks, generalisation gap, learning curves, identifier scan."""

    name = "privacy"
    requires: tuple[str, ...] = ("model", "train_data")
    # the tests call these two as methods
    _attack_findings = staticmethod(_attack_findings)
    _group_records = staticmethod(_group_records)
    _identifiers = staticmethod(identifier_records)

    def run(self, ctx: AuditContext) -> SectionResult:
        """Compute the section (see the module docstring)."""
        if ctx.task == "regression":
            from ._regression_privacy import run_regression_privacy

            return run_regression_privacy(ctx)
        assert ctx.train is not None and ctx.model is not None  # ensured by ``requires``
        p_eval = ctx.predictions
        p_train = ctx.train_predictions()
        assert p_train is not None
        proba_tr, proba_ev = _proba(p_train), _proba(p_eval)
        y_tr, y_ev = np.asarray(p_train.y_true), np.asarray(p_eval.y_true)
        records: list[MetricValue] = []
        findings: list[Finding] = []
        charts: list[Chart] = []
        tables: list[Table] = []
        info: dict[str, Any] = {}

        # -- membership inference ---------------------------------------------------------
        attack_vals = _membership(
            ctx, proba_tr, proba_ev, y_tr, y_ev,
            records=records, findings=findings, charts=charts, tables=tables, info=info,
        )  # fmt: skip

        # -- generalisation gap -----------------------------------------------------------
        records_gap, finding_gap = _generalisation(
            ctx, proba_tr, proba_ev, y_tr, y_ev, p_train, p_eval
        )
        records += records_gap
        findings.append(finding_gap)

        # -- learning curves --------------------------------------------------------------
        desc = ctx.model.describe()
        if ctx.model.kind == "checkpoint" and desc.get("history"):
            c, note = _learning_curves(desc["history"])
            charts += c
            if note is not None:
                sev: Severity = (
                    "warn" if "overfit" in note and "no clear sign" not in note else "info"
                )
                findings.append(Finding("privacy", sev, note))
                info["learning_curve_note"] = note

        # -- identifiers --------------------------------------------------------------------
        rec_id, find_id, id_note = self._identifiers(ctx)
        records += rec_id
        findings += find_id
        info["identifier_scan"] = id_note

        # -- differential privacy -----------------------------------------------------------
        budget = _dp_budget(desc)
        if budget is not None:
            rec_dp, find_dp, dp_info = _dp(budget, attack_vals, records)
            records += rec_dp
            findings += find_dp
            info["dp"] = dp_info
        return SectionResult(
            name=self.name,
            status="ok",
            metrics=tuple(records),
            tables=tuple(tables),
            findings=tuple(findings),
            charts=tuple(charts),
            info=info,
        )


SECTIONS.register("privacy")(PrivacySection())
