"""Privacy: membership-inference attacks (scores, records, findings, charts and table)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .._core.catalog import evidence_p, evidence_word, threshold
from ..exceptions import ParameterError
from ..inputs.context import AuditContext
from ..inputs.options import SectionOptions, option, register
from ..metrics.evidence import holm
from ..result.records import Chart, Finding, MetricValue, Severity, Table
from ._folds import fold_models_proba, get_folds, take_rows
from ._mia import (
    attack_metrics,
    bootstrap_attack_metrics,
    loss_attack_scores,
    reference_attack_scores,
    roc_curve_points,
    roc_on_grid,
    true_class_proba,
)

#: Metric record names and the ``attack_metrics`` keys they come from.
ATTACK_METRICS = {
    "membership_auc": "auc",
    "membership_advantage": "advantage",
    "membership_tpr_at_1pct_fpr": "tpr_at_0.01",
    "membership_tpr_at_0_1pct_fpr": "tpr_at_0.001",
}


ATTACK_LABELS = {"loss": "loss-threshold attack", "reference": "reference-model attack"}


#: Attack AUC at or above which the section warns, and fails.
AUC_WARN, AUC_FAIL = threshold("privacy", "membership_auc").bounds()


@register
@dataclass(frozen=True)
class PrivacyOptions(SectionOptions):
    """The privacy section's options (``audit(..., options={...})``); ``cv`` is a fold option."""

    owner = "privacy"

    privacy_max_rows: int = option(
        10000,
        low=1,
        doc="Training rows sampled as members for the membership-inference attacks (as many "
        "non-members).",
    )
    privacy_population: int = option(
        5000,
        low=1,
        doc="Evaluation rows, apart from the non-members, that the reference attack compares "
        "each row with.",
    )
    membership_reference: bool = option(
        True, doc="Whether to run the reference-model attack (it retrains the fold models)."
    )
    rmia_offline_a: float = option(
        0.3,
        low=0.0,
        high=1.0,
        doc="The coefficient of offline RMIA's estimate of a row's likelihood from its 'out' "
        "reference model.",
    )


