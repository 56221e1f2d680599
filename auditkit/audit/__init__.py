"""Audit sections: one module each, registered in ``SECTIONS`` under their name."""

from . import explainability as explainability
from . import fairness as fairness
from . import performance as performance
from . import privacy as privacy
from . import stability as stability
from ._context import SECTION_ORDER as SECTION_ORDER
from ._context import SECTIONS as SECTIONS
from ._context import AuditConfig as AuditConfig
from ._context import AuditContext as AuditContext
from ._context import Predictions as Predictions
from ._context import Section as Section
from ._context import TrainData as TrainData

__all__ = [
    "SECTIONS",
    "SECTION_ORDER",
    "AuditConfig",
    "AuditContext",
    "Predictions",
    "Section",
    "TrainData",
]
