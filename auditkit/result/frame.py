"""An audit's figures as a flat table: one row per metric record, and one per move of a diff.

``audit.json`` is one nested document (the run, the model, the sections, then the flat
``metrics`` list), so ``pandas.read_json("audit.json")`` cannot make a table of it. The
supported ways are::

    result = auditkit.load_result("audit.json")
    df = result.to_frame()                     # pandas DataFrame, one row per record
    rows = result.to_records()                 # the same rows as plain dicts (no pandas)
    df.to_json("metrics.json", orient="records")   # a flat file pandas.read_json reads back

Columns, always in this order (:data:`FRAME_COLUMNS`): ``section``, ``name``, ``feature``,
``group``, ``value``, ``ci_low``, ``ci_high``, ``n``, ``label``, ``method``, ``agg``,
``input_feature``, ``attack``, ``fold``, ``unit``, ``p_value``, ``p_adjusted``, ``test``,
``flags``, ``reason``. ``feature`` and ``group`` are text: one sensitive column (``"sex"``) or
an intersection joined by ``" × "`` (``"race × sex"``, group ``"Black × Female"``), the card's
notation; missing for whole-population figures (``result.metrics`` keeps the exact tuples).
``flags`` joins a record's flags with ``","`` (empty when none). Numbers are ``float64``
(missing as NaN), ``n`` and ``fold`` nullable integers (``Int64``).

Pandas is imported only when a frame is asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


__all__ = [
    "DIFF_COLUMNS",
    "FRAME_COLUMNS",
    "GROUP_SEP",
    "diff_frame",
    "diff_records",
    "metric_records",
    "metrics_frame",
]

#: How ``feature`` and ``group`` join the parts of an intersection.
GROUP_SEP = " × "
#: The columns of :func:`metrics_frame`, in order.
FRAME_COLUMNS = (
    "section", "name", "feature", "group", "value", "ci_low", "ci_high", "n", "label", "method",
    "agg", "input_feature", "attack", "fold", "unit", "p_value", "p_adjusted", "test", "flags",
    "reason",
)  # fmt: skip
_FLOAT = ("value", "ci_low", "ci_high", "p_value", "p_adjusted")
_INT = ("n", "fold")
#: The identity of a record across two audits (the diff's key fields, in its order).
_KEY = ("section", "name", "feature", "group", "label", "method", "attack", "fold",
        "input_feature")  # fmt: skip
#: The columns of :func:`diff_frame`, in order.
DIFF_COLUMNS = (
    *_KEY, "occurrence", "status", "old", "new", "delta", "old_ci_low", "old_ci_high",
    "new_ci_low", "new_ci_high", "new_outside_old", "old_outside_new", "beyond_intervals",
    "better",
)  # fmt: skip
_DIFF_FLOAT = ("old", "new", "delta", "old_ci_low", "old_ci_high", "new_ci_low", "new_ci_high")
_DIFF_BOOL = ("new_outside_old", "old_outside_new", "beyond_intervals", "better")


def _joined(x: Sequence[Any] | None) -> str | None:
    return None if x is None else GROUP_SEP.join(str(v) for v in x)


def metric_records(metrics: Iterable[Any]) -> list[dict[str, Any]]:
    """Return one flat dict per metric record, with the keys of :data:`FRAME_COLUMNS` in order.

    ``metrics`` are :class:`~auditkit.result.records.MetricValue` records (this module does not
    import them: the result's methods import this one).
    """
    out = []
    for m in metrics:
        ci = m.ci
        out.append(
            {
                "section": m.section,
                "name": m.name,
                "feature": _joined(m.feature),
                "group": _joined(m.group),
                "value": m.value,
                "ci_low": ci[0] if ci is not None else None,
                "ci_high": ci[1] if ci is not None else None,
                "n": m.n,
                "label": m.label,
                "method": m.method,
                "agg": m.agg,
                "input_feature": m.input_feature,
                "attack": m.attack,
                "fold": m.fold,
                "unit": m.unit,
                "p_value": m.p_value,
                "p_adjusted": m.p_adjusted,
                "test": m.test,
                "flags": ",".join(m.flags),
                "reason": m.reason,
            }
        )
    return out


def _frame(rows: list[dict[str, Any]], columns: Sequence[str], floats: Sequence[str],
           ints: Sequence[str] = (), bools: Sequence[str] = ()) -> pd.DataFrame:  # fmt: skip
    import pandas as pd

    df = pd.DataFrame.from_records(rows, columns=list(columns))
    text = pd.Series(["x"]).dtype  # pandas' own string dtype ("str" from pandas 3, else object)
    for c in columns:
        if c not in floats and c not in ints and c not in bools:
            df[c] = df[c].astype(text)
    for c in floats:
        df[c] = pd.to_numeric(df[c], errors="raise").astype("float64")
    for c in ints:
        df[c] = df[c].astype("Int64")
    for c in bools:
        df[c] = df[c].astype("boolean")
    return df


def metrics_frame(result: Any) -> pd.DataFrame:
    """Return the result's metric records as a DataFrame (one row per record, in JSON order).

    Parameters
    ----------
    result : AuditResult

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`FRAME_COLUMNS` in that order, also when the result has no record.
    """
    return _frame(metric_records(result.metrics), FRAME_COLUMNS, _FLOAT, _INT)


def _pair(ci: Sequence[Any] | None) -> tuple[Any, Any]:
    if ci is None or len(ci) != 2:
        return None, None
    return ci[0], ci[1]


def diff_records(diff: Any) -> list[dict[str, Any]]:
    """Return one flat dict per figure of an audit diff, with the keys of :data:`DIFF_COLUMNS`.

    ``diff`` is an :class:`auditkit.report.AuditDiff` (read through its ``moves``: each has the
    record's identity in ``key``, its values, intervals and status); ``occurrence`` numbers a
    key met more than once in one audit.
    """
    out = []
    for m in diff.moves:
        row: dict[str, Any] = {}
        for k in _KEY:
            v = m.field(k)
            row[k] = _joined(v) if k in ("feature", "group") else v
        o_lo, o_hi = _pair(m.old_ci)
        n_lo, n_hi = _pair(m.new_ci)
        row.update(
            occurrence=int(m.key[-1]), status=m.status, old=m.old, new=m.new, delta=m.delta,
            old_ci_low=o_lo, old_ci_high=o_hi, new_ci_low=n_lo, new_ci_high=n_hi,
            new_outside_old=m.new_outside_old, old_outside_new=m.old_outside_new,
            beyond_intervals=m.beyond_intervals, better=m.better,
        )  # fmt: skip
        out.append(row)
    return out


def diff_frame(diff: Any) -> pd.DataFrame:
    """Return an audit diff as a DataFrame: one row per figure (:data:`DIFF_COLUMNS`).

    ``status`` is ``moved``, ``unchanged``, ``added``, ``removed`` or ``undefined``; ``delta`` is
    ``new - old``; ``beyond_intervals`` says whether the move is larger than the intervals
    (missing when neither audit has one); ``better`` reads the metric's direction.
    """
    return _frame(diff_records(diff), DIFF_COLUMNS, _DIFF_FLOAT, ("fold", "occurrence"),
                  _DIFF_BOOL)  # fmt: skip
