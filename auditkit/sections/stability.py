"""Stability section: how much the performance and fairness figures move across folds.

A model that can be retrained is retrained on ``k`` folds of its training data (``options=
{"cv": k}``, default 5; ``StratifiedKFold(k, shuffle=True, random_state=seed)``) and each fold
model is scored on its held-out fold. For a scikit-learn estimator the fold scores equal
``sklearn.model_selection.cross_validate(clone(est), X, y, cv=StratifiedKFold(k, shuffle=True,
random_state=seed))``. A model that cannot be retrained (a callable, a bare torch module, a log
of predictions) is re-evaluated on ``k`` bootstrap resamples of the evaluation data instead, and
the section says so.

Records (section ``"stability"``): per fold, the metric's usual name with ``fold`` set
(``accuracy``, ``balanced_accuracy``, ``roc_auc``, ``log_loss``; for binary tasks with sensitive
features, ``demographic_parity_difference``, ``demographic_parity_ratio`` and
``equalized_odds_difference`` per sensitive feature); across folds, ``<name>_mean``,
``<name>_std`` (population standard deviation, as scikit-learn's ``std_test_score``),
``<name>_min`` and ``<name>_max`` with ``fold`` null. A finding flags a four-fifths-rule verdict
(``demographic_parity_ratio >= four_fifths_threshold``, default 0.8, the lowest group selection
rate over the highest) that flips between folds; folds where a group is too small to judge do
not count. A spread of accuracy, balanced accuracy or ROC AUC above 0.02 across retrained folds
is a warning only when it exceeds what sampling noise alone gives with folds of that size:
Cochran's Q test of heterogeneity over the folds (binomial variance for accuracy, with the
effective size ``C^2 / sum(1/n_c)`` for balanced accuracy, Hanley and McNeil's variance for ROC
AUC) must give a p-value below ``1 - ci_level``; otherwise the spread is reported as not
distinguishable from noise. The ``<name>_std`` record of those three carries that p-value
(``p_value``, ``test="cochran_q"``), so the card's light follows the same evidence.

A regression (``ctx.task == "regression"``) runs :mod:`._regression_stability`: ``KFold``
fold models, per-fold MAE, RMSE, R² and mean error, and the spread of each row's prediction
across the fold models.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .._core.catalog import NOT_DISTINGUISHABLE, evidence_word, threshold
from ..exceptions import DataValidationError
from ..inputs.context import AuditContext
from ..inputs.options import CommonOptions
from ..result.records import Chart, Finding, MetricValue, SectionResult, Severity, Table
from ._folds import Folds, get_folds
from .registry import SECTIONS

#: The four-fifths rule: a selection-rate ratio below this fails.
FOUR_FIFTHS = threshold("fairness", "demographic_parity_ratio").pass_at
#: Fold-to-fold standard deviation of a performance score above which the section warns.
UNSTABLE_STD = threshold("stability", "accuracy_std").pass_at

PERFORMANCE_METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "log_loss")
FAIRNESS_METRICS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
)
_LABELS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "roc_auc": "ROC AUC",
    "log_loss": "log loss",
    "demographic_parity_difference": "demographic parity difference",
    "demographic_parity_ratio": "demographic parity ratio (four-fifths rule)",
    "equalized_odds_difference": "equalized odds difference",
}


def performance_scores(
    y: np.ndarray,
    pred: np.ndarray,
    proba: np.ndarray | None,
    n_classes: int,
    pos_label: int | None,
) -> dict[str, tuple[float | None, str | None]]:
    """Return ``{name: (value, reason)}`` for the performance metrics of one fold.

    The values are scikit-learn's: ``accuracy_score``, ``balanced_accuracy_score``,
    ``roc_auc_score`` (binary: the positive class's probability; multiclass: one-vs-rest,
    macro average) and ``log_loss`` over all classes.
    """
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, log_loss, roc_auc_score

    out: dict[str, tuple[float | None, str | None]] = {
        "accuracy": (float(accuracy_score(y, pred)), None),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class absent from y_pred warns; the value stands
        out["balanced_accuracy"] = (float(balanced_accuracy_score(y, pred)), None)
    if proba is None:
        return out
    present = np.unique(y)
    if len(present) < 2:
        out["roc_auc"] = (None, "only one class in this fold's held-out rows")
    elif n_classes == 2:
        pos = 1 if pos_label is None else pos_label
        out["roc_auc"] = (float(roc_auc_score(y == pos, proba[:, pos])), None)
    elif len(present) < n_classes:
        out["roc_auc"] = (None, "a class is missing from this fold's held-out rows")
    else:
        out["roc_auc"] = (
            float(
                roc_auc_score(
                    y, proba, multi_class="ovr", average="macro", labels=np.arange(n_classes)
                )
            ),
            None,
        )
    sums = proba.sum(axis=1, keepdims=True)
    if not np.allclose(sums, 1.0, rtol=1e-15, atol=5 * np.finfo(np.float64).eps):
        proba = proba / sums  # float32 models: renormalise as scikit-learn asks
    out["log_loss"] = (float(log_loss(y, proba, labels=np.arange(n_classes))), None)
    return out


def fairness_disparities(
    y_true: np.ndarray, y_pred: np.ndarray, sensitive: Mapping[str, np.ndarray]
) -> dict[str, tuple[dict[str, float], dict[str, int]]]:
    """Return the disparities and group sizes of each sensitive feature.

    ``y_true`` and ``y_pred`` are 0/1 (1 = the favourable class). For each feature:
    ``({"demographic_parity_difference": ..., "demographic_parity_ratio": ...,
    "equalized_odds_difference": ...}, {group: rows})``. Fairlearn's definitions
    (``between_groups``), computed by the fairness engine from one count table.
    """
    from ..metrics.engine import group_metrics

    cols = {str(c): np.asarray(v, dtype=object).astype(str) for c, v in sensitive.items()}
    gm = group_metrics(y_true, y_pred, cols, pos_label=1, groupings=[(c,) for c in cols])
    out = {}
    for c in cols:
        vals = {name: gm.disparity(name, c) for name in FAIRNESS_METRICS}
        sizes = {str(g[0]): int(n) for g, n in zip(gm.groups(c), gm.counts(c).tolist())}
        out[c] = (vals, sizes)
    return out


def _fairness_for_fold(
    ctx: AuditContext, y: np.ndarray, pred: np.ndarray, sens: Any, pos: int
) -> list[tuple[str, str, float | None, tuple[str, ...], str | None]]:
    """(name, feature, value, flags, reason) per sensitive feature of one fold."""
    out = []
    yb = (y == pos).astype(np.int64)
    pb = (pred == pos).astype(np.int64)
    cols = {str(c): sens[c].to_numpy() for c in sens.columns}
    min_n = ctx.config.min_group_size
    for col, (vals, sizes) in fairness_disparities(yb, pb, cols).items():
        small = [f"'{g}' ({n} rows)" for g, n in sizes.items() if n < min_n]
        flags: tuple[str, ...] = ("too_small",) if small else ()
        reason = (
            f"groups smaller than {min_n} rows in this fold: " + ", ".join(small)
            if small
            else None
        )
        for name, v in vals.items():
            val = v if np.isfinite(v) else None
            why = reason if val is not None else "undefined (no group has a positive rate)"
            out.append((name, col, val, flags, why))
    return out


def _hanley_mcneil_var(auc: float, n_pos: int, n_neg: int) -> float:
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    return (
        auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)
    ) / max(n_pos * n_neg, 1)


def spread_p_value(name: str, values: Sequence[float | None], folds: Folds) -> float | None:
    """Return Cochran's Q p-value of "every fold has the same true ``name``" (None: no test).

    Only for retrained folds (``mode="refit"``) with their held-out rows known; each fold's
    sampling variance comes from its held-out rows (see the module docstring).
    """
    from scipy.stats import chi2

    if folds.mode != "refit" or len(folds.test_index) != len(values):
        return None
    if name not in ("accuracy", "balanced_accuracy", "roc_auc"):
        return None
    xs: list[float] = []
    sizes: list[tuple[int, np.ndarray]] = []
    for i, v in enumerate(values):
        if v is None:
            continue
        y = np.asarray(folds.y)[folds.test_index[i]]
        if len(y) == 0:
            continue
        counts = np.bincount(y)
        xs.append(float(v))
        sizes.append((len(y), counts[counts > 0]))
    if len(xs) < 2:
        return None
    # variances under the null (every fold has the same value): at the pooled value
    pooled = float(np.average(xs, weights=[n for n, _ in sizes]))
    pooled = min(max(pooled, 1e-6), 1 - 1e-6)
    ws = []
    for n, counts in sizes:
        c = max(len(counts), 2)
        if name == "accuracy":
            var = pooled * (1 - pooled) / n
        elif name == "balanced_accuracy":
            n_eff = c * c / float(np.sum(1.0 / counts)) if len(counts) > 1 else n
            var = pooled * (1 - pooled) / n_eff
        else:
            n_pos = int(counts.min()) if len(counts) == 2 else max(n // c, 1)
            var = _hanley_mcneil_var(pooled, n_pos, max(n - n_pos, 1))
        ws.append(1.0 / max(var, 1e-12))
    x, w = np.asarray(xs), np.asarray(ws)
    mean = float(np.sum(w * x) / np.sum(w))
    q = float(np.sum(w * (x - mean) ** 2))
    return float(chi2.sf(q, len(xs) - 1))


_STATS: dict[str, Callable[[np.ndarray], Any]] = {
    "mean": np.mean,
    "std": np.std,
    "min": np.min,
    "max": np.max,
}


def _summaries(
    name: str,
    values: Sequence[float | None],
    feature: tuple[str, ...] | None,
    method: str | None,
) -> list[MetricValue]:
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    out = []
    for stat in ("mean", "std", "min", "max"):
        if len(v) == 0:
            out.append(
                MetricValue(
                    section="stability",
                    name=f"{name}_{stat}",
                    value=None,
                    feature=feature,
                    method=method,
                    n=0,
                    reason="undefined in every fold",
                )
            )
            continue
        val = _STATS[stat](v)
        out.append(
            MetricValue(
                section="stability",
                name=f"{name}_{stat}",
                value=float(val),
                feature=feature,
                method=method,
                n=len(v),
            )
        )
    return out


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


class StabilitySection:
    """Cross-validation by retraining (or bootstrap re-evaluation): spread across folds."""

    name = "stability"
    requires: tuple[str, ...] = ()

    def run(self, ctx: AuditContext) -> SectionResult:
        """Compute the section (see the module docstring).

        When no fold model can be had (fewer rows than folds, a model that cannot be retrained
        on these data, every fold's training rows of one class) the section is ``skipped``
        with the reason; a single fold that cannot be retrained is left out of the spread,
        its records ``None`` with the reason and the flag ``"skipped"``.
        """
        if ctx.task == "regression":
            from ._regression_stability import run_regression_stability

            return run_regression_stability(ctx)
        try:
            folds = get_folds(ctx)
        except DataValidationError as exc:
            return SectionResult(name=self.name, status="skipped", reason=str(exc))
        p = ctx.predictions
        binary = p.task == "binary" and p.pos_label is not None
        sens = folds.sensitive
        has_sens = sens is not None and getattr(sens, "shape", (0, 0))[1] > 0
        per_fold: dict[tuple[str, str | None], list[float | None]] = {}
        records: list[MetricValue] = []
        small_folds: dict[tuple[str, str], set[int]] = {}
        for i in range(folds.k):
            idx = folds.test_index[i]
            skip = folds.skip_reason(i)
            if skip is not None:
                records += self._skipped_fold(
                    i, len(idx), skip, per_fold, sens, binary and has_sens
                )
                continue
            y = folds.y[idx]
            pred = folds.pred[i]
            proba = folds.proba[i]
            for name, (val, why) in performance_scores(
                y, pred, proba, p.n_classes, p.pos_label
            ).items():
                records.append(
                    MetricValue(
                        section="stability", name=name, value=val, fold=i, n=len(idx), reason=why
                    )
                )
                per_fold.setdefault((name, None), []).append(val)
            if binary and has_sens:
                assert p.pos_label is not None
                s = sens.iloc[idx].reset_index(drop=True)
                for name, col, val, flags, why in _fairness_for_fold(ctx, y, pred, s, p.pos_label):
                    if "too_small" in flags:
                        small_folds.setdefault((name, col), set()).add(i)
                    records.append(
                        MetricValue(
                            section="stability",
                            name=name,
                            value=val,
                            feature=(col,),
                            fold=i,
                            n=len(idx),
                            method="between_groups",
                            flags=flags,
                            reason=why,
                        )
                    )
                    per_fold.setdefault((name, col), []).append(val)
        summaries: list[MetricValue] = []
        for (name, feat), vals in per_fold.items():
            summaries += _summaries(
                name,
                vals,
                (feat,) if feat is not None else None,
                "between_groups" if feat is not None else None,
            )
        for j, m in enumerate(summaries):  # the evidence the lights read for a fold spread
            base = m.name.removesuffix("_std")
            if m.feature is None and m.name.endswith("_std") and m.value is not None:
                p_spread = spread_p_value(base, per_fold.get((base, None), []), folds)
                if p_spread is not None:
                    summaries[j] = replace(m, p_value=p_spread, test="cochran_q")
        findings = self._findings(ctx, folds, per_fold, small_folds)
        info: dict[str, Any] = {
            "mode": folds.mode,
            "k": folds.k,
            "data": folds.source,
            "splitter": folds.splitter,
            "seed": folds.seed,
            "n_rows": folds.n,
            "notes": list(folds.notes),
            "description": self._description(ctx, folds),
        }
        if not binary:
            info["fairness_note"] = (
                "Fold-level fairness disparities are computed for binary tasks only."
            )
        elif not has_sens:
            info["fairness_note"] = "No sensitive features for the fold rows."
        return SectionResult(
            name=self.name,
            status="ok",
            metrics=tuple(records + summaries),
            tables=(self._table(folds, per_fold),),
            findings=tuple(findings),
            charts=tuple(self._charts(folds, per_fold)),
            info=info,
        )

    @staticmethod
    def _skipped_fold(
        i: int,
        n: int,
        why: str,
        per_fold: dict[tuple[str, str | None], list[float | None]],
        sens: Any,
        fairness: bool,
    ) -> list[MetricValue]:
        """Return the records of a fold without a model: values None, the reason, "skipped".

        Retrained folds always have probabilities, so the fold has every performance record.
        """
        reason = f"fold not retrained: {why}"
        keys: list[tuple[str, str | None]] = [(nm, None) for nm in PERFORMANCE_METRICS]
        if fairness:
            keys += [(nm, str(c)) for c in sens.columns for nm in FAIRNESS_METRICS]
        out = []
        for name, col in keys:
            out.append(
                MetricValue(
                    section="stability",
                    name=name,
                    value=None,
                    feature=(col,) if col is not None else None,
                    fold=i,
                    n=n,
                    method="between_groups" if col is not None else None,
                    flags=("skipped",),
                    reason=reason,
                )
            )
            per_fold.setdefault((name, col), []).append(None)
        return out

    # -- presentation --------------------------------------------------------------------
    @staticmethod
    def _description(ctx: AuditContext, folds: Folds) -> str:
        if folds.mode == "bootstrap":
            return folds.notes[0]
        data = "training data" if folds.source == "train" else "evaluation data"
        strat = "stratified by class, " if folds.splitter == "StratifiedKFold" else ""
        return (
            f"The model was retrained {folds.k} times with the same settings, each time on "
            f"{folds.k - 1} of {folds.k} parts of the {data} ({folds.n} rows, split "
            f"{strat}shuffled with seed {folds.seed}), and scored on the part it did not see."
        )

    @staticmethod
    def _findings(
        ctx: AuditContext,
        folds: Folds,
        per_fold: dict[tuple[str, str | None], list[float | None]],
        small_folds: Mapping[tuple[str, str], set[int]] | None = None,
    ) -> list[Finding]:
        out = [Finding("stability", "info", n) for n in folds.notes]
        level = float(ctx.config.ci_level)
        four_fifths = float(ctx.options_for(CommonOptions).four_fifths_threshold)
        unit = "folds" if folds.mode == "refit" else "resamples"
        for name in ("accuracy", "balanced_accuracy", "roc_auc"):
            got = [v for v in per_fold.get((name, None), []) if v is not None]
            if len(got) < 2:
                continue
            sd = float(np.std(got))
            p = spread_p_value(name, per_fold.get((name, None), []), folds)
            noise = sd > UNSTABLE_STD and p is not None and not p < 1.0 - level
            sev: Severity = "warn" if sd > UNSTABLE_STD and not noise else "info"
            label = _LABELS[name][0].upper() + _LABELS[name][1:]
            text = (
                f"{label} ranges from {min(got):.3f} to {max(got):.3f} "
                f"across {len(got)} {unit} (mean {np.mean(got):.3f}, standard deviation "
                f"{sd:.3f})."
            )
            p_txt = f" (heterogeneity test p = {p:.2g})" if p is not None else ""
            if sev == "warn":
                text += f" That is a large spread{p_txt}: single-number results are not reliable."
            elif noise:
                text += (
                    f" The spread is what sampling noise alone gives with folds of this size"
                    f"{p_txt}: {NOT_DISTINGUISHABLE.replace('no gap', 'a stable model')}."
                )
            out.append(
                Finding("stability", sev, text, metric=f"stability.{name}_std",
                        evidence=evidence_word(p, level))
            )  # fmt: skip
        for (name, col), vals in per_fold.items():
            if name != "demographic_parity_ratio" or col is None:
                continue
            small = (small_folds or {}).get((name, col), set())
            known = [v for i, v in enumerate(vals) if v is not None and i not in small]
            left_out = sum(1 for i, v in enumerate(vals) if v is not None and i in small)
            aside = (
                f" {left_out} of the {unit} with a group too small to judge are left out."
                if left_out else ""
            )  # fmt: skip
            if not known:
                if left_out:
                    out.append(
                        Finding(
                            "stability", "info",
                            f"The four-fifths rule verdict for {col!r} is not judged across "
                            f"{unit}: every one has a group too small to judge.",
                            metric="stability.demographic_parity_ratio",
                        )
                    )  # fmt: skip
                continue
            passes = sum(v >= four_fifths for v in known)
            rng = f"{min(known):.2f} to {max(known):.2f}"
            if 0 < passes < len(known):
                out.append(
                    Finding(
                        "stability",
                        "warn",
                        f"The four-fifths rule verdict for {col!r} flips between {unit}: the "
                        f"selection-rate ratio passes (at least {four_fifths:g}) in {passes} of "
                        f"{len(known)} {unit} and fails in the others (ratio {rng}). The fairness "
                        "verdict on one split of the data should not be trusted on its own."
                        + aside,
                        metric="stability.demographic_parity_ratio",
                    )
                )
            else:
                verdict = "passes" if passes else "fails"
                out.append(
                    Finding(
                        "stability",
                        "info",
                        f"The four-fifths rule verdict for {col!r} is the same in every one of "
                        "the "
                        f"{len(known)} {unit}: it {verdict} (selection-rate ratio {rng})." + aside,
                        metric="stability.demographic_parity_ratio",
                    )
                )
        return out

    @staticmethod
    def _table(folds: Folds, per_fold: dict[tuple[str, str | None], list[float | None]]) -> Table:
        unit = "fold" if folds.mode == "refit" else "resample"
        cols = ("metric", "sensitive feature", "mean", "std", "min", "max") + tuple(
            f"{unit} {i}" for i in range(folds.k)
        )
        rows = []
        for (name, col), vals in per_fold.items():
            v = [x for x in vals if x is not None]
            stats: list[float | None] = (
                [float(np.mean(v)), float(np.std(v)), float(np.min(v)), float(np.max(v))]
                if v
                else [None] * 4
            )
            rows.append((name, col or "", *stats, *vals))
        note = (
            "Each fold model is scored on the rows it did not train on; std is the population "
            "standard deviation across folds."
            if folds.mode == "refit"
            else "The model is re-evaluated on bootstrap resamples of the evaluation data (it "
            "cannot "
            "be retrained)."
        )
        return Table(
            name="stability_summary",
            title=f"Figures across {folds.k} {unit}s",
            columns=cols,
            rows=tuple(rows),
            note=note,
        )

    @staticmethod
    def _charts(
        folds: Folds, per_fold: dict[tuple[str, str | None], list[float | None]]
    ) -> list[Chart]:
        unit = "fold" if folds.mode == "refit" else "resample"
        xs = [float(i) for i in range(folds.k)]
        series = [
            {"name": _LABELS[name], "x": xs, "y": per_fold[(name, None)]}
            for name in ("accuracy", "balanced_accuracy", "roc_auc")
            if (name, None) in per_fold
        ]
        charts = [
            Chart(
                name="stability_performance",
                kind="line",
                title=f"Performance in each {unit}",
                data={
                    "series": series,
                    "xlabel": unit,
                    "ylabel": "score",
                    "diagonal": False,
                    "logx": False,
                },
                description=f"Each point is one {unit}; flat lines mean stable performance.",
            )
        ]
        for (name, col), vals in per_fold.items():
            if name != "demographic_parity_ratio" or col is None:
                continue
            charts.append(
                Chart(
                    name=f"stability_four_fifths_{col}",
                    kind="bar",
                    title=f"Selection-rate ratio for {col} in each {unit}",
                    data={
                        "labels": [f"{unit} {i}" for i in range(folds.k)],
                        "values": vals,
                        "lows": None,
                        "highs": None,
                        "reference": FOUR_FIFTHS,
                        "xlabel": unit,
                        "ylabel": "lowest / highest group selection rate",
                        "horizontal": False,
                    },
                    description="Bars below the dashed line fail the four-fifths rule.",
                )
            )
        return charts


SECTIONS.register("stability")(StabilitySection())
