"""Helpers for plug-in authors and tests: toy data and the section conformance check."""

from ._checks import check_section as check_section
from ._checks import make_context as make_context
from ._checks import make_tabular as make_tabular

__all__ = ["check_section", "make_context", "make_tabular"]
