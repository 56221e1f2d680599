"""Formatting for the cards: numbers, intervals, status words, colours, Markdown escaping.

Every number the cards show goes through :func:`fmt_num` (or :func:`fmt_ci`, which uses it), so
the HTML and the Markdown card print the same text for the same JSON value, and a reader (or a
test) can parse it back: 4 significant digits, plain decimal notation between 0.001 and 1000,
thousands separators above, scientific notation below.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from .._core.text import visible

__all__ = [
    "MISSING",
    "OKABE_ITO",
    "SEVERITY_COLOURS",
    "STATUS_COLOURS",
    "check_word",
    "detail_text",
    "fmt_cell",
    "fmt_ci",
    "fmt_duration",
    "fmt_energy",
    "fmt_grams",
    "fmt_list",
    "fmt_num",
    "fmt_pct",
    "html_finalize",
    "humanize",
    "ink",
    "light_word",
    "md_escape",
    "metric_label",
    "parse_num",
    "severity_colour",
    "severity_word",
    "status_colour",
    "status_word",
]

#: What the cards show for an undefined value (the JSON's ``null``).
MISSING = "n/a"

#: The Okabe-Ito palette: distinguishable with every common form of colour blindness.
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#000000",  # black
)

#: Finding severity -> colour (always shown together with a word, never colour alone).
SEVERITY_COLOURS = {
    "fail": "#D55E00",
    "warn": "#E69F00",
    "pass": "#009E73",
    "info": "#0072B2",
}

#: Section status -> colour.
STATUS_COLOURS = {"ok": "#009E73", "skipped": "#E69F00", "failed": "#D55E00"}

_SEVERITY_WORDS = {"fail": "FAIL", "warn": "WARNING", "pass": "PASS", "info": "NOTE"}
_STATUS_WORDS = {"ok": "completed", "skipped": "skipped", "failed": "failed"}
_CHECK_WORDS = {"passed": "PASS", "failed": "FAIL"}


def fmt_num(x: Any) -> str:
    """Format a number for the cards (4 significant digits; ``n/a`` for None).

    Integers print exactly (with thousands separators); booleans as ``yes``/``no``; strings
    unchanged.

    Examples
    --------
    >>> fmt_num(0.812345), fmt_num(12345), fmt_num(None), fmt_num(2.5e-05)
    ('0.8123', '12,345', 'n/a', '2.5e-05')
    """
    if x is None:
        return MISSING
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if not math.isfinite(x):
            return MISSING
        if x == 0.0:
            return "0"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.4g}"
    return str(x)


def parse_num(text: str) -> float | None:
    """Invert :func:`fmt_num` (for readers and tests): ``"12,345"`` -> 12345.0, ``n/a`` -> None."""
    t = text.strip()
    if t == MISSING:
        return None
    return float(t.replace(",", ""))


def fmt_ci(ci: Any) -> str:
    """Format a confidence interval ``[low, high]`` as ``low – high`` (``n/a`` for None)."""
    if ci is None:
        return MISSING
    lo, hi = ci
    return f"{fmt_num(lo)} – {fmt_num(hi)}"


def fmt_pct(x: Any, digits: int = 1) -> str:
    """Format a proportion as a percentage (``0.3125`` -> ``31.2%``)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return MISSING
    return f"{100.0 * float(x):.{digits}f}%"


def fmt_cell(x: Any) -> str:
    """Format one cell of a result table: numbers with :func:`fmt_num`, lists joined."""
    if isinstance(x, (list, tuple)):
        return ", ".join(fmt_cell(v) for v in x)
    if isinstance(x, dict):
        return ", ".join(f"{k}: {fmt_cell(v)}" for k, v in x.items())
    return fmt_num(x)


