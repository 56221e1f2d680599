"""The chart drawings' old home: they are in :mod:`auditkit.report._charts` (one module per kind).

Kept so that ``from auditkit.report._svg import render_chart`` keeps working.
"""

from __future__ import annotations

from ._charts import CHART_KINDS as CHART_KINDS
from ._charts import ChartDataError as ChartDataError
from ._charts import render_chart as render_chart

__all__ = ["CHART_KINDS", "ChartDataError", "render_chart"]