# ----------------------------------------------------------------------------- sampling
def _sample_rows(
    ctx: AuditContext, *, n_train: int, n_eval: int, with_population: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return sorted indices of members (train rows), non-members and population (eval rows).

    Members and non-members are balanced; the population (only for the reference attack) is
    drawn from evaluation rows that are not non-members.
    """
    opts = ctx.options_for(PrivacyOptions)
    max_rows, max_pop = opts.privacy_max_rows, opts.privacy_population
    rng = ctx.rng("privacy")
    m = min(n_train, n_eval // 2 if with_population else n_eval, max_rows)
    members = np.sort(rng.choice(n_train, size=m, replace=False))
    perm = rng.permutation(n_eval)
    non_members = np.sort(perm[:m])
    population = np.sort(perm[m : m + max_pop]) if with_population else np.zeros(0, np.int64)
    return members, non_members, population


# ------------------------------------------------------------------------------ records
def _attack_records(
    ctx: AuditContext,
    attack: str,
    s_in: np.ndarray,
    s_out: np.ndarray,
    *,
    feature: tuple[str, ...] | None = None,
    group: tuple[str, ...] | None = None,
    flags: tuple[str, ...] = (),
    reason: str | None = None,
) -> tuple[list[MetricValue], dict[str, float]]:
    vals = attack_metrics(s_in, s_out)
    salt = f"privacy-boot-{attack}-{feature}-{group}"
    cis = bootstrap_attack_metrics(
        s_in, s_out, n_boot=ctx.config.n_boot, rng=ctx.rng(salt), ci_level=ctx.config.ci_level
    )
    n = len(s_in) + len(s_out)
    out = []
    for name, key in ATTACK_METRICS.items():
        f, why = flags, reason
        if key == "tpr_at_0.001" and len(s_out) < 1000 and why is None:
            f = (*flags, "low_resolution")
            why = (
                f"only {len(s_out)} non-members: an FPR of 0.1% cannot be resolved, so this is "
                "the TPR at the lowest FPR measurable"
            )
        elif key == "tpr_at_0.01" and len(s_out) < 100 and why is None:
            f = (*flags, "low_resolution")
            why = (
                f"only {len(s_out)} non-members: an FPR of 1% cannot be resolved, so this is "
                "the TPR at the lowest FPR measurable"
            )
        out.append(
            MetricValue(
                section="privacy",
                name=name,
                value=vals[key],
                attack=attack,
                feature=feature,
                group=group,
                ci=cis.get(key),
                n=n,
                flags=f,
                reason=why,
            )
        )
    return out, vals


def auc_p_value(s_in: np.ndarray, s_out: np.ndarray) -> float:
    """Return the one-sided p-value of "members score no higher than non-members".

    The Mann-Whitney U test (``scipy.stats.mannwhitneyu``, ``alternative="greater"``, exact for
    small samples without ties, normal approximation with tie correction otherwise), whose U
    statistic over ``len(s_in) * len(s_out)`` is the attack's ROC AUC.
    """
    from scipy.stats import mannwhitneyu

    a, b = np.asarray(s_in, dtype=np.float64), np.asarray(s_out, dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        return 1.0
    if np.ptp(np.concatenate([a, b])) == 0:
        return 1.0  # every score equal: AUC exactly 0.5, no evidence
    return float(mannwhitneyu(a, b, alternative="greater").pvalue)


def _missing_attack(attack: str, reason: str) -> list[MetricValue]:
    return [
        MetricValue(section="privacy", name=name, value=None, attack=attack, reason=reason)
        for name in ATTACK_METRICS
    ]


# ----------------------------------------------------------------------- exposed groups
def exposed_group(
    records: Sequence[MetricValue], attack: str, overall: float | None, ci_level: float = 0.95
) -> MetricValue | None:
    """Return the most exposed group's ``membership_auc`` record, where the evidence holds.

    A group counts when it is not flagged too small, its interval does not contain 0.5 (an
    attack at chance in that group is no exposure), its p-value (Holm-adjusted where adjusted)
    is below ``1 - ci_level`` and its AUC exceeds the overall AUC by more than 0.05.
    """
    if overall is None:
        return None
    ok = []
    for m in records:
        if (m.name != "membership_auc" or m.attack != attack or m.feature is None
                or m.value is None or "too_small" in m.flags):  # fmt: skip
            continue
        if m.ci is not None and m.ci[0] <= 0.5 <= m.ci[1]:
            continue
        p = evidence_p(m)
        if p is not None and not p < 1.0 - ci_level:
            continue
        if m.value - overall > 0.05:
            ok.append(m)
    return max(ok, key=lambda m: m.value or 0.0) if ok else None


# ----------------------------------------------------------------- the reference attack
def _reference_scores(
    ctx: AuditContext,
    proba_tr: np.ndarray,
    proba_ev: np.ndarray,
    y_tr: np.ndarray,
    y_ev: np.ndarray,
    members: np.ndarray,
    non_members: np.ndarray,
    population: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    folds = get_folds(ctx)
    if folds.mode != "refit" or folds.source != "train":
        raise RuntimeError("the fold models were not trained on the training data")
    held_out = folds.held_out_proba()
    assert held_out is not None
    fold_of = folds.fold_of()
    rng = ctx.rng("privacy-reference")
    # members: the one fold model that did not train on them
    ref_in = fold_of[members]
    p_ref_in = true_class_proba(held_out[members], y_tr[members])
    # non-members and population: every fold model is "out"; non-members draw one at random
    rows = np.concatenate([non_members, population])
    fp = fold_models_proba(ctx, folds, take_rows(ctx.X, rows))  # (k, n_rows, K)
    y_rows = y_ev[rows]
    p_true_rows = np.stack([true_class_proba(fp[j], y_rows) for j in range(folds.k)])
    m = len(non_members)
    ref_out = rng.integers(0, folds.k, size=m)
    p_ref_out = p_true_rows[ref_out, np.arange(m)]
    p_ref_pop = p_true_rows[:, m:]
    p_tgt_pop = true_class_proba(proba_ev[population], y_ev[population])
    a = ctx.options_for(PrivacyOptions).rmia_offline_a
    s_in = reference_attack_scores(
        true_class_proba(proba_tr[members], y_tr[members]),
        p_ref_in,
        ref_in,
        p_tgt_pop,
        p_ref_pop,
        offline_a=a,
    )
    s_out = reference_attack_scores(
        true_class_proba(proba_ev[non_members], y_ev[non_members]),
        p_ref_out,
        ref_out,
        p_tgt_pop,
        p_ref_pop,
        offline_a=a,
    )
    return s_in, s_out


def _group_records(
    ctx: AuditContext,
    attack: str,
    s_in: np.ndarray,
    s_out: np.ndarray,
    members: np.ndarray,
    non_members: np.ndarray,
) -> list[MetricValue]:
    assert ctx.train is not None
    sens_tr, sens_ev = ctx.train.sensitive, ctx.sensitive
    if sens_tr is None or sens_ev is None:
        return []
    out: list[MetricValue] = []
    min_n = ctx.config.min_group_size
    for col in sens_ev.columns:
        if col not in sens_tr.columns:
            continue
        g_in = np.asarray(sens_tr[col].to_numpy(), dtype=object)[members].astype(str)
        g_out = np.asarray(sens_ev[col].to_numpy(), dtype=object)[non_members].astype(str)
        for g in sorted(set(g_in.tolist()) | set(g_out.tolist())):
            a, b = s_in[g_in == g], s_out[g_out == g]
            feat, grp = (str(col),), (g,)
            if len(a) == 0 or len(b) == 0:
                why = f"no {'members' if len(a) == 0 else 'non-members'} in this group"
                out += [
                    MetricValue(
                        section="privacy",
                        name=name,
                        value=None,
                        attack=attack,
                        feature=feat,
                        group=grp,
                        n=len(a) + len(b),
                        flags=("too_small",),
                        reason=why,
                    )
                    for name in ATTACK_METRICS
                ]
                continue
            flags: tuple[str, ...] = ()
            why_small = None
            if min(len(a), len(b)) < min_n:
                flags = ("too_small",)
                why_small = (
                    f"{len(a)} members and {len(b)} non-members; fewer than {min_n} rows "
                    "on one side make the value unreliable"
                )
            recs, _ = _attack_records(
                ctx, attack, a, b, feature=feat, group=grp, flags=flags, reason=why_small
            )
            p = auc_p_value(a, b)
            out += [
                replace(m, p_value=p, test="mann_whitney_u")
                if m.name == "membership_auc" else m
                for m in recs
            ]  # fmt: skip
    # Holm over the family of per-group tests of this attack
    tested = [i for i, m in enumerate(out) if m.p_value is not None]
    adjusted = holm(np.array([float(out[i].p_value) for i in tested])).tolist()  # type: ignore[arg-type]
    for i, q in zip(tested, adjusted):
        out[i] = replace(out[i], p_adjusted=q)
    return out


# ---------------------------------------------------------- presentation of the attacks
def _attack_findings(
    records: list[MetricValue], attack_vals: dict[str, dict[str, float]],
    ci_level: float = 0.95,
) -> list[Finding]:  # fmt: skip
    out = []
    for attack in attack_vals:
        auc = next(
            m
            for m in records
            if m.name == "membership_auc" and m.attack == attack and m.feature is None
        )
        tpr = next(
            m
            for m in records
            if m.name == "membership_tpr_at_1pct_fpr" and m.attack == attack and m.feature is None
        )
        v = auc.value if auc.value is not None else 0.5
        ci = auc.ci
        ci_txt = f" (interval {ci[0]:.2f} to {ci[1]:.2f})" if ci is not None else ""
        at_chance = (ci is not None and ci[0] <= 0.5 <= ci[1]) or v < 0.55
        sev: Severity
        if v >= AUC_FAIL:
            sev, verdict = "fail", "a strong membership leak"
        elif v >= AUC_WARN and not at_chance:
            sev, verdict = "warn", "a clear membership leak"
        elif at_chance:
            sev, verdict = "pass", "close to a coin flip (0.5), so little sign of leakage"
        else:
            sev, verdict = "info", "slightly better than a coin flip (0.5)"
        text = (
            f"With the {ATTACK_LABELS[attack]}, an attacker tells training rows from new "
            f"rows with ROC AUC {v:.2f}{ci_txt}: {verdict}."
        )
        if tpr.value is not None:
            text += f" At a 1% false-alarm rate it picks out {tpr.value:.1%} of the training rows."
        out.append(Finding("privacy", sev, text, metric="privacy.membership_auc"))
        worst = exposed_group(records, attack, auc.value, ci_level)
        if worst is not None:
            assert worst.value is not None and worst.feature and worst.group
            assert auc.value is not None
            p = evidence_p(worst)
            ci_g = f", interval {worst.ci[0]:.2f} to {worst.ci[1]:.2f}" if worst.ci else ""
            p_txt = f", adjusted p = {p:.2g}" if p is not None else ""
            out.append(
                Finding(
                    "privacy",
                    "warn",
                    f"Group {worst.group[0]!r} of {worst.feature[0]!r} is more exposed to "
                    f"the {ATTACK_LABELS[attack]} (AUC {worst.value:.2f}{ci_g}{p_txt}; "
                    f"{auc.value:.2f} overall).",
                    metric="privacy.membership_auc",
                    evidence=evidence_word(p, ci_level),
                )
            )
    return out


def _roc_charts(scores: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[Chart]:
    grid = np.unique(np.concatenate([np.linspace(0.0, 1.0, 101), np.logspace(-4, 0, 41)]))
    series, low = [], []
    for attack, (s_in, s_out) in scores.items():
        curve = roc_curve_points(s_in, s_out)
        tpr = roc_on_grid(curve, grid)
        series.append({"name": ATTACK_LABELS[attack], "x": grid.tolist(), "y": tpr.tolist()})
        keep = grid >= 1.0 / len(s_out)
        low.append(
            {"name": ATTACK_LABELS[attack], "x": grid[keep].tolist(), "y": tpr[keep].tolist()}
        )
    return [
        Chart(
            name="membership_roc",
            kind="line",
            title="Membership-inference ROC curve",
            data={
                "series": series,
                "xlabel": "false positive rate",
                "ylabel": "true positive rate",
                "diagonal": True,
                "logx": False,
            },
            description=(
                "How often the attack flags a training row (true positive) against how "
                "often it wrongly flags a new row (false positive). The diagonal is "
                "guessing; the further above it, the more the model leaks."
            ),
        ),
        Chart(
            name="membership_roc_low_fpr",
            kind="line",
            title="Membership-inference ROC curve at low false positive rates",
            data={
                "series": low,
                "xlabel": "false positive rate (log scale)",
                "ylabel": "true positive rate",
                "diagonal": True,
                "logx": True,
            },
            description=(
                "The same curve on a log scale: an attack that is confidently right about "
                "even a few rows at a very low false-alarm rate is a real privacy risk."
            ),
        ),
    ]


def _attack_table(records: list[MetricValue]) -> Table:
    rows = []
    keyed = {
        (m.name, m.attack, m.feature, m.group): m for m in records if m.name in ATTACK_METRICS
    }
    seen = []
    for m in records:
        if m.name == "membership_auc":
            seen.append((m.attack, m.feature, m.group))
    for attack, feat, grp in seen:
        auc = keyed[("membership_auc", attack, feat, grp)]
        row: list[Any] = [
            ATTACK_LABELS.get(attack or "", attack),
            feat[0] if feat else "all",
            grp[0] if grp else "all",
            auc.n,
            auc.value,
            auc.ci[0] if auc.ci else None,
            auc.ci[1] if auc.ci else None,
        ]
        for name in (
            "membership_advantage",
            "membership_tpr_at_1pct_fpr",
            "membership_tpr_at_0_1pct_fpr",
        ):
            row.append(keyed[(name, attack, feat, grp)].value)
        row.append(", ".join(auc.flags))
        rows.append(tuple(row))
    return Table(
        name="membership_inference",
        title="Membership-inference attacks",
        columns=(
            "attack",
            "sensitive feature",
            "group",
            "rows",
            "ROC AUC",
            "AUC low",
            "AUC high",
            "advantage",
            "TPR at 1% FPR",
            "TPR at 0.1% FPR",
            "flags",
        ),
        rows=tuple(rows),
        note=(
            "Members are training rows, non-members held-out rows, in equal numbers. "
            "AUC 0.5 is chance; advantage is the best TPR - FPR over thresholds."
        ),
    )


def _group_chart(records: list[MetricValue]) -> Chart | None:
    groups = [
        m
        for m in records
        if m.name == "membership_auc" and m.attack == "loss" and m.feature is not None
    ]
    if not groups:
        return None
    return Chart(
        name="membership_auc_by_group",
        kind="bar",
        title="Membership-inference AUC by group (loss-threshold attack)",
        data={
            "labels": [f"{m.feature[0]} = {m.group[0]}" for m in groups if m.feature and m.group],
            "values": [m.value for m in groups],
            "lows": [m.ci[0] if m.ci else None for m in groups],
            "highs": [m.ci[1] if m.ci else None for m in groups],
            "reference": 0.5,
            "xlabel": "ROC AUC",
            "ylabel": "group",
            "horizontal": True,
        },
        description="Groups further right of the dashed line (chance) are more exposed.",
    )


# ------------------------------------------------------------------ running the attacks
def _membership(
    ctx: AuditContext,
    proba_tr: np.ndarray,
    proba_ev: np.ndarray,
    y_tr: np.ndarray,
    y_ev: np.ndarray,
    *,
    records: list[MetricValue],
    findings: list[Finding],
    charts: list[Chart],
    tables: list[Table],
    info: dict[str, Any],
) -> dict[str, dict[str, float]]:
    """Run the attacks of a classifier (see :func:`run_attacks`).

    Returns each attack's overall values (``attack_metrics``), for the DP bound.
    """
    if not ctx.predictions.has_scores:
        info["scores_note"] = (
            "The model gives labels only, so the attacks see only whether each row is "
            "classified correctly (a label-only attack)."
        )
    return run_attacks(
        ctx, n_train=len(y_tr), n_eval=len(y_ev),
        loss_scores=lambda m, nm: (
            loss_attack_scores(proba_tr[m], y_tr[m]), loss_attack_scores(proba_ev[nm], y_ev[nm])
        ),
        reference_scores=lambda m, nm, pop: _reference_scores(
            ctx, proba_tr, proba_ev, y_tr, y_ev, m, nm, pop
        ),
        records=records, findings=findings, charts=charts, tables=tables, info=info,
    )  # fmt: skip


def run_attacks(
    ctx: AuditContext,
    *,
    n_train: int,
    n_eval: int,
    loss_scores: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    reference_scores: Callable[
        [np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]
    ],
    records: list[MetricValue],
    findings: list[Finding],
    charts: list[Chart],
    tables: list[Table],
    info: dict[str, Any],
) -> dict[str, dict[str, float]]:
    """Run the loss and reference attacks; add their records, findings, charts, table, notes.

    ``loss_scores(members, non_members)`` and ``reference_scores(members, non_members,
    population)`` give the two attacks' scores of the sampled rows (a classifier's log loss,
    a regression's squared error; RMIA against the fold models). Returns each attack's
    overall values (``attack_metrics``), for the DP bound.
    """
    assert ctx.model is not None
    use_ref = ctx.options_for(PrivacyOptions).membership_reference
    ref_reason = None
    if not use_ref:
        ref_reason = "the reference attack was turned off (options['membership_reference'])"
    elif not ctx.model.can_refit:
        ref_reason = (
            f"the model (a {ctx.model.kind}) cannot be retrained, so there are no reference models"
        )
    members, non_members, population = _sample_rows(
        ctx, n_train=n_train, n_eval=n_eval, with_population=ref_reason is None
    )
    info["n_members"] = int(len(members))
    info["n_non_members"] = int(len(non_members))
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if len(members) == 0 or len(non_members) == 0:
        reason = "too few rows to sample members and non-members"
        records += _missing_attack("loss", reason) + _missing_attack("reference", reason)
    else:
        scores["loss"] = loss_scores(members, non_members)
        if ref_reason is None:
            try:
                scores["reference"] = reference_scores(members, non_members, population)
                info["n_population"] = int(len(population))
            except ParameterError:
                raise
            except Exception as exc:  # noqa: BLE001 - the loss attack still stands
                ref_reason = f"retraining the reference models failed: {exc}"
    attack_vals: dict[str, dict[str, float]] = {}
    for attack, (s_in, s_out) in scores.items():
        recs, vals = _attack_records(ctx, attack, s_in, s_out)
        records += recs
        attack_vals[attack] = vals
        records += _group_records(ctx, attack, s_in, s_out, members, non_members)
    if ref_reason is not None and len(members) and len(non_members):
        records += _missing_attack("reference", ref_reason)
        info["reference_attack"] = ref_reason
        findings.append(
            Finding("privacy", "info", f"The reference-model attack did not run: {ref_reason}.")
        )
    findings += _attack_findings(records, attack_vals, ctx.config.ci_level)
    if scores:
        charts += _roc_charts(scores)
        tables.append(_attack_table(records))
        bar = _group_chart(records)
        if bar is not None:
            charts.append(bar)
    return attack_vals
