"""Fairness of a regression (a model that predicts a number): groups, gaps, evidence, findings.

From the rows (``ctx.regression`` with ``ctx.sensitive``) or from a log reduced to the regression
engine's tables (``ctx.regression_counts``), per sensitive feature and intersection, with the
regression engine (:mod:`auditkit.metrics.regression`, whose values equal Fairlearn's
``MetricFrame`` with scikit-learn's regression metrics):

* per group: ``count``, ``mean_prediction``, ``mean_target``, ``mean_absolute_error``,
  ``root_mean_squared_error``, ``mean_error`` (prediction minus true value: signed bias),
  ``r2_score`` with bootstrap intervals (the engine's block Poisson bootstrap, ``n_boot``
  replicates from ``ctx.rng("fairness")``); ``mean_error_at_equal_target`` (the bias for the
  same true value, with normal intervals, :mod:`auditkit.metrics.regression_equal`);
  ``prediction_ks_gap`` and ``prediction_wasserstein_gap`` of the group's predictions against
  everyone else's, with bootstrap intervals and exact permutation p-values;
* disparities ``<metric>_difference`` / ``<metric>_ratio`` with ``method`` between_groups,
  to_overall and to_reference (the reference group of ``AuditConfig.reference_groups``,
  default the largest group), each with its interval, ``p_value`` (the engine's null-shifted
  bootstrap test), ``p_adjusted`` (Benjamini-Hochberg over the section's family, the
  equal-target tests included) and ``test``; ``mean_error_at_equal_target_difference`` of each
  group against the reference (z-test);
* the worst group's loss (``worst_group_mean_absolute_error``,
  ``worst_group_root_mean_squared_error``: bounded group loss) and the largest distribution gap
  (``prediction_ks_gap`` / ``prediction_wasserstein_gap`` with ``group`` None), both over the
  groups large enough to judge;
* groups smaller than ``min_group_size`` flagged ``too_small`` (never dropped, never leading a
  finding); findings in plain words (:mod:`._regression_fairness_story`).

The records have the shapes of the classification section's (``feature``/``group`` tuples,
``method``, ``p_value``, ``p_adjusted``, ``test``, ``flags``), and ``unit`` is the target's unit
where it has one. Thresholds come from the metric catalog (:data:`DEFAULT_THRESHOLDS`): the
mean error gaps relative to the target's standard deviation (``info["target_std"]``), the
mean absolute error ratio and the Kolmogorov-Smirnov gap as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._core.catalog import threshold
from ..exceptions import ParameterError
from ..inputs.context import AuditContext
from ..inputs.options import CommonOptions
from ..metrics.bootstrap import Intervals
from ..metrics.evidence import Family
from ..metrics.regression import (
    RegressionMetrics,
    regression_from_count_table,
    regression_metrics,
)
from ..metrics.stats import percentile_interval
from ..metrics.table import Key
from ..result.records import Chart, MetricValue, SectionResult
from . import _regression_fairness_records as rec
from ._fairness_custom import _check_custom, _custom_records
from ._regression_fairness_story import story

__all__ = ["run_regression_fairness"]

SECTION = "fairness"
#: Groups x permutations of the distribution-gap tests of one grouping (fewer permutations,
#: at least 199, for a grouping of many groups; ``info["evidence"]`` says how many).
_PERMUTATION_BUDGET = 200_000


def run_regression_fairness(ctx: AuditContext, options: Any = None) -> SectionResult:
    """Compute the fairness section of a regression (see the module docstring).

    Parameters
    ----------
    ctx : AuditContext
        With ``regression`` (rows, and ``sensitive``) or ``regression_counts``.
    options : FairnessOptions, default=None
        The fairness section's options (``n_permutations``); defaults when None.
    """
    cfg = ctx.config
    common = ctx.options_for(CommonOptions)
    n_perm = int(getattr(options, "n_permutations", 2000) or 2000)
    feats = _features(ctx)
    groupings = _groupings(feats)
    rm = _engine(ctx, feats, groupings)
    alpha = 1.0 - cfg.ci_level
    iv, samples = _bootstrap(rm, cfg.n_boot, ctx.rng("fairness"), cfg.ci_level)
    equal = rm.equal_target_inference(cfg.ci_level)
    # the permutation tests of the distribution gaps cost groups x permutations x bins
    most = max(len(rm.groups(g)) for g in rm.groupings)
    n_perm = min(n_perm, max(199, _PERMUTATION_BUDGET // most))
    fam, hyp = _family(rm, samples, cfg.n_boot, n_perm, ctx.rng("fairness.evidence"), equal)
    unit = ctx.regression.unit if ctx.regression is not None else None
    target = ctx.regression.target if ctx.regression is not None else None
    c = rec.RCtx(rm, iv, samples, fam, hyp, equal, cfg.ci_level, cfg.min_group_size, unit)
    metrics, tables, small = rec.records(c)
    target_std = rm.target_std()
    findings = story(
        c, small, subject=str(common.subject), target=target, target_std=target_std, alpha=alpha
    )
    info = _info(ctx, rm, c, feats, target_std, alpha, n_perm)
    metrics += _custom(ctx, getattr(options, "custom_metrics", None), groupings, info)
    return SectionResult(
        name=SECTION,
        status="ok",
        metrics=tuple(metrics),
        tables=tuple(tables),
        findings=tuple(findings),
        charts=tuple(_charts(c)),
        info=info,
    )


def _custom(
    ctx: AuditContext, raw: Any, groupings: list[tuple[str, ...]], info: dict[str, Any]
) -> list[MetricValue]:
    """Return the records of a user's own metrics ``f(y_true, y_pred)`` (rows only)."""
    custom = _check_custom(raw)
    if not custom:
        return []
    for name in custom:
        clash = [x for x in (name, name.removesuffix("_difference"), name.removesuffix("_ratio"))
                 if x in rec.GROUP_METRICS or x == "mean_error_at_equal_target"]  # fmt: skip
        if clash:
            raise ParameterError(
                f"custom_metrics name {name!r} clashes with the built-in regression fairness "
                f"metric {clash[0]!r}; choose another name."
            )
    r = ctx.regression
    if r is None:
        info["custom_metrics"] = {
            "names": sorted(custom), "status": "skipped",
            "reason": "custom metrics need the rows; this log was reduced to count tables",
        }  # fmt: skip
        return []
    singles = [g for g in groupings if len(g) == 1]
    full = [g for g in groupings if len(g) > 1][-1:]
    recs, c_info = _custom_records(ctx, custom, singles + full, r.y_true, r.y_pred)
    info["custom_metrics"] = {
        "names": sorted(custom),
        "labels": "regression: true and predicted values",
        **c_info,
    }
    return recs


