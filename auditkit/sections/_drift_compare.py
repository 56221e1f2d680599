"""One column compared between training and evaluation rows: :class:`ColumnDrift`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..metrics.evidence import holm
from ._drift_stats import (
    MISSING_LABEL,
    Bins,
    ColumnTest,
    Kind,
    category_bins,
    column_test,
    numeric_bins,
    psi_by_chance,
    psi_from_counts,
)

__all__ = ["ColumnDrift", "adjust", "compare_column"]


@dataclass(frozen=True)
class ColumnDrift:
    """One column compared between the training and the evaluation rows (of a group).

    Attributes
    ----------
    column : str
    kind : {"numeric", "categorical"}
    bins : Bins
    psi : float or None
    contributions : ndarray
        Each bin's share of the PSI.
    chance : float or None
        The PSI expected under no shift with these rows (:func:`psi_by_chance`).
    test : ColumnTest
    n_train, n_eval : int
    missing_train, missing_eval : int
        Missing values on each side.
    unseen : tuple of (str, int)
        Categories of the evaluation rows that the training rows lack, with their rows.
    feature, group : str or None
        The sensitive feature and group (None for the whole population).
    small : str or None
        Why the group is too small to judge (None when it is not).
    identifier : bool
        Whether the column looks like a direct identifier (values unique to each row): its
        values differ between any two samples, so its PSI says nothing about the population.
    p_adjusted : float or None
        The test's p-value adjusted over its family (Holm).
    """

    column: str
    kind: Kind
    bins: Bins
    psi: float | None
    contributions: np.ndarray
    chance: float | None
    test: ColumnTest
    n_train: int
    n_eval: int
    missing_train: int
    missing_eval: int
    unseen: tuple[tuple[str, int], ...] = ()
    feature: str | None = None
    group: str | None = None
    small: str | None = None
    identifier: bool = False
    p_adjusted: float | None = None

    @property
    def p_value(self) -> float | None:
        """The test's raw p-value."""
        return self.test.p_value


def _finite(x: float) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def compare_column(
    column: str, kind: Kind, train: np.ndarray, eval: np.ndarray, *, n_bins: int = 10
) -> ColumnDrift:
    """Compare one column of the training rows with the evaluation rows (PSI and test)."""
    bins = numeric_bins(train, eval, n_bins) if kind == "numeric" else category_bins(train, eval)
    psi, contrib = psi_from_counts(bins.train, bins.eval)
    if len(train) == 0 or len(eval) == 0:
        side = "training" if len(train) == 0 else "evaluation"
        test = ColumnTest(
            "kolmogorov_smirnov" if kind == "numeric" else "chi_squared", None, None,
            reason=f"no {side} rows",
        )  # fmt: skip
    else:
        test = column_test(kind, train, eval, bins)
    is_missing = bins.labels[-1:] == (MISSING_LABEL,)
    unseen = tuple(
        (lab, int(ce))
        for lab, ct, ce in zip(bins.labels, bins.train.tolist(), bins.eval.tolist())
        if kind == "categorical" and ct == 0 and ce > 0 and lab != MISSING_LABEL
    )
    return ColumnDrift(
        column=column, kind=kind, bins=bins, psi=_finite(psi), contributions=contrib,
        chance=_finite(psi_by_chance(bins)), test=test, n_train=len(train), n_eval=len(eval),
        missing_train=int(bins.train[-1]) if is_missing else 0,
        missing_eval=int(bins.eval[-1]) if is_missing else 0, unseen=unseen,
    )  # fmt: skip


def adjust(items: list[ColumnDrift]) -> list[ColumnDrift]:
    """Holm-adjust the p-values of ``items`` that are judged (small groups, identifiers out)."""
    idx = [
        i for i, c in enumerate(items)
        if c.small is None and not c.identifier and c.p_value is not None
    ]  # fmt: skip
    adj = holm(np.array([items[i].p_value for i in idx], dtype=np.float64)).tolist()
    out = list(items)
    for i, a in zip(idx, adj):
        out[i] = dataclasses.replace(items[i], p_adjusted=_finite(a))
    return out