def detail_text(value: Any, limit: int = 300) -> str:
    """Format a detail value on one line (a mapping as ``key: value; ...``), cut at ``limit``."""
    if isinstance(value, Mapping):
        text = "; ".join(f"{k}: {fmt_cell(v)}" for k, v in value.items())
    else:
        text = fmt_cell(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt_list(x: Any, sep: str = " × ") -> str:
    """Join a feature or group list (``["sex", "race"]`` -> ``sex × race``); ``all`` for None."""
    if x is None:
        return "all"
    if isinstance(x, (list, tuple)):
        return sep.join(str(v) for v in x)
    return str(x)


def status_word(status: str) -> str:
    """Return the word shown for a section status (``ok`` -> ``completed``)."""
    return _STATUS_WORDS.get(status, str(status))


def severity_word(severity: str) -> str:
    """Return the word shown for a finding severity (``fail`` -> ``FAIL``)."""
    return _SEVERITY_WORDS.get(severity, str(severity).upper())


def check_word(status: str) -> str:
    """Return the word shown for a policy check (``passed`` -> ``PASS``)."""
    return _CHECK_WORDS.get(status, str(status).upper())


def severity_colour(severity: str) -> str:
    """Colour of a finding severity or policy check status."""
    key = {"passed": "pass", "failed": "fail"}.get(severity, severity)
    return SEVERITY_COLOURS.get(key, "#555555")


def status_colour(status: str) -> str:
    """Colour of a section status."""
    return STATUS_COLOURS.get(status, "#555555")


def _relative_luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def ink(background: str) -> str:
    """Return the text colour (near-black or white) of higher WCAG contrast on ``background``.

    Examples
    --------
    >>> ink("#0072B2"), ink("#E69F00")
    ('#ffffff', '#1d1d1d')
    """
    lum = _relative_luminance(background)
    dark = _relative_luminance("#1d1d1d")
    on_dark = (lum + 0.05) / (dark + 0.05)
    on_white = 1.05 / (lum + 0.05)
    return "#1d1d1d" if on_dark >= on_white else "#ffffff"


def badge_fill(colour: str) -> str:
    """Return ``colour``, darkened until white text on it has a WCAG contrast of 4.5 or more.

    A badge's word is small bold text: WCAG 2.2 AA asks 4.5:1. Where near-black or white text
    already reaches it on ``colour``, the colour is kept (:func:`ink` picks the text);
    otherwise (Okabe-Ito's vermillion ``#D55E00`` reaches 4.35 with near-black text) the
    colour is darkened in steps of 4% until white text reaches it.

    Examples
    --------
    >>> badge_fill("#0072B2"), badge_fill("#D55E00")
    ('#0072B2', '#c35600')
    """
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
        return colour

    def contrast(c: str) -> float:
        lum = _relative_luminance(c)
        dark = _relative_luminance("#1d1d1d")
        return max((lum + 0.05) / (dark + 0.05), 1.05 / (lum + 0.05))

    if contrast(colour) >= 4.5:
        return colour
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    factor = 1.0
    out = colour
    while 1.05 / (_relative_luminance(out) + 0.05) < 4.5 and factor > 0:
        factor -= 0.04
        out = "#{:02x}{:02x}{:02x}".format(*(max(0, int(v * factor)) for v in (r, g, b)))
    return out


def humanize(name: Any) -> str:
    """Turn a snake_case key into words (``selection_rate`` -> ``Selection rate``)."""
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


_MD_SPECIAL = re.compile(r"([\\`*\[\]|])")


def md_escape(text: Any) -> str:
    r"""Escape a data string for Markdown: no raw HTML, no links, no table breaks.

    ``&``, ``<`` and ``>`` become HTML entities (a Markdown renderer shows them as text);
    backslashes, backticks, asterisks, brackets and pipes get a backslash; line breaks become
    spaces so a value cannot start a new Markdown block; control and bidirectional characters
    become visible escapes (``\x1b``, ``\u202e``, see :func:`auditkit._core.text.visible`).
    """
    s = str(text)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = visible(_MD_SPECIAL.sub(r"\\\1", s))
    return " ".join(s.split()) if "\n" in s else s


def html_finalize(value: Any) -> Any:
    r"""Finalize one ``{{ expression }}`` of the HTML card: hidden characters made visible.

    Runs before autoescaping, on every value the template prints: control and bidirectional
    characters become visible escapes (``\u202e``), so no data string can reorder the text
    around it or carry a terminal escape into a saved page. Markup (the card's stylesheet and
    the chart drawings, whose text is already escaped) stays Markup; the escapes hold no HTML
    special character, so they never open markup.
    """
    if isinstance(value, Markup):
        return Markup(visible(str(value)))
    if isinstance(value, str):
        return visible(value)
    return value


_LIGHT_WORDS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "info": "NOT JUDGED"}


