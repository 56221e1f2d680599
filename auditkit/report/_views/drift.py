"""The drift section's view: each input column's PSI among the key figures.

Every record of the drift section is about one input column (``input_feature``), so the default
view, which keeps whole-population figures without a model input, would show no key figure.
This view keeps the whole-population ``population_stability_index`` of each column (the first
16, in the section's order), and leaves the test statistics and the per-group records to the
tables.

Registered under ``"drift"`` in :data:`auditkit.report._views.SECTION_VIEWS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import SectionView

__all__ = ["DriftView"]


class DriftView(SectionView):
    """Key figures: the PSI of each input column over the whole population."""

    def is_key_figure(self, record: Mapping[str, Any]) -> bool:
        """Whether ``record`` is a whole-population PSI (no sensitive feature, no group)."""
        return (
            record.get("name") == "population_stability_index"
            and record.get("feature") is None
            and record.get("group") is None
        )
