"""Regulatory crosswalk: what the EU AI Act and the NIST AI RMF ask, and where this card answers.

A compliance officer filing the technical documentation of a high-risk AI system (Regulation
(EU) 2024/1689, the AI Act: Annex IV and Articles 9, 10, 12, 13, 14 and 15, applicable to
high-risk systems from 2 August 2026) or mapping a model to the NIST AI Risk Management
Framework 1.0 (NIST AI 100-1: the MAP and MEASURE functions) needs to know, item by item, which
part of the audit is evidence for it and what is missing. :data:`REQUIREMENTS` lists the items
an audit card can speak to, each with

* the card-info fields that answer it in the provider's own words (``intended_use``,
  ``human_oversight``, ``risk_management``, ``data_governance``, ``record_keeping``,
  ``post_market_monitoring``...): what the law asks that an audit cannot measure;
* the audit sections that hold measured evidence (``performance``, ``fairness``...);
* other parts of the record (the run's provenance, the training record, the policy verdict).

:func:`crosswalk_view` reads the JSON document (never a section object) and says, per item,
which evidence this card holds, with links to it, and what is "not provided". It is a map to
the evidence, not a conformity assessment: the card says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DISCLAIMER", "REQUIREMENTS", "Requirement", "crosswalk_view"]

NOT_PROVIDED = "not provided"

DISCLAIMER = (
    "This table points to the evidence in this card for each item; it is not a conformity "
    "assessment, and an item marked covered still needs a person to judge the evidence."
)


@dataclass(frozen=True)
class Requirement:
    """One item of a framework and where an audit card may hold evidence for it."""

    framework: str
    ref: str
    asks: str
    fields: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    records: tuple[str, ...] = ()


_EU = "EU AI Act"
_NIST = "NIST AI RMF 1.0"

#: The items, in the order the card shows them.
REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement(_EU, "Art. 9", "A risk management system: known and foreseeable risks "
                "identified, estimated and addressed, and the system tested against them.",
                fields=("risk_management",), sections=("fairness", "privacy"),
                records=("policy",)),
    Requirement(_EU, "Art. 10(2)(f)-(g)", "Data examined for possible biases that affect health, "
                "safety or fundamental rights or lead to discrimination, and measures to detect, "
                "prevent and mitigate them.", fields=("data_governance",),
                sections=("fairness",)),
    Requirement(_EU, "Art. 10(3)-(4)", "Data relevant, representative and with the appropriate "
                "statistical properties for the persons or groups the system is used on.",
                fields=("data_governance",), sections=("drift",), records=("data",)),
    Requirement(_EU, "Art. 12", "Record-keeping: events logged automatically over the "
                "system's lifetime, for traceability.", fields=("record_keeping",),
                records=("run",)),
    Requirement(_EU, "Art. 13(3)(b)(i)", "Instructions for use state the intended purpose.",
                fields=("intended_use", "out_of_scope_uses")),
    Requirement(_EU, "Art. 13(3)(b)(ii)", "The levels of accuracy, robustness and "
                "cybersecurity, with the metrics, against which the system was tested.",
                sections=("performance", "stability", "privacy")),
    Requirement(_EU, "Art. 13(3)(b)(iv)-(v)", "Technical capabilities that explain the output, "
                "and the performance for the specific persons or groups the system is used on.",
                sections=("explainability", "fairness")),
    Requirement(_EU, "Art. 14", "Human oversight: measures that let people understand the "
                "system's capacities and limits, interpret its output and override it.",
                fields=("human_oversight",), sections=("explainability",)),
    Requirement(_EU, "Art. 15", "Accuracy, robustness and cybersecurity: declared accuracy "
                "metrics, resilience to errors and inconsistencies, and to attacks on "
                "confidentiality.", sections=("performance", "stability", "privacy")),
    Requirement(_EU, "Annex IV 1", "A general description: intended purpose, provider, "
                "version, how the system interacts with hardware and software.",
                fields=("overview", "intended_use", "owners", "version"), records=("model",)),
    Requirement(_EU, "Annex IV 2(d)", "The data requirements: training methods and data sets, "
                "their provenance, scope and main characteristics.",
                fields=("data_governance",), records=("data", "training")),
    Requirement(_EU, "Annex IV 2(e)", "The human oversight measures needed (Art. 14).",
                fields=("human_oversight",)),
    Requirement(_EU, "Annex IV 2(g)", "Validation and testing: the data used, the metrics of "
                "accuracy, robustness and potentially discriminatory impacts, dated test logs.",
                sections=("performance", "fairness", "stability"), records=("run",)),
    Requirement(_EU, "Annex IV 3", "Capabilities and limits in performance, the accuracy for "
                "specific persons or groups, foreseeable unintended outcomes and risks.",
                fields=("limitations",), sections=("performance", "fairness")),
    Requirement(_EU, "Annex IV 4", "Why the performance metrics chosen are appropriate.",
                sections=("performance",)),
    Requirement(_EU, "Annex IV 5", "The risk management system (Art. 9).",
                fields=("risk_management",)),
    Requirement(_EU, "Annex IV 9", "The post-market monitoring plan (Art. 72).",
                fields=("post_market_monitoring",)),
    Requirement(_NIST, "MAP 1.1", "Intended purposes, beneficial uses, context and settings of "
                "deployment are understood and documented.",
                fields=("intended_use", "intended_users", "out_of_scope_uses")),
    Requirement(_NIST, "MAP 2.2", "The system's knowledge limits and how its output is used "
                "and overseen by people are documented.",
                fields=("limitations", "human_oversight")),
    Requirement(_NIST, "MAP 2.3", "TEVV considerations, including the representativeness and "
                "suitability of the data, are identified and documented.",
                fields=("data_governance",), sections=("drift",), records=("data",)),
    Requirement(_NIST, "MEASURE 2.3", "Performance is measured and demonstrated for conditions "
                "like the deployment setting.", sections=("performance",)),
    Requirement(_NIST, "MEASURE 2.5", "The system is shown valid and reliable; limits of "
                "generalisation are documented.", fields=("limitations",),
                sections=("stability", "drift")),
    Requirement(_NIST, "MEASURE 2.7", "Security and resilience are evaluated and documented.",
                sections=("privacy", "stability")),
    Requirement(_NIST, "MEASURE 2.9", "The model is explained, validated and documented; its "
                "output is interpreted in context.", sections=("explainability",)),
    Requirement(_NIST, "MEASURE 2.10", "Privacy risk is examined and documented.",
                sections=("privacy",)),
    Requirement(_NIST, "MEASURE 2.11", "Fairness and bias are evaluated and the results "
                "documented.", sections=("fairness",)),
    Requirement(_NIST, "MEASURE 2.12", "The environmental impact of training is assessed and "
                "documented.", records=("training",)),
)  # fmt: skip

_RECORD_WORDS = {
    "run": ("The audit record: tool version, seed, date and command (audit.json)", "provenance"),
    "model": ("The model's name, kind and weights hash", "top"),
    "data": ("The evaluation data: name, rows, sensitive features", "top"),
    "training": ("The training record: data, hyper-parameters, time and energy", "training"),
    "policy": ("The policy's thresholds and verdict", "policy"),
}


def _has_record(d: Mapping[str, Any], key: str) -> bool:
    if key == "run":
        return bool(d.get("run")) and bool(d.get("created_at"))
    if key == "model":
        return bool(d.get("model"))
    if key == "data":
        return bool(d.get("data"))
    if key == "training":
        model = d.get("model") if isinstance(d.get("model"), Mapping) else {}
        assert isinstance(model, Mapping)
        return bool(model.get("training"))
    if key == "policy":
        return bool(d.get("policy"))
    return False


def _section_evidence(
    name: str, sections: Mapping[str, Mapping[str, Any]], anchors: Mapping[str, str]
) -> tuple[dict[str, str], bool]:
    """Return one section's line of evidence and whether it is evidence (ran) or a gap."""
    title = name.replace("_", " ").capitalize()
    s = sections.get(name)
    if s is None:
        return {"text": f"{title} section: not run", "anchor": ""}, False
    status = str(s.get("status", ""))
    if status != "ok":
        reason = str(s.get("reason") or status)
        line = {"text": f"{title} section {status}: {reason}", "anchor": anchors.get(name, "")}
        return line, False
    n = len(s.get("findings") or [])
    more = f", {n} finding{'s' if n != 1 else ''}" if n else ""
    return {"text": f"{title} section{more}", "anchor": anchors.get(name, "")}, True


