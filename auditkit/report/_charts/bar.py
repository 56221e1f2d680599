"""Bar charts: one bar per label, optional intervals (``lows``/``highs``) and a reference line.

``data``: ``labels``, ``values``, optional ``lows``, ``highs``, ``reference``,
``reference_label``, ``xlabel``, ``ylabel`` and ``horizontal`` (categories down the side: their
name is ``ylabel`` and the values run along ``xlabel``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
    short,
    svg,
    text,
    ticks,
)

__all__ = ["draw", "numbers"]


@dataclass(frozen=True)
class _Bars:
    """The checked data of a bar chart."""

    labels: list[str]
    values: list[float | None]
    lows: list[float | None] | None
    highs: list[float | None] | None
    ref: float | None
    ref_label: str
    xlabel: str
    ylabel: str
    lo: float
    hi: float

    @property
    def n(self) -> int:
        return max(len(self.labels), 1)

    def interval(self, i: int) -> tuple[float, float] | None:
        """Return bar ``i``'s interval, or None when it has none."""
        if self.lows is None or self.highs is None:
            return None
        low, high = self.lows[i], self.highs[i]
        return None if low is None or high is None else (low, high)


def _read(data: Mapping[str, Any]) -> _Bars:
    labels = [str(v) for v in list_of(data, "labels")]
    values = [num_or_none(v, "values") for v in list_of(data, "values")]
    if len(values) != len(labels):
        raise ChartDataError(f"{len(labels)} labels but {len(values)} values")
    lows_raw, highs_raw = data.get("lows"), data.get("highs")
    lows = [num_or_none(v, "lows") for v in lows_raw] if lows_raw is not None else None
    highs = [num_or_none(v, "highs") for v in highs_raw] if highs_raw is not None else None
    for name, arr in (("lows", lows), ("highs", highs)):
        if arr is not None and len(arr) != len(labels):
            raise ChartDataError(f"{len(labels)} labels but {len(arr)} {name}")
    ref = num_or_none(data.get("reference"), "reference")
    every = [*values, *(lows or []), *(highs or []), ref]
    lo, hi = domain([v for v in every if v is not None], include_zero=True)
    return _Bars(
        labels, values, lows, highs, ref,
        ref_label=str(data.get("reference_label") or f"reference {fmt_num(ref)}"),
        xlabel=str(data.get("xlabel") or ""), ylabel=str(data.get("ylabel") or ""), lo=lo, hi=hi,
    )  # fmt: skip


def draw(chart: Mapping[str, Any], uid: str) -> str:
    """Return the SVG of a bar chart (vertical bars, or horizontal ones with ``horizontal``)."""
    data = chart["data"]
    b = _read(data)
    title = str(chart.get("title") or "")
    desc = str(chart.get("description") or "") or (
        f"Bar chart of {len(b.labels)} values" + (f" of {b.ylabel}" if b.ylabel else "")
        + "; the numbers are listed in the table below the chart."
    )  # fmt: skip
    horizontal = bool(data.get("horizontal", False))
    width, height, body = _horizontal(b) if horizontal else _vertical(b)
    return svg(uid, width, height, title, desc, body)


def _horizontal(b: _Bars) -> tuple[float, float, list[str]]:
    lo, hi, ref = b.lo, b.hi, b.ref
    body: list[str] = []
    label_w = min(220, 12 + 7 * max((len(short(s)) for s in b.labels), default=4))
    left, right, row_h = label_w, 70, 24
    top = 24 if ref is not None or b.ylabel else 10
    width = WIDTH
    height = top + b.n * row_h + 44
    x = scale(lo, hi, left, width - right)
    y0, y1 = top, top + b.n * row_h
    for t in ticks(lo, hi):
        body.append(line(x(t), y0, x(t), y1, stroke=LIGHT))
        body.append(text(x(t), y1 + 12, fmt_num(t), anchor="middle", size=11, fill=GREY))
    if b.xlabel:  # the horizontal (value) axis
        body.append(text((left + width - right) / 2, y1 + 32, b.xlabel, anchor="middle",
                         fill=GREY))  # fmt: skip
    if b.ylabel:  # the categories, named above their labels
        body.append(text(left - 6, top - 12 if ref is None else 12, short(b.ylabel, 30),
                         anchor="end", size=11, fill=GREY, weight="600"))  # fmt: skip
    for i, (lab, v) in enumerate(zip(b.labels, b.values)):
        cy = top + i * row_h + row_h / 2
        body.append(text(left - 6, cy, short(lab), anchor="end"))
        if v is None:
            body.append(text(x(max(lo, 0.0)) + 4, cy, "n/a", fill=GREY, size=11))
            continue
        a, e = sorted((x(max(lo, 0.0)), x(v)))
        body.append(
            f'<rect x="{px(a)}" y="{px(cy - 8)}" width="{px(max(e - a, 0.5))}" height="16" '
            f'fill="{OKABE_ITO[0]}"><title>{esc(lab)}: {esc(fmt_num(v))}</title></rect>'
        )
        end = e
        ci = b.interval(i)
        if ci is not None:
            l_, h_ = x(ci[0]), x(ci[1])
            body.append(line(l_, cy, h_, cy, stroke="#000000", width=1.2))
            body.append(line(l_, cy - 5, l_, cy + 5, stroke="#000000", width=1.2))
            body.append(line(h_, cy - 5, h_, cy + 5, stroke="#000000", width=1.2))
            end = max(end, h_)
        body.append(text(end + 5, cy, fmt_num(v), size=11))
    if ref is not None:
        body.append(line(x(ref), y0 - 4, x(ref), y1, stroke=OKABE_ITO[3], width=1.5, dash="5 3"))
        body.append(text(x(ref), 12, b.ref_label, anchor="middle", size=10, fill=OKABE_ITO[3]))
    return width, height, body


