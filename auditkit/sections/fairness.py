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

Options (``audit(..., options={...})``): ``subject`` (noun for the rows in findings, default
``"people"``), ``fairness_gap_threshold`` (gap that makes a finding a warning, default 0.1),
``four_fifths_threshold`` (default 0.8; the table, the findings and the chart's ``reference``
line use it), ``n_permutations`` (default 2000), ``mitigation`` (default True),
``custom_metrics``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..exceptions import ParameterError
from ..inputs.context import SECTIONS, AuditContext
from ..metrics.definitions import METRICS
from ..metrics.engine import GroupMetrics, Intervals, Key, from_count_table, group_metrics
from ..metrics.stats import flag_small, wilson_interval
from ..result.records import Chart, Finding, MetricValue, SectionResult, Severity, Table
from . import _fairness_evidence as _fe
from . import _fairness_story as _story
from . import _plain_language as pl

__all__ = ["FairnessSection"]

SECTION = "fairness"
_BINARY_GROUP_METRICS = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "true_negative_rate",
    "accuracy",
    "precision",
    "false_omission_rate",
    "false_discovery_rate",
    "balanced_accuracy",
)
_MC_RATES = ("selection_rate", "true_positive_rate", "false_positive_rate")
_CALIBRATION = ("mean_score", "base_rate", "expected_calibration_error")
_DISPARITIES = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
)
#: What the denominator of each rate counts, for the reasons of flagged groups.
_DENOMINATOR_WORDS = {
    "true_positive_rate": "positive labels",
    "false_negative_rate": "positive labels",
    "false_positive_rate": "negative labels",
    "true_negative_rate": "negative labels",
    "precision": "positive decisions",
    "false_discovery_rate": "positive decisions",
    "false_omission_rate": "negative decisions",
    "roc_auc": "rows of one of the two classes",
}
#: The group metrics each disparity rests on (for its small-group flag).
_DISPARITY_BASE = {
    "demographic_parity": ("selection_rate",),
    "equalized_odds": ("true_positive_rate", "false_positive_rate"),
    "equal_opportunity": ("true_positive_rate",),
    "average_odds": ("true_positive_rate", "false_positive_rate"),
}
_METHODS = ("between_groups", "to_overall")


class _Ctx:
    """What the record builders share: the engine result, intervals and settings."""

    def __init__(self, ctx: AuditContext, gm: GroupMetrics, iv: Intervals | None) -> None:
        self.gm = gm
        self.iv = iv
        self.level = ctx.config.ci_level
        self.min_size = ctx.config.min_group_size
        self.classes = ctx.predictions.classes

    def ci(self, key: Key, i: int | None = None) -> tuple[float, float] | None:
        if self.iv is None or key not in self.iv.low:
            return None
        lo, hi = self.iv.low[key], self.iv.high[key]
        a, b = (float(lo), float(hi)) if i is None else (float(lo[i]), float(hi[i]))
        if not (np.isfinite(a) and np.isfinite(b)):
            return None
        return (a, b)

    def label_name(self, label: int | None) -> str | None:
        return None if label is None else self.classes[label]

    def label_value(self, label: int | None) -> Any:
        return None if label is None else self.gm.classes[label]


def _group_reasons(c: _Ctx, name: str, feats: tuple[str, ...], label: int | None) -> list[Any]:
    n = c.gm.counts(feats)
    if name in _DENOMINATOR_WORDS or (label is not None and name != "selection_rate"):
        den = c.gm.denominator(name, feats, c.label_value(label))
        if label is not None:
            cls = c.classes[label]
            what = (
                f"rows of class '{cls}'"
                if name == "true_positive_rate"
                else f"rows of classes other than '{cls}'"
            )
        else:
            what = _DENOMINATOR_WORDS[name]
        return flag_small(n, c.min_size, denominator=den, what=what)
    return flag_small(n, c.min_size)


