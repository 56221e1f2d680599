"""auditkit: audit trained machine-learning models for bias, explainability and privacy.

The audit writes a model card (HTML for stakeholders, JSON for pipelines, Markdown for model
hubs). Importing auditkit is cheap: Lightning, Captum and Fairlearn load only when used.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from . import _compat
from ._api import audit as audit
from ._api import audit_predictions as audit_predictions
from ._version import __version__ as __version__
from .exceptions import AuditkitError as AuditkitError
from .result.json_io import load_result as load_result
from .result.json_io import to_json as to_json
from .result.records import AuditResult as AuditResult

if TYPE_CHECKING:  # the heavier names load on first use (PEP 562)
    from .adapters import wrap as wrap
    from .explanation import Explanation as Explanation
    from .explanation import explain as explain
    from .mitigation import mitigate as mitigate
    from .models.checkpoint import LoadedModel as LoadedModel
    from .models.checkpoint import load_checkpoint as load_checkpoint
    from .models.files import load_model as load_model
    from .models.mitigated import GroupThresholdModel as GroupThresholdModel
    from .models.training import train as train
    from .policy import Policy as Policy
    from .policy import check as check
    from .report import render_html as render_html
    from .report import render_markdown as render_markdown

logging.getLogger(__name__).addHandler(logging.NullHandler())
_compat.install()

_LAZY = {
    "load_checkpoint": "models.checkpoint",
    "load_model": "models.files",
    "wrap": "adapters",
    "LoadedModel": "models.checkpoint",
    "train": "models.training",
    "Policy": "policy",
    "check": "policy",
    "render_html": "report",
    "render_markdown": "report",
    "explain": "explanation",
    "Explanation": "explanation",
    "mitigate": "mitigation",
    "GroupThresholdModel": "models.mitigated",
}

__all__ = [
    "AuditResult",
    "AuditkitError",
    "Explanation",
    "GroupThresholdModel",
    "LoadedModel",
    "Policy",
    "__version__",
    "audit",
    "audit_predictions",
    "check",
    "explain",
    "load_checkpoint",
    "load_model",
    "load_result",
    "mitigate",
    "render_html",
    "render_markdown",
    "to_json",
    "train",
    "wrap",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'auditkit' has no attribute {name!r}")
