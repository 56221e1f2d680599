"""Render an audit result as an HTML card and a Markdown card, and write all outputs.

Renderers only format: they take ``AuditResult.to_dict()`` (what ``audit.json`` holds), so a card
can never show a number the JSON lacks, and ``auditkit render audit.json`` re-creates the cards
from the JSON alone. :func:`build_view` turns the JSON data into rows of display strings (all
formatting lives in :mod:`._filters`); the Jinja2 templates in ``auditkit.templates`` lay them
out. The HTML environment autoescapes; the only markup not escaped by Jinja2 is the card's own
stylesheet and the chart drawings of :mod:`._svg`, which escape every string themselves. The
Markdown environment escapes every expression with :func:`._filters.md_escape`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from markupsafe import Markup

from .._io import atomic_write_text
from ..exceptions import DataValidationError, OutputError
from . import _filters as F
from ._json import to_json, validate_dict
from ._model import AuditResult
from ._svg import render_chart

__all__ = ["build_view", "render_html", "render_markdown", "write_cards", "write_outputs"]

#: Output file names inside ``--out``.
JSON_NAME, HTML_NAME, MD_NAME = "audit.json", "card.html", "card.md"

#: Metric-record keys shown as their own column when any row of a table sets them.
_EXTRA_COLUMNS = (
    ("label", "Class"),
    ("input_feature", "Input feature"),
    ("attack", "Attack"),
    ("fold", "Fold"),
    ("method", "Method"),
    ("unit", "Unit"),
)
_SEVERITY_ORDER = {"fail": 0, "warn": 1, "pass": 2, "info": 3}
_COLLAPSE_ROWS = 40  # longer tables start folded in the HTML card
_SKIP_DETAIL_KEYS = {"schema"}


class MdText(str):
    """A string the Markdown renderer emits as is (built by this module, never from data)."""


# ----------------------------------------------------------------------------- view model
def _as_dict(result: AuditResult | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(result, AuditResult):
        return result.to_dict()
    if not isinstance(result, Mapping):
        raise DataValidationError(
            f"render expects an AuditResult or its to_dict(); got {type(result).__name__}."
        )
    return dict(result)


def _detail_text(value: Any, limit: int = 300) -> str:
    if isinstance(value, Mapping):
        text = "; ".join(f"{k}: {F.fmt_cell(v)}" for k, v in value.items())
    else:
        text = F.fmt_cell(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    """Split a section's metrics by sensitive feature (whole population first)."""
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


def _table_view(t: Mapping[str, Any]) -> dict[str, Any]:
    rows = [[F.fmt_cell(v) for v in r] for r in t.get("rows", [])]
    return {
        "title": str(t.get("title") or t.get("name") or ""),
        "columns": [str(c) for c in t.get("columns", [])],
        "rows": rows,
        "note": str(t["note"]) if t.get("note") else "",
        "collapsed": len(rows) > _COLLAPSE_ROWS,
    }


def _chart_text(chart: Mapping[str, Any]) -> dict[str, Any]:
    """Return the numbers behind a chart as a table (the chart's form in the Markdown card)."""
    kind = str(chart.get("kind", ""))
    data = chart.get("data") if isinstance(chart.get("data"), Mapping) else {}
    assert isinstance(data, Mapping)
    cols: list[str] = []
    rows: list[list[str]] = []
    note = ""
    try:
        if kind == "bar":
            labels = list(data.get("labels") or [])
            values = list(data.get("values") or [])
            lows, highs = data.get("lows"), data.get("highs")
            cols = [str(data.get("xlabel") or "Label"), str(data.get("ylabel") or "Value")]
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
            cols = ["Series", "Points", str(data.get("xlabel") or "x") + " range",
                    str(data.get("ylabel") or "y") + " range"]  # fmt: skip
            for s in data.get("series") or []:
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
                pairs = sorted(zip(r.get("tokens", []), r.get("weights", [])),
                               key=lambda p: -abs(p[1] or 0.0))[:8]  # fmt: skip
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