#: An intersection with more groups than this records only the combinations that occur (the
#: empty ones, which MetricFrame's reindexed ``by_group`` lists, are counted in ``info``):
#: two ID-like sensitive columns would otherwise make a record for every pair of levels.
MAX_GROUPS_WITH_EMPTY = 1000


def _shown_groups(c: _Ctx, feats: tuple[str, ...]) -> np.ndarray:
    """Return the indices of the groups of ``feats`` that get records and table rows."""
    n = c.gm.counts(feats)
    if len(n) <= MAX_GROUPS_WITH_EMPTY:
        return np.arange(len(n))
    return np.flatnonzero(n > 0)


def _group_records(
    c: _Ctx, feats: tuple[str, ...], names: Sequence[tuple[str, int | None]]
) -> tuple[list[MetricValue], dict[tuple[str, int | None], list[Any]]]:
    out: list[MetricValue] = []
    reasons_of: dict[tuple[str, int | None], list[Any]] = {}
    groups = c.gm.groups(feats)
    n = c.gm.counts(feats)
    shown = _shown_groups(c, feats)
    for name, label in names:
        key = Key(name, feats, label, "group")
        vals = c.gm.values[key]
        if name in ("count", "impact_ratio", *_CALIBRATION):
            reasons = flag_small(n, c.min_size)
        else:
            reasons = _group_reasons(c, name, feats, label)
        reasons_of[(name, label)] = reasons
        for i in shown:
            grp = groups[i]
            reason = reasons[i]
            if n[i] == 0:
                reason = "no rows in this group (this combination does not occur in the data)"
            out.append(
                MetricValue(
                    section=SECTION,
                    name=name,
                    value=float(vals[i]),
                    feature=feats,
                    group=grp,
                    ci=None if name == "count" else c.ci(key, i),
                    n=int(n[i]),
                    label=c.label_name(label),
                    flags=("too_small",) if reason else (),
                    reason=reason,
                )
            )
    return out, reasons_of


def _flagged_groups(
    c: _Ctx, feats: tuple[str, ...], reasons: Sequence[list[Any]]
) -> list[tuple[str, ...]]:
    n = c.gm.counts(feats)
    groups = c.gm.groups(feats)
    return [
        tuple(str(v) for v in groups[i])
        for i in range(len(groups))
        if n[i] > 0 and any(r[i] for r in reasons)
    ]


def _disparity_record(
    c: _Ctx, key: Key, flagged: list[tuple[str, ...]], base_name: str
) -> MetricValue:
    value = float(c.gm.values[key])
    reason = None
    flags: tuple[str, ...] = ()
    if not np.isfinite(value):
        reason = (
            f"undefined: every group's {base_name.replace('_', ' ')} is 0 (or missing), so the "
            "ratio is 0/0"
        )
    elif flagged:
        shown = ", ".join("/".join(g) for g in flagged[:5])
        more = f" and {len(flagged) - 5} more" if len(flagged) > 5 else ""
        flags = ("small_groups",)
        reason = f"includes groups flagged too_small: {shown}{more}"
    return MetricValue(
        section=SECTION,
        name=key.name,
        value=value,
        feature=key.features,
        group=None,
        ci=c.ci(key),
        n=c.gm.n_rows,
        label=c.label_name(key.label),
        method=key.part,
        flags=flags,
        reason=reason,
        agg=key.agg,
    )


def _names_for(gm: GroupMetrics) -> list[tuple[str, int | None]]:
    if gm.is_binary:
        names: list[tuple[str, int | None]] = [("count", None)]
        names += [(m, None) for m in _BINARY_GROUP_METRICS]
        names.append(("impact_ratio", None))
        if gm.has_scores:
            names += [(m, None) for m in _CALIBRATION]
        if Key("roc_auc", None, None, "overall") in gm.values:
            names.append(("roc_auc", None))
        return names
    names = [("count", None), ("accuracy", None), ("balanced_accuracy", None)]
    for ci in range(len(gm.classes)):
        names += [(m, ci) for m in _MC_RATES]
    return names


