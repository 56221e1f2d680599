"""Render an audit result as an HTML card and a Markdown card, and write all outputs.

(First cut, so the package imports; the full card templates follow.)
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from .._io import atomic_write_text
from ._json import to_json
from ._model import AuditResult

__all__ = ["render_html", "render_markdown", "write_outputs"]


def _as_dict(result: AuditResult | dict[str, Any]) -> dict[str, Any]:
    return result.to_dict() if isinstance(result, AuditResult) else result


def render_html(result: AuditResult | dict[str, Any]) -> str:
    """Return the HTML card of ``result`` (an AuditResult or its ``to_dict()``)."""
    d = _as_dict(result)
    body = html.escape(json.dumps(d, indent=2, sort_keys=True))
    return f"<!doctype html><html><body><pre>{body}</pre></body></html>\n"


def render_markdown(result: AuditResult | dict[str, Any]) -> str:
    """Return the Markdown card of ``result`` (an AuditResult or its ``to_dict()``)."""
    d = _as_dict(result)
    return "```json\n" + json.dumps(d, indent=2, sort_keys=True) + "\n```\n"


def write_outputs(
    result: AuditResult, out_dir: str | os.PathLike[str], *, overwrite: bool = True
) -> dict[str, Path]:
    """Write audit.json, card.html and card.md to ``out_dir`` after all three rendered."""
    texts = {
        "json": ("audit.json", to_json(result)),
        "html": ("card.html", render_html(result)),
        "markdown": ("card.md", render_markdown(result)),
    }
    out = Path(out_dir)
    return {k: atomic_write_text(out / name, text) for k, (name, text) in texts.items()}
