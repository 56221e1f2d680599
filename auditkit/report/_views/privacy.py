"""The privacy section's view: its learning curves are drawn in the card's training part."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .base import SectionView

__all__ = ["PrivacyView"]


class PrivacyView(SectionView):
    """The learning curves the section draws from the checkpoint's history go to Training."""

    moved: Mapping[str, str] = MappingProxyType(
        {"learning_curve_loss": "training", "learning_curve_accuracy": "training"}
    )
