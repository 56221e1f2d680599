"""The view model of the cards: ``AuditResult.to_dict()`` data turned into display strings.

Renderers only format (convention 11): every number a card shows comes from the result data and
becomes text here, through :mod:`._filters`; the Jinja2 templates lay the strings out. The view
is shared by the HTML and the Markdown card, so both say the same thing.

Reading order (the stakeholder's): first screen (model, version, dataset, date, a
plain-language summary with traffic lights), then performance, fairness, explainability,
privacy, stability, training, the qualitative fields, a glossary, and the provenance.

The view knows no section's internals: every section is shown the same way, and the parts that
depend on a section (its charts, its key figures, charts drawn in another part) come from the
section's view hook (:mod:`._views`, keyed by the section's registry name; the default for a
section without one). Charts are drawn and tabulated by the chart registry (:mod:`._charts`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .._core.catalog import NOT_DISTINGUISHABLE
from ..result.lights import AREAS, Light, area_lights, default_lights, policy_lights, worst
from ..result.summary import about_small_groups, rank_findings, section_anchor, small_pattern
from . import _filters as F
from ._card_info import CARD_INFO_FIELDS, FIELD_TITLES, NOT_PROVIDED
from ._charts import CardCharts
from ._crosswalk import crosswalk_view
from ._glossary import glossary_terms, metric_definition, metric_glossary
from ._regression import REGRESSION_QUESTIONS, is_regression, target_of
from ._training_view import training_view
from ._views import SectionData, SectionView, section_view

__all__ = [
    "build_view",
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
#: Words for the lights in the verdict line.
_LIGHT_WORDS = (("fail", "red"), ("warn", "amber"), ("pass", "green"), ("info", "neutral"))
_COLLAPSE_ROWS = 15  # longer tables start folded in the HTML card (printed in full)
_SUMMARY_ATTENTION = 12  # failures and warnings listed on the first screen
_KEY_FIGURES = 16
_WIDE_COLUMNS = 11  # tables this wide get a smaller print font
#: Model-block keys shown by the training part of the card (not repeated in the provenance).
_TRAINING_KEYS = {"history", "hparams", "training", "test_metrics", "dataset", "hardware",
                  "wall_time_s", "versions"}  # fmt: skip
_SHOWN_MODEL_KEYS = {"name", "kind", "sha256", "checkpoint", "checkpoint_sha256", "model_name"}
_SHOWN_DATA_KEYS = {"name", "sha256", "split", "n_rows", "task", "classes", "positive_class",
                    "sensitive_features", "dataset_sha256", "file", "file_sha256", "schema",
                    "modality", "n_train_rows", "train_file", "train_file_sha256"}  # fmt: skip
_SHOWN_RUN_KEYS = {"seed", "n_boot", "ci_level", "command", "sections", "min_group_size"}
#: Data-block keys a regression card shows in its header (not repeated in the provenance).
_REGRESSION_DATA_KEYS = {"target", "target_name", "target_unit", "unit"}


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
            }
        )
    return out


def _key_figures(
    indexed: list[tuple[int, Mapping[str, Any]]], view: SectionView
) -> list[dict[str, str]]:
    """Return the section's key figures (its view hook says which) with a plain definition."""
    out = []
    for _, m in indexed:
        if not view.is_key_figure(m):
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


# ------------------------------------------------------------------------------ sections
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
        "section_title": F.humanize(section),
        "evidence": str(f.get("evidence") or ""),
        "small": about_small_groups(f, small),
    }