def _overall_records(c: _Ctx, names: Sequence[tuple[str, int | None]]) -> list[MetricValue]:
    out = []
    for name, label in names:
        if name == "impact_ratio":
            continue
        key = Key(name, None, label, "overall")
        out.append(
            MetricValue(
                section=SECTION,
                name=name,
                value=float(c.gm.values[key]),
                ci=None if name == "count" else c.ci(key),
                n=c.gm.n_rows,
                label=c.label_name(label),
            )
        )
    return out


def _finding(severity: str, text: str, metric: str) -> Finding:
    sev: Severity = (
        "fail"
        if severity == "fail"
        else ("pass" if severity == "pass" else "warn" if severity == "warn" else "info")
    )
    return Finding(SECTION, sev, text, metric)


def _fmt_group(g: Sequence[Any]) -> list[str]:
    return [str(v) for v in g]


def _group_table(c: _Ctx, feats: tuple[str, ...], reasons_of: dict[Any, list[Any]]) -> Table:
    gm = c.gm
    cols = list(feats) + ["n"]
    metrics = (
        ["selection_rate", "true_positive_rate", "false_positive_rate", "accuracy"]
        if gm.is_binary
        else ["accuracy"]
    )
    for m in metrics:
        cols += [m, f"{m} {100 * c.level:g}% CI"]
    cols.append("flags")
    rows = []
    n = gm.counts(feats)
    groups = gm.groups(feats)
    for i in _shown_groups(c, feats):
        grp = groups[i]
        row: list[Any] = _fmt_group(grp) + [int(n[i])]
        for m in metrics:
            key = Key(m, feats, None, "group")
            v = float(gm.values[key][i])
            ci = c.ci(key, i)
            row += [v if np.isfinite(v) else None, list(ci) if ci else None]
        flagged = n[i] == 0 or any(r[i] for r in reasons_of.values())
        row.append("too_small" if flagged else "")
        rows.append(tuple(row))
    kind = "intersection" if len(feats) > 1 else "feature"
    return Table(
        name=f"groups_{'_x_'.join(feats)}",
        title=f"Groups by {' × '.join(feats)}"
        + (" (intersection)" if kind == "intersection" else ""),
        columns=tuple(cols),
        rows=tuple(rows),
        note=(
            f"Groups with fewer than {c.min_size} rows, or without rows of the class a rate is "
            "conditioned on, are flagged too_small; intervals are bootstrap percentile intervals."
        ),
    )


def _disparity_table(
    c: _Ctx, ff: Mapping[tuple[str, ...], Any], ev: Any, four_fifths: float, alpha: float
) -> Table:
    gm = c.gm
    rows = []
    if gm.is_binary:
        names = [
            "demographic_parity_ratio",
            "demographic_parity_difference",
            "equalized_odds_difference",
            "equal_opportunity_difference",
        ]
    else:
        names = ["accuracy_difference", "accuracy_ratio"]
    cols: list[str] = ["grouping"]
    for nm in names:
        cols += [nm, f"{nm} {100 * c.level:g}% CI"]
    if gm.is_binary:
        cols += ["favourable impact ratio", "four-fifths rule"]
    for feats in gm.groupings:
        row: list[Any] = [" × ".join(feats)]
        for nm in names:
            key = Key(nm, feats, None, "between_groups")
            v = float(gm.values[key])
            ci = c.ci(key)
            row += [v if np.isfinite(v) else None, list(ci) if ci else None]
        if gm.is_binary:
            res = ff.get(feats)
            r = None if res is None or not np.isfinite(res.ratio) else float(res.ratio)
            row += [r, _story.four_fifths_verdict(res, ev, four_fifths, alpha)]
        rows.append(tuple(row))
    return Table(
        name="disparities",
        title="Disparities between groups (Fairlearn's between_groups)",
        columns=tuple(cols),
        rows=tuple(rows),
        note="Differences: largest minus smallest group value; ratios: smallest over largest. "
        f"Four-fifths rule at the threshold {four_fifths:g}. Favourable impact ratio: the "
        "lowest over the highest rate of the favourable outcome among the groups large "
        "enough to judge; below the threshold the rule is 'fail' when the whole interval is "
        "below it, 'borderline' when the interval reaches it, and 'inconclusive' when the gap "
        "is not distinguishable from no gap after multiplicity control.",
    )


