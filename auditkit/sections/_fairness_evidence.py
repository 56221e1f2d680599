"""Reference groups, to-reference records and the evidence behind every fairness disparity.

* **Reference groups.** Each grouping (a feature or an intersection) has a reference group:
  ``AuditConfig.reference_groups[feature]`` when given (for an intersection: the tuple of its
  features' references when every feature has one and that combination has rows), otherwise
  the largest group (first in order on a tie).
* **to_reference records.** ``<rate>_difference`` (signed: rate of the group minus rate of
  the reference) and ``<rate>_ratio`` (group over reference) with ``method="to_reference"``
  and ``group=[g...]`` for every non-reference group with rows, for every group rate the
  engine computes (binary: the confusion-cell rates of :data:`._metrics.RATE_METRICS`;
  multiclass: accuracy and the one-vs-rest rates per class). Intervals: Newcombe's hybrid
  score interval for the signed difference (it covers at the nominal rate, also at 0 and
  for small groups, and needs no resampling); bootstrap percentile over the engine's
  cell-count resamples for the ratio.
* **p-values.** to_reference: Fisher's exact test of the two proportions
  (:func:`._evidence.fisher_exact`). between_groups / to_overall: a permutation test of the
  record's own statistic, with the successes of the rate multivariate-hypergeometric across
  groups given the totals (:func:`._evidence.null_successes`); for equalized odds the true
  and false positive rates are drawn within their true-label strata. The p-values of all
  disparity records, and of the four-fifths tests of the findings, form one family adjusted
  with Benjamini-Hochberg (a hypothesis tested by several records, such as the difference
  and the ratio of one pair, counts once).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..exceptions import ParameterError
from ..metrics.definitions import RATE_METRICS
from ..metrics.engine import GroupMetrics, Intervals, Key
from ..metrics.evidence import (
    Family,
    fisher_exact,
    newcombe_interval,
    null_successes,
    permutation_pvalue,
    rates_from_successes,
)
from ..metrics.stats import percentile_interval
from ..result.records import MetricValue

__all__ = [
    "DEFAULT_PERMUTATIONS",
    "Comparison",
    "Evidence",
    "FourFifths",
    "Reference",
    "bootstrap",
    "resolve_references",
]

SECTION = "fairness"
#: Permutations per grouping for between_groups / to_overall p-values.
DEFAULT_PERMUTATIONS = 2000
#: Draws x groups per null distribution; larger groupings get fewer permutations (>= 200).
_PERM_BUDGET = 200_000
#: Rows x permutations of the ROC AUC permutation tests (above it: fewer permutations, >= 200,
#: then a random subsample of the rows).
_AUC_BUDGET = 1_000_000
_AUC_MIN_PERM = 200
#: Rows x permutations computed at once (memory).
_AUC_BATCH = 1_000_000
_MULTICLASS_RATES = ("selection_rate", "true_positive_rate", "false_positive_rate")
#: Disparities named after something other than their rate.
_ALIASES = {"demographic_parity": "selection_rate", "equal_opportunity": "true_positive_rate"}
_PAIR_STRATIFIED = ("equalized_odds", "average_odds")
#: ``MetricValue.test`` values (the card's glossary explains "fisher_exact" and "permutation";
#: which permutation scheme each record uses is in the section's ``info["evidence"]``).
TEST_FISHER = "fisher_exact"
TEST_PERMUTATION = "permutation"
TEST_PERMUTATION_STRATA = "permutation"


def _spec() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    return {
        m.name: (frozenset(m.numerator or ()), frozenset(m.denominator or ()))
        for m in RATE_METRICS
    }


def _complements() -> dict[str, str]:
    """Rate -> the rate it is one minus (same denominator, complementary numerator)."""
    spec = _spec()
    out: dict[str, str] = {}
    for a, (na, da) in spec.items():
        for b, (nb, db) in spec.items():
            if a != b and da == db and not (na & nb) and (na | nb) == da:
                out[a] = b
    return out


def _canonical(metric: str) -> str:
    """One name for a rate and its complement (they test the same hypothesis)."""
    comp = _complements().get(metric)
    return min(metric, comp) if comp else metric


# ------------------------------------------------------------------------------- bootstrap
def bootstrap(
    gm: GroupMetrics, n_boot: int, rng: np.random.Generator, level: float
) -> tuple[Intervals, dict[Key, np.ndarray]]:
    """``gm.bootstrap(...)`` that also returns the resamples (same random stream, same bounds)."""
    samples = gm.bootstrap_samples(n_boot, rng)
    low, high = {}, {}
    for key, arr in samples.items():
        lo, hi = percentile_interval(arr, level)
        low[key], high[key] = lo, hi
    return Intervals(low=low, high=high, n_boot=n_boot, level=level), samples


# ---------------------------------------------------------------------------- references
@dataclass(frozen=True)
class Reference:
    """The reference group of one grouping."""

    features: tuple[str, ...]
    index: int
    group: tuple[str, ...]
    how: str


def resolve_references(
    gm: GroupMetrics, given: Mapping[str, str]
) -> dict[tuple[str, ...], Reference]:
    """Return the reference group of every grouping (see the module docstring)."""
    for feat in given:
        if feat not in gm.features:
            raise ParameterError(
                f"reference_groups names {feat!r}, which is not a sensitive feature; the "
                f"sensitive features are: {', '.join(map(str, gm.features))}."
            )
    out: dict[tuple[str, ...], Reference] = {}
    for feats in gm.groupings:
        groups = [tuple(str(v) for v in g) for g in gm.groups(feats)]
        n = gm.counts(feats)
        largest = int(np.argmax(n))
        if len(feats) == 1 and feats[0] in given:
            want: tuple[str, ...] = (str(given[feats[0]]),)
            if want not in groups or n[groups.index(want)] == 0:
                have = ", ".join(g[0] for g, k in zip(groups, n) if k > 0)
                raise ParameterError(
                    f"reference_groups[{feats[0]!r}] = {want[0]!r} is not a group of "
                    f"{feats[0]!r} with rows; its groups are: {have}."
                )
            i = groups.index(want)
            out[feats] = Reference(feats, i, want, "given in reference_groups")
            continue
        if len(feats) > 1 and all(f in given for f in feats):
            want = tuple(str(given[f]) for f in feats)
            if want in groups and n[groups.index(want)] > 0:
                i = groups.index(want)
                out[feats] = Reference(
                    feats, i, want, "the combination of the features' reference_groups"
                )
                continue
            how = (
                f"largest group ({int(n[largest])} rows; the combination of the features' "
                "reference groups has no rows)"
            )
        else:
            how = f"largest group ({int(n[largest])} rows)"
        out[feats] = Reference(feats, largest, groups[largest], how)
    return out


# ------------------------------------------------------------------------------ rate data
@dataclass
class _Rate:
    """Successes, trials and rows per group of one rate, and its overall value."""

    k: np.ndarray
    n: np.ndarray
    rows: np.ndarray
    overall: float

    @property
    def values(self) -> np.ndarray:
        return rates_from_successes(self.k, self.n, self.rows)


def _rate_data(gm: GroupMetrics, feats: tuple[str, ...], metric: str, label: int | None) -> _Rate:
    key = Key(metric, feats, label, "group")
    vals = np.asarray(gm.values[key], dtype=np.float64)
    lab = None if label is None else gm.classes[label]
    den = np.asarray(gm.denominator(metric, feats, lab), dtype=np.float64)
    rows = gm.counts(feats)
    k = np.where(den > 0, np.rint(np.nan_to_num(vals) * den), 0.0)
    n = np.rint(den)
    tot_n = float(n.sum())
    return _Rate(k=k, n=n, rows=rows, overall=float(k.sum() / tot_n) if tot_n > 0 else 0.0)


def _proportion_names(gm: GroupMetrics) -> list[tuple[str, int | None]]:
    """Return the proportions the engine provides per group (name, class index)."""
    if gm.is_binary:
        spec = _spec()
        return [(m, None) for m in spec if Key(m, gm.groupings[0], None, "group") in gm.values]
    names: list[tuple[str, int | None]] = [("accuracy", None)]
    for ci in range(len(gm.classes)):
        names += [(m, ci) for m in _MULTICLASS_RATES]
    return names


# ---------------------------------------------------------------------- disparity statistics
def _between(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fairlearn's between_groups difference and ratio over axis 0 (the groups)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.fmax.reduce(v, axis=0)
        mn = np.fmin.reduce(v, axis=0)
        return mx - mn, np.where(mx != 0, mn / np.where(mx != 0, mx, 1.0), np.nan)


def _to_overall(v: np.ndarray, o: float) -> tuple[np.ndarray, np.ndarray]:
    """Fairlearn's to_overall difference and ratio over axis 0 (the groups)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.fmax.reduce(np.abs(v - o), axis=0)
        r = v / o if o != 0 else np.full(v.shape, np.nan)
        r = np.where(r > 1, 1.0 / r, r)
        return d, np.fmin.reduce(r, axis=0)


