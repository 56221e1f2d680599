r"""YAML front matter of the Markdown card, following the Hugging Face Hub's model-card metadata.

The Hub reads ``license``, ``tags``, ``datasets``, ``metrics``, ``model-index`` (evaluation
results as ``results: [{task, dataset, metrics: [{type, value, name}]}]``) and
``co2_eq_emissions`` (``emissions`` in grams, ``source``, ``training_type``,
``geographical_location``, ``hardware_used``) from the YAML block at the top of ``README.md``.
Every value comes from the audit result; the block is written by PyYAML's safe dumper (never a
string template with data in it). Strings holding characters that mean something in HTML or
Markdown (``< > & [ ] ` * |``) are written double-quoted with those characters as YAML escapes
(``\\x3C``), so the parsed values are exactly the data, and the raw text of the card holds no
markup from data even for a renderer that shows the front matter as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from ._regression import is_regression

__all__ = ["front_matter", "front_matter_data", "model_index_metrics"]

_HAZARDS = frozenset('<>&[]`*|\\"{}')
_LICENSE_ID = re.compile(r"^[a-z0-9][a-z0-9.+\-]{0,63}$")
_TASKS = {
    "tabular": ("tabular-classification", "Tabular classification"),
    "image": ("image-classification", "Image classification"),
    "text": ("text-classification", "Text classification"),
}
#: The same for a regression (a prediction log is tabular).
_REGRESSION_TASKS = {
    "tabular": ("tabular-regression", "Tabular regression"),
    "image": ("image-regression", "Image regression"),
    "text": ("text-regression", "Text regression"),
}
#: Whole-population figures of each section that go into ``model-index``.
_INDEX_OVERALL = {
    "performance": ("accuracy", "balanced_accuracy", "roc_auc", "log_loss", "brier_score",
                    "expected_calibration_error", "mean_absolute_error", "mean_squared_error",
                    "root_mean_squared_error", "r2_score", "mean_error", "median_absolute_error"),
    "privacy": ("membership_auc", "membership_advantage", "generalization_gap_accuracy",
                "dp_epsilon"),
    "explainability": ("completeness_delta_relative_p95",),
    "stability": ("accuracy_std", "balanced_accuracy_std", "roc_auc_std"),
}  # fmt: skip
#: Disparities between groups, one per single sensitive feature.
#: (The last is for multiclass tasks, which have no selection-rate disparities.)
_INDEX_FAIRNESS = ("demographic_parity_ratio", "demographic_parity_difference",
                   "equalized_odds_difference", "accuracy_difference")  # fmt: skip
#: The same for a regression.
_INDEX_FAIRNESS_REGRESSION = (
    "mean_absolute_error_difference",
    "root_mean_squared_error_difference",
    "mean_error_difference",
)


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, writing markup characters of double-quoted strings as escapes."""

    def write_double_quoted(self, text: str, split: bool = True) -> None:  # noqa: D102
        self.write_indicator('"', True)
        parts = []
        for ch in text:
            if ch in _HAZARDS or not ch.isprintable():
                if ch in self.ESCAPE_REPLACEMENTS and ch not in '\\"':
                    parts.append("\\" + self.ESCAPE_REPLACEMENTS[ch])
                elif ord(ch) <= 0xFF:
                    parts.append(f"\\x{ord(ch):02X}")
                elif ord(ch) <= 0xFFFF:
                    parts.append(f"\\u{ord(ch):04X}")
                else:
                    parts.append(f"\\U{ord(ch):08X}")
            else:
                parts.append(ch)
        data = "".join(parts)
        self.column += len(data)
        self.stream.write(data)
        self.write_indicator('"', False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if any(c in _HAZARDS or not c.isprintable() for c in value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _whole(m: Mapping[str, Any]) -> bool:
    return all(m.get(k) is None for k in ("feature", "group", "label", "fold", "input_feature"))


def _label(name: str) -> str:
    text = name.replace("_", " ")
    for a, b in (("roc auc", "ROC AUC"), ("auc", "AUC"), ("std", "standard deviation"),
                 ("dp ", "DP "), ("r2 score", "R²")):  # fmt: skip
        text = text.replace(a, b)
    return text[:1].upper() + text[1:]


def model_index_metrics(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the audit's headline figures as Hub ``model-index`` metrics.

    Whole-population performance, privacy, explainability and stability figures, and the
    between-groups disparities for each single sensitive feature (``config`` names the feature,
    or the attack of a privacy figure). Undefined values are left out.
    """
    out: list[dict[str, Any]] = []
    fair_names = {str(m.get("name")) for m in data.get("metrics") or []
                  if m.get("section") == "fairness"}  # fmt: skip
    fairness = [n for n in _INDEX_FAIRNESS[:-1] if n in fair_names] or list(_INDEX_FAIRNESS[-1:])
    if is_regression(data):
        fairness = list(_INDEX_FAIRNESS_REGRESSION)
    for m in data.get("metrics") or []:
        name, section, value = str(m.get("name")), str(m.get("section")), m.get("value")
        if value is None or isinstance(value, bool):
            continue
        entry: dict[str, Any] | None = None
        if section in _INDEX_OVERALL and name in _INDEX_OVERALL[section] and _whole(m):
            entry = {"type": name, "value": value, "name": _label(name)}
            if m.get("attack") is not None:
                entry["config"] = f"attack={m['attack']}"
                entry["name"] += f" ({m['attack']} attack)"
        elif (
            section == "fairness"
            and name in fairness
            and m.get("group") is None
            and m.get("feature") is not None
            and len(m["feature"]) == 1
            and m.get("method") in (None, "between_groups")
        ):
            feature = str(m["feature"][0])
            entry = {"type": name, "value": value, "name": f"{_label(name)} ({feature})",
                     "config": feature}  # fmt: skip
        if entry is not None:
            out.append(entry)
    return out


def _hardware(training: Mapping[str, Any]) -> str:
    hw = training.get("hardware")
    if not isinstance(hw, Mapping):
        return "not recorded"
    if hw.get("gpu"):
        n = hw.get("devices") or 1
        return f"{n} x {hw['gpu']}"
    return f"{hw.get('cpu') or 'CPU'} ({hw.get('cpu_count') or '?'} CPUs)"


def front_matter_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the Hub metadata of an audit result as plain data (what is dumped)."""
    card = data.get("card_info") if isinstance(data.get("card_info"), Mapping) else {}
    assert isinstance(card, Mapping)
    model = data.get("model") if isinstance(data.get("model"), Mapping) else {}
    assert isinstance(model, Mapping)
    ds = data.get("data") if isinstance(data.get("data"), Mapping) else {}
    assert isinstance(ds, Mapping)
    out: dict[str, Any] = {}
    lic = card.get("license", card.get("licence"))
    if isinstance(lic, str) and _LICENSE_ID.match(lic.strip().lower()):
        out["license"] = lic.strip().lower()
    elif lic:
        out["license"] = "other"
        out["license_name"] = "custom"
    else:
        out["license"] = "unknown"
    modality = str(ds.get("modality") or "tabular")
    task_type, task_name = _TASKS.get(modality, _TASKS["tabular"])
    if is_regression(data):
        task_type, task_name = _REGRESSION_TASKS.get(modality, _REGRESSION_TASKS["tabular"])
    ran = [str(s.get("name")) for s in data.get("sections") or [] if s.get("status") == "ok"]
    tags = ["auditkit", "model-card", task_type]
    tags += [f"{s}-audit" for s in ran]
    extra = card.get("tags")
    if isinstance(extra, list):
        tags += [str(t) for t in extra]
    out["tags"] = list(dict.fromkeys(tags))
    ds_name = str(ds.get("name") or "")
    if ds_name:
        out["datasets"] = [ds_name]
    metrics = model_index_metrics(data)
    if metrics:
        out["metrics"] = list(dict.fromkeys(m["type"] for m in metrics))
        dataset: dict[str, Any] = {
            "name": ds_name or "evaluation data",
            "type": ds_name or "custom",
        }
        if ds.get("split"):
            dataset["split"] = str(ds["split"])
        out["model-index"] = [
            {
                "name": str(model.get("name") or "model"),
                "results": [
                    {
                        "task": {"type": task_type, "name": task_name},
                        "dataset": dataset,
                        "metrics": metrics,
                    }
                ],
            }
        ]
    training = model.get("training") if isinstance(model.get("training"), Mapping) else {}
    assert isinstance(training, Mapping)
    energy = training.get("energy")
    if isinstance(energy, Mapping) and energy.get("co2e_g") is not None:
        label = str(energy.get("label") or "estimated")
        out["co2_eq_emissions"] = {
            "emissions": energy["co2e_g"],
            "source": f"auditkit EnergyMeter ({label}): {energy.get('method') or ''}".strip(),
            "training_type": "pre-training",
            "geographical_location": str(
                energy.get("location")
                or f"not recorded; grid intensity {energy.get('grid_intensity_g_per_kwh')} "
                f"g CO2e/kWh ({energy.get('grid_intensity_source') or 'default'})"
            ),
            "hardware_used": _hardware(training),
        }
    return out


def front_matter(data: Mapping[str, Any]) -> str:
    """Return the ``---``-delimited YAML block that starts the Markdown card.

    Examples
    --------
    >>> print(front_matter({"data": {"name": "adult"}, "card_info": {"license": "mit"}}), end="")
    ---
    license: mit
    tags:
    - auditkit
    - model-card
    - tabular-classification
    datasets:
    - adult
    ---
    """
    body = yaml.dump(
        front_matter_data(data), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
        allow_unicode=True, width=100_000,
    )  # fmt: skip
    return f"---\n{body}---\n"
