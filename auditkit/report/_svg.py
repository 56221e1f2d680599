"""Inline SVG (and HTML) drawings of the result's charts, built in code with every text escaped.

One function per chart kind (``bar``, ``line``, ``heatmap``, ``images``, ``tokens``; the layout of
``Chart.data`` is documented in the result model). Axis labels are geometric: ``xlabel`` names
the horizontal axis and ``ylabel`` the vertical one, so a horizontal bar chart (``horizontal``:
true) has its values along ``xlabel`` and its categories along ``ylabel``.
:func:`render_chart` dispatches on the kind and returns :class:`markupsafe.Markup`: the only
place the HTML card marks text as safe, because every string from the data passes through
:func:`html.escape` here and every number is formatted by this module. Colours come from the
Okabe-Ito palette, which stays distinguishable with colour blindness, and every chart carries
``<title>``/``<desc>`` for screen readers.
"""

from __future__ import annotations

import base64
import binascii
import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from markupsafe import Markup

from ._filters import OKABE_ITO, fmt_num

__all__ = ["CHART_KINDS", "render_chart"]

_FONT = 12
_GREY = "#6b6b6b"
_LIGHT = "#e4e4e4"
_W = 640  # default drawing width in px (the CSS scales it down on narrow screens)


class ChartDataError(ValueError):
    """The data of a chart does not follow the layout of its kind."""


# ------------------------------------------------------------------------------ primitives
def _e(text: Any) -> str:
    """Escape any value for use in SVG/HTML text or a quoted attribute."""
    return html.escape(str(text), quote=True)


def _f(x: float) -> str:
    """Format a coordinate with one decimal, no trailing zeros."""
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(
    x: float,
    y: float,
    s: Any,
    *,
    anchor: str = "start",
    size: int = _FONT,
    fill: str = "#222222",
    rotate: float | None = None,
    weight: str | None = None,
    baseline: str | None = "middle",
) -> str:
    attrs = [f'x="{_f(x)}"', f'y="{_f(y)}"', f'font-size="{size}"', f'fill="{fill}"']
    if anchor != "start":
        attrs.append(f'text-anchor="{anchor}"')
    if baseline:
        attrs.append(f'dominant-baseline="{baseline}"')
    if weight:
        attrs.append(f'font-weight="{weight}"')
    if rotate is not None:
        attrs.append(f'transform="rotate({_f(rotate)} {_f(x)} {_f(y)})"')
    return f"<text {' '.join(attrs)}>{_e(s)}</text>"


def _line(
    x1: float, y1: float, x2: float, y2: float, *, stroke: str = _GREY, width: float = 1,
    dash: str | None = None,
) -> str:  # fmt: skip
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" stroke="{stroke}" '
        f'stroke-width="{_f(width)}"{d}/>'
    )


def _svg(uid: str, width: float, height: float, title: str, desc: str, body: list[str]) -> str:
    return (
        f'<svg class="chart-svg" role="img" '
        f'width="{_f(width)}" height="{_f(height)}" viewBox="0 0 {_f(width)} {_f(height)}" '
        f'aria-labelledby="{uid}-title {uid}-desc" font-family="system-ui, sans-serif">'
        f'<title id="{uid}-title">{_e(title)}</title><desc id="{uid}-desc">{_e(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _num_or_none(x: Any, what: str) -> float | None:
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ChartDataError(f"{what} must be a number or null; got {type(x).__name__}")
    f = float(x)
    return f if math.isfinite(f) else None


def _list(data: Mapping[str, Any], key: str, *, required: bool = True) -> list[Any]:
    v = data.get(key)
    if v is None:
        if required:
            raise ChartDataError(f"missing list {key!r}")
        return []
    if not isinstance(v, list):
        raise ChartDataError(f"{key!r} must be a list; got {type(v).__name__}")
    return v


def _nice_step(span: float, target: int = 5) -> float:
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def _domain(values: Sequence[float], *, include_zero: bool = False) -> tuple[float, float]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if include_zero:
        vals.append(0.0)
    if not vals:
        return 0.0, 1.0
    lo, hi = min(vals), max(vals)
    if 0.0 <= lo and hi <= 1.0 and hi > 0.5:
        return (0.0 if include_zero or lo < 0.5 else lo), 1.0
    if lo == hi:
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    step = _nice_step(hi - lo)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step


def _ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    step = _nice_step(hi - lo, target)
    start = math.ceil(lo / step - 1e-9) * step
    out: list[float] = []
    t = start
    while t <= hi + step * 1e-9 and len(out) < 50:
        out.append(0.0 if abs(t) < step * 1e-9 else t)
        t += step
    return out


def _scale(lo: float, hi: float, a: float, b: float) -> Callable[[float], float]:
    span = hi - lo or 1.0

    def f(v: float) -> float:
        return a + (v - lo) / span * (b - a)

    return f


def _mix(hex_colour: str, t: float) -> str:
    """Blend white (t=0) toward ``hex_colour`` (t=1)."""
    t = min(1.0, max(0.0, t))
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02x}{:02x}{:02x}".format(*(round(255 + (c - 255) * t) for c in (r, g, b)))