def _charts(c: _Ctx, pair: tuple[str, ...] | None, fav_pos: bool, threshold: float) -> list[Chart]:
    gm = c.gm
    charts = []
    metric = "impact_ratio" if gm.is_binary else "accuracy"
    for feats in gm.groupings:
        if len(feats) != 1:
            continue
        key = Key(metric, feats, None, "group")
        vals = gm.values[key]
        lows: list[float | None] = []
        highs: list[float | None] = []
        if gm.is_binary and not fav_pos:  # impact ratio of the favourable (negative) outcome
            fav = 1.0 - gm.values[Key("selection_rate", feats, None, "group")]
            with np.errstate(invalid="ignore", divide="ignore"):
                vals = fav / np.fmax.reduce(fav)
            lows = highs = [None] * len(vals)
        else:
            for i in range(len(vals)):
                ci = c.ci(key, i)
                lows.append(ci[0] if ci else None)
                highs.append(ci[1] if ci else None)
        charts.append(
            Chart(
                name=f"{metric}_{feats[0]}",
                kind="bar",
                title=(
                    f"Selection rate relative to the most-selected group, by {feats[0]}"
                    if gm.is_binary
                    else f"Accuracy by {feats[0]}"
                ),
                data={
                    "labels": [str(g[0]) for g in gm.groups(feats)],
                    "values": [float(v) if np.isfinite(v) else None for v in vals],
                    "lows": lows,
                    "highs": highs,
                    "reference": threshold if gm.is_binary else None,
                    "xlabel": "impact ratio" if gm.is_binary else "accuracy",
                    "ylabel": feats[0],
                    "horizontal": True,
                },
                description=(
                    "Each bar is a group's rate of the favourable outcome divided by the "
                    f"highest group's; the dashed line at {threshold:g} is the four-fifths "
                    "rule. Whiskers: bootstrap intervals."
                    if gm.is_binary
                    else "Accuracy of each group with bootstrap intervals."
                ),
            )
        )
    if pair is not None:
        m = "selection_rate" if gm.is_binary else "accuracy"
        vals = gm.values[Key(m, pair, None, "group")]
        groups = gm.groups(pair)
        rows_l = list(dict.fromkeys(str(g[0]) for g in groups))
        cols_l = list(dict.fromkeys(str(g[1]) for g in groups))
        grid: list[list[float | None]] = [[None] * len(cols_l) for _ in rows_l]
        for g, v in zip(groups, vals):
            grid[rows_l.index(str(g[0]))][cols_l.index(str(g[1]))] = (
                float(v) if np.isfinite(v) else None
            )
        charts.append(
            Chart(
                name=f"{m}_heatmap",
                kind="heatmap",
                title=f"{m.replace('_', ' ').capitalize()} by {pair[0]} × {pair[1]}",
                data={
                    "rows": rows_l,
                    "cols": cols_l,
                    "values": grid,
                    "xlabel": pair[1],
                    "ylabel": pair[0],
                },
                description="Empty cells: combinations that do not occur in the data.",
            )
        )
    return charts