def _vertical(b: _Bars) -> tuple[float, float, list[str]]:
    lo, hi, ref, labels = b.lo, b.hi, b.ref, b.labels
    body: list[str] = []
    rotate = b.n > 6 or max((len(s) for s in labels), default=0) > 10
    left, right, top = 60, 16, 18
    longest = max((len(short(s, 20)) for s in labels), default=4)
    bottom = 40 + (min(90, round(4.4 * longest)) if rotate else 0)
    plot_h = 220
    width = max(WIDTH, left + right + b.n * 28)
    height = top + plot_h + bottom
    y = scale(lo, hi, top + plot_h, top)
    x0, x1 = left, width - right
    col = (x1 - x0) / b.n
    for t in ticks(lo, hi):
        body.append(line(x0, y(t), x1, y(t), stroke=LIGHT))
        body.append(text(x0 - 6, y(t), fmt_num(t), anchor="end", size=11, fill=GREY))
    if b.ylabel:
        body.append(text(14, top + plot_h / 2, b.ylabel, anchor="middle", fill=GREY, rotate=-90))
    if b.xlabel:
        body.append(text((x0 + x1) / 2, height - 8, b.xlabel, anchor="middle", fill=GREY))
    base = y(max(lo, 0.0))
    for i, (lab, v) in enumerate(zip(labels, b.values)):
        cx = x0 + (i + 0.5) * col
        bw = min(48.0, col * 0.7)
        ly = top + plot_h + 12
        if rotate:
            body.append(text(cx, ly, short(lab, 20), anchor="end", rotate=-40, size=11))
        else:
            body.append(text(cx, ly, lab, anchor="middle", size=11))
        if v is None:
            body.append(text(cx, base - 8, "n/a", anchor="middle", fill=GREY, size=11))
            continue
        a, e = sorted((base, y(v)))
        body.append(
            f'<rect x="{px(cx - bw / 2)}" y="{px(a)}" width="{px(bw)}" '
            f'height="{px(max(e - a, 0.5))}" fill="{OKABE_ITO[0]}">'
            f"<title>{esc(lab)}: {esc(fmt_num(v))}</title></rect>"
        )
        top_y = a
        ci = b.interval(i)
        if ci is not None:
            l_, h_ = y(ci[0]), y(ci[1])
            body.append(line(cx, l_, cx, h_, stroke="#000000", width=1.2))
            body.append(line(cx - 5, l_, cx + 5, l_, stroke="#000000", width=1.2))
            body.append(line(cx - 5, h_, cx + 5, h_, stroke="#000000", width=1.2))
            top_y = min(top_y, h_)
        if col >= 34:
            body.append(text(cx, top_y - 7, fmt_num(v), anchor="middle", size=10))
    body.append(line(x0, base, x1, base, stroke=GREY))
    if ref is not None:
        body.append(line(x0, y(ref), x1, y(ref), stroke=OKABE_ITO[3], width=1.5, dash="5 3"))
        body.append(text(x1, y(ref) - 6, b.ref_label, anchor="end", size=10, fill=OKABE_ITO[3]))
    return width, height, body


def numbers(data: Mapping[str, Any]) -> tuple[list[str], list[list[str]], str]:
    """Return the bars as a table: label, value and (when given) interval."""
    labels = list(data.get("labels") or [])
    values = list(data.get("values") or [])
    lows, highs = data.get("lows"), data.get("highs")
    cols = [str(data.get("xlabel") or "Label"), str(data.get("ylabel") or "Value")]
    if data.get("horizontal"):
        cols = [str(data.get("ylabel") or "Label"), str(data.get("xlabel") or "Value")]
    has_ci = lows is not None and highs is not None
    if has_ci:
        cols.append("Interval")
    rows: list[list[str]] = []
    for k, (lab, v) in enumerate(zip(labels, values)):
        row = [str(lab), fmt_num(v)]
        if has_ci:
            lo, hi = lows[k], highs[k]  # type: ignore[index]
            row.append(fmt_ci([lo, hi]) if lo is not None and hi is not None
                       else MISSING)  # fmt: skip
        rows.append(row)
    note = ""
    if data.get("reference") is not None:
        note = f"Reference line at {fmt_num(data.get('reference'))}."
    return cols, rows, note
