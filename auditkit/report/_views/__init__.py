"""Per-section view hooks: how the card shows each section, keyed by the section's name.

The card's view (:mod:`auditkit.report._view`) knows no section's internals: for each section of
the result it asks :func:`section_view` for the hook registered under the section's registry
name, and a section without one (a user's own section included) gets the default
:class:`SectionView`. A hook reads the JSON (:class:`SectionData`), never a section object.

Built-in hooks: ``fairness`` (the four-fifths line, the mitigation trade-off chart),
``explainability`` (the per-class randomization check among the key figures), ``privacy``
(its learning curves drawn under Training) and ``drift``; ``performance`` and ``stability`` use
the default.
"""

from __future__ import annotations

from .base import SectionData, SectionView
from .drift import DriftView
from .explainability import ExplainabilityView
from .fairness import FairnessView
from .privacy import PrivacyView

__all__ = [
    "DEFAULT_VIEW",
    "SECTION_VIEWS",
    "SectionData",
    "SectionView",
    "register_section_view",
    "section_view",
]

#: The default view: every section without a hook of its own.
DEFAULT_VIEW = SectionView()

#: The registry of per-section view hooks: section name -> view.
SECTION_VIEWS: dict[str, SectionView] = {
    "fairness": FairnessView(),
    "explainability": ExplainabilityView(),
    "privacy": PrivacyView(),
    "drift": DriftView(),
}


def register_section_view(name: str, view: SectionView) -> None:
    """Register (or replace) the view hook of the section named ``name``.

    Parameters
    ----------
    name : str
        The section's registry name (as in ``audit.json``).
    view : SectionView
        An instance of :class:`SectionView` or of a subclass.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty section name; got {name!r}")
    if not isinstance(view, SectionView):
        raise TypeError(f"view must be a SectionView; got {type(view).__name__}")
    SECTION_VIEWS[name] = view


def section_view(name: str) -> SectionView:
    """Return the view hook of section ``name`` (the default view when it has none)."""
    return SECTION_VIEWS.get(name, DEFAULT_VIEW)
