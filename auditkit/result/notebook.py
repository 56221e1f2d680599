"""How an audit result shows itself in a notebook: one short line, and an HTML summary.

:func:`summary_line` is ``repr(result)``: the model, the sections with their status and the
verdict, on one line whatever the result holds (the whole result printed 130,000-217,000
characters). :func:`summary_html` is ``result._repr_html_()``: the first screen of the card
(the verdict, the light of each area, the indicator lights, what needs attention, and the
sections, each with an anchor the area names link to) as one self-contained fragment.

The fragment is safe to display from any data: every string from the result is escaped for
HTML (``&<>"'``) after its control and bidirectional characters are made visible
(:func:`auditkit._core.text.visible`); it holds no script, no style sheet, no image and no font,
only elements with inline styles, so it asks nothing of the network; its ids share a prefix
derived from the result, so two results in one notebook do not collide; lists are capped, so
its size is bounded whatever the audit's.

The judgment (verdict, lights) is :func:`auditkit.result.summary.summarize`, the card's own.
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .._core.text import one_line, visible
from .summary import LIGHT_WORD, Summary, rank_findings, summarize

__all__ = ["summary_html", "summary_line"]

_MAX_TEXT = 400  # characters of one string from the data
_MAX_LIGHTS = 30
_MAX_ATTENTION = 12
_MAX_SECTION_FINDINGS = 10
_STATUS_WORDS = {"ok": "completed", "skipped": "skipped", "failed": "failed"}
_SEVERITY_WORDS = {"fail": "FAIL", "warn": "WARNING", "pass": "PASS", "info": "NOTE"}
#: Okabe-Ito colours (the card's), always beside a word: the badge text is dark on a light
#: tint of the colour with a border in the colour (contrast above 7:1 on every tint).
_COLOURS = {"fail": "#D55E00", "warn": "#E69F00", "pass": "#009E73", "info": "#6b6b6b"}
_TINTS = {"fail": "#fbe3d6", "warn": "#fdf0d5", "pass": "#d6f0e8", "info": "#ececec"}
_INK = "#1a1a1a"
_BOX = (
    "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:14px;line-height:1.45;"
    f"color:{_INK};background:#ffffff;border:1px solid #c8c8c8;border-radius:6px;"
    "padding:12px 16px;max-width:980px"
)
_TABLE = "border-collapse:collapse;margin:6px 0 10px 0;font-size:13px"
_CELL = "border-bottom:1px solid #dddddd;padding:3px 8px;text-align:left;vertical-align:top"


def _t(x: Any, limit: int = _MAX_TEXT) -> str:
    """One data string for the fragment: made visible, cut to ``limit``, escaped for HTML."""
    s = visible(str(x))
    if len(s) > limit:
        s = s[:limit] + f"… ({len(s) - limit:,} more characters)"
    return html.escape(s, quote=True)


def _human(name: Any) -> str:
    """Write a snake_case name as words (``selection_rate`` -> ``Selection rate``)."""
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _num(x: Any) -> str:
    """Format a number as the card does (4 significant digits; ``n/a`` for none)."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if not math.isfinite(x):
            return "n/a"
        if x == 0.0:
            return "0"
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"
    return _t(x)


def _ci(ci: Sequence[Any] | None) -> str:
    if not ci or len(ci) != 2 or ci[0] is None or ci[1] is None:
        return "n/a"
    return f"{_num(ci[0])} – {_num(ci[1])}"


def _badge(status: str, word: str) -> str:
    colour = _COLOURS.get(status, _COLOURS["info"])
    tint = _TINTS.get(status, _TINTS["info"])
    return (
        f'<span style="display:inline-block;min-width:4.5em;text-align:center;font-weight:600;'
        f"font-size:12px;padding:1px 6px;border:2px solid {colour};border-radius:4px;"
        f'background:{tint};color:{_INK}">{_t(word, 40)}</span>'
    )


def _prefix(d: Mapping[str, Any]) -> str:
    """Return the id prefix of a result (two results shown in one page do not collide)."""
    model = d.get("model") if isinstance(d.get("model"), Mapping) else {}
    data = d.get("data") if isinstance(d.get("data"), Mapping) else {}
    assert isinstance(model, Mapping) and isinstance(data, Mapping)
    key = "\x1f".join(
        str(x)
        for x in (model.get("name"), model.get("sha256"), data.get("name"), data.get("sha256"),
                  d.get("created_at"), len(d.get("metrics") or ()))
    )  # fmt: skip
    return "auditkit-" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:10]