def _luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# ------------------------------------------------------------------------------------- bar
def _bar(chart: Mapping[str, Any], uid: str) -> str:
    data = chart["data"]
    labels = [str(v) for v in _list(data, "labels")]
    values = [_num_or_none(v, "values") for v in _list(data, "values")]
    if len(values) != len(labels):
        raise ChartDataError(f"{len(labels)} labels but {len(values)} values")
    lows_raw, highs_raw = data.get("lows"), data.get("highs")
    lows = [_num_or_none(v, "lows") for v in lows_raw] if lows_raw is not None else None
    highs = [_num_or_none(v, "highs") for v in highs_raw] if highs_raw is not None else None
    for name, arr in (("lows", lows), ("highs", highs)):
        if arr is not None and len(arr) != len(labels):
            raise ChartDataError(f"{len(labels)} labels but {len(arr)} {name}")
    ref = _num_or_none(data.get("reference"), "reference")
    ref_label = str(data.get("reference_label") or f"reference {fmt_num(ref)}")
    xlabel, ylabel = str(data.get("xlabel") or ""), str(data.get("ylabel") or "")
    horizontal = bool(data.get("horizontal", False))
    every = [*values, *(lows or []), *(highs or []), ref]
    lo, hi = _domain([v for v in every if v is not None], include_zero=True)
    n = max(len(labels), 1)
    title = str(chart.get("title") or "")
    desc = str(chart.get("description") or "") or (
        f"Bar chart of {len(labels)} values" + (f" of {ylabel}" if ylabel else "")
        + "; the numbers are listed in the table below the chart."
    )  # fmt: skip
    body: list[str] = []
    if horizontal:
        label_w = min(220, 12 + 7 * max((len(_short(s)) for s in labels), default=4))
        left, right, row_h = label_w, 70, 24
        top = 24 if ref is not None or ylabel else 10
        width = _W
        height = top + n * row_h + 44
        x = _scale(lo, hi, left, width - right)
        y0, y1 = top, top + n * row_h
        for t in _ticks(lo, hi):
            body.append(_line(x(t), y0, x(t), y1, stroke=_LIGHT))
            body.append(_text(x(t), y1 + 12, fmt_num(t), anchor="middle", size=11, fill=_GREY))
        if xlabel:  # the horizontal (value) axis
            body.append(_text((left + width - right) / 2, y1 + 32, xlabel, anchor="middle",
                              fill=_GREY))  # fmt: skip
        if ylabel:  # the categories, named above their labels
            body.append(_text(left - 6, top - 12 if ref is None else 12, _short(ylabel, 30),
                              anchor="end", size=11, fill=_GREY, weight="600"))  # fmt: skip
        for i, (lab, v) in enumerate(zip(labels, values)):
            cy = top + i * row_h + row_h / 2
            body.append(_text(left - 6, cy, _short(lab), anchor="end"))
            if v is None:
                body.append(_text(x(max(lo, 0.0)) + 4, cy, "n/a", fill=_GREY, size=11))
                continue
            a, b = sorted((x(max(lo, 0.0)), x(v)))
            body.append(
                f'<rect x="{_f(a)}" y="{_f(cy - 8)}" width="{_f(max(b - a, 0.5))}" height="16" '
                f'fill="{OKABE_ITO[0]}"><title>{_e(lab)}: {_e(fmt_num(v))}</title></rect>'
            )
            end = b
            if (
                lows is not None
                and highs is not None
                and lows[i] is not None
                and highs[i] is not None
            ):
                l_, h_ = x(lows[i]), x(highs[i])  # type: ignore[arg-type]
                body.append(_line(l_, cy, h_, cy, stroke="#000000", width=1.2))
                body.append(_line(l_, cy - 5, l_, cy + 5, stroke="#000000", width=1.2))
                body.append(_line(h_, cy - 5, h_, cy + 5, stroke="#000000", width=1.2))
                end = max(end, h_)
            body.append(_text(end + 5, cy, fmt_num(v), size=11))
        if ref is not None:
            body.append(
                _line(x(ref), y0 - 4, x(ref), y1, stroke=OKABE_ITO[3], width=1.5, dash="5 3")
            )
            body.append(
                _text(
                    x(ref),
                    12,
                    ref_label,
                    anchor="middle",
                    size=10,
                    fill=OKABE_ITO[3],
                )  # fmt: skip
            )
    else:
        rotate = n > 6 or max((len(s) for s in labels), default=0) > 10
        left, right, top = 60, 16, 18
        longest = max((len(_short(s, 20)) for s in labels), default=4)
        bottom = 40 + (min(90, round(4.4 * longest)) if rotate else 0)
        plot_h = 220
        width = max(_W, left + right + n * 28)
        height = top + plot_h + bottom
        y = _scale(lo, hi, top + plot_h, top)
        x0, x1 = left, width - right
        col = (x1 - x0) / n
        for t in _ticks(lo, hi):
            body.append(_line(x0, y(t), x1, y(t), stroke=_LIGHT))
            body.append(_text(x0 - 6, y(t), fmt_num(t), anchor="end", size=11, fill=_GREY))
        if ylabel:
            body.append(
                _text(14, top + plot_h / 2, ylabel, anchor="middle", fill=_GREY, rotate=-90)
            )
        if xlabel:
            body.append(_text((x0 + x1) / 2, height - 8, xlabel, anchor="middle", fill=_GREY))
        base = y(max(lo, 0.0))
        for i, (lab, v) in enumerate(zip(labels, values)):
            cx = x0 + (i + 0.5) * col
            bw = min(48.0, col * 0.7)
            ly = top + plot_h + 12
            if rotate:
                body.append(_text(cx, ly, _short(lab, 20), anchor="end", rotate=-40, size=11))
            else:
                body.append(_text(cx, ly, lab, anchor="middle", size=11))
            if v is None:
                body.append(_text(cx, base - 8, "n/a", anchor="middle", fill=_GREY, size=11))
                continue
            a, b = sorted((base, y(v)))
            body.append(
                f'<rect x="{_f(cx - bw / 2)}" y="{_f(a)}" width="{_f(bw)}" '
                f'height="{_f(max(b - a, 0.5))}" fill="{OKABE_ITO[0]}">'
                f"<title>{_e(lab)}: {_e(fmt_num(v))}</title></rect>"
            )
            top_y = a
            if (
                lows is not None
                and highs is not None
                and lows[i] is not None
                and highs[i] is not None
            ):
                l_, h_ = y(lows[i]), y(highs[i])  # type: ignore[arg-type]
                body.append(_line(cx, l_, cx, h_, stroke="#000000", width=1.2))
                body.append(_line(cx - 5, l_, cx + 5, l_, stroke="#000000", width=1.2))
                body.append(_line(cx - 5, h_, cx + 5, h_, stroke="#000000", width=1.2))
                top_y = min(top_y, h_)
            if col >= 34:
                body.append(_text(cx, top_y - 7, fmt_num(v), anchor="middle", size=10))
        body.append(_line(x0, base, x1, base, stroke=_GREY))
        if ref is not None:
            body.append(_line(x0, y(ref), x1, y(ref), stroke=OKABE_ITO[3], width=1.5, dash="5 3"))
            body.append(
                _text(
                    x1,
                    y(ref) - 6,
                    ref_label,
                    anchor="end",
                    size=10,
                    fill=OKABE_ITO[3],
                )
            )
    return _svg(uid, width, height, title, desc, body)


