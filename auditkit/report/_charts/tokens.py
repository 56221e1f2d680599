"""Token highlights: texts with a weight per token (attributions of text models).

``data``: ``rows``, a list of ``{"tokens", "weights", "caption"}``; weights in [-1, 1], positive
toward the explained class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._filters import OKABE_ITO, fmt_num
from .draw import ChartDataError, esc, list_of, luminance, mix, num_or_none

__all__ = ["draw", "numbers"]


def draw(chart: Mapping[str, Any], uid: str) -> str:
    """Return the texts as HTML, each token shaded by its weight (``uid`` is unused)."""
    rows = list_of(chart["data"], "rows")
    parts = [f'<div class="chart-tokens" role="group" aria-label="{esc(chart.get("title", ""))}">']
    for k, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ChartDataError(f"token row {k} must be an object")
        toks = [str(t) for t in list_of(row, "tokens")]
        weights = [num_or_none(w, "weights") for w in list_of(row, "weights")]
        if len(toks) != len(weights):
            raise ChartDataError(
                f"token row {k} has {len(toks)} tokens but {len(weights)} weights"
            )
        spans = []
        for tok, w in zip(toks, weights):
            wv = 0.0 if w is None else max(-1.0, min(1.0, w))
            colour = OKABE_ITO[0] if wv >= 0 else OKABE_ITO[3]
            bg = mix(colour, abs(wv) * 0.85)
            ink = "#ffffff" if luminance(bg) < 0.45 else "#111111"
            spans.append(
                f'<span class="tok" style="background:{bg};color:{ink}" '
                f'title="weight {esc(fmt_num(w))}">{esc(tok)}</span>'
            )
        parts.append(f'<p class="token-row">{" ".join(spans)}</p>')
        if row.get("caption"):
            parts.append(f'<p class="token-caption">{esc(row["caption"])}</p>')
    parts.append(
        '<p class="token-legend">Blue: the token pushes toward the explained class; '
        "vermillion: away from it; stronger colour, stronger push.</p></div>"
    )
    return "".join(parts)


def numbers(data: Mapping[str, Any]) -> tuple[list[str], list[list[str]], str]:
    """Return each text with its strongest tokens (each token once, at its strongest)."""
    rows: list[list[str]] = []
    for r in data.get("rows") or []:
        strongest: dict[str, Any] = {}
        for t, w in sorted(zip(r.get("tokens", []), r.get("weights", [])),
                           key=lambda p: -abs(p[1] or 0.0)):  # fmt: skip
            strongest.setdefault(str(t), w)  # each token once, at its strongest
        pairs = list(strongest.items())[:8]
        rows.append([str(r.get("caption", "")),
                     ", ".join(f"{t} ({fmt_num(w)})" for t, w in pairs)])  # fmt: skip
    return ["Text", "Strongest tokens (weight)"], rows, ""
