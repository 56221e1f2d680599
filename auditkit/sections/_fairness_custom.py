"""A user's own fairness metrics ``f(y_true, y_pred)`` (``custom_metrics=``), via MetricFrame."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..exceptions import ParameterError
from ..inputs.context import AuditContext
from ..metrics.definitions import METRICS
from ..result.records import MetricValue
from ._fairness_records import _METHODS, SECTION


def _check_custom(custom: Any) -> dict[str, Callable[..., Any]]:
    if custom is None:
        return {}
    if not isinstance(custom, Mapping):
        raise ParameterError(
            "The 'custom_metrics' parameter of audit must be a dict of name -> callable "
            f"f(y_true, y_pred). Got {type(custom).__name__!r} instead."
        )
    out = {}
    for name, fn in custom.items():
        if not isinstance(name, str) or not name:
            raise ParameterError(f"custom_metrics keys must be non-empty strings; got {name!r}.")
        taken = [
            x for x in (name, f"{name}_difference", f"{name}_ratio")
            if x in METRICS and SECTION in METRICS.get(x).sections
        ]  # fmt: skip
        if taken:
            raise ParameterError(
                f"custom_metrics name {name!r} clashes with the built-in fairness metric "
                f"{taken[0]!r}; choose another name."
            )
        if not callable(fn):
            raise ParameterError(f"custom_metrics[{name!r}] must be callable; got {fn!r}.")
        out[name] = fn
    return out


def _custom_records(
    ctx: AuditContext,
    custom: dict[str, Callable[..., Any]],
    groupings: Sequence[tuple[str, ...]],
    y_true: np.ndarray,
    y_pred: np.ndarray,
) -> tuple[list[MetricValue], dict[str, Any]]:
    from fairlearn.metrics import MetricFrame

    out: list[MetricValue] = []
    info: dict[str, Any] = {}
    sens = ctx.sensitive
    n_total = len(y_true)
    for feats in groupings:
        sf = sens[list(feats)] if len(feats) > 1 else sens[feats[0]]
        for name, fn in custom.items():
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    mf = MetricFrame(
                        metrics={name: fn}, y_true=y_true, y_pred=y_pred, sensitive_features=sf
                    )
                    by_group = mf.by_group[name]
                    overall = mf.overall[name]
                    parts = {
                        m: (mf.difference(method=m)[name], mf.ratio(method=m)[name])
                        for m in _METHODS
                    }
            except Exception as exc:  # noqa: BLE001 - a user's metric may fail in any way
                info.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
                continue
            if caught:
                info.setdefault("warnings", {}).setdefault(
                    name, sorted({str(w.message) for w in caught})
                )
            counts = sf.value_counts()
            for grp, v in by_group.items():
                grp_t = grp if isinstance(grp, tuple) else (grp,)
                nrows = int(counts.get(grp, 0))
                val, reason = _scalar(v)
                out.append(
                    MetricValue(
                        section=SECTION,
                        name=name,
                        value=val,
                        feature=feats,
                        group=grp_t,
                        n=nrows,
                        reason=reason or ("no rows in this group" if nrows == 0 else None),
                    )
                )
            if feats == groupings[0]:
                val, reason = _scalar(overall)
                out.append(
                    MetricValue(section=SECTION, name=name, value=val, n=n_total, reason=reason)
                )
            for m, (d, r) in parts.items():
                for suffix, x in (("difference", d), ("ratio", r)):
                    val, reason = _scalar(x)
                    out.append(
                        MetricValue(
                            section=SECTION,
                            name=f"{name}_{suffix}",
                            value=val,
                            feature=feats,
                            n=n_total,
                            method=m,
                            reason=reason,
                        )
                    )
    return out, info


def _scalar(x: Any) -> tuple[float | None, str | None]:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None, "the metric did not return a number"
    if not np.isfinite(v):
        return None, "undefined (NaN) for these rows"
    return v, None
