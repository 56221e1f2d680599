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
from auditkit.report._model import SCHEMA_VERSION

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
