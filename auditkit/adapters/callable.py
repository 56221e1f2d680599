"""A ``predict_proba``-style callable as a :class:`~auditkit.adapters.base.ModelAdapter`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..data._schema import DatasetSchema
from .base import ModelAdapter, ModelKind, check_task


class CallableModel(ModelAdapter):
    """A function ``f(X) -> probabilities`` (shape (n,) for the positive class, or (n, k)).

    With ``task="regression"`` the function returns the predicted numbers instead (shape (n,)
    or (n, 1)).
    """

    kind: ModelKind = "callable"
    can_regress = True

    def __init__(
        self,
        fn: Callable[[Any], Any],
        *,
        schema: DatasetSchema | None = None,
        task: str = "classification",
    ) -> None:
        super().__init__(fn, name=getattr(fn, "__name__", type(fn).__name__), schema=schema)
        if check_task(task, func="CallableModel") == "regression":
            self.task = "regression"

    def _proba(self, X: Any) -> Any:
        return self.raw(X)

    def _values(self, X: Any) -> Any:
        return self.raw(X)
