"""Drift section: is the evaluation data from the population the model learned from.

It runs when training data is given (``audit(model, X, y, train=(X_train, y_train))``) and
compares the inputs only (``X`` against ``X_train``), so it works the same for classifiers and
regressors; it reads no prediction. Sample weights are not used: it compares the rows as given.

Per input column (tabular inputs; images and texts are skipped with the reason):

* ``population_stability_index``: the PSI of the evaluation data against the training data,
  over the deciles of the training data (numbers) or the categories (see
  :mod:`auditkit.sections._drift_stats` for the bins, the ``1e-4`` proportion of an empty bin
  and the PSI expected from sampling alone);
* ``ks_statistic`` (numbers: the two-sample Kolmogorov-Smirnov statistic D of the present values,
  ``scipy.stats.ks_2samp``) or ``chi2_statistic`` (categories: Pearson's chi-squared statistic of
  the 2 x k table, rare categories pooled).

Both records carry the column (``input_feature``), the evaluation rows (``n``), the test's
``p_value``, ``test`` and ``p_adjusted``: Holm's adjustment over the input columns. Missing
values (NaN, None, NaT) are a bin and a category of their own; for a numeric column with missing
values the test also compares the share of missing values (Bonferroni with the KS test).

The same records per sensitive group (``feature=`` the sensitive feature, ``group=`` the group):
the group's training rows against its evaluation rows, where the sensitive values of the
training rows are known (a sensitive column of ``X_train``, or the dataset's declared ones).
The within-group family of one sensitive feature (every group large enough to judge, every
input column) is adjusted together (Holm). A group with fewer than ``min_group_size`` rows on
either side is flagged ``too_small``: its figures are reported but lead no finding.

A column that looks like a direct identifier (values unique to each row, by the privacy
section's scan) is compared but not judged (flag ``identifier``; out of the Holm family): its
values differ between any two samples.

Findings: a column whose PSI is above 0.25 with an adjusted p-value below ``drift_alpha`` is a
large shift (red), 0.1 to 0.25 with that evidence a moderate one (amber); a PSI above 0.1 that
the test cannot tell from chance (few rows) is stated as exactly that, with the PSI that
sampling alone gives; small shifts that only large samples detect are noted.

Options (:class:`DriftOptions`): ``drift_bins`` (quantile bins of numeric columns, default 10)
and ``drift_alpha`` (the adjusted p-value below which a shift has evidence; None: ``1 -
ci_level``).

The section is registered by :mod:`auditkit.sections.registry` (which imports this module), so
that every import of the sections package registers it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..exceptions import DataValidationError
from ..inputs.context import AuditContext
from ..inputs.options import SectionOptions, option, register
from ..result.records import MetricValue, SectionResult
from ._drift_compare import ColumnDrift, adjust, compare_column
from ._drift_data import column_values, frames, tabular_reason
from ._drift_stats import Kind, population_stability_index
from ._drift_story import drift_chart, drift_findings, drift_tables

__all__ = [
    "ColumnDrift",
    "DriftOptions",
    "DriftSection",
    "compare_column",
    "population_stability_index",
]

SECTION = "drift"
#: Why an identifier column is compared but not judged.
IDENTIFIER_NOTE = (
    "looks like a direct identifier (values unique to each row): its values differ between any "
    "two samples, so its PSI says nothing about the population; not judged"
)


@register
@dataclasses.dataclass(frozen=True)
class DriftOptions(SectionOptions):
    """The drift section's options (``audit(..., options={...})``)."""

    owner = "drift"

    drift_bins: int = option(
        10,
        low=2,
        high=100,
        doc="Quantile bins of the training data for a numeric column's PSI (10: deciles).",
    )
    drift_alpha: float | None = option(
        None,
        kind="float",
        low=0.0,
        high=1.0,
        nullable=True,
        doc="The Holm-adjusted p-value below which a shift has evidence (None: 1 - ci_level).",
    )


def _records(c: ColumnDrift) -> list[MetricValue]:
    common: dict[str, Any] = {
        "section": SECTION,
        "n": c.n_eval,
        "input_feature": c.column,
        "feature": None if c.feature is None else (c.feature,),
        "group": None if c.group is None else (c.group,),
        "p_value": c.test.p_value,
        "p_adjusted": c.p_adjusted,
        "test": c.test.test,
        "flags": (("too_small",) if c.small else ()) + (("identifier",) if c.identifier else ()),
    }
    ident = IDENTIFIER_NOTE if c.identifier else None
    psi_reason = c.small or ident or (None if c.psi is not None else c.test.reason or "no rows")
    return [
        MetricValue(name="population_stability_index", value=c.psi, reason=psi_reason, **common),
        MetricValue(
            name=c.test.statistic_name,
            value=c.test.statistic,
            reason=c.small or c.test.reason,
            **common,
        ),  # fmt: skip
    ]


