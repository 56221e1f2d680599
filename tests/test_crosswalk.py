"""The EU AI Act / NIST AI RMF crosswalk: each item points to evidence or says "not provided"."""

from __future__ import annotations

from auditkit.report._crosswalk import REQUIREMENTS, crosswalk_view

TITLES = {"human_oversight": "Human oversight", "intended_use": "Intended use"}


def _doc(**over):
    d = {
        "created_at": "2026-12-03T00:00:00Z",
        "run": {"seed": 0},
        "model": {"name": "m", "kind": "sklearn"},
        "data": {"name": "d", "n_rows": 10},
        "sections": [
            {"name": "performance", "status": "ok", "findings": [{"text": "a"}]},
            {"name": "fairness", "status": "ok", "findings": []},
            {"name": "privacy", "status": "skipped", "reason": "needs training data"},
        ],
        "card_info": {},
    }
    d.update(over)
    return d


def _row(view, ref):
    return next(r for r in view["rows"] if r["ref"] == ref)


def test_every_article_and_annex_item_the_issue_names_is_listed():
    refs = [r.ref for r in REQUIREMENTS]
    for art in ("Art. 9", "Art. 10", "Art. 12", "Art. 13", "Art. 14", "Art. 15", "Annex IV"):
        assert any(r.startswith(art) for r in refs), art
    assert any(r.startswith("MAP") for r in refs) and any(r.startswith("MEASURE") for r in refs)


def test_sections_that_ran_are_evidence_and_skipped_ones_are_gaps():
    v = crosswalk_view(_doc(), field_titles=TITLES, anchors={"performance": "sec-performance"})
    r = _row(v, "MEASURE 2.3")
    assert r["status"] == "covered"
    line = {"text": "Performance section, 1 finding", "anchor": "sec-performance"}
    assert r["evidence"] == [line]
    r = _row(v, "MEASURE 2.10")
    assert r["status"] == "not provided"
    assert r["missing"] == ["Privacy section: skipped (needs training data)"]
    r = _row(v, "MEASURE 2.9")  # explainability not run at all
    assert r["missing"] == ["Explainability section: not run"]


def test_card_info_fields_written_by_the_provider_count_as_evidence():
    v = crosswalk_view(_doc(), field_titles=TITLES)
    assert _row(v, "Annex IV 2(e)")["missing"] == ["Human oversight: not provided"]
    v = crosswalk_view(_doc(card_info={"human_oversight": "A clerk reviews every refusal."}),
                       field_titles=TITLES)  # fmt: skip
    r = _row(v, "Annex IV 2(e)")
    assert r["status"] == "covered"
    assert r["evidence"] == [{"text": "Card information: Human oversight", "anchor": "about"}]
    r = _row(v, "Art. 14")  # the field is there, the explainability section is not
    assert r["status"] == "partly covered"


def test_counts_add_up_and_the_disclaimer_says_it_is_no_assessment():
    v = crosswalk_view(_doc(), field_titles=TITLES)
    assert sum(v["counts"].values()) == len(REQUIREMENTS)
    assert "not a conformity assessment" in v["disclaimer"]


def test_records_policy_and_training():
    v = crosswalk_view(_doc(), field_titles=TITLES)
    assert _row(v, "MEASURE 2.12")["status"] == "not provided"
    d = _doc(model={"name": "m", "training": {"energy_kwh": 0.1}}, policy={"passed": True})
    v = crosswalk_view(d, field_titles=TITLES)
    assert _row(v, "MEASURE 2.12")["status"] == "covered"
    assert any(e["anchor"] == "policy" for e in _row(v, "Art. 9")["evidence"])