def _check_custom(custom: Any) -> dict[str, Callable[..., Any]]:
    if custom is None:
        return {}
    if not isinstance(custom, Mapping):
        raise ParameterError(
            "The 'custom_metrics' parameter of audit must be a dict of name -> callable "
            f"f(y_true, y_pred). Got {type(custom).__name__!r} instead."
        )
    out = {}
    for name, fn in custom.items():
        if not isinstance(name, str) or not name:
            raise ParameterError(f"custom_metrics keys must be non-empty strings; got {name!r}.")
        taken = [
            x for x in (name, f"{name}_difference", f"{name}_ratio")
            if x in METRICS and SECTION in METRICS.get(x).sections
        ]  # fmt: skip
        if taken:
            raise ParameterError(
                f"custom_metrics name {name!r} clashes with the built-in fairness metric "
                f"{taken[0]!r}; choose another name."
            )
        if not callable(fn):
            raise ParameterError(f"custom_metrics[{name!r}] must be callable; got {fn!r}.")
        out[name] = fn
    return out


def _custom_records(
    ctx: AuditContext,
    custom: dict[str, Callable[..., Any]],
    groupings: Sequence[tuple[str, ...]],
    y_true: np.ndarray,
    y_pred: np.ndarray,
) -> tuple[list[MetricValue], dict[str, Any]]:
    from fairlearn.metrics import MetricFrame

    out: list[MetricValue] = []
    info: dict[str, Any] = {}
    sens = ctx.sensitive
    n_total = len(y_true)
    for feats in groupings:
        sf = sens[list(feats)] if len(feats) > 1 else sens[feats[0]]
        for name, fn in custom.items():
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    mf = MetricFrame(
                        metrics={name: fn}, y_true=y_true, y_pred=y_pred, sensitive_features=sf
                    )
                    by_group = mf.by_group[name]
                    overall = mf.overall[name]
                    parts = {
                        m: (mf.difference(method=m)[name], mf.ratio(method=m)[name])
                        for m in _METHODS
                    }
            except Exception as exc:  # noqa: BLE001 - a user's metric may fail in any way
                info.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
                continue
            if caught:
                info.setdefault("warnings", {}).setdefault(
                    name, sorted({str(w.message) for w in caught})
                )
            counts = sf.value_counts()
            for grp, v in by_group.items():
                grp_t = grp if isinstance(grp, tuple) else (grp,)
                nrows = int(counts.get(grp, 0))
                val, reason = _scalar(v)
                out.append(
                    MetricValue(
                        section=SECTION,
                        name=name,
                        value=val,
                        feature=feats,
                        group=grp_t,
                        n=nrows,
                        reason=reason or ("no rows in this group" if nrows == 0 else None),
                    )
                )
            if feats == groupings[0]:
                val, reason = _scalar(overall)
                out.append(
                    MetricValue(section=SECTION, name=name, value=val, n=n_total, reason=reason)
                )
            for m, (d, r) in parts.items():
                for suffix, x in (("difference", d), ("ratio", r)):
                    val, reason = _scalar(x)
                    out.append(
                        MetricValue(
                            section=SECTION,
                            name=f"{name}_{suffix}",
                            value=val,
                            feature=feats,
                            n=n_total,
                            method=m,
                            reason=reason,
                        )
                    )
    return out, info


def _scalar(x: Any) -> tuple[float | None, str | None]:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None, "the metric did not return a number"
    if not np.isfinite(v):
        return None, "undefined (NaN) for these rows"
    return v, None