def _features(ctx: AuditContext) -> tuple[str, ...]:
    """Return the sensitive features (of the count table, or the sensitive columns)."""
    counts = ctx.regression_counts
    if counts is not None:
        return tuple(str(f) for f in counts.features)
    return tuple(str(col) for col in ctx.sensitive.columns)


def _groupings(feats: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Each feature, the first pair when there are 3+, and all features (as classification)."""
    out: list[tuple[str, ...]] = [(f,) for f in feats]
    if len(feats) >= 3:
        out.append(feats[:2])
    if len(feats) >= 2:
        out.append(feats)
    return out


def _engine(
    ctx: AuditContext, feats: tuple[str, ...], groupings: list[tuple[str, ...]]
) -> RegressionMetrics:
    """Run the regression engine with the reference groups of ``AuditConfig``."""
    given = dict(ctx.config.reference_groups)
    for f in given:
        if f not in feats:
            raise ParameterError(
                f"reference_groups names {f!r}, which is not a sensitive feature; the "
                f"sensitive features are: {', '.join(feats)}."
            )
    ref: dict[Any, Any] = {(f,): str(v) for f, v in given.items()}

    def build(reference: Mapping[Any, Any]) -> RegressionMetrics:
        counts = ctx.regression_counts
        if counts is not None:
            return regression_from_count_table(
                dict(counts.sums),
                None if counts.histogram is None else dict(counts.histogram),
                sensitive_features=list(feats),
                groupings=groupings,
                reference=reference,
            )
        r = ctx.regression
        assert r is not None
        return regression_metrics(
            r.y_true,
            r.y_pred,
            ctx.sensitive[list(feats)],
            sample_weight=r.sample_weight,
            groupings=groupings,
            reference=reference,
        )

    try:
        rm = build(ref)
    except ParameterError as exc:
        raise ParameterError(f"reference_groups: {exc}") from exc
    for (f,), want in ((k, v) for k, v in ref.items()):
        n = {str(g): float(k) for g, k in rm.by_group("count", f).items()}
        if n.get(want, 0.0) <= 0:
            have = ", ".join(g for g, k in n.items() if k > 0)
            raise ParameterError(
                f"reference_groups[{f!r}] = {want!r} is not a group of {f!r} with rows; its "
                f"groups are: {have}."
            )
    extra = {}
    for g in groupings:  # an intersection whose features all name a reference
        if len(g) > 1 and all(f in given for f in g):
            want_t = tuple(str(given[f]) for f in g)
            labels = [tuple(str(x) for x in lab) for lab in rm.groups(g)]
            n = rm.by_group("count", g).to_numpy()
            if want_t in labels and n[labels.index(want_t)] > 0:
                extra[g] = want_t
    return build({**ref, **extra}) if extra else rm


def _bootstrap(
    rm: RegressionMetrics, n_boot: int, rng: np.random.Generator, level: float
) -> tuple[Intervals | None, dict[Key, np.ndarray] | None]:
    """Percentile intervals of every quantity and the replicates (None when ``n_boot`` is 0)."""
    if n_boot <= 0:
        return None, None
    samples = rm.bootstrap_samples(n_boot, rng)
    low, high = {}, {}
    for key, arr in samples.items():
        low[key], high[key] = percentile_interval(arr, level)
    return Intervals(low=low, high=high, n_boot=n_boot, level=level), samples


def _family(
    rm: RegressionMetrics, samples: dict[Key, np.ndarray] | None, n_boot: int, n_perm: int,
    rng: np.random.Generator, equal: Mapping[tuple[str, ...], Any],
) -> tuple[Family, dict[Key, Any]]:  # fmt: skip
    """One Benjamini-Hochberg family: the engine's tests and the equal-target tests.

    Returns the family and the hypothesis of every engine key (a difference and a ratio of one
    comparison share one hypothesis, so it counts once).
    """
    fam = Family()
    hyp: dict[Key, Any] = {}
    if samples is not None:
        raw = rm.pvalues(n_boot, rng, samples=samples, n_perm=n_perm)
        for key, (p, _) in raw.items():
            base = key.name.removesuffix("_difference").removesuffix("_ratio")
            h = ("engine", base, key.features, key.label, key.part)
            hyp[key] = h
            fam.add(h, None if not np.isfinite(p) else p)
    for feats, res in equal.items():
        for i, p in enumerate(np.asarray(res["p_value"]).tolist()):
            fam.add(("equal_target", feats, i), None if not np.isfinite(p) else p)
    return fam, hyp


def _info(
    ctx: AuditContext, rm: RegressionMetrics, c: rec.RCtx, feats: tuple[str, ...],
    target_std: float, alpha: float, n_perm: int,
) -> dict[str, Any]:  # fmt: skip
    """Return the section's ``info``: settings, references, how the evidence is tested."""
    cfg = ctx.config
    r = ctx.regression
    counts = ctx.regression_counts
    me = threshold("fairness", "mean_error_difference")
    info: dict[str, Any] = {
        "task": "regression",
        "sensitive_features": list(feats),
        "groupings": [list(g) for g in rm.groupings],
        "target": r.target if r is not None else None,
        "unit": c.unit,
        "target_mean": rm.overall("mean_target"),
        "target_std": target_std if np.isfinite(target_std) else None,
        "n_boot": cfg.n_boot,
        "ci_level": cfg.ci_level,
        "ci_method": (
            "bootstrap percentile: Poisson multiplicities of row blocks (512 per group cell) for "
            "the means and errors, multinomial cell counts of the histograms for the "
            "distribution gaps; normal intervals for the mean error at equal true values"
            if cfg.n_boot > 0
            else "none (n_boot=0)"
        ),  # fmt: skip
        "min_group_size": cfg.min_group_size,
        "engine": "regression count table (auditkit.metrics.regression); values equal "
        "Fairlearn MetricFrame with scikit-learn's regression metrics",
        "weighted": bool(rm.weighted),
        "order_statistics": "exact (rows)" if rm.exact else "histogram (count table)",
        "reference_groups": {
            " × ".join(g): " × ".join(str(x) for x in rm.reference_group(g)) for g in rm.groupings
        },
        "reference_groups_chosen": {
            " × ".join(g): _how(rm, g, cfg.reference_groups) for g in rm.groupings
        },
        "thresholds": {
            "mean_error_gap": f"{me.pass_at:g} (amber) and {me.fail_at:g} (red) × the target's "
            "standard deviation"
            + (
                f" = {me.pass_at * target_std:.4g} and {me.fail_at * target_std:.4g}"
                if np.isfinite(target_std)
                else ""
            ),
            "mean_absolute_error_ratio": "below 0.8 amber, below 2/3 red (a group against "
            "the reference, either way)",
            "prediction_ks_gap": "above 0.1 amber, above 0.2 red (at most amber in findings: "
            "a different distribution of predictions can follow from different true values)",
        },  # fmt: skip
        "evidence": _evidence_info(c, alpha, n_perm),
        "mitigation": {"status": "skipped", "reason": "ThresholdOptimizer is for classifiers"},
    }
    if counts is not None:
        info["reduced_in"] = counts.engine
        if counts.histogram is None:
            info["distribution_gaps"] = (
                "not computed: the reduced log has no histogram table (median absolute error, "
                "distribution gaps and the bias at equal true values need one)"
            )
    if not c.equal:
        info["equal_target"] = (
            "not computed: no histogram of the true values (kind 'target') in the table"
        )
    else:
        spread = str(next(iter(c.equal.values()))["spread"])
        info["equal_target"] = (
            "mean residual within each of the equal-width bins of the true value, averaged with "
            "the whole population's share of each bin over the bins where the group has rows; "
            + ("within-bin spread from the histogram's residual_sq_sum" if spread == "within_bin"
               else "the histogram has no residual_sq_sum, so the intervals use the group's "
               "whole residual spread (wider, conservative)")
        )  # fmt: skip
    return info


def _how(rm: RegressionMetrics, g: tuple[str, ...], given: Mapping[str, str]) -> str:
    """Say how the reference group of grouping ``g`` was chosen."""
    ref = tuple(str(x) for x in rm.reference_group(g))
    if all(f in given for f in g) and ref == tuple(str(given[f]) for f in g):
        return "given in reference_groups" if len(g) == 1 else (
            "the combination of the features' reference_groups"
        )  # fmt: skip
    return "largest group"


def _evidence_info(c: rec.RCtx, alpha: float, n_perm: int) -> dict[str, Any]:
    return {
        "tests": {
            "between_groups, to_overall": "null-shifted bootstrap (Hall & Wilson 1991): each "
            "group's bootstrap deviation stands for its sampling error around a common value, "
            "which allows groups of different spread; p = (1 + #{as extreme}) / "
            "(1 + replicates); a ratio shares its difference's p-value",
            "to_reference": "Wald test of the group's difference to the reference with its "
            "bootstrap standard error (two-sided normal); a ratio shares its difference's "
            "p-value",
            "prediction_ks_gap, prediction_wasserstein_gap": "exact permutation of the binned "
            f"predictions (multivariate hypergeometric bin counts), {n_perm} permutations",
            "mean_error_at_equal_target_difference": "two-sided z-test of the standardised "
            "difference (independent cell means, fixed population shares)",
        },
        "multiple_comparisons": "Benjamini-Hochberg over the family of every test of this "
        "section (all groupings, metrics and methods); a difference and a ratio of the same "
        "comparison count once",
        "family_size": len(c.fam),
        "alpha": alpha,
        "evidence_words": f"strong: p_adjusted < {min(0.001, alpha):g}; moderate: < "
        f"{min(0.01, alpha):g}; weak: < {alpha:g}; none otherwise",
        "severity": "a finding is fail/warn only when the gap is beyond the catalog's threshold "
        "and p_adjusted < alpha; groups flagged too_small never drive a finding and are listed "
        "in a note of their own",
    }


def _charts(c: rec.RCtx) -> list[Chart]:
    """Per single feature: the bias by group (at equal true values when known) and the MAE."""
    out: list[Chart] = []
    rm = c.rm
    unit = f" ({c.unit})" if c.unit else ""
    for feats in rm.groupings:
        if len(feats) != 1:
            continue
        labels = [str(g[0]) for g in rm.groups(feats)]
        eq = c.equal.get(feats)
        if eq is not None:
            vals, lows, highs = eq["value"], eq["low"], eq["high"]
            name, what = "mean_error_at_equal_target", "at equal true values"
        else:
            key = Key("mean_error", feats, None, "group")
            vals = rm.values[key]
            lows, highs = c.ci_arrays(key, len(vals))
            name, what = "mean_error", "against each row's own true value"
        out.append(_bar(f"{name}_{feats[0]}", f"Bias by {feats[0]} ({what})", labels, vals,
                        lows, highs, 0.0, f"mean error{unit}", feats[0],
                        "Average of prediction minus true value per group: right of 0 the "
                        "model predicts too much, left too little. Whiskers: intervals; the "
                        "line at 0 is no bias."))  # fmt: skip
        key = Key("mean_absolute_error", feats, None, "group")
        vals = rm.values[key]
        lows, highs = c.ci_arrays(key, len(vals))
        out.append(_bar(f"mean_absolute_error_{feats[0]}", f"Typical miss by {feats[0]}", labels,
                        vals, lows, highs, None, f"mean absolute error{unit}", feats[0],
                        "Average distance between prediction and true value per group, with "
                        "bootstrap intervals."))  # fmt: skip
    return out


def _bar(
    name: str, title: str, labels: list[str], vals: Any, lows: Any, highs: Any,
    reference: float | None, xlabel: str, ylabel: str, description: str,
) -> Chart:  # fmt: skip
    def clean(x: Any) -> list[float | None]:
        return [float(v) if v is not None and np.isfinite(v) else None for v in x]

    return Chart(
        name=name,
        kind="bar",
        title=title,
        data={
            "labels": labels,
            "values": clean(vals),
            "lows": clean(lows),
            "highs": clean(highs),
            "reference": reference,
            "xlabel": xlabel,
            "ylabel": ylabel,
            "horizontal": True,
        },  # fmt: skip
        description=description,
    )
