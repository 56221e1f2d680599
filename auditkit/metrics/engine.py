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

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

# ``import n as n``: names this module held before the split, re-exported for their callers
from ..exceptions import DataValidationError, ParameterError
from .bootstrap import Intervals, bootstrap_samples
from .evaluation import _between, _evaluate, _group_auc, _to_overall
from .reduction import (
    COUNT_TABLE_COLUMNS,
    DEFAULT_N_BINS,
    _count_table,
    _find_label,
    _Rows,
    _sensitive_columns,
    count_table,
    score_bins,
)
from .reduction import _arrow_factorize as _arrow_factorize
from .reduction import _factorize as _factorize
from .reduction import check_sample_weight as check_sample_weight
from .reduction import forget_codes as forget_codes
from .reduction import remember_codes as remember_codes
from .stats import percentile_interval
from .table import MAX_PRODUCT_GROUPS as MAX_PRODUCT_GROUPS
from .table import Key, Method, Undefined, _Table, table_from_counts

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
    tab = table_from_counts(table, feats, avail, labels=labels, pos_label=pos_label, n_bins=n_bins)
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
        return bootstrap_samples(
            self._table, list(self._groupings.values()), self.undefined, n_boot, rng
        )


def _method(method: str) -> str:
    if method not in ("between_groups", "to_overall"):
        raise ParameterError(
            f"The 'method' parameter must be 'between_groups' or 'to_overall'. Got {method!r} "
            "instead."
        )
    return method
