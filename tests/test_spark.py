"""A PySpark DataFrame is reduced on the cluster (local[2] here) to the same numbers as rows.

Needs PySpark and Java; skipped with the reason where either is absent. One SparkSession serves
the whole test session.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import numpy as np
import pandas as pd
import pytest

import auditkit
from auditkit.exceptions import DataValidationError
from auditkit.scale import reduce_predictions

pytestmark = pytest.mark.spark

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java (java is not on PATH)", allow_module_level=True)

from test_scale import KW, SECTIONS, compare, intervals, make_log, values  # noqa: E402


def to_spark(spark: Any, df: pd.DataFrame) -> Any:
    """A Spark DataFrame from plain rows (no pandas conversion on the Spark side)."""
    from pyspark.sql import types as T

    kinds = {
        "i": T.LongType(), "b": T.BooleanType(), "f": T.DoubleType(), "O": T.StringType(),
    }  # fmt: skip
    fields = []
    for c in df.columns:
        kind = df[c].dtype.kind if df[c].dtype.kind in kinds else "O"
        fields.append(T.StructField(c, kinds[kind], True))
    rows = [
        tuple(None if (isinstance(v, float) and np.isnan(v)) else v for v in r)
        for r in df.astype(object).itertuples(index=False)
    ]
    return spark.createDataFrame(rows, schema=T.StructType(fields))


@pytest.mark.parametrize(("seed", "labels"), [(0, "int"), (1, "str"), (2, "bool")])
def test_spark_equals_the_row_audit(spark: Any, seed: int, labels: str) -> None:
    df = make_log(seed, n=1200, labels=labels)
    pos = "approved" if labels == "str" else None
    rows = values(auditkit.audit_predictions(data=df, pos_label=pos, n_boot=0, **KW))
    res = auditkit.audit_predictions(data=to_spark(spark, df), pos_label=pos, n_boot=0, **KW)
    assert res.data["engine"] == "spark" and res.data["n_rows"] == len(df)
    compare(rows, values(res))


def test_spark_intervals_equal_duckdb(spark: Any) -> None:
    df = make_log(4, n=1500, quantized=False)
    sp = auditkit.audit_predictions(data=to_spark(spark, df), n_boot=40, random_state=1, **KW)
    pl = pytest.importorskip("polars")
    ref = auditkit.audit_predictions(data=pl.from_pandas(df), n_boot=40, random_state=1, **KW)
    compare(values(ref), values(sp))
    a, b = intervals(ref), intervals(sp)
    for key, ci in a.items():
        assert (ci is None) == (b[key] is None), key
        if ci is not None:
            assert np.allclose(ci, b[key], rtol=1e-9, atol=1e-12), key
    assert sp.section("performance").info["roc_auc_max_error"] > 0
    assert [s.name for s in sp.sections] == SECTIONS


def test_spark_errors_name_the_column(spark: Any) -> None:
    df = make_log(0, n=100)
    sdf = to_spark(spark, df)
    with pytest.raises(DataValidationError, match="did you mean 'region'"):
        reduce_predictions(sdf, y_true="label", y_pred="decision", sensitive_features="Region")
    bad = df.copy()
    bad.loc[[1, 2, 3], "region"] = None
    with pytest.raises(DataValidationError, match="'region' has 3 missing value"):
        auditkit.audit_predictions(data=to_spark(spark, bad), **KW)
    bad = df.copy()
    bad.loc[4, "score"] = 1.25
    with pytest.raises(DataValidationError, match=r"found 1\.25"):
        auditkit.audit_predictions(data=to_spark(spark, bad), **KW)
