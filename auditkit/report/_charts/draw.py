"""The drawing primitives every chart kind shares: escaped SVG text and lines, axes, colours.

Every string from the data passes through :func:`esc` (:func:`html.escape`) and every number is
formatted here or by :func:`auditkit.report._filters.fmt_num`, so a kind's drawing can be marked
safe HTML. Colours come from the Okabe-Ito palette, which stays distinguishable with colour
blindness.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "FONT", "GREY", "LIGHT", "WIDTH", "ChartDataError", "domain", "esc", "line", "list_of",
    "luminance", "mix", "num_or_none", "px", "scale", "short", "svg", "text", "ticks",
]  # fmt: skip

FONT = 12
GREY = "#6b6b6b"
LIGHT = "#e4e4e4"
WIDTH = 640  # default drawing width in px (the CSS scales it down on narrow screens)


class ChartDataError(ValueError):
    """The data of a chart does not follow the layout of its kind."""


# ------------------------------------------------------------------------------ primitives
def esc(text: Any) -> str:
    """Escape any value for use in SVG/HTML text or a quoted attribute."""
    return html.escape(str(text), quote=True)


def px(x: float) -> str:
    """Format a coordinate with one decimal, no trailing zeros."""
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


def short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text(
    x: float,
    y: float,
    s: Any,
    *,
    anchor: str = "start",
    size: int = FONT,
    fill: str = "#222222",
    rotate: float | None = None,
    weight: str | None = None,
    baseline: str | None = "middle",
) -> str:
    attrs = [f'x="{px(x)}"', f'y="{px(y)}"', f'font-size="{size}"', f'fill="{fill}"']
    if anchor != "start":
        attrs.append(f'text-anchor="{anchor}"')
    if baseline:
        attrs.append(f'dominant-baseline="{baseline}"')
    if weight:
        attrs.append(f'font-weight="{weight}"')
    if rotate is not None:
        attrs.append(f'transform="rotate({px(rotate)} {px(x)} {px(y)})"')
    return f"<text {' '.join(attrs)}>{esc(s)}</text>"


def line(
    x1: float, y1: float, x2: float, y2: float, *, stroke: str = GREY, width: float = 1,
    dash: str | None = None,
) -> str:  # fmt: skip
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{px(x1)}" y1="{px(y1)}" x2="{px(x2)}" y2="{px(y2)}" stroke="{stroke}" '
        f'stroke-width="{px(width)}"{d}/>'
    )


def svg(uid: str, width: float, height: float, title: str, desc: str, body: list[str]) -> str:
    return (
        f'<svg class="chart-svg" role="img" '
        f'width="{px(width)}" height="{px(height)}" viewBox="0 0 {px(width)} {px(height)}" '
        f'aria-labelledby="{uid}-title {uid}-desc" font-family="system-ui, sans-serif">'
        f'<title id="{uid}-title">{esc(title)}</title><desc id="{uid}-desc">{esc(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def num_or_none(x: Any, what: str) -> float | None:
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ChartDataError(f"{what} must be a number or null; got {type(x).__name__}")
    f = float(x)
    return f if math.isfinite(f) else None


def list_of(data: Mapping[str, Any], key: str, *, required: bool = True) -> list[Any]:
    v = data.get(key)
    if v is None:
        if required:
            raise ChartDataError(f"missing list {key!r}")
        return []
    if not isinstance(v, list):
        raise ChartDataError(f"{key!r} must be a list; got {type(v).__name__}")
    return v


def nice_step(span: float, target: int = 5) -> float:
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def domain(values: Sequence[float], *, include_zero: bool = False) -> tuple[float, float]:
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
    step = nice_step(hi - lo)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step


def ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    step = nice_step(hi - lo, target)
    start = math.ceil(lo / step - 1e-9) * step
    out: list[float] = []
    t = start
    while t <= hi + step * 1e-9 and len(out) < 50:
        out.append(0.0 if abs(t) < step * 1e-9 else t)
        t += step
    return out


def scale(lo: float, hi: float, a: float, b: float) -> Callable[[float], float]:
    span = hi - lo or 1.0

    def f(v: float) -> float:
        return a + (v - lo) / span * (b - a)

    return f


def mix(hex_colour: str, t: float) -> str:
    """Blend white (t=0) toward ``hex_colour`` (t=1)."""
    t = min(1.0, max(0.0, t))
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02x}{:02x}{:02x}".format(*(round(255 + (c - 255) * t) for c in (r, g, b)))


def luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