def build_view(data: Mapping[str, Any]) -> dict[str, Any]:
    """Turn ``AuditResult.to_dict()`` data into display strings for the templates.

    Every number becomes text here, through :mod:`._filters`; templates only lay it out.
    """
    d = dict(data)
    run = dict(d.get("run") or {})
    model = dict(d.get("model") or {})
    ds = dict(d.get("data") or {})
    ci_level = run.get("ci_level")
    ci_head = f"{F.fmt_pct(ci_level, 0)} CI" if isinstance(ci_level, (int, float)) else "CI"
    metrics = list(d.get("metrics") or [])
    by_section: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    for i, m in enumerate(metrics):
        by_section.setdefault(str(m.get("section", "")), []).append((i, m))

    sections: list[dict[str, Any]] = []
    findings = []
    chart_no = 0
    for s in d.get("sections") or []:
        name = str(s.get("name", ""))
        charts = []
        for c in s.get("charts") or []:
            chart_no += 1
            charts.append(
                {
                    "title": str(c.get("title") or c.get("name") or ""),
                    "description": str(c.get("description") or ""),
                    "drawing": render_chart(c, uid=f"chart{chart_no}"),
                    "text": _chart_text(c),
                }
            )
        sec_findings = [
            {
                "severity": str(f.get("severity", "info")),
                "word": F.severity_word(str(f.get("severity", "info"))),
                "colour": F.severity_colour(str(f.get("severity", "info"))),
                "text": str(f.get("text", "")),
                "section": name,
                "section_title": F.humanize(name),
            }
            for f in s.get("findings") or []
        ]
        findings.extend(sec_findings)
        n_metrics = len(by_section.get(name, []))
        sections.append(
            {
                "name": name,
                "anchor": f"section-{len(sections) + 1}",
                "title": F.humanize(name),
                "status": str(s.get("status", "")),
                "status_word": F.status_word(str(s.get("status", ""))),
                "status_colour": F.status_colour(str(s.get("status", ""))),
                "reason": str(s.get("reason") or ""),
                "findings": sec_findings,
                "metric_tables": _metric_tables(by_section.get(name, [])),
                "n_metrics": n_metrics,
                "tables": [_table_view(t) for t in s.get("tables") or []],
                "charts": charts,
                "info": [
                    (F.humanize(k), _detail_text(v)) for k, v in (s.get("info") or {}).items()
                ],
            }
        )
    # metrics whose section has no section entry are still shown (never silently dropped)
    known = {s["name"] for s in sections}
    for name, indexed in by_section.items():
        if name not in known:
            sections.append(
                {
                    "name": name, "anchor": f"section-{len(sections) + 1}",
                    "title": F.humanize(name), "status": "ok", "status_word": F.status_word("ok"),
                    "status_colour": F.status_colour("ok"), "reason": "", "findings": [],
                    "metric_tables": _metric_tables(indexed), "n_metrics": len(indexed),
                    "tables": [], "charts": [], "info": [],
                }
            )  # fmt: skip
    findings.sort(key=lambda f: _SEVERITY_ORDER.get(f["severity"], 9))

    model_name = str(model.get("name") or "model")
    kind = str(model.get("kind") or "")
    is_log = kind == "predictions"
    title = f"Model card: {model_name}"
    if is_log:
        title = f"Audit card: {ds.get('name') or 'decision log'}"
    header = [
        ("Model", "none: a log of decisions was audited" if is_log
         else model_name + (f" ({kind})" if kind and kind not in model_name else "")),
        ("Dataset", str(ds.get("name") or "n/a")
         + (f", {ds['split']} split" if ds.get("split") else "")),
        ("Rows evaluated", F.fmt_num(ds.get("n_rows"))),
        ("Task", str(ds.get("task") or "n/a")),
        ("Classes", F.fmt_cell(ds.get("classes")) if ds.get("classes") else "n/a"),
        ("Positive class", F.fmt_cell(ds.get("positive_class"))),
        ("Sensitive features", F.fmt_cell(ds.get("sensitive_features")) or "none"),
        ("Date (UTC)", str(d.get("created_at", ""))),
        ("auditkit version", str(d.get("tool_version", ""))),
        ("Seed", F.fmt_num(run.get("seed"))),
        ("Bootstrap resamples", F.fmt_num(run.get("n_boot"))),
        ("Confidence level", F.fmt_pct(ci_level, 0) if ci_level is not None else "n/a"),
    ]  # fmt: skip
    provenance = [("Command", str(run.get("command") or "(library call)"))]
    for label, key, src in (
        ("Model sha256", "sha256", model),
        ("Data sha256", "sha256", ds),
        ("Dataset file sha256", "dataset_sha256", ds),
    ):
        if src.get(key):
            provenance.append((label, str(src[key])))
    provenance.append(("Schema version", str(d.get("schema_version", ""))))
    provenance.append(("Sections asked for", F.fmt_cell(run.get("sections") or [])))
    if run.get("min_group_size") is not None:
        provenance.append(("Minimum group size", F.fmt_num(run.get("min_group_size"))))
    shown = {"name", "kind", "sha256", "split", "n_rows", "task", "classes", "positive_class",
             "sensitive_features", "dataset_sha256"}  # fmt: skip
    for prefix, src in (("Model", model), ("Data", ds)):
        for k, v in src.items():
            if k not in shown and k not in _SKIP_DETAIL_KEYS and v not in (None, "", [], {}):
                provenance.append((f"{prefix} {k.replace('_', ' ')}", _detail_text(v)))
    for k, v in run.items():
        if k not in {"seed", "n_boot", "ci_level", "command", "sections", "min_group_size"}:
            provenance.append((f"Run {k.replace('_', ' ')}", _detail_text(v)))

    card_info = []
    for k, v in (d.get("card_info") or {}).items():
        items = [_detail_text(x) for x in v] if isinstance(v, list) else None
        card_info.append({"title": F.humanize(k), "text": "" if items else _detail_text(v),
                          "entries": items or []})  # fmt: skip
    status_counts = {
        w: sum(1 for s in sections if s["status"] == w) for w in ("ok", "skipped", "failed")
    }
    return {
        "title": title,
        "model_name": model_name,
        "tool_version": str(d.get("tool_version", "")),
        "header": header,
        "ci_head": ci_head,
        "findings": [f for f in findings if f["severity"] in ("fail", "warn")],
        "n_notes": sum(1 for f in findings if f["severity"] not in ("fail", "warn")),
        "status_counts": status_counts,
        "sections": sections,
        "policy": _policy_view(d.get("policy") or {}),
        "provenance": provenance,
        "card_info": card_info,
        "n_metrics": len(metrics),
    }


