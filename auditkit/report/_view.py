"""The view model of the cards: ``AuditResult.to_dict()`` data turned into display strings.

Renderers only format (convention 11): every number a card shows comes from the result data and
becomes text here, through :mod:`._filters`; the Jinja2 templates lay the strings out. The view
is shared by the HTML and the Markdown card, so both say the same thing.

Reading order (the stakeholder's): first screen (model, version, dataset, date, a
plain-language summary with traffic lights), then performance, fairness, explainability,
privacy, stability, training, the qualitative fields, a glossary, and the provenance.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .._core.catalog import NOT_DISTINGUISHABLE, threshold
from . import _filters as F
from ._card_info import CARD_INFO_FIELDS, FIELD_TITLES, NOT_PROVIDED
from ._glossary import glossary_terms, metric_definition, metric_glossary
from ._lights import AREAS, Light, area_lights, default_lights, policy_lights, worst
from ._svg import render_chart

__all__ = [
    "build_view",
    "four_fifths_threshold",
    "is_link",
    "is_md_link",
    "rank_findings",
    "section_order",
    "verdict_of",
]

#: Metric-record keys shown as their own column when any row of a table sets them.
_EXTRA_COLUMNS = (
    ("label", "Class"),
    ("input_feature", "Input feature"),
    ("attack", "Attack"),
    ("fold", "Fold"),
    ("method", "Method"),
    ("unit", "Unit"),
)
_PLAIN_ID = re.compile(r"[a-z][a-z0-9_]{0,40}")
_SEVERITY_ORDER = {"fail": 0, "warn": 1, "pass": 2, "info": 3}
_EVIDENCE_ORDER = {"strong": 0, "moderate": 1, "weak": 2, "none": 3}
#: Words for the lights in the verdict line.
_LIGHT_WORDS = (("fail", "red"), ("warn", "amber"), ("pass", "green"), ("info", "neutral"))
_COLLAPSE_ROWS = 15  # longer tables start folded in the HTML card (printed in full)
_SUMMARY_ATTENTION = 12  # failures and warnings listed on the first screen
_KEY_FIGURES = 16
_WIDE_COLUMNS = 11  # tables this wide get a smaller print font
#: Charts drawn in another part of the card than the section that computed them.
_MOVED_CHARTS = {"learning_curve_loss": "training", "learning_curve_accuracy": "training"}
#: Model-block keys shown by the training part of the card (not repeated in the provenance).
_TRAINING_KEYS = {"history", "hparams", "training", "test_metrics", "dataset", "hardware",
                  "wall_time_s", "versions"}  # fmt: skip
_SHOWN_MODEL_KEYS = {"name", "kind", "sha256", "checkpoint", "checkpoint_sha256", "model_name"}
_SHOWN_DATA_KEYS = {"name", "sha256", "split", "n_rows", "task", "classes", "positive_class",
                    "sensitive_features", "dataset_sha256", "file", "file_sha256", "schema",
                    "modality", "n_train_rows"}  # fmt: skip
_SHOWN_RUN_KEYS = {"seed", "n_boot", "ci_level", "command", "sections", "min_group_size"}

#: What each part of the card answers, for a reader who is not a specialist.
INTROS = {
    **AREAS,
    "training": "How, on what and with how much energy was the model trained?",
}


# ------------------------------------------------------------------------------- helpers
def section_order(names: Sequence[str]) -> list[str]:
    """Sections in the reader's order (known areas first), others after in result order."""
    rank = {a: i for i, a in enumerate(AREAS)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), list(names).index(n)))


def is_link(url: Any) -> bool:
    """Whether ``url`` may become a link in a card: an http(s) URL without spaces or quotes."""
    if not isinstance(url, str):
        return False
    u = url.strip()
    return (
        u.lower().startswith(("http://", "https://"))
        and len(u) > 8
        and not any(c in u for c in " \t\r\n\"'<>`\\")
    )


_MD_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#@!$&'()+,;=%]+")


def is_md_link(url: Any) -> bool:
    """Whether ``url`` may be written as a bare (auto-linked) URL in the Markdown card."""
    return is_link(url) and bool(_MD_URL.fullmatch(str(url).strip()))


