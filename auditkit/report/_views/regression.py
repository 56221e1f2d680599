"""Tables of a regression's fairness records: each group at a glance, and the gaps with p-values.

The fairness section of a regression reports one record per group and figure (``count``,
``mean_prediction``, ``mean_target``, ``mean_absolute_error``, ``root_mean_squared_error``,
``mean_error``, ``r2_score``...) and its disparities (``<metric>_difference`` / ``_ratio`` with
``method``, p-values). The card lays them out as two tables per sensitive feature (or
intersection), read from the records alone: groups in rows and figures in columns, then every
gap with its interval and p-values. A section that already carries a per-group table with a
``mean_error`` column gets no second one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import _filters as F
from .base import SectionData

__all__ = ["GROUP_COLUMNS", "regression_fairness_tables"]

#: Per-group figures, in column order, with their headers (those no record holds are left out).
GROUP_COLUMNS = (
    ("count", "Rows"), ("mean_prediction", "Mean prediction"),
    ("mean_target", "Mean true value"), ("mean_absolute_error", "MAE"),
    ("root_mean_squared_error", "RMSE"), ("mean_error", "Mean error"), ("r2_score", "R²"),
    ("median_absolute_error", "Median abs. error"),
    ("mean_error_at_equal_target", "Mean error at equal true values"),
)  # fmt: skip
#: Per-group gaps of the predictions' distribution (in the gap table, with their p-values).
_DISTRIBUTION_GAPS = ("prediction_ks_gap", "prediction_wasserstein_gap")
_GROUP_NAMES = {n for n, _ in GROUP_COLUMNS}
#: Gaps whose number means little (ratios of signed values) or describes the data only.
_SKIP_GAPS = ("mean_error_ratio", "r2_score_ratio", "count_difference", "count_ratio")
_WITH_UNIT = {"mean_prediction", "mean_target", "mean_absolute_error", "root_mean_squared_error",
              "mean_error", "median_absolute_error", "mean_error_at_equal_target",
              "prediction_wasserstein_gap"}  # fmt: skip


def _is_regression_fairness(records: Sequence[Mapping[str, Any]]) -> bool:
    return any(
        m.get("name") == "mean_error" and m.get("feature") is not None and m.get("group")
        for m in records
    )


def _cell(m: Mapping[str, Any] | None) -> str:
    if m is None:
        return ""
    text = F.fmt_num(m.get("value"))
    if m.get("ci"):
        text += f" ({F.fmt_ci(m['ci'])})"
    return text


def _gap_name(name: str) -> bool:
    if name in _SKIP_GAPS:
        return False
    if name.startswith("worst_group_") or name in _DISTRIBUTION_GAPS:
        return True
    for suffix in ("_difference", "_ratio"):
        if name.endswith(suffix) and name[: -len(suffix)] in _GROUP_NAMES:
            return True
    return False


def regression_fairness_tables(section: SectionData) -> list[dict[str, Any]]:
    """Return the per-group and the gap tables (``Table.to_dict()`` form) of a regression.

    Parameters
    ----------
    section : SectionData
        The fairness section's entry and records (the records' ``unit`` heads the columns).

    Returns
    -------
    list of dict
        Empty for a classification result.
    """
    records = [m for _, m in section.records]
    if not _is_regression_fairness(records):
        return []
    unit = next((str(m["unit"]) for m in records
                 if m.get("name") in _WITH_UNIT and m.get("unit")), "")  # fmt: skip
    has_own = any(
        "mean_error" in [str(c).replace(" ", "_") for c in t.get("columns") or []]
        for t in section.entry.get("tables") or []
        if isinstance(t, Mapping)
    )
    by_feature: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for m in records:
        if m.get("feature") is not None:
            by_feature.setdefault(tuple(str(f) for f in m["feature"]), []).append(m)
    out: list[dict[str, Any]] = []
    for feats, ms in by_feature.items():
        where = F.fmt_list(list(feats))
        if not has_own:
            t = _group_table(feats, ms, unit)
            if t is not None:
                out.append(t)
        gaps = [m for m in ms if _gap_name(str(m.get("name")))]
        if gaps:
            out.append(_gap_table(where, gaps))
    return out


def _group_table(
    feats: tuple[str, ...], ms: Sequence[Mapping[str, Any]], unit: str
) -> dict[str, Any] | None:
    groups: dict[tuple[str, ...], dict[str, Mapping[str, Any]]] = {}
    small: set[tuple[str, ...]] = set()
    for m in ms:
        name = str(m.get("name"))
        if name not in _GROUP_NAMES or m.get("group") is None or m.get("method") is not None:
            continue
        g = tuple(str(v) for v in m["group"])
        groups.setdefault(g, {})[name] = m
        if "too_small" in (m.get("flags") or ()):
            small.add(g)
    if not groups:
        return None
    cols = [(n, h) for n, h in GROUP_COLUMNS if any(n in v for v in groups.values())]
    u = f" ({unit})" if unit else ""
    headers = ["Group", *[h + (u if n in _WITH_UNIT else "") for n, h in cols]]
    rows = []
    for g, v in groups.items():
        label = F.fmt_list(list(g)) + (" (too small to judge)" if g in small else "")
        rows.append([label, *[_cell(v.get(n)) for n, _ in cols]])
    where = F.fmt_list(list(feats))
    return {
        "name": f"regression_groups_{'_'.join(feats)}",
        "title": f"Groups by {where} at a glance",
        "columns": headers,
        "rows": rows,
        "note": (
            "Each cell is the group's value with its confidence interval in brackets. Mean "
            "error is prediction minus true value: positive, the group is predicted too much "
            "on average; negative, too little."
        ),
    }


def _gap_table(where: str, gaps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    rows = []
    for m in gaps:
        method = str(m.get("method") or ("worst case" if m.get("agg") else "")).replace("_", " ")
        group = F.fmt_list(m.get("group")) if m.get("group") is not None else ""
        rows.append([
            str(m.get("name")), method, group, F.fmt_num(m.get("value")),
            F.fmt_ci(m.get("ci")) if m.get("ci") else F.MISSING,
            F.fmt_num(m.get("p_value")), F.fmt_num(m.get("p_adjusted")),
        ])  # fmt: skip
    return {
        "name": f"regression_gaps_{where}",
        "title": f"Gaps between groups by {where}",
        "columns": ["Figure", "Method", "Group", "Value", "Interval", "p-value", "Adjusted p"],
        "rows": rows,
        "note": (
            "A difference of 0 (a ratio of 1) is no gap. The p-value says how surprising the "
            "gap would be if the groups were alike; the adjusted p-value allows for the many "
            "comparisons of the card, and the lights read it."
        ),
    }