# -------------------------------------------------------------------------------- Jinja2
def _load_template(name: str) -> str:
    return resources.files("auditkit.templates").joinpath(name).read_text(encoding="utf-8")


_FILTERS: dict[str, Callable[..., str]] = {
    "num": F.fmt_num,
    "pct": F.fmt_pct,
    "ci": F.fmt_ci,
    "cell": F.fmt_cell,
    "status_word": F.status_word,
    "severity_word": F.severity_word,
    "humanize": F.humanize,
    "ink": F.ink,
}


def _md_finalize(value: Any) -> Any:
    if isinstance(value, MdText):
        return str(value)
    if value is None:
        return ""
    return F.md_escape(value)


@lru_cache(maxsize=2)
def _environment(kind: str) -> Any:
    import jinja2

    loader = jinja2.FunctionLoader(lambda name: _load_template(name))
    if kind == "html":
        env = jinja2.Environment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        )  # fmt: skip
    else:
        env = jinja2.Environment(
            loader=loader, autoescape=False, undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
            finalize=_md_finalize,
        )  # fmt: skip
    env.filters.update(_FILTERS)
    return env


def render_html(result: AuditResult | Mapping[str, Any]) -> str:
    """Return the HTML card of an audit result: one self-contained, offline page.

    Parameters
    ----------
    result : AuditResult or dict
        The result, or its ``to_dict()`` form (what ``audit.json`` holds).

    Returns
    -------
    str
        HTML with inline CSS and inline SVG charts; no external URL; every string from the data
        escaped.

    See Also
    --------
    render_markdown : The same content as a Markdown card.
    """
    view = build_view(_as_dict(result))
    css = Markup(_load_template("card.css"))  # the package's own stylesheet, not data
    out: str = _environment("html").get_template("card.html.j2").render(card=view, css=css)
    return out


