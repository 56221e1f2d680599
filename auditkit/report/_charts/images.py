"""Images: PNG figures with captions (attribution maps of image models).

``data``: ``items``, a list of ``{"png_base64", "caption"}``; anything but a PNG is not embedded.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from .draw import ChartDataError, esc, list_of

__all__ = ["draw", "numbers"]

_B64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def draw(chart: Mapping[str, Any], uid: str) -> str:
    """Return the images as HTML figures (``uid`` is unused: figures need no ids)."""
    items = list_of(chart["data"], "items")
    parts = [f'<div class="chart-images" role="group" aria-label="{esc(chart.get("title", ""))}">']
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
            parts.append(f'<img src="data:image/png;base64,{b64}" alt="{esc(caption)}">')
        else:
            parts.append('<p class="chart-error">(not a PNG image; not shown)</p>')
        parts.append(f"<figcaption>{esc(caption)}</figcaption></figure>")
    parts.append("</div>")
    return "".join(parts)


def numbers(data: Mapping[str, Any]) -> tuple[list[str], list[list[str]], str]:
    """Return the captions (the images themselves are in the HTML card)."""
    rows = [[str(it.get("caption", ""))] for it in data.get("items") or []]
    return ["Image"], rows, "The images are embedded in card.html."
