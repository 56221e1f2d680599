"""Audit sections: one module each, registered in ``SECTIONS`` under their name."""

from ..inputs.context import AuditConfig as AuditConfig
from ..inputs.context import AuditContext as AuditContext
from ..inputs.context import Predictions as Predictions
from ..inputs.context import TrainData as TrainData
from . import explainability as explainability
from . import fairness as fairness
from . import performance as performance
from . import privacy as privacy
from . import stability as stability
from .registry import SECTION_ORDER as SECTION_ORDER
from .registry import SECTIONS as SECTIONS
from .registry import Section as Section

__all__ = [
    "SECTIONS",
    "SECTION_ORDER",
    "AuditConfig",
    "AuditContext",
    "Predictions",
    "Section",
    "TrainData",
]
