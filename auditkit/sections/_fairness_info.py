"""The ``info`` of the fairness section: settings, reference groups, how the evidence is tested."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..inputs.context import AuditContext
from ..metrics.engine import GroupMetrics
from ._fairness_records import MAX_GROUPS_WITH_EMPTY


def section_info(
    ctx: AuditContext,
    gm: GroupMetrics,
    feats: tuple[str, ...],
    pos: int | None,
    refs: dict[tuple[str, ...], Any],
    ev: Any,
    four_fifths: float,
    alpha: float,
) -> dict[str, Any]:
    """Return the section's ``info`` before the row-only parts (mitigation, custom metrics)."""
    p = ctx.predictions
    cfg = ctx.config
    binary = p.task == "binary"
    fav_pos = binary and p.favourable_index == pos
    outcome = p.classes[pos] if pos is not None else None
    info: dict[str, Any] = {
        "sensitive_features": list(feats),
        "groupings": [list(g) for g in gm.groupings],
        "task": p.task,
        "positive_class": outcome,
        "n_boot": cfg.n_boot,
        "ci_level": cfg.ci_level,
        "ci_method": "bootstrap percentile, cell-count (multinomial) resampling"
        if cfg.n_boot > 0
        else "none (n_boot=0)",
        "min_group_size": cfg.min_group_size,
        "zero_division": "a 0/0 rate is 0 (Fairlearn's convention) and flagged too_small",
        "engine": "count table (auditkit.audit._engine); values equal Fairlearn MetricFrame",
        "all_combinations": gm.complete,
        "favourable_outcome": (
            p.label_name(p.favourable_index) if p.favourable_index is not None else None
        ),
        "four_fifths_threshold": four_fifths,
        "favourable_is_positive": bool(fav_pos) if binary else None,
        "reference_groups": {" × ".join(g): " × ".join(r.group) for g, r in refs.items()},
        "reference_groups_chosen": {" × ".join(g): r.how for g, r in refs.items()},
        "evidence": _evidence_info(ev, alpha),
    }
    if getattr(p, "sample_weight", None) is not None:
        info["evidence"]["weights"] = (
            "with sample weights, the tests and the Newcombe intervals use the weighted "
            "counts rounded to integers (an approximation; the bootstrap intervals are "
            "weighted exactly)"
        )
    omitted = {
        " × ".join(g): int(np.sum(gm.counts(g) == 0))
        for g in gm.groupings
        if len(gm.counts(g)) > MAX_GROUPS_WITH_EMPTY and np.any(gm.counts(g) == 0)
    }
    if omitted:
        info["omitted_empty_combinations"] = omitted
    return info


def _evidence_info(ev: Any, alpha: float) -> dict[str, Any]:
    """Return ``info["evidence"]``: the tests, the multiplicity control and the words."""
    return {
        "tests": {
            "to_reference": "Fisher's exact test of the two proportions (two-sided)",
            "between_groups, to_overall": "permutation test of the record's own statistic: "
            "the successes of the rate are multivariate hypergeometric across groups given "
            "the totals; equalized odds, average odds and balanced accuracy draw within the "
            "true-label strata; p = (1 + #{as extreme}) / (1 + permutations)",
            "to_reference balanced_accuracy": "permutation test with the correct decisions of "
            "each true-label stratum redrawn between the group and the reference group",
            "calibration": "z-test of calibration in the large (positives against the sum "
            "of the scores) for the least calibrated group of each feature",
            "four_fifths": "Fisher's exact test of the lowest and highest favourable rates among "
            "the groups large enough to judge, times the number of pairs of such groups "
            "(Bonferroni for the choice of the pair)",
        },
        "permutations": {" × ".join(g): b for g, b in ev.draws_used.items()},
        "multiple_comparisons": "Benjamini-Hochberg over the family of every disparity "
        "record of this section (between_groups, to_overall, to_reference, all groupings and "
        "metrics) and the four-fifths tests; a hypothesis tested by several records (a "
        "difference and a ratio of one pair, a rate and its complement) counts once",
        "family_size": len(ev.family),
        "alpha": alpha,
        "evidence_words": f"strong: p_adjusted < {min(0.001, alpha):g}; moderate: < "
        f"{min(0.01, alpha):g}; weak: < {alpha:g}; none otherwise",
        "severity": "a finding is fail/warn only when the gap is beyond its threshold (or its "
        "interval reaches it) and p_adjusted < alpha; groups flagged too_small never drive a "
        "finding and are listed in a note of their own",
        "roc_auc": "permutation test: the group labels are permuted over the rows (each row "
        "keeps its score, label and weight) and every group's ROC AUC is recomputed exactly; "
        "above 1,000,000 rows x permutations, fewer permutations (>= 200) and then a random "
        "subsample of the rows (auc_subsample_rows)",
        "expected_calibration_error": "permutation test on the count table: each group's rows "
        "of every (true label, score bin) cell are drawn multivariate hypergeometric given the "
        "group sizes; a drawn row carries its cell's mean score (and mean weight), an "
        "approximation of the within-cell score sums used for the observed statistic too",
        "auc_permutations": {" × ".join(g): b for g, b in ev.auc_permutations.items()},
        "auc_subsample_rows": {" × ".join(g): m for g, m in ev.auc_subsample.items()},
        "intervals_to_reference": "difference: Newcombe's hybrid score interval (from the two "
        "Wilson intervals); ratio: bootstrap percentile over the same cell-count resamples "
        "as every other interval",
    }
