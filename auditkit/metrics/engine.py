"""The fairness engine: one pass to a table of sufficient statistics, everything else from it.

Every standard group metric (selection rate, true/false positive/negative rates, accuracy,
precision, counts) is a function of a few counts per group, the cells of a confusion table;
calibration by group needs, in addition, sums of scores per score bin. The engine reduces the
rows once, vectorised (``pandas.factorize`` / ``np.bincount``, no per-row Python), to that
small **count table**, then computes per-group and overall metrics, Fairlearn's disparities and
bootstrap intervals from the table alone. The values equal Fairlearn's ``MetricFrame`` and its
module functions (``tests/test_fairness_vs_fairlearn.py`` checks this on many random cases).

The count table (the contract for external engines)
---------------------------------------------------
:func:`from_count_table` builds the engine's result from a table that any group-by can produce,
for example DuckDB, Polars or Spark over a prediction log larger than memory. One row per
combination of group values, true label, predicted label (and score bin) that occurs:

==================  ===========================  ============================================
column              type                         meaning
==================  ===========================  ============================================
``<feature>``        any hashable (str, int...)   one column per sensitive feature, named as
                                                 the feature (``sensitive_features=[...]``)
``y_true``          label                        the true label of the rows in the cell
``y_pred``          label                        the decision (predicted label)
``score_bin``       int in [0, n_bins), optional bin of the positive-class score:
                                                 ``min(floor(score * n_bins), n_bins - 1)``
``count``           int >= 0                     number of rows in the cell
``score_sum``       float, optional              sum of the positive-class scores in the cell
``score_sq_sum``    float, optional              sum of their squares (only for bootstrap
                                                 intervals of calibration; 0 variance if absent)
``weight_sum``      float >= 0, optional         sum of the sample weights of the rows; makes
                                                 every metric weighted
``weight_sq_sum``   float >= 0, optional         sum of the squared weights (only for honest
                                                 bootstrap intervals with weights; the weights
                                                 of a cell are taken as equal if absent)
``weight_score_sum``    float, with weights      ``SUM(w * score)``: calibration by group of a
                                                 weighted table with ``score_bin`` needs it
``weight_score_sq_sum`` float, optional          ``SUM(w * score * score)`` (bootstrap)
==================  ===========================  ============================================

``score_sum`` and ``score_sq_sum`` stay unweighted in a weighted table, so that the same table
serves readers that do not weight (the performance section of a reduced log).

Rows may repeat a key (they are added up), so partial aggregates can simply be concatenated.
Group levels are the values seen with a positive count, sorted, and the intersection of two or
more features covers every combination of levels, as ``MetricFrame.by_group`` does (empty
combinations have count 0 and undefined metrics). In SQL::

    SELECT sex, race, y_true, y_pred,
           LEAST(CAST(FLOOR(score * 10) AS INTEGER), 9) AS score_bin,
           COUNT(*) AS count, SUM(score) AS score_sum, SUM(score * score) AS score_sq_sum
    FROM predictions GROUP BY ALL

:func:`count_table` produces the same table from in-memory arrays, and :func:`group_metrics`
is ``from_count_table(count_table(...))``: the in-memory path and the external path are one.

Conventions (Fairlearn's, so values match it)
---------------------------------------------
* A rate whose denominator is 0 in a non-empty group (a true positive rate in a group with no
  positive labels) is 0, as ``fairlearn.metrics.true_positive_rate`` and scikit-learn's
  ``zero_division="warn"`` give. ``undefined="nan"`` makes it NaN instead (it then drops out of
  disparities); callers flag such groups either way.
* An empty group (an intersection that does not occur) has NaN metrics and is skipped by
  ``min``/``max``, as pandas skips the NaN rows of ``MetricFrame.by_group``.
* ``difference(method="between_groups")`` is ``max - min``; ``ratio`` is ``min / max`` (NaN
  when every group is 0); ``method="to_overall"`` takes the largest ``|group - overall|`` and
  the smallest ``group / overall`` folded to at most 1 (``x > 1 -> 1 / x``).
* ``equalized_odds_*`` with Fairlearn's default ``agg="worst_case"`` is Python's ``max`` (for
  the difference) or ``min`` (for the ratio) of the ``[true_positive_rate,
  false_positive_rate]`` values in that order, which is what Fairlearn evaluates, including its
  handling of a NaN entry (``max([a, nan])`` is ``a``; ``max([nan, b])`` is ``nan``).
* Multiclass labels get one-vs-rest views per class (``label=<class index>``) for the selection
  rate and the true and false positive rates, plus the multiclass accuracy.
* ``balanced_accuracy`` is scikit-learn's ``balanced_accuracy_score``: the mean recall over the
  classes present in the group's ``y_true``. ``false_omission_rate`` is FN / (FN + TN) and
  ``false_discovery_rate`` FP / (FP + TP), 0/0 handled as the other rates.
* ``equalized_odds_*`` with ``agg="mean"`` (extra keys with ``Key.agg == "mean"``) is pandas'
  NaN-skipping mean of the two values, as Fairlearn's ``eo.difference().mean()``.
* ``average_odds_difference`` is AIF360's average odds difference, the mean of the false
  positive rate gap and the true positive rate gap, with Fairlearn's gaps: ``between_groups``
  (largest minus smallest of each rate, so >= 0) and ``to_overall`` (largest distance of a
  group to the whole population). AIF360's signed unprivileged-minus-privileged value between
  two groups is ``+-`` this value when both gaps have the same sign.
* ``roc_auc`` by group (``group_metrics(..., roc_auc=True)``, binary with scores) is computed
  from the rows, not from the table, and has no bootstrap interval.

Sample weights
--------------
With ``sample_weight`` (rows) or a ``weight_sum`` column (tables), every rate, accuracy,
balanced accuracy and calibration value is a ratio of weight sums, as Fairlearn's
``MetricFrame(..., sample_params={m: {"sample_weight": w}})`` and scikit-learn's weighted
metrics compute it; ``count`` stays the number of rows (small-group rules count people, not
weight), and the denominators reported for flags are numbers of rows too. A group whose
weights sum to 0 is treated as empty (NaN metrics; Fairlearn's ``selection_rate`` is NaN and
``accuracy_score`` raises there).

Bootstrap
---------
:meth:`GroupMetrics.bootstrap` resamples the cell counts of the finest table (the intersection
of all features) from ``Multinomial(n, counts / n)``, which is the distribution of the cell
counts of ``n`` rows drawn with replacement, so every metric and disparity, for every feature
and intersection, is computed on the same resample, at a cost independent of ``n``. Score sums
are resampled given the counts with a normal approximation from the within-cell mean and
variance (exact for the count metrics; a central-limit approximation for calibration).

With weights, drawing ``N`` rows of a cell with replacement draws ``N`` of its weights: their
sum has mean ``N * m`` and variance ``N * v`` (``m``, ``v`` the mean and variance of the cell's
weights, from ``weight_sum`` and ``weight_sq_sum``), so a resampled cell weight is
``N * m + sqrt(N * v) * Z`` (``Z`` standard normal, clipped at 0): the within-cell weight
distribution enters through its first two moments, which is the central-limit approximation
of the row bootstrap (exact when the weights of a cell are equal, and checked for coverage by
simulation in ``tests/test_weighted.py``). Weighted score sums are resampled as
``W * mu + sqrt(N * E[w^2] * var) * Z`` with ``mu`` and ``var`` the weighted mean and variance
of the cell's scores, which assumes weights and scores independent within a cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np

from ..exceptions import DataValidationError, ParameterError
from .definitions import RATE_METRICS
from .stats import percentile_interval

__all__ = [
    "COUNT_TABLE_COLUMNS",
    "DEFAULT_N_BINS",
    "GroupMetrics",
    "Intervals",
    "Key",
    "count_table",
    "from_count_table",
    "group_metrics",
    "score_bins",
]

Method = Literal["between_groups", "to_overall"]
Undefined = Literal["zero", "nan"]

#: Column names of the count table besides the sensitive features.
COUNT_TABLE_COLUMNS = (
    "y_true", "y_pred", "score_bin", "count", "score_sum", "score_sq_sum", "weight_sum",
    "weight_sq_sum", "weight_score_sum", "weight_score_sq_sum",
)  # fmt: skip
#: Equal-width score bins used for calibration.
DEFAULT_N_BINS = 10
#: Above this many combinations, an intersection keeps only the combinations that occur.
MAX_PRODUCT_GROUPS = 100_000
#: Cells x replicates per bootstrap chunk (bounds memory).
_BOOT_CHUNK_ELEMENTS = 2_000_000

_BINARY_RATES = tuple(m.name for m in RATE_METRICS)
_MULTICLASS_RATES = ("selection_rate", "true_positive_rate", "false_positive_rate")
_RATE_SPEC = {m.name: (m.numerator or (), m.denominator or ()) for m in RATE_METRICS}


class Key(NamedTuple):
    """Address of one quantity in a :class:`GroupMetrics` result.

    Attributes
    ----------
    name : str
        Metric name (``"selection_rate"``, ``"selection_rate_ratio"``,
        ``"equalized_odds_difference"``...).
    features : tuple of str or None
        The grouping (one feature, or several for an intersection); None for overall values.
    label : int or None
        Class index of a one-vs-rest view (multiclass); None otherwise.
    part : str
        ``"group"`` (one value per group), ``"overall"``, ``"between_groups"`` or
        ``"to_overall"`` (disparities).
    agg : str or None, default=None
        How a disparity over two rates is aggregated when it is not Fairlearn's default:
        ``"mean"`` for ``equalized_odds_*`` with ``agg="mean"`` (None is ``"worst_case"``).
    """

    name: str
    features: tuple[str, ...] | None
    label: int | None
    part: str
    agg: str | None = None


# ------------------------------------------------------------------------------- reduction
def _to_array(values: Any, *, name: str) -> np.ndarray:
    arr = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataValidationError(f"{name} must be one-dimensional; got shape {arr.shape}.")
    return arr


#: Codes of Arrow string columns that auditkit built itself (the sensitive frame), by the
#: identity of their immutable Arrow data: the engine does not hash those strings again.
_KNOWN_CODES: dict[int, tuple[Any, np.ndarray, np.ndarray]] = {}


def remember_codes(column: Any, codes: np.ndarray, levels: np.ndarray) -> None:
    """Record the sorted ``(codes, levels)`` of an Arrow-backed string Series built from them.

    Arrow data is immutable, so while the column's data is alive its codes hold; the entry
    goes when the data is collected. Any other column (a slice, a user's) is factorized.
    """
    import weakref

    data = getattr(column.array, "_pa_array", None)
    if data is None:
        return
    key = id(data)

    def _drop(_ref: Any) -> None:
        _KNOWN_CODES.pop(key, None)

    try:
        ref = weakref.ref(data, _drop)
    except TypeError:  # pragma: no cover - not weak-referenceable
        return
    _KNOWN_CODES[key] = (ref, codes, levels)


def forget_codes(frame: Any) -> None:
    """Drop the codes :func:`remember_codes` holds for the columns of ``frame``."""
    if frame is None:
        return
    for c in frame.columns:
        data = getattr(frame[c].array, "_pa_array", None)
        if data is not None:
            _KNOWN_CODES.pop(id(data), None)


def _arrow_factorize(values: Any, *, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Factorize an Arrow-backed pandas string column without converting it to objects."""
    import pandas as pd

    if not isinstance(values, pd.Series) or not hasattr(values.array, "__arrow_array__"):
        return None
    if not pd.api.types.is_string_dtype(values.dtype):
        return None
    data = getattr(values.array, "_pa_array", None)
    known = _KNOWN_CODES.get(id(data)) if data is not None else None
    if known is not None and known[0]() is data and len(known[1]) == len(values):
        return known[1], known[2]
    import pyarrow as pa

    arr = pa.array(values.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        i = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise DataValidationError(f"{name} has a missing value (NaN or None) at row {i}.")
    enc = arr.dictionary_encode()
    idx = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    dictionary = np.asarray(enc.dictionary.to_pylist(), dtype=object)
    order = np.argsort(dictionary, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[idx], dictionary[order]


def _factorize_pair(yt: np.ndarray, yp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of ``y_true`` and ``y_pred`` over their sorted union of labels, and the labels."""
    if yt.dtype.kind in "biu" and yp.dtype.kind in "biu" and yt.size and yp.size:
        lo = min(int(yt.min()), int(yp.min()))
        hi = max(int(yt.max()), int(yp.max()))
        if hi - lo <= 1_000_000:
            st = yt.astype(np.int64, copy=False) - lo
            sp = yp.astype(np.int64, copy=False) - lo
            seen = np.bincount(st, minlength=hi - lo + 1) + np.bincount(sp, minlength=hi - lo + 1)
            present = np.flatnonzero(seen)
            lookup = np.full(hi - lo + 1, -1, dtype=np.int64)
            lookup[present] = np.arange(present.size)
            dtype = np.result_type(yt.dtype, yp.dtype)
            return lookup[st], lookup[sp], (present + lo).astype(dtype)
    both, observed = _factorize(np.concatenate([yt, yp]), name="y_true/y_pred")
    return both[: len(yt)], both[len(yt) :], observed


def _factorize(values: Any, *, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (codes, sorted levels); integer and boolean arrays take a bincount fast path."""
    import pandas as pd

    fast = _arrow_factorize(values, name=name)
    if fast is not None:
        return fast
    arr = values.to_numpy() if isinstance(values, pd.Series) else values
    if arr.dtype.kind in "biu" and arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if hi - lo <= 1_000_000:
            shifted = arr.astype(np.int64) - lo
            present = np.flatnonzero(np.bincount(shifted, minlength=hi - lo + 1))
            lookup = np.full(hi - lo + 1, -1, dtype=np.int64)
            lookup[present] = np.arange(present.size)
            levels = (present + lo).astype(arr.dtype)
            return lookup[shifted], levels
    if arr.dtype.kind == "f" and arr.size and np.isnan(arr).any():
        i = int(np.flatnonzero(np.isnan(arr))[0])
        raise DataValidationError(f"{name} has a missing value (NaN) at row {i}.")
    try:
        codes, levels = pd.factorize(arr, sort=True)
    except TypeError as exc:  # unorderable mixture, or lists/arrays (unhashable)
        if "unhashable" in str(exc):
            raise DataValidationError(
                f"{name} holds non-scalar values (lists or arrays); it needs one value per row."
            ) from exc
        raise DataValidationError(
            f"{name} mixes value types that cannot be sorted: {exc}"
        ) from exc
    if codes.size and codes.min() < 0:
        i = int(np.flatnonzero(codes < 0)[0])
        raise DataValidationError(f"{name} has a missing value (NaN or None) at row {i}.")
    return codes.astype(np.int64, copy=False), np.asarray(levels)


def _sensitive_columns(sensitive_features: Any, n: int | None) -> list[tuple[str, Any]]:
    """Normalise sensitive features to ``[(name, values)]`` (Fairlearn's accepted forms).

    Values are numpy arrays, or pandas Series (kept as such so that Arrow-backed strings are
    factorized without a conversion to Python objects).
    """
    import pandas as pd

    sf = sensitive_features
    if isinstance(sf, pd.Series):
        cols = [(str(sf.name) if sf.name is not None else "sensitive_feature_0", sf)]
    elif isinstance(sf, pd.DataFrame):
        cols = [(str(c), sf[c]) for c in sf.columns]
    elif isinstance(sf, Mapping):
        cols = [
            (
                str(k),
                v if isinstance(v, pd.Series) else _to_array(v, name=f"sensitive feature {k!r}"),
            )
            for k, v in sf.items()
        ]
    else:
        arr = np.asarray(sf)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise DataValidationError(
                f"sensitive_features must be 1-d or 2-d; got shape {arr.shape}."
            )
        cols = [(f"sensitive_feature_{i}", arr[:, i]) for i in range(arr.shape[1])]
    if not cols:
        raise DataValidationError("sensitive_features has no columns.")
    names = [c for c, _ in cols]
    if len(set(names)) != len(names):
        dup = next(c for c in names if names.count(c) > 1)
        raise DataValidationError(f"Sensitive feature {dup!r} is given more than once.")
    for name, v in cols:
        if n is not None and len(v) != n:
            raise DataValidationError(
                f"Sensitive feature {name!r} has {len(v)} rows but y_true has {n}."
            )
    return cols


def _is_01(values: Iterable[Any]) -> Any:
    """Return the positive label when ``values`` are within {0, 1}, {-1, 1} or bools."""
    vals = list(values)
    if all(isinstance(v, (bool, np.bool_)) for v in vals):
        return True
    try:
        s = {float(v) for v in vals}
    except (TypeError, ValueError):
        return None
    if s <= {0.0, 1.0} or s <= {-1.0, 1.0}:
        return 1
    return None


def _find_label(classes: np.ndarray, value: Any) -> int | None:
    """Index of ``value`` in ``classes``: equal value and kind first, then equal text."""
    v = value.item() if hasattr(value, "item") else value
    items = classes.tolist()
    for i, c in enumerate(items):
        if c == v and isinstance(c, bool) == isinstance(v, bool):
            return i
    for i, c in enumerate(items):
        if str(c) == str(v):
            return i
    return None


def _resolve_classes(
    observed: np.ndarray, labels: Sequence[Any] | None, pos_label: Any
) -> tuple[np.ndarray, int | None]:
    """Return (classes, index of the positive class or None for multiclass)."""
    if labels is not None:
        classes = np.asarray(list(labels))
        if len(classes) == 0:
            raise ParameterError("labels must not be empty.")
        if len(set(classes.tolist())) != len(classes):
            raise ParameterError(f"labels has repeated values: {list(classes)!r}.")
    else:
        classes = np.asarray(observed)
        if len(classes) == 1:
            pos = _is_01(classes.tolist())
            if pos is True:
                classes = np.array([False, True])
            elif pos is not None:
                v = classes.tolist()[0]
                classes = np.array([-1, 1] if v == -1 else [0, 1], dtype=classes.dtype)
            elif pos_label is not None and _find_label(classes, pos_label) is None:
                classes = np.asarray(sorted([classes.tolist()[0], pos_label], key=str))
    if len(classes) > 2:
        if pos_label is not None:
            shown = ", ".join(map(str, classes.tolist()[:10]))
            raise DataValidationError(
                f"pos_label={pos_label!r} asks for a binary metric, but the labels have "
                f"{len(classes)} classes ({shown}); binary metrics need two classes."
            )
        return classes, None
    if len(classes) == 1:
        raise DataValidationError(
            f"The labels hold a single value {classes.tolist()[0]!r}; pass labels=[...] or "
            "pos_label= so the engine knows the other class."
        )
    if pos_label is None:
        pos_label = _is_01(classes.tolist())
        if pos_label is None:
            raise ParameterError(
                f"The labels are {classes.tolist()!r}; pass pos_label= to say which one is the "
                "positive (favourable) outcome."
            )
    idx = _find_label(classes, pos_label)
    if idx is None:
        raise DataValidationError(
            f"pos_label={pos_label!r} is not one of the labels: {classes.tolist()!r}."
        )
    return classes, idx


def _encode(values: np.ndarray, classes: np.ndarray, *, name: str) -> np.ndarray:
    import pandas as pd

    k = len(classes)
    if (
        values.dtype.kind in "iu"
        and classes.dtype.kind in "iu"
        and values.size
        and np.array_equal(classes, np.arange(k))
        and values.min() >= 0
        and values.max() < k
    ):  # class indices already (the sections' call): no hashing
        return values.astype(np.int64, copy=False)
    try:
        codes = pd.Index(classes).get_indexer(values)
    except TypeError:  # pragma: no cover - unhashable labels
        codes = np.asarray([_find_label(classes, v) for v in values.tolist()])
    if codes.size and codes.min() < 0:
        i = int(np.flatnonzero(codes < 0)[0])
        bad = values[i].item() if hasattr(values[i], "item") else values[i]
        raise DataValidationError(
            f"Label {bad!r} in {name} (row {i}) is not one of the labels {classes.tolist()!r}."
        )
    return codes.astype(np.int64, copy=False)


def check_sample_weight(sample_weight: Any, n: int, *, name: str = "sample_weight") -> np.ndarray:
    """Return ``sample_weight`` as a float64 array of ``n`` finite weights >= 0 (not all 0).

    Raises
    ------
    DataValidationError
        Wrong shape or length, a missing, infinite or negative weight (the row is named), or
        weights that sum to 0.
    """
    try:
        w = _to_array(sample_weight, name=name).astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"{name} must hold numbers: {exc}") from exc
    if len(w) != n:
        raise DataValidationError(f"{name} has {len(w)} rows but y_true has {n}.")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            f"{name} must hold finite weights >= 0; found {float(w[i])!r} at row {i}."
        )
    if n and not w.sum() > 0:
        raise DataValidationError(f"{name} sums to 0: every row has weight 0.")
    return w


def score_bins(y_score: np.ndarray, n_bins: int = DEFAULT_N_BINS) -> np.ndarray:
    """Return the calibration bin of each score: ``min(floor(score * n_bins), n_bins - 1)``."""
    s = np.asarray(y_score, dtype=np.float64)
    return np.minimum(np.floor(s * n_bins), n_bins - 1).astype(np.int64)


def count_table(
    y_true: Any,
    y_pred: Any,
    sensitive_features: Any,
    *,
    y_score: Any = None,
    labels: Sequence[Any] | None = None,
    pos_label: Any = None,
    n_bins: int = DEFAULT_N_BINS,
    sample_weight: Any = None,
    as_frame: bool = True,
) -> Any:
    """Reduce rows to the count table described in the module docstring.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True labels and decisions.
    sensitive_features : Series, DataFrame, dict of arrays, or array of shape (n_samples,) or
        (n_samples, n_features)
        The groups (as Fairlearn accepts them; unnamed columns are ``sensitive_feature_<i>``).
    y_score : array-like of shape (n_samples,), default=None
        Probability of the positive class (binary tasks); adds ``score_bin``, ``score_sum`` and
        ``score_sq_sum``.
    labels : sequence, default=None
        All class labels (default: the sorted labels seen).
    pos_label : label, default=None
        The positive class of a binary task (default: 1 for {0, 1} or {-1, 1} labels, True for
        booleans; required otherwise).
    n_bins : int, default=10
        Number of equal-width score bins.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows (finite, >= 0); adds ``weight_sum`` and ``weight_sq_sum`` per cell
        and, with scores, ``weight_score_sum`` and ``weight_score_sq_sum``.
    as_frame : bool, default=True
        Return a pandas DataFrame; False returns a dict of numpy columns (same layout).

    Returns
    -------
    DataFrame or dict of ndarray
        One row per non-empty cell.
    """
    out, _ = _count_table(
        y_true, y_pred, sensitive_features, y_score=y_score, labels=labels,
        pos_label=pos_label, n_bins=n_bins, sample_weight=sample_weight,
    )  # fmt: skip
    if as_frame:
        import pandas as pd

        return pd.DataFrame(out)
    return out


class _Rows(NamedTuple):
    """What the row reduction knows per row, kept for the metrics that need rows (ROC AUC)."""

    codes: list[np.ndarray]  # level index per row, per feature
    sizes: list[int]  # number of levels per feature
    y_pos: np.ndarray | None  # bool per row: true label is the positive class (binary)
    score: np.ndarray | None
    weight: np.ndarray | None


def _count_table(
    y_true: Any,
    y_pred: Any,
    sensitive_features: Any,
    *,
    y_score: Any,
    labels: Sequence[Any] | None,
    pos_label: Any,
    n_bins: int,
    sample_weight: Any,
) -> tuple[dict[str, np.ndarray], _Rows]:
    """:func:`count_table` as a dict of columns, and what the rows were reduced from."""
    yt = _to_array(y_true, name="y_true")
    yp = _to_array(y_pred, name="y_pred")
    n = len(yt)
    if len(yp) != n:
        raise DataValidationError(f"Inputs differ in length: y_true has {n}, y_pred {len(yp)}.")
    if n == 0:
        raise DataValidationError("y_true is empty; there is nothing to audit.")
    cols = _sensitive_columns(sensitive_features, n)
    if labels is None:
        t_codes, p_codes, observed = _factorize_pair(yt, yp)
        classes, _pos = _resolve_classes(observed, None, pos_label)
        if len(classes) != len(observed):  # completed binary labels (one observed value)
            t_codes = _encode(yt, classes, name="y_true")
            p_codes = _encode(yp, classes, name="y_pred")
    else:
        classes, _pos = _resolve_classes(np.asarray(list(labels)), labels, pos_label)
        t_codes = _encode(yt, classes, name="y_true")
        p_codes = _encode(yp, classes, name="y_pred")
    k = len(classes)
    codes, levels = [], []
    for name, v in cols:
        c, lv = _factorize(v, name=f"Sensitive feature {name!r}")
        codes.append(c)
        levels.append(lv)
    sizes = [len(lv) for lv in levels]
    b = 1
    score = None
    if y_score is not None:
        score = np.asarray(y_score, dtype=np.float64).ravel()
        if len(score) != n:
            raise DataValidationError(f"y_score has {len(score)} rows but y_true has {n}.")
        if not np.all(np.isfinite(score)) or (score.size and (score.min() < 0 or score.max() > 1)):
            bad = int(np.flatnonzero(~np.isfinite(score) | (score < 0) | (score > 1))[0])
            raise DataValidationError(
                f"y_score must hold probabilities in [0, 1]; found {float(score[bad])!r} at "
                f"row {bad}."
            )
        b = int(n_bins)
    w = None if sample_weight is None else check_sample_weight(sample_weight, n)
    # one integer per row: (group codes..., true, pred, bin), C order
    dims = [*sizes, k, k] + ([b] if score is not None else [])
    total = int(np.prod(np.asarray(dims, dtype=np.float64)))
    parts = [*codes, t_codes, p_codes]
    if score is not None:
        parts.append(score_bins(score, b))
    if total < 2**62:
        cell = np.ravel_multi_index(tuple(parts), tuple(dims))
        if total <= 20_000_000:
            cnt = np.bincount(cell, minlength=total)
            nz = np.flatnonzero(cnt)
            counts = cnt[nz]
            inv = None
        else:
            nz, inv, counts = np.unique(cell, return_inverse=True, return_counts=True)
        keys = np.unravel_index(nz, tuple(dims))
    else:  # pragma: no cover - astronomically many combinations
        stacked = np.column_stack(parts)
        uniq, inv, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
        keys = tuple(uniq[:, j] for j in range(uniq.shape[1]))
        nz = None
    out: dict[str, np.ndarray] = {}
    for j, (name, _) in enumerate(cols):
        out[name] = levels[j][keys[j]]
    out["y_true"] = classes[keys[len(cols)]]
    out["y_pred"] = classes[keys[len(cols) + 1]]
    if score is not None:
        out["score_bin"] = keys[len(cols) + 2].astype(np.int64)
    out["count"] = counts.astype(np.int64)

    def cell_sums(x: np.ndarray) -> np.ndarray:
        if inv is None:
            return np.bincount(cell, weights=x, minlength=total)[nz]
        return np.bincount(inv.ravel(), weights=x, minlength=len(counts))

    if score is not None:
        out["score_sum"] = cell_sums(score)
        out["score_sq_sum"] = cell_sums(score * score)
    if w is not None:
        out["weight_sum"] = cell_sums(w)
        out["weight_sq_sum"] = cell_sums(w * w)
        if score is not None:
            ws = w * score
            out["weight_score_sum"] = cell_sums(ws)
            out["weight_score_sq_sum"] = cell_sums(ws * score)
    y_pos = None if _pos is None else t_codes == _pos
    return out, _Rows(codes, sizes, y_pos, score, w)


# ------------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class _Table:
    """Dense sufficient statistics over the finest grouping (the intersection of all features)."""

    features: tuple[str, ...]
    levels: tuple[np.ndarray, ...]
    group_codes: np.ndarray  # (G, F) level index of each group for each feature
    classes: np.ndarray
    pos: int | None
    counts: np.ndarray  # (G, K, K, B) int64
    score_sum: np.ndarray | None  # (G, K, K, B); sums of w * score when weighted
    score_sq_sum: np.ndarray | None
    complete: bool  # every combination of levels is present (MetricFrame's reindex)
    weight_sum: np.ndarray | None = None  # (G, K, K, B) sums of sample weights
    weight_sq_sum: np.ndarray | None = None  # sums of squared sample weights

    @property
    def n_bins(self) -> int:
        return int(self.counts.shape[-1])

    def default_groupings(self) -> list[tuple[str, ...]]:
        """Each single feature, then the intersection of all of them (2+ features)."""
        out: list[tuple[str, ...]] = [(f,) for f in self.features]
        if len(self.features) >= 2:
            out.append(self.features)
        return out

    def grouping(self, features: tuple[str, ...]) -> _Grouping:
        """Return how to aggregate the finest groups into the groups of ``features``."""
        unknown = [f for f in features if f not in self.features]
        if unknown or not features or len(set(features)) != len(features):
            raise ParameterError(
                f"A grouping must name distinct sensitive features among {list(self.features)}; "
                f"got {list(features)}."
            )
        idx = [self.features.index(f) for f in features]
        if idx == list(range(len(self.features))):
            return _Grouping(features, None, None, self.group_codes)
        sub = self.group_codes[:, idx]
        sizes = tuple(len(self.levels[j]) for j in idx)
        product = int(np.prod(np.asarray(sizes, dtype=np.float64)))
        if product <= MAX_PRODUCT_GROUPS:
            sub_id = np.ravel_multi_index(tuple(sub.T), sizes)
            codes = np.column_stack(np.unravel_index(np.arange(product), sizes))
        else:
            codes, sub_id = np.unique(sub, axis=0, return_inverse=True)
            sub_id = sub_id.ravel()
        order = np.argsort(sub_id, kind="stable")
        sorted_id = sub_id[order]
        starts = np.flatnonzero(np.r_[True, sorted_id[1:] != sorted_id[:-1]])
        return _Grouping(features, order, (starts, sorted_id[starts]), codes)

    def group_labels(self, grouping: _Grouping) -> list[tuple[Any, ...]]:
        idx = [self.features.index(f) for f in grouping.features]
        cols = [self.levels[j][grouping.codes[:, i]].tolist() for i, j in enumerate(idx)]
        return list(zip(*cols))


@dataclass(frozen=True)
class _Grouping:
    """The groups of some features: an aggregation of the finest groups (sum by sub-group)."""

    features: tuple[str, ...]
    order: np.ndarray | None  # finest groups sorted by sub-group; None: identity
    segments: tuple[np.ndarray, np.ndarray] | None  # (starts in order, sub-group ids)
    codes: np.ndarray  # (P, len(features)) level index per group

    @property
    def n_groups(self) -> int:
        return int(self.codes.shape[0])

    def aggregate(self, x: np.ndarray) -> np.ndarray:
        """Sum ``x`` of shape (nb, G, R) over the finest groups into (nb, P, R)."""
        if self.order is None:
            return x
        assert self.segments is not None
        starts, ids = self.segments
        out = np.zeros((x.shape[0], self.n_groups, x.shape[2]), dtype=x.dtype)
        out[:, ids, :] = np.add.reduceat(x[:, self.order, :], starts, axis=1)
        return out


def _column(table: Any, name: str) -> np.ndarray:
    col = table[name]
    return col.to_numpy() if hasattr(col, "to_numpy") else np.asarray(col)


def from_count_table(
    table: Any,
    *,
    sensitive_features: Sequence[str] | str,
    labels: Sequence[Any] | None = None,
    pos_label: Any = None,
    n_bins: int | None = None,
    undefined: Undefined = "zero",
    groupings: Sequence[Sequence[str] | str] | None = None,
) -> GroupMetrics:
    """Compute every group metric and disparity from a count table.

    Parameters
    ----------
    table : DataFrame or mapping of str to array-like
        The count table (layout in the module docstring), from :func:`count_table` or from a
        group-by in another engine.
    sensitive_features : str or sequence of str
        The feature columns of ``table``, in the order the intersection is formed.
    labels : sequence, default=None
        All class labels (default: the sorted labels in ``y_true`` and ``y_pred``).
    pos_label : label, default=None
        The positive class (binary); same default as :func:`count_table`.
    n_bins : int, default=None
        Number of score bins (default: :data:`DEFAULT_N_BINS`); ``score_bin`` must be below it.
    undefined : {"zero", "nan"}, default="zero"
        Value of a 0/0 rate in a non-empty group: 0 as Fairlearn, or NaN.
    groupings : list of (str or tuple of str), default=None
        The groupings to compute: a feature, or a tuple of features for their intersection.
        Default: each feature, then the intersection of all features when there are 2+.

    Returns
    -------
    GroupMetrics
        Weighted when the table has a ``weight_sum`` column (calibration then reads
        ``weight_score_sum`` and ``weight_score_sq_sum``).

    Raises
    ------
    DataValidationError
        A column is missing, a count is negative, a score bin is out of range, or a label is
        not one of ``labels``.
    """
    from .._core.validation import check_columns

    feats = (
        [sensitive_features] if isinstance(sensitive_features, str) else list(sensitive_features)
    )
    if not feats:
        raise ParameterError("from_count_table needs at least one sensitive feature column.")
    avail = list(table.columns) if hasattr(table, "columns") else list(table.keys())
    check_columns([*feats, "y_true", "y_pred", "count"], avail, where="the count table")
    if undefined not in ("zero", "nan"):
        raise ParameterError(
            f"The 'undefined' parameter of from_count_table must be 'zero' or 'nan'. Got "
            f"{undefined!r} instead."
        )
    count = _column(table, "count")
    if count.dtype.kind not in "iub":
        if (
            count.dtype.kind == "f"
            and np.all(np.isfinite(count))
            and np.all(count == np.round(count))
        ):
            count = count.astype(np.int64)
        else:
            raise DataValidationError("The count table's 'count' column must hold integers.")
    count = count.astype(np.int64, copy=False)
    if count.size and count.min() < 0:
        i = int(np.flatnonzero(count < 0)[0])
        raise DataValidationError(f"The count table has a negative count {count[i]} at row {i}.")
    keep = count > 0
    if not keep.any():
        raise DataValidationError("The count table holds no rows (every count is 0).")
    count = count[keep]
    yt = _column(table, "y_true")[keep]
    yp = _column(table, "y_pred")[keep]
    if labels is None:
        t_codes, p_codes, observed = _factorize_pair(yt, yp)
        classes, pos = _resolve_classes(observed, None, pos_label)
        if len(classes) != len(observed):
            t_codes = _encode(yt, classes, name="y_true")
            p_codes = _encode(yp, classes, name="y_pred")
    else:
        classes, pos = _resolve_classes(np.asarray(list(labels)), labels, pos_label)
        t_codes = _encode(yt, classes, name="y_true")
        p_codes = _encode(yp, classes, name="y_pred")
    k = len(classes)
    has_scores = "score_bin" in avail
    b = 1
    bins = np.zeros(len(count), dtype=np.int64)
    if has_scores:
        b = DEFAULT_N_BINS if n_bins is None else int(n_bins)
        bins = _column(table, "score_bin")[keep].astype(np.int64)
        if bins.size and (bins.min() < 0 or bins.max() >= b):
            bad = bins[(bins < 0) | (bins >= b)][0]
            raise DataValidationError(
                f"The count table has score_bin {int(bad)}, outside [0, {b}); pass n_bins=."
            )
    codes, levels = [], []
    for name in feats:
        c, lv = _factorize(_column(table, name)[keep], name=f"Sensitive feature {name!r}")
        codes.append(c)
        levels.append(lv)
    sizes = tuple(len(lv) for lv in levels)
    product = int(np.prod(np.asarray(sizes, dtype=np.float64)))
    if product <= MAX_PRODUCT_GROUPS:
        complete = True
        gid = np.ravel_multi_index(tuple(codes), sizes) if len(feats) > 1 else codes[0]
        group_codes = np.column_stack(np.unravel_index(np.arange(product), sizes))
        g = product
    else:
        complete = False
        uniq, gid = np.unique(np.column_stack(codes), axis=0, return_inverse=True)
        gid = gid.ravel()
        group_codes = uniq
        g = len(uniq)
    flat = np.ravel_multi_index((gid, t_codes, p_codes, bins), (g, k, k, b))
    counts = np.bincount(flat, weights=count, minlength=g * k * k * b)
    counts = np.rint(counts).astype(np.int64).reshape(g, k, k, b)
    w_sum = w_sq = None
    if "weight_sum" in avail:
        sums: list[np.ndarray | None] = []
        for col in ("weight_sum", "weight_sq_sum"):
            if col not in avail:
                sums.append(None)
                continue
            x = _column(table, col)[keep].astype(np.float64)
            bad = ~np.isfinite(x) | (x < 0)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DataValidationError(
                    f"The count table's {col!r} must hold finite sums >= 0; found "
                    f"{float(x[i])!r} in row {i} of the cells with rows."
                )
            sums.append(np.bincount(flat, weights=x, minlength=g * k * k * b).reshape(g, k, k, b))
        w_sum, w_sq = sums
        assert w_sum is not None
        if not w_sum.sum() > 0:
            raise DataValidationError("The count table's weights sum to 0 (weight_sum).")
    s_sum = s_sq = None
    sum_col, sq_col = "score_sum", "score_sq_sum"
    if w_sum is not None:
        sum_col, sq_col = "weight_score_sum", "weight_score_sq_sum"
        if has_scores and sum_col not in avail and "score_sum" in avail:
            raise DataValidationError(
                "The count table has weights (weight_sum) and score sums, but not the weighted "
                "score sums that calibration by group needs: add weight_score_sum "
                "(SUM(w * score)) and weight_score_sq_sum (SUM(w * score * score))."
            )
    if has_scores and sum_col in avail:
        s_sum = np.bincount(
            flat, weights=_column(table, sum_col)[keep].astype(np.float64),
            minlength=g * k * k * b,
        ).reshape(g, k, k, b)  # fmt: skip
        if sq_col in avail:
            s_sq = np.bincount(
                flat, weights=_column(table, sq_col)[keep].astype(np.float64),
                minlength=g * k * k * b,
            ).reshape(g, k, k, b)  # fmt: skip
    tab = _Table(
        features=tuple(str(f) for f in feats), levels=tuple(levels),
        group_codes=group_codes.astype(np.int64), classes=classes, pos=pos, counts=counts,
        score_sum=s_sum, score_sq_sum=s_sq, complete=complete, weight_sum=w_sum,
        weight_sq_sum=w_sq,
    )  # fmt: skip
    return GroupMetrics(tab, undefined=undefined, groupings=groupings)


def group_metrics(
    y_true: Any,
    y_pred: Any,
    sensitive_features: Any,
    *,
    y_score: Any = None,
    labels: Sequence[Any] | None = None,
    pos_label: Any = None,
    n_bins: int = DEFAULT_N_BINS,
    undefined: Undefined = "zero",
    groupings: Sequence[Sequence[str] | str] | None = None,
    sample_weight: Any = None,
    roc_auc: bool = False,
) -> GroupMetrics:
    """Group metrics from rows: ``from_count_table(count_table(...))``.

    Parameters are those of :func:`count_table` and :func:`from_count_table`. With
    ``roc_auc=True`` and scores of a binary task, the rows also give ``roc_auc`` per group,
    overall and its disparities (exact, and weighted when weighted: scikit-learn's
    ``roc_auc_score`` on each group's rows, NaN for a group without both classes). A count
    table cannot give them (it keeps score bins, not ranks), and the bootstrap, which
    resamples the count table, gives them no interval.

    Returns
    -------
    GroupMetrics

    Examples
    --------
    >>> gm = group_metrics([1, 0, 1, 1], [1, 0, 0, 1], ["a", "a", "b", "b"])
    >>> gm.by_group("true_positive_rate", "sensitive_feature_0").tolist()
    [1.0, 0.5]
    >>> gm.difference("true_positive_rate", "sensitive_feature_0")
    0.5
    """
    cols = _sensitive_columns(sensitive_features, None)
    tab, rows = _count_table(
        y_true, y_pred, dict(cols), y_score=y_score, labels=labels, pos_label=pos_label,
        n_bins=n_bins, sample_weight=sample_weight,
    )  # fmt: skip
    gm = from_count_table(
        tab, sensitive_features=[c for c, _ in cols], labels=labels, pos_label=pos_label,
        n_bins=n_bins, undefined=undefined, groupings=groupings,
    )  # fmt: skip
    if roc_auc:
        gm._set_roc_auc(rows)
    return gm


def _group_auc(
    gid: np.ndarray, tie: np.ndarray, wp: np.ndarray, wn: np.ndarray, n_groups: int
) -> np.ndarray:
    """Weighted ROC AUC of each group (NaN without both classes), vectorised.

    The rows come in ascending score order: ``gid`` their group, ``tie`` the index of their
    run of equal scores, ``wp`` / ``wn`` their weight when positive / negative (0 otherwise).
    The weighted Mann-Whitney statistic: for each positive row, the weight of the negative
    rows of its group with a lower score, plus half of those with the same score, times its
    weight; over the product of the positive and negative weights. This is the area under
    the weighted ROC curve with the trapezoid rule, which is scikit-learn's ``roc_auc_score``.
    """
    if len(gid) == 0:
        return np.full(n_groups, np.nan)
    small = np.int16 if n_groups < 2**15 else np.int64  # numpy radix-sorts 16-bit keys
    perm = np.argsort(gid.astype(small), kind="stable")  # by group, then score
    run = (gid * (int(tie[-1]) + 1) + tie)[perm]  # (group, score run), ascending
    starts = np.flatnonzero(np.diff(run, prepend=-1))
    rp, rn = np.add.reduceat(wp[perm], starts), np.add.reduceat(wn[perm], starts)
    rg = run[starts] // (int(tie[-1]) + 1)
    tot_n = np.bincount(rg, weights=rn, minlength=n_groups)
    tot_p = np.bincount(rg, weights=rp, minlength=n_groups)
    # negative weight below each run, within its group: a cumulative sum restarted per group
    below = np.cumsum(rn) - rn
    first = np.r_[True, rg[1:] != rg[:-1]]
    below = below - np.maximum.accumulate(np.where(first, below, 0.0))
    num = np.bincount(rg, weights=rp * (below + 0.5 * rn), minlength=n_groups)
    ok = (tot_p > 0) & (tot_n > 0)
    return np.where(ok, _safe_div(num, tot_p * tot_n), np.nan)


# ----------------------------------------------------------------------------- evaluation
def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(num / den, dtype=np.float64)


def _rate(num: np.ndarray, den: np.ndarray, n: np.ndarray, undefined: Undefined) -> np.ndarray:
    r = np.where(den > 0, _safe_div(num, den), 0.0 if undefined == "zero" else np.nan)
    return np.where(n > 0, r, np.nan)


def _between(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mx = np.fmax.reduce(v, axis=-1)
    mn = np.fmin.reduce(v, axis=-1)
    return mx - mn, _safe_div(mn, mx)


def _to_overall(v: np.ndarray, o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.fmax.reduce(np.abs(v - o[..., None]), axis=-1)
    r = _safe_div(v, o[..., None])
    with np.errstate(divide="ignore"):
        r = np.where(r > 1, 1.0 / r, r)
    return d, np.fmin.reduce(r, axis=-1)


def _py_max2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Python's ``max([a, b])`` element-wise (``b`` only when ``b > a``)."""
    return np.where(b > a, b, a)


def _py_min2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Python's ``min([a, b])`` element-wise (``b`` only when ``b < a``)."""
    return np.where(b < a, b, a)


def _binary_cells(cm: np.ndarray, pos: int) -> dict[str, np.ndarray]:
    neg = 1 - pos
    return {
        "tn": cm[..., neg, neg], "fp": cm[..., neg, pos],
        "fn": cm[..., pos, neg], "tp": cm[..., pos, pos],
    }  # fmt: skip


def _ovr_cells(cm: np.ndarray, c: int) -> dict[str, np.ndarray]:
    tp = cm[..., c, c]
    fp = cm[..., :, c].sum(axis=-1) - tp
    fn = cm[..., c, :].sum(axis=-1) - tp
    n = cm.sum(axis=(-1, -2))
    return {"tn": n - tp - fp - fn, "fp": fp, "fn": fn, "tp": tp}


def _rates(
    cells: dict[str, np.ndarray], n: np.ndarray, names: Sequence[str], undefined: Undefined
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    vals, dens = {}, {}
    for name in names:
        num_c, den_c = _RATE_SPEC[name]
        num = sum(cells[c] for c in num_c)
        den = sum(cells[c] for c in den_c)
        vals[name] = _rate(np.asarray(num), np.asarray(den), n, undefined)
        dens[name] = np.asarray(den)
    return vals, dens


def _balanced_accuracy(cm: np.ndarray) -> np.ndarray:
    """Mean recall over the classes present in ``y_true`` (scikit-learn's definition).

    A class is present when its row of the (weighted) confusion table sums to more than 0,
    as ``balanced_accuracy_score`` drops the classes whose recall is 0/0.
    """
    row = cm.sum(axis=-1)
    diag = np.diagonal(cm, axis1=-2, axis2=-1)
    present = row > 0
    rec = np.where(present, _safe_div(diag, row), 0.0)
    return _safe_div(rec.sum(axis=-1), present.sum(axis=-1).astype(np.float64))


def _nanmean2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean of ``a`` and ``b`` skipping NaN (pandas' ``Series.mean``; NaN when both are)."""
    ok_a, ok_b = ~np.isnan(a), ~np.isnan(b)
    total = np.where(ok_a, a, 0.0) + np.where(ok_b, b, 0.0)
    return _safe_div(total, ok_a.astype(np.float64) + ok_b)


def _evaluate(
    tab: _Table,
    groupings: Sequence[_Grouping],
    counts: np.ndarray,
    s_sum: np.ndarray | None,
    undefined: Undefined,
    with_denominators: bool = False,
    weights: np.ndarray | None = None,
) -> tuple[dict[Key, np.ndarray], dict[Key, np.ndarray]]:
    """Every quantity for a batch of tables ``counts`` of shape (nb, G, K, K, B).

    With ``weights`` (sums of sample weights per cell, same shape) every rate, accuracy and
    calibration value is a ratio of weight sums, ``count`` stays the number of rows, a group
    whose weights sum to 0 counts as empty (NaN), and the denominators (for the small-group
    flags) stay numbers of rows.
    """
    out: dict[Key, np.ndarray] = {}
    dens: dict[Key, np.ndarray] = {}
    nb, g, k, _, b = counts.shape
    weighted = weights is not None
    c = (counts if weights is None else weights).astype(np.float64)
    flat = c.reshape(nb, g, k * k * b)
    rows_flat = counts.reshape(nb, g, k * k * b).astype(np.float64) if weighted else flat
    s_flat = None if s_sum is None else s_sum.reshape(nb, g, k * k * b)
    calib = tab.pos is not None and s_sum is not None

    def views(cm: np.ndarray) -> list[tuple[int | None, dict[str, np.ndarray], Sequence[str]]]:
        if tab.pos is not None:
            return [(None, _binary_cells(cm, tab.pos), _BINARY_RATES)]
        return [(ci, _ovr_cells(cm, ci), _MULTICLASS_RATES) for ci in range(k)]

    def calibration(cb: np.ndarray, sb: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
        assert tab.pos is not None
        pos_bin = cb[..., tab.pos, :, :].sum(axis=-2)
        s_bin = sb.sum(axis=(-3, -2))
        nn = np.where(n > 0, n, np.nan)
        return {
            "mean_score": s_bin.sum(axis=-1) / nn,
            "base_rate": pos_bin.sum(axis=-1) / nn,
            "expected_calibration_error": np.abs(s_bin - pos_bin).sum(axis=-1) / nn,
        }

    def group_values(
        cfull: np.ndarray, sfull: np.ndarray | None, rows_cm: np.ndarray | None,
        feats: tuple[str, ...] | None,
    ) -> dict[tuple[str, int | None], np.ndarray]:  # fmt: skip
        """Values of ``cfull`` (..., K, K, B); denominators (rows) into ``dens``."""
        cm = cfull.sum(axis=-1)
        n = cm.sum(axis=(-1, -2))
        vals: dict[tuple[str, int | None], np.ndarray] = {}
        keep_dens = with_denominators and feats is not None
        if tab.pos is None:
            vals[("accuracy", None)] = _rate(np.trace(cm, axis1=-2, axis2=-1), n, n, undefined)
            if keep_dens:
                n_rows = n if rows_cm is None else rows_cm.sum(axis=(-1, -2))
                dens[Key("accuracy", feats, None, "group")] = n_rows[0]
        for label, cells, names in views(cm):
            rv, dd = _rates(cells, n, names, undefined)
            if keep_dens and rows_cm is not None:
                r_cells = (
                    _binary_cells(rows_cm, tab.pos)
                    if tab.pos is not None
                    else _ovr_cells(rows_cm, label)  # type: ignore[arg-type]
                )
                _, dd = _rates(r_cells, rows_cm.sum(axis=(-1, -2)), names, undefined)
            for name, v in rv.items():
                vals[(name, label)] = v
                if keep_dens:
                    dens[Key(name, feats, label, "group")] = dd[name][0]
        vals[("balanced_accuracy", None)] = np.where(n > 0, _balanced_accuracy(cm), np.nan)
        if calib:
            assert sfull is not None
            for name, v in calibration(cfull, sfull, n).items():
                vals[(name, None)] = v
        return vals

    # overall
    c_all = flat.sum(axis=1).reshape(nb, k, k, b)
    n_all = rows_flat.sum(axis=(1, 2))
    out[Key("count", None, None, "overall")] = n_all
    s_all = None if s_flat is None else s_flat.sum(axis=1).reshape(nb, k, k, b)
    overall = group_values(c_all, s_all, None, None)
    overall[("count", None)] = n_all
    if weighted:
        out[Key("weight_sum", None, None, "overall")] = flat.sum(axis=(1, 2))
    for (name, label), v in overall.items():
        out[Key(name, None, label, "overall")] = v

    for grouping in groupings:
        feats = grouping.features
        cg = grouping.aggregate(flat)
        ng = cg.shape[1]
        cg4 = cg.reshape(nb, ng, k, k, b)
        sg = None if s_flat is None else grouping.aggregate(s_flat).reshape(nb, ng, k, k, b)
        rows_cm = None
        if weighted:
            rg = grouping.aggregate(rows_flat).reshape(nb, ng, k, k, b)
            rows_cm = rg.sum(axis=-1)
            out[Key("count", feats, None, "group")] = rows_cm.sum(axis=(-1, -2))
            out[Key("weight_sum", feats, None, "group")] = cg.sum(axis=-1)
        else:
            out[Key("count", feats, None, "group")] = cg.sum(axis=-1)
        groupvals = group_values(cg4, sg, rows_cm, feats)
        for (name, label), v in groupvals.items():
            out[Key(name, feats, label, "group")] = v
            if name in ("mean_score", "base_rate"):
                continue
            o = overall[(name, label)]
            d_bg, r_bg = _between(v)
            d_to, r_to = _to_overall(v, o)
            out[Key(f"{name}_difference", feats, label, "between_groups")] = d_bg
            out[Key(f"{name}_difference", feats, label, "to_overall")] = d_to
            if name == "expected_calibration_error":
                continue
            out[Key(f"{name}_ratio", feats, label, "between_groups")] = r_bg
            out[Key(f"{name}_ratio", feats, label, "to_overall")] = r_to
        if tab.pos is not None:
            sel = groupvals[("selection_rate", None)]
            mx = np.fmax.reduce(sel, axis=-1)
            out[Key("impact_ratio", feats, None, "group")] = _safe_div(sel, mx[..., None])
            for part in ("between_groups", "to_overall"):
                sr_d = out[Key("selection_rate_difference", feats, None, part)]
                sr_r = out[Key("selection_rate_ratio", feats, None, part)]
                tpr_d = out[Key("true_positive_rate_difference", feats, None, part)]
                tpr_r = out[Key("true_positive_rate_ratio", feats, None, part)]
                fpr_d = out[Key("false_positive_rate_difference", feats, None, part)]
                fpr_r = out[Key("false_positive_rate_ratio", feats, None, part)]
                out[Key("demographic_parity_difference", feats, None, part)] = sr_d
                out[Key("demographic_parity_ratio", feats, None, part)] = sr_r
                out[Key("equal_opportunity_difference", feats, None, part)] = tpr_d
                out[Key("equal_opportunity_ratio", feats, None, part)] = tpr_r
                out[Key("equalized_odds_difference", feats, None, part)] = _py_max2(tpr_d, fpr_d)
                out[Key("equalized_odds_ratio", feats, None, part)] = _py_min2(tpr_r, fpr_r)
                out[Key("equalized_odds_difference", feats, None, part, "mean")] = _nanmean2(
                    tpr_d, fpr_d
                )
                out[Key("equalized_odds_ratio", feats, None, part, "mean")] = _nanmean2(
                    tpr_r, fpr_r
                )
                out[Key("average_odds_difference", feats, None, part)] = (fpr_d + tpr_d) / 2.0
    return out, dens


# ---------------------------------------------------------------------------------- result
@dataclass(frozen=True)
class Intervals:
    """Bootstrap percentile intervals for every quantity of a :class:`GroupMetrics`.

    Attributes
    ----------
    low, high : dict of Key to ndarray
        Bounds, shaped like the point values (NaN where undefined in most resamples).
    n_boot : int
    level : float
    """

    low: dict[Key, np.ndarray]
    high: dict[Key, np.ndarray]
    n_boot: int
    level: float

    def get(self, key: Key) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(low, high)`` for ``key``."""
        return self.low[key], self.high[key]


class GroupMetrics:
    """Per-group metrics, overall values and disparities computed from a count table.

    Build with :func:`group_metrics` (rows) or :func:`from_count_table` (a table computed
    elsewhere). Accessors take a metric name, a feature name or tuple of names (the
    intersection), and for multiclass one-vs-rest values a ``label`` (a class value).

    Attributes
    ----------
    features : tuple of str
        The sensitive features, in order.
    groupings : list of tuple of str
        The groupings computed (default: each single feature, then the intersection of all
        of them when there are 2+).
    classes : ndarray
        The class labels.
    pos_label : label or None
        The positive class of a binary task; None for multiclass.
    values : dict of Key to ndarray
        Every quantity: per-group arrays (part ``"group"``) and scalars.
    """

    def __init__(
        self, table: _Table, *, undefined: Undefined = "zero",
        groupings: Sequence[Sequence[str]] | None = None,
    ) -> None:  # fmt: skip
        self._table = table
        self.undefined: Undefined = undefined
        wanted = table.default_groupings() if groupings is None else [
            (g,) if isinstance(g, str) else tuple(g) for g in groupings
        ]  # fmt: skip
        if not wanted:
            raise ParameterError("groupings must name at least one grouping.")
        self._groupings = {f: table.grouping(f) for f in dict.fromkeys(wanted)}
        s_sum = None if table.score_sum is None else table.score_sum[None]
        w_sum = None if table.weight_sum is None else table.weight_sum[None]
        vals, dens = _evaluate(
            table, list(self._groupings.values()), table.counts[None], s_sum, undefined,
            with_denominators=True, weights=w_sum,
        )  # fmt: skip
        self.values: dict[Key, np.ndarray] = {key: v[0] for key, v in vals.items()}
        self._dens = dens
        self.features = table.features
        self.groupings = list(self._groupings)
        self.classes = table.classes
        self.pos_label = None if table.pos is None else table.classes[table.pos]
        self.has_scores = table.score_sum is not None
        self.complete = table.complete
        #: True when the metrics are weighted by sample weights.
        self.weighted = table.weight_sum is not None
        #: Why ``roc_auc`` by group is absent (None once it is computed from rows).
        self.roc_auc_reason: str | None = (
            "no scores" if not self.has_scores
            else "ROC AUC by group is computed for binary tasks" if not self.is_binary
            else "a count table keeps score bins, not the ranks that ROC AUC needs; audit the "
            "rows for ROC AUC by group"
        )  # fmt: skip

    def _set_roc_auc(self, rows: _Rows) -> None:
        """Add ``roc_auc`` per group, overall and its disparities, from the rows (binary)."""
        tab = self._table
        if rows.score is None or rows.y_pos is None:
            return
        if [len(lv) for lv in tab.levels] != list(rows.sizes):  # pragma: no cover - invariant
            return
        order = np.argsort(rows.score)
        s_o = rows.score[order]
        tie = np.cumsum(np.r_[False, s_o[1:] != s_o[:-1]])
        w_o = np.ones(len(order)) if rows.weight is None else rows.weight[order]
        pos_o = rows.y_pos[order]
        wp = np.where(pos_o, w_o, 0.0)
        wn = w_o - wp
        live, dead = pos_o & (w_o > 0), ~pos_o & (w_o > 0)
        codes_o = [c[order] for c in rows.codes]
        zero = np.zeros(len(order), dtype=np.int64)
        #: rows in score order, kept for the permutation tests of ROC AUC by group
        self.auc_rows: tuple[np.ndarray, np.ndarray, np.ndarray, dict[Any, np.ndarray]] = (
            tie,
            wp,
            wn,
            {},
        )
        o = _group_auc(zero, tie, wp, wn, 1)[0]
        self.values[Key("roc_auc", None, None, "overall")] = np.asarray(o)
        for feats, grouping in self._groupings.items():
            idx = [tab.features.index(f) for f in feats]
            sizes = tuple(rows.sizes[j] for j in idx)
            key_row = np.ravel_multi_index(tuple(codes_o[j] for j in idx), sizes)
            key_g = np.ravel_multi_index(tuple(grouping.codes.T), sizes)
            gid = np.searchsorted(key_g, key_row)  # in score order
            v = _group_auc(gid, tie, wp, wn, grouping.n_groups)
            self.auc_rows[3][feats] = gid
            self.values[Key("roc_auc", feats, None, "group")] = v
            # its "denominator" for the small-group flags: rows of the rarer class (0: NaN)
            n_pos = np.bincount(gid[live], minlength=grouping.n_groups)
            n_neg = np.bincount(gid[dead], minlength=grouping.n_groups)
            self._dens[Key("roc_auc", feats, None, "group")] = np.minimum(n_pos, n_neg)
            d_bg, r_bg = _between(v)
            d_to, r_to = _to_overall(v, np.asarray(o))
            self.values[Key("roc_auc_difference", feats, None, "between_groups")] = d_bg
            self.values[Key("roc_auc_difference", feats, None, "to_overall")] = d_to
            self.values[Key("roc_auc_ratio", feats, None, "between_groups")] = r_bg
            self.values[Key("roc_auc_ratio", feats, None, "to_overall")] = r_to
        self.roc_auc_reason = None

    # ---- structure
    @property
    def n_rows(self) -> int:
        """Total number of rows."""
        return int(self._table.counts.sum())

    @property
    def is_binary(self) -> bool:
        """True for a binary task."""
        return self._table.pos is not None

    def _feats(self, features: str | Sequence[str]) -> tuple[str, ...]:
        f = (features,) if isinstance(features, str) else tuple(features)
        if f not in self.groupings:
            avail = ", ".join("+".join(x) for x in self.groupings)
            raise ParameterError(
                f"No grouping {'+'.join(f)!r} in this result; available: {avail}."
            )
        return f

    def _label(self, label: Any) -> int | None:
        if label is None:
            return None
        if self.is_binary:
            raise ParameterError(
                "label= is for multiclass one-vs-rest values; this task is binary."
            )
        idx = _find_label(self.classes, label)
        if idx is None:
            raise ParameterError(f"label={label!r} is not one of {self.classes.tolist()!r}.")
        return idx

    def groups(self, features: str | Sequence[str]) -> list[tuple[Any, ...]]:
        """Return the group labels (tuples of feature values) of a grouping, in order."""
        return self._table.group_labels(self._groupings[self._feats(features)])

    def counts(self, features: str | Sequence[str]) -> np.ndarray:
        """Rows per group."""
        return self.values[Key("count", self._feats(features), None, "group")].astype(np.int64)

    def weight_sums(self, features: str | Sequence[str]) -> np.ndarray:
        """Sum of the sample weights per group (the row counts when unweighted)."""
        key = Key("weight_sum", self._feats(features), None, "group")
        if key not in self.values:
            return self.counts(features).astype(np.float64)
        return np.asarray(self.values[key], dtype=np.float64)

    def denominator(
        self, metric: str, features: str | Sequence[str], label: Any = None
    ) -> np.ndarray:
        """Return the denominator count per group of a rate (0 means the rate is 0/0)."""
        return self._dens[Key(metric, self._feats(features), self._label(label), "group")]

    def _get(self, key: Key) -> np.ndarray:
        try:
            return self.values[key]
        except KeyError:
            if not self.is_binary and key.name in (
                "demographic_parity_difference", "demographic_parity_ratio",
                "equalized_odds_difference", "equalized_odds_ratio",
                "equal_opportunity_difference", "equal_opportunity_ratio",
                "false_negative_rate", "true_negative_rate", "precision",
                "false_omission_rate", "false_discovery_rate", "average_odds_difference",
            ):  # fmt: skip
                raise DataValidationError(
                    f"{key.name} needs binary labels, but the labels have {len(self.classes)} "
                    f"classes ({', '.join(map(str, self.classes.tolist()[:10]))}); use "
                    "label=<class> for one-vs-rest rates."
                ) from None
            raise ParameterError(f"{key.name!r} is not computed here ({key}).") from None

    # ---- MetricFrame-like accessors
    def overall(self, metric: str, label: Any = None) -> float:
        """Return the metric on all rows (``MetricFrame.overall``)."""
        return float(self._get(Key(metric, None, self._label(label), "overall")))

    def by_group(self, metric: str, features: str | Sequence[str], label: Any = None) -> Any:
        """Per-group values as a pandas Series indexed like ``MetricFrame.by_group``."""
        import pandas as pd

        f = self._feats(features)
        v = self._get(Key(metric, f, self._label(label), "group"))
        groups = self.groups(f)
        if len(f) == 1:
            index = pd.Index([g[0] for g in groups], name=f[0])
        else:
            index = pd.MultiIndex.from_tuples(groups, names=list(f))
        return pd.Series(v, index=index, name=metric)

    def difference(
        self, metric: str, features: str | Sequence[str], method: Method = "between_groups",
        label: Any = None,
    ) -> float:  # fmt: skip
        """``MetricFrame.difference(method=...)`` of ``metric``."""
        return float(
            self._get(
                Key(
                    f"{metric}_difference",
                    self._feats(features),
                    self._label(label),
                    _method(method),
                )
            )
        )

    def ratio(
        self, metric: str, features: str | Sequence[str], method: Method = "between_groups",
        label: Any = None,
    ) -> float:  # fmt: skip
        """``MetricFrame.ratio(method=...)`` of ``metric``."""
        return float(
            self._get(
                Key(f"{metric}_ratio", self._feats(features), self._label(label), _method(method))
            )
        )

    def disparity(
        self, name: str, features: str | Sequence[str], method: Method = "between_groups",
        agg: Literal["worst_case", "mean"] = "worst_case",
    ) -> float:  # fmt: skip
        """Return a Fairlearn disparity's value (``"equalized_odds_difference"``...).

        ``agg="mean"`` is Fairlearn's ``agg="mean"`` of ``equalized_odds_*`` (the mean of the
        true and false positive rate differences or ratios, NaN skipped).
        """
        if agg not in ("worst_case", "mean"):
            raise ParameterError(f"agg must be 'worst_case' or 'mean'; got {agg!r}.")
        a = None if agg == "worst_case" else "mean"
        if a is not None and not name.startswith("equalized_odds_"):
            raise ParameterError(f"agg='mean' is for equalized_odds_*; got {name!r}.")
        return float(self._get(Key(name, self._feats(features), None, _method(method), a)))

    def to_frame(self) -> Any:
        """Every quantity as a long pandas DataFrame (one row per value)."""
        import pandas as pd

        rows: list[tuple[Any, ...]] = []
        for key, v in self.values.items():
            lab = None if key.label is None else self.classes[key.label]
            if key.part == "group":
                assert key.features is not None
                for grp, x in zip(self.groups(key.features), np.atleast_1d(v).tolist()):
                    rows.append((key.name, key.features, grp, lab, key.part, key.agg, x))
            else:
                rows.append((key.name, key.features, None, lab, key.part, key.agg, float(v)))
        return pd.DataFrame(
            rows, columns=["name", "features", "group", "label", "part", "agg", "value"]
        )

    # ---- bootstrap
    def bootstrap(
        self, n_boot: int, rng: np.random.Generator, *, level: float = 0.95,
        min_valid: float = 0.5,
    ) -> Intervals:  # fmt: skip
        """Percentile intervals for every quantity by cell-count resampling.

        Parameters
        ----------
        n_boot : int
            Number of resamples (>= 1).
        rng : numpy.random.Generator
        level : float, default=0.95
        min_valid : float, default=0.5
            Smallest share of resamples that must define a value for it to get an interval.

        Returns
        -------
        Intervals
        """
        samples = self.bootstrap_samples(n_boot, rng)
        low, high = {}, {}
        for key, arr in samples.items():
            lo, hi = percentile_interval(arr, level, min_valid=min_valid)
            low[key], high[key] = lo, hi
        return Intervals(low=low, high=high, n_boot=n_boot, level=level)

    def bootstrap_samples(self, n_boot: int, rng: np.random.Generator) -> dict[Key, np.ndarray]:
        """Bootstrap replicates of every quantity, shape (n_boot, ...) per key."""
        if n_boot < 1:
            raise ParameterError(f"n_boot must be >= 1; got {n_boot}.")
        tab = self._table
        counts = tab.counts
        shape = counts.shape
        flat = counts.ravel()
        n = int(flat.sum())
        nz = np.flatnonzero(flat)
        rows = flat[nz]
        p = rows / n
        mean = var = None
        w_mean = w_var = w_sq_mean = None
        if tab.weight_sum is not None:
            ws = tab.weight_sum.ravel()[nz]
            w_mean = ws / rows
            w_sq_mean = w_mean * w_mean
            if tab.weight_sq_sum is not None:
                w_sq_mean = tab.weight_sq_sum.ravel()[nz] / rows
                w_var = np.maximum(w_sq_mean - w_mean * w_mean, 0.0)
        if tab.score_sum is not None:
            s = tab.score_sum.ravel()[nz]
            # per row (unweighted) or per unit of weight (weighted)
            den = rows if tab.weight_sum is None else tab.weight_sum.ravel()[nz]
            mean = _safe_div(s, den)
            mean = np.where(den > 0, mean, 0.0)
            if tab.score_sq_sum is not None:
                var = np.maximum(
                    np.where(den > 0, _safe_div(tab.score_sq_sum.ravel()[nz], den), 0.0)
                    - mean * mean,
                    0.0,
                )
        chunk = max(1, min(n_boot, _BOOT_CHUNK_ELEMENTS // max(flat.size, 1)))
        parts: dict[Key, list[np.ndarray]] = {}
        done = 0
        while done < n_boot:
            nb = min(chunk, n_boot - done)
            draw = rng.multinomial(n, p, size=nb)
            cb = np.zeros((nb, flat.size), dtype=np.int64)
            cb[:, nz] = draw
            wb = None
            if w_mean is not None:
                wv = draw * w_mean
                if w_var is not None:
                    wv = wv + np.sqrt(draw * w_var) * rng.standard_normal(draw.shape)
                wv = np.maximum(wv, 0.0)
                wb = np.zeros((nb, flat.size))
                wb[:, nz] = wv
                wb = wb.reshape((nb, *shape))
            sb = None
            if mean is not None:
                if w_mean is None:
                    sv = draw * mean
                    if var is not None:
                        sv = sv + np.sqrt(draw * var) * rng.standard_normal(draw.shape)
                else:
                    assert w_sq_mean is not None
                    sv = wv * mean
                    if var is not None:
                        noise = np.sqrt(draw * w_sq_mean * var) * rng.standard_normal(draw.shape)
                        sv = np.clip(sv + noise, 0.0, wv)
                sb = np.zeros((nb, flat.size))
                sb[:, nz] = sv
                sb = sb.reshape((nb, *shape))
            vals, _ = _evaluate(
                tab, list(self._groupings.values()), cb.reshape((nb, *shape)), sb, self.undefined,
                weights=wb,
            )  # fmt: skip
            for key, v in vals.items():
                parts.setdefault(key, []).append(v)
            done += nb
        return {key: np.concatenate(v, axis=0) for key, v in parts.items()}


def _method(method: str) -> str:
    if method not in ("between_groups", "to_overall"):
        raise ParameterError(
            f"The 'method' parameter must be 'between_groups' or 'to_overall'. Got {method!r} "
            "instead."
        )
    return method