def _head(d: Mapping[str, Any]) -> str:
    model = d.get("model") if isinstance(d.get("model"), Mapping) else {}
    data = d.get("data") if isinstance(d.get("data"), Mapping) else {}
    assert isinstance(model, Mapping) and isinstance(data, Mapping)
    is_log = model.get("kind") == "predictions"
    title = "Audit of a decision log" if is_log else f"Audit of {_t(model.get('name') or 'model')}"
    facts = []
    if data.get("name"):
        facts.append(_t(data["name"]) + (f", {_t(data['split'])} split" if data.get("split")
                                         else ""))  # fmt: skip
    if data.get("n_rows") is not None:
        facts.append(f"{_num(data.get('n_rows'))} rows")
    if data.get("task"):
        facts.append(_t(data["task"]))
    if d.get("created_at"):
        facts.append(_t(str(d["created_at"])[:10]))
    return (
        f'<div style="font-size:16px;font-weight:600">{title}</div>'
        f'<div style="color:#4a4a4a;font-size:13px">{" · ".join(facts)}</div>'
    )


def _areas(s: Summary, prefix: str) -> str:
    if not s.areas:
        return ""
    rows = []
    for a in s.areas:
        more = f" (and {a.n_more} more finding{'s' if a.n_more != 1 else ''})" if a.n_more else ""
        rows.append(
            f'<tr><td style="{_CELL}">{_badge(a.status, a.word)}</td>'
            f'<td style="{_CELL}"><a href="#{prefix}-{_t(a.anchor)}">{_t(_human(a.name))}</a></td>'
            f'<td style="{_CELL}">{" ".join(_t(x) for x in a.sentences)}{more}</td></tr>'
        )
    return (
        f'<table style="{_TABLE}"><caption style="text-align:left;font-weight:600">Areas'
        f'</caption><thead><tr><th style="{_CELL}" scope="col">Light</th>'
        f'<th style="{_CELL}" scope="col">Area</th><th style="{_CELL}" scope="col">Why</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _lights(s: Summary) -> str:
    if not s.lights:
        return ""
    rows = []
    for lt in s.lights[:_MAX_LIGHTS]:
        word = LIGHT_WORD.get(lt.status, lt.status)
        if lt.status == "info" and "distinguishable" in lt.reason:
            word = "NO CLEAR GAP"
        why = _t(lt.rule) + (f"; {_t(lt.reason)}" if lt.reason else "")
        rows.append(
            f'<tr><td style="{_CELL}">{_badge(lt.status, word)}</td>'
            f'<td style="{_CELL}">{_t(lt.label)}</td><td style="{_CELL}">{_num(lt.value)}</td>'
            f'<td style="{_CELL}">{_ci(lt.ci)}</td><td style="{_CELL}">{why}</td></tr>'
        )
    left = len(s.lights) - _MAX_LIGHTS
    more = (
        f'<p style="margin:0">And {left:,} more indicators (see the card).</p>' if left > 0 else ""
    )
    source = "the policy's rules" if s.from_policy else "auditkit's default thresholds"
    return (
        f'<table style="{_TABLE}"><caption style="text-align:left;font-weight:600">'
        f"Indicators ({source})</caption><thead><tr>"
        + "".join(
            f'<th style="{_CELL}" scope="col">{h}</th>'
            for h in ("Light", "Indicator", "Value", "Interval", "Rule")
        )  # fmt: skip
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"
    )


def _finding_item(f: Mapping[str, Any], with_section: bool) -> str:
    sev = str(f.get("severity", "info"))
    where = f"{_t(_human(f.get('section', '')))}: " if with_section else ""
    ev = f" (evidence: {_t(f['evidence'], 20)})" if f.get("evidence") else ""
    word = _SEVERITY_WORDS.get(sev, sev.upper())
    return f'<li style="margin:2px 0">{_badge(sev, word)} {where}{_t(f.get("text", ""))}{ev}</li>'


def _attention(s: Summary) -> str:
    if not s.attention:
        return '<p style="margin:6px 0">No finding needs attention.</p>'
    items = "".join(_finding_item(f, True) for f in s.attention[:_MAX_ATTENTION])
    left = len(s.attention) - _MAX_ATTENTION
    more = f'<p style="margin:0">And {left:,} more.</p>' if left > 0 else ""
    return (
        '<div style="font-weight:600;margin-top:6px">Needs attention</div>'
        f'<ol style="margin:4px 0 8px 0;padding-left:1.4em">{items}</ol>{more}'
    )


def _sections(s: Summary, prefix: str) -> str:
    parts = []
    for e in s.sections:
        findings = rank_findings(e.findings)
        items = "".join(_finding_item(f, False) for f in findings[:_MAX_SECTION_FINDINGS])
        left = len(findings) - _MAX_SECTION_FINDINGS
        if left > 0:
            items += f"<li>And {left:,} more findings (see the card).</li>"
        status = _STATUS_WORDS.get(e.status, e.status)
        reason = f": {_t(e.reason)}" if e.reason else ""
        n_f = len(findings)
        head = (
            f"{_t(_human(e.name))}: {_t(status)}{reason}; {e.n_metrics:,} figures, "
            f"{n_f:,} finding{'s' if n_f != 1 else ''}"
        )
        body = f'<ul style="margin:4px 0;padding-left:1.4em">{items}</ul>' if items else ""
        parts.append(
            f'<details id="{prefix}-{_t(e.anchor)}" style="margin:2px 0">'
            f'<summary style="cursor:pointer;min-height:24px;padding:3px 0">{head}</summary>'
            f"{body}</details>"
        )
    if not parts:
        return ""
    return '<div style="font-weight:600;margin-top:6px">Sections</div>' + "".join(parts)


def summary_html(result: Any) -> str:
    """Return the notebook summary of ``result``: a self-contained, escaped HTML fragment.

    ``result`` is an :class:`~auditkit.result.records.AuditResult` (this module does not
    import it: the result's methods import this one).

    The verdict, the light of each area (linked to its section), the indicator lights, the
    failures and warnings, and every section with its findings; capped lists, inline styles,
    nothing fetched from the network.
    """
    d = result.to_dict()
    s = summarize(d)
    prefix = _prefix(d)
    verdict = (
        f'<p style="margin:8px 0">{_badge(s.verdict, s.verdict_word)} {_t(s.verdict_text)}</p>'
    )
    foot = (
        '<p style="margin:8px 0 0 0;color:#4a4a4a;font-size:12px">The full card: '
        "<code>auditkit.render_html(result)</code>; every figure as a table: "
        "<code>result.to_frame()</code>.</p>"
    )
    return (
        f'<div id="{prefix}" class="auditkit-summary" style="{_BOX}">'
        + _head(d) + verdict + _areas(s, prefix) + _attention(s) + _lights(s)
        + _sections(s, prefix) + foot + "</div>"
    )  # fmt: skip


def summary_line(result: Any) -> str:
    """Return ``repr(result)``: one short line with the model, its sections and the verdict.

    Example: ``<AuditResult model='adult-mlp' data='adult' (9,769 rows) sections:
    performance=ok fairness=ok privacy=skipped verdict=FAIL (default thresholds)>``.
    """
    model = result.model.get("name") or ("decision log" if result.model.get("kind") ==
                                         "predictions" else "model")  # fmt: skip
    data = result.data.get("name")
    rows = result.data.get("n_rows")
    where = f" data={one_line(data, limit=40)!r}" if data else ""
    if isinstance(rows, int) and not isinstance(rows, bool):
        where += f" ({rows:,} rows)"
    secs = " ".join(f"{one_line(s.name, limit=30)}={s.status}" for s in result.sections[:12])
    if len(result.sections) > 12:
        secs += f" +{len(result.sections) - 12} more"
    try:
        s = summarize(result.to_dict())
        basis = "policy" if s.from_policy else "default thresholds"
        verdict = f"verdict={s.verdict_word.replace(' ', '_')} ({basis})"
    except Exception as exc:  # noqa: BLE001 - a repr must not raise on odd data
        verdict = f"verdict=unavailable ({type(exc).__name__})"
    return (
        f"<AuditResult model={one_line(model, limit=60)!r}{where} "
        f"sections: {secs or '(none)'} {verdict}>"
    )
