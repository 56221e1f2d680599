"""Audit results built for the renderer tests: every chart kind, tables, findings, a verdict.

The numbers are computed from generated data (scikit-learn metrics, group rates with numpy and
a percentile bootstrap), never typed in, so the cards are checked on realistic values.
"""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, roc_auc_score, roc_curve

from auditkit.report import AuditResult, Chart, Finding, MetricValue, SectionResult, Table
from auditkit.result.records import SCHEMA_VERSION

HOSTILE = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "</td>",
)


def tiny_png(seed: int = 0, size: int = 6) -> str:
    """A small greyscale PNG (base64) made with zlib, as an attribution map would be."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size, size), dtype=np.uint8)
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return base64.b64encode(png).decode("ascii")


def _boot_ci(x: np.ndarray, rng: np.random.Generator, n_boot: int = 200) -> tuple[float, float]:
    idx = rng.integers(0, len(x), (n_boot, len(x)))
    means = x[idx].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def rich_result(
    seed: int = 0,
    *,
    feature: str = "sex",
    groups: tuple[str, ...] = ("Female", "Male", "Other"),
    text: str = "",
    with_policy: bool = True,
) -> AuditResult:
    """A hand-assembled result with numbers computed from generated data.

    ``text`` is appended to every free-text field (to inject hostile strings); ``feature`` and
    ``groups`` name the sensitive column and its values.
    """
    rng = np.random.default_rng(seed)
    n = 1200
    g = rng.choice(np.array(groups, dtype=object), n, p=[0.45, 0.5, 0.05][: len(groups)])
    y = rng.integers(0, 2, n)
    score = np.clip(0.35 * y + 0.65 * rng.random(n) - 0.08 * (g == groups[0]), 0, 1)
    pred = (score >= 0.5).astype(int)
    acc = accuracy_score(y, pred)
    metrics = [
        MetricValue("performance", "accuracy", acc, ci=_boot_ci((y == pred) * 1.0, rng), n=n),
        MetricValue("performance", "roc_auc", roc_auc_score(y, score), n=n),
        MetricValue("performance", "log_loss", None, n=n, reason="no scores" + text),
        MetricValue("performance", "precision", float(np.mean(y[pred == 1])), label="1", n=n),
        MetricValue("performance", "count", n * 1000, n=n * 1000),
        MetricValue("performance", "tiny_value", 2.5e-7 + rng.random() * 1e-7, n=n),
    ]
    rates = {}
    for grp in groups:
        mask = g == grp
        rate = float(pred[mask].mean())
        rates[grp] = rate
        small = int(mask.sum()) < 100
        metrics.append(
            MetricValue(
                "fairness", "selection_rate", rate, feature=[feature], group=[grp],
                ci=_boot_ci(pred[mask] * 1.0, rng), n=int(mask.sum()),
                flags=("too_small",) if small else (),
                reason=("fewer than 100 rows" + text) if small else None,
            )
        )  # fmt: skip
        metrics.append(
            MetricValue(
                "fairness",
                "accuracy",
                float((y[mask] == pred[mask]).mean()),
                feature=[feature],
                group=[grp],
                n=int(mask.sum()),
            )  # fmt: skip
        )
    ratio = min(rates.values()) / max(rates.values())
    diff = max(rates.values()) - min(rates.values())
    metrics += [
        MetricValue(
            "fairness",
            "demographic_parity_ratio",
            ratio,
            feature=[feature],
            method="between_groups",
            n=n,
        ),  # fmt: skip
        MetricValue(
            "fairness",
            "demographic_parity_difference",
            diff,
            feature=[feature],
            method="between_groups",
            n=n,
        ),  # fmt: skip
        MetricValue(
            "fairness",
            "demographic_parity_difference",
            diff / 2,
            feature=[feature],
            method="to_overall",
            n=n,
        ),  # fmt: skip
        MetricValue(
            "fairness",
            "selection_rate",
            float(pred[g == groups[0]].mean()),
            feature=[feature, "race"],
            group=[groups[0], "Black" + text],
            n=40,
        ),  # fmt: skip
    ]
    fpr, tpr, _ = roc_curve(y, score)
    cm = confusion_matrix(y, pred)
    perf = SectionResult(
        "performance",
        "ok",
        metrics=tuple(m for m in metrics if m.section == "performance"),
        tables=(
            Table(
                "confusion_matrix",
                "Confusion matrix" + text,
                ("true \\ predicted", "0", "1"),
                tuple((str(i), int(cm[i, 0]), int(cm[i, 1])) for i in range(2)),
                note="Rows are true classes." + text,
            ),  # fmt: skip
        ),
        charts=(
            Chart(
                "roc",
                "line",
                "ROC curve" + text,
                {
                    "series": [{"name": "model" + text, "x": fpr.tolist(), "y": tpr.tolist()}],
                    "xlabel": "false positive rate",
                    "ylabel": "true positive rate",
                    "diagonal": True,
                    "logx": False,
                },
            ),  # fmt: skip
            Chart(
                "cm",
                "heatmap",
                "Confusion matrix",
                {
                    "rows": ["0", "1" + text],
                    "cols": ["0", "1" + text],
                    "values": (cm / cm.sum()).tolist(),
                    "xlabel": "predicted",
                    "ylabel": "true",
                },
            ),  # fmt: skip
        ),
        info={"threshold": 0.5, "note": "computed on generated data" + text},
    )
    labels = list(groups)
    fair = SectionResult(
        "fairness",
        "ok",
        metrics=tuple(m for m in metrics if m.section == "fairness"),
        findings=(
            Finding(
                "fairness",
                "fail" if ratio < 0.8 else "pass",
                f"{groups[0]} is selected at {ratio:.0%} of the rate of the most selected "
                f"group{text}.",
                "fairness.demographic_parity_ratio",
            ),  # fmt: skip
            Finding("fairness", "warn", f"Group {groups[-1]} is small{text}."),
        ),
        charts=(
            Chart(
                "selection_rate",
                "bar",
                "Selection rate by " + feature,
                {
                    "labels": labels,
                    "values": [rates[k] for k in labels],
                    "lows": [r * 0.9 for r in rates.values()],
                    "highs": [min(1.0, r * 1.1) for r in rates.values()],
                    "reference": 0.8,
                    "xlabel": feature,
                    "ylabel": "selection rate",
                    "horizontal": False,
                },
                description="Share of each group predicted positive" + text,
            ),  # fmt: skip
            Chart(
                "selection_rate_h",
                "bar",
                "Selection rate (horizontal)",
                {
                    "labels": labels,
                    "values": [rates[k] for k in labels[:-1]] + [None],
                    "lows": None,
                    "highs": None,
                    "reference": None,
                    "xlabel": feature,
                    "ylabel": "rate",
                    "horizontal": True,
                },
            ),  # fmt: skip
        ),
    )
    explain = SectionResult(
        "explainability",
        "ok",
        metrics=(
            MetricValue(
                "explainability",
                "mean_abs_attribution",
                float(rng.random()),
                input_feature="age" + text,
            ),
        ),  # fmt: skip
        charts=(
            Chart(
                "saliency",
                "images",
                "Saliency maps",
                {
                    "items": [
                        {"png_base64": tiny_png(k), "caption": f"example {k}{text}"}
                        for k in range(2)
                    ]
                },
            ),  # fmt: skip
            Chart(
                "tokens",
                "tokens",
                "Token attributions",
                {
                    "rows": [
                        {
                            "tokens": ["a", "great", "film" + text],
                            "weights": rng.uniform(-1, 1, 3).round(3).tolist(),
                            "caption": "review 1" + text,
                        }
                    ]
                },
            ),  # fmt: skip
        ),
    )
    privacy = SectionResult("privacy", "skipped", reason="needs training data" + text)
    stability = SectionResult("stability", "failed", reason="ValueError: boom" + text)
    result = AuditResult(
        schema_version=SCHEMA_VERSION,
        tool_version="0.0.test",
        created_at="2024-01-01T00:00:00Z",
        run={
            "seed": seed,
            "n_boot": 200,
            "ci_level": 0.95,
            "sections": ["performance"],
            "min_group_size": 100,
            "command": "auditkit audit model.ckpt" + text,
        },  # fmt: skip
        model={"name": "toy model" + text, "kind": "sklearn", "sha256": "0" * 64},
        data={
            "name": "generated" + text,
            "n_rows": n,
            "task": "binary",
            "classes": ["0", "1" + text],
            "positive_class": "1",
            "sensitive_features": [feature],
            "sha256": "f" * 64,
        },  # fmt: skip
        sections=(perf, fair, explain, privacy, stability),
        card_info={"intended_use": "tests" + text, "limitations": ["made-up data" + text]},
    )
    if with_policy:
        from auditkit.policy import Policy, check

        policy = Policy.from_dict(
            {
                "rule": [
                    {"section": "performance", "metric": "accuracy", "op": ">=", "threshold": 0.5},
                    {
                        "section": "fairness",
                        "metric": "demographic_parity_ratio",
                        "feature": feature,
                        "op": ">=",
                        "threshold": 0.8,
                    },
                    {
                        "section": "privacy",
                        "metric": "membership_auc",
                        "op": "<=",
                        "threshold": 0.6,
                        "severity": "warning",
                    },
                ]
            },  # fmt: skip
            source="policy.toml",
        )
        verdict = check(result, policy)
        result = AuditResult(**{**result.__dict__, "policy": verdict.to_dict()})
    return result


# ------------------------------------------------------------------ cards for the browser
def _stats(w: np.ndarray, A: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    q = np.clip(1 / (1 + np.exp(-(A @ w))), 1e-9, 1 - 1e-9)
    loss = float(-np.mean(b * np.log(q) + (1 - b) * np.log(1 - q)))
    return loss, float(np.mean((q > 0.5) == b))


def training_block(seed: int = 0, *, epochs: int = 6) -> dict[str, object]:
    """A checkpoint's ``model`` block: learning curves of a tiny numpy logistic regression
    trained by gradient descent, its hardware, and the energy metered while it trained."""
    import os
    import platform
    import time

    from auditkit.models.energy import EnergyMeter

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 5))
    y = (X @ rng.normal(size=5) + rng.normal(scale=0.5, size=400) > 0).astype(float)
    Xtr, ytr, Xva, yva = X[:300], y[:300], X[300:], y[300:]
    w = np.zeros(5)
    history = []
    t0 = time.perf_counter()
    with EnergyMeter(gpu=None) as meter:
        for epoch in range(1, epochs + 1):
            for _ in range(20):
                p = 1 / (1 + np.exp(-(Xtr @ w)))
                w -= 0.1 * Xtr.T @ (p - ytr) / len(ytr)

            (tl, ta), (vl, va) = _stats(w, Xtr, ytr), _stats(w, Xva, yva)
            history.append({"epoch": epoch, "train_loss": tl, "train_accuracy": ta,
                            "val_loss": vl, "val_accuracy": va})  # fmt: skip
    assert meter.report is not None
    return {
        "name": "toy-mlp",
        "kind": "checkpoint",
        "sha256": "ab" * 32,
        "history": history,
        "hparams": {"lr": 0.1, "hidden": [16, 8], "max_epochs": epochs},
        "dataset": {"name": "generated", "n_train": 300, "n_val": 100},
        "test_metrics": {"accuracy": history[-1]["val_accuracy"], "n": 100},
        "training": {
            "epochs_run": epochs, "max_epochs": epochs, "best_epoch": epochs,
            "stopped_early": False, "wall_time_s": time.perf_counter() - t0,
            "hardware": {"cpu": platform.processor() or platform.machine(),
                         "cpu_count": os.cpu_count() or 1, "gpu": None, "accelerator": "cpu",
                         "devices": 1},
            "versions": {"numpy": np.__version__},
            "energy": meter.report.to_dict(),
        },
    }  # fmt: skip


FULL_CARD_INFO = {
    "version": "1.2.0",
    "overview": "A toy model for the card tests.",
    "intended_use": "Testing auditkit's cards.",
    "intended_users": ["auditkit developers"],
    "out_of_scope_uses": ["Any decision about a person."],
    "limitations": ["Generated data."],
    "ethical_considerations": [{"name": "None real.", "mitigation": "Do not deploy."}],
    "tradeoffs": "None.",
    "owners": [{"name": "auditkit developers", "contact": "dev@example.org"}],
    "license": "mit",
    "references": ["https://example.org/auditkit"],
    "citation": "auditkit (2024).",
    "tags": ["test"],
}


def _with(res: AuditResult, **changes: object) -> AuditResult:
    return AuditResult(**{**res.__dict__, **changes})


def tabular_card_result(seed: int = 0, text: str = "") -> AuditResult:
    """:func:`rich_result` with a training block (curves, hardware, energy) and card info."""
    res = rich_result(seed, text=text)
    model = {**training_block(seed), "name": "toy-mlp" + text}
    return _with(res, model=model, card_info=dict(FULL_CARD_INFO))


def image_card_result(seed: int = 0) -> AuditResult:
    """An image audit: attribution maps (PNG from arrays) and a multiclass performance."""
    rng = np.random.default_rng(seed)
    n, k = 600, 10
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 2.5 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    pred = proba.argmax(axis=1)
    acc = float(np.mean(pred == y))
    cm = np.zeros((k, k), dtype=int)
    np.add.at(cm, (y, pred), 1)
    perf = SectionResult(
        "performance", "ok",
        metrics=(MetricValue("performance", "accuracy", acc, ci=_boot_ci((pred == y) * 1.0, rng),
                             n=n),),
        tables=(Table("confusion_matrix", "Confusion matrix", ("true \\ predicted",
                      *map(str, range(k))), tuple((str(i), *cm[i].tolist()) for i in range(k))),),
    )  # fmt: skip
    explain = SectionResult(
        "explainability", "ok",
        charts=(Chart("attribution_maps", "images", "Where the model looks", {"items": [
            {"png_base64": tiny_png(seed + j, size=28), "caption": f"digit {y[j]}, predicted "
             f"{pred[j]}"} for j in range(6)]}),),
    )  # fmt: skip
    res = rich_result(seed, with_policy=False)
    return _with(
        res, sections=(perf, explain, SectionResult("fairness", "skipped",
                                                    reason="no sensitive features")),
        data={"name": "mnist-like", "n_rows": n, "task": "multiclass", "modality": "image",
              "classes": [str(i) for i in range(k)], "sensitive_features": [],
              "sha256": "e" * 64},
        model=training_block(seed), card_info={"license": "cc-by-4.0"},
    )  # fmt: skip


def text_card_result(seed: int = 0, reviews: tuple[str, ...] = ()) -> AuditResult:
    """A text audit: token highlights of reviews (weights from a bag-of-words score)."""
    rng = np.random.default_rng(seed)
    words = ["a", "great", "film", "boring", "plot", "superb", "awful", "cast", "fine", "not"]
    sentiment = rng.normal(size=len(words))
    texts = list(reviews) or [" ".join(rng.choice(words, 12)) for _ in range(4)]
    rows = []
    for t in texts:
        toks = t.split()
        w = np.array([sentiment[words.index(x)] if x in words else rng.normal() for x in toks])
        w = w / (np.abs(w).max() or 1.0)
        rows.append({"tokens": toks, "weights": w.round(4).tolist(), "caption": t[:40]})
    explain = SectionResult(
        "explainability", "ok",
        charts=(Chart("token_highlights", "tokens", "Words that drive the prediction",
                      {"rows": rows}),),
        metrics=tuple(MetricValue("explainability", "importance", float(abs(s)),
                                  input_feature=wd) for wd, s in zip(words, sentiment)),
    )  # fmt: skip
    res = rich_result(seed, with_policy=False)
    perf = res.sections[0]
    return _with(res, sections=(perf, explain),
                 data={**res.data, "name": "imdb-like", "modality": "text"})  # fmt: skip
