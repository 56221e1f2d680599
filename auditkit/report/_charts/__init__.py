"""The charts of the cards: one registry of chart kinds, each drawn and tabulated by its module.

A chart (``Chart.to_dict()`` form: ``{"name", "kind", "title", "description", "data"}``) is
shown twice: drawn in the HTML card (:func:`render_chart`: inline SVG, or HTML figures for
``images`` and ``tokens``) and as the table of its numbers (:func:`chart_numbers`: the chart's
form in the Markdown card, and "the numbers behind this chart" in the HTML card). Both look the
kind up in :data:`CHART_KINDS`, the one place chart kinds are dispatched: ``bar``, ``line``,
``heatmap``, ``images`` and ``tokens``, one module each, and a regression's
``predicted_actual`` and ``histogram`` (:mod:`.regression`). A new kind is one drawing function
registered with :func:`register_chart_kind` (its table is optional).

:func:`render_chart` returns :class:`markupsafe.Markup`: the only place the HTML card marks text
as safe, because every string from the data passes through :func:`html.escape` in the drawing
modules and every number is formatted by them. Every SVG carries ``<title>``/``<desc>`` for
screen readers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from . import bar, heatmap, images, line, regression, tokens
from .draw import ChartDataError, esc

__all__ = [
    "CHART_KINDS",
    "CardCharts",
    "ChartDataError",
    "ChartKind",
    "chart_numbers",
    "register_chart_kind",
    "render_chart",
]

#: Draws a chart: ``(chart, uid) -> SVG or HTML text``, every string from the data escaped.
Draw = Callable[[Mapping[str, Any], str], str]
#: Tabulates a chart's data: ``data -> (columns, rows, note)``, all display text.
Numbers = Callable[[Mapping[str, Any]], tuple[list[str], list[list[str]], str]]


def _no_table(data: Mapping[str, Any]) -> tuple[list[str], list[list[str]], str]:
    return [], [], "The chart is drawn in card.html; its data is in audit.json."


@dataclass(frozen=True)
class ChartKind:
    """How the cards show one kind of chart.

    Attributes
    ----------
    draw : callable
        ``draw(chart, uid) -> str``: the drawing (SVG or HTML), every string from the data
        escaped; ``uid`` is a document-unique id prefix for ARIA links. Raise
        :class:`ChartDataError` (or ``TypeError``/``ValueError``/``KeyError``) for data that
        does not follow the kind's layout: the card then shows a note instead.
    numbers : callable
        ``numbers(data) -> (columns, rows, note)``: the chart's numbers as display text.
    """

    draw: Draw
    numbers: Numbers = _no_table


#: The one registry of chart kinds: kind -> how to draw and tabulate it.
CHART_KINDS: dict[str, ChartKind] = {
    "bar": ChartKind(bar.draw, bar.numbers),
    "line": ChartKind(line.draw, line.numbers),
    "heatmap": ChartKind(heatmap.draw, heatmap.numbers),
    "images": ChartKind(images.draw, images.numbers),
    "tokens": ChartKind(tokens.draw, tokens.numbers),
    "predicted_actual": ChartKind(regression.draw_predicted_actual, regression.predicted_numbers),
    "histogram": ChartKind(regression.draw_histogram, regression.histogram_numbers),
}


def register_chart_kind(kind: str, draw: Draw, numbers: Numbers | None = None) -> None:
    """Register (or replace) a chart kind.

    Parameters
    ----------
    kind : str
        The ``kind`` of the charts it shows (``"sankey"``).
    draw : callable
        ``draw(chart, uid) -> str``, see :class:`ChartKind`.
    numbers : callable, default=None
        ``numbers(data) -> (columns, rows, note)``; without it the Markdown card says the chart
        is drawn in card.html.
    """
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must be a non-empty string; got {kind!r}")
    if not callable(draw) or (numbers is not None and not callable(numbers)):
        raise TypeError(f"draw and numbers must be callables (chart kind {kind!r})")
    CHART_KINDS[kind] = ChartKind(draw, numbers or _no_table)


def render_chart(chart: Mapping[str, Any], *, uid: str) -> Markup:
    """Return the drawing of one chart (``Chart.to_dict()`` form) as safe HTML.

    Parameters
    ----------
    chart : mapping
        ``{"name", "kind", "title", "description", "data"}``.
    uid : str
        A document-unique id prefix made by the renderer (never from data), for ARIA links.

    Returns
    -------
    Markup
        SVG for ``bar``/``line``/``heatmap``, HTML figures for ``images``/``tokens``; for an
        unknown kind or data that does not follow the kind's layout, a visible note saying so
        (the numbers stay in ``audit.json``).
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", uid):
        raise ValueError(f"uid must be a plain identifier; got {uid!r}")
    kind = str(chart.get("kind", ""))
    known = CHART_KINDS.get(kind)
    if known is None:
        return Markup(
            f'<p class="chart-error">This version of auditkit cannot draw charts of kind '
            f"{esc(kind)!s}; the data is in audit.json.</p>"
        )
    if not isinstance(chart.get("data"), Mapping):
        return Markup('<p class="chart-error">Chart data is missing.</p>')
    try:
        return Markup(known.draw(chart, uid))
    except (ChartDataError, TypeError, ValueError, KeyError) as exc:
        return Markup(f'<p class="chart-error">Chart could not be drawn: {esc(exc)}</p>')


def chart_numbers(chart: Mapping[str, Any]) -> dict[str, Any]:
    """Return the numbers behind a chart as a table (the chart's form in the Markdown card).

    Returns
    -------
    dict
        ``{"columns", "rows", "note"}``, display text; an unknown kind, or data that does not
        follow the kind's layout, gives no rows and a note saying so.
    """
    kind = str(chart.get("kind", ""))
    raw = chart.get("data")
    data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    known = CHART_KINDS.get(kind)
    if known is None:
        note = f"Charts of kind {kind!r} are not drawn by this version; the data is in audit.json."
        return {"columns": [], "rows": [], "note": note}
    try:
        cols, rows, note = known.numbers(data)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError):
        cols, rows, note = [], [], "The chart data does not follow its kind's layout."
    return {"columns": cols, "rows": rows, "note": note}


class CardCharts:
    """Numbers the charts of one card (document-unique SVG ids, never from data)."""

    def __init__(self) -> None:
        self.count = 0

    def view(self, c: Mapping[str, Any]) -> dict[str, Any]:
        """Return one chart's view: its title, description, drawing and table."""
        self.count += 1
        return {
            "name": str(c.get("name") or ""),
            "title": str(c.get("title") or c.get("name") or ""),
            "description": str(c.get("description") or ""),
            "drawing": render_chart(c, uid=f"chart{self.count}"),
            "text": chart_numbers(c),
        }
