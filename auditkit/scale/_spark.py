"""Reduction on a Spark cluster: ``groupBy().agg()`` over a PySpark DataFrame.

The two group-bys of :mod:`._table` run as Spark jobs where the data lives; only their
results (a few thousand rows) are collected to the driver, through Arrow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..exceptions import DataValidationError
from ._table import (  # fmt: skip
    EPS,
    ONE_MINUS_EPS,
    CountTable,
    check_group_counts,
    check_names,
    feature_alias,
    from_arrow,
)

__all__ = ["reduce_spark"]


def _to_arrow(df: Any) -> Any:
    """Collect a small Spark result as a pyarrow Table."""
    if hasattr(df, "toArrow"):
        return df.toArrow()
    import pyarrow as pa  # pragma: no cover - PySpark < 4

    return pa.Table.from_pandas(df.toPandas(), preserve_index=False)  # pragma: no cover


def reduce_spark(
    df: Any, *, features: Sequence[str], y_true: str, y_pred: str, y_score: str | None,
    n_bins: int, auc_bins: int, score_cells: bool = True, log_loss: bool = False,
    sample_weight: str | None = None, max_groups: int | None = None,
) -> CountTable:  # fmt: skip
    """Reduce a PySpark DataFrame on its cluster.

    With ``max_groups``, a first job counts the distinct values of the sensitive columns
    (``approx_count_distinct``, HyperLogLog) and refuses a column over the ceiling.
    """
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    avail = [str(c) for c in df.columns]
    check_names(features, y_true, y_pred, y_score, avail, "the Spark DataFrame", sample_weight)
    cols = [F.col(_q(f)).alias(feature_alias(i)) for i, f in enumerate(features)]
    cols += [F.col(_q(y_true)).alias("y_true"), F.col(_q(y_pred)).alias("y_pred")]
    keys = [feature_alias(i) for i in range(len(features))] + ["y_true", "y_pred"]
    w_sums: list[Any] = []
    if sample_weight is not None:
        raw = F.col(_q(sample_weight)).cast("double")
        valid = (raw >= 0) & (raw < F.lit(float("inf"))) & ~F.isnan(raw)
        cols.append(F.when(valid, raw).otherwise(F.lit(float("nan"))).alias("w"))
        w = F.col("w")
        w_sums = [F.sum(w).alias("weight_sum"), F.sum(w * w).alias("weight_sq_sum")]
    try:
        if max_groups is not None:
            row = df.select(
                *[F.approx_count_distinct(F.col(_q(f))).alias(feature_alias(i))
                  for i, f in enumerate(features)]
            ).collect()[0]  # fmt: skip
            check_group_counts(
                {f: int(row[feature_alias(i)]) for i, f in enumerate(features)}, max_groups,
                exact=False,
            )  # fmt: skip
        if y_score is None:
            g = df.select(*cols).groupBy(*keys).agg(F.count(F.lit(1)).alias("count"), *w_sums)
            g_arrow, f_arrow = _to_arrow(g), None
        else:
            s = F.col("s")
            valid = (s >= 0) & (s <= 1)

            def binned(n: int) -> Any:
                return (
                    F.when(valid, F.least(F.floor(s * F.lit(float(n))), F.lit(n - 1)))
                    .otherwise(F.lit(-1))
                    .cast("long")
                )

            base = df.select(*cols, F.col(_q(y_score)).cast("double").alias("s")).select(
                "*", binned(n_bins).alias("score_bin"), binned(auc_bins).alias("fine_bin")
            )
            sums = [F.count(F.lit(1)).alias("count"), F.sum(s).alias("score_sum"),
                    F.sum(s * s).alias("score_sq_sum")]  # fmt: skip
            if w_sums:
                w = F.col("w")
                sums += [*w_sums, F.sum(w * s).alias("weight_score_sum"),
                         F.sum(w * s * s).alias("weight_score_sq_sum")]  # fmt: skip
            if log_loss:
                lo, hi = F.lit(EPS), F.lit(ONE_MINUS_EPS)
                base = base.select(
                    "*", (-F.log(F.greatest(F.least(s, hi), lo))).alias("l_pos"),
                    (-F.log(F.greatest(F.least(F.lit(1.0) - s, hi), lo))).alias("l_neg"),
                )  # fmt: skip
                l_pos, l_neg = F.col("l_pos"), F.col("l_neg")
                sums += [
                    F.sum(l_pos).alias("nll_pos"), F.sum(l_neg).alias("nll_neg"),
                    F.sum(l_pos * l_pos).alias("nll_pos_sq"),
                    F.sum(l_neg * l_neg).alias("nll_neg_sq"),
                ]  # fmt: skip
                if w_sums:
                    w = F.col("w")
                    sums += [
                        F.sum(w * l_pos).alias("weight_nll_pos"),
                        F.sum(w * l_neg).alias("weight_nll_neg"),
                        F.sum(w * l_pos * l_pos).alias("weight_nll_pos_sq"),
                        F.sum(w * l_neg * l_neg).alias("weight_nll_neg_sq"),
                    ]  # fmt: skip
            g = base.groupBy(*keys, "score_bin").agg(*sums)
            f_sums = [F.count(F.lit(1)).alias("count"), F.min(s).alias("score_min"),
                      F.max(s).alias("score_max")]  # fmt: skip
            if w_sums:
                w = F.col("w")
                f_sums += [F.sum(w).alias("weight_sum"), F.sum(w * w).alias("weight_sq_sum")]
            f = base.groupBy("y_true", "fine_bin").agg(*f_sums)
            g_arrow, f_arrow = _to_arrow(g), (_to_arrow(f) if score_cells else None)
    except PySparkException as exc:
        text = str(exc).strip().splitlines()
        raise DataValidationError(
            f"Spark failed to reduce the DataFrame: {text[0] if text else type(exc).__name__}"
        ) from exc
    return from_arrow(
        g_arrow, f_arrow, features=tuple(features),
        columns={"y_true": y_true, "y_pred": y_pred, "y_score": y_score,
                 "sample_weight": sample_weight},
        n_bins=n_bins, auc_bins=auc_bins, engine="spark", source="Spark DataFrame",
    )  # fmt: skip


def _q(name: str) -> str:
    """Quote a column name for ``F.col`` (dots and backticks are special there)."""
    return "`" + name.replace("`", "``") + "`"