# ------------------------------------------------------------------------------------ line
def _line_chart(chart: Mapping[str, Any], uid: str) -> str:
    data = chart["data"]
    series_raw = _list(data, "series")
    logx = bool(data.get("logx", False))
    diagonal = bool(data.get("diagonal", False))
    markers = bool(data.get("markers", False))
    series: list[tuple[str, list[float], list[float | None]]] = []
    for k, s in enumerate(series_raw):
        if not isinstance(s, Mapping):
            raise ChartDataError(f"series {k} must be an object")
        x_raw = [_num_or_none(v, "x") for v in _list(s, "x")]
        y_raw = [_num_or_none(v, "y") for v in _list(s, "y")]
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
    all_x: list[float] = [v for _, xs, _ in series for v in xs]
    all_y: list[float] = [v for _, _, ys in series for v in ys if v is not None]
    if diagonal:  # y = x: the chance line of ROC-type curves
        all_y += [0.0, 1.0]
        if not logx:
            all_x += [0.0, 1.0]
    xlo, xhi = _domain(all_x)
    ylo, yhi = _domain(all_y)
    if logx:
        xlo, xhi = math.floor(min(all_x, default=0.0)), math.ceil(max(all_x, default=1.0))
        if xlo == xhi:
            xhi = xlo + 1
    xlabel, ylabel = str(data.get("xlabel") or ""), str(data.get("ylabel") or "")
    left, right, top, bottom = 60, 16, 14, 46
    legend_h = 18 * len(series) if len(series) > 1 else 0
    plot_w, plot_h = _W - left - right, 240
    width, height = _W, top + plot_h + bottom + legend_h
    x = _scale(xlo, xhi, left, left + plot_w)
    y = _scale(ylo, yhi, top + plot_h, top)
    body: list[str] = []
    xt = list(range(int(xlo), int(xhi) + 1)) if logx else _ticks(xlo, xhi)
    for t in xt:
        body.append(_line(x(t), top, x(t), top + plot_h, stroke=_LIGHT))
        lab = fmt_num(10.0**t) if logx else fmt_num(t)
        body.append(_text(x(t), top + plot_h + 12, lab, anchor="middle", size=11, fill=_GREY))
    for t in _ticks(ylo, yhi):
        body.append(_line(left, y(t), left + plot_w, y(t), stroke=_LIGHT))
        body.append(_text(left - 6, y(t), fmt_num(t), anchor="end", size=11, fill=_GREY))
    body.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="{_GREY}"/>'
    )
    if diagonal and logx:
        ts = [xlo + (xhi - xlo) * i / 60 for i in range(61)]
        pts = [f"{_f(x(t))},{_f(y(10.0**t))}" for t in ts if ylo <= 10.0**t <= yhi]
        if len(pts) > 1:
            body.append(
                f'<polyline points="{" ".join(pts)}" fill="none" stroke="{_GREY}" '
                'stroke-dasharray="4 4"/>'
            )
    elif diagonal:
        a, b = max(xlo, ylo), min(xhi, yhi)
        body.append(_line(x(a), y(a), x(b), y(b), stroke=_GREY, dash="4 4"))
    if xlabel:
        note = " (log scale)" if logx and "log" not in xlabel.lower() else ""
        body.append(_text(left + plot_w / 2, top + plot_h + 32, xlabel + note,
                          anchor="middle", fill=_GREY))  # fmt: skip
    if ylabel:
        body.append(_text(14, top + plot_h / 2, ylabel, anchor="middle", fill=_GREY, rotate=-90))
    dashes = (None, "6 3", "2 2", "8 3 2 3")
    for k, (name, xs, ys) in enumerate(series):
        colour = OKABE_ITO[k % len(OKABE_ITO)]
        dash = dashes[k % len(dashes)] if len(series) > 1 else None
        runs: list[list[str]] = [[]]
        for xv, yv in zip(xs, ys):
            if yv is None:
                runs.append([])
            else:
                runs[-1].append(f"{_f(x(xv))},{_f(y(yv))}")
        if markers:  # hollow: every point but the last; filled: the last (where it ends up)
            marks = [(xv, yv) for xv, yv in zip(xs, ys) if yv is not None]
            for j, (xm, ym) in enumerate(marks):
                last = j == len(marks) - 1
                body.append(
                    f'<circle cx="{_f(x(xm))}" cy="{_f(y(ym))}" r="4.5" '
                    f'fill="{colour if last else "#ffffff"}" stroke="{colour}" stroke-width="2">'
                    f"<title>{_e(name)}: {_e(fmt_num(ym))}</title></circle>"
                )
        for run in runs:
            if len(run) == 1:
                cx, cy = run[0].split(",")
                body.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>')
            elif run:
                d = f' stroke-dasharray="{dash}"' if dash else ""
                body.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                    f'stroke-width="2"{d}><title>{_e(name)}</title></polyline>'
                )
        if len(series) > 1:
            ly = top + plot_h + bottom + 18 * k + 6
            d = f' stroke-dasharray="{dash}"' if dash else ""
            body.append(
                f'<line x1="{left}" y1="{ly}" x2="{left + 24}" y2="{ly}" stroke="{colour}" '
                f'stroke-width="2"{d}/>'
            )
            body.append(_text(left + 30, ly, name, size=11))
    title = str(chart.get("title") or "")
    desc = str(chart.get("description") or "") or (
        f"Line chart of {len(series)} series"
        + (f" of {ylabel} against {xlabel}" if xlabel and ylabel else "") + "."
    )  # fmt: skip
    return _svg(uid, width, height, title, desc, body)


