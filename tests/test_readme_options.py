"""The README lists every section option with its default (the typed options of issue 15)."""

from __future__ import annotations

import re
from pathlib import Path

import auditkit.sections  # noqa: F401  (every section registers its options on import)
from auditkit.inputs.options import known_options

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_lists_every_option() -> None:
    text = README.read_text(encoding="utf-8")
    assert "\n## Options\n" in text, "README has no Options section"
    text = text.split("\n## Options\n", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]+) \|", text, flags=re.M))
    missing = [name for name in known_options() if name not in rows]
    assert not missing, f"README's option table lacks: {missing}"
    unknown = [name for name in rows if name not in known_options()]
    assert not unknown, f"README lists options that do not exist: {unknown}"
