"""The Training part of the card: the checkpoint's training record, its energy, its curves.

Read from the ``model`` block of the result (what the checkpoint recorded when auditkit trained
the model); a model auditkit did not train shows "not provided".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import _filters as F
from ._charts import CardCharts

__all__ = ["TRAINING_QUESTION", "training_view"]

#: What the Training part answers, for a reader who is not a specialist.
TRAINING_QUESTION = "How, on what and with how much energy was the model trained?"


def _history_charts(history: Any) -> list[dict[str, Any]]:
    """Learning curves drawn from the checkpoint's per-epoch history."""
    if not isinstance(history, list) or not history:
        return []
    rows = [h for h in history if isinstance(h, Mapping)]
    keys = [k for k in dict.fromkeys(k for h in rows for k in h) if k != "epoch"]
    x = [h.get("epoch", i + 1) for i, h in enumerate(rows)]
    charts = []
    for word, ylabel in (("loss", "loss"), ("acc", "accuracy")):
        series = [
            {"name": k.replace("_", " "), "x": x, "y": [h.get(k) for h in rows]}
            for k in keys
            if word in k.lower()
        ]
        if series:
            charts.append(
                {
                    "name": f"learning_curve_{ylabel}",
                    "kind": "line",
                    "title": f"Learning curves ({ylabel})",
                    "description": (
                        "Training and validation figures per epoch, from the checkpoint. A "
                        "validation curve that turns away while the training curve keeps "
                        "improving is overfitting."
                    ),
                    "data": {"series": series, "xlabel": "epoch", "ylabel": ylabel,
                             "diagonal": False, "logx": False, "markers": len(x) <= 3},
                }
            )  # fmt: skip
    return charts


def _energy_view(energy: Any) -> dict[str, Any] | None:
    if not isinstance(energy, Mapping) or not energy:
        return None
    label = str(energy.get("label") or "estimated")
    kwh, co2 = energy.get("kwh"), energy.get("co2e_g")
    facts = [
        ("Energy", f"{F.fmt_energy(kwh)} ({label}; {F.fmt_num(kwh)} kWh)"),
        ("Emissions", f"{F.fmt_grams(co2)} CO2e ({label}; {F.fmt_num(co2)} g)"),
        ("Grid carbon intensity",
         f"{F.fmt_num(energy.get('grid_intensity_g_per_kwh'))} g CO2e/kWh"
         + (f" ({energy['grid_intensity_source']})" if energy.get("grid_intensity_source")
            else "")),
        ("Method", str(energy.get("method") or F.MISSING)),
        ("Metered time", F.fmt_duration(energy.get("duration_s"))),
    ]  # fmt: skip
    if energy.get("location"):
        facts.append(("Location", str(energy["location"])))
    components = []
    for c in energy.get("components") or []:
        if isinstance(c, Mapping):
            components.append([
                str(c.get("name", "")), F.fmt_num(c.get("kwh")), str(c.get("label", "")),
                F.fmt_num(c.get("mean_watts")), str(c.get("method", "")),
            ])  # fmt: skip
    return {
        "word": label.upper(),
        "colour": "#0072B2" if label == "measured" else "#6b6b6b",
        "facts": facts,
        "components": {
            "columns": ["Part", "kWh", "Measured or estimated", "Mean power (W)", "Method"],
            "rows": components,
        },
    }


def training_view(
    d: Mapping[str, Any], moved: list[dict[str, Any]], charts: CardCharts
) -> dict[str, Any]:
    """Return the Training part: how, on what and with how much energy the model was trained.

    ``moved`` lists the charts sections computed for this part (``{"target", "chart", "from"}``);
    without any, learning curves are drawn from the checkpoint's history.
    """
    model = dict(d.get("model") or {})
    training = model.get("training") if isinstance(model.get("training"), Mapping) else {}
    assert isinstance(training, Mapping)
    hardware = training.get("hardware") or model.get("hardware")
    wall = training.get("wall_time_s", model.get("wall_time_s"))
    ds = model.get("dataset") if isinstance(model.get("dataset"), Mapping) else {}
    assert isinstance(ds, Mapping)
    recorded = bool(training or model.get("history") or model.get("hparams"))
    facts: list[tuple[str, str]] = []
    if recorded:
        trained_on = str(ds.get("name") or F.MISSING)
        sizes = [f"{F.fmt_num(ds[k])} {w}" for k, w in (("n_train", "training rows"),
                 ("n_val", "validation rows")) if ds.get(k) is not None]  # fmt: skip
        if sizes:
            trained_on += f" ({', '.join(sizes)})"
        facts.append(("Trained on", trained_on))
        if training.get("epochs_run") is not None:
            ep = f"{F.fmt_num(training.get('epochs_run'))} of at most " \
                 f"{F.fmt_num(training.get('max_epochs'))}"  # fmt: skip
            if training.get("best_epoch") is not None:
                ep += f"; weights of epoch {F.fmt_num(training.get('best_epoch'))} kept"
            if training.get("stopped_early"):
                ep += "; stopped early"
            facts.append(("Epochs", ep))
        facts.append(("Training time", F.fmt_duration(wall)))
        if isinstance(hardware, Mapping):
            hw = f"{hardware.get('cpu') or 'CPU'} ({F.fmt_num(hardware.get('cpu_count'))} CPUs)"
            hw += f"; GPU: {hardware['gpu']}" if hardware.get("gpu") else "; no GPU"
            if hardware.get("accelerator"):
                hw += f"; Lightning accelerator {hardware['accelerator']}"
                if hardware.get("devices") is not None:
                    hw += f" × {F.fmt_num(hardware['devices'])}"
            facts.append(("Hardware", hw))
        for key, label in (("created_at", "Trained at (UTC)"), ("seed", "Training seed")):
            if training.get(key) is not None:
                facts.append((label, F.fmt_cell(training[key])))
        tm = model.get("test_metrics")
        if isinstance(tm, Mapping) and tm.get("accuracy") is not None:
            acc = f"{F.fmt_num(tm['accuracy'])} (n = {F.fmt_num(tm.get('n'))})"
            facts.append(("Test accuracy when trained", acc))
        versions = training.get("versions") or model.get("versions")
        if isinstance(versions, Mapping):
            facts.append(("Libraries", ", ".join(f"{k} {v}" for k, v in versions.items())))
    hparams = model.get("hparams") if isinstance(model.get("hparams"), Mapping) else {}
    assert isinstance(hparams, Mapping)
    curves = [charts.view(m["chart"]) for m in moved if m["target"] == "training"]
    if not curves:
        curves = [charts.view(c) for c in _history_charts(model.get("history"))]
    energy = _energy_view(training.get("energy"))
    kind = str(model.get("kind") or "")
    return {
        "question": TRAINING_QUESTION,
        "recorded": recorded,
        "not_recorded": (
            ""
            if recorded
            else f"This model ({kind or 'of unknown kind'}) was not trained by auditkit, so its "
            "training data, time, hardware and energy are not recorded: not provided."
        ),  # fmt: skip
        "facts": facts,
        "hparams": [(str(k), F.detail_text(v)) for k, v in hparams.items()],
        "charts": curves,
        "energy": energy,
        "energy_missing": (
            "Energy use: not provided (not recorded in the checkpoint)."
            if recorded and energy is None
            else ""
        ),  # fmt: skip
    }
