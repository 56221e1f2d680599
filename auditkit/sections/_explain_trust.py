"""Explainability trust checks: completeness of the attributions, model randomisation test."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.rows import take_rows
from ..inputs.context import AuditContext
from ..result.records import Finding, MetricValue
from ._explain_common import SECTION, ExplainOptions, _pct, _Run

#: Rows the randomisation check re-attributes.
SANITY_ROWS = {"tabular": 256, "image": 6, "text": 6}


#: The two randomisations of the sanity check, as the records' ``method`` says them.
RANDOMIZATION = {
    "top_layer": "top layer re-initialised; mean Spearman correlation of |attribution| per row",
    "all_layers": "every layer re-initialised; mean Spearman correlation of |attribution| per row",
}


def _completeness(run: _Run, metrics: list[MetricValue], findings: list[Finding]) -> None:
    if run.delta is None:
        return
    d = np.abs(run.delta)
    sums = run.values.reshape(len(run.values), -1).sum(axis=1)
    gap = np.abs(sums - run.delta)  # |f(x) - f(baseline)|
    unit = "model output (logit)" if run.method != "feature_ablation" else None
    for q, name in ((50, "p50"), (95, "p95")):
        metrics.append(MetricValue(
            section=SECTION, name=f"completeness_delta_{name}", value=float(np.percentile(d, q)),
            n=len(d), method=run.method, unit=unit,
        ))  # fmt: skip
    metrics.append(MetricValue(
        section=SECTION, name="completeness_delta_max", value=float(d.max()), n=len(d),
        method=run.method, unit=unit,
    ))  # fmt: skip
    mean_gap = float(gap.mean())
    rel95 = float(np.percentile(d, 95)) / mean_gap if mean_gap > 0 else 0.0
    metrics.append(MetricValue(
        section=SECTION, name="completeness_delta_relative_p95", value=rel95, n=len(d),
        method="95th percentile of |delta| / mean |f(x) - f(baseline)|",
    ))  # fmt: skip
    if rel95 > 0.05:
        findings.append(Finding(
            SECTION, "warn",
            f"The attributions do not add up for some rows: for 5% of them the completeness "
            f"error exceeds {_pct(rel95)} of the typical output gap they explain (raise "
            "explain_n_steps for a finer integral).",
            metric=f"{SECTION}.completeness_delta_relative_p95",
        ))  # fmt: skip
    else:
        findings.append(Finding(
            SECTION, "pass",
            f"The attributions add up: for 95% of rows they account for the model's output "
            f"gap to the baseline within {_pct(max(rel95, 0.0))} of the typical gap.",
            metric=f"{SECTION}.completeness_delta_relative_p95",
        ))  # fmt: skip


def _comparable(run: _Run, values: np.ndarray) -> np.ndarray:
    """Per-row vectors of |attribution| to rank: features, pixels (channels summed), tokens."""
    v = np.abs(values)
    if run.modality == "image" and v.ndim == 4:
        v = np.abs(values.sum(axis=1))
    return v.reshape(len(v), -1)


def _sanity(
    ctx: AuditContext, run: _Run, parts: Any, n_steps: int, budget: float,
    metrics: list[MetricValue], findings: list[Finding],
) -> None:  # fmt: skip
    from ..explanation import explain
    from ..runtime import attribution as A

    def skip(reason: str) -> None:
        for how in RANDOMIZATION.values():
            metrics.append(MetricValue(
                section=SECTION, name="randomization_rank_correlation", value=None,
                method=how, reason=reason,
            ))  # fmt: skip

    if parts is None or ctx.model is None:
        skip("needs a torch model whose layers can be re-initialised")
        return
    layers = [m for m in parts.module.modules()
              if any(True for _ in m.parameters(recurse=False))
              and hasattr(m, "reset_parameters")]  # fmt: skip
    if not layers:
        skip("the model has no layers with parameters to re-initialise")
        return
    opts = ctx.options_for(ExplainOptions)
    rows = opts.explain_sanity_rows
    k = min(len(run.main), SANITY_ROWS[run.modality] if rows is None else rows)
    if run.modality == "tabular" and len(run.feature_names) < 3:
        skip("fewer than 3 features to rank")
        return
    idx = run.main[:k]
    Xs = take_rows(ctx.X, run.rows[idx])
    base = _comparable(run, run.values[idx])
    threshold = opts.explain_sanity_threshold
    results: dict[str, float] = {}
    for label, top in (("top_layer", 1), ("all_layers", None)):
        clone = A.reinitialized_copy(parts.module, top=top, random_state=ctx.config.random_state)
        adapter = _SwappedModule(ctx.model, parts, clone)
        e = explain(
            adapter, Xs, method=run.method, target=run.target[idx], n_steps=n_steps,
            random_state=ctx.config.random_state, memory_budget_mb=budget,
            show_progress=ctx.config.show_progress,
        )  # fmt: skip
        rho = A.spearman_rows(base, _comparable(run, e.values))
        ok = rho[~np.isnan(rho)]
        value = float(ok.mean()) if len(ok) else None
        metrics.append(MetricValue(
            section=SECTION, name="randomization_rank_correlation", value=value,
            n=int(len(ok)), method=RANDOMIZATION[label],
            reason=None if value is not None else "the attributions are constant",
        ))  # fmt: skip
        if value is not None:
            results[label] = value
    top_rho = results.get("top_layer")
    if top_rho is None:
        return
    if top_rho >= threshold:
        findings.append(Finding(
            SECTION, "warn",
            f"The explanations barely change when the model's top layer is replaced by random "
            f"weights (rank correlation {top_rho:.2f}): they may reflect the input more than "
            "what the model learned (Adebayo et al., 2018). Read them with care.",
            metric=f"{SECTION}.randomization_rank_correlation",
        ))  # fmt: skip
    else:
        findings.append(Finding(
            SECTION, "pass",
            f"The explanations depend on what the model learned: re-initialising its top layer "
            f"changes them (rank correlation {top_rho:.2f}, below {threshold}).",
            metric=f"{SECTION}.randomization_rank_correlation",
        ))  # fmt: skip


class _SwappedModule:
    """An adapter-like object whose torch parts carry another module (a re-initialised copy)."""

    def __init__(self, adapter: Any, parts: Any, module: Any) -> None:
        from ..adapters.base import ModelAdapter, TorchParts

        layer = None
        if parts.embedding is not None:
            names = {id(m): n for n, m in parts.module.named_modules()}
            name = names.get(id(parts.embedding))
            layer = dict(module.named_modules()).get(name) if name is not None else None
        swapped = TorchParts(
            module=module, encode=parts.encode, feature_names=parts.feature_names,
            feature_groups=parts.feature_groups, embedding=layer,
            decode_tokens=parts.decode_tokens, extras=parts.extras,
        )  # fmt: skip

        class Swapped(ModelAdapter):
            kind = adapter.kind

            def torch_parts(self) -> TorchParts:
                return swapped

        self._adapter = Swapped(module, name=adapter.name, schema=adapter.schema)

    def as_adapter(self) -> Any:
        """Return the adapter (so :func:`auditkit.adapters.wrap` accepts this object)."""
        return self._adapter
