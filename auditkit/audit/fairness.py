"""Fairness section (being written): registers the section so the package imports."""

from __future__ import annotations

from ..report._model import SectionResult
from ._context import SECTIONS, AuditContext


class FairnessSection:
    """Group metrics, disparities, four-fifths rule, calibration by group, mitigation what-if."""

    name = "fairness"
    requires: tuple[str, ...] = ("sensitive",)

    def run(self, ctx: AuditContext) -> SectionResult:
        """Compute the section."""
        return SectionResult(name=self.name, status="skipped", reason="not implemented yet")


SECTIONS.register("fairness")(FairnessSection())