def light_word(status: str) -> str:
    """Return the word of a traffic light (``pass`` -> ``PASS``; ``info`` -> ``NOT JUDGED``)."""
    return _LIGHT_WORDS.get(status, str(status).upper())


def fmt_duration(seconds: Any) -> str:
    """Format a duration: ``0.36 s``, ``42 s``, ``3 min 05 s``, ``2 h 04 min``.

    Examples
    --------
    >>> fmt_duration(0.3584), fmt_duration(185), fmt_duration(7440.0)
    ('0.358 s', '3 min 05 s', '2 h 04 min')
    """
    if seconds is None or isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return MISSING
    s = float(seconds)
    if not math.isfinite(s):
        return MISSING
    if s < 60:
        return f"{fmt_num(s)} s"
    if s < 3600:
        m, r = divmod(round(s), 60)
        return f"{m} min {r:02d} s"
    h, r = divmod(round(s) // 60, 60)
    return f"{h} h {r:02d} min"


_METRIC_LABELS = {
    "roc_auc": "ROC AUC",
    "f1": "F1",
    "expected_calibration_error": "Expected calibration error (ECE)",
    "log_loss": "Log loss",
    "membership_auc": "Membership-inference ROC AUC",
    "membership_tpr_at_1pct_fpr": "Membership TPR at 1% FPR",
    "membership_tpr_at_0_1pct_fpr": "Membership TPR at 0.1% FPR",
    "dp_epsilon": "Differential-privacy epsilon",
    "dp_delta": "Differential-privacy delta",
    "completeness_delta_relative_p95": "Completeness gap, relative (95th percentile)",
    "completeness_delta_p50": "Completeness gap (median)",
    "completeness_delta_p95": "Completeness gap (95th percentile)",
    "completeness_delta_max": "Completeness gap (largest)",
    "mean_absolute_error": "Mean absolute error (MAE)",
    "mean_squared_error": "Mean squared error (MSE)",
    "root_mean_squared_error": "Root mean squared error (RMSE)",
    "r2_score": "R²",
    "mean_error": "Mean error (prediction minus true value)",
}


def metric_label(name: Any) -> str:
    """Return a reader's name for a metric (``roc_auc`` -> ``ROC AUC``)."""
    key = str(name)
    if key in _METRIC_LABELS:
        return _METRIC_LABELS[key]
    text = humanize(key)
    for short, full in ((" std", " (standard deviation)"), (" auc", " AUC"), (" roc", " ROC"),
                        (" tpr", " TPR"), (" fpr", " FPR")):  # fmt: skip
        text = text.replace(short, full)
    return text


def fmt_energy(kwh: Any) -> str:
    """Format an energy given in kWh in a readable unit (``0.0123`` -> ``12.3 Wh``)."""
    if kwh is None or isinstance(kwh, bool) or not isinstance(kwh, (int, float)):
        return MISSING
    v = float(kwh)
    if not math.isfinite(v):
        return MISSING
    if v == 0 or abs(v) >= 1:
        return f"{fmt_num(v)} kWh"
    if abs(v) >= 1e-3:
        return f"{fmt_num(v * 1e3)} Wh"
    return f"{fmt_num(v * 1e6)} mWh"


def fmt_grams(grams: Any) -> str:
    """Format a mass given in grams (``1530`` -> ``1.53 kg``, ``0.004`` -> ``4 mg``)."""
    if grams is None or isinstance(grams, bool) or not isinstance(grams, (int, float)):
        return MISSING
    v = float(grams)
    if not math.isfinite(v):
        return MISSING
    if abs(v) >= 1000:
        return f"{fmt_num(v / 1000)} kg"
    if v == 0 or abs(v) >= 1:
        return f"{fmt_num(v)} g"
    return f"{fmt_num(v * 1000)} mg"