def _groups(ctx: AuditContext) -> tuple[list[Any], str]:
    """Return the sensitive features whose groups can be compared, and a note for ``info``."""
    sens, sens_tr = ctx.sensitive, ctx.train.sensitive if ctx.train is not None else None
    if sens is None or sens.shape[1] == 0:
        return [], "no sensitive features were given, so there is no comparison within groups"
    if sens_tr is None:
        return [], (
            "not compared within groups: the sensitive values were given for the evaluation "
            "rows only (name a column of X, or the dataset's declared ones, to compare groups)"
        )
    feats = [f for f in sens.columns if f in set(sens_tr.columns)]
    return feats, (
        "each group's training rows against its evaluation rows, for "
        + ", ".join(repr(str(f)) for f in feats)
    )


def _identifiers(ev: Any, seed: int) -> set[str]:
    """Return the columns whose values are unique to each row (the privacy section's scan)."""
    from ._identifiers import scan_identifiers

    return {f.column for f in scan_identifiers(ev, seed=seed) if "unique to each row" in f.reason}


class DriftSection:
    """PSI and two-sample tests of every input column, training against evaluation data."""

    name = SECTION
    requires: tuple[str, ...] = ("train_data", "features")

    def run(self, ctx: AuditContext) -> SectionResult:
        """Compute the section (see the module docstring)."""
        assert ctx.train is not None  # ensured by ``requires``
        modality = getattr(ctx.schema, "modality", None)
        why = tabular_reason(ctx.X, modality) or tabular_reason(ctx.train.X, modality)
        if why is not None:
            return SectionResult(name=self.name, status="skipped", reason=why)
        opts = ctx.options_for(DriftOptions)
        alpha = (
            opts.drift_alpha
            if opts.drift_alpha is not None
            else round(1.0 - ctx.config.ci_level, 12)
        )
        tr, ev = frames(ctx.train.X, ctx.X, ctx.schema)
        if len(tr) == 0 or len(ev) == 0:
            raise DataValidationError("The drift section needs rows on both sides; one is empty.")
        declared = {
            f.name: f.kind for f in (getattr(ctx.schema, "features", None) or ())
        }  # fmt: skip
        cols: list[tuple[str, Kind, np.ndarray, np.ndarray]] = []
        for c in ev.columns:
            kind, a, b = column_values(tr[c], ev[c], declared.get(c))
            cols.append((c, kind, a, b))
        idents = _identifiers(ev, ctx.config.random_state)
        overall = adjust(
            [
                dataclasses.replace(
                    compare_column(c, k, a, b, n_bins=opts.drift_bins), identifier=c in idents
                )
                for c, k, a, b in cols
            ]
        )
        feats, group_note = _groups(ctx)
        within: list[ColumnDrift] = []
        for f in feats:
            within += self._within(ctx, f, cols, opts.drift_bins, idents)
        records = [r for c in overall + within for r in _records(c)]
        info = {
            "n_train": len(tr),
            "n_eval": len(ev),
            "n_columns": len(cols),
            "bins": (
                f"numbers: {opts.drift_bins} quantile bins of the training data (deciles for "
                "10), right-closed; categories: one bin each; missing values: a bin of their "
                "own; an empty bin counts as a proportion of 0.0001"
            ),
            "tests": (
                "numbers: two-sample Kolmogorov-Smirnov (with the share of missing values, "
                "Bonferroni, where there are some); categories: chi-squared, rare categories "
                f"pooled; Holm-adjusted over the input columns; evidence below {alpha:g}"
            ),
            "missing_values": "counted as their own category (a bin of their own)",
            "within_groups": group_note,
            "alpha": alpha,
        }
        return SectionResult(
            name=self.name,
            status="ok",
            metrics=tuple(records),
            tables=tuple(drift_tables(overall, within)),
            charts=tuple(c for c in (drift_chart(overall),) if c is not None),
            findings=tuple(drift_findings(overall, within, alpha=alpha, ci_level=1 - alpha)),
            info=info,
        )

    @staticmethod
    def _within(
        ctx: AuditContext, feature: Any, cols: list[tuple[str, Kind, np.ndarray, np.ndarray]],
        n_bins: int, idents: set[str],
    ) -> list[ColumnDrift]:  # fmt: skip
        """Return every input column within every group of ``feature`` (one Holm family)."""
        name = str(feature)
        assert ctx.train is not None
        s_ev = np.asarray(ctx.sensitive[feature].astype(str).to_numpy(), dtype=str)
        s_tr = np.asarray(ctx.train.sensitive[feature].astype(str).to_numpy(), dtype=str)
        groups = sorted(set(s_ev.tolist()) | set(s_tr.tolist()))
        out: list[ColumnDrift] = []
        for g in groups:
            m_tr, m_ev = s_tr == g, s_ev == g
            n_tr, n_ev = int(m_tr.sum()), int(m_ev.sum())
            small = None
            if min(n_tr, n_ev) < ctx.config.min_group_size:
                small = (
                    f"{n_tr} training and {n_ev} evaluation rows, fewer than "
                    f"min_group_size={ctx.config.min_group_size} on one side"
                )
            for c, kind, a, b in cols:
                if c == name:
                    continue  # the column that defines the groups
                cd = compare_column(c, kind, a[m_tr], b[m_ev], n_bins=n_bins)
                out.append(
                    dataclasses.replace(
                        cd, feature=name, group=g, small=small, identifier=c in idents
                    )
                )
        return adjust(out)
