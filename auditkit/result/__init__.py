"""Stage 1: the audit result as plain data, its JSON form and its schema.

Sections produce these records and the report, policy and diff stages read them; nothing here
imports a model, a section or a renderer.
"""

from .clock import created_at as created_at
from .json_io import load_result as load_result
from .json_io import to_json as to_json
from .json_io import write_json as write_json
from .records import AuditResult as AuditResult
from .records import Chart as Chart
from .records import Finding as Finding
from .records import MetricValue as MetricValue
from .records import SectionResult as SectionResult
from .records import Table as Table

__all__ = [
    "AuditResult",
    "Chart",
    "Finding",
    "MetricValue",
    "SectionResult",
    "Table",
    "created_at",
    "load_result",
    "to_json",
    "write_json",
]