def _detail_text(value: Any, limit: int = 300) -> str:
    if isinstance(value, Mapping):
        text = "; ".join(f"{k}: {F.fmt_cell(v)}" for k, v in value.items())
    else:
        text = F.fmt_cell(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _light(status: str) -> dict[str, str]:
    return {
        "status": status,
        "word": F.light_word(status),
        "colour": F.severity_colour(status) if status != "info" else "#6b6b6b",
    }


def _qualifiers(m: Mapping[str, Any]) -> str:
    parts = []
    if m.get("feature"):
        where = F.fmt_list(m["feature"])
        if m.get("group") is not None:
            where += " = " + F.fmt_list(m["group"])
        parts.append(where)
    for key, word in (("label", "class"), ("attack", "attack"), ("input_feature", "input"),
                      ("fold", "fold")):  # fmt: skip
        if m.get(key) is not None:
            parts.append(f"{word} {F.fmt_cell(m[key])}")
    method = str(m.get("method") or "")
    if method and method != "between_groups" and len(method) <= 30:
        parts.append(method.replace("_", " "))
    return f" ({', '.join(parts)})" if parts else ""


# ------------------------------------------------------------------------- metric tables
def _metric_row(index: int, m: Mapping[str, Any], extras: Sequence[str]) -> dict[str, Any]:
    notes = list(m.get("flags") or [])
    if m.get("reason"):
        notes.append(str(m["reason"]))
    return {
        "index": index,
        "name": str(m.get("name", "")),
        "group": F.fmt_list(m.get("group")) if m.get("group") is not None else "(all groups)",
        "extras": [F.fmt_cell(m.get(k)) if m.get(k) is not None else "" for k in extras],
        "value": F.fmt_num(m.get("value")),
        "ci": F.fmt_ci(m.get("ci")),
        "n": F.fmt_num(m.get("n")),
        "notes": "; ".join(notes),
        "flagged": bool(m.get("flags")),
    }


def _metric_tables(indexed: list[tuple[int, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Split a section's metric records by sensitive feature (whole population first)."""
    groups: dict[tuple[str, ...] | None, list[tuple[int, Mapping[str, Any]]]] = {}
    for i, m in indexed:
        feat = m.get("feature")
        key = tuple(str(f) for f in feat) if feat is not None else None
        groups.setdefault(key, []).append((i, m))
    keys = sorted(groups, key=lambda k: (k is not None,))  # stable: None first, then as met
    out = []
    for key in keys:
        rows = groups[key]
        extras = [k for k, _ in _EXTRA_COLUMNS if any(m.get(k) is not None for _, m in rows)]
        title = "Whole population" if key is None else f"By {F.fmt_list(list(key))}"
        out.append(
            {
                "title": title,
                "feature": None if key is None else F.fmt_list(list(key)),
                "show_group": key is not None,
                "extra_headers": [h for k, h in _EXTRA_COLUMNS if k in extras],
                "rows": [_metric_row(i, m, extras) for i, m in rows],
                "collapsed": len(rows) > _COLLAPSE_ROWS,
            }
        )
    return out


def _key_figures(indexed: list[tuple[int, Mapping[str, Any]]]) -> list[dict[str, str]]:
    """Return the section's whole-population figures with a plain definition."""
    out = []
    for _, m in indexed:
        if any(m.get(k) is not None for k in ("feature", "group", "fold", "input_feature")):
            continue
        if m.get("label") is not None and m.get("name") != "randomization_rank_correlation":
            continue
        name = str(m.get("name", ""))
        out.append(
            {
                "label": F.metric_label(name) + _qualifiers(m),
                "value": F.fmt_num(m.get("value")) + (f" {m['unit']}" if m.get("unit") else ""),
                "ci": F.fmt_ci(m.get("ci")),
                "n": F.fmt_num(m.get("n")),
                "meaning": metric_definition(name) or "",
                "note": str(m.get("reason") or ""),
            }
        )
        if len(out) >= _KEY_FIGURES:
            break
    return out


def _is_pair(v: Any) -> bool:
    return (
        isinstance(v, (list, tuple))
        and len(v) == 2
        and all(x is None or (isinstance(x, (int, float)) and not isinstance(x, bool)) for x in v)
    )


def _table_view(t: Mapping[str, Any]) -> dict[str, Any]:
    columns = [str(c) for c in t.get("columns", [])]
    ci_cols = {j for j, c in enumerate(columns) if c.rstrip().endswith("CI")}
    rows = [
        [F.fmt_ci(v) if j in ci_cols and _is_pair(v) and None not in v else F.fmt_cell(v)
         for j, v in enumerate(r)]
        for r in t.get("rows", [])
    ]  # fmt: skip
    return {
        "title": str(t.get("title") or t.get("name") or ""),
        # snake_case headers read as words and may wrap on narrow pages
        "columns": [c.replace("_", " ") for c in columns],
        "rows": rows,
        "note": str(t["note"]) if t.get("note") else "",
        "collapsed": len(rows) > _COLLAPSE_ROWS,
        "wide": len(columns) >= _WIDE_COLUMNS,
    }


# -------------------------------------------------------------------------------- charts
def _chart_text(chart: Mapping[str, Any]) -> dict[str, Any]:
    """Return the numbers behind a chart as a table (the chart's form in the Markdown card)."""
    kind = str(chart.get("kind", ""))
    raw = chart.get("data")
    data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    cols: list[str] = []
    rows: list[list[str]] = []
    note = ""
    try:
        if kind == "bar":
            labels = list(data.get("labels") or [])
            values = list(data.get("values") or [])
            lows, highs = data.get("lows"), data.get("highs")
            cols = [str(data.get("xlabel") or "Label"), str(data.get("ylabel") or "Value")]
            if data.get("horizontal"):
                cols = [str(data.get("ylabel") or "Label"), str(data.get("xlabel") or "Value")]
            has_ci = lows is not None and highs is not None
            if has_ci:
                cols.append("Interval")
            for k, (lab, v) in enumerate(zip(labels, values)):
                row = [str(lab), F.fmt_num(v)]
                if has_ci:
                    lo, hi = lows[k], highs[k]  # type: ignore[index]
                    row.append(F.fmt_ci([lo, hi]) if lo is not None and hi is not None
                               else F.MISSING)  # fmt: skip
                rows.append(row)
            if data.get("reference") is not None:
                note = f"Reference line at {F.fmt_num(data.get('reference'))}."
        elif kind == "line":
            series = list(data.get("series") or [])
            if data.get("markers"):  # few points: list them all
                cols = ["Series", str(data.get("xlabel") or "x"), str(data.get("ylabel") or "y")]
                for s in series:
                    for xv, yv in zip(s.get("x", []), s.get("y", [])):
                        rows.append([str(s.get("name", "")), F.fmt_num(xv), F.fmt_num(yv)])
            else:
                cols = ["Series", "Points", str(data.get("xlabel") or "x") + " range",
                        str(data.get("ylabel") or "y") + " range"]  # fmt: skip
                for s in series:
                    xs = [v for v in s.get("x", []) if v is not None]
                    ys = [v for v in s.get("y", []) if v is not None]
                    rows.append([
                        str(s.get("name", "")), F.fmt_num(len(xs)),
                        F.fmt_ci([min(xs), max(xs)]) if xs else F.MISSING,
                        F.fmt_ci([min(ys), max(ys)]) if ys else F.MISSING,
                    ])  # fmt: skip
                note = "The curve itself is drawn in card.html; its points are in audit.json."
        elif kind == "heatmap":
            cols = [str(data.get("ylabel") or ""), *[str(c) for c in data.get("cols") or []]]
            for r, vals in zip(data.get("rows") or [], data.get("values") or []):
                rows.append([str(r), *[F.fmt_num(v) for v in vals]])
        elif kind == "images":
            cols = ["Image"]
            rows = [[str(it.get("caption", ""))] for it in data.get("items") or []]
            note = "The images are embedded in card.html."
        elif kind == "tokens":
            cols = ["Text", "Strongest tokens (weight)"]
            for r in data.get("rows") or []:
                strongest: dict[str, Any] = {}
                for t, w in sorted(zip(r.get("tokens", []), r.get("weights", [])),
                                   key=lambda p: -abs(p[1] or 0.0)):  # fmt: skip
                    strongest.setdefault(str(t), w)  # each token once, at its strongest
                pairs = list(strongest.items())[:8]
                rows.append([str(r.get("caption", "")),
                             ", ".join(f"{t} ({F.fmt_num(w)})" for t, w in pairs)])  # fmt: skip
        else:
            note = (
                f"Charts of kind {kind!r} are not drawn by this version; "
                "the data is in audit.json."
            )
    except (TypeError, ValueError, AttributeError, KeyError, IndexError):
        cols, rows, note = [], [], "The chart data does not follow its kind's layout."
    return {"columns": cols, "rows": rows, "note": note}


class _Charts:
    """Numbers the charts of a card (document-unique SVG ids, never from data)."""

    def __init__(self) -> None:
        self.count = 0

    def view(self, c: Mapping[str, Any], *, derived: bool = False) -> dict[str, Any]:
        self.count += 1
        return {
            "name": str(c.get("name") or ""),
            "title": str(c.get("title") or c.get("name") or ""),
            "description": str(c.get("description") or ""),
            "drawing": render_chart(c, uid=f"chart{self.count}"),
            "text": _chart_text(c),
            "derived": derived,
        }


def _mitigation_chart(indexed: list[tuple[int, Mapping[str, Any]]]) -> dict[str, Any] | None:
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


def _history_charts(history: Any) -> list[dict[str, Any]]:
    """Learning curves drawn from the checkpoint's per-epoch history."""
    if not isinstance(history, list) or not history:
        return []
    rows = [h for h in history if isinstance(h, Mapping)]
    keys = [k for k in dict.fromkeys(k for h in rows for k in h) if k != "epoch"]
    x = [h.get("epoch", i + 1) for i, h in enumerate(rows)]
    charts = []
    for word, ylabel in (("loss", "loss"), ("acc", "accuracy")):
        series = [
            {"name": k.replace("_", " "), "x": x, "y": [h.get(k) for h in rows]}
            for k in keys
            if word in k.lower()
        ]
        if series:
            charts.append(
                {
                    "name": f"learning_curve_{ylabel}",
                    "kind": "line",
                    "title": f"Learning curves ({ylabel})",
                    "description": (
                        "Training and validation figures per epoch, from the checkpoint. A "
                        "validation curve that turns away while the training curve keeps "
                        "improving is overfitting."
                    ),
                    "data": {"series": series, "xlabel": "epoch", "ylabel": ylabel,
                             "diagonal": False, "logx": False, "markers": len(x) <= 3},
                }
            )  # fmt: skip
    return charts


# ------------------------------------------------------------------------------ sections
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


_SMALL_INTRO = (
    "These groups have too few rows to judge. Their figures are in the tables, flagged "
    "too_small, but they drive no light, no headline and no policy verdict (a policy rule can "
    "ask for them with include_small_groups = true)."
)


def _small_groups(indexed: list[tuple[int, Mapping[str, Any]]]) -> list[dict[str, str]]:
    """Return the groups a section flagged too small to judge, with their figures."""
    by: dict[tuple[Any, ...], dict[str, Any]] = {}
    for _, m in indexed:
        if "too_small" not in (m.get("flags") or ()) or m.get("group") is None:
            continue
        if m.get("feature") is None:
            continue
        key = (tuple(map(str, m["feature"])), tuple(map(str, m["group"])))
        e = by.setdefault(
            key, {"feature": F.fmt_list(m["feature"]), "group": F.fmt_list(m["group"]),
                  "n": None, "reason": "", "figures": []},
        )  # fmt: skip
        if m.get("n") is not None and (m.get("name") == "count" or e["n"] is None):
            e["n"] = m.get("n")
        if not e["reason"] and m.get("reason"):
            e["reason"] = str(m["reason"])
        if m.get("name") != "count" and m.get("value") is not None:
            q = [str(m[k]) for k in ("label", "attack") if m.get(k) is not None]
            if m.get("method"):
                q.append(str(m["method"]).replace("_", " "))
            e["figures"].append(
                f"{m.get('name')}{' (' + ', '.join(q) + ')' if q else ''} {F.fmt_num(m['value'])}"
            )
    out = []
    for e in by.values():
        figs = e["figures"]
        shown = ", ".join(figs[:8]) + (f" and {len(figs) - 8} more" if len(figs) > 8 else "")
        out.append({"feature": e["feature"], "group": e["group"], "n": F.fmt_num(e["n"]),
                    "reason": e["reason"], "figures": shown})  # fmt: skip
    return out


def _finding_view(
    f: Mapping[str, Any], section: str, small: re.Pattern[str] | None = None
) -> dict[str, Any]:
    sev = str(f.get("severity", "info"))
    return {
        "severity": sev,
        "word": F.severity_word(sev),
        "colour": F.severity_colour(sev),
        "text": str(f.get("text", "")),
        "section": section,
        "section_title": F.humanize(section),
        "evidence": str(f.get("evidence") or ""),
        "small": _about_small_groups(f, small),
    }


def _small_pattern(indexed: list[tuple[int, Mapping[str, Any]]]) -> re.Pattern[str] | None:
    """Match the way findings name a group flagged too small (``race = C``, ``'C' of 'race'``)."""
    alts = []
    for _, m in indexed:
        if "too_small" not in (m.get("flags") or ()) or not m.get("feature") or not m.get("group"):
            continue
        pairs = [f"{f} = {g}" for f, g in zip(m["feature"], m["group"])]
        alts.append(re.escape(" and ".join(pairs)) + r"(?![\w-])")
        alts.append(re.escape(" × ".join(map(str, m["feature"])) + " = "
                              + " × ".join(map(str, m["group"]))) + r"(?![\w-])")  # fmt: skip
        if len(m["group"]) == 1:
            alts.append(re.escape(f"'{m['group'][0]}' of '{m['feature'][0]}'"))
    if not alts:
        return None
    return re.compile("|".join(dict.fromkeys(alts)))


def _about_small_groups(f: Mapping[str, Any], small: re.Pattern[str] | None = None) -> bool:
    """Whether a finding is about groups too small to judge (it then sits in their note).

    The result model has no field for it: a finding is about them when its words say so
    ("too small", "too_small") or when it names a group the section flagged too small.
    """
    text = str(f.get("text", ""))
    low = text.lower()
    if "too small" in low or "too_small" in low:
        return True
    return small is not None and small.search(text) is not None


def rank_findings(findings: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Sort findings by severity, then evidence (strong > moderate > weak > none), stably.

    Findings about groups too small to judge are left out.
    """
    return sorted(
        (f for f in findings if not f.get("small")),
        key=lambda f: (
            _SEVERITY_ORDER.get(str(f.get("severity")), 9),
            _EVIDENCE_ORDER.get(str(f.get("evidence") or "none"), 3),
        ),
    )


def _sections(
    d: Mapping[str, Any], charts: _Charts
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the sections' views (reader's order) and the charts moved to other parts."""
    metrics = list(d.get("metrics") or [])
    by_section: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    for i, m in enumerate(metrics):
        by_section.setdefault(str(m.get("section", "")), []).append((i, m))
    raw = {str(s.get("name", "")): s for s in d.get("sections") or []}
    for name in by_section:  # metrics whose section has no entry are still shown
        raw.setdefault(name, {"name": name, "status": "ok"})
    moved: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for name in section_order(list(raw)):
        s = raw[name]
        indexed = by_section.get(name, [])
        section_charts = []
        info = s.get("info") or {}
        for c in s.get("charts") or []:
            target = _MOVED_CHARTS.get(str(c.get("name")))
            if target is not None:
                moved.append({"target": target, "chart": c, "from": name})
                continue
            if name == "fairness":
                c = _four_fifths_line(c, info)
            section_charts.append(charts.view(c))
        if name == "fairness":
            trade = _mitigation_chart(indexed)
            if trade is not None:
                section_charts.append(charts.view(trade, derived=True))
        status = str(s.get("status", ""))
        small = _small_pattern(indexed)
        all_findings = [_finding_view(f, name, small) for f in s.get("findings") or []]
        findings = [f for f in all_findings if not f["small"]]
        out.append(
            {
                "name": name,
                "anchor": f"sec-{name}" if _PLAIN_ID.fullmatch(name) else f"sec-{len(out) + 1}",
                "title": F.humanize(name),
                "question": INTROS.get(name, ""),
                "status": status,
                "status_word": F.status_word(status),
                "status_colour": F.status_colour(status),
                "reason": str(s.get("reason") or ""),
                "findings": findings,
                "key_figures": _key_figures(indexed),
                "metric_tables": _metric_tables(indexed),
                "n_metrics": len(indexed),
                "tables": [_table_view(t) for t in s.get("tables") or []],
                "charts": section_charts,
                "moved_charts": [m["chart"].get("title", "") for m in moved if m["from"] == name],
                "small_groups": _small_groups(indexed),
                "small_findings": [f for f in all_findings if f["small"]],
                "small_groups_intro": _SMALL_INTRO,
                "info": [(F.humanize(k), _detail_text(v)) for k, v in info.items()]
                if isinstance(info, Mapping) else [],
            }
        )  # fmt: skip
    return out, moved


# ------------------------------------------------------------------------------- summary
def _summary(d: Mapping[str, Any], sections: list[dict[str, Any]]) -> dict[str, Any]:
    """Build the first screen: one light per area, the indicator lights, the verdict, what to fix.

    The verdict is the worst light the summary shows (area lights and indicator lights), by
    construction; its text counts those same lights. Findings about groups too small to judge
    drive no light and no headline.
    """
    policy = d.get("policy") or {}
    from_policy = bool(policy.get("checks"))
    lights: list[Light] = policy_lights(policy) if from_policy else default_lights(d)
    sev_by_area = {
        s["name"]: [f["severity"] for f in s["findings"] if not f["small"]] for s in sections
    }
    area_status = area_lights(lights, sev_by_area, from_policy=from_policy)
    areas = []
    for s in sections:
        if s["name"] not in AREAS:
            continue
        if s["status"] != "ok":
            sentences = [f"Not run ({s['status_word']}): {s['reason']}" if s["reason"]
                         else f"Not run ({s['status_word']})."]  # fmt: skip
            light = _light("info") | {"word": "NOT RUN"}
        else:
            fs = s["findings"]
            ranked = rank_findings(fs)
            bad = [f for f in ranked if f["severity"] in ("fail", "warn")]
            if bad:
                sentences = [f["text"] for f in bad[:2]]
            else:
                lead = [f for f in fs if not f["small"]]
                sentences = (
                    [lead[0]["text"]] if lead
                    else ["Every finding of this section is about groups too small to judge "
                          "(see their note in the section)."] if s["small_findings"]
                    else ["The section reported no finding."]
                )  # fmt: skip
            light = _light(area_status[s["name"]])
            if from_policy and area_status[s["name"]] == "info":
                light["word"] = "NO RULE"
        n_more = max(0, len(s["findings"]) - len(sentences))
        areas.append({"name": s["name"], "title": s["title"], "question": s["question"],
                      "anchor": s["anchor"], "sentences": sentences, "n_more": n_more,
                      **light})  # fmt: skip
    ci_level = (d.get("run") or {}).get("ci_level")
    sources = list(dict.fromkeys(lt.source for lt in lights))
    indicators = [
        {
            "area": F.humanize(lt.area),
            "label": lt.label,
            "value": F.fmt_num(lt.value),
            "ci": F.fmt_ci(lt.ci),
            "rule": lt.rule,
            "reason": lt.reason,
            "source": lt.source,
            "source_no": sources.index(lt.source) + 1,
            **_light(lt.status),
            **_neutral_word(lt),
        }
        for lt in lights
    ]
    judged_areas = [a for a in areas if a["word"] not in ("NOT RUN", "NO RULE")]
    verdict = verdict_of(
        [str(a["status"]) for a in judged_areas], [str(i["status"]) for i in indicators]
    )
    if from_policy:
        basis = f"the rules of the policy {policy.get('source') or ''}".rstrip()
        word = {"fail": "FAILED", "warn": "PASSED WITH WARNINGS", "pass": "PASSED"}.get(
            verdict["status"], "NOT JUDGED"
        )
        verdict["word"] = word
    else:
        basis = "auditkit's default thresholds (no policy was checked)"
    verdict["text"] += f", judged against {basis}."
    attention = [
        f for s in sections for f in s["findings"]
        if f["severity"] in ("fail", "warn") and not f["small"]
    ]  # fmt: skip
    attention = list(rank_findings(attention))
    return {
        "verdict": verdict,
        "from_policy": from_policy,
        "areas": areas,
        "indicators": indicators,
        "sources": sources,
        "attention": attention[:_SUMMARY_ATTENTION],
        "n_attention_more": max(0, len(attention) - _SUMMARY_ATTENTION),
        "ci_note": (
            f"Intervals are {F.fmt_pct(ci_level, 0)} bootstrap confidence intervals."
            if isinstance(ci_level, (int, float))
            else ""
        ),
    }


def _neutral_word(lt: Light) -> dict[str, str]:
    """Say why a light is neutral: no clear gap, or a group too small to judge."""
    if lt.status != "info":
        return {}
    if NOT_DISTINGUISHABLE in lt.reason:
        return {"word": "NO CLEAR GAP"}
    if "too small" in lt.reason or "too few rows" in lt.reason:
        return {"word": "SMALL GROUP"}
    return {}


def _count_text(statuses: Sequence[str]) -> str:
    parts = [f"{sum(1 for x in statuses if x == k)} {w}" for k, w in _LIGHT_WORDS
             if any(x == k for x in statuses)]  # fmt: skip
    return ", ".join(parts)


def verdict_of(area_statuses: Sequence[str], indicator_statuses: Sequence[str]) -> dict[str, str]:
    """Return the overall verdict: the worst of the lights shown, and a text that counts them.

    ``area_statuses`` are the lights of the areas that were judged, ``indicator_statuses`` the
    indicator lights; the verdict's status is ``worst`` of all of them (``info`` when none).
    """
    shown = [*area_statuses, *indicator_statuses]
    status = worst(shown) if shown else "info"
    verdict = _light(status)
    if status == "info":
        verdict["word"] = "NOT JUDGED"
    parts = []
    if area_statuses:
        parts.append(f"areas: {_count_text(area_statuses)}")
    if indicator_statuses:
        parts.append(f"indicators: {_count_text(indicator_statuses)}")
    verdict["text"] = "; ".join(parts) if parts else "no indicator could be judged"
    verdict["text"] = verdict["text"][:1].upper() + verdict["text"][1:]
    return verdict


def _policy_view(policy: Mapping[str, Any]) -> dict[str, Any] | None:
    if not policy:
        return None
    checks = []
    for c in policy.get("checks") or []:
        checks.append(
            {
                "id": str(c.get("id", "")),
                "metric": str(c.get("metric", "")),
                "feature": F.fmt_list(c["feature"]) if c.get("feature") else "(whole population)",
                "group": F.fmt_list(c.get("group")) if c.get("group") is not None else "",
                "op": str(c.get("op", "")),
                "threshold": F.fmt_num(c.get("threshold")),
                "actual": F.fmt_num(c.get("actual")),
                "status": str(c.get("status", "")),
                "word": F.check_word(str(c.get("status", ""))),
                "colour": F.severity_colour(str(c.get("status", ""))),
                "severity": str(c.get("severity", "error")),
                "message": str(c.get("message", "")),
            }
        )
    passed = bool(policy.get("passed"))
    n_errors = sum(1 for c in checks if c["status"] != "passed" and c["severity"] != "warning")
    n_warnings = sum(1 for c in checks if c["status"] != "passed" and c["severity"] == "warning")
    summary = f"{len(checks) - n_errors - n_warnings} of {len(checks)} rules passed"
    if n_errors:
        summary += f", {n_errors} failed"
    if n_warnings:
        summary += f", {n_warnings} failed as warning{'s' if n_warnings > 1 else ''} only"
    return {
        "passed": passed,
        "word": "PASSED" if passed else "FAILED",
        "colour": F.severity_colour("passed" if passed else "failed"),
        "source": str(policy.get("source") or ""),
        "summary": summary,
        "checks": checks,
    }


# ------------------------------------------------------------------------------ training
def _energy_view(energy: Any) -> dict[str, Any] | None:
    if not isinstance(energy, Mapping) or not energy:
        return None
    label = str(energy.get("label") or "estimated")
    kwh, co2 = energy.get("kwh"), energy.get("co2e_g")
    facts = [
        ("Energy", f"{F.fmt_energy(kwh)} ({label}; {F.fmt_num(kwh)} kWh)"),
        ("Emissions", f"{F.fmt_grams(co2)} CO2e ({label}; {F.fmt_num(co2)} g)"),
        ("Grid carbon intensity",
         f"{F.fmt_num(energy.get('grid_intensity_g_per_kwh'))} g CO2e/kWh"
         + (f" ({energy['grid_intensity_source']})" if energy.get("grid_intensity_source")
            else "")),
        ("Method", str(energy.get("method") or F.MISSING)),
        ("Metered time", F.fmt_duration(energy.get("duration_s"))),
    ]  # fmt: skip
    if energy.get("location"):
        facts.append(("Location", str(energy["location"])))
    components = []
    for c in energy.get("components") or []:
        if isinstance(c, Mapping):
            components.append([
                str(c.get("name", "")), F.fmt_num(c.get("kwh")), str(c.get("label", "")),
                F.fmt_num(c.get("mean_watts")), str(c.get("method", "")),
            ])  # fmt: skip
    return {
        "label": label,
        "word": label.upper(),
        "colour": "#0072B2" if label == "measured" else "#6b6b6b",
        "facts": facts,
        "components": {
            "columns": ["Part", "kWh", "Measured or estimated", "Mean power (W)", "Method"],
            "rows": components,
        },
    }


def _training(
    d: Mapping[str, Any], moved: list[dict[str, Any]], charts: _Charts
) -> dict[str, Any]:
    model = dict(d.get("model") or {})
    training = model.get("training") if isinstance(model.get("training"), Mapping) else {}
    assert isinstance(training, Mapping)
    hardware = training.get("hardware") or model.get("hardware")
    wall = training.get("wall_time_s", model.get("wall_time_s"))
    ds = model.get("dataset") if isinstance(model.get("dataset"), Mapping) else {}
    assert isinstance(ds, Mapping)
    recorded = bool(training or model.get("history") or model.get("hparams"))
    facts: list[tuple[str, str]] = []
    if recorded:
        trained_on = str(ds.get("name") or F.MISSING)
        sizes = [f"{F.fmt_num(ds[k])} {w}" for k, w in (("n_train", "training rows"),
                 ("n_val", "validation rows")) if ds.get(k) is not None]  # fmt: skip
        if sizes:
            trained_on += f" ({', '.join(sizes)})"
        facts.append(("Trained on", trained_on))
        if training.get("epochs_run") is not None:
            ep = f"{F.fmt_num(training.get('epochs_run'))} of at most " \
                 f"{F.fmt_num(training.get('max_epochs'))}"  # fmt: skip
            if training.get("best_epoch") is not None:
                ep += f"; weights of epoch {F.fmt_num(training.get('best_epoch'))} kept"
            if training.get("stopped_early"):
                ep += "; stopped early"
            facts.append(("Epochs", ep))
        facts.append(("Training time", F.fmt_duration(wall)))
        if isinstance(hardware, Mapping):
            hw = f"{hardware.get('cpu') or 'CPU'} ({F.fmt_num(hardware.get('cpu_count'))} CPUs)"
            hw += f"; GPU: {hardware['gpu']}" if hardware.get("gpu") else "; no GPU"
            if hardware.get("accelerator"):
                hw += f"; Lightning accelerator {hardware['accelerator']}"
                if hardware.get("devices") is not None:
                    hw += f" × {F.fmt_num(hardware['devices'])}"
            facts.append(("Hardware", hw))
        for key, label in (("created_at", "Trained at (UTC)"), ("seed", "Training seed")):
            if training.get(key) is not None:
                facts.append((label, F.fmt_cell(training[key])))
        tm = model.get("test_metrics")
        if isinstance(tm, Mapping) and tm.get("accuracy") is not None:
            acc = f"{F.fmt_num(tm['accuracy'])} (n = {F.fmt_num(tm.get('n'))})"
            facts.append(("Test accuracy when trained", acc))
        versions = training.get("versions") or model.get("versions")
        if isinstance(versions, Mapping):
            facts.append(("Libraries", ", ".join(f"{k} {v}" for k, v in versions.items())))
    hparams = model.get("hparams") if isinstance(model.get("hparams"), Mapping) else {}
    assert isinstance(hparams, Mapping)
    curves = [charts.view(m["chart"]) for m in moved if m["target"] == "training"]
    if not curves:
        curves = [charts.view(c, derived=True) for c in _history_charts(model.get("history"))]
    energy = _energy_view(training.get("energy"))
    kind = str(model.get("kind") or "")
    return {
        "anchor": "training",
        "title": "Training",
        "question": INTROS["training"],
        "recorded": recorded,
        "not_recorded": (
            ""
            if recorded
            else f"This model ({kind or 'of unknown kind'}) was not trained by auditkit, so its "
            "training data, time, hardware and energy are not recorded: not provided."
        ),  # fmt: skip
        "facts": facts,
        "hparams": [(str(k), _detail_text(v)) for k, v in hparams.items()],
        "charts": curves,
        "energy": energy,
        "energy_missing": (
            "Energy use: not provided (not recorded in the checkpoint)."
            if recorded and energy is None
            else ""
        ),  # fmt: skip
    }


# ------------------------------------------------------------------------- qualitative
def _about(card_info: Mapping[str, Any]) -> dict[str, Any]:
    fields = []
    for name in CARD_INFO_FIELDS:
        value = card_info.get(name)
        if name == "license" and value is None:
            value = card_info.get("licence")
        fields.append(_about_field(name, FIELD_TITLES[name], value))
    known = set(CARD_INFO_FIELDS) | {"licence"}
    others = [_about_field("other", F.humanize(k), v) for k, v in card_info.items()
              if k not in known]  # fmt: skip
    return {"fields": fields, "others": others, "by_name": {f["name"]: f for f in fields},
            "n_provided": sum(1 for f in fields if f["provided"])}  # fmt: skip


def _about_field(name: str, title: str, value: Any) -> dict[str, Any]:
    """One qualitative field as display parts: ``items`` of ``{text, url, note}``."""
    items: list[dict[str, str]] = []
    values = value if isinstance(value, list) else ([] if value in (None, "") else [value])
    for v in values:
        if isinstance(v, Mapping):
            if name == "owners":
                items.append({"text": str(v.get("name") or ""), "url": "",
                              "note": str(v.get("contact") or "")})  # fmt: skip
            elif name == "references":
                url = str(v.get("url") or "")
                title_ = str(v.get("title") or "")
                items.append(
                    {
                        "text": title_ or url,
                        "url": url if is_link(url) else "",
                        "note": url if title_ and url and not is_link(url) else "",
                    }
                )
                if not title_ and url and not is_link(url):
                    items[-1]["text"] = url
            elif name == "ethical_considerations":
                items.append({"text": str(v.get("name") or ""), "url": "",
                              "note": f"Mitigation: {v['mitigation']}" if v.get("mitigation")
                              else ""})  # fmt: skip
            else:
                items.append({"text": _detail_text(v, 2000), "url": "", "note": ""})
        else:
            text = F.fmt_cell(v)
            items.append({"text": text, "url": text if name == "references" and is_link(text)
                          else "", "note": ""})  # fmt: skip
    return {
        "name": name,
        "title": title,
        "provided": bool(items),
        "items": items,
        "single": len(items) == 1 and not isinstance(value, list),
        "missing": NOT_PROVIDED,
    }


# ---------------------------------------------------------------------------- provenance
def _provenance(d: Mapping[str, Any]) -> list[tuple[str, str]]:
    run = dict(d.get("run") or {})
    model = dict(d.get("model") or {})
    ds = dict(d.get("data") or {})
    ci_level = run.get("ci_level")
    out = [
        ("auditkit version", str(d.get("tool_version", ""))),
        ("Result schema version", str(d.get("schema_version", ""))),
        ("Audited at (UTC)", str(d.get("created_at", ""))),
        ("Command", str(run.get("command") or "(library call)")),
        ("Seed", F.fmt_num(run.get("seed"))),
        ("Bootstrap resamples", F.fmt_num(run.get("n_boot"))),
        ("Confidence level", F.fmt_pct(ci_level, 0) if ci_level is not None else F.MISSING),
        ("Sections asked for", F.fmt_cell(run.get("sections") or [])),
    ]
    if run.get("min_group_size") is not None:
        out.append(("Minimum group size", F.fmt_num(run.get("min_group_size"))))
    for label, key, src in (
        ("Model sha256", "sha256", model),
        ("Checkpoint file", "checkpoint", model),
        ("Checkpoint file sha256", "checkpoint_sha256", model),
        ("Evaluation data sha256", "sha256", ds),
        ("Dataset files sha256", "dataset_sha256", ds),
        ("Data file", "file", ds),
        ("Data file sha256", "file_sha256", ds),
    ):
        if src.get(key):
            out.append((label, str(src[key])))
    mds = model.get("dataset")
    if isinstance(mds, Mapping) and mds.get("sha256"):
        out.append(("Training data sha256", str(mds["sha256"])))
    for prefix, src, shown in (("Model", model, _SHOWN_MODEL_KEYS | _TRAINING_KEYS),
                               ("Data", ds, _SHOWN_DATA_KEYS)):  # fmt: skip
        for k, v in src.items():
            if k not in shown and v not in (None, "", [], {}):
                out.append((f"{prefix} {k.replace('_', ' ')}", _detail_text(v)))
    for k, v in run.items():
        if k not in _SHOWN_RUN_KEYS:
            out.append((f"Run {k.replace('_', ' ')}", _detail_text(v)))
    return out


# ------------------------------------------------------------------------------- the view
def build_view(data: Mapping[str, Any]) -> dict[str, Any]:
    """Turn ``AuditResult.to_dict()`` data into display strings for the templates.

    Every number becomes text here, through :mod:`._filters`; templates only lay it out.
    """
    d = dict(data)
    run = dict(d.get("run") or {})
    model = dict(d.get("model") or {})
    ds = dict(d.get("data") or {})
    card_info = d.get("card_info") if isinstance(d.get("card_info"), Mapping) else {}
    assert isinstance(card_info, Mapping)
    ci_level = run.get("ci_level")
    ci_head = f"{F.fmt_pct(ci_level, 0)} CI" if isinstance(ci_level, (int, float)) else "CI"
    charts = _Charts()
    sections, moved = _sections(d, charts)
    training = _training(d, moved, charts)
    summary = _summary(d, sections)

    model_name = str(model.get("name") or "model")
    kind = str(model.get("kind") or "")
    is_log = kind == "predictions"
    title = f"Audit card: {ds.get('name') or 'decision log'}" if is_log else (
        f"Model card: {model_name}"
    )  # fmt: skip
    version = card_info.get("version")
    sha = str(model.get("sha256") or "")
    version_text = str(version) if version else NOT_PROVIDED
    if sha and not is_log:
        version_text += f" (weights sha256 {sha[:12]}…)"
    dataset = str(ds.get("name") or F.MISSING)
    if ds.get("split"):
        dataset += f", {ds['split']} split"
    dataset += f", {F.fmt_num(ds.get('n_rows'))} rows"
    created = str(d.get("created_at", ""))
    facts = [
        ("Model", "none: a log of decisions was audited" if is_log
         else model_name + (f" ({kind})" if kind and kind not in model_name else "")),
        ("Version", version_text),
        ("Dataset", dataset),
        ("Date", created[:10] if len(created) >= 10 else created),
        ("Task", str(ds.get("task") or F.MISSING)
         + (f" ({F.fmt_num(len(ds['classes']))} classes)" if ds.get("classes") else "")),
        ("Sensitive features", F.fmt_cell(ds.get("sensitive_features")) or "none"),
    ]  # fmt: skip
    details = [
        ("Classes", F.fmt_cell(ds.get("classes")) if ds.get("classes") else F.MISSING),
        ("Positive class", F.fmt_cell(ds.get("positive_class"))),
        ("Input kind", str(ds.get("modality") or F.MISSING)),
        ("Training rows available to the audit", F.fmt_num(ds.get("n_train_rows"))),
    ]
    names = [str(m.get("name")) for m in d.get("metrics") or []]
    return {
        "title": title,
        "model_name": model_name,
        "tool_version": str(d.get("tool_version", "")),
        "facts": facts,
        "fact": dict(facts),
        "details": details,
        "header": facts + details,
        "ci_head": ci_head,
        "summary": summary,
        "findings": summary["attention"],
        "n_notes": sum(
            1 for s in sections for f in s["findings"] if f["severity"] not in ("fail", "warn")
        ),
        "sections": sections,
        "training": training,
        "policy": _policy_view(d.get("policy") or {}),
        "about": _about(card_info),
        "glossary": glossary_terms(d),
        "metric_glossary": metric_glossary(names),
        "provenance": _provenance(d),
        "n_metrics": len(names),
    }