def _nanmean(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Element-wise mean ignoring NaN (NaN where every value is NaN), without warnings."""
    a = np.stack(arrays)
    ok = np.isfinite(a)
    k = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(k > 0, np.where(ok, a, 0.0).sum(axis=0) / np.maximum(k, 1), np.nan)


def _stat(v: np.ndarray, o: float, part: str, kind: str) -> np.ndarray:
    """Statistic of rates ``v`` of shape (G,) or (G, B) (groups first: faster reductions)."""
    d, r = _between(v) if part == "between_groups" else _to_overall(v, o)
    return d if kind == "difference" else r


@dataclass
class Comparison:
    """A group against the reference group on one rate (the data behind two records)."""

    features: tuple[str, ...]
    metric: str
    label: int | None
    index: int
    ref: int
    value: float
    ref_value: float
    diff_ci: tuple[float, float] | None
    ratio_ci: tuple[float, float] | None
    p: float | None
    test: str | None
    key: Hashable
    rows: int
    ref_rows: int
    #: Indices of the two groups (of ``index`` and ``ref``) flagged too_small for this rate.
    small: list[int] = field(default_factory=list)

    @property
    def diff(self) -> float:
        return self.value - self.ref_value

    @property
    def ratio(self) -> float:
        return self.value / self.ref_value if self.ref_value != 0 else float("nan")


@dataclass
class FourFifths:
    """The four-fifths rule on one grouping (favourable outcome, judgeable groups)."""

    features: tuple[str, ...]
    lo: int
    hi: int
    low: float
    high: float
    ratio: float
    ci: tuple[float, float] | None
    p: float | None
    key: Hashable


def _ci(low: np.ndarray, high: np.ndarray, i: int) -> tuple[float, float] | None:
    a, b = float(low[i]), float(high[i])
    return (a, b) if np.isfinite(a) and np.isfinite(b) else None


class Evidence:
    """Tests every disparity of a :class:`GroupMetrics`, builds to_reference records, adjusts.

    Parameters
    ----------
    gm : GroupMetrics
    references : dict
        From :func:`resolve_references`.
    samples : dict of Key to ndarray or None
        Bootstrap resamples (None: no intervals).
    rng : numpy.random.Generator
        For the permutations.
    level : float
        Confidence level of the intervals.
    n_permutations : int
    """

    def __init__(
        self, gm: GroupMetrics, references: Mapping[tuple[str, ...], Reference],
        samples: Mapping[Key, np.ndarray] | None, rng: np.random.Generator, level: float,
        n_permutations: int = DEFAULT_PERMUTATIONS, min_size: int = 0,
    ) -> None:  # fmt: skip
        self.min_size = int(min_size)
        self.gm = gm
        self.refs = references
        self.samples = samples
        self.rng = rng
        self.level = level
        self.n_permutations = int(n_permutations)
        self.family = Family("benjamini_hochberg")
        self._rates: dict[tuple[tuple[str, ...], str, int | None], _Rate] = {}
        self._null: dict[tuple[tuple[str, ...], str, int | None], np.ndarray] = {}
        self._nstat: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._record_p: dict[tuple[Any, ...], tuple[Hashable, float | None, str | None]] = {}
        self.comparisons: dict[tuple[str, ...], list[Comparison]] = {}
        self.draws_used: dict[tuple[str, ...], int] = {}
        self._score_null: dict[Any, tuple[np.ndarray, float, np.ndarray] | None] = {}
        #: groupings whose ROC AUC test ran on a subsample of this many rows
        self.auc_subsample: dict[tuple[str, ...], int] = {}
        #: permutations of the ROC AUC tests per grouping
        self.auc_permutations: dict[tuple[str, ...], int] = {}

    # ---- data
    def rate(self, feats: tuple[str, ...], metric: str, label: int | None) -> _Rate:
        k = (feats, metric, label)
        if k not in self._rates:
            self._rates[k] = _rate_data(self.gm, feats, metric, label)
        return self._rates[k]

    def _draws(self, feats: tuple[str, ...]) -> int:
        g = max(len(self.gm.counts(feats)), 1)
        b = max(200, min(self.n_permutations, _PERM_BUDGET // g))
        b = min(b, self.n_permutations)
        self.draws_used[feats] = b
        return b

    def null_rates(self, feats: tuple[str, ...], metric: str, label: int | None) -> np.ndarray:
        """Rates per group under "equal in every group", shape (G, B) (complements shared)."""
        k = (feats, metric, label)
        if k in self._null:
            return self._null[k]
        comp = _complements().get(metric) if label is None else None
        r = self.rate(feats, metric, label)
        if comp is not None and (feats, comp, label) in self._null:
            other = self._null[(feats, comp, label)]
            out = np.where(r.n[:, None] > 0, 1.0 - other, 0.0)
            out = np.where(r.rows[:, None] > 0, out, np.nan)
        else:
            draws = null_successes(r.k, r.n, self._draws(feats), self.rng)
            out = rates_from_successes(
                np.ascontiguousarray(draws.T), r.n[:, None], r.rows[:, None]
            )
        self._null[k] = out
        return out

    def null_stat(
        self, feats: tuple[str, ...], metric: str, label: int | None, part: str, kind: str
    ) -> np.ndarray:
        """Return the permutation distribution of a between_groups / to_overall statistic."""
        k = (feats, metric, label, part)
        if k not in self._nstat:
            v = self.null_rates(feats, metric, label)
            o = self.rate(feats, metric, label).overall
            self._nstat[k] = _between(v) if part == "between_groups" else _to_overall(v, o)
        d, r = self._nstat[k]
        return d if kind == "difference" else r

    # ---- between_groups / to_overall
    def _disparity_p(self, key: Key) -> tuple[Hashable, float | None, str | None]:
        feats = key.features
        assert feats is not None
        base, _, kind = key.name.rpartition("_")
        base = _ALIASES.get(base, base)
        part = key.part
        if base in _PAIR_STRATIFIED:
            if not self.gm.is_binary:
                return (key, None, None)
            tpr = self.rate(feats, "true_positive_rate", None)
            fpr = self.rate(feats, "false_positive_rate", None)

            mean = base == "average_odds" or getattr(key, "agg", None) == "mean"

            def combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
                if mean:
                    return (a + b) / 2.0
                if kind == "difference":
                    return np.where(b > a, b, a)
                return np.where(b < a, b, a)

            obs_t = combine(
                _stat(tpr.values, tpr.overall, part, kind),
                _stat(fpr.values, fpr.overall, part, kind),
            )
            null = combine(
                self.null_stat(feats, "true_positive_rate", None, part, kind),
                self.null_stat(feats, "false_positive_rate", None, part, kind),
            )
            p = permutation_pvalue(float(obs_t), null, larger_is_extreme=kind == "difference")
            return ((feats, key.label, part, kind, base), p, TEST_PERMUTATION_STRATA)
        if base == "balanced_accuracy":
            obs_v, null_v, o = self.balanced_accuracy(feats)
            p = permutation_pvalue(
                float(_stat(obs_v, o, part, kind)), _stat(null_v, o, part, kind),
                larger_is_extreme=kind == "difference",
            )  # fmt: skip
            return ((feats, key.label, part, kind, base), p, TEST_PERMUTATION_STRATA)
        if base in ("roc_auc", "expected_calibration_error"):
            got = self.score_null(feats, base)
            if got is None:
                return (key, None, None)
            obs_v, o, null_v = got
            p = permutation_pvalue(
                float(_stat(obs_v, o, part, kind)), _stat(null_v, o, part, kind),
                larger_is_extreme=kind == "difference",
            )  # fmt: skip
            return ((feats, key.label, part, kind, base), p, TEST_PERMUTATION)
        names = {m for m, _ in _proportion_names(self.gm)}
        if base not in names:
            return (key, None, None)
        r = self.rate(feats, base, key.label)
        obs = float(_stat(r.values, r.overall, part, kind))
        null = self.null_stat(feats, base, key.label, part, kind)
        p = permutation_pvalue(obs, null, larger_is_extreme=kind == "difference")
        hyp = _canonical(base) if kind == "difference" and key.label is None else base
        return ((feats, key.label, part, kind, hyp), p, TEST_PERMUTATION)

    def balanced_accuracy(self, feats: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, float]:
        """Balanced accuracy per group, its null draws (G, B) and its overall value.

        The mean recall over the classes a group has rows of (scikit-learn drops a 0/0
        recall); under the null, each class's correct decisions are drawn within that class
        (true-label strata), independently across classes.
        """
        parts = (
            [("true_positive_rate", None), ("true_negative_rate", None)]
            if self.gm.is_binary
            else [("true_positive_rate", c) for c in range(len(self.gm.classes))]
        )
        obs, null, overall = [], [], []
        for metric, label in parts:
            r = self.rate(feats, metric, label)
            has = (r.n > 0) & (r.rows > 0)
            obs.append(np.where(has, r.values, np.nan))
            null.append(np.where(has[:, None], self.null_rates(feats, metric, label), np.nan))
            if r.n.sum() > 0:
                overall.append(r.overall)
        return _nanmean(obs), _nanmean(null), float(np.mean(overall)) if overall else np.nan

    def score_null(
        self, feats: tuple[str, ...], base: str
    ) -> tuple[np.ndarray, float, np.ndarray] | None:
        """Per-group ROC AUC or ECE, its overall value and its permutation draws (G, B).

        ROC AUC (rows): the group labels are permuted over the rows (each row keeps its
        score, label and weight) and every group's AUC is recomputed exactly (midranks for
        ties, as scikit-learn). At most :data:`_AUC_BUDGET` rows x permutations: above it the
        test runs on a simple random subsample of the rows (drawn independently of the
        labels, so still a valid test; the observed statistic is then that of the subsample).

        ECE (count table): permuting the rows among the groups draws each group's rows of
        every (true label, score bin) cell from a multivariate hypergeometric given the
        group sizes and the cell totals; a drawn row carries its cell's mean score (and mean
        weight when weighted): an approximation of the within-cell score sums, used for the
        observed statistic too, so the test is an exact permutation test of that statistic.
        """
        k = (feats, base)
        if k not in self._score_null:
            self._score_null[k] = (
                self._auc_null(feats) if base == "roc_auc" else self._ece_null(feats)
            )
        return self._score_null[k]

    def _auc_null(self, feats: tuple[str, ...]) -> tuple[np.ndarray, float, np.ndarray] | None:
        from ..metrics.engine import _group_auc

        rows = getattr(self.gm, "auc_rows", None)
        if rows is None or feats not in rows[3]:
            return None
        tie, wp, wn, gids = rows
        gid = gids[feats]
        g = len(self.gm.counts(feats))
        n = gid.size
        b = self._draws(feats)
        if n * b > _AUC_BUDGET:
            b = min(b, max(_AUC_MIN_PERM, _AUC_BUDGET // max(n, 1)))
        m = min(n, max(_AUC_BUDGET // b, 1))
        self.auc_permutations[feats] = b
        if m < n:
            idx = np.sort(self.rng.choice(n, size=m, replace=False))
            tie, wp, wn, gid = tie[idx], wp[idx], wn[idx], gid[idx]
            self.auc_subsample[feats] = m
        obs = _group_auc(gid, tie, wp, wn, g)
        o = float(_group_auc(np.zeros(m, dtype=np.int64), tie, wp, wn, 1)[0])
        per = max(1, _AUC_BATCH // max(m, 1))
        null = np.empty((g, b))
        for s0 in range(0, b, per):
            bs = min(per, b - s0)
            perm = self.rng.permuted(np.tile(gid, (bs, 1)), axis=1)
            key = (perm + g * np.arange(bs)[:, None]).ravel()
            v = _group_auc(key, np.tile(tie, bs), np.tile(wp, bs), np.tile(wn, bs), bs * g)
            null[:, s0 : s0 + bs] = v.reshape(bs, g).T
        return obs, o, null

    def _ece_null(self, feats: tuple[str, ...]) -> tuple[np.ndarray, float, np.ndarray] | None:
        gm = self.gm
        tab = gm._table
        if not gm.is_binary or tab.score_sum is None or tab.pos is None:
            return None
        grouping = gm._groupings[feats]
        nb = tab.n_bins

        def cells(x: np.ndarray) -> np.ndarray:  # (G, 2, B): (not positive, positive) x bin
            pos = x[:, tab.pos].sum(axis=1)
            return np.stack([x.sum(axis=(1, 2)) - pos, pos], axis=1)

        def agg(x: np.ndarray) -> np.ndarray:
            c = cells(x.astype(np.float64)).reshape(1, x.shape[0], 2 * nb)
            return grouping.aggregate(c)[0]

        cnt = np.rint(agg(tab.counts)).astype(np.int64)  # (G, C)
        tot = cnt.sum(axis=0)
        safe = np.maximum(tot, 1)
        ms = agg(tab.score_sum).sum(axis=0) / safe  # mean (weighted) score per cell and row
        mw = np.ones(tot.shape) if tab.weight_sum is None else agg(tab.weight_sum).sum(0) / safe
        posw = mw * np.r_[np.zeros(nb), np.ones(nb)]

        def ece(x: np.ndarray) -> np.ndarray:  # x (..., C) counts -> ECE
            s_bin = (x * ms).reshape(*x.shape[:-1], 2, nb).sum(axis=-2)
            p_bin = (x * posw).reshape(*x.shape[:-1], 2, nb).sum(axis=-2)
            nw = (x * mw).sum(axis=-1)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(nw > 0, np.abs(s_bin - p_bin).sum(axis=-1) / nw, np.nan)

        obs = ece(cnt)
        o = float(ece(tot))
        b = self._draws(feats)
        sizes = cnt.sum(axis=1)
        live = np.flatnonzero(tot)
        draws = np.zeros((b, cnt.shape[0], tot.size), dtype=np.int64)
        pool = np.tile(tot[live], (b, 1))
        groups = np.flatnonzero(sizes)
        for gi in groups[:-1]:
            need = np.full(b, sizes[gi], dtype=np.int64)
            rest = pool.sum(axis=1)
            for j in range(live.size):
                rest = rest - pool[:, j]
                x = self.rng.hypergeometric(pool[:, j], rest, need) if j < live.size - 1 else need
                draws[:, gi, live[j]] = x
                pool[:, j] -= x
                need = need - x
        if groups.size:
            draws[:, groups[-1], live] = pool
        return obs, o, np.ascontiguousarray(ece(draws).T)

    def test_disparities(self) -> None:
        """p-values of every between_groups / to_overall quantity of the engine."""
        for key in self.gm.values:
            if key.part not in ("between_groups", "to_overall") or key.features is None:
                continue
            hyp, p, test = self._disparity_p(key)
            agg = getattr(key, "agg", None)
            self._record_p[(key.name, key.features, key.label, key.part, agg)] = (hyp, p, test)
            self.family.add(hyp, p)

    # ---- to_reference
    def compare_to_reference(
        self, reasons: Mapping[tuple[str, ...], Mapping[Any, list[Any]]]
    ) -> None:
        """Comparisons of every non-reference group with rows against the reference group.

        All the Fisher tests of the section run in one vectorised call; a rate and its
        complement (same table, columns swapped) share one test.
        """
        gm = self.gm
        todo: dict[Hashable, tuple[float, float, float, float]] = {}
        for feats in gm.groupings:
            ref = self.refs[feats].index
            rows = gm.counts(feats)
            out: list[Comparison] = []
            others = np.flatnonzero((rows > 0) & (np.arange(len(rows)) != ref))
            for metric, label in _proportion_names(gm) if others.size else []:
                r = self.rate(feats, metric, label)
                vals = np.asarray(gm.values[Key(metric, feats, label, "group")], dtype=np.float64)
                q_lo = q_hi = None
                d_lo, d_hi = newcombe_interval(
                    r.k[others], r.n[others], r.k[ref], r.n[ref], self.level
                )
                if self.samples is not None:
                    s = self.samples[Key(metric, feats, label, "group")]
                    with np.errstate(divide="ignore", invalid="ignore"):
                        sq = np.where(s[:, [ref]] > 0, s[:, others] / s[:, [ref]], np.nan)
                    q_lo, q_hi = percentile_interval(sq, self.level)
                why = reasons.get(feats, {}).get((metric, label))
                canon = _canonical(metric) if label is None else metric
                for j, i in enumerate(others.tolist()):
                    small = [] if why is None else [x for x in (i, ref) if why[x]]
                    hyp = ("to_reference", feats, label, canon, i)
                    if metric == canon:
                        todo[hyp] = (r.k[i], r.n[i], r.k[ref], r.n[ref])
                    out.append(
                        Comparison(
                            features=feats, metric=metric, label=label, index=i, ref=ref,
                            value=float(vals[i]), ref_value=float(vals[ref]),
                            diff_ci=_ci(d_lo, d_hi, j),
                            ratio_ci=None if q_lo is None or q_hi is None else _ci(q_lo, q_hi, j),
                            p=None, test=TEST_FISHER, key=hyp, rows=int(rows[i]),
                            ref_rows=int(rows[ref]), small=small,
                        )
                    )  # fmt: skip
            if others.size and Key("balanced_accuracy", feats, None, "group") in gm.values:
                out += self._balanced_to_reference(feats, others, ref, rows)
            self.comparisons[feats] = out
        if not todo:
            for comps in self.comparisons.values():
                for c in comps:
                    self.family.add(c.key, c.p)
            return
        k1, n1, k2, n2 = (np.asarray(x, dtype=np.float64) for x in zip(*todo.values()))
        pvals = dict(zip(todo, fisher_exact(k1, n1, k2, n2).tolist()))
        for comps in self.comparisons.values():
            for c in comps:
                if c.test == TEST_FISHER:
                    c.p = pvals.get(c.key)
                self.family.add(c.key, c.p)

    def _balanced_to_reference(
        self, feats: tuple[str, ...], others: np.ndarray, ref: int, rows: np.ndarray
    ) -> list[Comparison]:
        """Balanced accuracy of each group against the reference group.

        p-value: Monte Carlo test with the correct decisions of each true-label stratum
        redrawn between the two groups (hypergeometric given the pair's total); interval:
        bootstrap percentile of the signed difference (and of the ratio).
        """
        parts = (
            [("true_positive_rate", None), ("true_negative_rate", None)]
            if self.gm.is_binary
            else [("true_positive_rate", c) for c in range(len(self.gm.classes))]
        )
        b = self._draws(feats)
        obs_g, obs_r, null_g, null_r = [], [], [], []
        for metric, label in parts:
            r = self.rate(feats, metric, label)
            ng, nr = r.n[others].astype(np.int64), np.full(others.size, int(r.n[ref]))
            kg, kr = r.k[others].astype(np.int64), np.full(others.size, int(r.k[ref]))
            draw = self.rng.hypergeometric(ng, nr, kg + kr, size=(b, others.size))
            with np.errstate(invalid="ignore", divide="ignore"):
                obs_g.append(np.where(ng > 0, kg / np.maximum(ng, 1), np.nan))
                obs_r.append(np.where(nr > 0, kr / np.maximum(nr, 1), np.nan))
                null_g.append(np.where(ng > 0, draw / np.maximum(ng, 1), np.nan))
                null_r.append(np.where(nr > 0, (kg + kr - draw) / np.maximum(nr, 1), np.nan))
        t_obs = np.abs(_nanmean(obs_g) - _nanmean(obs_r))
        t_null = np.abs(_nanmean(null_g) - _nanmean(null_r))
        vals = np.asarray(self.gm.values[Key("balanced_accuracy", feats, None, "group")])
        d_lo = d_hi = q_lo = q_hi = None
        if self.samples is not None:
            s = self.samples[Key("balanced_accuracy", feats, None, "group")]
            d_lo, d_hi = percentile_interval(s[:, others] - s[:, [ref]], self.level)
            with np.errstate(divide="ignore", invalid="ignore"):
                sq = np.where(s[:, [ref]] > 0, s[:, others] / s[:, [ref]], np.nan)
            q_lo, q_hi = percentile_interval(sq, self.level)
        out = []
        for j, i in enumerate(others.tolist()):
            p = permutation_pvalue(float(t_obs[j]), t_null[:, j])
            hyp = ("to_reference", feats, None, "balanced_accuracy", i)
            out.append(
                Comparison(
                    features=feats, metric="balanced_accuracy", label=None, index=i, ref=ref,
                    value=float(vals[i]), ref_value=float(vals[ref]),
                    diff_ci=None if d_lo is None or d_hi is None else _ci(d_lo, d_hi, j),
                    ratio_ci=None if q_lo is None or q_hi is None else _ci(q_lo, q_hi, j),
                    p=p, test=TEST_PERMUTATION_STRATA, key=hyp, rows=int(rows[i]),
                    ref_rows=int(rows[ref]),
                    small=[x for x in (i, ref) if rows[x] < self.min_size],
                )
            )  # fmt: skip
        return out

    # ---- four-fifths rule on the favourable outcome
    def four_fifths(
        self, feats: tuple[str, ...], judgeable: np.ndarray, favourable_is_positive: bool
    ) -> FourFifths | None:
        """Impact ratio of the favourable outcome among the judgeable groups, with evidence.

        The favourable selection rate is the selection rate, or ``1 - selection_rate`` when
        the favourable outcome is the negative class. ``ratio`` = lowest / highest among the
        ``judgeable`` groups; the p-value is Fisher's exact test of those two groups times the
        number of pairs of judgeable groups (Bonferroni for having picked the extreme pair,
        so it holds whichever pair is shown); the interval is the bootstrap percentile
        interval of the same two groups' ratio.
        """
        r = self.rate(feats, "selection_rate", None)
        j = np.flatnonzero(np.asarray(judgeable, dtype=bool) & (r.rows > 0))
        if j.size < 2:
            return None
        fav = r.values if favourable_is_positive else np.where(r.n > 0, 1.0 - r.values, 0.0)
        lo = int(j[np.argmin(fav[j])])
        hi = int(j[np.argmax(fav[j])])
        ratio = float(fav[lo] / fav[hi]) if fav[hi] > 0 else float("nan")
        ci = None
        if self.samples is not None and np.isfinite(ratio):
            s = self.samples[Key("selection_rate", feats, None, "group")]
            fs = s if favourable_is_positive else 1.0 - s
            with np.errstate(divide="ignore", invalid="ignore"):
                q = np.where(fs[:, hi] > 0, fs[:, lo] / fs[:, hi], np.nan)
            a, b = percentile_interval(q, self.level)
            ci = (float(a), float(b)) if np.isfinite(a) and np.isfinite(b) else None
        p = None
        if np.isfinite(ratio):
            k_fav = r.k if favourable_is_positive else r.n - r.k
            pairs = j.size * (j.size - 1) // 2
            p = min(1.0, float(fisher_exact(k_fav[lo], r.n[lo], k_fav[hi], r.n[hi])) * pairs)
        key = ("four_fifths", feats, favourable_is_positive)
        self.family.add(key, p)
        return FourFifths(feats, lo, hi, float(fav[lo]), float(fav[hi]), ratio, ci, p, key)

    # ---- records
    def to_reference_records(self, classes: Sequence[str]) -> list[MetricValue]:
        """Return the ``method="to_reference"`` records (after :meth:`compare_to_reference`)."""
        out: list[MetricValue] = []
        for feats, comps in self.comparisons.items():
            groups = [tuple(str(v) for v in g) for g in self.gm.groups(feats)]
            ref = self.refs[feats]
            for c in comps:
                label = None if c.label is None else classes[c.label]
                flags: tuple[str, ...] = ()
                reason = None
                if c.small:
                    flags = ("small_groups",)
                    who = ", ".join("/".join(groups[x]) for x in c.small)
                    reason = f"includes groups flagged too_small: {who}"
                common = dict(
                    section=SECTION, feature=feats, group=groups[c.index], n=c.rows + c.ref_rows,
                    label=label, method="to_reference", flags=flags, p_value=c.p,
                    p_adjusted=self.family.adjusted(c.key), test=c.test,
                )  # fmt: skip
                out.append(
                    MetricValue(
                        name=f"{c.metric}_difference", value=c.diff, ci=c.diff_ci,
                        reason=reason, **common,  # type: ignore[arg-type]
                    )
                )  # fmt: skip
                r_reason = reason
                if not np.isfinite(c.ratio):
                    r_reason = (
                        f"undefined: the reference group {'/'.join(ref.group)} has a "
                        f"{c.metric.replace('_', ' ')} of 0"
                    )
                out.append(
                    MetricValue(
                        name=f"{c.metric}_ratio", value=c.ratio, ci=c.ratio_ci,
                        reason=r_reason, **common,  # type: ignore[arg-type]
                    )
                )  # fmt: skip
        return out

    def annotate(
        self, records: Sequence[MetricValue], classes: Sequence[str]
    ) -> list[MetricValue]:
        """Give the engine's between_groups / to_overall records their p-values."""
        by_label = {name: i for i, name in enumerate(classes)}
        out = []
        for m in records:
            if m.method in ("between_groups", "to_overall") and m.feature is not None:
                lab = None if m.label is None else by_label.get(m.label)
                got = self._record_p.get((m.name, m.feature, lab, m.method, m.agg))
                if got is not None and got[1] is not None:
                    hyp, p, test = got
                    m = replace(m, p_value=p, p_adjusted=self.family.adjusted(hyp), test=test)
            out.append(m)
        return out
