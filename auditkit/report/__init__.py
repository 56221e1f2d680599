"""The audit result model, its JSON form, and the HTML and Markdown renderers."""

from ._json import load_result as load_result
from ._json import to_json as to_json
from ._json import write_json as write_json
from ._model import AuditResult as AuditResult
from ._model import Chart as Chart
from ._model import Finding as Finding
from ._model import MetricValue as MetricValue
from ._model import SectionResult as SectionResult
from ._model import Table as Table
from ._render import render_html as render_html
from ._render import render_markdown as render_markdown
from ._render import write_outputs as write_outputs

__all__ = [
    "AuditResult",
    "Chart",
    "Finding",
    "MetricValue",
    "SectionResult",
    "Table",
    "load_result",
    "render_html",
    "render_markdown",
    "to_json",
    "write_json",
    "write_outputs",
]