def _mitigation(
    ctx: AuditContext,
    y01: np.ndarray,
    p01: np.ndarray,
    score: np.ndarray | None,
    feats: tuple[str, ...],
) -> tuple[list[MetricValue], list[Finding], list[Table], dict[str, Any]]:
    from ._mitigation import threshold_what_if

    p = ctx.predictions
    if not bool(ctx.option("mitigation", True)):
        return [], [], [], {"status": "skipped", "reason": "turned off (options mitigation=False)"}
    if p.task != "binary":
        return (
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
            {
                "status": "skipped",
                "reason": "ThresholdOptimizer needs scores (a model's probabilities or y_score)",
            },
        )
    outcomes = threshold_what_if(y01, p01, score, ctx.sensitive, ctx.rng("mitigation"))
    records: list[MetricValue] = []
    findings: list[Finding] = []
    rows = []
    level = ctx.config.ci_level
    info: dict[str, Any] = {
        "status": "ok",
        "method": "ThresholdOptimizer (prefit on scores), "
        "fitted on one half and measured on the other",
        "constraints": {},
    }
    for o in outcomes:
        if o.reason is not None:
            info["constraints"][o.constraint] = {"status": "skipped", "reason": o.reason}
            continue
        info["constraints"][o.constraint] = {"status": "ok", "n_fit": o.n_fit, "n_eval": o.n_eval}
        if o.score_grid is not None:
            info["constraints"][o.constraint]["scores_rounded_to"] = o.score_grid
        assert o.accuracy_before is not None and o.accuracy_after is not None
        for name, val in (
            ("mitigation_accuracy_before", o.accuracy_before),
            ("mitigation_accuracy_after", o.accuracy_after),
        ):
            lo, hi = wilson_interval(round(val * o.n_eval), o.n_eval, level)
            records.append(
                MetricValue(
                    section=SECTION,
                    name=name,
                    value=val,
                    feature=feats,
                    ci=(float(lo), float(hi)),
                    n=o.n_eval,
                    method=o.constraint,
                )
            )
        for name, disp in (
            ("mitigation_disparity_before", o.disparity_before),
            ("mitigation_disparity_after", o.disparity_after),
        ):
            records.append(
                MetricValue(
                    section=SECTION,
                    name=name,
                    value=disp,
                    feature=feats,
                    n=o.n_eval,
                    method=o.constraint,
                )
            )
        assert o.disparity_before is not None and o.disparity_after is not None
        findings.append(
            _finding(
                "info",
                pl.mitigation_sentence(
                    o.constraint,
                    o.disparity_name,
                    o.disparity_before,
                    o.disparity_after,
                    o.accuracy_before,
                    o.accuracy_after,
                    feats,
                ),
                "fairness.mitigation_disparity_after",
            )
        )
        rows.append(
            (
                o.constraint,
                o.disparity_name,
                o.disparity_before,
                o.disparity_after,
                o.accuracy_before,
                o.accuracy_after,
                o.n_fit,
                o.n_eval,
            )
        )
    tables = []
    if rows:
        tables.append(
            Table(
                name="mitigation",
                title="What if: Fairlearn ThresholdOptimizer",
                columns=(
                    "constraint",
                    "disparity",
                    "before",
                    "after",
                    "accuracy before",
                    "accuracy after",
                    "rows fitted",
                    "rows measured",
                ),
                rows=tuple(rows),
                note="Group-specific thresholds learned on one half of the evaluation data and "
                "measured on the other half; the model itself is unchanged.",
            )
        )
    return records, findings, tables, info


