"""The section registry: the ``Section`` protocol, ``SECTIONS`` and their canonical order."""

from __future__ import annotations

from typing import Any, Protocol

from .._core.registry import Registry
from .._core.validation import PARAM_MSG
from ..exceptions import ParameterError
from ..inputs.context import AuditContext
from ..result.records import SectionResult
from .drift import DriftSection

__all__ = ["SECTIONS", "SECTION_ORDER", "Section", "resolve_sections"]


class Section(Protocol):
    """An audit section: a name, what it requires, and ``run(ctx) -> SectionResult``."""

    name: str
    requires: tuple[str, ...]

    def run(self, ctx: AuditContext) -> SectionResult:
        """Compute the section from the context."""


SECTIONS: Registry[Section] = Registry("section")
#: The canonical order sections run and render in.
#: ``drift`` (the inputs of the training against the evaluation data) comes after the sections
#: about the model on the evaluation data and before those that also read the training data.
SECTION_ORDER = (
    "performance", "fairness", "explainability", "drift", "privacy", "stability",
)  # fmt: skip


def resolve_sections(sections: Any, func: str) -> tuple[str, ...]:
    """Return the sections to run, in the canonical order (all registered ones for None)."""
    if sections is None:
        return tuple(s for s in SECTION_ORDER if s in SECTIONS) + tuple(
            s for s in SECTIONS.names() if s not in SECTION_ORDER
        )
    if isinstance(sections, str):
        sections = [s.strip() for s in sections.split(",") if s.strip()]
    names = list(dict.fromkeys(sections))
    if not names:
        raise ParameterError(
            PARAM_MSG.format(
                param="sections", func=func, expected="a non-empty list", got=sections
            )
        )
    for s in names:
        SECTIONS.get(s)
    order = {s: i for i, s in enumerate(SECTION_ORDER)}
    return tuple(sorted(names, key=lambda s: order.get(s, len(order))))


# The drift section is registered here (this module is imported by every section module, so by
# any import of the sections package); drift.py does not import the registry.
SECTIONS.register("drift")(DriftSection())
