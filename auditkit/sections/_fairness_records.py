"""Records and tables of the fairness section: groups, overall values, disparities.

:class:`_Ctx` carries what every builder shares (the engine's :class:`GroupMetrics`, the
bootstrap intervals, the settings); the builders turn them into
:class:`~auditkit.result.records.MetricValue` records, flagging the groups too small to judge
(never dropping them), and into the per-grouping and disparity tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..inputs.context import AuditContext
from ..metrics.engine import GroupMetrics, Intervals, Key
from ..metrics.stats import flag_small
from ..result.records import Finding, MetricValue, Severity, Table
from . import _fairness_story as _story

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
