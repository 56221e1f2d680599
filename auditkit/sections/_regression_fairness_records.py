"""Records and tables of the fairness section of a regression.

:class:`RCtx` carries what every builder shares (the engine's
:class:`~auditkit.metrics.regression.RegressionMetrics`, intervals, replicates, the family of
tests, the equal-target inference, settings); :func:`records` turns them into
:class:`~auditkit.result.records.MetricValue` records in the classification section's shapes
(flagging the groups too small to judge, never dropping them) and into the per-grouping and
disparity tables.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np

from ..metrics.bootstrap import Intervals
from ..metrics.evidence import Family
from ..metrics.regression import RegressionMetrics
from ..metrics.stats import flag_small
from ..metrics.table import Key
from ..result.records import MetricValue, Table
from ._fairness_records import MAX_GROUPS_WITH_EMPTY

__all__ = ["DISPARITY_METRICS", "GROUP_METRICS", "RCtx", "records"]

SECTION = "fairness"
#: Per-group metrics, in report order.
GROUP_METRICS = (
    "count", "mean_prediction", "mean_target", "mean_absolute_error", "root_mean_squared_error",
    "mean_error", "r2_score",
)  # fmt: skip
#: Metrics with ``_difference`` / ``_ratio`` records.
DISPARITY_METRICS = GROUP_METRICS[1:]
#: Losses whose worst group gets a ``worst_group_<loss>`` record.
WORST_LOSSES = ("mean_absolute_error", "root_mean_squared_error")
GAPS = ("prediction_ks_gap", "prediction_wasserstein_gap")
#: Figures in the target's units (their records carry the target's unit).
IN_TARGET_UNITS = frozenset(
    {"mean_prediction", "mean_target", "mean_absolute_error", "root_mean_squared_error",
     "mean_error", "mean_error_at_equal_target", "prediction_wasserstein_gap"}
)  # fmt: skip
TEST_BOOT = "null_shifted_bootstrap"
TEST_WALD = "bootstrap_wald"
TEST_PERM = "permutation"
TEST_Z = "z_test"


class RCtx:
    """What the record builders and the story share."""

    def __init__(
        self, rm: RegressionMetrics, iv: Intervals | None, samples: dict[Key, np.ndarray] | None,
        fam: Family, hyp: Mapping[Key, Hashable], equal: Mapping[tuple[str, ...], Any],
        level: float, min_size: int, unit: str | None,
    ) -> None:  # fmt: skip
        self.rm = rm
        self.iv = iv
        self.samples = samples
        self.fam = fam
        self.hyp = hyp
        self.equal = equal
        self.level = level
        self.min_size = min_size
        self.unit = unit
        self._labels: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        self._refs: dict[tuple[str, ...], int] = {}
        self.reasons: dict[tuple[str, ...], list[str | None]] = {}
        for feats in rm.groupings:
            n = self.counts(feats)
            self.reasons[feats] = flag_small(n, min_size)

    def counts(self, feats: tuple[str, ...]) -> np.ndarray:
        """Rows per group of a grouping."""
        return np.asarray(self.rm.values[Key("count", feats, None, "group")], dtype=np.int64)

    def labels(self, feats: tuple[str, ...]) -> list[tuple[str, ...]]:
        """Group labels as tuples of strings (computed once per grouping)."""
        if feats not in self._labels:
            self._labels[feats] = [tuple(str(v) for v in g) for g in self.rm.groups(feats)]
        return self._labels[feats]

    def judgeable(self, feats: tuple[str, ...]) -> np.ndarray:
        """Whether each group is large enough to judge (rows, not flagged)."""
        return np.array([r is None for r in self.reasons[feats]], dtype=bool)

    def ref(self, feats: tuple[str, ...]) -> int:
        """Index of the reference group of a grouping."""
        if feats not in self._refs:
            ref = tuple(str(v) for v in self.rm.reference_group(feats))
            self._refs[feats] = self.labels(feats).index(ref)
        return self._refs[feats]

    def ci(self, key: Key, i: int | None = None) -> tuple[float, float] | None:
        """Bootstrap interval of a quantity (of group ``i`` for per-group arrays)."""
        if self.iv is None or key not in self.iv.low:
            return None
        lo, hi = self.iv.low[key], self.iv.high[key]
        a, b = (float(lo), float(hi)) if i is None else (float(lo[i]), float(hi[i]))
        return (a, b) if np.isfinite(a) and np.isfinite(b) else None

    def ci_arrays(self, key: Key, n: int) -> tuple[list[float | None], list[float | None]]:
        """Lower and upper interval ends of a per-group quantity (None where undefined)."""
        cis = [self.ci(key, i) for i in range(n)]
        return [c[0] if c else None for c in cis], [c[1] if c else None for c in cis]

    def p(self, key: Key) -> tuple[float | None, float | None]:
        """Raw and family-adjusted p-value of an engine quantity (None when untested)."""
        h = self.hyp.get(key)
        if h is None:
            return None, None
        return self.fam.p(h), self.fam.adjusted(h)

    def p_equal(self, feats: tuple[str, ...], i: int) -> tuple[float | None, float | None]:
        """Raw and adjusted p-value of group ``i`` against the reference at equal targets."""
        h = ("equal_target", feats, i)
        return self.fam.p(h), self.fam.adjusted(h)

    def unit_of(self, name: str) -> str | None:
        """Return the record's unit: the target's for figures in its units."""
        base = name.removesuffix("_difference").removeprefix("worst_group_")
        return self.unit if base in IN_TARGET_UNITS else None


def _num(x: Any) -> float | None:
    v = float(x)
    return v if np.isfinite(v) else None


def _shown(n: np.ndarray) -> np.ndarray:
    """Return the groups that get records (past the ceiling, those with rows)."""
    return np.arange(len(n)) if len(n) <= MAX_GROUPS_WITH_EMPTY else np.flatnonzero(n > 0)


def _flagged(c: RCtx, feats: tuple[str, ...], idx: Any) -> list[tuple[str, ...]]:
    n = c.counts(feats)
    labels = c.labels(feats)
    return [labels[i] for i in idx if n[i] > 0 and c.reasons[feats][i] is not None]


def _small_flags(c: RCtx, feats: tuple[str, ...], idx: Any) -> tuple[tuple[str, ...], str | None]:
    flagged = _flagged(c, feats, idx)
    if not flagged:
        return (), None
    shown = ", ".join("/".join(g) for g in flagged[:5])
    more = f" and {len(flagged) - 5} more" if len(flagged) > 5 else ""
    return ("small_groups",), f"includes groups flagged too_small: {shown}{more}"


def records(
    c: RCtx,
) -> tuple[list[MetricValue], list[Table], dict[tuple[str, ...], list[tuple[str, ...]]]]:
    """Return every record, the tables, and the groups too small to judge per grouping."""
    rm = c.rm
    out: list[MetricValue] = []
    for name in GROUP_METRICS:
        key = Key(name, None, None, "overall")
        out.append(
            MetricValue(
                section=SECTION, name=name, value=_num(rm.values[key]),
                ci=None if name == "count" else c.ci(key), n=rm.n_rows, unit=c.unit_of(name),
            )
        )  # fmt: skip
    tables: list[Table] = []
    small: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for feats in rm.groupings:
        out += _group_records(c, feats)
        out += _disparity_records(c, feats)
        out += _worst_records(c, feats)
        tables.append(_group_table(c, feats))
        small[feats] = _flagged(c, feats, range(len(c.counts(feats))))
    tables.insert(0, _disparity_table(c))
    return out, tables, small


def _group_records(c: RCtx, feats: tuple[str, ...]) -> list[MetricValue]:
    rm = c.rm
    n = c.counts(feats)
    labels = c.labels(feats)
    eq = c.equal.get(feats)
    out: list[MetricValue] = []
    for i in _shown(n).tolist():
        reason = c.reasons[feats][i]
        if n[i] == 0:
            reason = "no rows in this group (this combination does not occur in the data)"
        flags = ("too_small",) if reason else ()
        common: dict[str, Any] = dict(
            section=SECTION, feature=feats, group=labels[i], n=int(n[i]), flags=flags,
            reason=reason,
        )  # fmt: skip
        for name in GROUP_METRICS:
            key = Key(name, feats, None, "group")
            out.append(MetricValue(
                name=name, value=_num(rm.values[key][i]),
                ci=None if name == "count" else c.ci(key, i), unit=c.unit_of(name), **common,
            ))  # fmt: skip
        if eq is not None:
            lo, hi = _num(eq["low"][i]), _num(eq["high"][i])
            out.append(MetricValue(
                name="mean_error_at_equal_target", value=_num(eq["value"][i]),
                ci=None if lo is None or hi is None else (lo, hi),
                unit=c.unit, **common,
            ))  # fmt: skip
        for name in GAPS:
            key = Key(name, feats, None, "group")
            if key not in rm.values:
                continue
            p, p_adj = c.p(Key(name, feats, i, "group"))
            bound = rm.bounds.get(key)
            b = _num(bound[i]) if bound is not None and not rm.exact else None
            g_reason = reason
            if b is not None and not reason:
                g_reason = f"from the histogram: within {b:.3g} of the exact value"
            out.append(MetricValue(
                name=name, value=_num(rm.values[key][i]), ci=c.ci(key, i),
                unit=c.unit_of(name), p_value=p, p_adjusted=p_adj,
                test=TEST_PERM if p is not None else None,
                **{**common, "reason": g_reason},
            ))  # fmt: skip
    return out


def _disparity_records(c: RCtx, feats: tuple[str, ...]) -> list[MetricValue]:
    rm = c.rm
    n = c.counts(feats)
    labels = c.labels(feats)
    ref = c.ref(feats)
    everyone = range(len(n))
    flags, reason = _small_flags(c, feats, everyone)
    out: list[MetricValue] = []
    for m in DISPARITY_METRICS:
        for kind in ("difference", "ratio"):
            name = f"{m}_{kind}"
            unit = c.unit_of(name) if kind == "difference" else None
            for method in ("between_groups", "to_overall"):
                key = Key(name, feats, None, method)
                p, p_adj = c.p(key)
                out.append(MetricValue(
                    section=SECTION, name=name, value=_num(rm.values[key]), feature=feats,
                    ci=c.ci(key), n=rm.n_rows, method=method, flags=flags, reason=reason,
                    unit=unit, p_value=p, p_adjusted=p_adj,
                    test=TEST_BOOT if p is not None else None,
                ))  # fmt: skip
            key = Key(name, feats, None, "to_reference")
            vals = rm.values[key]
            for i in np.flatnonzero(n > 0).tolist():
                if i == ref:
                    continue
                p, p_adj = c.p(Key(name, feats, i, "to_reference"))
                f2, r2 = _small_flags(c, feats, (i, ref))
                v = _num(vals[i])
                if v is None and kind == "ratio" and r2 is None:
                    r2 = f"undefined: the reference group {'/'.join(labels[ref])} has a " + (
                        f"{m.replace('_', ' ')} of 0"
                    )  # fmt: skip
                out.append(MetricValue(
                    section=SECTION, name=name, value=v, feature=feats, group=labels[i],
                    ci=c.ci(key, i), n=int(n[i] + n[ref]), method="to_reference", flags=f2,
                    reason=r2, unit=unit, p_value=p, p_adjusted=p_adj,
                    test=TEST_WALD if p is not None else None,
                ))  # fmt: skip
    eq = c.equal.get(feats)
    if eq is not None:
        for i in np.flatnonzero(n > 0).tolist():
            if i == ref or not np.isfinite(eq["diff"][i]):
                continue
            p, p_adj = c.p_equal(feats, i)
            f2, r2 = _small_flags(c, feats, (i, ref))
            lo, hi = _num(eq["diff_low"][i]), _num(eq["diff_high"][i])
            out.append(MetricValue(
                section=SECTION, name="mean_error_at_equal_target_difference",
                value=_num(eq["diff"][i]), feature=feats, group=labels[i],
                ci=None if lo is None or hi is None else (lo, hi), n=int(n[i] + n[ref]),
                method="to_reference", flags=f2, reason=r2, unit=c.unit, p_value=p,
                p_adjusted=p_adj, test=TEST_Z if p is not None else None,
            ))  # fmt: skip
    return out


def _worst_records(c: RCtx, feats: tuple[str, ...]) -> list[MetricValue]:
    """Worst group's loss and largest distribution gap, over the groups large enough to judge."""
    rm = c.rm
    n = c.counts(feats)
    labels = c.labels(feats)
    ok = c.judgeable(feats)
    flags: tuple[str, ...] = ()
    among = "among the groups large enough to judge"
    if not ok.any():  # none large enough: over every group with rows, flagged
        ok = n > 0
        flags = ("small_groups",)
        among = "no group is large enough to judge; among all groups with rows"
    out: list[MetricValue] = []
    for name, worst_name in [(m, f"worst_group_{m}") for m in WORST_LOSSES] + [
        (g, g) for g in GAPS
    ]:
        key = Key(name, feats, None, "group")
        if key not in rm.values:
            continue
        v = np.where(ok, np.asarray(rm.values[key], dtype=np.float64), np.nan)
        if np.all(np.isnan(v)):
            continue
        i = int(np.nanargmax(v))
        ci = None
        p = p_adj = None
        if name in GAPS:
            ci = c.ci(key, i)
            p, p_adj = c.p(Key(name, feats, i, "group"))
        elif c.samples is not None:
            s = c.samples[key][:, ok]
            with np.errstate(invalid="ignore"):
                top = np.fmax.reduce(s, axis=1)
            lo, hi = np.nanpercentile(top, [50 * (1 - c.level), 50 * (1 + c.level)])
            ci = (float(lo), float(hi)) if np.isfinite(lo) and np.isfinite(hi) else None
        out.append(MetricValue(
            section=SECTION, name=worst_name, value=float(v[i]), feature=feats, ci=ci,
            n=int(n[i]), flags=flags, unit=c.unit_of(worst_name), p_value=p,
            p_adjusted=p_adj, test=TEST_PERM if p is not None else None,
            reason=f"group {'/'.join(labels[i])} ({among})"
            + (" against everyone else" if name in GAPS else ""),
        ))  # fmt: skip
    return out