def render_markdown(result: AuditResult | Mapping[str, Any]) -> str:
    """Return the Markdown card of an audit result (the same content as the HTML card).

    Every string from the data is escaped for Markdown (no raw HTML, links or table breaks).

    Parameters
    ----------
    result : AuditResult or dict
        The result, or its ``to_dict()`` form.

    Returns
    -------
    str
    """
    view = build_view(_as_dict(result))
    out: str = _environment("md").get_template("card.md.j2").render(card=view, raw=MdText)
    return out


# ------------------------------------------------------------------------------- writing
def _check_targets(paths: Sequence[Path], overwrite: bool) -> None:
    for p in paths:
        if p.is_dir():
            raise OutputError(f"Cannot write {p}: a folder of that name exists.")
        if not overwrite and p.exists():
            raise OutputError(f"{p} exists; pass overwrite=True (or --force) to replace it.")


def write_cards(
    result: AuditResult | Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = True,
) -> dict[str, Path]:
    """Write ``card.html`` and ``card.md`` for ``result`` into ``out_dir`` (atomically).

    Both cards are rendered before either file is opened.

    Returns
    -------
    dict
        ``{"html": path, "markdown": path}``.
    """
    data = _as_dict(result)
    validate_dict(data)
    texts = {"html": render_html(data), "markdown": render_markdown(data)}
    return _write(out_dir, {"html": HTML_NAME, "markdown": MD_NAME}, texts, overwrite)


def write_outputs(
    result: AuditResult,
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = True,
) -> dict[str, Path]:
    """Write ``audit.json``, ``card.html`` and ``card.md`` into ``out_dir``.

    The three texts are computed first (the cards from the JSON text itself, so they show
    exactly its numbers); only then is each written to a temporary file in ``out_dir`` and
    renamed into place. A failure while rendering leaves every existing file untouched.

    Parameters
    ----------
    result : AuditResult
    out_dir : str or path-like
        Created when missing.
    overwrite : bool, default=True
        When False, an existing output file raises :class:`OutputError` before anything is
        written.

    Returns
    -------
    dict
        ``{"json": path, "html": path, "markdown": path}``.

    Raises
    ------
    OutputError
        When the folder cannot be created or a file cannot be written.
    """
    if not isinstance(result, AuditResult):
        raise DataValidationError(
            f"write_outputs expects an AuditResult; got {type(result).__name__}."
        )
    text = to_json(result)
    data = json.loads(text)  # render what the JSON holds, after its float policy
    texts = {"json": text, "html": render_html(data), "markdown": render_markdown(data)}
    names = {"json": JSON_NAME, "html": HTML_NAME, "markdown": MD_NAME}
    return _write(out_dir, names, texts, overwrite)


def _write(
    out_dir: str | os.PathLike[str], names: dict[str, str], texts: dict[str, str],
    overwrite: bool,
) -> dict[str, Path]:  # fmt: skip
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"Output path {str(out)!r} exists and is not a folder.")
    targets = {k: out / names[k] for k in names}
    _check_targets(list(targets.values()), overwrite)
    return {k: atomic_write_text(targets[k], texts[k]) for k in names}
