"""Heat maps: a grid of values (confusion matrices, attributions by group...).

``data``: ``rows`` and ``cols`` (their labels), ``values`` (one list per row; None is shown as
n/a), optional ``xlabel`` (what the columns are) and ``ylabel`` (what the rows are). Values of
both signs get a diverging scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._filters import OKABE_ITO, fmt_num
from .draw import (
    GREY,
    WIDTH,
    ChartDataError,
    esc,
    list_of,
    luminance,
    mix,
    num_or_none,
    px,
    short,
    svg,
    text,
)

__all__ = ["draw", "numbers"]


def draw(chart: Mapping[str, Any], uid: str) -> str:
    """Return the SVG of a heat map."""
    data = chart["data"]
    rows = [str(v) for v in list_of(data, "rows")]
    cols = [str(v) for v in list_of(data, "cols")]
    raw = list_of(data, "values")
    if len(raw) != len(rows):
        raise ChartDataError(f"{len(rows)} rows but {len(raw)} rows of values")
    values: list[list[float | None]] = []
    for i, r in enumerate(raw):
        if not isinstance(r, list) or len(r) != len(cols):
            raise ChartDataError(f"row {i} of values must be a list of {len(cols)} numbers")
        values.append([num_or_none(v, "values") for v in r])
    flat = [v for r in values for v in r if v is not None]
    vmin, vmax = (min(flat), max(flat)) if flat else (0.0, 1.0)
    diverging = vmin < 0 < vmax
    bound = max(abs(vmin), abs(vmax)) or 1.0
    row_w = min(200, 12 + 7 * max((len(short(s, 24)) for s in rows), default=4))
    rotate = any(len(c) > 4 for c in cols) or len(cols) > 10
    head = 16 + (min(110, 6 * max((len(short(s, 18)) for s in cols), default=3))
                 if rotate else 4)  # fmt: skip
    cell_w = max(16.0, min(64.0, (WIDTH - row_w - 20) / max(len(cols), 1)))
    cell_h = 22.0 if len(rows) <= 30 else 14.0
    show_vals = cell_w >= 40 and cell_h >= 20
    width = row_w + cell_w * len(cols) + (70 if rotate else 20)
    height = head + cell_h * len(rows) + 40
    body: list[str] = []
    for j, c in enumerate(cols):
        cx = row_w + (j + 0.5) * cell_w
        if rotate:
            body.append(text(cx, head - 6, short(c, 18), anchor="start", rotate=-50, size=11))
        else:
            body.append(text(cx, head - 8, c, anchor="middle", size=11))
    for i, r in enumerate(rows):
        cy = head + (i + 0.5) * cell_h
        body.append(text(row_w - 6, cy, short(r, 24), anchor="end", size=11))
        for j, v in enumerate(values[i]):
            x0 = row_w + j * cell_w
            if v is None:
                fill, label = "#f2f2f2", "n/a"
            elif diverging:
                fill = mix(OKABE_ITO[0] if v >= 0 else OKABE_ITO[3], abs(v) / bound)
                label = fmt_num(v)
            else:
                t = 0.08 + 0.92 * ((v - vmin) / (vmax - vmin) if vmax > vmin else 1.0)
                fill, label = mix(OKABE_ITO[0], t), fmt_num(v)
            body.append(
                f'<rect x="{px(x0)}" y="{px(head + i * cell_h)}" width="{px(cell_w)}" '
                f'height="{px(cell_h)}" fill="{fill}" stroke="#ffffff">'
                f"<title>{esc(r)} / {esc(cols[j])}: {esc(label)}</title></rect>"
            )
            if show_vals:
                ink = "#ffffff" if luminance(fill) < 0.45 else "#222222"
                body.append(
                    text(
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
    body.append(text(row_w, foot, caption, size=10, fill=GREY))
    width = max(width, row_w + 5.6 * len(caption) + 10)
    title = str(chart.get("title") or "")
    desc = str(chart.get("description") or "") or (
        f"Heat map of {len(rows)} rows by {len(cols)} columns; {scale_txt}."
    )
    return svg(uid, max(width, 320), height, title, desc, body)


def numbers(data: Mapping[str, Any]) -> tuple[list[str], list[list[str]], str]:
    """Return the grid as a table, one row per row of the map."""
    cols = [str(data.get("ylabel") or ""), *[str(c) for c in data.get("cols") or []]]
    rows = [[str(r), *[fmt_num(v) for v in vals]]
            for r, vals in zip(data.get("rows") or [], data.get("values") or [])]  # fmt: skip
    return cols, rows, ""
