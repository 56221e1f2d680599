"""Every parameter of an audit, checked before any model is scored, and the options it reads.

:func:`check_settings` turns the plain parameters of ``audit`` and ``audit_predictions``
(``sections``, ``n_boot``, ``options``, ``custom_metrics``, ``provenance``, the ceilings...) into
an :class:`~auditkit.inputs.context.AuditConfig`, or raises :class:`ParameterError` naming the
parameter. The sections package must be imported first, so that every section has registered
its name and its options.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from typing import Any

from .._core.validation import (
    PARAM_MSG,
    check_float_open,
    check_int,
    check_param,
    format_available,
    seed_int,
)
from ..exceptions import ParameterError
from ..scale._table import AUC_BINS
from .context import AuditConfig
from .labels import check_max
from .options import SectionOptions, option, register, validate_options
from .task import check_task

__all__ = ["PROVENANCE_KEYS", "AuditOptions", "check_settings"]

#: The keys of ``provenance``: where an audit came from, recorded in the result.
PROVENANCE_KEYS = ("command", "data_name")


@register
@dataclasses.dataclass(frozen=True)
class AuditOptions(SectionOptions):
    """The options the orchestrator and the count-table path read themselves."""

    owner = "audit"

    timings: bool = option(
        False, doc="Record how long each section ran (its duration_s in the result)."
    )
    log_loss: bool = option(
        False,
        doc="Sum the log loss while a log is reduced to count tables (two logarithms per row).",
    )
    auc_bins: int = option(
        AUC_BINS,
        doc="Fine score bins of the ROC AUC histogram of a log reduced to count tables.",
        low=1,
    )
    target_unit: str | None = option(
        None,
        kind="str",
        nullable=True,
        doc="The unit of a regression's target (for example 'EUR' or 'hours'), for the card "
        "and the words of findings.",
    )


def _custom_metrics(custom_metrics: Any, func: str) -> dict[str, Any]:
    """Validate ``custom_metrics`` (names to callables)."""
    ok = isinstance(custom_metrics, Mapping) and all(
        isinstance(k, str) and k and callable(v) for k, v in custom_metrics.items()
    )
    check_param(
        ok, param="custom_metrics", func=func,
        expected="a dict of metric name -> callable f(y_true, y_pred)", got=custom_metrics,
    )  # fmt: skip
    return dict(custom_metrics)


def _provenance(
    provenance: Any, options: Mapping[str, Any] | None, func: str, stacklevel: int
) -> tuple[Mapping[str, Any] | None, dict[str, str]]:
    """Return ``(options, provenance)``: provenance checked, and moved out of ``options``.

    ``options`` holding ``command`` or ``data_name`` still works for one release, with a
    :class:`FutureWarning`.
    """
    if provenance is None:
        given: dict[str, Any] = {}
    elif isinstance(provenance, Mapping):
        given = dict(provenance)
    else:
        raise ParameterError(
            PARAM_MSG.format(
                param="provenance", func=func,
                expected=f"a dict with the keys {', '.join(PROVENANCE_KEYS)} (str values)",
                got=type(provenance).__name__,
            )
        )  # fmt: skip
    if isinstance(options, Mapping) and any(k in options for k in PROVENANCE_KEYS):
        moved = {k: options[k] for k in PROVENANCE_KEYS if k in options}
        warnings.warn(
            f"options={{{', '.join(f'{k!r}: ...' for k in moved)}}} of {func} is provenance, "
            f"not a section option: pass provenance={{...}} instead (options will refuse "
            f"{' and '.join(repr(k) for k in moved)} in a future release).",
            FutureWarning,
            stacklevel=stacklevel + 1,
        )
        for k, v in moved.items():
            if k in given and given[k] != v:
                raise ParameterError(
                    f"{func} is given {k!r} twice, differently: in provenance and in options."
                )
            given[k] = v
        options = {k: v for k, v in options.items() if k not in PROVENANCE_KEYS}
    for k, v in given.items():
        if k not in PROVENANCE_KEYS:
            raise ParameterError(
                f"Unknown provenance key {k!r} for {func}; the known keys are: "
                f"{format_available(list(PROVENANCE_KEYS))}."
            )
        if not isinstance(v, str):
            raise ParameterError(
                f"provenance[{k!r}] of {func} must be a string; got {type(v).__name__}."
            )
    return options, {k: given[k] for k in PROVENANCE_KEYS if k in given}


def check_settings(
    *, func: str, sections: tuple[str, ...], n_boot: Any, ci_level: Any, random_state: Any,
    min_group_size: Any, show_progress: bool, strict: bool, options: Any, custom_metrics: Any,
    provenance: Any, max_groups: Any, max_classes: Any, stacklevel: int = 3,
    task: Any = "auto",
) -> AuditConfig:  # fmt: skip
    """Check every plain parameter of ``func``; return the audit's configuration.

    ``task`` (``"auto"``, ``"classification"`` or ``"regression"``) is checked here with the
    others; the inputs stage decides the task itself (:mod:`auditkit.inputs.task`).

    ``stacklevel`` points the :class:`FutureWarning` of provenance given in ``options`` at the
    user's line (3: the caller of the function that calls this one).

    Raises
    ------
    ParameterError
        Naming the first bad parameter or option (an unknown option with the known ones).
    RegistryKeyError
        For a section that is not registered.
    """
    check_task(task, func=func)
    max_groups = check_max(max_groups, param="max_groups", func=func)
    max_classes = check_max(max_classes, param="max_classes", func=func)
    options, prov = _provenance(provenance, options, func, stacklevel + 1)
    opts = validate_options(options, func=func)
    if custom_metrics is not None:
        opts["custom_metrics"] = _custom_metrics(custom_metrics, func)
    return AuditConfig(
        sections=tuple(sections),
        n_boot=check_int(n_boot, param="n_boot", func=func, low=0),
        ci_level=check_float_open(ci_level, param="ci_level", func=func, low=0.0, high=1.0),
        random_state=seed_int(random_state, func=func),
        min_group_size=check_int(min_group_size, param="min_group_size", func=func, low=1),
        show_progress=bool(show_progress),
        strict=bool(strict),
        options=opts,
        provenance=prov,
        max_groups=max_groups,
        max_classes=max_classes,
    )
