"""The drift section's findings and tables, in plain language.

The rule (one for the whole population and for each group large enough to judge): a column whose
PSI is above 0.25 *and* whose Holm-adjusted p-value is below ``alpha`` shifted a lot (``fail``);
a PSI from 0.1 to 0.25 with that evidence is a moderate shift (``warn``); a PSI of 0.1 or more
without it is said to be indistinguishable from chance with these rows, next to the PSI that
sampling alone gives (``info``); differences the tests detect under a PSI of 0.1 are small shifts
that large samples make visible (``info``). Groups too small to judge lead no finding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._core.catalog import evidence_word
from ..result.records import Chart, Finding, Severity, Table
from ._drift_compare import ColumnDrift
from ._drift_stats import MISSING_LABEL, PSI_LARGE, PSI_MODERATE, shift_word

__all__ = ["drift_chart", "drift_findings", "drift_tables"]

SECTION = "drift"
_METRIC = "drift.population_stability_index"
#: Columns named one by one in findings; the rest are counted.
_LISTED = 10
_TEST_WORDS = {
    "chi_squared": "chi-squared",
    "kolmogorov_smirnov_and_missing_share": "KS and missing-share",
}
_TABLE_TESTS = {
    "chi_squared": "chi-squared",
    "kolmogorov_smirnov": "KS",
    "kolmogorov_smirnov_and_missing_share": "KS + missing share",
}


def _psi(x: float | None) -> str:
    if x is None:
        return "unknown"
    return f"{x:.2f}" if x >= 0.01 else f"{x:.3f}"


def _p(p: float | None) -> str:
    if p is None:
        return "p not available"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _test(c: ColumnDrift) -> str:
    return _TEST_WORDS.get(c.test.test, "KS")


def _evident(c: ColumnDrift, alpha: float) -> bool:
    return c.p_adjusted is not None and c.p_adjusted < alpha


def _where(c: ColumnDrift) -> str:
    """Return the bin that contributes most to the PSI, with both shares."""
    if c.psi is None or not np.isfinite(c.contributions).any():
        return ""
    i = int(np.nanargmax(c.contributions))
    n_tr, n_ev = max(int(c.bins.train.sum()), 1), max(int(c.bins.eval.sum()), 1)
    lab = c.bins.labels[i]
    what = "missing values" if lab == MISSING_LABEL else f"{c.column} {lab}" if c.kind == (
        "numeric"
    ) else f"{c.column} = {lab!r}"  # fmt: skip
    return (
        f" Most of the shift is in {what}: {c.bins.train[i] / n_tr:.0%} of training rows, "
        f"{c.bins.eval[i] / n_ev:.0%} of evaluation rows."
    )


def _shift_text(c: ColumnDrift, alpha: float) -> str:
    word = shift_word(c.psi)
    return f"PSI {_psi(c.psi)}, a {word} shift; {_test(c)} adjusted {_p(c.p_adjusted)}"


def _column_findings(
    overall: Sequence[ColumnDrift], alpha: float, ci_level: float
) -> list[Finding]:
    out: list[Finding] = []
    ranked = sorted(overall, key=lambda c: -(c.psi or 0.0))
    shifted = [
        c for c in ranked if _evident(c, alpha) and shift_word(c.psi) in ("large", "moderate")
    ]
    for c in shifted[:_LISTED]:
        large = shift_word(c.psi) == "large"
        text = (
            f"The evaluation data's {c.column} differs from the training data's "
            f"({_shift_text(c, alpha)}): "
            + (
                "the audit describes a population the model did not learn from."
                if large
                else "the evaluation population has moved from the one the model learned from."
            )
            + _where(c)
        )
        out.append(
            Finding(
                SECTION,
                "fail" if large else "warn",
                text,
                _METRIC,
                evidence_word(c.p_adjusted, ci_level),
            )  # fmt: skip
        )
    if len(shifted) > _LISTED:
        rest = shifted[_LISTED:]
        sev: Severity = "fail" if any(shift_word(c.psi) == "large" for c in rest) else "warn"
        out.append(
            Finding(
                SECTION,
                sev,
                f"{len(rest)} more input columns shift with evidence (PSI from "
                f"{min(c.psi or 0 for c in rest):.2f} to {max(c.psi or 0 for c in rest):.2f}); "
                "see the table 'Drift per input column'.",
                _METRIC,
            )  # fmt: skip
        )
    noisy = [
        c for c in ranked if not _evident(c, alpha) and shift_word(c.psi) in ("large", "moderate")
    ]
    for c in noisy[:_LISTED]:
        chance = f"{c.chance:.2f}" if c.chance is not None else "unknown"
        out.append(
            Finding(
                SECTION, "info",
                f"{c.column}'s PSI is {_psi(c.psi)} (a {shift_word(c.psi)} shift by the usual "
                f"reading), but the {_test(c)} test cannot tell it from chance (adjusted "
                f"{_p(c.p_adjusted)}): it rests on {c.n_train:,} training and {c.n_eval:,} "
                f"evaluation rows, with which sampling alone gives a PSI of about {chance}.",
                _METRIC, evidence_word(c.p_adjusted, ci_level),
            )
        )  # fmt: skip
    small = [c for c in ranked if _evident(c, alpha) and shift_word(c.psi) == "none"]
    if small:
        names = ", ".join(c.column for c in small[:_LISTED]) + (
            f" and {len(small) - _LISTED} more" if len(small) > _LISTED else ""
        )
        out.append(
            Finding(
                SECTION,
                "info",
                f"The tests detect differences in {names} (adjusted p below {alpha:g}) "
                f"whose PSI is below {PSI_MODERATE:g}: real but small shifts, which samples "
                "this large make visible.",
                _METRIC,
            )  # fmt: skip
        )
    if not shifted and noisy:
        out.append(
            Finding(
                SECTION, "info",
                (f"None of the {len(overall)} input columns shifts with evidence, but "
                 f"{len(noisy)} of them have a PSI of {PSI_MODERATE:g} or more that these rows "
                 "cannot tell from chance"
                 if len(overall) > 1 else
                 f"The input column does not shift with evidence: its PSI is "
                 f"{PSI_MODERATE:g} or more, but these rows cannot tell it from chance")
                + ": the data is too thin to say whether the evaluation population is the one "
                "the model learned from.", _METRIC,
            )
        )  # fmt: skip
    elif not shifted:
        top = ranked[0] if ranked and ranked[0].psi is not None else None
        largest = f" (largest PSI {_psi(top.psi)}, for {top.column})" if top is not None else ""
        out.append(
            Finding(
                SECTION, "pass",
                f"The evaluation data looks like the training data: none of the "
                f"{len(overall)} input columns shifts with evidence{largest}.", _METRIC,
            )
        )  # fmt: skip
    return out


def _data_findings(overall: Sequence[ColumnDrift]) -> list[Finding]:
    out: list[Finding] = []
    miss = [c for c in overall if c.missing_train or c.missing_eval]
    if miss:
        parts = [
            f"{c.column} ({c.missing_train / max(c.n_train, 1):.1%} of training rows, "
            f"{c.missing_eval / max(c.n_eval, 1):.1%} of evaluation rows)"
            for c in miss[:5]
        ]
        more = f" and {len(miss) - 5} more columns" if len(miss) > 5 else ""
        out.append(
            Finding(
                SECTION,
                "info",
                "Missing values are counted as a category of their own (a bin of the PSI "
                f"and of the test): {', '.join(parts)}{more}.",
            )  # fmt: skip
        )
    unseen = [c for c in overall if c.unseen]
    if unseen:
        parts = []
        for c in unseen[:5]:
            cats = ", ".join(f"{lab!r}: {n:,} rows" for lab, n in c.unseen[:3])
            extra = f" and {len(c.unseen) - 3} more" if len(c.unseen) > 3 else ""
            parts.append(f"{c.column} ({cats}{extra})")
        out.append(
            Finding(
                SECTION,
                "info",
                "The evaluation data has categories the training data lacks, which the "
                f"model never saw: {'; '.join(parts)}.",
            )  # fmt: skip
        )
    return out


def _group_findings(within: Sequence[ColumnDrift], alpha: float, ci_level: float) -> list[Finding]:
    out: list[Finding] = []
    by: dict[tuple[str, str], list[ColumnDrift]] = {}
    for c in within:
        if c.small is None and c.feature is not None and c.group is not None:
            by.setdefault((c.feature, c.group), []).append(c)
    for (feat, group), cs in by.items():
        hits = sorted(
            (c for c in cs if _evident(c, alpha) and shift_word(c.psi) in ("large", "moderate")),
            key=lambda c: -(c.psi or 0.0),
        )
        if not hits:
            continue
        listed = "; ".join(f"{c.column} ({_shift_text(c, alpha)})" for c in hits[:3])
        more = f"; and {len(hits) - 3} more columns" if len(hits) > 3 else ""
        large = any(shift_word(c.psi) == "large" for c in hits)
        best = min(c.p_adjusted for c in hits if c.p_adjusted is not None)
        out.append(
            Finding(
                SECTION,
                "fail" if large else "warn",
                f"Within {feat} = {group}, the evaluation data differs from the training "
                f"data in {listed}{more}: for this group the audit describes people unlike "
                "those the model learned from.",
                _METRIC,
                evidence_word(best, ci_level),
            )  # fmt: skip
        )
    small: dict[tuple[str, str], ColumnDrift] = {}
    for c in within:
        if c.small is not None and c.feature is not None and c.group is not None:
            small.setdefault((c.feature, c.group), c)
    if small:
        names = "; ".join(
            f"{f} = {g} ({c.n_train:,} training, {c.n_eval:,} evaluation rows)"
            for (f, g), c in list(small.items())[:8]
        )
        more = f" and {len(small) - 8} more" if len(small) > 8 else ""
        out.append(
            Finding(
                SECTION,
                "info",
                "Groups too small to judge drift (fewer than min_group_size rows on one "
                f"side) are reported, flagged too_small, but not judged: {names}{more}.",
            )  # fmt: skip
        )
    return out


def drift_findings(
    overall: Sequence[ColumnDrift], within: Sequence[ColumnDrift], *, alpha: float,
    ci_level: float,
) -> list[Finding]:  # fmt: skip
    """Return the section's findings (worst first): columns, groups, then the data's notes."""
    judged = [c for c in overall if not c.identifier]
    out = _column_findings(judged, alpha, ci_level) if judged else []
    out += _group_findings([c for c in within if not c.identifier], alpha, ci_level)
    out += _data_findings(judged)
    idents = [c.column for c in overall if c.identifier]
    if idents:
        out.append(
            Finding(
                SECTION, "info",
                f"{', '.join(idents[:_LISTED])}"
                + (f" and {len(idents) - _LISTED} more" if len(idents) > _LISTED else "")
                + (" look" if len(idents) > 1 else " looks")
                + " like direct identifiers (values unique to each row): compared but not "
                "judged, since their values differ between any two samples.",
            )
        )  # fmt: skip
    order = {"fail": 0, "warn": 1, "pass": 2, "info": 3}
    return sorted(out, key=lambda f: order[f.severity])


def _num(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def drift_tables(overall: Sequence[ColumnDrift], within: Sequence[ColumnDrift]) -> list[Table]:
    """Return the tables: per column, the bins behind the largest shifts, per group."""
    ranked = sorted(overall, key=lambda c: -(c.psi or 0.0))
    rows = tuple(
        (
            c.column, c.kind, _num(c.psi),
            "not judged (identifier)" if c.identifier else shift_word(c.psi), _num(c.chance),
            _TABLE_TESTS.get(c.test.test, c.test.test), _num(c.test.statistic),
            _num(c.p_adjusted), c.n_train, c.n_eval,
            c.missing_train / max(c.n_train, 1), c.missing_eval / max(c.n_eval, 1),
        )
        for c in ranked
    )  # fmt: skip
    tables = [
        Table(
            "drift_columns",
            "Drift per input column",
            (
                "input column",
                "kind",
                "PSI",
                "shift",
                "PSI by chance",
                "test",
                "statistic",
                "adjusted p",
                "training rows",
                "evaluation rows",
                "missing (training)",
                "missing (evaluation)",
            ),
            rows,
            note=(
                f"PSI below {PSI_MODERATE:g}: no material shift; {PSI_MODERATE:g} to "
                f"{PSI_LARGE:g}: moderate; above {PSI_LARGE:g}: large. 'PSI by chance' is "
                "what sampling alone gives with these rows. Missing values are a category of "
                "their own. p-values are Holm-adjusted over the input columns."
            ),
        )  # fmt: skip
    ]
    bin_rows = []
    for c in ranked:
        if c.identifier or shift_word(c.psi) not in ("large", "moderate"):
            continue
        n_tr, n_ev = max(int(c.bins.train.sum()), 1), max(int(c.bins.eval.sum()), 1)
        for i in np.argsort(-np.nan_to_num(c.contributions), kind="stable")[:3].tolist():
            bin_rows.append(
                (c.column, c.bins.labels[i], float(c.bins.train[i] / n_tr),
                 float(c.bins.eval[i] / n_ev), _num(float(c.contributions[i])))
            )  # fmt: skip
    if bin_rows:
        tables.append(
            Table(
                "drift_bins",
                "Where the shifts are (the three bins adding most to each PSI)",
                ("input column", "bin", "training share", "evaluation share", "PSI part"),
                tuple(bin_rows),
            )  # fmt: skip
        )
    by: dict[tuple[str, str], list[ColumnDrift]] = {}
    for c in within:
        if c.feature is not None and c.group is not None:
            by.setdefault((c.feature, c.group), []).append(c)
    group_rows = []
    for (feat, group), cs in by.items():
        top = max(cs, key=lambda c: c.psi if c.psi is not None and not c.identifier else -1.0)
        group_rows.append(
            (feat, group, top.n_train, top.n_eval, top.column, _num(top.psi),
             shift_word(top.psi), _num(top.p_adjusted), top.small or "")
        )  # fmt: skip
    if group_rows:
        tables.append(
            Table(
                "drift_groups",
                "Drift within groups (the most shifted column of each group)",
                (
                    "sensitive feature",
                    "group",
                    "training rows",
                    "evaluation rows",
                    "most shifted column",
                    "PSI",
                    "shift",
                    "adjusted p",
                    "note",
                ),
                tuple(group_rows),
                note="p-values are Holm-adjusted over every group and input column of the "
                "sensitive feature; groups too small to judge are left out of the adjustment.",
            )  # fmt: skip
        )
    return tables


#: Columns drawn in the PSI chart (the most shifted ones).
_CHART_COLUMNS = 20


def drift_chart(overall: Sequence[ColumnDrift]) -> Chart | None:
    """Return a bar chart of each column's PSI (largest first), with the large-shift line."""
    ranked = [
        c for c in sorted(overall, key=lambda c: -(c.psi or 0.0))
        if c.psi is not None and not c.identifier
    ]  # fmt: skip
    if not ranked:
        return None
    shown = ranked[:_CHART_COLUMNS]
    more = f" The {len(shown)} most shifted of {len(ranked)} columns." if len(ranked) > len(
        shown
    ) else ""  # fmt: skip
    listing = "; ".join(f"{c.column} {_psi(c.psi)}" for c in shown[:8])
    return Chart(
        name="psi_by_column", kind="bar",
        title="Population stability index of each input column (training to evaluation)",
        data={
            "labels": [c.column for c in shown], "values": [c.psi for c in shown],
            "reference": PSI_LARGE, "reference_label": f"large shift ({PSI_LARGE:g})",
            "xlabel": "PSI", "ylabel": "input column", "horizontal": True,
        },
        description=(
            f"PSI of each input column, largest first ({listing}). Below {PSI_MODERATE:g} no "
            f"material shift, {PSI_MODERATE:g} to {PSI_LARGE:g} moderate, above {PSI_LARGE:g} "
            f"large; a bar past the line is a finding only with a test's evidence.{more}"
        ),
    )  # fmt: skip