def _evidence_info(ev: Any, alpha: float) -> dict[str, Any]:
    return {
        "tests": {
            "to_reference": "Fisher's exact test of the two proportions (two-sided)",
            "between_groups, to_overall": "permutation test of the record's own statistic: "
            "the successes of the rate are multivariate hypergeometric across groups given "
            "the totals; equalized odds, average odds and balanced accuracy draw within the "
            "true-label strata; p = (1 + #{as extreme}) / (1 + permutations)",
            "to_reference balanced_accuracy": "permutation test with the correct decisions of "
            "each true-label stratum redrawn between the group and the reference group",
            "calibration": "z-test of calibration in the large (positives against the sum "
            "of the scores) for the least calibrated group of each feature",
            "four_fifths": "Fisher's exact test of the lowest and highest favourable rates among "
            "the groups large enough to judge, times the number of pairs of such groups "
            "(Bonferroni for the choice of the pair)",
        },
        "permutations": {" × ".join(g): b for g, b in ev.draws_used.items()},
        "multiple_comparisons": "Benjamini-Hochberg over the family of every disparity "
        "record of this section (between_groups, to_overall, to_reference, all groupings and "
        "metrics) and the four-fifths tests; a hypothesis tested by several records (a "
        "difference and a ratio of one pair, a rate and its complement) counts once",
        "family_size": len(ev.family),
        "alpha": alpha,
        "evidence_words": f"strong: p_adjusted < {min(0.001, alpha):g}; moderate: < "
        f"{min(0.01, alpha):g}; weak: < {alpha:g}; none otherwise",
        "severity": "a finding is fail/warn only when the gap is beyond its threshold (or its "
        "interval reaches it) and p_adjusted < alpha; groups flagged too_small never drive a "
        "finding and are listed in a note of their own",
        "roc_auc": "permutation test: the group labels are permuted over the rows (each row "
        "keeps its score, label and weight) and every group's ROC AUC is recomputed exactly; "
        "above 1,000,000 rows x permutations, fewer permutations (>= 200) and then a random "
        "subsample of the rows (auc_subsample_rows)",
        "expected_calibration_error": "permutation test on the count table: each group's rows "
        "of every (true label, score bin) cell are drawn multivariate hypergeometric given the "
        "group sizes; a drawn row carries its cell's mean score (and mean weight), an "
        "approximation of the within-cell score sums used for the observed statistic too",
        "auc_permutations": {" × ".join(g): b for g, b in ev.auc_permutations.items()},
        "auc_subsample_rows": {" × ".join(g): m for g, m in ev.auc_subsample.items()},
        "intervals_to_reference": "difference: Newcombe's hybrid score interval (from the two "
        "Wilson intervals); ratio: bootstrap percentile over the same cell-count resamples "
        "as every other interval",
    }


