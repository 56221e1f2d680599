"""The regression engine: sufficient statistics per group cell, everything else from them.

The regression counterpart of :mod:`auditkit.metrics.engine`. Every standard regression metric
of a group (mean absolute and squared error, their root, R², the signed mean error, the mean
prediction and target) is a ratio of a few **additive sums** over the group's rows, so the rows
are reduced once, vectorised (``np.bincount``), to a small table, and per-group and overall
values, Fairlearn's disparities, bootstrap intervals and tests come from the table alone. The
median absolute error and the distribution gaps need order statistics: from rows they are exact,
from a table they come from shared-edge histograms with a stated error bound. The values equal
scikit-learn's metrics with ``sample_weight`` and Fairlearn's ``MetricFrame`` (``by_group``,
``overall``, ``difference()``, ``ratio()``); ``tests/test_regression_vs_fairlearn.py`` checks
this on many random cases.

The count tables (the contract for external engines)
----------------------------------------------------
**Sums table**, one row per occurring (group cell, block); rows repeating a key are added up:

======================  ====================================================================
column                  meaning
======================  ====================================================================
``<feature>``           one column per sensitive feature
``block``               bootstrap block of the rows, ``hash(row id) mod n_blocks`` (optional:
                        without it each cell is one block)
``count``               rows in the cell (int)
``weight_sum``          ``SUM(w)`` (optional: ``count`` when absent, i.e. unweighted)
``y_sum``               ``SUM(w * y)``
``pred_sum``            ``SUM(w * yhat)``
``residual_sum``        ``SUM(w * (yhat - y))``
``residual_sq_sum``     ``SUM(w * (yhat - y)^2)``
``abs_residual_sum``    ``SUM(w * ABS(yhat - y))``
``y_dev_sq_sum``        ``SUM(w * (y - c)^2)`` for a constant ``c``, for R²'s total sum of
                        squares (``c`` near the mean of ``y`` avoids cancellation)
``y_shift``             the constant ``c`` (optional, 0 when absent; one value throughout)
======================  ====================================================================

In SQL (``w`` is 1 for an unweighted log)::

    SELECT sex, race, hash(row_id) % 512 AS block, COUNT(*) AS count, SUM(w) AS weight_sum,
           SUM(w * y) AS y_sum, SUM(w * yhat) AS pred_sum, SUM(w * (yhat - y)) AS residual_sum,
           SUM(w * (yhat - y) * (yhat - y)) AS residual_sq_sum,
           SUM(w * ABS(yhat - y)) AS abs_residual_sum,
           SUM(w * (y - 100.0) * (y - 100.0)) AS y_dev_sq_sum, 100.0 AS y_shift
    FROM log GROUP BY ALL

**Histogram table** (optional; for the median absolute error, the distribution gaps and the
mean error at equal true values), one row per occurring (group cell, kind, bin) on
equal-width bin edges shared by all groups: ``<feature>``, ``kind`` (``"prediction"``: bins of
``yhat``; ``"abs_error"``: bins of ``ABS(yhat - y)`` from 0; ``"target"``: bins of ``y``,
optional), ``bin`` (int), ``bin_low``, ``bin_high`` (the bin's edges), ``count``,
``residual_sum`` (``SUM(w * (yhat - y))`` in the bin; read for ``"target"``), and for weighted
logs ``weight_sum`` and ``weight_sq_sum``. ``tests/test_regression_metrics.py`` builds both
tables with DuckDB.

:func:`regression_count_table` produces both from arrays; :func:`regression_metrics` is the
table path plus the exact order statistics from the rows, and
:func:`regression_from_count_table` reads tables made elsewhere.

Conventions (Fairlearn's and scikit-learn's)
--------------------------------------------
* ``mean_error`` is the weighted mean of ``y_pred - y_true`` (positive: over-prediction).
* ``count`` is the number of rows (not weight); a group whose weight sums to 0, or an
  intersection that does not occur, has NaN metrics and drops out of ``min``/``max``.
* ``r2_score`` is NaN for a group of fewer than 2 rows (scikit-learn warns and returns NaN).
* Disparities: ``between_groups`` is ``max - min`` and ``min / max``; ``to_overall`` the
  largest ``|group - overall|`` and the smallest ``group / overall`` folded to at most 1;
  ``to_reference`` is ``group - reference`` and ``group / reference``, one value per group.
  A ratio of values of mixed sign (``mean_error``, ``r2_score``) is reported as computed and
  means little; read the difference.

Bootstrap (the block bootstrap)
-------------------------------
Resampling cell counts is not enough here: a resampled cell's sum of residuals depends on
*which* rows were drawn, not only how many. The rows of each cell are therefore split into
``n_blocks`` blocks by a fixed hash of the row index, and the table keeps each block's sums. A
replicate gives every block an independent ``Poisson(1)`` multiplicity (the Poisson bootstrap,
the large-``n`` equivalent of drawing rows with replacement) and adds up the blocks. Where a
cell has no more rows than blocks, nearly every block holds one row and this is the Poisson row
bootstrap itself; in a larger cell each block is a random subsample of its rows, and resampling
blocks is a bootstrap of iid block sums, whose variance estimates the row bootstrap's from
``n_blocks`` blocks (relative error about ``sqrt(2 / n_blocks)``, 6% at 512). Every metric and
disparity, for every grouping, is computed on the same replicate, at a cost independent of the
number of rows.

Tests
-----
:meth:`RegressionMetrics.pvalues` tests "every group has the same metric value" with the
null-shifted bootstrap (Hall & Wilson, 1991): each group's bootstrap deviation ``v*_g - v_g``
stands for its sampling error around a common value, so the statistic recomputed from the
deviations (``max - min``, ``max |dev_g - dev_overall|``) draws from its null distribution,
and ``p = (1 + #{T* >= T}) / (B + 1)``. A group against the reference (``to_reference``, one
signed difference) is a Wald test with the bootstrap standard error of ``dev_g - dev_ref``:
``p = 2 Phi(-|v_g - v_ref| / se)``, which has no floor at ``1 / (B + 1)`` (a floor that the
family's multiplicity control would otherwise turn into "no evidence" for a gap whose interval
is far from 0). Both allow groups of different
spread (a permutation of group labels would test equal distributions instead, and is invalid
for equal means with unequal variances); it is asymptotic, and the simulations of the tests keep
its false-alarm rate at the nominal level for groups of 50+ rows. A ratio tests the same
hypothesis as its difference and shares its p-value. Distribution gaps are tested by an exact
permutation of the binned rows (:mod:`auditkit.metrics.regression_gaps`). P-values are
adjusted together with Benjamini-Hochberg, as the classification engine's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np

from ..exceptions import ParameterError
from .bootstrap import Intervals
from .evidence import Family, permutation_pvalue
from .regression_boot import block_poisson_sums, hist_replicates
from .regression_eval import (
    LOSSES,
    REGRESSION_METRICS,
    SUM_METRICS,
    disparities,
    grouped_weighted_median,
    hist_median,
    metrics_from_sums,
)
from .regression_gaps import gap_permutation_pvalues, hist_gaps, row_gaps
from .regression_table import (
    DEFAULT_HIST_BINS,
    DEFAULT_N_BLOCKS,
    SUM_COLUMNS,
    RegressionRows,
    RegressionTable,
    check_rows,
    reduce_rows,
    table_from_frames,
)
from .stats import percentile_interval
from .table import Key, _Grouping, _Table

__all__ = [
    "REGRESSION_METRICS",
    "RegressionMetrics",
    "regression_count_table",
    "regression_from_count_table",
    "regression_metrics",
]

_METHODS = ("between_groups", "to_overall", "to_reference")
_GAPS = ("prediction_ks_gap", "prediction_wasserstein_gap")


def regression_count_table(
    y_true: Any, y_pred: Any, sensitive_features: Any, *, sample_weight: Any = None,
    n_bins: int = DEFAULT_HIST_BINS, n_blocks: int = DEFAULT_N_BLOCKS, as_frame: bool = True,
) -> tuple[Any, Any]:  # fmt: skip
    """Reduce regression rows to the sums table and the histogram table (layout above).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True values and predictions (finite numbers).
    sensitive_features : Series, DataFrame, dict of arrays, or array of shape (n_samples,) or
        (n_samples, n_features)
        The groups, as Fairlearn accepts them.
    sample_weight : array-like of shape (n_samples,), default=None
    n_bins : int, default=256
        Equal-width histogram bins over the range of the predictions and of ``|y_pred - y_true|``.
    n_blocks : int, default=512
        Bootstrap blocks per cell.
    as_frame : bool, default=True
        Return pandas DataFrames; False returns dicts of numpy columns.

    Returns
    -------
    sums, histogram : DataFrame or dict of ndarray
    """
    rows = check_rows(y_true, y_pred, sensitive_features, sample_weight)
    sums, hist = reduce_rows(rows, n_bins=n_bins, n_blocks=n_blocks)
    if rows.weight is None:
        del hist["weight_sum"], hist["weight_sq_sum"]
    if as_frame:
        import pandas as pd

        return pd.DataFrame(sums), pd.DataFrame(hist)
    return sums, hist


def regression_metrics(
    y_true: Any, y_pred: Any, sensitive_features: Any, *, sample_weight: Any = None,
    groupings: Sequence[Sequence[str] | str] | None = None,
    reference: Mapping[Any, Any] | None = None, n_bins: int = DEFAULT_HIST_BINS,
    n_blocks: int = DEFAULT_N_BLOCKS, order_statistics: str = "exact",
) -> RegressionMetrics:  # fmt: skip
    """Regression group metrics from rows (exact median and distribution gaps).

    Parameters
    ----------
    y_true, y_pred, sensitive_features, sample_weight, n_bins, n_blocks
        As :func:`regression_count_table`.
    groupings : list of (str or tuple of str), default=None
        Default: each feature, then the intersection of all features when there are 2+.
    reference : dict, default=None
        Reference group per grouping for ``to_reference`` disparities: a feature name (or tuple
        of names) mapped to a group value (or tuple of values). Default: the largest group.
    order_statistics : {"exact", "histogram"}, default="exact"
        The median absolute error and the distribution gaps: exact from the rows (a sort of the
        rows, and a pass over them per group), or from the histograms with their bounds, as for
        a count table (faster on very large inputs).

    Returns
    -------
    RegressionMetrics

    Examples
    --------
    >>> rm = regression_metrics([1.0, 2.0, 3.0, 5.0], [1.5, 2.0, 2.0, 5.0], ["a", "a", "b", "b"])
    >>> rm.by_group("mean_absolute_error", "sensitive_feature_0").tolist()
    [0.25, 0.5]
    >>> rm.difference("mean_absolute_error", "sensitive_feature_0")
    0.25
    """
    if order_statistics not in ("exact", "histogram"):
        raise ParameterError(
            "The 'order_statistics' parameter of regression_metrics must be 'exact' or "
            f"'histogram'. Got {order_statistics!r} instead."
        )
    rows = check_rows(y_true, y_pred, sensitive_features, sample_weight)
    sums, hist = reduce_rows(rows, n_bins=n_bins, n_blocks=n_blocks)
    tab = table_from_frames(sums, hist, rows.features, weighted=rows.weight is not None)
    exact = rows if order_statistics == "exact" else None
    return RegressionMetrics(tab, groupings=groupings, reference=reference, rows=exact)


def regression_from_count_table(
    sums: Any, histogram: Any = None, *, sensitive_features: Sequence[str] | str,
    groupings: Sequence[Sequence[str] | str] | None = None,
    reference: Mapping[Any, Any] | None = None,
) -> RegressionMetrics:  # fmt: skip
    """Regression group metrics from a sums table and an optional histogram table.

    Without the histogram table there is no median absolute error and no distribution gap.
    The median and the gaps from a histogram carry their error bounds
    (:meth:`RegressionMetrics.bound`).
    """
    feats = (
        [sensitive_features] if isinstance(sensitive_features, str) else list(sensitive_features)
    )
    if not feats:
        raise ParameterError("regression_from_count_table needs a sensitive feature column.")
    tab = table_from_frames(sums, histogram, feats)
    return RegressionMetrics(tab, groupings=groupings, reference=reference)


class RegressionMetrics:
    """Per-group regression metrics, overall values, disparities, gaps, intervals and tests.

    Build with :func:`regression_metrics` (rows) or :func:`regression_from_count_table`.
    Accessors take a metric name and a feature name or tuple of names (an intersection).

    Attributes
    ----------
    features : tuple of str
    groupings : list of tuple of str
    weighted : bool
    exact : bool
        True when built from rows (median and gaps exact; bounds 0).
    values : dict of Key to ndarray
        Every quantity: per-group arrays (part ``"group"`` and ``"to_reference"``) and scalars.
    bounds : dict of Key to ndarray
        Error bounds of the histogram values (median absolute error, KS and W1 gaps).
    """

    def __init__(
        self, table: RegressionTable, *, groupings: Sequence[Sequence[str] | str] | None = None,
        reference: Mapping[Any, Any] | None = None, rows: RegressionRows | None = None,
    ) -> None:  # fmt: skip
        self._table = table
        self.features = table.features
        self.weighted = table.weighted
        self.exact = rows is not None
        wanted: list[tuple[str, ...]] = [(f,) for f in table.features]
        if len(table.features) >= 2:
            wanted.append(table.features)
        if groupings is not None:
            wanted = [(g,) if isinstance(g, str) else tuple(g) for g in groupings]
        if not wanted:
            raise ParameterError("groupings must name at least one grouping.")
        # the classification engine's grouping logic, on this table's codes
        self._groupings: dict[tuple[str, ...], _Grouping] = {
            f: _Table.grouping(cast(Any, table), f) for f in dict.fromkeys(wanted)
        }
        self.groupings = list(self._groupings)
        self._ref = {f: self._reference(f, reference) for f in self.groupings}
        self.values: dict[Key, np.ndarray] = {}
        self.bounds: dict[Key, np.ndarray] = {}
        self._fill(table.sums.sum(axis=1)[None], self.values)
        self._order_stats(rows)
        self._at_equal_target()

    # ---- construction
    def _agg(self, s: np.ndarray, feats: tuple[str, ...]) -> np.ndarray:
        """Sum finest-group sums (nb, G, S) into the groups of ``feats`` (nb, P, S)."""
        return self._groupings[feats].aggregate(s)

    def _reference(self, feats: tuple[str, ...], reference: Mapping[Any, Any] | None) -> int:
        labels = self.groups(feats)
        want = None
        if reference is not None:
            want = reference.get(feats, reference.get(feats[0]) if len(feats) == 1 else None)
        if want is None:
            n = self._agg(self._table.sums.sum(axis=1)[None], feats)[0, :, 0]
            return int(np.argmax(n))
        t = want if isinstance(want, tuple) else (want,)
        for i, lab in enumerate(labels):
            if tuple(str(x) for x in lab) == tuple(str(x) for x in t):
                return i
        raise ParameterError(
            f"reference group {want!r} is not a group of {'+'.join(feats)}; groups: "
            f"{', '.join(map(str, labels[:10]))}."
        )

    def _fill(self, s: np.ndarray, out: dict[Key, np.ndarray]) -> None:
        """Sum metrics, disparity and worst-group loss of a batch of finest sums (nb, G, S)."""
        shift = self._table.y_shift
        overall = metrics_from_sums(s.sum(axis=1), shift)
        batch = s.shape[0] > 1 or out is not self.values
        for m, v in overall.items():
            out[Key(m, None, None, "overall")] = v if batch else v[0]
        for feats in self.groupings:
            vals = metrics_from_sums(self._agg(s, feats), shift)
            for m, v in vals.items():
                out[Key(m, feats, None, "group")] = v if batch else v[0]
                if m == "weight_sum":
                    continue
                if m == "count":  # an empty group drops out of min/max, as in MetricFrame
                    v = np.where(v > 0, v, np.nan)
                self._put_disparities(out, m, feats, v, overall[m], batch)
            for m in LOSSES:
                v = vals[m]
                worst = np.fmax.reduce(v, axis=-1)
                out[Key(f"worst_group_{m}", feats, None, "worst_case")] = (
                    worst if batch else worst[0]
                )

    def _put_disparities(
        self, out: dict[Key, np.ndarray], m: str, feats: tuple[str, ...], v: np.ndarray,
        o: np.ndarray, batch: bool,
    ) -> None:  # fmt: skip
        for name, x in disparities(v, o, self._ref[feats]).items():
            kind, method = name.split("/")
            out[Key(f"{m}_{kind}", feats, None, method)] = x if batch else x[0]

    def _order_stats(self, rows: RegressionRows | None) -> None:
        """Median absolute error and distribution gaps: exact from rows, else from histograms."""
        tab = self._table
        if rows is not None:
            # two sorts and six gathers in all; each grouping maps the finest group of the
            # sorted rows to its own groups through a small table
            a = np.abs(rows.y_pred - rows.y_true)
            w = rows.w
            fine = self._row_groups(rows)
            by_a, by_p = np.argsort(a, kind="stable"), np.argsort(rows.y_pred, kind="stable")
            a_s, wa_s, fa_s = a[by_a], w[by_a], fine[by_a]
            p_s, wp_s, fp_s = rows.y_pred[by_p], w[by_p], fine[by_p]
            del a, by_a, by_p
            zero = np.zeros(len(a_s), dtype=np.int64)
            med = grouped_weighted_median(a_s, wa_s, zero, 1, presorted=True)[0]
            self.values[Key("median_absolute_error", None, None, "overall")] = np.asarray(med)
            for feats in self.groupings:
                lookup = self._fine_to_group(feats)
                p = self._groupings[feats].n_groups
                v = grouped_weighted_median(a_s, wa_s, lookup[fa_s], p, presorted=True)
                self._set_median(feats, v, np.zeros(p), np.asarray(med))
                ks, w1 = row_gaps(p_s, wp_s, lookup[fp_s], p, presorted=True)
                self._set_gaps(feats, ks, w1, np.zeros(p), np.zeros(p))
            return
        if tab.hist is None or tab.edges is None:
            return
        hw = tab.hist[..., 1]  # weight per (G, kind, bin)
        med, bound = hist_median(hw[:, 1].sum(axis=0), tab.edges[1])
        self.values[Key("median_absolute_error", None, None, "overall")] = med
        self.bounds[Key("median_absolute_error", None, None, "overall")] = bound
        for feats in self.groupings:
            h = self._agg(hw[None, :, 1], feats)[0]
            v, b = hist_median(h, tab.edges[1])
            self._set_median(feats, v, b, med)
            hp = self._agg(hw[None, :, 0], feats)[0]
            gaps = hist_gaps(hp, hw[:, 0].sum(axis=0), tab.edges[0])
            self._set_gaps(feats, gaps["ks"], gaps["w1"], gaps["ks_bound"], gaps["w1_bound"])

    def _at_equal_target(self) -> None:
        """Mean error of each group at equal true values, from the target histogram.

        Within each bin of the true value, the group's mean residual; averaged over the bins
        with the whole population's share of each bin (direct standardisation), over the bins
        where the group has rows (``equal_target_support``: the population share of those bins).
        """
        tab = self._table
        if tab.hist is None or tab.edges is None or not np.all(np.isfinite(tab.edges[2])):
            return
        h = tab.hist[:, 2]  # (G, B, columns) target histogram
        pooled = h[..., 1].sum(axis=0)
        share = _safe_share(pooled)
        for feats in self.groupings:
            w = self._agg(h[None, ..., 1], feats)[0]
            r = self._agg(h[None, ..., 3], feats)[0]
            has = w > 0
            support = (share * has).sum(axis=-1)
            with np.errstate(divide="ignore", invalid="ignore"):
                mean_r = np.where(has, r / np.where(has, w, 1.0), 0.0)
                v = np.where(support > 0, (share * mean_r).sum(axis=-1) / support, np.nan)
            self.values[Key("mean_error_at_equal_target", feats, None, "group")] = v
            self.values[Key("equal_target_support", feats, None, "group")] = support

    def _row_groups(self, rows: RegressionRows) -> np.ndarray:
        """Finest group (index among the table's groups) of each row."""
        sizes = tuple(len(lv) for lv in self._table.levels)
        key_row = np.ravel_multi_index(tuple(rows.codes), sizes)
        key_g = np.ravel_multi_index(tuple(self._table.group_codes.T), sizes)
        order = np.argsort(key_g)
        return order[np.searchsorted(key_g, key_row, sorter=order)]

    def _fine_to_group(self, feats: tuple[str, ...]) -> np.ndarray:
        """Index in the grouping ``feats`` of each finest group of the table."""
        grouping = self._groupings[feats]
        idx = [self.features.index(f) for f in feats]
        sizes = tuple(len(self._table.levels[j]) for j in idx)
        key_fine = np.ravel_multi_index(tuple(self._table.group_codes[:, idx].T), sizes)
        key_g = np.ravel_multi_index(tuple(grouping.codes.T), sizes)
        order = np.argsort(key_g)
        return order[np.searchsorted(key_g, key_fine, sorter=order)]

    def _set_median(
        self, feats: tuple[str, ...], v: np.ndarray, bound: np.ndarray, o: np.ndarray
    ) -> None:
        m = "median_absolute_error"
        self.values[Key(m, feats, None, "group")] = v
        self.bounds[Key(m, feats, None, "group")] = bound
        self._put_disparities(self.values, m, feats, v[None], o[None], False)

    def _set_gaps(
        self, feats: tuple[str, ...], ks: np.ndarray, w1: np.ndarray, kb: np.ndarray,
        wb: np.ndarray,
    ) -> None:  # fmt: skip
        for name, v, b in (("prediction_ks_gap", ks, kb), ("prediction_wasserstein_gap", w1, wb)):
            self.values[Key(name, feats, None, "group")] = v
            self.bounds[Key(name, feats, None, "group")] = b
            self.values[Key(name, feats, None, "worst_case")] = np.fmax.reduce(v)

    # ---- accessors
    def _feats(self, features: str | Sequence[str]) -> tuple[str, ...]:
        f = (features,) if isinstance(features, str) else tuple(features)
        if f not in self._groupings:
            avail = ", ".join("+".join(x) for x in self.groupings)
            raise ParameterError(
                f"No grouping {'+'.join(f)!r} in this result; available: {avail}."
            )
        return f

    def _get(self, key: Key) -> np.ndarray:
        try:
            return self.values[key]
        except KeyError:
            raise ParameterError(
                f"{key.name!r} is not computed here ({key}); the median and the distribution gaps "
                "need rows or a histogram table."
            ) from None

    @property
    def n_rows(self) -> int:
        """Total number of rows."""
        return int(round(float(self._table.sums[..., 0].sum())))

    def target_std(self) -> float:
        """Weighted standard deviation of the true values (population form), from the sums."""
        s = self._table.sums.sum(axis=(0, 1))
        i = {name: k for k, name in enumerate(SUM_COLUMNS)}
        w = float(s[i["weight_sum"]])
        if not w > 0:
            return float("nan")
        dev = float(s[i["y_sum"]]) / w - self._table.y_shift
        return float(np.sqrt(max(float(s[i["y_dev_sq_sum"]]) / w - dev * dev, 0.0)))

    def groups(self, features: str | Sequence[str]) -> list[tuple[Any, ...]]:
        """Return the group labels (tuples of feature values) of a grouping, in order."""
        grouping = self._groupings[self._feats(features)]
        return _Table.group_labels(cast(Any, self._table), grouping)

    def reference_group(self, features: str | Sequence[str]) -> tuple[Any, ...]:
        """Return the reference group of a grouping (``to_reference`` disparities)."""
        f = self._feats(features)
        return self.groups(f)[self._ref[f]]

    def overall(self, metric: str) -> float:
        """Return the metric on all rows (``MetricFrame.overall``)."""
        return float(self._get(Key(metric, None, None, "overall")))

    def by_group(self, metric: str, features: str | Sequence[str]) -> Any:
        """Per-group values as a pandas Series indexed like ``MetricFrame.by_group``."""
        f = self._feats(features)
        return self._series(self._get(Key(metric, f, None, "group")), f, metric)

    def _series(self, v: np.ndarray, f: tuple[str, ...], name: str) -> Any:
        import pandas as pd

        groups = self.groups(f)
        if len(f) == 1:
            index = pd.Index([g[0] for g in groups], name=f[0])
        else:
            index = pd.MultiIndex.from_tuples(groups, names=list(f))
        return pd.Series(np.asarray(v, dtype=np.float64), index=index, name=name)

    def bound(self, metric: str, features: str | Sequence[str] | None = None) -> Any:
        """Error bound of a histogram value (0 from rows): a float overall, a Series by group."""
        if features is None:
            return float(self.bounds.get(Key(metric, None, None, "overall"), 0.0))
        f = self._feats(features)
        key = Key(metric, f, None, "group")
        return self._series(self.bounds.get(key, np.zeros(len(self.groups(f)))), f, metric)

    def difference(
        self, metric: str, features: str | Sequence[str], method: str = "between_groups"
    ) -> Any:
        """``MetricFrame.difference(method=...)``; ``"to_reference"`` gives a Series by group."""
        return self._disparity(metric, "difference", features, method)

    def ratio(
        self, metric: str, features: str | Sequence[str], method: str = "between_groups"
    ) -> Any:
        """``MetricFrame.ratio(method=...)``; ``"to_reference"`` gives a Series by group."""
        return self._disparity(metric, "ratio", features, method)

    def _disparity(
        self, metric: str, kind: str, features: str | Sequence[str], method: str
    ) -> Any:
        if method not in _METHODS:
            raise ParameterError(
                f"The 'method' parameter must be one of {', '.join(_METHODS)}. Got {method!r} "
                "instead."
            )
        f = self._feats(features)
        v = self._get(Key(f"{metric}_{kind}", f, None, method))
        return self._series(v, f, f"{metric}_{kind}") if method == "to_reference" else float(v)

    def worst_group(
        self, metric: str, features: str | Sequence[str]
    ) -> tuple[tuple[Any, ...], float]:
        """Return the worst group of a loss and its value (bounded group loss)."""
        f = self._feats(features)
        v = np.asarray(self._get(Key(metric, f, None, "group")), dtype=np.float64)
        if np.all(np.isnan(v)):
            return (), float("nan")
        i = int(np.nanargmax(v))
        return self.groups(f)[i], float(v[i])

    def distribution_gaps(self, features: str | Sequence[str]) -> Any:
        """KS and W1 between each group's predictions and the rest's, with bounds (DataFrame)."""
        import pandas as pd

        f = self._feats(features)
        cols = {}
        for name in _GAPS:
            cols[name] = self._get(Key(name, f, None, "group"))
            cols[f"{name}_bound"] = self.bounds[Key(name, f, None, "group")]
        return pd.DataFrame(cols, index=self.by_group("count", f).index)

    def to_frame(self) -> Any:
        """Every quantity as a long pandas DataFrame (one row per value)."""
        import pandas as pd

        rows: list[tuple[Any, ...]] = []
        for key, v in self.values.items():
            b = self.bounds.get(key)
            if key.features is not None and np.ndim(v) == 1:
                bb = np.zeros(len(v)) if b is None else b
                for grp, x, e in zip(self.groups(key.features), v.tolist(), bb.tolist()):
                    rows.append((key.name, key.features, grp, key.part, x, e))
            else:
                rows.append((key.name, key.features, None, key.part, float(v), float(b or 0.0)))
        return pd.DataFrame(rows, columns=["name", "features", "group", "part", "value", "bound"])

    # ---- bootstrap and tests
    def bootstrap_samples(self, n_boot: int, rng: np.random.Generator) -> dict[Key, np.ndarray]:
        """Replicates of every quantity (block Poisson bootstrap; histogram values by cells)."""
        out: dict[Key, np.ndarray] = {}
        parts: list[dict[Key, np.ndarray]] = []
        for s in block_poisson_sums(self._table.sums, n_boot, rng):
            d: dict[Key, np.ndarray] = {}
            self._fill(s, d)
            parts.append(d)
        for key in parts[0]:
            out[key] = np.concatenate([p[key] for p in parts], axis=0)
        if self._table.hist is not None and self._table.edges is not None:
            out.update(hist_replicates(self._table, self._groupings, self._ref, n_boot, rng))
        return out

    def bootstrap(
        self, n_boot: int, rng: np.random.Generator, *, level: float = 0.95, min_valid: float = 0.5
    ) -> Intervals:
        """Percentile intervals for every quantity (see the module docstring for the method)."""
        samples = self.bootstrap_samples(n_boot, rng)
        low, high = {}, {}
        for key, arr in samples.items():
            low[key], high[key] = percentile_interval(arr, level, min_valid=min_valid)
        return Intervals(low=low, high=high, n_boot=n_boot, level=level)

    def pvalues(
        self, n_boot: int, rng: np.random.Generator, *,
        samples: dict[Key, np.ndarray] | None = None, n_perm: int | None = None,
        method: str = "benjamini_hochberg",
    ) -> dict[Key, tuple[float, float]]:  # fmt: skip
        """Return raw and adjusted p-values of every disparity (see the module docstring).

        Returns
        -------
        dict of Key to (p_value, p_adjusted)
            Keys of the differences and ratios (``to_reference``: one entry per group, key
            ``Key(name, features, group index, "to_reference")``) and of the distribution gaps
            (``Key("prediction_ks_gap", features, group index, "group")``).
        """
        if method not in ("benjamini_hochberg", "holm"):
            raise ParameterError(f"method must be 'benjamini_hochberg' or 'holm'; got {method!r}.")
        boot = samples if samples is not None else self.bootstrap_samples(n_boot, rng)
        fam = Family(cast(Any, method))
        keys: dict[Key, tuple[Any, ...]] = {}
        for feats in self.groupings:
            for m in SUM_METRICS:
                if m == "count":
                    continue
                self._test_metric(m, feats, boot, fam, keys)
            if self._table.hist is not None or self.exact:
                self._test_gaps(feats, n_perm or n_boot, rng, fam, keys)
        return {
            k: (float(fam.p(h) or np.nan), float(fam.adjusted(h) or np.nan))
            for k, h in keys.items()
        }

    def _test_metric(
        self, m: str, feats: tuple[str, ...], boot: dict[Key, np.ndarray], fam: Family,
        keys: dict[Key, tuple[Any, ...]],
    ) -> None:  # fmt: skip
        v = self.values[Key(m, feats, None, "group")]
        o = self.values[Key(m, None, None, "overall")]
        dev = boot[Key(m, feats, None, "group")] - v
        odev = boot[Key(m, None, None, "overall")] - o
        stats = {
            "between_groups": (
                float(np.fmax.reduce(v) - np.fmin.reduce(v)),
                np.fmax.reduce(dev, axis=1) - np.fmin.reduce(dev, axis=1),
            ),
            "to_overall": (
                float(np.fmax.reduce(np.abs(v - o))),
                np.fmax.reduce(np.abs(dev - odev[:, None]), axis=1),
            ),
        }
        for method, (t, null) in stats.items():
            h = (m, feats, method)
            fam.add(h, permutation_pvalue(t, null))
            for kind in ("difference", "ratio"):
                keys[Key(f"{m}_{kind}", feats, None, method)] = h
        r = self._ref[feats]
        for g in range(len(v)):
            if g == r:
                continue
            hr = (m, feats, "to_reference", g)
            fam.add(hr, wald_pvalue(float(v[g] - v[r]), dev[:, g] - dev[:, r]))
            for kind in ("difference", "ratio"):
                keys[Key(f"{m}_{kind}", feats, g, "to_reference")] = hr

    def _test_gaps(
        self, feats: tuple[str, ...], n_perm: int, rng: np.random.Generator, fam: Family,
        keys: dict[Key, tuple[Any, ...]],
    ) -> None:  # fmt: skip
        tab = self._table
        if tab.hist is None or tab.edges is None:
            return
        h = tab.hist[:, 0]  # (G, B, 3) prediction histogram
        grp_w = self._agg(h[None, ..., 1], feats)[0]
        grp_n = self._agg(h[None, ..., 0], feats)[0]
        p = gap_permutation_pvalues(
            grp_w, grp_n, h[..., 1].sum(axis=0), h[..., 0].sum(axis=0), tab.edges[0], n_perm, rng
        )
        for name, k in (("prediction_ks_gap", "ks"), ("prediction_wasserstein_gap", "w1")):
            for g, pv in enumerate(p[k].tolist()):
                hyp = (name, feats, g)
                fam.add(hyp, None if np.isnan(pv) else pv)
                keys[Key(name, feats, g, "group")] = hyp

    def _value_or_nan(self, name: str, feats: tuple[str, ...], grp: tuple[Any, ...]) -> float:
        v = self.values.get(Key(name, feats, None, "group"))
        if v is None:
            return float("nan")
        return float(v[self.groups(feats).index(grp)])

    def equal_target_inference(self, level: float = 0.95) -> dict[tuple[str, ...], Any]:
        """Intervals of the mean error at equal true values, and each group against the reference.

        See :mod:`auditkit.metrics.regression_equal`; empty without a target histogram.
        """
        from .regression_equal import equal_target_inference

        return equal_target_inference(self._table, self._groupings, self._ref, level)

    # ---- plain-language facts
    def facts(self, features: str | Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Plain-language facts a card can use, as data: the signed bias of each group.

        For each group: its ``mean_error`` (mean of prediction minus true value), that error as
        a share of the group's own mean true value (``relative_error``: -0.08 is "predicted 8%
        less than their true values on average") and as a share of the overall mean true value,
        and the gap to the overall ``mean_error``. Each row's prediction is compared with that
        row's own true value, so a group's mean error is not explained by the group having
        different true values on average; it is, however, an average over the group's true
        values, and a model that shrinks towards the mean (over-predicts low values and
        under-predicts high ones) gives groups with lower true values a positive mean error for
        that reason alone. "For the same true amount" is exact only within a range of true
        values; the ``text`` says "compared with their own true values".

        The mean error **at equal true values** answers "for the same true amount": within
        each bin of the true value (the target histogram, 256 bins by default) the group's mean
        residual, averaged with the whole population's share of each bin
        (``mean_error_at_equal_target``; ``relative_error_at_equal_target`` divides it by the
        overall mean true value; ``equal_target_support`` is the share of the population in the
        bins where the group has rows, and the comparison covers only those). A model that
        shrinks towards the mean gives every group the same value here. ``text_at_equal_target``
        words it ("Compared with rows of the same true value, rows with sex=F are predicted
        1200 less on average (8.0% of the average true value).").
        """
        feats_list = self.groupings if features is None else [self._feats(features)]
        out: list[dict[str, Any]] = []
        o_err = self.overall("mean_error")
        o_t = self.overall("mean_target")
        for f in feats_list:
            me = self.values[Key("mean_error", f, None, "group")]
            mt = self.values[Key("mean_target", f, None, "group")]
            n = self.values[Key("count", f, None, "group")]
            for grp, e, t, k in zip(self.groups(f), me.tolist(), mt.tolist(), n.tolist()):
                if not k > 0 or not np.isfinite(e):
                    continue
                rel = e / t if t > 0 else float("nan")  # a share of a positive amount only
                eq = self._value_or_nan("mean_error_at_equal_target", f, grp)
                rel_eq = eq / o_t if o_t > 0 else float("nan")
                out.append({
                    "features": f, "group": grp, "count": int(k), "mean_error": e,
                    "relative_error": rel,
                    "relative_to_overall_target": e / o_t if o_t > 0 else None,
                    "gap_to_overall_mean_error": e - o_err,
                    "mean_error_at_equal_target": eq,
                    "relative_error_at_equal_target": rel_eq,
                    "equal_target_support": self._value_or_nan("equal_target_support", f, grp),
                    "text": _fact_text(f, grp, e, rel),
                    "text_at_equal_target": _fact_text(f, grp, eq, rel_eq, same=True),
                })  # fmt: skip
        return out


def wald_pvalue(d: float, null: np.ndarray) -> float | None:
    """Two-sided Wald p-value of ``d`` with the spread of its bootstrap deviations ``null``.

    None when ``d`` is undefined or fewer than half the replicates are; 1 when both the
    difference and its spread are 0.
    """
    x = np.asarray(null, dtype=np.float64)
    x = x[np.isfinite(x)]
    if not np.isfinite(d) or x.size < 2 or x.size < 0.5 * np.size(null):
        return None
    se = float(np.std(x, ddof=1))
    if not se > 0:
        return 1.0 if d == 0 else None
    return float(math.erfc(abs(d) / se / math.sqrt(2.0)))


def _safe_share(x: np.ndarray) -> np.ndarray:
    total = float(x.sum())
    return x / total if total > 0 else np.zeros_like(x)


def _fact_text(
    f: tuple[str, ...], grp: tuple[Any, ...], e: float, rel: float, *, same: bool = False
) -> str | None:
    who = ", ".join(f"{a}={b}" for a, b in zip(f, grp))
    if same:
        if not np.isfinite(e):
            return None
        word = "more" if e > 0 else "less"
        size = f"{abs(rel):.1%} of the average true value" if np.isfinite(rel) else ""
        return (
            f"Compared with rows of the same true value, rows with {who} are predicted "
            f"{abs(e):.4g} {word} on average" + (f" ({size})." if size else ".")
        )
    if e == 0:
        return f"Rows with {who} are predicted their true values on average."
    word = "more" if e > 0 else "less"
    if np.isfinite(rel):
        return (
            f"Rows with {who} are predicted {abs(rel):.1%} {word} than their own true values on "
            f"average ({abs(e):.4g} in the target's units)."
        )
    return f"Rows with {who} are predicted {abs(e):.4g} {word} than their true values on average."
