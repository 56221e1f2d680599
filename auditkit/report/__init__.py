"""The audit result model, its JSON form, the HTML and Markdown renderers, and audit diffs."""

from .._core.io import atomic_write_text as atomic_write_text
from .._core.text import one_line as one_line
from .._core.text import visible as visible
from ..result.json_io import load_result as load_result
from ..result.json_io import to_json as to_json
from ..result.json_io import write_json as write_json
from ..result.records import AuditResult as AuditResult
from ..result.records import Chart as Chart
from ..result.records import Finding as Finding
from ..result.records import MetricValue as MetricValue
from ..result.records import SectionResult as SectionResult
from ..result.records import Table as Table
from ._card_info import load_card_info as load_card_info
from ._diff import diff_html as diff_html
from ._diff import diff_markdown as diff_markdown
from ._diff import diff_results as diff_results
from ._render import HTML_NAME as HTML_NAME
from ._render import JSON_NAME as JSON_NAME
from ._render import MD_NAME as MD_NAME
from ._render import render_html as render_html
from ._render import render_markdown as render_markdown
from ._render import write_cards as write_cards
from ._render import write_outputs as write_outputs

__all__ = [
    "HTML_NAME",
    "JSON_NAME",
    "MD_NAME",
    "atomic_write_text",
    "one_line",
    "visible",
    "AuditResult",
    "Chart",
    "Finding",
    "MetricValue",
    "SectionResult",
    "Table",
    "diff_html",
    "diff_markdown",
    "diff_results",
    "load_card_info",
    "load_result",
    "render_html",
    "render_markdown",
    "to_json",
    "write_cards",
    "write_json",
    "write_outputs",
]
