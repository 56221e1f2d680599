"""Reduction through narwhals: pandas, Polars (eager and lazy), PyArrow and other frames.

The expressions of :mod:`._table` written once in narwhals run in the frame's own engine
(Polars' group-by, PyArrow's ``group_by``, pandas' ``groupby``); a Polars LazyFrame is
collected with the streaming engine, plan by plan, so a ``scan_parquet`` larger than memory
works too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..exceptions import ParameterError
from ._table import (  # fmt: skip
    EPS,
    ONE_MINUS_EPS,
    CountTable,
    check_group_counts,
    check_names,
    feature_alias,
    from_arrow,
)

__all__ = ["reduce_frame"]


def _engine_name(frame: Any) -> str:
    impl = str(frame.implementation).lower()
    for name in ("polars", "pyarrow", "pandas", "modin", "cudf", "dask", "ibis", "duckdb"):
        if name in impl:
            return name
    return impl.rsplit(".", 1)[-1]


def reduce_frame(
    data: Any, *, features: Sequence[str], y_true: str, y_pred: str, y_score: str | None,
    n_bins: int, auc_bins: int, score_cells: bool = True, log_loss: bool = False,
    sample_weight: str | None = None, max_groups: int | None = None,
) -> CountTable:  # fmt: skip
    """Reduce a narwhals-supported frame with its own group-by."""
    import narwhals as nw

    try:
        frame = nw.from_native(data)
    except TypeError as exc:
        raise ParameterError(
            "The 'data' parameter of audit_predictions must be a data frame (pandas, Polars, "
            "PyArrow, DuckDB, Spark), a path or glob of Parquet/CSV files, or a CountTable. "
            f"Got {type(data).__name__!r} instead."
        ) from exc
    engine = _engine_name(frame)
    lazy = isinstance(frame, nw.LazyFrame)
    avail = [str(c) for c in frame.collect_schema().names()]
    where = f"the {type(data).__name__}"
    check_names(features, y_true, y_pred, y_score, avail, where, sample_weight)
    if max_groups is not None:
        counts, exact = _distinct(data, frame, features, lazy=lazy, engine=engine)
        check_group_counts(counts, max_groups, exact=exact)
    sel = [nw.col(f).alias(feature_alias(i)) for i, f in enumerate(features)]
    sel += [nw.col(y_true).alias("y_true"), nw.col(y_pred).alias("y_pred")]
    keys = [feature_alias(i) for i in range(len(features))] + ["y_true", "y_pred"]
    w_cols: list[Any] = []
    w_sums: list[Any] = []
    if sample_weight is not None:
        # an invalid weight counts 0 and is counted in weight_bad (pandas' sum skips NaN)
        raw = nw.col(sample_weight).cast(nw.Float64)
        valid = ((raw >= 0) & (raw < float("inf"))).fill_null(False)
        sel.append(nw.when(valid).then(raw).otherwise(0.0).alias("w"))
        sel.append(nw.when(valid).then(0).otherwise(1).cast(nw.Int64).alias("w_bad"))
        w_cols = [(nw.col("w") * nw.col("w")).alias("w2")]
        w_sums = [
            nw.col("w").sum().alias("weight_sum"), nw.col("w2").sum().alias("weight_sq_sum"),
            nw.col("w_bad").sum().alias("weight_bad"),
        ]  # fmt: skip
    if y_score is None:
        base = frame.select(*sel)
        if w_cols:
            base = base.with_columns(*w_cols)
        g = base.group_by(*keys, drop_null_keys=False).agg(nw.len().alias("count"), *w_sums)
        g_arrow, f_arrow = _collect(g, None, lazy=lazy, engine=engine)
    else:
        s = nw.col("s")
        valid = (s >= 0) & (s <= 1)

        def binned(n: int) -> Any:
            return (
                nw.when(valid).then((s * n).floor().clip(upper_bound=n - 1)).otherwise(-1.0)
            ).fill_null(-1.0).cast(nw.Int64)  # fmt: skip

        base = frame.select(*sel, nw.col(y_score).cast(nw.Float64).alias("s")).with_columns(
            binned(n_bins).alias("score_bin"),
            binned(auc_bins).alias("fine_bin"),
            (s * s).alias("q"),
        )
        # pandas' group-by takes plain column aggregations only: every summand is a column
        sums = [nw.len().alias("count"), s.sum().alias("score_sum"),
                nw.col("q").sum().alias("score_sq_sum")]  # fmt: skip
        if w_cols:
            w = nw.col("w")
            base = base.with_columns(*w_cols, (w * s).alias("ws"), (w * nw.col("q")).alias("wq"))
            sums += [*w_sums, nw.col("ws").sum().alias("weight_score_sum"),
                     nw.col("wq").sum().alias("weight_score_sq_sum")]  # fmt: skip
        if log_loss:
            base = base.with_columns(
                (-(s.clip(EPS, ONE_MINUS_EPS).log())).alias("l_pos"),
                (-((1.0 - s).clip(EPS, ONE_MINUS_EPS).log())).alias("l_neg"),
            ).with_columns(
                (nw.col("l_pos") * nw.col("l_pos")).alias("l_pos_sq"),
                (nw.col("l_neg") * nw.col("l_neg")).alias("l_neg_sq"),
            )
            sums += [
                nw.col(f"l_{k}").sum().alias(f"nll_{k}")
                for k in ("pos", "neg", "pos_sq", "neg_sq")
            ]
            if w_cols:
                base = base.with_columns(
                    *[(nw.col("w") * nw.col(f"l_{k}")).alias(f"wl_{k}")
                      for k in ("pos", "neg", "pos_sq", "neg_sq")]
                )  # fmt: skip
                sums += [
                    nw.col(f"wl_{k}").sum().alias(f"weight_nll_{k}")
                    for k in ("pos", "neg", "pos_sq", "neg_sq")
                ]
        g = base.group_by(*keys, "score_bin", drop_null_keys=False).agg(*sums)
        f_sums = [nw.len().alias("count"), s.min().alias("score_min"), s.max().alias("score_max")]
        if w_cols:
            f_sums += [nw.col("w").sum().alias("weight_sum"),
                       nw.col("w2").sum().alias("weight_sq_sum")]  # fmt: skip
        f = base.group_by("y_true", "fine_bin", drop_null_keys=False).agg(*f_sums)
        g_arrow, f_arrow = _collect(g, f if score_cells else None, lazy=lazy, engine=engine)
    return from_arrow(
        g_arrow, f_arrow, features=tuple(features),
        columns={"y_true": y_true, "y_pred": y_pred, "y_score": y_score,
                 "sample_weight": sample_weight},
        n_bins=n_bins, auc_bins=auc_bins, engine=engine, source=type(data).__name__,
    )  # fmt: skip


def _distinct(
    data: Any, frame: Any, features: Sequence[str], *, lazy: bool, engine: str
) -> tuple[dict[str, int], bool]:
    """Distinct values per sensitive column, and whether the counts are exact.

    A Polars LazyFrame (a scan larger than memory) gets Polars' HyperLogLog
    ``approx_n_unique`` over the sensitive columns alone; an in-memory frame an exact count.
    """
    import narwhals as nw

    if lazy and engine == "polars":
        import polars as pl

        plan = data.select(
            [pl.col(f).approx_n_unique().alias(feature_alias(i)) for i, f in enumerate(features)]
        )
        row = plan.collect().row(0)
        return {f: int(row[i]) for i, f in enumerate(features)}, False
    plan = frame.select(
        [nw.col(f).n_unique().alias(feature_alias(i)) for i, f in enumerate(features)]
    )
    if lazy:
        plan = plan.collect()
    row = plan.row(0)
    return {f: int(row[i]) for i, f in enumerate(features)}, True


def _collect(g: Any, f: Any, *, lazy: bool, engine: str) -> tuple[Any, Any]:
    """Both results as pyarrow tables.

    A Polars LazyFrame runs each plan on the streaming engine, one after the other: memory
    stays bounded (``collect_all`` would share the scan between the two plans by caching it,
    which holds the rows in memory).
    """
    if lazy and engine == "polars":
        out: list[Any] = []
        for plan in (g, f):
            if plan is None:
                out.append(None)
                continue
            native = plan.to_native()
            try:
                frame = native.collect(engine="streaming")
            except TypeError:  # pragma: no cover - older Polars without engine=
                frame = native.collect()
            out.append(frame.to_arrow())
        return out[0], out[1]
    if lazy:
        g = g.collect()
        f = None if f is None else f.collect()
    return g.to_arrow(), (None if f is None else f.to_arrow())
