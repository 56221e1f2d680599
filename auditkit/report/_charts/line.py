"""Line charts: one or more series of points (ROC and calibration curves, learning curves...).

``data``: ``series`` (a list of ``{"name", "x", "y"}``; a None ``y`` breaks the line), optional
``xlabel``, ``ylabel``, ``logx`` (a log-scale x axis), ``diagonal`` (the y = x chance line) and
``markers`` (draw every point: hollow, the last one filled); a series with ``"marker": true``
has each of its points drawn as a filled circle whatever ``markers`` says (an operating point
on a curve).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .._filters import MISSING, OKABE_ITO, fmt_ci, fmt_num
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

__all__ = ["draw", "numbers"]


def draw(chart: Mapping[str, Any], uid: str) -> str:
    """Return the SVG of a line chart."""
    data = chart["data"]
    series_raw = list_of(data, "series")
    logx = bool(data.get("logx", False))
    diagonal = bool(data.get("diagonal", False))
    markers = bool(data.get("markers", False))
    series: list[tuple[str, list[float], list[float | None]]] = []
    marked: set[int] = set()
    for k, s in enumerate(series_raw):
        if not isinstance(s, Mapping):
            raise ChartDataError(f"series {k} must be an object")
        x_raw = [num_or_none(v, "x") for v in list_of(s, "x")]
        y_raw = [num_or_none(v, "y") for v in list_of(s, "y")]
        if len(x_raw) != len(y_raw):
            raise ChartDataError(f"series {k} has {len(x_raw)} x but {len(y_raw)} y values")
        pts_x: list[float] = []
        pts_y: list[float | None] = []
        for xv, yv in zip(x_raw, y_raw):
            if xv is None or (logx and xv <= 0):
                continue
            pts_x.append(math.log10(xv) if logx else xv)
            pts_y.append(yv)
        series.append((str(s.get("name", f"series {k + 1}")), pts_x, pts_y))
        if s.get("marker") is True:
            marked.add(k)
    all_x: list[float] = [v for _, xs, _ in series for v in xs]
    all_y: list[float] = [v for _, _, ys in series for v in ys if v is not None]
    if diagonal:  # y = x: the chance line of ROC-type curves
        all_y += [0.0, 1.0]
        if not logx:
            all_x += [0.0, 1.0]
    xlo, xhi = domain(all_x)
    ylo, yhi = domain(all_y)
    if logx:
        xlo, xhi = math.floor(min(all_x, default=0.0)), math.ceil(max(all_x, default=1.0))
        if xlo == xhi:
            xhi = xlo + 1
    xlabel, ylabel = str(data.get("xlabel") or ""), str(data.get("ylabel") or "")
    left, right, top, bottom = 60, 16, 14, 46
    legend_h = 18 * len(series) if len(series) > 1 else 0
    plot_w, plot_h = WIDTH - left - right, 240
    width, height = WIDTH, top + plot_h + bottom + legend_h
    x = scale(xlo, xhi, left, left + plot_w)
    y = scale(ylo, yhi, top + plot_h, top)
    body: list[str] = []
    xt = list(range(int(xlo), int(xhi) + 1)) if logx else ticks(xlo, xhi)
    for t in xt:
        body.append(line(x(t), top, x(t), top + plot_h, stroke=LIGHT))
        lab = fmt_num(10.0**t) if logx else fmt_num(t)
        body.append(text(x(t), top + plot_h + 12, lab, anchor="middle", size=11, fill=GREY))
    for t in ticks(ylo, yhi):
        body.append(line(left, y(t), left + plot_w, y(t), stroke=LIGHT))
        body.append(text(left - 6, y(t), fmt_num(t), anchor="end", size=11, fill=GREY))
    body.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="{GREY}"/>'
    )
    if diagonal and logx:
        ts = [xlo + (xhi - xlo) * i / 60 for i in range(61)]
        pts = [f"{px(x(t))},{px(y(10.0**t))}" for t in ts if ylo <= 10.0**t <= yhi]
        if len(pts) > 1:
            body.append(
                f'<polyline points="{" ".join(pts)}" fill="none" stroke="{GREY}" '
                'stroke-dasharray="4 4"/>'
            )
    elif diagonal:
        a, b = max(xlo, ylo), min(xhi, yhi)
        body.append(line(x(a), y(a), x(b), y(b), stroke=GREY, dash="4 4"))
    if xlabel:
        note = " (log scale)" if logx and "log" not in xlabel.lower() else ""
        body.append(text(left + plot_w / 2, top + plot_h + 32, xlabel + note,
                          anchor="middle", fill=GREY))  # fmt: skip
    if ylabel:
        body.append(text(14, top + plot_h / 2, ylabel, anchor="middle", fill=GREY, rotate=-90))
    dashes = (None, "6 3", "2 2", "8 3 2 3")
    for k, (name, xs, ys) in enumerate(series):
        colour = OKABE_ITO[k % len(OKABE_ITO)]
        dash = dashes[k % len(dashes)] if len(series) > 1 else None
        runs: list[list[str]] = [[]]
        for xv, yv in zip(xs, ys):
            if yv is None:
                runs.append([])
            else:
                runs[-1].append(f"{px(x(xv))},{px(y(yv))}")
        if markers or k in marked:  # hollow: every point but the last; filled: the last
            marks = [(xv, yv) for xv, yv in zip(xs, ys) if yv is not None]
            for j, (xm, ym) in enumerate(marks):
                last = j == len(marks) - 1 or k in marked
                body.append(
                    f'<circle cx="{px(x(xm))}" cy="{px(y(ym))}" r="4.5" '
                    f'fill="{colour if last else "#ffffff"}" stroke="{colour}" stroke-width="2">'
                    f"<title>{esc(name)}: {esc(fmt_num(ym))}</title></circle>"
                )
        for run in runs:
            if len(run) == 1 and k not in marked:
                cx, cy = run[0].split(",")
                body.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>')
            elif run:
                d = f' stroke-dasharray="{dash}"' if dash else ""
                body.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                    f'stroke-width="2"{d}><title>{esc(name)}</title></polyline>'
                )
        if len(series) > 1:
            ly = top + plot_h + bottom + 18 * k + 6
            d = f' stroke-dasharray="{dash}"' if dash else ""
            body.append(
                f'<line x1="{left}" y1="{ly}" x2="{left + 24}" y2="{ly}" stroke="{colour}" '
                f'stroke-width="2"{d}/>'
            )
            body.append(text(left + 30, ly, name, size=11))
    title = str(chart.get("title") or "")
    desc = str(chart.get("description") or "") or (
        f"Line chart of {len(series)} series"
        + (f" of {ylabel} against {xlabel}" if xlabel and ylabel else "") + "."
    )  # fmt: skip
    return svg(uid, width, height, title, desc, body)


def numbers(data: Mapping[str, Any]) -> tuple[list[str], list[list[str]], str]:
    """Return every point (few points, ``markers``) or each series' ranges as a table."""
    series = list(data.get("series") or [])
    rows: list[list[str]] = []
    if data.get("markers"):  # few points: list them all
        cols = ["Series", str(data.get("xlabel") or "x"), str(data.get("ylabel") or "y")]
        for s in series:
            for xv, yv in zip(s.get("x", []), s.get("y", [])):
                rows.append([str(s.get("name", "")), fmt_num(xv), fmt_num(yv)])
        return cols, rows, ""
    cols = ["Series", "Points", str(data.get("xlabel") or "x") + " range",
            str(data.get("ylabel") or "y") + " range"]  # fmt: skip
    for s in series:
        xs = [v for v in s.get("x", []) if v is not None]
        ys = [v for v in s.get("y", []) if v is not None]
        rows.append([
            str(s.get("name", "")), fmt_num(len(xs)),
            fmt_ci([min(xs), max(xs)]) if xs else MISSING,
            fmt_ci([min(ys), max(ys)]) if ys else MISSING,
        ])  # fmt: skip
    return cols, rows, "The curve itself is drawn in card.html; its points are in audit.json."
