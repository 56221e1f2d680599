"""The explainability section's view: its sanity check is a key figure for every class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import SectionView

__all__ = ["ExplainabilityView"]


class ExplainabilityView(SectionView):
    """Key figures include ``randomization_rank_correlation`` per class (one record a class)."""

    def is_key_figure(self, record: Mapping[str, Any]) -> bool:
        """Apply the default rule, except that the randomization check may name a class."""
        if record.get("name") == "randomization_rank_correlation":
            return super().is_key_figure({**record, "label": None})
        return super().is_key_figure(record)
