"""User tables: CSV and Parquet, with errors that name the file, the column and the value."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._core.io import sha256_file
from .._core.validation import check_columns
from ..exceptions import DataValidationError
from ._schema import DatasetSchema, FeatureSpec


@dataclass(frozen=True)
class Table:
    """A user table split into inputs, labels and sensitive columns.

    Attributes
    ----------
    X : DataFrame
        Every column but the target (sensitive columns stay in ``X``: whether the model may see
        them is the model's business).
    y : ndarray
        The target column's raw values.
    sensitive_features : DataFrame or None
        The sensitive columns, as strings.
    schema : DatasetSchema
        Inferred: numeric columns are numeric, every other column categorical.
    path : Path
    sha256 : str
    """

    X: Any
    y: np.ndarray
    sensitive_features: Any
    schema: DatasetSchema
    path: Path
    sha256: str


def read_frame(path: str | os.PathLike[str]) -> Any:
    """Read a CSV or Parquet file into a pandas DataFrame, naming the file in every error."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise DataValidationError(f"Data file {str(p)!r} does not exist.")
    if p.is_dir():
        raise DataValidationError(f"Data path {str(p)!r} is a folder, not a CSV or Parquet file.")
    suffix = "".join(s for s in p.suffixes if s in {".csv", ".parquet", ".pq", ".gz"})
    try:
        if suffix.startswith(".csv"):
            df = pd.read_csv(p)
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(p)
        else:
            raise DataValidationError(
                f"Cannot read {p.name!r}: the file name must end in .csv, .csv.gz or .parquet."
            )
    except DataValidationError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise DataValidationError(f"Data file {p.name!r} is empty.") from exc
    except (UnicodeDecodeError, pd.errors.ParserError, OSError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataValidationError(f"Cannot read data file {p.name!r}: {msg}") from exc
    except Exception as exc:  # pyarrow raises its own types on corrupt files
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataValidationError(f"Cannot read data file {p.name!r}: {msg}") from exc
    dup = df.columns[df.columns.duplicated()].tolist()
    if dup:
        raise DataValidationError(f"Column {str(dup[0])!r} appears more than once in {p.name}.")
    df.columns = [str(c) for c in df.columns]
    if len(df) == 0:
        raise DataValidationError(f"Data file {p.name!r} has a header but no rows.")
    return df


def infer_schema(
    X: Any, *, name: str, target: str, y: np.ndarray, sensitive: list[str]
) -> DatasetSchema:
    """Infer a :class:`DatasetSchema`: numeric dtypes are numeric, other columns categorical."""
    import pandas as pd

    feats = []
    for c in X.columns:
        s = X[c]
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            cats = tuple(sorted({str(v) for v in s.dropna().unique()}))
            feats.append(FeatureSpec(str(c), "categorical", cats))
        else:
            feats.append(FeatureSpec(str(c), "numeric"))
    classes = tuple(str(v) for v in np.unique(y.astype(str) if y.dtype == object else y))
    return DatasetSchema(
        name=name,
        modality="tabular",
        features=tuple(feats),
        target=target,
        class_names=classes,
        sensitive=tuple(sensitive),
    )


def load_table(
    path: str | os.PathLike[str],
    *,
    target: str,
    sensitive_features: str | list[str] | tuple[str, ...] | None = None,
) -> Table:
    """Load a CSV or Parquet file as inputs, labels and sensitive columns.

    Parameters
    ----------
    path : str or path-like
        A ``.csv``, ``.csv.gz`` or ``.parquet`` file with a header row.
    target : str
        The label column.
    sensitive_features : str or list of str, default=None
        Sensitive columns (they stay in ``X`` too).

    Returns
    -------
    Table

    Raises
    ------
    DataValidationError
        When the file cannot be read, a column is missing ("Column 'sex' not found in
        data.csv; available: ..."), or the target holds missing values.
    """
    p = Path(path)
    df = read_frame(p)
    sens = (
        [sensitive_features]
        if isinstance(sensitive_features, str)
        else list(sensitive_features or [])
    )
    check_columns([target], list(df.columns), what="Target column", where=p.name)
    check_columns(sens, list(df.columns), what="Sensitive column", where=p.name)
    if target in sens:
        raise DataValidationError(
            f"Column {target!r} of {p.name} cannot be both the target and a sensitive feature."
        )
    y_series = df[target]
    if y_series.isna().any():
        i = int(np.flatnonzero(y_series.isna().to_numpy())[0])
        raise DataValidationError(
            f"Target column {target!r} of {p.name} has {int(y_series.isna().sum())} missing "
            f"value(s), the first at row {i}."
        )
    for c in sens:
        if df[c].isna().any():
            i = int(np.flatnonzero(df[c].isna().to_numpy())[0])
            raise DataValidationError(
                f"Sensitive column {c!r} of {p.name} has {int(df[c].isna().sum())} missing "
                f"value(s), the first at row {i}; fill them (for example with 'unknown')."
            )
    X = df.drop(columns=[target])
    y = y_series.to_numpy()
    schema = infer_schema(X, name=p.name, target=target, y=y, sensitive=sens)
    sf = X[sens].astype(str) if sens else None
    return Table(X=X, y=y, sensitive_features=sf, schema=schema, path=p, sha256=sha256_file(p))
