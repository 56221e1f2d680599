"""Charts of a regression: predicted against true values, and histograms (of errors).

``predicted_actual`` data: ``binned`` (``{"x", "y", "n"}``: the mean true value, the mean
prediction and the rows of each bin of the true value), optional ``points`` (``{"x", "y"}``:
a sample of rows, true and predicted value), ``xlabel``, ``ylabel`` and ``n_rows`` (rows in
all). Drawn on equal axes with the diagonal of perfect prediction; the Markdown card shows the
binned means as a table.

``histogram`` data: ``edges`` (bin edges, one more than ``counts``), ``counts`` (rows or
weight per bin), optional ``below`` / ``above`` (outside the drawn range), ``xlabel``,
``ylabel``, ``reference`` and ``reference_label`` (a vertical line, such as 0 for "no error").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._filters import MISSING, OKABE_ITO, fmt_num
from .draw import (
    GREY,
    LIGHT,
    WIDTH,
    ChartDataError,
    domain,
    esc,
    line,
    list_of,
    num_or_none,
    px,
    scale,
    svg,
    text,
    ticks,
)

__all__ = ["draw_histogram", "draw_predicted_actual", "histogram_numbers", "predicted_numbers"]

_MAX_POINTS = 5000  # drawn at most (the section samples 2,000)


def _pairs(obj: Any, what: str) -> tuple[list[float | None], list[float | None]]:
    if not isinstance(obj, Mapping):
        raise ChartDataError(f"{what} must be an object with x and y")
    xs = [num_or_none(v, f"{what}.x") for v in list_of(obj, "x")]
    ys = [num_or_none(v, f"{what}.y") for v in list_of(obj, "y")]
    if len(xs) != len(ys):
        raise ChartDataError(f"{what} has {len(xs)} x but {len(ys)} y values")
    return xs, ys


def _axes(
    body: list[str], x: Any, y: Any, xs: list[float], ys: list[float], box: tuple[float, ...],
    xlabel: str, ylabel: str,
) -> None:  # fmt: skip
    left, top, plot_w, plot_h = box
    for t in ticks(xs[0], xs[1]):
        body.append(line(x(t), top, x(t), top + plot_h, stroke=LIGHT))
        body.append(text(x(t), top + plot_h + 12, fmt_num(t), anchor="middle", size=11, fill=GREY))
    for t in ticks(ys[0], ys[1]):
        body.append(line(left, y(t), left + plot_w, y(t), stroke=LIGHT))
        body.append(text(left - 6, y(t), fmt_num(t), anchor="end", size=11, fill=GREY))
    body.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="{GREY}"/>'
    )
    if xlabel:
        body.append(text(left + plot_w / 2, top + plot_h + 32, xlabel, anchor="middle", fill=GREY))
    if ylabel:
        body.append(text(14, top + plot_h / 2, ylabel, anchor="middle", fill=GREY, rotate=-90))


def draw_predicted_actual(chart: Mapping[str, Any], uid: str) -> str:
    """Return the SVG of a predicted-against-actual chart."""
    data = chart["data"]
    bx, by = _pairs(data.get("binned"), "binned")
    px_, py_ = _pairs(data["points"], "points") if data.get("points") is not None else ([], [])
    pts = [(a, b) for a, b in zip(px_, py_) if a is not None and b is not None][:_MAX_POINTS]
    line_pts = [(a, b) for a, b in zip(bx, by) if a is not None and b is not None]
    every = [v for p in (*pts, *line_pts) for v in p]
    lo, hi = domain(every)  # one domain for both axes: the diagonal runs at 45 degrees
    left, top, plot_w, plot_h = 64.0, 14.0, 300.0, 300.0
    x = scale(lo, hi, left, left + plot_w)
    y = scale(lo, hi, top + plot_h, top)
    body: list[str] = []
    xlabel, ylabel = str(data.get("xlabel") or "true value"), str(data.get("ylabel") or "")
    _axes(body, x, y, [lo, hi], [lo, hi], (left, top, plot_w, plot_h), xlabel,
          ylabel or "predicted value")  # fmt: skip
    body.append(line(x(lo), y(lo), x(hi), y(hi), stroke=GREY, dash="4 4"))
    if pts:
        d = "".join(f"M{px(x(a))} {px(y(b))}h0" for a, b in pts)
        body.append(
            f'<path d="{d}" stroke="{OKABE_ITO[0]}" stroke-opacity="0.35" stroke-width="3" '
            f'stroke-linecap="round" fill="none"><title>{len(pts):,} rows</title></path>'
        )
    colour = OKABE_ITO[3]
    if line_pts:
        poly = " ".join(f"{px(x(a))},{px(y(b))}" for a, b in line_pts)
        body.append(
            f'<polyline points="{poly}" fill="none" stroke="{colour}" stroke-width="2.5">'
            "<title>mean prediction per bin of the true value</title></polyline>"
        )
        for a, b in line_pts:
            body.append(
                f'<circle cx="{px(x(a))}" cy="{px(y(b))}" r="3" fill="{colour}">'
                f"<title>true {esc(fmt_num(a))}: mean prediction {esc(fmt_num(b))}</title>"
                "</circle>"
            )
    lx = left + plot_w + 16
    legend = [("dashed", GREY, "perfect prediction"), ("line", colour, "mean prediction by bin")]
    if pts:
        legend.insert(0, ("dot", OKABE_ITO[0], f"rows ({len(pts):,} drawn)"))
    for k, (kind, c, label) in enumerate(legend):
        ly = top + 10 + 18 * k
        if kind == "dot":
            body.append(f'<circle cx="{px(lx + 8)}" cy="{px(ly)}" r="3" fill="{c}"/>')
        else:
            body.append(line(lx, ly, lx + 20, ly, stroke=c, width=2.5 if kind == "line" else 1,
                             dash="4 4" if kind == "dashed" else None))  # fmt: skip
        body.append(text(lx + 26, ly, label, size=11))
    title = str(chart.get("title") or "")
    n_rows = num_or_none(data.get("n_rows"), "n_rows")
    desc = str(chart.get("description") or "") or (
        f"Scatter of {len(pts):,} rows and the mean prediction in {len(line_pts)} bins of the "
        "true value, against the diagonal of perfect prediction."
    )
    if n_rows is not None:
        desc += f" Rows in all: {fmt_num(int(n_rows))}."
    return svg(uid, WIDTH, top + plot_h + 46, title, desc, body)


def predicted_numbers(data: Mapping[str, Any]) -> tuple[list[str], list[list[str]], str]:
    """Return the binned means as a table (true value, mean prediction, rows)."""
    b = data.get("binned") or {}
    xs, ys, ns = list(b.get("x") or []), list(b.get("y") or []), list(b.get("n") or [])
    cols = ["Mean true value", "Mean prediction", "Difference", "Rows"]
    rows = []
    for i, (a, p) in enumerate(zip(xs, ys)):
        diff = fmt_num(p - a) if isinstance(a, (int, float)) and isinstance(p, (int, float)) else (
            MISSING
        )  # fmt: skip
        rows.append([fmt_num(a), fmt_num(p), diff, fmt_num(ns[i]) if i < len(ns) else MISSING])
    note = ""
    if data.get("points"):
        note = "Each row's dot is drawn in card.html; the sampled rows are in audit.json."
    return cols, rows, note


def draw_histogram(chart: Mapping[str, Any], uid: str) -> str:
    """Return the SVG of a histogram."""
    data = chart["data"]
    edges = [num_or_none(v, "edges") for v in list_of(data, "edges")]
    counts = [num_or_none(v, "counts") for v in list_of(data, "counts")]
    if len(edges) != len(counts) + 1 or any(e is None for e in edges):
        raise ChartDataError(f"{len(counts)} counts need {len(counts) + 1} finite edges")
    e = [float(v) for v in edges if v is not None]
    c = [v or 0.0 for v in counts]
    ref = num_or_none(data.get("reference"), "reference")
    xlo, xhi = min(e), max(e)
    if ref is not None:
        xlo, xhi = min(xlo, ref), max(xhi, ref)
    if xhi == xlo:
        xlo, xhi = xlo - 0.5, xhi + 0.5
    ylo, yhi = domain(c, include_zero=True)
    left, top, plot_w, plot_h = 64.0, 14.0, WIDTH - 80.0, 220.0
    x = scale(xlo, xhi, left, left + plot_w)
    y = scale(ylo, yhi, top + plot_h, top)
    body: list[str] = []
    xlabel, ylabel = str(data.get("xlabel") or ""), str(data.get("ylabel") or "rows")
    _axes(body, x, y, [xlo, xhi], [ylo, yhi], (left, top, plot_w, plot_h), xlabel, ylabel)
    for i, v in enumerate(c):
        if v <= 0:
            continue
        x0, x1 = x(e[i]), x(e[i + 1])
        body.append(
            f'<rect x="{px(x0)}" y="{px(y(v))}" width="{px(max(x1 - x0 - 1, 1))}" '
            f'height="{px(y(0) - y(v))}" fill="{OKABE_ITO[0]}">'
            f"<title>{esc(fmt_num(e[i]))} to {esc(fmt_num(e[i + 1]))}: {esc(fmt_num(v))}</title>"
            "</rect>"
        )
    if ref is not None:
        body.append(line(x(ref), top, x(ref), top + plot_h, stroke=OKABE_ITO[3], dash="5 3"))
        label = str(data.get("reference_label") or f"reference {fmt_num(ref)}")
        body.append(text(x(ref) + 4, top + 10, label, size=11, fill=OKABE_ITO[3]))
    title = str(chart.get("title") or "")
    desc = str(chart.get("description") or "") or (
        f"Histogram of {len(c)} bins from {fmt_num(e[0])} to {fmt_num(e[-1])}."
    )
    out = _outside(data)
    if out:
        desc += f" {out}"
    return svg(uid, WIDTH, top + plot_h + 46, title, desc, body)


def _outside(data: Mapping[str, Any]) -> str:
    below = num_or_none(data.get("below"), "below") or 0.0
    above = num_or_none(data.get("above"), "above") or 0.0
    if not below and not above:
        return ""
    return f"Outside the drawn range: {fmt_num(below)} below, {fmt_num(above)} above."


def histogram_numbers(data: Mapping[str, Any]) -> tuple[list[str], list[list[str]], str]:
    """Return the bins as a table (from, to, count)."""
    edges = list(data.get("edges") or [])
    counts = list(data.get("counts") or [])
    cols = ["From", "To", str(data.get("ylabel") or "rows").capitalize()]
    rows = [[fmt_num(edges[i]), fmt_num(edges[i + 1]), fmt_num(v)]
            for i, v in enumerate(counts) if i + 1 < len(edges)]  # fmt: skip
    what = str(data.get("xlabel") or "")
    note = f"Bins of {what}." if what else ""
    out = _outside(data)
    return cols, rows, f"{note} {out}".strip()
