"""Performance section (being written): registers the section so the package imports."""

from __future__ import annotations

from ..report._model import SectionResult
from ._context import SECTIONS, AuditContext


class PerformanceSection:
    """Accuracy, balanced accuracy, ROC AUC, log loss, Brier score, calibration, confusion."""

    name = "performance"
    requires: tuple[str, ...] = ()

    def run(self, ctx: AuditContext) -> SectionResult:
        """Compute the section."""
        return SectionResult(name=self.name, status="skipped", reason="not implemented yet")


SECTIONS.register("performance")(PerformanceSection())