def _cell(v: Any) -> float | None:
    return _num(v) if v is not None else None


def _group_table(c: RCtx, feats: tuple[str, ...]) -> Table:
    rm = c.rm
    n = c.counts(feats)
    labels = c.labels(feats)
    eq = c.equal.get(feats)
    lvl = f"{100 * c.level:g}% CI"
    names = ["mean_target", "mean_prediction", "mean_error", "mean_absolute_error",
             "root_mean_squared_error", "r2_score"]  # fmt: skip
    cols = [*feats, "n"]
    for m in names:
        cols += [m] + ([f"{m} {lvl}"] if m in ("mean_error", "mean_absolute_error") else [])
    if eq is not None:
        cols += ["mean_error_at_equal_target", f"mean_error_at_equal_target {lvl}"]
    cols.append("flags")
    rows = []
    for i in _shown(n).tolist():
        row: list[Any] = [*labels[i], int(n[i])]
        for m in names:
            key = Key(m, feats, None, "group")
            row.append(_cell(rm.values[key][i]))
            if m in ("mean_error", "mean_absolute_error"):
                ci = c.ci(key, i)
                row.append(list(ci) if ci else None)
        if eq is not None:
            lo, hi = _num(eq["low"][i]), _num(eq["high"][i])
            row += [_cell(eq["value"][i]), None if lo is None or hi is None else [lo, hi]]
        row.append("too_small" if n[i] == 0 or c.reasons[feats][i] else "")
        rows.append(tuple(row))
    intersection = len(feats) > 1
    unit = f" Values in {c.unit}." if c.unit else ""
    return Table(
        name=f"groups_{'_x_'.join(feats)}",
        title=f"Groups by {' × '.join(feats)}" + (" (intersection)" if intersection else ""),
        columns=tuple(cols),
        rows=tuple(rows),
        note=(
            f"Groups with fewer than {c.min_size} rows are flagged too_small; mean error is "
            "prediction minus true value (positive: predicted too much); intervals are "
            "bootstrap percentile intervals (normal intervals at equal true values)." + unit
        ),
    )