# --------------------------------------------------------------------------------- heatmap
def _heatmap(chart: Mapping[str, Any], uid: str) -> str:
    data = chart["data"]
    rows = [str(v) for v in _list(data, "rows")]
    cols = [str(v) for v in _list(data, "cols")]
    raw = _list(data, "values")
    if len(raw) != len(rows):
        raise ChartDataError(f"{len(rows)} rows but {len(raw)} rows of values")
    values: list[list[float | None]] = []
    for i, r in enumerate(raw):
        if not isinstance(r, list) or len(r) != len(cols):
            raise ChartDataError(f"row {i} of values must be a list of {len(cols)} numbers")
        values.append([_num_or_none(v, "values") for v in r])
    flat = [v for r in values for v in r if v is not None]
    vmin, vmax = (min(flat), max(flat)) if flat else (0.0, 1.0)
    diverging = vmin < 0 < vmax
    bound = max(abs(vmin), abs(vmax)) or 1.0
    row_w = min(200, 12 + 7 * max((len(_short(s, 24)) for s in rows), default=4))
    rotate = any(len(c) > 4 for c in cols) or len(cols) > 10
    head = 16 + (min(110, 6 * max((len(_short(s, 18)) for s in cols), default=3))
                 if rotate else 4)  # fmt: skip
    cell_w = max(16.0, min(64.0, (_W - row_w - 20) / max(len(cols), 1)))
    cell_h = 22.0 if len(rows) <= 30 else 14.0
    show_vals = cell_w >= 40 and cell_h >= 20
    width = row_w + cell_w * len(cols) + (70 if rotate else 20)
    height = head + cell_h * len(rows) + 40
    body: list[str] = []
    for j, c in enumerate(cols):
        cx = row_w + (j + 0.5) * cell_w
        if rotate:
            body.append(_text(cx, head - 6, _short(c, 18), anchor="start", rotate=-50, size=11))
        else:
            body.append(_text(cx, head - 8, c, anchor="middle", size=11))
    for i, r in enumerate(rows):
        cy = head + (i + 0.5) * cell_h
        body.append(_text(row_w - 6, cy, _short(r, 24), anchor="end", size=11))
        for j, v in enumerate(values[i]):
            x0 = row_w + j * cell_w
            if v is None:
                fill, label = "#f2f2f2", "n/a"
            elif diverging:
                fill = _mix(OKABE_ITO[0] if v >= 0 else OKABE_ITO[3], abs(v) / bound)
                label = fmt_num(v)
            else:
                t = 0.08 + 0.92 * ((v - vmin) / (vmax - vmin) if vmax > vmin else 1.0)
                fill, label = _mix(OKABE_ITO[0], t), fmt_num(v)
            body.append(
                f'<rect x="{_f(x0)}" y="{_f(head + i * cell_h)}" width="{_f(cell_w)}" '
                f'height="{_f(cell_h)}" fill="{fill}" stroke="#ffffff">'
                f"<title>{_e(r)} / {_e(cols[j])}: {_e(label)}</title></rect>"
            )
            if show_vals:
                ink = "#ffffff" if _luminance(fill) < 0.45 else "#222222"
                body.append(
                    _text(
                        x0 + cell_w / 2,
                        head + (i + 0.5) * cell_h,
                        label,
                        anchor="middle",
                        size=10,
                        fill=ink,
                    )
                )
    xlabel, ylabel = str(data.get("xlabel") or ""), str(data.get("ylabel") or "")
    foot = head + cell_h * len(rows) + 16
    scale_txt = (
        f"colour scale: {fmt_num(-bound)} (vermillion) to {fmt_num(bound)} (blue)"
        if diverging else f"colour scale: {fmt_num(vmin)} (light) to {fmt_num(vmax)} (dark blue)"
    )  # fmt: skip
    caption = " · ".join(s for s in (
        f"rows: {ylabel}" if ylabel else "", f"columns: {xlabel}" if xlabel else "", scale_txt
    ) if s)  # fmt: skip
    body.append(_text(row_w, foot, caption, size=10, fill=_GREY))
    width = max(width, row_w + 5.6 * len(caption) + 10)
    title = str(chart.get("title") or "")
    desc = str(chart.get("description") or "") or (
        f"Heat map of {len(rows)} rows by {len(cols)} columns; {scale_txt}."
    )
    return _svg(uid, max(width, 320), height, title, desc, body)


