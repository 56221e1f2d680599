"""A ``predict_proba``-style callable as a :class:`~auditkit.adapters.base.ModelAdapter`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..data._schema import DatasetSchema
from .base import ModelAdapter, ModelKind


class CallableModel(ModelAdapter):
    """A function ``f(X) -> probabilities`` (shape (n,) for the positive class, or (n, k))."""

    kind: ModelKind = "callable"

    def __init__(self, fn: Callable[[Any], Any], *, schema: DatasetSchema | None = None) -> None:
        super().__init__(fn, name=getattr(fn, "__name__", type(fn).__name__), schema=schema)

    def _proba(self, X: Any) -> Any:
        return self.raw(X)
