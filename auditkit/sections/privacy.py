"""Privacy section: membership inference, the generalisation gap, learning curves, identifiers.

Membership inference asks whether an attacker who can query the model can tell the rows it was
trained on ("members", sampled from the training data) from rows it never saw ("non-members",
sampled from the evaluation data), in balanced samples. Two attacks:

* ``attack="loss"``: the loss-threshold attack (Yeom et al., 2018), which guesses "member"
  when the model's loss on the row is low;
* ``attack="reference"``: a reference-model attack in the spirit of offline RMIA (Zarifzadeh
  et al., 2024) that calibrates each row's likelihood against a model retrained without that
  row (the cross-validation fold models, shared with the stability section). Each candidate is
  compared against exactly one "out" reference: a member of fold ``i`` against fold model ``i``
  (the one that did not train on it) and a non-member against a fold model drawn at random; the
  population rows of the likelihood-ratio test are evaluation rows kept apart from the
  non-members. No candidate is ever scored with a model that trained on it, so the attack has
  no membership leak of its own: against a model that never saw either set it is at chance.

Records (section ``"privacy"``): ``membership_auc``, ``membership_advantage`` (max TPR - FPR),
``membership_tpr_at_1pct_fpr`` and ``membership_tpr_at_0_1pct_fpr`` with ``attack`` set, overall
and per sensitive group (``feature``/``group``), with bootstrap intervals;
per group, ``membership_auc`` also carries the one-sided Mann-Whitney p-value of "the attack is
at chance in this group" (``p_value``, ``test="mann_whitney_u"``) and its Holm adjustment over
the groups of the attack (``p_adjusted``). A group is said to be more exposed only when it is
large enough to judge, its own interval excludes 0.5 (chance), its adjusted p-value is below
``1 - ci_level`` and its AUC exceeds the overall one by more than 0.05;
``generalization_gap_accuracy`` (train minus evaluation accuracy) and
``generalization_gap_loss`` (evaluation minus train log loss); ``identifier_risk`` per input
column that looks like a direct identifier (``input_feature``, ``reason``); and, when the model
was trained with differential privacy (``describe()["dp"]``), ``dp_epsilon``, ``dp_delta`` and
the bounds they imply, ``membership_auc_bound`` and ``membership_advantage_bound``.

Options: ``privacy_max_rows`` (members sampled, default 10000), ``privacy_population``
(population rows of the reference attack, default 5000), ``membership_reference`` (run the
reference attack, default True), ``rmia_offline_a`` (default 0.3), ``cv`` (fold models,
default 5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .._core.catalog import evidence_p, evidence_word, threshold
from ..exceptions import ParameterError
from ..inputs.context import SECTIONS, AuditContext, Predictions
from ..metrics.evidence import holm
from ..result.records import Chart, Finding, MetricValue, SectionResult, Severity, Table
from ._folds import fold_models_proba, get_folds, take_rows
from ._identifiers import scan_identifiers
from ._mia import (
    attack_metrics,
    bootstrap_attack_metrics,
    dp_advantage_bound,
    dp_auc_bound,
    loss_attack_scores,
    per_sample_loss,
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
#: Train-minus-eval accuracy above which the model is said to overfit.
OVERFIT_ACCURACY_GAP = threshold("privacy", "generalization_gap_accuracy").pass_at
#: Attack AUC at or above which the section warns, and fails.
AUC_WARN, AUC_FAIL = threshold("privacy", "membership_auc").bounds()


# ------------------------------------------------------------------------------ sampling
def _sample_rows(
    ctx: AuditContext, *, n_train: int, n_eval: int, with_population: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return sorted indices of members (train rows), non-members and population (eval rows).

    Members and non-members are balanced; the population (only for the reference attack) is
    drawn from evaluation rows that are not non-members.
    """
    max_rows = _int_option(ctx, "privacy_max_rows", 10000, low=1)
    max_pop = _int_option(ctx, "privacy_population", 5000, low=1)
    rng = ctx.rng("privacy")
    m = min(n_train, n_eval // 2 if with_population else n_eval, max_rows)
    members = np.sort(rng.choice(n_train, size=m, replace=False))
    perm = rng.permutation(n_eval)
    non_members = np.sort(perm[:m])
    population = np.sort(perm[m : m + max_pop]) if with_population else np.zeros(0, np.int64)
    return members, non_members, population


def _int_option(ctx: AuditContext, name: str, default: int, *, low: int) -> int:
    v = ctx.option(name, default)
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or int(v) < low:
        raise ParameterError(
            f"The 'options[{name!r}]' parameter of audit must be an int in the range "
            f"[{low}, inf). Got {v!r} instead."
        )
    return int(v)


def _proba(p: Predictions) -> np.ndarray:
    if p.y_proba is not None:
        return p.y_proba
    return np.eye(p.n_classes)[p.y_pred]


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


def _bootstrap_mean_diff(
    a: np.ndarray, b: np.ndarray, *, n_boot: int, rng: np.random.Generator, ci_level: float
) -> tuple[float, float] | None:
    """Percentile interval of ``mean(a) - mean(b)`` resampling each sample separately."""
    if n_boot <= 0 or len(a) == 0 or len(b) == 0:
        return None
    diffs = np.empty(n_boot)
    batch = 32
    for s in range(0, n_boot, batch):
        m = min(batch, n_boot - s)
        ma = a[rng.integers(0, len(a), size=(m, len(a)))].mean(axis=1)
        mb = b[rng.integers(0, len(b), size=(m, len(b)))].mean(axis=1)
        diffs[s : s + m] = ma - mb
    alpha = (1.0 - ci_level) / 2.0
    lo, hi = np.quantile(diffs, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


# ------------------------------------------------------------------------- learning curves
def history_series(history: Any) -> tuple[list[float], dict[str, list[float | None]]]:
    """Return ``(epochs, {metric: per-epoch values})`` from a checkpoint's training history.

    Accepts a list of per-epoch dicts (``[{"epoch": 0, "train_loss": ..., "val_loss": ...}]``)
    or a dict of per-epoch lists (``{"train_loss": [...], "val_acc": [...]}``).
    """
    series: dict[str, list[float | None]] = {}
    epochs: list[float] = []
    if isinstance(history, Mapping):
        rows = None
        n = max(
            (
                len(v)
                for v in history.values()
                if isinstance(v, Sequence) and not isinstance(v, str)
            ),
            default=0,
        )
        for k, v in history.items():
            if isinstance(v, Sequence) and not isinstance(v, str) and k != "epoch":
                series[str(k)] = [_num_or_none(x) for x in v] + [None] * (n - len(v))
        ep = history.get("epoch")
        epochs = (
            [float(e) for e in ep]
            if isinstance(ep, Sequence) and len(ep) == n
            else [float(i) for i in range(n)]
        )
        return epochs, series
    if isinstance(history, Sequence) and not isinstance(history, str):
        rows = [r for r in history if isinstance(r, Mapping)]
        keys: list[str] = []
        for r in rows:
            keys += [str(k) for k in r if k != "epoch" and str(k) not in keys]
        for k in keys:
            series[k] = [_num_or_none(r.get(k)) for r in rows]
        epochs = [
            float(r["epoch"]) if _num_or_none(r.get("epoch")) is not None else float(i)
            for i, r in enumerate(rows)
        ]
    return epochs, series


def _num_or_none(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def learning_curve_note(series: Mapping[str, Sequence[float | None]]) -> str | None:
    """Return a plain-language note on overfitting read from train/validation loss curves."""

    def pick(words: tuple[str, ...]) -> list[float | None] | None:
        for k, v in series.items():
            lk = k.lower()
            if "loss" in lk and any(w in lk for w in words):
                return list(v)
        return None

    val = pick(("val", "valid", "test"))
    train = pick(("train",))
    if val is None:
        return None
    pts = [(i, v) for i, v in enumerate(val) if v is not None]
    if len(pts) < 2:
        return None
    best_i, best = min(pts, key=lambda t: t[1])
    last_i, last = pts[-1]
    train_falls = True
    if train is not None:
        tr = [(i, v) for i, v in enumerate(train) if v is not None and i >= best_i]
        train_falls = len(tr) >= 2 and tr[-1][1] < tr[0][1]
    if last_i > best_i and last > best * 1.05 and last - best > 0.01 and train_falls:
        return (
            f"Validation loss was lowest after epoch {best_i + 1} ({best:.3g}) and rose to "
            f"{last:.3g} by the last epoch while training loss kept falling: the later epochs "
            "overfit (the model memorises its training rows instead of learning what "
            "generalises). Early stopping at the best epoch would reduce this."
        )
    if train is not None:
        tr_last = next((v for v in reversed(train) if v is not None), None)
        if tr_last is not None and tr_last < last * 0.7 and last - tr_last > 0.01:
            return (
                f"Training loss ended well below validation loss ({tr_last:.3g} vs "
                f"{last:.3g}): the model fits its training rows better than new ones, a mild "
                "sign of overfitting."
            )
    return (
        "Validation loss did not rise at the end of training and stays close to the training "
        "loss: the learning curves show no clear sign of overfitting."
    )


def _dp_budget(describe: Mapping[str, Any]) -> tuple[float, float] | None:
    dp = describe.get("dp")
    if dp is None:
        return None
    if isinstance(dp, Mapping):
        eps, delta = dp.get("epsilon"), dp.get("delta", 0.0)
    elif isinstance(dp, Sequence) and not isinstance(dp, str) and len(dp) >= 1:
        eps, delta = dp[0], (dp[1] if len(dp) > 1 else 0.0)
    else:
        return None
    e, d = _num_or_none(eps), _num_or_none(delta if delta is not None else 0.0)
    if e is None or d is None or e < 0 or not 0.0 <= d <= 1.0:
        return None
    return e, d


# -------------------------------------------------------------------------------- section
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


class PrivacySection:
    """Membership-inference attacks, generalisation gap, learning curves, identifier scan."""

    name = "privacy"
    requires: tuple[str, ...] = ("model", "train_data")

    def run(self, ctx: AuditContext) -> SectionResult:
        """Compute the section (see the module docstring)."""
        assert ctx.train is not None and ctx.model is not None  # ensured by ``requires``
        p_eval = ctx.predictions
        p_train = ctx.train_predictions()
        assert p_train is not None
        proba_tr, proba_ev = _proba(p_train), _proba(p_eval)
        y_tr, y_ev = np.asarray(p_train.y_true), np.asarray(p_eval.y_true)
        records: list[MetricValue] = []
        findings: list[Finding] = []
        charts: list[Chart] = []
        tables: list[Table] = []
        info: dict[str, Any] = {}

        # -- membership inference ---------------------------------------------------------
        use_ref = bool(ctx.option("membership_reference", True))
        ref_reason = None
        if not use_ref:
            ref_reason = "the reference attack was turned off (options['membership_reference'])"
        elif not ctx.model.can_refit:
            ref_reason = (
                f"the model (a {ctx.model.kind}) cannot be retrained, so there are no reference "
                "models"
            )
        members, non_members, population = _sample_rows(
            ctx, n_train=len(y_tr), n_eval=len(y_ev), with_population=ref_reason is None
        )
        info["n_members"] = int(len(members))
        info["n_non_members"] = int(len(non_members))
        scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if len(members) == 0 or len(non_members) == 0:
            reason = "too few rows to sample members and non-members"
            records += _missing_attack("loss", reason) + _missing_attack("reference", reason)
        else:
            scores["loss"] = (
                loss_attack_scores(proba_tr[members], y_tr[members]),
                loss_attack_scores(proba_ev[non_members], y_ev[non_members]),
            )
            if ref_reason is None:
                try:
                    scores["reference"] = self._reference_scores(
                        ctx, proba_tr, proba_ev, y_tr, y_ev, members, non_members, population
                    )
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
            records += self._group_records(ctx, attack, s_in, s_out, members, non_members)
        if ref_reason is not None and len(members) and len(non_members):
            records += _missing_attack("reference", ref_reason)
            info["reference_attack"] = ref_reason
            findings.append(
                Finding(
                    "privacy", "info", f"The reference-model attack did not run: {ref_reason}."
                )
            )
        if not p_eval.has_scores:
            info["scores_note"] = (
                "The model gives labels only, so the attacks see only whether each row is "
                "classified correctly (a label-only attack)."
            )
        findings += self._attack_findings(records, attack_vals, ctx.config.ci_level)
        if scores:
            charts += self._roc_charts(scores)
            tables.append(self._attack_table(records))
            bar = self._group_chart(records)
            if bar is not None:
                charts.append(bar)

        # -- generalisation gap -----------------------------------------------------------
        records_gap, finding_gap = self._generalisation(
            ctx, proba_tr, proba_ev, y_tr, y_ev, p_train, p_eval
        )
        records += records_gap
        findings.append(finding_gap)

        # -- learning curves --------------------------------------------------------------
        desc = ctx.model.describe()
        if ctx.model.kind == "checkpoint" and desc.get("history"):
            c, note = self._learning_curves(desc["history"])
            charts += c
            if note is not None:
                sev: Severity = (
                    "warn" if "overfit" in note and "no clear sign" not in note else "info"
                )
                findings.append(Finding("privacy", sev, note))
                info["learning_curve_note"] = note

        # -- identifiers --------------------------------------------------------------------
        rec_id, find_id, id_note = self._identifiers(ctx)
        records += rec_id
        findings += find_id
        info["identifier_scan"] = id_note

        # -- differential privacy -----------------------------------------------------------
        budget = _dp_budget(desc)
        if budget is not None:
            rec_dp, find_dp, dp_info = self._dp(budget, attack_vals, records)
            records += rec_dp
            findings += find_dp
            info["dp"] = dp_info
        return SectionResult(
            name=self.name,
            status="ok",
            metrics=tuple(records),
            tables=tuple(tables),
            findings=tuple(findings),
            charts=tuple(charts),
            info=info,
        )

    # -- the reference attack ---------------------------------------------------------------
    @staticmethod
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
        a = float(ctx.option("rmia_offline_a", 0.3))
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

    @staticmethod
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

    # -- presentation of the attacks ---------------------------------------------------------
    @staticmethod
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
                if m.name == "membership_tpr_at_1pct_fpr"
                and m.attack == attack
                and m.feature is None
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
                text += (
                    f" At a 1% false-alarm rate it picks out {tpr.value:.1%} of the training rows."
                )
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

    @staticmethod
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

    @staticmethod
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

    @staticmethod
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
                "labels": [
                    f"{m.feature[0]} = {m.group[0]}" for m in groups if m.feature and m.group
                ],
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

    # -- generalisation ---------------------------------------------------------------------
    @staticmethod
    def _generalisation(
        ctx: AuditContext,
        proba_tr: np.ndarray,
        proba_ev: np.ndarray,
        y_tr: np.ndarray,
        y_ev: np.ndarray,
        p_train: Predictions,
        p_eval: Predictions,
    ) -> tuple[list[MetricValue], Finding]:
        cor_tr = (p_train.y_pred == y_tr).astype(np.float64)
        cor_ev = (p_eval.y_pred == y_ev).astype(np.float64)
        loss_tr, loss_ev = per_sample_loss(proba_tr, y_tr), per_sample_loss(proba_ev, y_ev)
        nb, lvl = ctx.config.n_boot, ctx.config.ci_level
        acc_tr, acc_ev = float(cor_tr.mean()), float(cor_ev.mean())
        ll_tr, ll_ev = float(loss_tr.mean()), float(loss_ev.mean())
        ci_acc = _bootstrap_mean_diff(
            cor_tr, cor_ev, n_boot=nb, rng=ctx.rng("privacy-gap-acc"), ci_level=lvl
        )
        ci_loss = _bootstrap_mean_diff(
            loss_ev, loss_tr, n_boot=nb, rng=ctx.rng("privacy-gap-loss"), ci_level=lvl
        )
        n = len(y_tr) + len(y_ev)
        recs = [
            MetricValue(
                section="privacy",
                name="generalization_gap_accuracy",
                value=acc_tr - acc_ev,
                ci=ci_acc,
                n=n,
            ),
            MetricValue(
                section="privacy",
                name="generalization_gap_loss",
                value=ll_ev - ll_tr,
                ci=ci_loss,
                n=n,
            ),
            MetricValue(section="privacy", name="train_accuracy", value=acc_tr, n=len(y_tr)),
            MetricValue(section="privacy", name="eval_accuracy", value=acc_ev, n=len(y_ev)),
            MetricValue(section="privacy", name="train_log_loss", value=ll_tr, n=len(y_tr)),
            MetricValue(section="privacy", name="eval_log_loss", value=ll_ev, n=len(y_ev)),
        ]
        gap = acc_tr - acc_ev
        if gap > OVERFIT_ACCURACY_GAP:
            f = Finding(
                "privacy",
                "warn",
                f"The model is noticeably more accurate on its training data ({acc_tr:.1%}) than "
                f"on new data ({acc_ev:.1%}), and its loss is {ll_tr:.3f} against {ll_ev:.3f}: "
                "it has partly memorised its training rows (overfitting). Memorisation is what "
                "membership-inference attacks exploit; more data, regularisation or early "
                "stopping reduce it.",
                metric="privacy.generalization_gap_accuracy",
            )
        else:
            f = Finding(
                "privacy",
                "pass",
                f"Accuracy on the training data ({acc_tr:.1%}) and on new data ({acc_ev:.1%}) "
                f"are close (log loss {ll_tr:.3f} against {ll_ev:.3f}): no sign of strong "
                "overfitting.",
                metric="privacy.generalization_gap_accuracy",
            )
        return recs, f

    @staticmethod
    def _learning_curves(history: Any) -> tuple[list[Chart], str | None]:
        epochs, series = history_series(history)
        if not series or not epochs:
            return [], None
        x = [e + 1 for e in epochs] if epochs and epochs[0] == 0 else epochs
        charts = []
        for word, ylabel, name in (
            ("loss", "loss", "learning_curve_loss"),
            ("acc", "accuracy", "learning_curve_accuracy"),
        ):
            ss = [{"name": k, "x": x, "y": v} for k, v in series.items() if word in k.lower()]
            if ss:
                charts.append(
                    Chart(
                        name=name,
                        kind="line",
                        title=f"Learning curves ({ylabel})",
                        data={
                            "series": ss,
                            "xlabel": "epoch",
                            "ylabel": ylabel,
                            "diagonal": False,
                            "logx": False,
                        },
                        description=(
                            "Training against validation figures per epoch: a validation curve "
                            "that turns away while the training curve keeps improving is "
                            "overfitting."
                        ),
                    )
                )
        return charts, learning_curve_note(series)

    # -- identifiers ------------------------------------------------------------------------
    @staticmethod
    def _identifiers(ctx: AuditContext) -> tuple[list[MetricValue], list[Finding], str]:
        import pandas as pd

        assert ctx.train is not None
        X = ctx.train.X if isinstance(ctx.train.X, pd.DataFrame) else ctx.X
        if not isinstance(X, pd.DataFrame):
            return (
                [],
                [],
                (
                    "The identifier scan applies to tabular inputs (columns); these inputs are "
                    "not "
                    "a table."
                ),
            )
        flags = scan_identifiers(X, seed=ctx.config.random_state)
        recs = [
            MetricValue(
                section="privacy",
                name="identifier_risk",
                value=f.score,
                input_feature=f.column,
                reason=f.reason,
                n=len(X),
            )
            for f in flags
        ]
        finds = [
            Finding(
                "privacy",
                "warn",
                f"Input column {f.column!r} looks like a direct identifier ({f.reason}). "
                "Identifiers rarely help a model and let it memorise individuals; drop or "
                "pseudonymise the column unless it is needed.",
                metric="privacy.identifier_risk",
            )
            for f in flags
        ]
        if not flags:
            finds.append(
                Finding(
                    "privacy",
                    "pass",
                    f"None of the {X.shape[1]} input columns looks like a direct identifier "
                    "(names, e-mail, phone or ID numbers, dates of birth, values unique per row).",
                )
            )
        note = f"{len(flags)} of {X.shape[1]} input columns look like direct identifiers."
        return recs, finds, note

    # -- differential privacy ---------------------------------------------------------------
    @staticmethod
    def _dp(
        budget: tuple[float, float],
        attack_vals: dict[str, dict[str, float]],
        records: list[MetricValue],
    ) -> tuple[list[MetricValue], list[Finding], dict[str, Any]]:
        eps, delta = budget
        auc_bound = dp_auc_bound(eps, delta)
        adv_bound = dp_advantage_bound(eps, delta)
        recs = [
            MetricValue(section="privacy", name="dp_epsilon", value=eps),
            MetricValue(section="privacy", name="dp_delta", value=delta),
            MetricValue(
                section="privacy",
                name="membership_auc_bound",
                value=auc_bound,
                reason="the largest membership-inference AUC the DP guarantee allows",
            ),
            MetricValue(
                section="privacy",
                name="membership_advantage_bound",
                value=adv_bound,
                reason="the largest membership advantage the DP guarantee allows",
            ),
        ]
        formula = "e^eps / (1 + e^eps)" if delta == 0 else "the (eps, delta) trade-off curve"
        finds = []
        for attack, vals in attack_vals.items():
            auc_rec = next(
                m
                for m in records
                if m.name == "membership_auc" and m.attack == attack and m.feature is None
            )
            low = auc_rec.ci[0] if auc_rec.ci is not None else vals["auc"]
            if low > auc_bound:
                finds.append(
                    Finding(
                        "privacy",
                        "fail",
                        f"The {ATTACK_LABELS[attack]} reaches AUC {vals['auc']:.3f}, above the "
                        f"{auc_bound:.3f} that differential privacy with epsilon {eps:g} and "
                        "delta "
                        f"{delta:g} allows: the privacy accounting or the training is suspect.",
                        metric="privacy.membership_auc_bound",
                    )
                )
            else:
                finds.append(
                    Finding(
                        "privacy",
                        "pass",
                        f"The model was trained with differential privacy (epsilon {eps:g}, delta "
                        f"{delta:g}), which caps any membership-inference AUC at {auc_bound:.3f} "
                        f"({formula}); the {ATTACK_LABELS[attack]} reaches {vals['auc']:.3f}.",
                        metric="privacy.membership_auc_bound",
                    )
                )
        info = {
            "epsilon": eps,
            "delta": delta,
            "auc_bound": auc_bound,
            "advantage_bound": adv_bound,
            "formula": formula,
        }
        return recs, finds, info


SECTIONS.register("privacy")(PrivacySection())
