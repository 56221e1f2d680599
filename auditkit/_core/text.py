r"""Control and bidirectional characters from data, shown as visible escapes.

Strings that come from data, checkpoints, card-info files, policies or the command line may hold
characters a reader never sees but that change what they see: C0 and C1 control characters
(NUL, BEL, ESC, which start terminal escape sequences), DEL, the line and paragraph separators,
and the Unicode bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C),
which reorder the text around them (a group named ``"men\u202e"`` would make
``95% CI 0.48-0.56`` read backwards). Every place auditkit prints or writes text for a human
(the HTML and Markdown cards, the terminal) passes data strings through :func:`visible`, which
replaces each such character with a visible escape in Python's notation (``\x1b``, ``\u202e``).
The same choice everywhere: no ``<bdi>`` isolation, so a card and a terminal show the same text.
"""

from __future__ import annotations

import re

__all__ = ["BIDI_CONTROLS", "has_hidden", "one_line", "visible"]

#: The Unicode bidirectional formatting characters (embeddings, overrides, isolates, marks).
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)

_ALWAYS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029" + "".join(sorted(BIDI_CONTROLS))
#: Hidden characters, keeping tab and newline (for text whose lines are legitimate).
_HIDDEN_KEEP_LINES = re.compile(f"[{_ALWAYS}]")
#: Hidden characters including tab and newline (for one-line fields: ids, names, labels).
_HIDDEN_ALL = re.compile(f"[\t\n{_ALWAYS}]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: object, *, keep_lines: bool = True) -> str:
    r"""Return ``text`` with control and bidirectional characters as visible escapes.

    Parameters
    ----------
    text : object
        Converted with ``str``.
    keep_lines : bool, default=True
        Keep tab and line feed (for text whose line breaks are legitimate); with False they are
        escaped too (``\t``, ``\n``), so the result is one line whatever ``text`` holds.

    Examples
    --------
    >>> visible("men\u202e"), visible("a\x1b[31mb"), visible("a\nb", keep_lines=False)
    ('men\\u202e', 'a\\x1b[31mb', 'a\\nb')
    """
    s = str(text)
    pattern = _HIDDEN_KEEP_LINES if keep_lines else _HIDDEN_ALL
    return pattern.sub(_escape, s) if pattern.search(s) else s


def has_hidden(text: str) -> bool:
    """Whether ``text`` holds a character :func:`visible` would escape (tab and newline aside)."""
    return _HIDDEN_KEEP_LINES.search(text) is not None


def one_line(text: object, *, limit: int = 2000) -> str:
    """Return ``text`` as one printable line: whitespace runs collapsed, hidden characters escaped.

    Messages longer than ``limit`` characters are cut, with the number of characters left out.
    """
    s = visible(" ".join(str(text).split()), keep_lines=False)
    if len(s) > limit:
        s = f"{s[:limit]}... ({len(s) - limit:,} more characters)"
    return s