# ---------------------------------------------------------------------------------- images
_B64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _images(chart: Mapping[str, Any], uid: str) -> str:
    items = _list(chart["data"], "items")
    parts = [f'<div class="chart-images" role="group" aria-label="{_e(chart.get("title", ""))}">']
    for k, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ChartDataError(f"image {k} must be an object")
        b64 = "".join(str(item.get("png_base64", "")).split())
        caption = str(item.get("caption", ""))
        ok = bool(_B64.match(b64)) and len(b64) % 4 == 0
        if ok:
            try:
                ok = base64.b64decode(b64[:16], validate=True).startswith(_PNG_MAGIC)
            except (binascii.Error, ValueError):
                ok = False
        parts.append('<figure class="chart-image">')
        if ok:
            parts.append(f'<img src="data:image/png;base64,{b64}" alt="{_e(caption)}">')
        else:
            parts.append('<p class="chart-error">(not a PNG image; not shown)</p>')
        parts.append(f"<figcaption>{_e(caption)}</figcaption></figure>")
    parts.append("</div>")
    return "".join(parts)


# ---------------------------------------------------------------------------------- tokens
def _tokens(chart: Mapping[str, Any], uid: str) -> str:
    rows = _list(chart["data"], "rows")
    parts = [f'<div class="chart-tokens" role="group" aria-label="{_e(chart.get("title", ""))}">']
    for k, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ChartDataError(f"token row {k} must be an object")
        toks = [str(t) for t in _list(row, "tokens")]
        weights = [_num_or_none(w, "weights") for w in _list(row, "weights")]
        if len(toks) != len(weights):
            raise ChartDataError(
                f"token row {k} has {len(toks)} tokens but {len(weights)} weights"
            )
        spans = []
        for tok, w in zip(toks, weights):
            wv = 0.0 if w is None else max(-1.0, min(1.0, w))
            colour = OKABE_ITO[0] if wv >= 0 else OKABE_ITO[3]
            bg = _mix(colour, abs(wv) * 0.85)
            ink = "#ffffff" if _luminance(bg) < 0.45 else "#111111"
            spans.append(
                f'<span class="tok" style="background:{bg};color:{ink}" '
                f'title="weight {_e(fmt_num(w))}">{_e(tok)}</span>'
            )
        parts.append(f'<p class="token-row">{" ".join(spans)}</p>')
        if row.get("caption"):
            parts.append(f'<p class="token-caption">{_e(row["caption"])}</p>')
    parts.append(
        '<p class="token-legend">Blue: the token pushes toward the explained class; '
        "vermillion: away from it; stronger colour, stronger push.</p></div>"
    )
    return "".join(parts)


CHART_KINDS: dict[str, Callable[[Mapping[str, Any], str], str]] = {
    "bar": _bar,
    "line": _line_chart,
    "heatmap": _heatmap,
    "images": _images,
    "tokens": _tokens,
}


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
    draw = CHART_KINDS.get(kind)
    if draw is None:
        return Markup(
            f'<p class="chart-error">This version of auditkit cannot draw charts of kind '
            f"{_e(kind)!s}; the data is in audit.json.</p>"
        )
    if not isinstance(chart.get("data"), Mapping):
        return Markup('<p class="chart-error">Chart data is missing.</p>')
    try:
        return Markup(draw(chart, uid))
    except (ChartDataError, TypeError, ValueError, KeyError) as exc:
        return Markup(f'<p class="chart-error">Chart could not be drawn: {_e(exc)}</p>')