def _sections(
    d: Mapping[str, Any], charts: CardCharts
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
    questions = {**AREAS, **REGRESSION_QUESTIONS} if is_regression(d) else AREAS
    for name in section_order(list(raw)):
        s = raw[name]
        indexed = by_section.get(name, [])
        view = section_view(name)  # the section's own view hook, or the default
        data = SectionData(name, s, indexed)
        for c in data.charts:
            target = view.moved.get(str(c.get("name")))
            if target is not None:
                moved.append({"target": target, "chart": c, "from": name})
        section_charts = [charts.view(c) for c in view.charts(data)]
        info = data.info
        status = str(s.get("status", ""))
        small = small_pattern([m for _, m in indexed])
        all_findings = [_finding_view(f, name, small) for f in s.get("findings") or []]
        findings = [f for f in all_findings if not f["small"]]
        out.append(
            {
                "name": name,
                "anchor": section_anchor(name, len(out) + 1),
                "title": F.humanize(name),
                "question": questions.get(name, ""),  # what the area answers, in plain words
                "status": status,
                "status_word": F.status_word(status),
                "status_colour": F.status_colour(status),
                "reason": str(s.get("reason") or ""),
                "findings": findings,
                "key_figures": _key_figures(indexed, view),
                "metric_tables": _metric_tables(indexed),
                "n_metrics": len(indexed),
                "tables": [_table_view(t) for t in [*(s.get("tables") or []),
                                                    *view.tables(data)]],
                "charts": section_charts,
                "moved_charts": [m["chart"].get("title", "") for m in moved if m["from"] == name],
                "small_groups": _small_groups(indexed),
                "small_findings": [f for f in all_findings if f["small"]],
                "small_groups_intro": _SMALL_INTRO,
                "info": [(F.humanize(k), F.detail_text(v)) for k, v in info.items()]
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
        "word": "PASSED" if passed else "FAILED",
        "colour": F.severity_colour("passed" if passed else "failed"),
        "source": str(policy.get("source") or ""),
        "summary": summary,
        "checks": checks,
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
                items.append({"text": F.detail_text(v, 2000), "url": "", "note": ""})
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
        ("Training data file", "train_file", ds),
        ("Training data file sha256", "train_file_sha256", ds),
    ):
        if src.get(key):
            out.append((label, str(src[key])))
    mds = model.get("dataset")
    if isinstance(mds, Mapping) and mds.get("sha256"):
        out.append(("Training data sha256", str(mds["sha256"])))
    reg = is_regression(d)
    shown_data = _SHOWN_DATA_KEYS | (_REGRESSION_DATA_KEYS if reg else set())
    shown_model = _SHOWN_MODEL_KEYS | _TRAINING_KEYS | ({"task"} if reg else set())
    for prefix, src, shown in (("Model", model, shown_model),
                               ("Data", ds, shown_data)):  # fmt: skip
        for k, v in src.items():
            if k not in shown and v not in (None, "", [], {}):
                out.append((f"{prefix} {k.replace('_', ' ')}", F.detail_text(v)))
    for k, v in run.items():
        if k not in _SHOWN_RUN_KEYS:
            out.append((f"Run {k.replace('_', ' ')}", F.detail_text(v)))
    return out


def _regression_header(
    d: Mapping[str, Any], facts: list[tuple[str, str]], details: list[tuple[str, str]]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Say "Regression" and name the target and its unit in the header of a regression card."""
    name, unit = target_of(d)
    task = "Regression: the model predicts a number"
    if name:
        task = f"Regression: the model predicts {name}" + (f" (in {unit})" if unit else "")
    elif unit:
        task += f" (in {unit})"
    log = "none: a log of decisions was audited"
    facts = [
        (k, task if k == "Task" else "none: a log of predictions was audited" if v == log else v)
        for k, v in facts
    ]
    details = [
        ("Target", name or F.MISSING),
        ("Unit of the target", unit or "not given"),
        *[(k, v) for k, v in details if k not in ("Classes", "Positive class")],
    ]
    return facts, details


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
    charts = CardCharts()
    sections, moved = _sections(d, charts)
    training = training_view(d, moved, charts)
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
    if is_regression(d):
        facts, details = _regression_header(d, facts, details)
    names = [str(m.get("name")) for m in d.get("metrics") or []]
    return {
        "title": title,
        "tool_version": str(d.get("tool_version", "")),
        "facts": facts,
        "fact": dict(facts),
        "details": details,
        "ci_head": ci_head,
        "summary": summary,
        "sections": sections,
        "training": training,
        "policy": _policy_view(d.get("policy") or {}),
        "about": _about(card_info),
        "crosswalk": crosswalk_view(
            d, field_titles=FIELD_TITLES, anchors={s["name"]: s["anchor"] for s in sections}
        ),
        "glossary": glossary_terms(d),
        "metric_glossary": metric_glossary(names),
        "provenance": _provenance(d),
    }
