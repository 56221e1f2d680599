"""The fairness trade-off in the fairness section: records, table, charts, findings, ``info``.

:func:`tradeoff_results` computes, for demographic parity and equalized odds, the curve of
every common threshold (on all rows: a fixed rule learns nothing) and the cross-fitted sweep
of both methods (:func:`~._tradeoff.cross_fitted_front`: thresholds learned on one half of the
rows, applied to the other, both ways round), with today's operating point (the model's own
decisions, measured on the same rows: it equals the section's own ``accuracy`` and
``demographic_parity_difference`` / ``equalized_odds_difference`` of the intersection of the
sensitive features, weights included).

Records (section ``fairness``, ``feature`` = the sensitive features, ``n`` = rows measured):

* ``tradeoff_accuracy`` and ``tradeoff_disparity``, with ``label`` = the constraint
  (``"demographic_parity"`` or ``"equalized_odds"``: ``tradeoff_disparity`` is then the
  ``demographic_parity_difference`` or the ``equalized_odds_difference``) and ``method`` =
  ``"today"`` (the model's own decisions), ``"single_threshold"`` or ``"group_thresholds"``
  (the point the finding quotes: the most accurate point of the sweep whose disparity is at
  most the target, see :func:`headline`);
* every point of the sweep is a row of the ``tradeoff`` table (constraint, method, tolerance,
  the thresholds learned on each half, disparity, accuracy, change in accuracy).

The findings are ``info``: the curve shows what a choice would cost, not that the model is
wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..inputs.context import AuditContext
from ..result.records import Chart, Finding, MetricValue, Table
from . import _plain_language as pl
from ._fairness_records import SECTION, _finding
from ._tradeoff import (
    CONSTRAINTS,
    DISPARITY,
    FrontPoint,
    cross_fitted_front,
    half_split,
    joined_groups,
    measure,
    threshold_curve,
)

__all__ = ["CHART_POINTS", "Headline", "headline", "tradeoff_results"]

#: The curve of every common threshold is drawn with at most this many points.
CHART_POINTS = 400
_WORDS = {
    "demographic_parity_difference": "demographic parity difference",
    "equalized_odds_difference": "equalized odds difference",
}
_METHOD_WORDS = {
    "single_threshold": "one threshold for everyone",
    "group_thresholds": "group-specific thresholds",
}


@dataclass(frozen=True)
class Headline:
    """The point a finding quotes: the most accurate one within ``target`` (or the fairest)."""

    point: FrontPoint
    target: float
    reached: bool


def headline(points: Sequence[FrontPoint], today_disparity: float, gap: float) -> Headline:
    """Return the most accurate point whose disparity is at most the target.

    The target is ``gap`` (the section's warning gap) when today's disparity is above it,
    else half of today's disparity. When no point reaches it: the point of the smallest
    disparity (then the highest accuracy), with ``reached=False``.
    """
    target = _target(today_disparity, gap)
    ok = [p for p in points if p.disparity <= target + 1e-12]
    if ok:
        return Headline(max(ok, key=lambda p: (p.accuracy, -p.disparity)), target, True)
    return Headline(min(points, key=lambda p: (p.disparity, -p.accuracy)), target, False)


def _target(today_disparity: float, gap: float) -> float:
    return gap if today_disparity > gap else today_disparity / 2


def tradeoff_results(
    ctx: AuditContext,
    y01: np.ndarray,
    p01: np.ndarray,
    score: np.ndarray,
    feats: tuple[str, ...],
    *,
    gap: float = 0.1,
) -> tuple[list[MetricValue], list[Finding], list[Table], list[Chart], dict[str, Any]]:
    """Return the trade-off's records, findings, table, charts and ``info``.

    Parameters
    ----------
    ctx : AuditContext
        Gives the sensitive columns, the sample weights and the seed of the split.
    y01, p01 : ndarray of int
        Labels and the model's decisions, 1 = the positive class.
    score : ndarray
        The positive-class score.
    feats : tuple of str
        The sensitive features (their intersection defines the groups).
    gap : float, default=0.1
        The section's warning gap (``fairness_gap_threshold``): the findings quote the cost
        of bringing the disparity under it (or under half of today's, when already below).
    """
    y = np.asarray(y01, dtype=np.int64)
    d = np.asarray(p01, dtype=np.int64)
    s = np.asarray(score, dtype=np.float64)
    w = ctx.predictions.sample_weight
    names, group = joined_groups(ctx.sensitive, list(ctx.sensitive.columns))
    folds = half_split(group * 2 + y, ctx.rng("fairness.tradeoff"))
    info: dict[str, Any] = {
        "status": "ok",
        "method": "every common threshold on all rows; group-specific thresholds (Fairlearn's "
        "ThresholdOptimizer objective and tol semantics, not randomised) swept over the "
        "tolerance, learned on one half of the rows and measured on the other, both ways round",
        "weighted": w is not None,
        "n_rows": int(len(y)),
        "n_groups": int(group.max()) + 1 if len(group) else 0,
    }
    if any(len(np.unique(y[f])) < 2 for f in folds):
        info.update(status="skipped", reason="a half of the data has a single class")
        return [], [], [], [], info
    groups = np.empty(int(group.max()) + 1, dtype=object)
    groups[group] = names
    today = measure(y, d, group, w)
    curve = threshold_curve(y, s, group, w)
    info["thresholds"] = int(len(curve.thresholds))
    records: list[MetricValue] = []
    findings: list[Finding] = []
    charts: list[Chart] = []
    rows: list[tuple[Any, ...]] = []
    for c in CONSTRAINTS:
        today_d = today[1] if c == "demographic_parity" else today[2]
        target = _target(today_d, gap)
        extra = [target * f for f in (0.25, 0.5, 0.75, 1.0)]
        fronts = cross_fitted_front(y, s, group, folds, w, constraint=c, extra_tolerances=extra)
        heads = {m: headline(pts, today_d, gap) for m, pts in fronts.items()}
        records += _records(c, today[0], today_d, heads, feats, len(y))
        findings.append(_finding("info", _sentence(c, today[0], today_d, heads, feats),
                                 "fairness.tradeoff_accuracy"))  # fmt: skip
        charts.append(_chart(c, curve, fronts["group_thresholds"], today[0], today_d, feats,
                             weighted=w is not None))  # fmt: skip
        for pts in fronts.values():
            rows += [_row(p, today[0], groups) for p in pts]
    return records, findings, [_table(rows, feats)], charts, info


def _records(
    c: str, acc: float, disp: float, heads: dict[str, Headline], feats: tuple[str, ...], n: int
) -> list[MetricValue]:
    out = []
    pts = [("today", acc, disp)] + [(m, h.point.accuracy, h.point.disparity)
                                    for m, h in heads.items()]  # fmt: skip
    for method, a, dv in pts:
        for name, v in (("tradeoff_accuracy", a), ("tradeoff_disparity", dv)):
            out.append(MetricValue(section=SECTION, name=name, value=v, feature=feats, n=n,
                                   label=c, method=method))  # fmt: skip
    return out


def _cost(a0: float, a1: float) -> str:
    diff = 100 * (a0 - a1)
    if abs(diff) < 0.05:
        return "costs no accuracy"
    word = "costs" if diff > 0 else "gains"
    return f"{word} {abs(diff):.1f} point{'' if round(abs(diff), 1) == 1 else 's'} of accuracy"


def _sentence(
    c: str, acc: float, disp: float, heads: dict[str, Headline], feats: tuple[str, ...]
) -> str:
    words = _WORDS[DISPARITY[c]]
    over = " × ".join(feats)
    g, one = heads["group_thresholds"], heads["single_threshold"]
    if g.reached:
        lead = (
            f"Lowering the {words} over {over} from {pl.num(disp)} (today) to "
            f"{pl.num(g.point.disparity)} {_cost(acc, g.point.accuracy)} "
            f"({pl.pct(acc, 1)} to {pl.pct(g.point.accuracy, 1)}) with group-specific thresholds"
        )
    else:
        lead = (
            f"No group-specific thresholds brought the {words} over {over} below "
            f"{pl.num(g.target)} on held-out rows; the lowest, {pl.num(g.point.disparity)} "
            f"(today {pl.num(disp)}), {_cost(acc, g.point.accuracy)}"
        )
    tail = (
        f"; with one threshold for everyone it reaches {pl.num(one.point.disparity)} and "
        f"{_cost(acc, one.point.accuracy).replace('costs no', 'loses no')}"
    )
    return (
        lead + tail + ". Thresholds were learned on one half of the rows and measured on the "
        "other; the model itself is unchanged (auditkit.mitigate builds the mitigated model)."
    )


def _thin(x: np.ndarray, y: np.ndarray, k: int) -> tuple[list[float], list[float]]:
    if len(x) > k:
        idx = np.unique(np.round(np.linspace(0, len(x) - 1, k)).astype(np.int64))
        x, y = x[idx], y[idx]
    return [float(v) for v in x], [float(v) for v in y]


def _chart(
    c: str,
    curve: Any,
    front: Sequence[FrontPoint],
    acc: float,
    disp: float,
    feats: tuple[str, ...],
    *,
    weighted: bool,
) -> Chart:
    name = DISPARITY[c]
    cx, cy = _thin(curve.disparity(c), curve.accuracy, CHART_POINTS)
    series = [
        {"name": "one threshold for everyone (every threshold)", "x": cx, "y": cy},
        {
            "name": "group-specific thresholds (learned on one half, measured on the other)",
            "x": [p.disparity for p in front],
            "y": [p.accuracy for p in front],
        },
        {"name": "today: the model's own decisions", "x": [disp], "y": [acc], "marker": True},
    ]
    return Chart(
        name=f"tradeoff_{c}",
        kind="line",
        title=f"Trade-off: accuracy against the {_WORDS[name]}",
        data={
            "series": series,
            "xlabel": f"{_WORDS[name]} ({' × '.join(feats)})",
            "ylabel": "weighted accuracy" if weighted else "accuracy",
            "diagonal": False,
            "logx": False,
        },
        description=(
            f"Each point is a decision rule: its {_WORDS[name]} (left is fairer) and accuracy "
            "(up is better). The first line is every common threshold on the scores; the second "
            "sweeps group-specific thresholds from near parity to none (thresholds learned on "
            "one half of the rows, measured on the other); the dot is the model today."
        ),
    )


def _fmt_thr(t: float) -> str:
    return "nobody" if not np.isfinite(t) else f"score ≥ {t:.4g}"


def _thresholds_text(p: FrontPoint, groups: np.ndarray) -> str:
    parts = []
    for i, learned in enumerate(p.thresholds, start=1):
        if isinstance(learned, np.ndarray):
            pairs = [f"{str(groups[g]).replace(chr(31), ' × ')}: {_fmt_thr(t)}"
                     for g, t in enumerate(learned)]  # fmt: skip
            if len(pairs) > 6:
                pairs = pairs[:6] + [f"… ({len(learned) - 6} more)"]
            parts.append(f"half {i}: " + ", ".join(pairs))
        else:
            parts.append(f"half {i}: {_fmt_thr(float(learned))}")  # type: ignore[arg-type]
    return "; ".join(parts)


def _row(p: FrontPoint, acc_today: float, groups: np.ndarray) -> tuple[Any, ...]:
    return (
        p.constraint,
        p.method,
        "none" if p.tolerance is None else round(p.tolerance, 6),
        _thresholds_text(p, groups),
        p.disparity,
        p.accuracy,
        p.accuracy - acc_today,
    )


def _table(rows: list[tuple[Any, ...]], feats: tuple[str, ...]) -> Table:
    return Table(
        name="tradeoff",
        title="Trade-off: accuracy against disparity, one threshold or one per group",
        columns=(
            "constraint",
            "method",
            "tolerance",
            "thresholds learned",
            "disparity",
            "accuracy",
            "accuracy change",
        ),  # fmt: skip
        rows=tuple(rows),
        note=(
            f"Groups: {' × '.join(feats)}. For each tolerance (the largest gap in the "
            "constrained rate the thresholds may leave on the rows they are learned on), the "
            "most accurate thresholds are learned on one half of the rows and applied to the "
            "other, both ways round; disparity and accuracy are measured on all rows. "
            "Accuracy change is against the model's own decisions."
        ),
    )
