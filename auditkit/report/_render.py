"""Render an audit result as an HTML card and a Markdown card, and write all outputs.

Renderers only format: they take ``AuditResult.to_dict()`` (what ``audit.json`` holds), so a card
can never show a number the JSON lacks, and ``auditkit render audit.json`` re-creates the cards
from the JSON alone. :func:`build_view` turns the JSON data into rows of display strings (all
formatting lives in :mod:`._filters`); the Jinja2 templates in ``auditkit.templates`` lay them
out. The HTML environment autoescapes; the only markup not escaped by Jinja2 is the card's own
stylesheet and the chart drawings of :mod:`._charts`, which escape every string themselves. The
Markdown environment escapes every expression with :func:`._filters.md_escape`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from markupsafe import Markup

from .._core.io import atomic_write_set, recover_set
from ..exceptions import DataValidationError, OutputError
from ..result.json_io import to_json, validate_dict
from ..result.records import AuditResult
from . import _filters as F
from ._frontmatter import front_matter
from ._view import build_view, is_md_link

__all__ = ["build_view", "render_html", "render_markdown", "write_cards", "write_outputs"]

#: Output file names inside ``--out``.
JSON_NAME, HTML_NAME, MD_NAME = "audit.json", "card.html", "card.md"


class MdText(str):
    """A string the Markdown renderer emits as is (built by this module, never from data)."""


def _as_dict(result: AuditResult | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(result, AuditResult):
        return result.to_dict()
    if not isinstance(result, Mapping):
        raise DataValidationError(
            f"render expects an AuditResult or its to_dict(); got {type(result).__name__}."
        )
    return dict(result)


# -------------------------------------------------------------------------------- Jinja2
def _load_template(name: str) -> str:
    return resources.files("auditkit.templates").joinpath(name).read_text(encoding="utf-8")


_FILTERS: dict[str, Callable[..., Any]] = {
    "num": F.fmt_num,
    "pct": F.fmt_pct,
    "ci": F.fmt_ci,
    "cell": F.fmt_cell,
    "status_word": F.status_word,
    "severity_word": F.severity_word,
    "humanize": F.humanize,
    "ink": F.ink,
    "badge_fill": F.badge_fill,
    "md_link": is_md_link,
}


def _md_finalize(value: Any) -> Any:
    if isinstance(value, MdText):
        return str(value)
    if value is None:
        return ""
    return F.md_escape(value)


@lru_cache(maxsize=2)
def _environment(kind: str) -> Any:
    import jinja2

    loader = jinja2.FunctionLoader(lambda name: _load_template(name))
    if kind == "html":
        env = jinja2.Environment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
            finalize=F.html_finalize,  # control/bidi characters as visible escapes
        )  # fmt: skip
    else:
        env = jinja2.Environment(
            loader=loader, autoescape=False, undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
            finalize=_md_finalize,
        )  # fmt: skip
    env.filters.update(_FILTERS)
    return env


def render_html(result: AuditResult | Mapping[str, Any]) -> str:
    """Return the HTML card of an audit result: one self-contained, offline page.

    Parameters
    ----------
    result : AuditResult or dict
        The result, or its ``to_dict()`` form (what ``audit.json`` holds).

    Returns
    -------
    str
        HTML with inline CSS and inline SVG charts; no external URL; every string from the data
        escaped.

    See Also
    --------
    render_markdown : The same content as a Markdown card.
    """
    view = build_view(_as_dict(result))
    css = Markup(_load_template("card.css"))  # the package's own stylesheet, not data
    out: str = _environment("html").get_template("card.html.j2").render(card=view, css=css)
    return out


def render_markdown(result: AuditResult | Mapping[str, Any]) -> str:
    """Return the Markdown card of an audit result (the same content as the HTML card).

    Every string from the data is escaped for Markdown (no raw HTML, links or table breaks).

    Parameters
    ----------
    result : AuditResult or dict
        The result, or its ``to_dict()`` form.

    Returns
    -------
    str
    """
    data = _as_dict(result)
    view = build_view(data)
    out: str = (
        _environment("md")
        .get_template("card.md.j2")
        .render(card=view, raw=MdText, front_matter=MdText(front_matter(data)))
    )
    return out


# ------------------------------------------------------------------------------- writing
def _check_targets(paths: Sequence[Path], overwrite: bool) -> None:
    for p in paths:
        if p.is_dir():
            raise OutputError(f"Cannot write {p}: a folder of that name exists.")
        if not overwrite and os.path.lexists(p):  # a dangling symbolic link too
            raise OutputError(f"{p} exists; pass overwrite=True (or --force) to replace it.")


def write_cards(
    result: AuditResult | Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = True,
) -> dict[str, Path]:
    """Write ``card.html`` and ``card.md`` for ``result`` into ``out_dir`` (atomically).

    Both cards are rendered before either file is opened, and written as one set (both new
    or both old, see :func:`write_outputs`).

    Returns
    -------
    dict
        ``{"html": path, "markdown": path}``.
    """
    data = _as_dict(result)
    validate_dict(data)
    texts = {"html": render_html(data), "markdown": render_markdown(data)}
    return _write(out_dir, {"html": HTML_NAME, "markdown": MD_NAME}, texts, overwrite)


def write_outputs(
    result: AuditResult,
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = True,
) -> dict[str, Path]:
    """Write ``audit.json``, ``card.html`` and ``card.md`` into ``out_dir``.

    The three texts are computed first (the cards from the JSON text itself, so they show
    exactly its numbers); only then are they written, as one set
    (:func:`auditkit._core.io.atomic_write_set`): each to a temporary file in ``out_dir``, then a
    commit record, then the renames. A failure while rendering or writing leaves every existing
    file untouched; a process killed at any moment leaves the previous three files or the new
    three (completed by the next write or read in the folder, and read correctly by
    :func:`~auditkit.report.load_result` meanwhile), never a mix.

    Parameters
    ----------
    result : AuditResult
    out_dir : str or path-like
        Created when missing.
    overwrite : bool, default=True
        When False, an existing output file raises :class:`OutputError` before anything is
        written.

    Returns
    -------
    dict
        ``{"json": path, "html": path, "markdown": path}``.

    Raises
    ------
    OutputError
        When the folder cannot be created or a file cannot be written.
    """
    if not isinstance(result, AuditResult):
        raise DataValidationError(
            f"write_outputs expects an AuditResult; got {type(result).__name__}."
        )
    text = to_json(result)
    data = json.loads(text)  # render what the JSON holds, after its float policy
    texts = {"json": text, "html": render_html(data), "markdown": render_markdown(data)}
    names = {"json": JSON_NAME, "html": HTML_NAME, "markdown": MD_NAME}
    return _write(out_dir, names, texts, overwrite)


def _write(
    out_dir: str | os.PathLike[str], names: dict[str, str], texts: dict[str, str],
    overwrite: bool,
) -> dict[str, Path]:  # fmt: skip
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"Output path {str(out)!r} exists and is not a folder.")
    if out.is_dir():
        recover_set(out)  # finish a set whose writer was killed after committing it
    targets = {k: out / names[k] for k in names}
    _check_targets(list(targets.values()), overwrite)
    files = {names[k]: texts[k].encode("utf-8") for k in names}
    written = atomic_write_set(out, files, replace=overwrite)  # checked again under the lock
    return {k: written[names[k]] for k in names}
