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
    assert r["missing"] == ["Privacy section skipped: needs training data"]
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


# ------------------------------------------------------------------------------ in the cards
def _card_result(card_info=None):
    import numpy as np

    import auditkit

    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    p = np.where(rng.random(n) < 0.8, y, 1 - y)
    g = rng.choice(["a", "b"], n)
    return auditkit.audit_predictions(y, p, sensitive_features=g, n_boot=50,
                                      card_info=card_info)  # fmt: skip


def test_the_html_card_shows_every_item_with_working_links():
    import re

    from auditkit.report import render_html

    html = render_html(_card_result())
    assert '<section id="crosswalk"' in html and 'href="#crosswalk"' in html
    part = html.split('<section id="crosswalk"', 1)[1].split("</section>", 1)[0]
    assert part.count("<tr data-status=") == len(REQUIREMENTS)
    ids = set(re.findall(r'id="([^"]+)"', html))
    for target in re.findall(r'href="#([^"]+)"', part):
        assert target in ids, target
    # no card information: the provider's items are gaps, and the card says so
    assert 'data-status="not provided"' in part and "Human oversight: not provided" in part
    assert "not a conformity assessment" in part


def test_card_info_fields_appear_as_written_and_escaped():
    from auditkit.report import render_html, render_markdown

    info = {"human_oversight": "A clerk <b>reviews</b> | every refusal.",
            "post_market_monitoring": "Monthly re-audit."}  # fmt: skip
    res = _card_result(info)
    html = render_html(res)
    assert "A clerk &lt;b&gt;reviews&lt;/b&gt; | every refusal." in html
    assert "<b>reviews</b>" not in html
    part = html.split('<section id="crosswalk"', 1)[1].split("</section>", 1)[0]
    row = part.split("<th scope=\"row\">Annex IV 2(e)</th>", 1)[1].split("</tr>", 1)[0]
    assert ">covered<" in row and 'href="#about"' in row
    md = render_markdown(res)
    assert "## Governance and regulatory crosswalk" in md and "### Human oversight" in md
    assert "<b>" not in md and "every refusal" in md
    table = md.split("### Crosswalk (EU AI Act, NIST AI RMF)", 1)[1].split("## Glossary", 1)[0]
    rows = [x for x in table.splitlines() if x.startswith("| ") and "---" not in x]
    assert len(rows) == len(REQUIREMENTS) + 1  # the header and one row per item
    assert all(x.count(" | ") == 5 for x in rows)  # no cell broke the table


def test_the_example_card_info_file_loads_with_every_governance_field():
    from pathlib import Path

    from auditkit.report import load_card_info

    info = load_card_info(Path(__file__).parents[1] / "examples" / "card-info.yaml")
    for f in ("intended_use", "human_oversight", "risk_management", "data_governance",
              "record_keeping", "post_market_monitoring"):  # fmt: skip
        assert isinstance(info[f], str) and info[f], f
