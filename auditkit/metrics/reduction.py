"""Rows to the count table: factorize labels and groups, then one ``bincount`` pass.

The layout of the count table is described in :mod:`auditkit.metrics.engine`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..exceptions import DataValidationError, ParameterError

#: Column names of the count table besides the sensitive features.
COUNT_TABLE_COLUMNS = (
    "y_true", "y_pred", "score_bin", "count", "score_sum", "score_sq_sum", "weight_sum",
    "weight_sq_sum", "weight_score_sum", "weight_score_sq_sum",
)  # fmt: skip
#: Equal-width score bins used for calibration.
DEFAULT_N_BINS = 10


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


def _label_codes(
    yt: np.ndarray, yp: np.ndarray, labels: Sequence[Any] | None, pos_label: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int | None]:
    """Class codes of ``y_true`` and ``y_pred``, the classes, and the positive class index.

    Without ``labels`` the classes are the sorted labels seen (completed to two when a binary
    task shows one); ``pos`` is None for multiclass.
    """
    if labels is None:
        t_codes, p_codes, observed = _factorize_pair(yt, yp)
        classes, pos = _resolve_classes(observed, None, pos_label)
        if len(classes) != len(observed):  # completed binary labels (one observed value)
            t_codes = _encode(yt, classes, name="y_true")
            p_codes = _encode(yp, classes, name="y_pred")
    else:
        classes, pos = _resolve_classes(np.asarray(list(labels)), labels, pos_label)
        t_codes = _encode(yt, classes, name="y_true")
        p_codes = _encode(yp, classes, name="y_pred")
    return t_codes, p_codes, classes, pos


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
    """Reduce rows to the count table described in :mod:`auditkit.metrics.engine`.

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
    t_codes, p_codes, classes, _pos = _label_codes(yt, yp, labels, pos_label)
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