def crosswalk_view(
    d: Mapping[str, Any],
    *,
    field_titles: Mapping[str, str],
    anchors: Mapping[str, str] | None = None,
    requirements: Sequence[Requirement] = REQUIREMENTS,
) -> dict[str, Any]:
    """Return the crosswalk of a result's JSON data for the cards.

    Parameters
    ----------
    d : mapping
        ``AuditResult.to_dict()`` data.
    field_titles : mapping of str to str
        The card's heading of each card-info field.
    anchors : mapping of str to str, default=None
        Section name -> its anchor in the HTML card (``sec-fairness``).
    requirements : sequence of Requirement, default=REQUIREMENTS

    Returns
    -------
    dict
        ``rows`` (one per item: ``framework``, ``ref``, ``asks``, ``evidence`` (a list of
        ``{"text", "anchor"}``), ``missing`` (a list of texts), ``status`` ("covered",
        "partly covered" or "not provided")), ``counts`` per status, and ``disclaimer``.
    """
    anchors = dict(anchors or {})
    info = d.get("card_info") if isinstance(d.get("card_info"), Mapping) else {}
    assert isinstance(info, Mapping)
    sections = {
        str(s.get("name", "")): s for s in d.get("sections") or [] if isinstance(s, Mapping)
    }
    rows = []
    for req in requirements:
        evidence: list[dict[str, str]] = []
        missing: list[str] = []
        for f in req.fields:
            title = field_titles.get(f, f.replace("_", " ").capitalize())
            value = info.get(f)
            if value not in (None, "", [], {}):
                evidence.append({"text": f"Card information: {title}", "anchor": "about"})
            else:
                missing.append(f"{title}: {NOT_PROVIDED}")
        for name in req.sections:
            line, ok = _section_evidence(name, sections, anchors)
            if ok:
                evidence.append(line)
            else:
                missing.append(line["text"])
        for key in req.records:
            text, anchor = _RECORD_WORDS[key]
            if _has_record(d, key):
                evidence.append({"text": text, "anchor": anchor})
            else:
                missing.append(f"{text}: {NOT_PROVIDED}")
        status = "covered" if not missing else "partly covered" if evidence else NOT_PROVIDED
        rows.append(
            {
                "framework": req.framework, "ref": req.ref, "asks": req.asks,
                "evidence": evidence, "missing": missing, "status": status,
            }
        )  # fmt: skip
    counts = {k: sum(r["status"] == k for r in rows) for k in ("covered", "partly covered",
                                                              NOT_PROVIDED)}  # fmt: skip
    return {"rows": rows, "counts": counts, "disclaimer": DISCLAIMER}
