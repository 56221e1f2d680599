"""Charts of the fairness section: impact ratio (or accuracy) by group, and a heatmap."""

from __future__ import annotations

import numpy as np

from ..metrics.engine import Key
from ..result.records import Chart
from ._fairness_records import _Ctx


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
