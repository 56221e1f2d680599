"""The labels of an audit: factorizing, encoding, outcome semantics and ceilings.

Everything here is vectorised: a column is factorized once (``pandas.factorize``, a bincount
for integers, Arrow's dictionary encoding for Arrow strings) and only its distinct values are
seen by Python (their string forms, their matching against ``pos_label``, their checks). The
cost of a 1e6-row log is a few numpy passes, whatever its labels and groups are.

The rules, in the order they are applied to a log of decisions
---------------------------------------------------------------
1. ``label_map`` renames ``y_pred``'s labels (keys matched by value, then by text).
2. A continuous ``y_true`` (non-integer numbers, more than :data:`CONTINUOUS_MIN_VALUES`
   distinct) is not a classification: :mod:`auditkit.inputs.task` makes it a regression (or
   refuses it with ``task="classification"``) before the labels are encoded. A ``y_pred``
   holding non-integer numbers that are not labels of ``y_true`` is refused as scores given
   as decisions, naming ``y_score``.
3. More distinct labels than ``max_classes`` are refused (before any per-class work).
4. ``y_true`` and ``y_pred`` whose labels differ only in case, spaces or punctuation (``yes``
   / ``Yes``), or share no label at all, are refused with both sets, unless ``label_map``
   says how they correspond (0/1 and boolean logs, and two single-label columns, are fine).
5. A log with a single label gets its second class as Fairlearn does: ``{0, 1}`` (or
   ``{-1, 1}``, ``{False, True}``) for 0/1-like labels with 1 positive, the other key of
   ``label_names``, or ``pos_label``; otherwise the user is asked for ``pos_label``.
6. ``pos_label``, ``favourable`` and the keys of ``label_names`` are matched to the classes by
   value across int, float and bool (``1``, ``1.0`` and ``True`` are one label), then by text
   (``"1"`` from the command line); ``favourable`` may also be a label name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.limits import DEFAULT_MAX_CLASSES
from .._core.validation import PARAM_MSG
from ..exceptions import DataValidationError, ParameterError

__all__ = [
    "CONTINUOUS_MIN_VALUES",
    "LogLabels",
    "check_max",
    "check_target",
    "encode_labels",
    "factorize",
    "label_strings",
    "log_labels",
    "match_label",
    "outcome_semantics",
    "parse_pairs",
]

#: A ``y_true`` with non-integer numbers and more distinct values than this is continuous.
CONTINUOUS_MIN_VALUES = 10
_NON_SCALAR = (list, tuple, dict, set, frozenset, np.ndarray)


# ---------------------------------------------------------------------------- small helpers
def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def label_strings(values: Any) -> list[str]:
    """Return the string forms of a few distinct values (never call it on every row)."""
    return [str(_py(v)) for v in np.asarray(values, dtype=object).tolist()]


def _shown(values: Sequence[Any] | np.ndarray, limit: int = 10) -> str:
    vals = [repr(_py(v)) for v in list(values)[:limit]]
    return "{" + ", ".join(vals) + (", ..." if len(values) > limit else "") + "}"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating, np.bool_)) and not (
        isinstance(v, float) and math.isnan(v)
    )


def _text_number(text: str) -> Any:
    """Return a number or bool written as text (``"1"``, ``"1.0"``, ``"true"``), else None."""
    t = text.strip()
    if t.casefold() in ("true", "false"):
        return t.casefold() == "true"
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        return None


def match_label(values: Any, wanted: Any, names: Sequence[str] | None = None) -> int | None:
    """Index of ``wanted`` among the class ``values``, matched by value, then by text.

    ``1``, ``1.0`` and ``True`` are the same label (as in Fairlearn and scikit-learn, where
    labels compare with ``==``); a value of the same kind wins over an equal one of another
    kind. Then the text: ``str(wanted)`` against the class names (``names``) and the values'
    string forms, and a number written as text (``"1"`` from the command line) against
    numeric classes.
    """
    w = _py(wanted)
    items = [_py(v) for v in np.asarray(values, dtype=object).tolist()]
    for i, c in enumerate(items):
        if type(c) is type(w) and c == w:
            return i
    if _is_number(w):
        for i, c in enumerate(items):
            if _is_number(c) and float(c) == float(w):
                return i
    s = str(w)
    for i, nm in enumerate(names or ()):
        if nm == s:
            return i
    for i, c in enumerate(items):
        if str(c) == s:
            return i
    if isinstance(w, str):
        num = _text_number(w)
        if num is not None:
            for i, c in enumerate(items):
                if _is_number(c) and not isinstance(c, str) and float(c) == float(num):
                    return i
    return None


def parse_pairs(text: str | None, *, option: str) -> dict[str, str] | None:
    """Parse ``"0=low risk,1=high risk"`` into ``{"0": "low risk", "1": "high risk"}``."""
    if text is None:
        return None
    out: dict[str, str] = {}
    for item in (s for s in str(text).split(",") if s.strip()):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ParameterError(
                f"{option} takes KEY=VALUE pairs separated by commas (for example "
                f"'0=low risk,1=high risk'); got {item.strip()!r}."
            )
        if key.strip() in out:
            raise ParameterError(f"{option} gives {key.strip()!r} more than once.")
        out[key.strip()] = value.strip()
    if not out:
        raise ParameterError(f"{option} needs at least one KEY=VALUE pair; got {text!r}.")
    return out


def check_max(value: Any, *, param: str, func: str) -> int:
    """Validate a ceiling (an int >= 1)."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1
    if not ok:
        raise ParameterError(
            PARAM_MSG.format(param=param, func=func, expected="an int >= 1", got=value)
        )
    return int(value)


