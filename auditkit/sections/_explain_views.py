"""Explainability: local views (explained rows, attribution maps for images, shaded tokens)."""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np

from ..inputs.context import AuditContext
from ..result.records import Chart, Table
from ._explain_common import _class_name, _is_frame, _pos, _Run, _token_values

_MAX_TOKENS_SHOWN = 120


_TOP_LOCAL = 5


def _local(
    ctx: AuditContext, run: _Run, requested: Sequence[int], errors: Sequence[int],
    tables: list[Table],
) -> None:  # fmt: skip
    wanted = [(r, "requested") for r in requested] + [
        (r, "confident error") for r in errors if r not in requested
    ]
    if not wanted:
        return
    p = ctx.predictions
    out = []
    for r, why in wanted:
        i = _pos(run, r)
        conf = float(p.y_proba[r, p.y_pred[r]]) if p.y_proba is not None else None
        out.append(
            (
                r,
                why,
                _class_name(ctx, int(p.y_true[r])),
                _class_name(ctx, int(p.y_pred[r])),
                conf,
                _top_features(ctx, run, i, r),
            )
        )
    tables.append(Table(
        name="local_explanations", title="Explanations of single predictions",
        columns=("row", "why shown", "true class", "predicted class", "confidence",
                 "strongest inputs (attribution)"),
        rows=tuple(out),
        note=(
            "Attributions explain the predicted class: positive values push toward it, "
            "negative values away from it."
        ),
    ))  # fmt: skip


def _top_features(ctx: AuditContext, run: _Run, i: int, r: int) -> str:
    if run.modality == "tabular":
        v = run.values[i]
        order = np.argsort(-np.abs(v), kind="stable")[:_TOP_LOCAL]
        parts = []
        for j in order:
            f = run.feature_names[j]
            val = ""
            if _is_frame(ctx.X) and f in ctx.X.columns:
                raw = ctx.X[f].iloc[r]
                val = f"={raw:.4g}" if isinstance(raw, (float, np.floating)) else f"={raw}"
            parts.append(f"{f}{val} ({v[j]:+.3g})")
        return "; ".join(parts)
    if run.modality == "text" and run.tokens is not None:
        toks = run.tokens[i]
        vals = _token_values(run, i)
        order = np.argsort(-np.abs(vals), kind="stable")[:_TOP_LOCAL]
        return "; ".join(f"{toks[j]} ({vals[j]:+.3g})" for j in order)
    total = float(run.values[i].sum())
    return f"see the attribution maps (sum of attributions {total:+.3g})"


def _caption(ctx: AuditContext, r: int, why: str | None = None) -> str:
    p = ctx.predictions
    conf = ""
    if p.y_proba is not None:
        conf = f" ({p.y_proba[r, p.y_pred[r]]:.2f})"
    tail = f"; {why}" if why else ""
    return (f"row {r}: true {_class_name(ctx, int(p.y_true[r]))}, predicted "
            f"{_class_name(ctx, int(p.y_pred[r]))}{conf}{tail}")  # fmt: skip


def _display_order(
    shown: Sequence[int], requested: Sequence[int], errors: Sequence[int]
) -> list[tuple[int, str | None]]:
    seen: set[int] = set()
    out: list[tuple[int, str | None]] = []
    for rows, why in ((requested, "requested"), (errors, "confident error"), (shown, None)):
        for r in rows:
            if r not in seen:
                seen.add(r)
                out.append((r, why))
    return out


def _image_maps(
    ctx: AuditContext, run: _Run, shown: Sequence[int], requested: Sequence[int],
    errors: Sequence[int], charts: list[Chart],
) -> None:  # fmt: skip
    from ..explanation import encode_png, map_panel

    items = []
    X = ctx.X
    for r, why in _display_order(shown, requested, errors):
        i = _pos(run, r)
        img = np.asarray(X[r]) if not hasattr(X, "iloc") else None
        panel = map_panel(run.values[i], img, scale=3)
        items.append({
            "png_base64": base64.b64encode(encode_png(panel)).decode("ascii"),
            "caption": _caption(ctx, r, why),
        })  # fmt: skip
    if items:
        charts.append(Chart(
            name="attribution_maps", kind="images", title="Where the model looks",
            data={"items": items},
            description=(
                "Each image with its attribution map to the right: red pixels push toward the "
                "predicted class, blue pixels away from it (channels summed)."
            ),
        ))  # fmt: skip


def _token_rows(
    ctx: AuditContext, run: _Run, shown: Sequence[int], requested: Sequence[int],
    errors: Sequence[int], charts: list[Chart],
) -> None:  # fmt: skip
    if run.tokens is None:
        return
    rows = []
    for r, why in _display_order(shown, requested, errors):
        i = _pos(run, r)
        toks = run.tokens[i]
        vals = _token_values(run, i)
        scale = float(np.abs(vals).max()) if len(vals) else 0.0
        w = vals / scale if scale > 0 else np.zeros_like(vals)
        cut = len(toks) > _MAX_TOKENS_SHOWN
        cap = _caption(ctx, r, why) + (
            f"; first {_MAX_TOKENS_SHOWN} of {len(toks)} tokens" if cut else ""
        )
        rows.append({
            "tokens": [str(t) for t in toks[:_MAX_TOKENS_SHOWN]],
            "weights": [float(x) for x in w[:_MAX_TOKENS_SHOWN]],
            "caption": cap,
        })  # fmt: skip
    if rows:
        charts.append(Chart(
            name="token_highlights", kind="tokens", title="Which words drive the prediction",
            data={"rows": rows},
            description=(
                "Each review's tokens shaded by their attribution to the predicted class, "
                "scaled to the strongest token of the review."
            ),
        ))  # fmt: skip
