"""The groups of an audit: sensitive features resolved once, ceilings, reference groups.

Sensitive features come as column names of ``X`` (or of the dataset's derived columns), a Series,
a DataFrame, a dict of arrays, or a 1-d/2-d array (as Fairlearn does). Each column is factorized
once and only its distinct values become strings (see :mod:`auditkit.inputs.labels`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.limits import DEFAULT_MAX_GROUPS, DEFAULT_MAX_INTERSECTIONS
from .._core.validation import PARAM_MSG, check_columns, to_1d
from ..exceptions import DataValidationError, ParameterError
from .labels import (
    _is_number,
    _missing_mask,
    _py,
    _text_number,
    factorize,
    label_strings,
    match_label,
)

__all__ = [
    "INTERSECTION_FACTOR",
    "MAX_LABEL_CHARS",
    "SensitiveFrame",
    "check_reference_groups",
    "group_ceiling_message",
    "reference_groups_of",
    "resolve_sensitive",
    "sensitive_frame",
    "train_sensitive",
]

#: Group labels longer than this are shortened in the audit; the full value is kept once, in
#: the result's ``data.group_labels``.
MAX_LABEL_CHARS = 80
_KEEP_CHARS = 32
#: Intersections may hold this many times ``max_groups`` non-empty groups.
INTERSECTION_FACTOR = DEFAULT_MAX_INTERSECTIONS // DEFAULT_MAX_GROUPS


@dataclass(frozen=True)
class SensitiveFrame:
    """The sensitive frame (string values) and the full text of the groups it shortened."""

    frame: Any
    full_labels: dict[str, dict[str, str]]
    #: The group labels of each feature, sorted as the engine sorts them.
    groups: dict[str, list[str]]


def _short(label: str) -> str:
    digest = hashlib.sha256(label.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{label[:_KEEP_CHARS]}… ({len(label):,} characters, sha256 {digest})"


def _is_arrow_str(values: Any) -> bool:
    """Whether ``values`` is a pandas Series of the default Arrow-backed string dtype."""
    import pandas as pd

    return (
        isinstance(values, pd.Series)
        and getattr(values.array, "_pa_array", None) is not None
        and pd.api.types.is_string_dtype(values.dtype)
        and values.dtype == pd.StringDtype("pyarrow", na_value=np.nan)
    )


def _string_column(codes: np.ndarray, levels: list[str]) -> Any:
    """Return a pandas string column of ``levels[codes]``, built by Arrow (no per-row Python)."""
    import pandas as pd

    try:
        import pyarrow as pa

        arr = pa.array(levels, type=pa.large_string()).take(pa.array(codes))
        return pd.array(arr, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    except (ImportError, TypeError, ValueError):  # pragma: no cover - older pandas
        obj = np.empty(len(levels), dtype=object)
        obj[:] = levels
        return obj[codes]


def _columns_of(
    sf: Any, X: Any, n: int, *, schema: Any, where: str
) -> list[tuple[str, Any]] | None:
    """Normalise the accepted forms of sensitive features to ``[(name, values)]``."""
    import pandas as pd

    if sf is None:
        if schema is not None and schema.sensitive and isinstance(X, pd.DataFrame):
            present = [
                c for c in schema.sensitive
                if c in X.columns or any(d.name == c and d.source in X.columns
                                         for d in schema.derived)
            ]  # fmt: skip
            if not present:
                return None
            frame = schema.sensitive_frame(X, present)
            return [(str(c), frame[c]) for c in frame.columns]
        return None
    names_given = isinstance(sf, str) or (
        isinstance(sf, (list, tuple)) and len(sf) > 0 and all(isinstance(c, str) for c in sf)
    )
    if names_given and not isinstance(sf, str) and len(sf) == n:
        # a list as long as the data is its group labels (as in Fairlearn), unless it names
        # columns of a DataFrame X
        names_given = isinstance(X, pd.DataFrame) and any(c in X.columns for c in sf)
    if names_given:
        cols = [sf] if isinstance(sf, str) else list(sf)
        if not isinstance(X, pd.DataFrame):
            raise DataValidationError(
                f"Sensitive features were named ({', '.join(map(repr, cols))}) but X is not a "
                "DataFrame with columns; pass the values instead (a Series, array or DataFrame)."
            )
        derived = {d.name for d in schema.derived} if schema is not None else set()
        plain = [c for c in cols if c not in derived]
        check_columns(plain, list(X.columns), what="Sensitive column", where=where)
        if len(set(cols)) != len(cols):
            dup = next(c for c in cols if cols.count(c) > 1)
            raise DataValidationError(f"Sensitive feature {dup!r} is given more than once.")
        if derived & set(cols):
            frame = schema.sensitive_frame(X, cols)
            return [(c, frame[c]) for c in cols]
        return [(c, X[c]) for c in cols]
    if isinstance(sf, pd.Series):
        return [(str(sf.name) if sf.name is not None else "sensitive_feature_0", sf)]
    if isinstance(sf, pd.DataFrame):
        return [(str(c), sf.iloc[:, j]) for j, c in enumerate(sf.columns)]
    if isinstance(sf, Mapping):
        return [
            (str(k), v if isinstance(v, pd.Series) else to_1d(v, name=f"sensitive feature {k!r}"))
            for k, v in sf.items()
        ]
    try:
        arr = np.asarray(sf)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(
            f"sensitive_features cannot be read as a table of group labels ({exc}); pass "
            "a Series, a DataFrame, a dict of columns or a 1-d or 2-d array."
        ) from exc
    if arr.ndim == 0:
        raise DataValidationError(
            f"sensitive_features must hold one group label per row; got {sf!r}."
        )
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataValidationError(f"sensitive_features must be 1-d or 2-d; got shape {arr.shape}.")
    return [(f"sensitive_feature_{i}", arr[:, i]) for i in range(arr.shape[1])]


def group_ceiling_message(column: str, count: int, max_groups: int, func: str) -> str:
    """Return the refusal of a sensitive column with more distinct values than ``max_groups``."""
    return (
        f"Sensitive column {column!r} has {count:,} distinct values, more than the ceiling of "
        f"{max_groups:,} groups per sensitive feature (max_groups={max_groups}); so many groups "
        "usually mean an identifier or free text, not a group. If it really is one, pass "
        f"max_groups={count} (--max-groups {count}) to {func}."
    )


def sensitive_frame(
    sensitive_features: Any, X: Any, n: int, *, schema: Any = None, where: str = "X",
    max_groups: int = DEFAULT_MAX_GROUPS, func: str = "audit",
) -> SensitiveFrame | None:  # fmt: skip
    """Return the sensitive frame (string values, aligned with the rows), or None.

    Accepts column names of ``X`` (or of the dataset's derived columns), a Series, a DataFrame,
    a dict of arrays, or a 1-d/2-d array (as Fairlearn does). Each column is factorized once;
    only its distinct values become strings. A column with more than ``max_groups`` distinct
    values, or an intersection with more than ``INTERSECTION_FACTOR * max_groups`` non-empty
    groups, is refused before any per-group work. Labels longer than :data:`MAX_LABEL_CHARS`
    characters are shortened (their start, length and sha256 prefix); the full text is
    returned in ``full_labels`` to be kept once in the result.
    """
    import pandas as pd

    cols = _columns_of(sensitive_features, X, n, schema=schema, where=where)
    if not cols:
        return None
    names = [c for c, _ in cols]
    if len(set(names)) != len(names):
        dup = next(c for c in names if names.count(c) > 1)
        raise DataValidationError(f"Sensitive feature {dup!r} is given more than once.")
    for _c, v in cols:
        if len(v) != n:
            raise DataValidationError(
                f"Sensitive features have {len(v)} rows but the data has {n}."
            )
    out: dict[str, Any] = {}
    full: dict[str, dict[str, str]] = {}
    groups: dict[str, list[str]] = {}
    all_codes: list[np.ndarray] = []
    sizes: list[int] = []
    for c, v in cols:
        mask = _missing_mask(v)
        if mask is not None:
            i = int(np.flatnonzero(mask)[0])
            raise DataValidationError(
                f"Sensitive column {c!r} has {int(mask.sum())} missing value(s), the first "
                f"at row {i}; fill them (for example with 'unknown') before auditing."
            )
        codes, levels = factorize(v, name=f"Sensitive column {c!r}", text_order=True)
        if len(levels) > max_groups:
            raise DataValidationError(group_ceiling_message(c, len(levels), max_groups, func))
        text = label_strings(levels)
        if len(set(text)) != len(text):  # 1 and "1" are one group, as their text is
            uniq, remap = np.unique(np.asarray(text, dtype=object), return_inverse=True)
            codes = np.asarray(remap).ravel()[codes]
            text = [str(s) for s in uniq.tolist()]
        long = {s: _short(s) for s in text if len(s) > MAX_LABEL_CHARS}
        if long:
            full[c] = {short: s for s, short in long.items()}
            text = [long.get(s, s) for s in text]
        # sorted by text, as the engine sorts groups; it reuses these codes (no second hash)
        order = np.argsort(np.asarray(text, dtype=object), kind="stable")
        if np.any(order != np.arange(len(order))):
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
            codes = rank[codes]
            text = [text[i] for i in order.tolist()]
        same = not long and _is_arrow_str(v) and text == [str(x) for x in levels.tolist()]
        out[c] = v.reset_index(drop=True).array if same else _string_column(codes, text)
        groups[c] = text
        all_codes.append(codes)
        sizes.append(len(text))
    if len(cols) > 1:
        limit = INTERSECTION_FACTOR * max_groups
        k = _n_combinations(all_codes, sizes)
        if k > limit:
            need = -(-k // INTERSECTION_FACTOR)
            raise DataValidationError(
                f"The intersection of the sensitive features {' × '.join(names)} has {k:,} "
                f"non-empty groups, more than the ceiling of {limit:,} ({INTERSECTION_FACTOR} x "
                f"max_groups={max_groups}); audit fewer features together, or pass "
                f"max_groups={need} (--max-groups {need}) to {func}."
            )
    frame = pd.DataFrame(out)
    from ..metrics.engine import remember_codes

    for c, codes in zip(frame.columns, all_codes, strict=True):
        levels = np.empty(len(groups[c]), dtype=object)
        levels[:] = groups[c]
        remember_codes(frame[c], codes, levels)
    return SensitiveFrame(frame=frame, full_labels=full, groups=groups)


def _n_combinations(codes: list[np.ndarray], sizes: list[int]) -> int:
    """Count the distinct combinations of group codes that occur (vectorised)."""
    product = math.prod(sizes)
    if product < 2**62:
        cell = np.ravel_multi_index(tuple(codes), tuple(sizes))
        if product <= 20_000_000:
            return int(np.count_nonzero(np.bincount(cell, minlength=product)))
        return int(len(np.unique(cell)))
    return int(len(np.unique(np.column_stack(codes), axis=0)))  # pragma: no cover


def check_reference_groups(
    reference_groups: Any, groups: Mapping[str, Sequence[str]],
    full_labels: Mapping[str, Mapping[str, str]], *, func: str,
) -> dict[str, str]:  # fmt: skip
    """Validate ``{feature: group}`` against the groups that occur; return string values.

    ``groups`` maps each sensitive feature to its group labels (as strings). A group is
    matched by its text, then as a number (``1`` for ``"1.0"``), then by its full text when
    the audit shortened a long label.
    """
    if reference_groups is None:
        return {}
    if not isinstance(reference_groups, Mapping):
        raise ParameterError(
            PARAM_MSG.format(
                param="reference_groups", func=func,
                expected="a dict of sensitive feature -> reference group", got=reference_groups,
            )
        )  # fmt: skip
    out: dict[str, str] = {}
    feats = list(groups)
    for feat, group in reference_groups.items():
        if feat not in groups:
            raise ParameterError(
                f"reference_groups of {func} names {feat!r}, which is not a sensitive feature; "
                f"the sensitive features are: {', '.join(map(repr, feats))}."
            )
        levels = list(groups[feat])
        i = match_label(np.asarray(levels, dtype=object), group)
        if i is None:
            numeric = [(j, _text_number(s)) for j, s in enumerate(levels)]
            g = _py(group)
            if _is_number(g) or isinstance(g, str):
                want = _text_number(str(g)) if isinstance(g, str) else g
                if want is not None:
                    i = next(
                        (j for j, x in numeric if x is not None and float(x) == float(want)),
                        None,
                    )
        if i is None:
            short = {v: k for k, v in full_labels.get(str(feat), {}).items()}
            s = short.get(str(_py(group)))
            i = levels.index(s) if s in levels else None
        if i is None:
            shown = ", ".join(repr(s[:60]) for s in levels[:20]) + (
                ", ..." if len(levels) > 20 else ""
            )
            raise ParameterError(
                f"reference_groups of {func}: the group {_py(group)!r} of {feat!r} does not occur "
                f"in the data; the groups of {feat!r} are: {shown}."
            )
        out[str(feat)] = levels[i]
    return out


def resolve_sensitive(
    sensitive_features: Any, X: Any, n: int, *, schema: Any, where: str = "X",
    max_groups: int = DEFAULT_MAX_GROUPS, func: str = "audit",
) -> Any:  # fmt: skip
    """Return a DataFrame of sensitive columns (string values) aligned with the rows, or None.

    The frame of :func:`sensitive_frame`, without the full text of shortened labels.
    """
    out = sensitive_frame(
        sensitive_features, X, n, schema=schema, where=where, max_groups=max_groups, func=func
    )
    return None if out is None else out.frame


def train_sensitive(
    sensitive_features: Any, sens: Any, X_train: Any, n_train: int, *, schema: Any,
    max_groups: int, func: str,
) -> Any:  # fmt: skip
    """Return the sensitive columns of the training rows, or None where none can be found.

    Named columns (and a dataset's declared ones) are looked up in ``X_train``; values given
    for the evaluation rows cannot describe the training rows, so those give None.
    """
    if sens is None:
        return None
    named = sensitive_features is None or isinstance(sensitive_features, (str, list, tuple))
    try:
        return resolve_sensitive(
            list(sens.columns) if named else None, X_train, n_train, schema=schema,
            where="X_train", max_groups=max_groups, func=func,
        )  # fmt: skip
    except (DataValidationError, ParameterError):
        return None


def reference_groups_of(
    reference_groups: Any, groups: SensitiveFrame | None, *, func: str
) -> dict[str, str]:
    """Validate ``reference_groups`` against the sensitive frame of an audit."""
    if reference_groups is None:
        return {}
    if groups is None:
        raise ParameterError(
            f"reference_groups of {func} names {list(reference_groups)!r} but the audit has "
            "no sensitive features."
        )
    return check_reference_groups(reference_groups, groups.groups, groups.full_labels, func=func)