# ------------------------------------------------------------------------------ factorizing
def _missing_mask(values: Any) -> np.ndarray | None:
    import pandas as pd

    if isinstance(values, pd.Series):
        mask = values.isna().to_numpy()
        return mask if mask.any() else None
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        mask = np.isnan(arr)
    elif arr.dtype.kind == "O":
        mask = np.asarray(pd.isna(arr), dtype=bool)
        if mask.ndim != 1:  # pragma: no cover - defensive
            return None
    else:
        return None
    return mask if mask.any() else None


def _non_scalar(name: str, value: Any, row: int | None = None) -> DataValidationError:
    where = f" (a {type(value).__name__}" + (f" at row {row})" if row is not None else ")")
    return DataValidationError(
        f"{name} holds non-scalar values{where}; it needs one label per row: explode or join "
        "the values into one string per row first."
    )


def factorize(
    values: Any, *, name: str, text_order: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(codes, levels)`` with sorted distinct ``levels``; no per-row Python.

    ``values`` is a pandas Series (Arrow strings, categoricals and numpy dtypes each take
    their fast path) or a 1-d array, without missing values (check them first). Levels of
    types that cannot be sorted together are sorted by their text when ``text_order``, else
    refused. Lists, arrays and other non-scalar values are refused, naming ``name``.
    """
    import pandas as pd

    from ..metrics.engine import _arrow_factorize, _factorize

    if isinstance(values, pd.Series):
        dtype = values.dtype
        if isinstance(dtype, pd.ArrowDtype):
            import pyarrow as pa

            if pa.types.is_nested(dtype.pyarrow_dtype):
                raise _non_scalar(name, values.iloc[0] if len(values) else [])
        if isinstance(dtype, pd.CategoricalDtype):
            cat = values.array
            codes = np.asarray(cat.codes, dtype=np.int64)
            cats = np.asarray(cat.categories, dtype=object)
            return _compact(codes, cats, name=name, text_order=text_order)
        fast = _arrow_factorize(values, name=name)
        if fast is not None:
            return fast
        values = values.to_numpy()
    arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if arr.ndim != 1:
        raise DataValidationError(f"{name} must be one-dimensional; got shape {arr.shape}.")
    if arr.dtype.kind != "O":
        if arr.dtype.kind in "biuf" or arr.size == 0:
            return _factorize(arr, name=name)
        codes, levels = pd.factorize(arr, sort=True)
        return codes.astype(np.int64, copy=False), np.asarray(levels)
    try:
        codes, uniq = pd.factorize(arr, sort=False)
    except TypeError as exc:  # unhashable values: lists, arrays, dicts
        bad = next((v for v in arr.tolist() if isinstance(v, _NON_SCALAR)), None)
        raise _non_scalar(name, bad if bad is not None else []) from exc
    return _compact(codes.astype(np.int64, copy=False), np.asarray(uniq, dtype=object),
                    name=name, text_order=text_order)  # fmt: skip


def _compact(
    codes: np.ndarray, levels: np.ndarray, *, name: str, text_order: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Drop levels that do not occur, sort the rest, and remap the codes."""
    if levels.dtype == object:
        for j, v in enumerate(levels.tolist()):
            if isinstance(v, _NON_SCALAR):
                rows = np.flatnonzero(codes == j)
                raise _non_scalar(name, v, int(rows[0]) if len(rows) else None)
    seen = np.bincount(codes, minlength=len(levels)) > 0 if codes.size else np.zeros(0, bool)
    keep = np.flatnonzero(seen) if codes.size else np.zeros(0, dtype=np.int64)
    levels = levels[keep]
    try:
        order = np.argsort(levels, kind="stable")
    except TypeError as exc:
        if not text_order:
            raise DataValidationError(
                f"{name} mixes label types that cannot be sorted ({_shown(levels)}); use one type."
            ) from exc
        order = np.argsort(np.asarray(label_strings(levels), dtype=object), kind="stable")
    lookup = np.full(len(seen), -1, dtype=np.int64)
    lookup[keep[order]] = np.arange(len(order))
    return lookup[codes], levels[order]


# ---------------------------------------------------------------------------------- labels
def encode_labels(
    y: Any, classes: Sequence[Any] | np.ndarray | None, *, name: str = "y"
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """Map labels to class indices.

    Returns ``(codes, class_names, class_values)``. With ``classes`` given (the model's
    ``classes_`` or the dataset's class names), every label must be one of them (matched by
    :func:`match_label`: value, then text); otherwise the sorted distinct labels are the
    classes. Only the distinct labels are matched in Python.
    """
    mask = _missing_mask(y)
    if mask is not None:
        bad = np.flatnonzero(mask)
        raise DataValidationError(
            f"{name} has {bad.size} missing value(s) (NaN or None), the first at row "
            f"{int(bad[0])}; drop or fill them before auditing."
        )
    codes, levels = factorize(y, name=name)
    if classes is None:
        values = levels
        return codes, tuple(label_strings(values)), values
    values = np.asarray(classes)
    names = tuple(label_strings(values))
    lookup = np.empty(len(levels), dtype=np.int64)
    for j, lv in enumerate(levels.tolist()):
        k = match_label(values, lv, names)
        if k is None:
            row = int(np.flatnonzero(codes == j)[0])
            raise DataValidationError(
                f"Label {_py(lv)!r} in {name} (row {row}) is not one of the model's classes: "
                f"{', '.join(names)}."
            )
        lookup[j] = k
    return lookup[codes], names, values


@dataclass(frozen=True)
class LogLabels:
    """The labels of a log of decisions, encoded (see the module docstring for the rules)."""

    y_true: np.ndarray
    y_pred: np.ndarray
    values: np.ndarray
    classes: tuple[str, ...]


def _numeric(levels: np.ndarray) -> np.ndarray | None:
    """Return the levels as float64 when all are real numbers (not bools), else None."""
    if levels.dtype.kind in "iuf":
        return levels.astype(np.float64)
    if levels.dtype.kind == "O" and levels.size:
        vals = levels.tolist()
        if all(_is_number(v) and not isinstance(v, (bool, np.bool_)) for v in vals):
            return np.asarray(vals, dtype=np.float64)
    return None


def _fraction(x: np.ndarray) -> np.ndarray:
    return np.isfinite(x) & (x != np.round(x))


def check_target(levels: np.ndarray, *, name: str, func: str) -> None:
    """Refuse a continuous target, given its distinct values (rule 2)."""
    nt = _numeric(levels)
    if nt is not None and _fraction(nt).any() and len(levels) > CONTINUOUS_MIN_VALUES:
        ex = float(nt[_fraction(nt)][0])
        raise DataValidationError(
            f"{name} holds {len(levels):,} distinct values with fractions (for example {ex!r}): "
            f"a continuous target, not class labels. Audit it as a regression (task='regression'; "
            f"--task regression), or give {func} class labels (for example a binned target)."
        )


def _norm(v: Any) -> str:
    return "".join(ch for ch in str(_py(v)).casefold() if ch.isalnum())


def _is_01_set(values: Sequence[Any]) -> bool:
    if values and all(isinstance(v, (bool, np.bool_)) for v in values):
        return True
    if not all(_is_number(v) for v in values):
        return False
    s = {float(v) for v in values}
    return s <= {0.0, 1.0} or s <= {-1.0, 1.0}


def _apply_label_map(
    levels: np.ndarray, label_map: Mapping[Any, Any], true_levels: np.ndarray, func: str
) -> np.ndarray:
    """Rename the distinct labels of ``y_pred`` with ``label_map`` (targets as y_true's)."""
    keys = list(label_map.keys())
    key_vals = np.asarray(keys, dtype=object)
    used = set()
    out = []
    t_names = label_strings(true_levels)
    for lv in levels.tolist():
        k = match_label(key_vals, lv)
        if k is None:
            out.append(lv)
            continue
        used.add(k)
        target = label_map[keys[k]]
        j = match_label(true_levels, target, t_names)
        out.append(true_levels.tolist()[j] if j is not None else target)
    unused = [keys[i] for i in range(len(keys)) if i not in used]
    if unused:
        raise ParameterError(
            f"label_map of {func} names {_shown(unused)}, which y_pred does not hold; its labels "
            f"are {_shown(levels.tolist())}."
        )
    arr = np.empty(len(out), dtype=object)
    arr[:] = out
    return arr


def _union(lt: np.ndarray, lp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted union of two small level arrays and the index of each level in it."""
    if lt.dtype == lp.dtype or (lt.dtype.kind in "biuf" and lp.dtype.kind in "biuf"):
        both = np.concatenate([lt, lp])
    else:
        both = np.concatenate([lt.astype(object), lp.astype(object)])
    if both.dtype == object and _numeric(both) is not None:
        both = np.asarray(both.tolist())  # 1 and 1.0 are one label, as with numpy arrays
    try:
        values, inv = np.unique(both, return_inverse=True)
    except TypeError as exc:
        raise DataValidationError(
            f"y_true and y_pred mix label types that cannot be sorted: y_true has "
            f"{_shown(lt.tolist())}, y_pred has {_shown(lp.tolist())}; use one type."
        ) from exc
    inv = np.asarray(inv).ravel()
    return values, inv[: len(lt)], inv[len(lt) :]


def log_labels(
    y_true: Any, y_pred: Any, *, pos_label: Any = None, label_names: Any = None,
    label_map: Mapping[Any, Any] | None = None, max_classes: int = DEFAULT_MAX_CLASSES,
    func: str = "audit_predictions", pred_name: str = "y_pred",
) -> LogLabels:  # fmt: skip
    """Encode the labels of a log of decisions (rules 1-5 of the module docstring)."""
    for arr, nm in ((y_true, "y_true"), (y_pred, pred_name)):
        mask = _missing_mask(arr)
        if mask is not None:
            bad = np.flatnonzero(mask)
            raise DataValidationError(
                f"{nm} has {bad.size} missing value(s) (NaN or None), the first at row "
                f"{int(bad[0])}; drop or fill them before auditing."
            )
    ct, lt = factorize(y_true, name="y_true")
    cp, lp = factorize(y_pred, name=pred_name)
    if label_map is not None:
        if not isinstance(label_map, Mapping) or not label_map:
            raise ParameterError(
                PARAM_MSG.format(
                    param="label_map", func=func,
                    expected="a non-empty dict of y_pred label -> y_true label", got=label_map,
                )
            )  # fmt: skip
        lp = _apply_label_map(lp, label_map, lt, func)
    # rule 2: a continuous target, scores given as decisions
    check_target(lt, name="y_true", func=func)
    nt = _numeric(lt)
    np_ = _numeric(lp)
    if np_ is not None and _fraction(np_).any():
        true_set = set(nt.tolist()) if nt is not None else set()
        odd = [x for x in np_[_fraction(np_)].tolist() if x not in true_set]
        if odd:
            n_frac = int(_fraction(np_).sum())
            raise DataValidationError(
                f"{pred_name} holds {n_frac:,} distinct non-integer values (for example "
                f"{odd[0]!r}) that are not labels of y_true ({_shown(lt.tolist())}): these look "
                f"like scores, not decisions. Pass the scores as y_score (--y-score) and the "
                f"decisions as {pred_name} (for example y_score >= 0.5)."
            )
    values, it, ip = _union(lt, np.asarray(lp))
    # rule 3: the ceiling on classes
    if len(values) > max_classes:
        raise DataValidationError(
            f"y_true and {pred_name} hold {len(values):,} distinct labels, more than the "
            f"ceiling of {max_classes:,} classes (max_classes={max_classes}); a target with "
            "this many values is usually continuous (audit it as a regression: task='regression', "
            "--task regression) or an identifier. If the task really has that many classes, pass "
            f"max_classes={len(values)} (--max-classes {len(values)})."
        )
    # rule 4: labels that do not correspond
    t_set = {int(i) for i in it}
    p_set = {int(i) for i in ip}
    vals = values.tolist()
    if label_map is None and not _is_01_set(vals):
        only_p = [vals[i] for i in sorted(p_set - t_set)]
        only_t = [vals[i] for i in sorted(t_set - p_set)]
        norm_t = {_norm(v) for v in only_t}
        clash = [v for v in only_p if _norm(v) in norm_t]
        disjoint = not (t_set & p_set) and not (len(t_set) == 1 and len(p_set) == 1)
        if clash or disjoint:
            why = "differ only in case, spaces or punctuation" if clash else "share no value"
            raise DataValidationError(
                f"The labels of y_true and {pred_name} {why}: y_true has "
                f"{_shown([vals[i] for i in sorted(t_set)])}, {pred_name} has "
                f"{_shown([vals[i] for i in sorted(p_set)])}. Map {pred_name}'s labels onto "
                "y_true's explicitly with label_map={...} (--label-map 'Yes=yes,No=no')."
            )
    codes_t = it[ct]
    codes_p = ip[cp]
    # rule 5: a single label gets its second class
    if len(values) == 1:
        values, shift = _complete_single(values, pos_label, label_names, func)
        codes_t = codes_t + shift
        codes_p = codes_p + shift
    return LogLabels(
        y_true=codes_t.astype(np.int64, copy=False),
        y_pred=codes_p.astype(np.int64, copy=False),
        values=values,
        classes=tuple(label_strings(values)),
    )


def _like(value: Any, example: Any) -> Any:
    """``value`` (perhaps text from the command line) as the type of ``example``."""
    if isinstance(value, str) and not isinstance(example, str):
        num = _text_number(value)
        if num is not None:
            if isinstance(example, (bool, np.bool_)):
                return bool(num)
            if isinstance(example, (int, np.integer)) and float(num) == int(num):
                return int(num)
            return float(num)
    return _py(value)


def _complete_single(
    values: np.ndarray, pos_label: Any, label_names: Any, func: str
) -> tuple[np.ndarray, int]:
    """Two classes for a log with one label; returns them and the index shift of the label."""
    v = _py(values.tolist()[0])
    other: Any = None
    has_other = False
    if isinstance(label_names, Mapping):
        rest = [k for k in label_names if match_label(np.asarray([v], dtype=object), k) is None]
        if len(rest) == 1:
            other, has_other = _like(rest[0], v), True
    if not has_other and pos_label is not None:
        if match_label(np.asarray([v], dtype=object), pos_label) is None:
            other, has_other = _like(pos_label, v), True
    if not has_other and _is_01_set([v]):
        if isinstance(v, (bool, np.bool_)):
            other = not v
        elif float(v) == -1.0:
            other = 1 if isinstance(v, int) else 1.0
        else:
            other = (
                (0 if isinstance(v, int) else 0.0)
                if float(v) == 1.0
                else (1 if isinstance(v, int) else 1.0)
            )
        has_other = True
    if not has_other and pos_label is not None:
        other, has_other = f"not {v}", True  # only ever the negative class
    if not has_other:
        raise DataValidationError(
            f"y_true and y_pred hold a single label {v!r}, so {func} cannot tell the other "
            f"class; say which outcome is positive with pos_label= (--pos-label), or name both "
            f"classes with label_names={{{v!r}: ..., <other>: ...}} (--labels)."
        )
    pair = [v, other]
    try:
        pair_sorted = sorted(pair)
    except TypeError:
        pair_sorted = sorted(pair, key=str)
    if isinstance(other, str) and other == f"not {v}":
        pair_sorted = [other, v]  # the invented class is the negative one, listed first
    arr = np.empty(2, dtype=object)
    arr[:] = pair_sorted
    if all(isinstance(x, (bool, np.bool_)) for x in pair_sorted):
        arr = np.asarray(pair_sorted, dtype=bool)
    elif all(_is_number(x) for x in pair_sorted):
        arr = np.asarray(pair_sorted)
    return arr, pair_sorted.index(v)


def outcome_semantics(
    values: np.ndarray, classes: tuple[str, ...], *, pos_label: Any, label_names: Any,
    favourable: Any, default_pos: Any = None, func: str,
) -> tuple[int | None, int | None, tuple[str, ...] | None]:  # fmt: skip
    """Return ``(pos_label index, favourable index, label_names tuple)`` for the classes."""
    k = len(classes)
    shown = ", ".join(classes[:10]) + (", ..." if k > 10 else "")
    # label names, keys matched like pos_label
    names: tuple[str, ...] | None = None
    if label_names is not None:
        if isinstance(label_names, Mapping):
            given: dict[int, str] = {}
            for key, nm in label_names.items():
                i = match_label(values, key, classes)
                if i is None:
                    raise ParameterError(
                        f"label_names of {func} names the label {_py(key)!r}, which is not one of "
                        f"the labels: {shown}."
                    )
                if not isinstance(nm, str) or not nm.strip():
                    raise ParameterError(
                        f"label_names of {func} must map labels to non-empty strings; got "
                        f"{nm!r} for {_py(key)!r}."
                    )
                if i in given:
                    raise ParameterError(
                        f"label_names of {func} names the label {classes[i]!r} twice."
                    )
                given[i] = nm.strip()
            full = [given.get(i, classes[i]) for i in range(k)]
        elif isinstance(label_names, (list, tuple)) and all(
            isinstance(s, str) for s in label_names
        ):
            if len(label_names) != k:
                raise ParameterError(
                    f"label_names of {func} has {len(label_names)} names but there are {k} "
                    f"classes ({shown}); give one name per class, or a dict label -> name."
                )
            full = [s.strip() for s in label_names]
        else:
            raise ParameterError(
                PARAM_MSG.format(
                    param="label_names", func=func,
                    expected="a dict of label -> name (or a list of one name per class)",
                    got=label_names,
                )
            )  # fmt: skip
        dup = sorted({s for s in full if full.count(s) > 1})
        if dup:
            raise ParameterError(
                f"label_names of {func} gives the name {dup[0]!r} to two classes."
            )
        names = tuple(full)
    # pos_label (Fairlearn's meaning)
    pos: int | None
    if k > 2:
        if pos_label is not None:
            raise DataValidationError(
                f"pos_label={_py(pos_label)!r} asks for binary metrics, but the labels have "
                f"{k} classes ({shown}); leave pos_label unset for a multiclass task."
            )
        pos = None
    else:
        if pos_label is None and default_pos is not None:
            d = match_label(values, default_pos, classes)
            pos = d if d is not None else None
        else:
            pos = None
        if pos_label is not None:
            pos = match_label(values, pos_label, classes)
            if pos is None:
                raise ParameterError(
                    PARAM_MSG.format(
                        param="pos_label",
                        func=func,
                        expected=f"one of the labels ({shown})",
                        got=_py(pos_label),
                    )
                )
        if pos is None:
            pos = k - 1
    # the favourable outcome: a label value or a label name
    fav: int | None = None
    if favourable is not None:
        if k > 2:
            raise ParameterError(
                f"favourable={_py(favourable)!r} names the outcome that benefits a person in a "
                f"binary task, but the labels have {k} classes ({shown})."
            )
        fav = match_label(values, favourable, classes)
        if fav is None and names is not None:
            text = str(_py(favourable)).strip()
            hits = [i for i, nm in enumerate(names) if nm == text] or [
                i for i, nm in enumerate(names) if nm.casefold() == text.casefold()
            ]
            fav = hits[0] if hits else None
        if fav is None:
            listed = f"the labels ({shown})" + (
                f" or their names ({', '.join(repr(s) for s in names)})" if names else ""
            )
            raise ParameterError(
                PARAM_MSG.format(
                    param="favourable", func=func, expected=f"one of {listed}",
                    got=_py(favourable),
                )
            )  # fmt: skip
    return pos, fav, names
