"""Fairness section: group metrics, disparities, the four-fifths rule, calibration by group.

Per sensitive feature and per intersection, from the count-table engine (:mod:`._engine`),
whose values equal Fairlearn's ``MetricFrame`` and module functions:

* per group: ``count``, ``selection_rate``, ``true_positive_rate``, ``false_positive_rate``,
  ``false_negative_rate``, ``true_negative_rate``, ``accuracy``, ``precision`` and
  ``impact_ratio`` (binary); ``accuracy`` and one-vs-rest ``selection_rate`` /
  ``true_positive_rate`` / ``false_positive_rate`` per class (multiclass, ``label=<class>``);
  ``mean_score``, ``base_rate`` and ``expected_calibration_error`` when there are scores;
* disparities ``<metric>_difference`` and ``<metric>_ratio`` with ``method="between_groups"``
  (Fairlearn's default) and ``method="to_overall"``; ``demographic_parity_*``,
  ``equalized_odds_*`` (``agg="worst_case"``) and ``equal_opportunity_*``;
* bootstrap percentile intervals for all of them (cell-count resampling, ``n_boot`` resamples
  seeded from ``ctx.rng("fairness")``);
* a reference group per grouping (``AuditConfig.reference_groups``, default the largest group)
  and ``method="to_reference"`` records: each group's rate minus (and over) the reference
  group's, signed, with Newcombe intervals (:mod:`._fairness_evidence`);
* evidence on every disparity record: ``p_value`` (Fisher's exact test for to_reference, a
  permutation test from the count table for between_groups / to_overall), ``p_adjusted``
  (Benjamini-Hochberg over the section's family) and ``test`` (:mod:`._evidence`);
* findings ranked by evidence and size among the groups large enough to judge, in the
  reader's words (label names, favourable outcome), the groups too small to judge in a note
  of their own (:mod:`._fairness_story`);
* groups smaller than ``min_group_size``, or without rows of the class a rate is conditioned on,
  are flagged ``too_small`` with the reason, never dropped;
* a user's own metrics ``f(y_true, y_pred)`` (``custom_metrics=``) through ``MetricFrame``;
* a mitigation what-if with Fairlearn's ``ThresholdOptimizer`` (:mod:`._mitigation`).


Options (``audit(..., options={...})``), declared in :class:`FairnessOptions` and
:class:`~auditkit.inputs.options.CommonOptions`: ``subject`` (noun for the rows in findings,
default ``"people"``), ``fairness_gap_threshold`` (gap that makes a finding a warning, default
0.1), ``four_fifths_threshold`` (default 0.8; the table, the findings and the chart's
``reference`` line use it), ``n_permutations`` (default 2000), ``mitigation`` (default True),
``roc_auc_by_group`` (default True), ``custom_metrics``.

The records and tables are built in :mod:`._fairness_records`, the charts in
:mod:`._fairness_charts`, the custom metrics in :mod:`._fairness_custom` and ``info`` in
:mod:`._fairness_info`; this module runs the steps in order.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..exceptions import ParameterError
from ..inputs.context import AuditContext
from ..inputs.options import CommonOptions, SectionOptions, option, register
from ..metrics.engine import GroupMetrics, from_count_table, group_metrics
from ..result.records import Chart, Finding, MetricValue, SectionResult, Table
from . import _fairness_evidence as _fe
from . import _fairness_story as _story
from ._fairness_charts import _charts
from ._fairness_custom import _check_custom, _custom_records
from ._fairness_info import section_info
from ._fairness_records import (
    _DISPARITY_BASE,
    _METHODS,
    MAX_GROUPS_WITH_EMPTY,
    _Ctx,
    _disparity_record,
    _disparity_table,
    _flagged_groups,
    _group_records,
    _group_table,
    _names_for,
    _overall_records,
)
from ._regression_fairness import run_regression_fairness
from .registry import SECTIONS

__all__ = ["FairnessOptions", "FairnessSection", "MAX_GROUPS_WITH_EMPTY"]


@register
@dataclasses.dataclass(frozen=True)
class FairnessOptions(SectionOptions):
    """Options of the fairness section (``subject`` and ``four_fifths_threshold``: common)."""

    owner = "fairness"

    fairness_gap_threshold: float = option(
        0.1,
        doc="The gap between two groups' rates from which a finding is a warning.",
        low=0.0,
        high=1.0,
    )
    n_permutations: int = option(
        _fe.DEFAULT_PERMUTATIONS,
        doc="Permutations of each permutation test of a disparity.",
        low=1,
    )
    mitigation: bool = option(
        True, doc="Whether to run the what-if with Fairlearn's ThresholdOptimizer."
    )
    roc_auc_by_group: bool = option(
        True, doc="Whether to compute each group's ROC AUC (and its disparities) from the rows."
    )
    custom_metrics: Any = option(
        None,
        kind="any",
        nullable=True,
        doc="Extra metrics by name, callables f(y_true, y_pred) computed per group.",
    )


class FairnessSection:
    """Group metrics, disparities, four-fifths rule, calibration by group, mitigation what-if."""

    name = "fairness"
    requires: tuple[str, ...] = ("sensitive",)
    #: Runs from a log reduced to count tables (``ctx.counts``) as well as from rows.
    supports_counts = True

    def run(self, ctx: AuditContext) -> SectionResult:
        """Compute the fairness section from the context."""
        if ctx.task == "regression":
            return run_regression_fairness(ctx, ctx.options_for(FairnessOptions))
        p = ctx.predictions
        cfg = ctx.config
        opts = ctx.options_for(FairnessOptions)
        common = ctx.options_for(CommonOptions)
        custom = _check_custom(opts.custom_metrics)
        feats = _features(ctx)
        groupings, pair = _groupings(feats)
        binary = p.task == "binary"
        pos = (p.pos_label if p.pos_label is not None else 1) if binary else None
        score = p.y_score if binary else None
        gm = _engine(ctx, feats, groupings, pos, score, bool(opts.roc_auc_by_group))
        iv, samples = (
            _fe.bootstrap(gm, cfg.n_boot, ctx.rng("fairness"), cfg.ci_level)
            if (cfg.n_boot > 0)
            else (None, None)
        )
        c = _Ctx(ctx, gm, iv)
        metrics, tables, reasons = _records(c)
        four_fifths = float(common.four_fifths_threshold)
        alpha = 1.0 - cfg.ci_level
        refs = _fe.resolve_references(gm, cfg.reference_groups)
        ev = _fe.Evidence(
            gm, refs, samples, ctx.rng("fairness.evidence"), cfg.ci_level,
            n_permutations=_permutations(opts.n_permutations),
            min_size=cfg.min_group_size,
        )  # fmt: skip
        ev.test_disparities()
        ev.compare_to_reference(reasons)
        fav_pos = binary and p.favourable_index == pos
        ff = _story.four_fifths_results(c, ev, reasons, fav_pos) if binary else {}
        calib = _story.calibration_tests(c, ev)
        metrics += ev.to_reference_records(p.classes)
        metrics = ev.annotate(metrics, p.classes)
        metrics += _story.four_fifths_records(c, ev, ff, p)
        tables.insert(0, _disparity_table(c, ff, ev, four_fifths, alpha))
        small = {g: _flagged_groups(c, g, list(reasons[g].values())) for g in gm.groupings}
        findings = _story.story(
            c, ev, reasons, ff, small, pred=p, subject=str(common.subject),
            gap_warn=float(opts.fairness_gap_threshold),
            four_fifths=four_fifths, alpha=alpha, calib=calib,
        )  # fmt: skip
        charts = _charts(c, pair, fav_pos, four_fifths)
        info = section_info(ctx, gm, feats, pos, refs, ev, four_fifths, alpha)
        m_recs, m_find, m_tabs, m_charts = _rows_only(ctx, opts, custom, feats, pos, score, info)
        return SectionResult(
            name=self.name,
            status="ok",
            metrics=tuple(metrics + m_recs),
            tables=tuple(tables + m_tabs),
            findings=tuple(findings + m_find),
            charts=tuple(charts + m_charts),
            info=info,
        )


def _features(ctx: AuditContext) -> tuple[str, ...]:
    """Return the sensitive features (of the count table, or the sensitive columns)."""
    counts = ctx.counts
    if counts is not None:
        return tuple(counts.features)
    return tuple(str(c) for c in ctx.sensitive.columns)


def _groupings(
    feats: tuple[str, ...],
) -> tuple[list[tuple[str, ...]], tuple[str, ...] | None]:
    """Return the groupings (each feature, the first pair, all features) and the pair charted."""
    groupings: list[tuple[str, ...]] = [(f,) for f in feats]
    pair = feats[:2] if len(feats) >= 2 else None
    if len(feats) >= 3 and pair is not None:
        groupings.append(pair)
    if len(feats) >= 2:
        groupings.append(feats)
    return groupings, pair


def _engine(
    ctx: AuditContext,
    feats: tuple[str, ...],
    groupings: list[tuple[str, ...]],
    pos: int | None,
    score: np.ndarray | None,
    roc_auc: bool,
) -> GroupMetrics:
    """Run the count-table engine on the reduced log or on the rows."""
    p = ctx.predictions
    counts = ctx.counts
    if counts is not None:
        table = dict(counts.groups)
        if p.task != "binary":  # calibration by group is for binary tasks, as on the row path
            for col in ("score_bin", "score_sum", "score_sq_sum"):
                table.pop(col, None)
        return from_count_table(
            table,
            sensitive_features=list(feats),
            labels=list(range(p.n_classes)),
            pos_label=pos,
            n_bins=counts.n_bins,
            groupings=groupings,
        )
    return group_metrics(
        p.y_true,
        p.y_pred,
        ctx.sensitive,
        y_score=score,
        labels=list(range(p.n_classes)),
        pos_label=pos,
        groupings=groupings,
        sample_weight=p.sample_weight,
        roc_auc=roc_auc,
    )


def _records(
    c: _Ctx,
) -> tuple[list[MetricValue], list[Table], dict[tuple[str, ...], dict[Any, list[Any]]]]:
    """Return the overall, group and disparity records, the group tables and the flags."""
    gm = c.gm
    names = _names_for(gm)
    metrics: list[MetricValue] = _overall_records(c, names)
    reasons: dict[tuple[str, ...], dict[Any, list[Any]]] = {}
    tables: list[Table] = []
    for g in gm.groupings:
        recs, reasons_of = _group_records(c, g, names)
        metrics += recs
        reasons[g] = reasons_of
        for key in gm.values:
            if key.features != g or key.part not in _METHODS:
                continue
            base = key.name.rsplit("_", 1)[0]
            bases = _DISPARITY_BASE.get(base, (base,))
            flagged = _flagged_groups(
                c,
                g,
                [reasons_of[(b, key.label)] for b in bases if (b, key.label) in reasons_of],
            )
            metrics.append(_disparity_record(c, key, flagged, bases[0]))
        tables.append(_group_table(c, g, reasons_of))
    return metrics, tables, reasons


def _permutations(n_perm: Any) -> int:
    """Return the ``n_permutations`` option as an int, or raise :class:`ParameterError`."""
    if isinstance(n_perm, bool) or not isinstance(n_perm, int | np.integer) or n_perm < 1:
        raise ParameterError(
            f"The 'n_permutations' option must be a positive int; got {n_perm!r}."
        )
    return int(n_perm)


def _rows_only(
    ctx: AuditContext,
    opts: FairnessOptions,
    custom: dict[str, Any],
    feats: tuple[str, ...],
    pos: int | None,
    score: np.ndarray | None,
    info: dict[str, Any],
) -> tuple[list[MetricValue], list[Finding], list[Table], list[Chart]]:
    """Run the parts that need the rows (mitigation, trade-off, custom metrics); fill ``info``."""
    p = ctx.predictions
    counts = ctx.counts
    metrics: list[MetricValue] = []
    findings: list[Finding] = []
    tables: list[Table] = []
    charts: list[Chart] = []
    if counts is not None:
        info["reduced_in"] = counts.engine
        info["mitigation"] = {
            "status": "skipped",
            "reason": "ThresholdOptimizer needs the rows, which a log reduced to count "
            f"tables in {counts.engine} does not keep (reduce=False audits rows)",
        }
    elif p.task == "binary":
        assert pos is not None
        y01 = (p.y_true == pos).astype(np.int64)
        p01 = (p.y_pred == pos).astype(np.int64)
        metrics, findings, tables, charts, info["mitigation"] = _mitigation(
            ctx, bool(opts.mitigation), y01, p01, score, feats, float(opts.fairness_gap_threshold)
        )
    else:
        y01, p01 = p.y_true, p.y_pred
        info["mitigation"] = {
            "status": "skipped",
            "reason": "ThresholdOptimizer needs a binary task",
        }
    if custom and counts is not None:
        info["custom_metrics"] = {
            "names": sorted(custom),
            "status": "skipped",
            "reason": "custom metrics need the rows; this log was reduced to count tables",
        }
    elif custom:
        c_groupings = [(f,) for f in feats] + ([feats] if len(feats) > 1 else [])
        c_recs, c_info = _custom_records(ctx, custom, c_groupings, y01, p01)
        metrics += c_recs
        info["custom_metrics"] = {
            "names": sorted(custom),
            "labels": "binary: 0/1 with 1 = the positive class; multiclass: class indices",
            **c_info,
        }
    return metrics, findings, tables, charts


def _mitigation(
    ctx: AuditContext,
    enabled: bool,
    y01: np.ndarray,
    p01: np.ndarray,
    score: np.ndarray | None,
    feats: tuple[str, ...],
    gap: float,
) -> tuple[list[MetricValue], list[Finding], list[Table], list[Chart], dict[str, Any]]:
    """Run the ThresholdOptimizer what-if and the trade-off; else say why they were skipped."""
    from ._mitigation import what_if

    p = ctx.predictions
    if not enabled:
        return (
            [],
            [],
            [],
            [],
            {"status": "skipped", "reason": "turned off (options mitigation=False)"},
        )
    if p.task != "binary":
        return (
            [],
            [],
            [],
            [],
            {"status": "skipped", "reason": "ThresholdOptimizer needs a binary task"},
        )
    if score is None:
        return (
            [],
            [],
            [],
            [],
            {
                "status": "skipped",
                "reason": "ThresholdOptimizer needs scores (a model's probabilities or y_score)",
            },
        )
    return what_if(ctx, y01, p01, score, feats, gap=gap)


SECTIONS.register("fairness")(FairnessSection())
