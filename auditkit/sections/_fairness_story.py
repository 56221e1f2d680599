"""The fairness section's findings: evidence first, then size, among groups large enough to judge.

Rules (the glossary and the section's ``info`` repeat them):

* A finding compares groups that are large enough to judge (not flagged ``too_small`` for the
  rate it is about). Flagged groups go into one note of their own (severity ``info``).
* **Error-rate gaps** (binary tasks): for each grouping, the false positive rate and the false
  negative rate of every judgeable group against the reference group (``to_reference``
  records); the finding names the most notable comparison. It is a warning only when the gap
  is distinguishable from none after the family's multiplicity control
  (``p_adjusted < 1 - ci_level``) **and** the gap, or the far end of its interval, reaches
  ``fairness_gap_threshold``; a large gap without that evidence is stated as "not
  distinguishable from no gap with these sample sizes" at ``info``.
* **Four-fifths rule** on the favourable outcome's selection rates (``favourable``; when the
  favourable outcome is the negative class, its rate is ``1 - selection_rate``), lowest over
  highest among judgeable groups, with the ``four_fifths_threshold`` option: ``pass`` at or
  above it; below it with evidence ``fail`` when the whole interval is below it and ``warn``
  when the interval reaches it (as the card's lights judge), ``info`` without evidence.
* **Multiclass**: the accuracy of each judgeable group against the reference group, as for
  error-rate gaps.
* **Calibration by group**: the least calibrated judgeable group of each feature is a
  warning only when its expected calibration error reaches ``fairness_gap_threshold`` and a
  test of calibration in the large (:func:`calibration_tests`) gives evidence after the
  family's control.
* ``Finding.evidence`` is :func:`._evidence.evidence_word` of the adjusted p-value.
* Order: by severity, then evidence, then size of effect (the report sorts stably by severity
  and evidence, so this order breaks its ties); then calibration, then the small-groups note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..inputs.context import Predictions
from ..metrics.engine import Key
from ..metrics.evidence import evidence_word
from ..result.records import Finding, MetricValue, Severity
from . import _plain_language as pl
from ._fairness_evidence import Comparison, Evidence, FourFifths

__all__ = ["calibration_tests", "four_fifths_records", "four_fifths_results", "story"]

SECTION = "fairness"
_SEV_RANK = {"fail": 0, "warn": 1, "info": 2, "pass": 3}
_EV_RANK = {"strong": 0, "moderate": 1, "weak": 2, "none": 3}
#: Error rates whose gaps make findings: (metric, true label is positive?, decided positive?).
_ERRORS = (("false_positive_rate", False, True), ("false_negative_rate", True, False))


def four_fifths_results(
    c: Any, ev: Evidence, reasons: Mapping[tuple[str, ...], Mapping[Any, list[Any]]],
    favourable_is_positive: bool,
) -> dict[tuple[str, ...], FourFifths | None]:  # fmt: skip
    """Return the four-fifths rule of every grouping (binary tasks), before adjustment."""
    out: dict[tuple[str, ...], FourFifths | None] = {}
    for feats in c.gm.groupings:
        why = reasons[feats][("selection_rate", None)]
        judgeable = np.array([w is None for w in why], dtype=bool)
        out[feats] = ev.four_fifths(feats, judgeable, favourable_is_positive)
    return out


def four_fifths_records(
    c: Any, ev: Evidence, ff: Mapping[tuple[str, ...], FourFifths | None], pred: Predictions
) -> list[MetricValue]:
    """Return one ``favourable_impact_ratio`` record per grouping: the four-fifths rule's figure.

    The lowest over the highest rate of the favourable outcome among the groups large enough to
    judge (``method="between_groups"``; the reason names the outcome and the two groups), with
    its bootstrap interval, its p-value (Fisher's exact test of the two groups,
    Bonferroni-adjusted for picking the extreme pair) and the family-adjusted p-value. The
    card's four-fifths light reads this record, so groups too small to judge never drive it.
    """
    out: list[MetricValue] = []
    fav = pred.favourable_index
    label = pred.label_name(fav) if fav is not None else None
    for feats, res in ff.items():
        if res is None or not np.isfinite(res.ratio):
            continue
        groups = [tuple(str(v) for v in g) for g in c.gm.groups(feats)]
        n = c.gm.counts(feats)
        lo, hi = "/".join(groups[res.lo]), "/".join(groups[res.hi])
        out.append(
            MetricValue(
                section=SECTION,
                name="favourable_impact_ratio",
                value=res.ratio,
                feature=feats,
                ci=res.ci,
                n=int(n[res.lo] + n[res.hi]),
                method="between_groups",
                p_value=res.p,
                p_adjusted=ev.family.adjusted(res.key),
                test="fisher_exact",
                reason=(
                    f"rate of the favourable outcome '{label}' of {lo} ({res.low:.4g}) over that "
                    f"of {hi} ({res.high:.4g}), the lowest and highest among groups large enough "
                    "to judge"
                ),
            )  # fmt: skip
        )
    return out


def four_fifths_verdict(
    ff: FourFifths | None, ev: Evidence, threshold: float, alpha: float
) -> str:
    """Return the rule's verdict, the severity of its finding in words.

    ``"pass"`` at or above the threshold; below it, with evidence of a gap after the
    family's control, ``"fail"`` when the whole interval is below the threshold and
    ``"borderline"`` (the finding's ``warn``) when the interval reaches it; ``"inconclusive"``
    (``info``) below it without evidence; ``"n/a"`` when undefined.
    """
    if ff is None or not np.isfinite(ff.ratio):
        return "n/a"
    if ff.ratio >= threshold:
        return "pass"
    p = ev.family.adjusted(ff.key)
    if p is None or p >= alpha:
        return "inconclusive"
    return "borderline" if ff.ci is not None and ff.ci[1] >= threshold else "fail"


def _finding(sev: str, text: str, metric: str, evidence: str | None) -> Finding:
    s: Severity = "fail" if sev == "fail" else "warn" if sev == "warn" else (
        "pass" if sev == "pass" else "info"
    )  # fmt: skip
    return Finding(SECTION, s, text, metric, evidence)


def _judge_gap(
    comp: Comparison, ev: Evidence, gap_warn: float, alpha: float
) -> tuple[str, str, bool, float | None]:
    """Return (severity, evidence word, reaches threshold, adjusted p) of one comparison."""
    p_adj = ev.family.adjusted(comp.key)
    word = evidence_word(p_adj, alpha)
    d = comp.diff
    far = abs(d)
    if comp.diff_ci is not None:
        far = max(far, comp.diff_ci[1] if d >= 0 else -comp.diff_ci[0])
    reaches = bool(np.isfinite(d)) and far >= gap_warn
    sev = "warn" if reaches and p_adj is not None and p_adj < alpha else "info"
    return sev, word, reaches, p_adj


def _rank(comps: Sequence[Comparison], ev: Evidence, gap_warn: float, alpha: float) -> list[Any]:
    judged = []
    for comp in comps:
        sev, word, reaches, p_adj = _judge_gap(comp, ev, gap_warn, alpha)
        judged.append((comp, sev, word, reaches, p_adj))
    judged.sort(key=lambda t: (_SEV_RANK[t[1]], _EV_RANK[t[2]], -abs(t[0].diff)))
    return judged


def story(
    c: Any, ev: Evidence, reasons: Mapping[tuple[str, ...], Mapping[Any, list[Any]]],
    ff: Mapping[tuple[str, ...], FourFifths | None], flagged: Mapping[tuple[str, ...], list[Any]],
    *, pred: Predictions, subject: str, gap_warn: float, four_fifths: float, alpha: float,
    calib: Mapping[tuple[str, ...], tuple[int, float, Any]] | None = None,
) -> list[Finding]:  # fmt: skip
    """Return the section's findings in their ranked order (see the module docstring)."""
    gm = c.gm
    calib = calib or {}
    ranked: list[tuple[Finding, float]] = []
    tail: list[Finding] = []
    thr = f"the {pl.points(gap_warn).replace(' percentage points', '-point')} threshold"
    thr = thr.replace(" percentage point", "-point")
    for feats in gm.groupings:
        groups = [tuple(str(v) for v in g) for g in gm.groups(feats)]
        comps = ev.comparisons.get(feats, [])
        if gm.is_binary:
            ranked += _four_fifths_finding(c, ev, ff.get(feats), feats, groups, pred, subject,
                                           four_fifths, alpha)  # fmt: skip
            pos = pred.pos_label if pred.pos_label is not None else 1
            neg = 1 - pos
            for metric, true_pos, decided_pos in _ERRORS:
                mine = [x for x in comps if x.metric == metric and not x.small]
                if not mine:
                    continue
                comp, sev, word, reaches, p_adj = _rank(mine, ev, gap_warn, alpha)[0]
                a, b = (comp.index, comp.ref) if comp.diff >= 0 else (comp.ref, comp.index)
                hi_v, lo_v = max(comp.value, comp.ref_value), min(comp.value, comp.ref_value)
                rci = comp.ratio_ci
                dci = comp.diff_ci
                if comp.diff < 0:  # the reference is the higher group: invert the ratio
                    rci = None if rci is None or rci[0] <= 0 else (1 / rci[1], 1 / rci[0])
                    dci = None if dci is None else (-dci[1], -dci[0])
                text = pl.error_gap_sentence(
                    feats, groups[a], hi_v, groups[b], lo_v,
                    true_label=pred.label_name(pos if true_pos else neg),
                    decided_label=pred.label_name(pos if decided_pos else neg),
                    ratio_ci=rci, diff_ci=dci, level=c.level, subject=subject,
                )  # fmt: skip
                text += pl.evidence_clause(sev, reaches, p_adj, alpha, thr)
                n_more = sum(1 for x in _rank(mine, ev, gap_warn, alpha)[1:] if x[1] == "warn")
                if n_more:
                    text += (
                        f" {n_more} other group{'s' if n_more > 1 else ''} by "
                        f"{' × '.join(feats)} also differ{'s' if n_more == 1 else ''} from "
                        f"{'/'.join(groups[comp.ref])} on this rate (see the to_reference "
                        "records)."
                    )
                ranked.append((_finding(sev, text, f"fairness.{metric}_difference", word),
                               abs(comp.diff)))  # fmt: skip
        else:
            mine = [x for x in comps if x.metric == "accuracy" and x.label is None and not x.small]
            if mine:
                comp, sev, word, reaches, p_adj = _rank(mine, ev, gap_warn, alpha)[0]
                lo_i, hi_i = (comp.index, comp.ref) if comp.diff < 0 else (comp.ref, comp.index)
                dci = comp.diff_ci
                if dci is not None and comp.diff < 0:
                    dci = (-dci[1], -dci[0])
                text = pl.multiclass_gap_sentence(
                    feats, groups[lo_i], min(comp.value, comp.ref_value), groups[hi_i],
                    max(comp.value, comp.ref_value), dci, c.level, subject=subject,
                )  # fmt: skip
                text += pl.evidence_clause(sev, reaches, p_adj, alpha, thr)
                ranked.append((_finding(sev, text, "fairness.accuracy_difference", word),
                               abs(comp.diff)))  # fmt: skip
        tail += _calibration_findings(c, ev, calib, feats, groups, pred, subject, gap_warn, alpha)
    ranked.sort(
        key=lambda t: (
            _SEV_RANK[t[0].severity], _EV_RANK[t[0].evidence or "none"], -t[1]
        )
    )  # fmt: skip
    out = [f for f, _ in ranked] + tail
    parts = [(feats, flagged[feats]) for feats in gm.groupings if flagged.get(feats)]
    if parts:
        out.append(
            _finding("info", pl.small_groups_note(parts, c.min_size), "fairness.count", None)
        )
    return out


def _four_fifths_finding(
    c: Any, ev: Evidence, ff: FourFifths | None, feats: tuple[str, ...],
    groups: Sequence[tuple[str, ...]], pred: Predictions, subject: str, threshold: float,
    alpha: float,
) -> list[tuple[Finding, float]]:  # fmt: skip
    if ff is None:
        return []
    fav = pred.favourable_index
    fav_name = pred.label_name(fav if fav is not None else 1)
    if not np.isfinite(ff.ratio):
        text = (
            f"No group by {' × '.join(feats)} large enough to judge receives the favourable "
            f"outcome '{fav_name}', so the four-fifths rule is undefined."
        )
        return [(_finding("info", text, "fairness.selection_rate_ratio", None), 0.0)]
    sev, text = pl.four_fifths_sentence(
        feats, groups[ff.lo], groups[ff.hi], ff.ratio, ff.ci, c.level, subject=subject,
        outcome=fav_name, threshold=threshold,
    )  # fmt: skip
    p_adj = ev.family.adjusted(ff.key)
    word = evidence_word(p_adj, alpha)
    verdict = four_fifths_verdict(ff, ev, threshold, alpha)
    sev = {"pass": "pass", "fail": "fail", "borderline": "warn"}.get(verdict, "info")
    if verdict == "inconclusive":
        text += pl.evidence_clause("info", True, p_adj, alpha, "")
    return [(_finding(sev, text, "fairness.selection_rate_ratio", word), 1.0 - ff.ratio)]


def calibration_tests(c: Any, ev: Evidence) -> dict[tuple[str, ...], tuple[int, float, Any]]:
    """Test the least calibrated judgeable group of each feature (binary tasks with scores).

    The test is of calibration in the large: under calibrated scores the group's positives
    have mean ``score_sum`` and variance ``sum p(1 - p) <= n m (1 - m)`` (``m`` the mean
    score), so ``z = n (base_rate - m) / sqrt(n m (1 - m))`` is conservative; two-sided
    normal p-value, added to the family before it is adjusted.
    """
    from scipy.stats import norm

    gm = c.gm
    out: dict[tuple[str, ...], tuple[int, float, Any]] = {}
    if not (gm.is_binary and gm.has_scores):
        return out
    for feats in gm.groupings:
        if len(feats) != 1:
            continue
        vals = gm.values[Key("expected_calibration_error", feats, None, "group")]
        n = gm.counts(feats)
        ok = np.flatnonzero(np.isfinite(vals) & (n >= c.min_size))
        if not ok.size:
            continue
        i = int(ok[np.argmax(vals[ok])])
        ms = float(gm.values[Key("mean_score", feats, None, "group")][i])
        br = float(gm.values[Key("base_rate", feats, None, "group")][i])
        var = n[i] * ms * (1.0 - ms)
        p = 1.0 if var <= 0 else float(2 * norm.sf(abs(n[i] * (br - ms)) / np.sqrt(var)))
        key = ("calibration", feats, i)
        ev.family.add(key, p)
        out[feats] = (i, p, key)
    return out


def _calibration_findings(
    c: Any, ev: Evidence, calib: Mapping[tuple[str, ...], tuple[int, float, Any]],
    feats: tuple[str, ...], groups: Sequence[tuple[str, ...]], pred: Predictions,
    subject: str, gap_warn: float, alpha: float,
) -> list[Finding]:  # fmt: skip
    gm = c.gm
    if feats not in calib:
        return []
    i, _, key = calib[feats]
    ece = float(gm.values[Key("expected_calibration_error", feats, None, "group")][i])
    if ece < gap_warn / 2:
        return []
    ms = float(gm.values[Key("mean_score", feats, None, "group")][i])
    br = float(gm.values[Key("base_rate", feats, None, "group")][i])
    pos = pred.pos_label if pred.pos_label is not None else 1
    text = pl.calibration_group_sentence(
        feats, groups[i], ms, br, ece, subject=subject, outcome=pred.label_name(pos)
    )
    p_adj = ev.family.adjusted(key)
    sev = "warn" if ece >= gap_warn and p_adj is not None and p_adj < alpha else "info"
    if ece >= gap_warn and sev == "info":
        p_txt = "" if p_adj is None else f" (adjusted p = {p_adj:.2g})"
        text += (
            f" With these sample sizes this is not distinguishable from calibrated scores{p_txt}."
        )
    return [
        _finding(sev, text, "fairness.expected_calibration_error", evidence_word(p_adj, alpha))
    ]