def _disparity_table(c: RCtx) -> Table:
    rm = c.rm
    lvl = f"{100 * c.level:g}% CI"
    names = [
        ("mean_error_difference", "between_groups"),
        ("mean_absolute_error_ratio", "between_groups"),
        ("root_mean_squared_error_ratio", "between_groups"),
        ("mean_prediction_difference", "between_groups"),
    ]
    cols: list[str] = ["grouping"]
    for nm, _ in names:
        cols += [nm, f"{nm} {lvl}", f"{nm} p_adjusted"]
    cols += ["worst group (mean absolute error)", "largest prediction_ks_gap"]
    rows = []
    for feats in rm.groupings:
        row: list[Any] = [" × ".join(feats)]
        for nm, method in names:
            key = Key(nm, feats, None, method)
            ci = c.ci(key)
            row += [_cell(rm.values[key]), list(ci) if ci else None, c.p(key)[1]]
        ok = c.judgeable(feats)
        mae = np.where(ok, rm.values[Key("mean_absolute_error", feats, None, "group")], np.nan)
        row.append(
            "/".join(c.labels(feats)[int(np.nanargmax(mae))]) if np.isfinite(mae).any() else None
        )
        ks_key = Key("prediction_ks_gap", feats, None, "group")
        ks = np.where(ok, rm.values[ks_key], np.nan) if ks_key in rm.values else np.full(1, np.nan)
        row.append(_num(np.nanmax(ks)) if np.isfinite(ks).any() else None)
        rows.append(tuple(row))
    return Table(
        name="disparities",
        title="Disparities between groups (Fairlearn's between_groups)",
        columns=tuple(cols),
        rows=tuple(rows),
        note="Differences: largest minus smallest group value; ratios: smallest over largest "
        "(1 is equal). p_adjusted: Benjamini-Hochberg over the section's tests. The worst group "
        "and the largest distribution gap are among the groups large enough to judge.",
    )
