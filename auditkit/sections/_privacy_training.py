"""Privacy: what training left in the model (generalisation gap, learning curves, DP budget)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._core.catalog import threshold
from ..inputs.context import AuditContext, Predictions
from ..result.records import Chart, Finding, MetricValue
from ._mia import dp_advantage_bound, dp_auc_bound, per_sample_loss
from ._privacy_attacks import ATTACK_LABELS

#: Train-minus-eval accuracy above which the model is said to overfit.
OVERFIT_ACCURACY_GAP = threshold("privacy", "generalization_gap_accuracy").pass_at


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


# ---------------------------------------------------------------------- learning curves
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


# ----------------------------------------------------------------------- generalisation
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


# ----------------------------------------------------------------- differential privacy
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