class FairnessSection:
    """Group metrics, disparities, four-fifths rule, calibration by group, mitigation what-if."""

    name = "fairness"
    requires: tuple[str, ...] = ("sensitive",)
    #: Runs from a log reduced to count tables (``ctx.counts``) as well as from rows.
    supports_counts = True

    def run(self, ctx: AuditContext) -> SectionResult:
        """Compute the fairness section from the context."""
        p = ctx.predictions
        cfg = ctx.config
        custom = _check_custom(ctx.option("custom_metrics"))
        counts = ctx.counts
        sens = ctx.sensitive
        feats = (
            tuple(counts.features) if counts is not None else tuple(str(c) for c in sens.columns)
        )
        groupings: list[tuple[str, ...]] = [(f,) for f in feats]
        pair = feats[:2] if len(feats) >= 2 else None
        if len(feats) >= 3 and pair is not None:
            groupings.append(pair)
        if len(feats) >= 2:
            groupings.append(feats)
        binary = p.task == "binary"
        pos = (p.pos_label if p.pos_label is not None else 1) if binary else None
        score = p.y_score if binary else None
        if counts is not None:
            table = dict(counts.groups)
            if not binary:  # calibration by group is for binary tasks, as on the row path
                for col in ("score_bin", "score_sum", "score_sq_sum"):
                    table.pop(col, None)
            gm = from_count_table(
                table,
                sensitive_features=list(feats),
                labels=list(range(p.n_classes)),
                pos_label=pos,
                n_bins=counts.n_bins,
                groupings=groupings,
            )
        else:
            gm = group_metrics(
                p.y_true,
                p.y_pred,
                sens,
                y_score=score,
                labels=list(range(p.n_classes)),
                pos_label=pos,
                groupings=groupings,
                sample_weight=p.sample_weight,
                roc_auc=bool(ctx.option("roc_auc_by_group", True)),
            )
        iv, samples = (
            _fe.bootstrap(gm, cfg.n_boot, ctx.rng("fairness"), cfg.ci_level)
            if (cfg.n_boot > 0)
            else (None, None)
        )
        c = _Ctx(ctx, gm, iv)
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
        four_fifths = float(ctx.option("four_fifths_threshold", 0.8))
        alpha = 1.0 - cfg.ci_level
        n_perm = ctx.option("n_permutations", _fe.DEFAULT_PERMUTATIONS)
        if isinstance(n_perm, bool) or not isinstance(n_perm, int | np.integer) or n_perm < 1:
            raise ParameterError(
                f"The 'n_permutations' option must be a positive int; got {n_perm!r}."
            )
        refs = _fe.resolve_references(gm, cfg.reference_groups)
        ev = _fe.Evidence(
            gm, refs, samples, ctx.rng("fairness.evidence"), cfg.ci_level,
            n_permutations=int(n_perm),
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
        outcome = p.classes[pos] if pos is not None else None
        small = {g: _flagged_groups(c, g, list(reasons[g].values())) for g in gm.groupings}
        findings = _story.story(
            c, ev, reasons, ff, small, pred=p, subject=str(ctx.option("subject", "people")),
            gap_warn=float(ctx.option("fairness_gap_threshold", 0.1)),
            four_fifths=four_fifths, alpha=alpha, calib=calib,
        )  # fmt: skip
        charts = _charts(c, pair, fav_pos, four_fifths)
        info: dict[str, Any] = {
            "sensitive_features": list(feats),
            "groupings": [list(g) for g in gm.groupings],
            "task": p.task,
            "positive_class": outcome,
            "n_boot": cfg.n_boot,
            "ci_level": cfg.ci_level,
            "ci_method": "bootstrap percentile, cell-count (multinomial) resampling"
            if cfg.n_boot > 0
            else "none (n_boot=0)",
            "min_group_size": cfg.min_group_size,
            "zero_division": "a 0/0 rate is 0 (Fairlearn's convention) and flagged too_small",
            "engine": "count table (auditkit.audit._engine); values equal Fairlearn MetricFrame",
            "all_combinations": gm.complete,
            "favourable_outcome": (
                p.label_name(p.favourable_index) if p.favourable_index is not None else None
            ),
            "four_fifths_threshold": four_fifths,
            "favourable_is_positive": bool(fav_pos) if binary else None,
            "reference_groups": {" × ".join(g): " × ".join(r.group) for g, r in refs.items()},
            "reference_groups_chosen": {" × ".join(g): r.how for g, r in refs.items()},
            "evidence": _evidence_info(ev, alpha),
        }
        if getattr(p, "sample_weight", None) is not None:
            info["evidence"]["weights"] = (
                "with sample weights, the tests and the Newcombe intervals use the weighted "
                "counts rounded to integers (an approximation; the bootstrap intervals are "
                "weighted exactly)"
            )
        omitted = {
            " × ".join(g): int(np.sum(gm.counts(g) == 0))
            for g in gm.groupings
            if len(gm.counts(g)) > MAX_GROUPS_WITH_EMPTY and np.any(gm.counts(g) == 0)
        }
        if omitted:
            info["omitted_empty_combinations"] = omitted
        if counts is not None:
            info["reduced_in"] = counts.engine
            info["mitigation"] = {
                "status": "skipped",
                "reason": "ThresholdOptimizer needs the rows, which a log reduced to count "
                f"tables in {counts.engine} does not keep (reduce=False audits rows)",
            }
        elif binary:
            assert pos is not None
            y01 = (p.y_true == pos).astype(np.int64)
            p01 = (p.y_pred == pos).astype(np.int64)
            m_recs, m_find, m_tabs, m_info = _mitigation(ctx, y01, p01, score, feats)
            metrics += m_recs
            findings += m_find
            tables += m_tabs
            info["mitigation"] = m_info
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
        return SectionResult(
            name=self.name,
            status="ok",
            metrics=tuple(metrics),
            tables=tuple(tables),
            findings=tuple(findings),
            charts=tuple(charts),
            info=info,
        )


SECTIONS.register("fairness")(FairnessSection())
