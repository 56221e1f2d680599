"""The regression reduction on a Spark cluster: ``agg()`` then ``groupBy().agg()`` jobs.

The first pass and the group-bys of :mod:`._regression` run where the data lives; only the
tables are collected to the driver, through Arrow. The bootstrap block is
``pmod(xxhash64(row id), n_blocks)``: the row id is ``row_id`` when given, else
``monotonically_increasing_id()`` (fixed for a given partitioning of the data: give
``row_id`` for a table that does not depend on it).
"""

from __future__ import annotations

from typing import Any

from ..exceptions import DataValidationError
from ._regression import (
    HIST_KINDS,
    STATS,
    Binning,
    RegressionCountTable,
    Spec,
    check_distinct,
    finish,
    plan_from_stats,
)
from ._spark import _q, _to_arrow
from ._table import check_names, feature_alias

__all__ = ["reduce_spark"]


def _double(F: Any, name: str) -> Any:
    col = F.col(_q(name))
    return col.try_cast("double") if hasattr(col, "try_cast") else col.cast("double")


def _bins(F: Any, x: Any, b: Binning) -> Any:
    """Return the row path's bin of ``x`` (:class:`._regression.Binning`) as a Spark column."""
    top = b.n - 1
    t = (x - F.lit(b.e0)) * F.lit(b.factor)
    k = F.when(t >= top, F.lit(top)).when(t > 0, F.floor(t)).otherwise(F.lit(0)).cast("long")
    down = (k > 0) & (x < k.cast("double") * F.lit(b.step) + F.lit(b.e0))
    up = (k < top) & (x >= (k + 1).cast("double") * F.lit(b.step) + F.lit(b.e0))
    return k - F.when(down, 1).otherwise(0) + F.when(up, 1).otherwise(0)


def reduce_spark(df: Any, spec: Spec) -> RegressionCountTable:
    """Reduce a PySpark DataFrame on its cluster."""
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    where = "the Spark DataFrame"
    avail = [str(c) for c in df.columns]
    check_names(spec.features, spec.y_true, spec.y_pred, None, avail, where, spec.sample_weight)
    if spec.row_id is not None:
        check_names((), spec.row_id, spec.row_id, None, avail, where)
    feats = [feature_alias(i) for i in range(len(spec.features))]
    cols = [F.col(_q(f)).alias(a) for f, a in zip(spec.features, feats, strict=True)]
    cols += [_double(F, spec.y_true).alias("y"), _double(F, spec.y_pred).alias("p")]
    if spec.weighted:
        assert spec.sample_weight is not None
        cols.append(_double(F, spec.sample_weight).alias("w"))
    rid = F.col(_q(spec.row_id)) if spec.row_id else F.monotonically_increasing_id()
    cols.append(F.pmod(F.xxhash64(rid), F.lit(spec.n_blocks)).cast("long").alias("block"))
    how = f"Spark pmod(xxhash64({spec.row_id or 'monotonically_increasing_id()'}), "
    how += f"{spec.n_blocks})"
    try:
        base = df.select(*cols)
        y, p = F.col("y"), F.col("p")

        def bad(x: Any) -> Any:
            finite = x.isNotNull() & ~F.isnan(x) & (F.abs(x) < F.lit(float("inf")))
            return F.sum(F.when(finite, 0).otherwise(1))

        aggs = {
            "n": F.count(F.lit(1)), "bad_y": bad(y), "bad_p": bad(p), "bad_w": F.lit(0),
            "y_min": F.min(y), "y_max": F.max(y), "p_min": F.min(p), "p_max": F.max(p),
            "a_max": F.max(F.abs(p - y)), "w_sum": F.lit(None), "wy_sum": F.sum(y),
        }  # fmt: skip
        if spec.weighted:
            w = F.col("w")
            ok = w.isNotNull() & ~F.isnan(w) & (w >= 0) & (w < F.lit(float("inf")))
            aggs.update(
                bad_w=F.sum(F.when(ok, 0).otherwise(1)), w_sum=F.sum(w), wy_sum=F.sum(w * y)
            )
        distinct = [F.approx_count_distinct(F.col(a)).alias(f"d{i}") for i, a in enumerate(feats)]
        row = base.agg(*[aggs[k].alias(k) for k in STATS], *distinct).collect()[0]
        plan = plan_from_stats({k: row[k] for k in STATS}, spec, where)
        check_distinct(
            {f: int(row[f"d{i}"]) for i, f in enumerate(spec.features)}, spec, exact=False
        )
        tables = [_to_arrow(g) for g in _group_bys(F, base, spec, plan, feats)]
    except PySparkException as exc:
        text = str(exc).strip().splitlines()
        raise DataValidationError(
            f"Spark failed to reduce the DataFrame: {text[0] if text else type(exc).__name__}"
        ) from exc
    return finish(
        tables[0], tables[1:], plan, spec, engine="spark", source="Spark DataFrame", blocks=how
    )


def _group_bys(F: Any, base: Any, spec: Spec, plan: Any, feats: list[str]) -> list[Any]:
    """Return the sums group-by and one histogram group-by per kind, as Spark DataFrames."""
    y, p = F.col("y"), F.col("p")
    e = p - y
    c = F.lit(plan.y_shift)
    terms = {
        "y_sum": y, "pred_sum": p, "residual_sum": e, "residual_sq_sum": e * e,
        "abs_residual_sum": F.abs(e), "y_dev_sq_sum": (y - c) * (y - c),
    }  # fmt: skip
    w = F.col("w")
    if spec.weighted:
        terms = {k: w * v for k, v in terms.items()}
    aggs = [F.count(F.lit(1)).alias("count")]
    if spec.weighted:
        aggs.append(F.sum(w).alias("weight_sum"))
    aggs += [F.sum(v).alias(k) for k, v in terms.items()]
    out = [base.groupBy(*feats, "block").agg(*aggs)]
    h = [F.count(F.lit(1)).alias("count")]
    if spec.weighted:
        h += [F.sum(w).alias("weight_sum"), F.sum(w * w).alias("weight_sq_sum")]
    h.append(F.sum(terms["residual_sum"]).alias("residual_sum"))
    h.append(F.sum(terms["residual_sq_sum"]).alias("residual_sq_sum"))
    xs = (p, F.abs(e), y)
    for j, kind in enumerate(HIST_KINDS):
        hj = h if kind == "target" else h[:-1]  # residual_sq_sum: read for true-value bins only
        binned = base.select("*", _bins(F, xs[j], plan.bins[j]).alias("bin"))
        out.append(binned.groupBy(*feats, "bin").agg(*hj))
    return out
