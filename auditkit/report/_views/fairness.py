"""The fairness section's view: four-fifths line, mitigation trade-off, a regression's tables.

A regression's fairness records are also laid out as tables of groups and gaps
(:mod:`.regression`).

The impact-ratio chart's reference line is drawn at the section's own four-fifths threshold
(``info["four_fifths_threshold"]``), and the what-if mitigation figures of its records are drawn
as a trade-off chart after the section's charts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..._core.catalog import threshold
from .. import _filters as F
from .base import SectionData, SectionView
from .regression import regression_fairness_tables

__all__ = ["FairnessView", "four_fifths_threshold"]


class FairnessView(SectionView):
    """The fairness section's view: the four-fifths line, then the mitigation trade-off chart."""

    def charts(self, section: SectionData) -> list[Mapping[str, Any]]:
        """Return the section's charts (four-fifths line set), then the mitigation trade-off."""
        out = [_four_fifths_line(c, section.info) for c in super().charts(section)]
        trade = _mitigation_chart(section.records)
        if trade is not None:
            out.append(trade)
        return out

    def tables(self, section: SectionData) -> list[Mapping[str, Any]]:
        """Return a regression's per-group and gap tables (none for a classification)."""
        return list(regression_fairness_tables(section))


def four_fifths_threshold(info: Any) -> float:
    """Return the fairness section's four-fifths threshold (0.8 for older results)."""
    v = info.get("four_fifths_threshold") if isinstance(info, Mapping) else None
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1
    default = threshold("fairness", "demographic_parity_ratio").pass_at  # the catalog's 0.8
    return float(v) if ok else default  # type: ignore[arg-type]


def _four_fifths_line(chart: Mapping[str, Any], info: Any) -> Mapping[str, Any]:
    """Draw the impact-ratio chart's reference line at the section's four-fifths threshold."""
    data = chart.get("data")
    if (
        not isinstance(data, Mapping)
        or data.get("reference") is None
        or not str(chart.get("name", "")).startswith("impact_ratio")
    ):
        return chart
    thr = four_fifths_threshold(info)
    if not (isinstance(info, Mapping) and "four_fifths_threshold" in info):
        ref = data.get("reference")
        thr = float(ref) if isinstance(ref, (int, float)) else thr
    new = dict(data, reference=thr, reference_label=f"four-fifths rule {thr:g}")
    return dict(chart, data=new)


def _mitigation_chart(indexed: Sequence[tuple[int, Mapping[str, Any]]]) -> dict[str, Any] | None:
    """Return the what-if mitigation as a trade-off chart (from the fairness records)."""
    by: dict[str, dict[str, Any]] = {}
    feature: Any = None
    for _, m in indexed:
        name = str(m.get("name", ""))
        if not name.startswith("mitigation_") or m.get("method") is None:
            continue
        by.setdefault(str(m["method"]), {})[name] = m.get("value")
        feature = m.get("feature")
    series = []
    for constraint, v in by.items():
        keys = ("mitigation_disparity_before", "mitigation_disparity_after",
                "mitigation_accuracy_before", "mitigation_accuracy_after")  # fmt: skip
        if any(v.get(k) is None for k in keys):
            continue
        series.append(
            {
                "name": f"{constraint.replace('_', ' ')}: today → with group thresholds",
                "x": [v[keys[0]], v[keys[1]]],
                "y": [v[keys[2]], v[keys[3]]],
            }
        )
    if not series:
        return None
    where = F.fmt_list(feature) if feature else "the sensitive features"
    return {
        "name": "mitigation_tradeoff",
        "kind": "line",
        "title": "Mitigation trade-off: accuracy against disparity",
        "description": (
            f"What group-specific thresholds (Fairlearn's ThresholdOptimizer over {where}) "
            "would do: hollow circle, the model today; filled circle, with the thresholds. "
            "Left is fairer, up is more accurate. Drawn from the fairness section's "
            "mitigation figures."
        ),
        "data": {
            "series": series,
            "xlabel": "disparity the constraint targets",
            "ylabel": "accuracy",
            "diagonal": False,
            "logx": False,
            "markers": True,
        },
    }
