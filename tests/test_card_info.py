"""Qualitative card fields: validation with clear errors, normalisation, what the cards show."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from _report_fixtures import HOSTILE, rich_result

import auditkit
from auditkit.exceptions import DataValidationError
from auditkit.report import AuditResult, render_html, render_markdown
from auditkit.report._card_info import CARD_INFO_FIELDS, FIELD_TITLES, NOT_PROVIDED, load_card_info

FULL = """\
version: "2.1"
overview: Predicts whether a census respondent earns more than $50K.
intended_use: Teaching material for fairness audits.
intended_users: [students, auditors]
out_of_scope_uses:
  - Decisions about real people.
limitations: Trained on the 1994 US census.
ethical_considerations:
  - name: Historical bias in the labels.
    mitigation: Report group metrics with intervals.
  - Binary sex only.
tradeoffs: A lower threshold raises recall and the selection-rate gap.
risk_management: Reviewed by the model-risk board before each release.
data_governance: The 1994 census; examined for bias by sex and race.
human_oversight: A reviewer sees every refusal and can override it.
record_keeping: Each decision is logged with the model version.
post_market_monitoring: A monthly audit of the logged decisions.
owners:
  - {name: Jane Doe, contact: jane@example.org}
  - Audit team
licence: apache-2.0
references:
  - https://archive.ics.uci.edu/dataset/2/adult
  - {title: Model Cards for Model Reporting, url: "https://arxiv.org/abs/1810.03993"}
  - Dua and Graff (2019)
citation: Doe, J. (2024).
tags: [tabular, census]
"""


def write(tmp_path: Path, text: str, name: str = "card.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_full_file_is_normalised(tmp_path: Path) -> None:
    info = load_card_info(write(tmp_path, FULL))
    assert list(info) == [k for k in CARD_INFO_FIELDS if k in info]  # canonical order
    assert set(info) == set(CARD_INFO_FIELDS)
    assert info["version"] == "2.1" and info["license"] == "apache-2.0"
    assert info["intended_users"] == ["students", "auditors"]
    assert info["owners"] == [
        {"name": "Jane Doe", "contact": "jane@example.org"},
        {"name": "Audit team", "contact": None},
    ]
    assert info["ethical_considerations"][1] == {"name": "Binary sex only.", "mitigation": None}
    assert info["references"] == [
        {"title": None, "url": "https://archive.ics.uci.edu/dataset/2/adult"},
        {"title": "Model Cards for Model Reporting", "url": "https://arxiv.org/abs/1810.03993"},
        {"title": "Dua and Graff (2019)", "url": None},
    ]
    assert load_card_info(dict(info)) == info  # idempotent: the JSON form loads again


def test_mapping_path_str_and_none(tmp_path: Path) -> None:
    p = write(tmp_path, "version: 3\nlimitations: few\n")
    assert load_card_info(str(p)) == load_card_info(p) == {"version": "3", "limitations": "few"}
    assert load_card_info(None) == {} and load_card_info({}) == {}
    assert load_card_info(write(tmp_path, "", "empty.yaml")) == {}


BAD: list[tuple[str, str, list[str]]] = [
    ("intended_usage: x\n", "unknown field 'intended_usage'", ["did you mean 'intended_use'"]),
    ("Licence: mit\n", "unknown field 'Licence'", ["did you mean 'licence'"]),
    ("- a\n- b\n", "must be a mapping", ["a list"]),
    ("owners:\n  - {name: A, email: a@b}\n", "field 'owners', entry 1", ["unknown key 'email'"]),
    ("owners:\n  - {contact: a@b}\n", "field 'owners', entry 1", ["needs a 'name'"]),
    ("limitations:\n  - ok\n  - {a: 1}\n", "field 'limitations', entry 2", ["must be text"]),
    ("license: [mit, bsd]\n", "field 'license'", ["must be text"]),
    ("version: true\n", "field 'version'", ["must be text"]),
    ("references:\n  - {}\n", "field 'references', entry 1", ["'title' or a 'url'"]),
    ("licence: mit\nlicense: mit\n", "given twice", ["'licence'", "'license'"]),
    ("tags: {a: 1}\n", "field 'tags'", ["list of text"]),
    ("a: [unclosed\n", "not valid YAML", []),
]


@pytest.mark.parametrize("text,needle,more", BAD, ids=[b[1] for b in BAD])
def test_errors_name_the_file_and_field(
    tmp_path: Path, text: str, needle: str, more: list[str]
) -> None:
    p = write(tmp_path, text, "mycard.yaml")
    with pytest.raises(DataValidationError) as exc:
        load_card_info(p)
    msg = str(exc.value)
    assert "mycard.yaml" in msg and needle in msg, msg
    for m in more:
        assert m in msg, msg


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="does not exist"):
        load_card_info(tmp_path / "nope.yaml")
    with pytest.raises(DataValidationError, match="folder"):
        load_card_info(tmp_path)
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DataValidationError, match="UTF-8"):
        load_card_info(tmp_path / "bin.yaml")
    with pytest.raises(DataValidationError, match="mapping of model-card fields"):
        load_card_info(42)  # type: ignore[arg-type]
    with pytest.raises(DataValidationError, match="Card info: unknown field"):
        load_card_info({"intended_use": "x", "purpose": "y"})


def _card(info: dict[str, Any]) -> AuditResult:
    res = rich_result(with_policy=False)
    return AuditResult(**{**res.__dict__, "card_info": info})


def test_every_field_is_shown_and_missing_ones_say_not_provided() -> None:
    html, md = render_html(_card({"limitations": "Only adults."})), render_markdown(_card({}))
    for name, title in FIELD_TITLES.items():
        assert f'data-field="{name}"' in html
        assert title in html
    assert html.count(f'class="not-provided">{NOT_PROVIDED}<') == len(CARD_INFO_FIELDS) - 1
    assert "Only adults." in html
    assert md.count(f"*{NOT_PROVIDED}*") >= len(CARD_INFO_FIELDS) - 2  # tags are front matter


def test_links_only_for_http_and_https(tmp_path: Path) -> None:
    info = load_card_info(
        {"references": ["https://example.org/paper", "javascript:alert(1)",
                        {"title": "ftp copy", "url": "ftp://example.org/x"},
                        {"title": "data uri", "url": "data:text/html,<script>alert(1)</script>"},
                        {"title": "quoted", "url": 'https://x.org/"onmouseover=alert(1)'}]}
    )  # fmt: skip
    html = render_html(_card(info))
    hrefs = re.findall(r'href="([^"#][^"]*)"', html)
    assert hrefs == ["https://example.org/paper"]
    assert "javascript:alert(1)" in html  # shown as text
    assert "ftp://example.org/x" in html and "<script>alert" not in html
    md = render_markdown(_card(info))
    assert "https://example.org/paper" in md
    assert "](" not in md and "<" not in md


def test_hostile_card_info_is_text() -> None:
    for h in HOSTILE:
        info = load_card_info({
            "overview": h, "intended_use": [h, h], "owners": [{"name": h, "contact": h}],
            "references": [{"title": h, "url": h}], "license": h, "version": h, "tags": [h],
            "ethical_considerations": [{"name": h, "mitigation": h}],
        })  # fmt: skip
        html, md = render_html(_card(info)), render_markdown(_card(info))
        if re.search(r"[<>\"]", h) and h != "</td>":
            assert h not in html and h not in md
        assert not re.findall(r'href="(?!#)', html)  # no link at all: none is http(s)
        assert html.count("</td>") == len(re.findall(r"<td[ >]", html))
        assert "<" not in md and ">" not in md


def test_audit_takes_card_info_as_path_or_dict(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = write(tmp_path, "licence: mit\nowners: [Ann]\n")
    for source in (p, str(p), {"licence": "mit", "owners": ["Ann"]}):
        res = auditkit.audit_predictions(
            y, y, sensitive_features=rng.choice(["a", "b"], 200), n_boot=0,
            sections=["performance"], card_info=source,
        )  # fmt: skip
        assert res.card_info == {"owners": [{"name": "Ann", "contact": None}], "license": "mit"}
    with pytest.raises(DataValidationError, match="unknown field"):
        auditkit.audit_predictions(
            y,
            y,
            sensitive_features=rng.choice(["a", "b"], 200),
            n_boot=0,
            sections=["performance"],
            card_info={"x": 1},
        )


def test_cli_audit_and_render_take_card_info(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np
    import pandas as pd

    from auditkit.cli import main
    from auditkit.report import load_result

    rng = np.random.default_rng(0)
    n = 300
    log = tmp_path / "log.csv"
    pd.DataFrame({"g": rng.choice(["a", "b"], n), "y": rng.integers(0, 2, n),
                  "d": rng.integers(0, 2, n)}).to_csv(log, index=False)  # fmt: skip
    base = [
        "audit",
        "--predictions",
        str(log),
        "--y-true",
        "y",
        "--y-pred",
        "d",
        "--sensitive",
        "g",
        "--n-boot",
        "10",
        "--no-progress",
        "--sections",
        "performance",
    ]
    card = write(tmp_path, FULL)
    assert main([*base, "--out", str(tmp_path / "o"), "--card-info", str(card)]) == 0
    res = load_result(tmp_path / "o" / "audit.json")
    assert res.card_info == load_card_info(card)
    # a bad file: exit 2, one line naming the file and the field, nothing written
    bad = write(tmp_path, "owner: me\n", "bad.yaml")
    capsys.readouterr()
    assert main([*base, "--out", str(tmp_path / "o2"), "--card-info", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "bad.yaml" in err and "'owner'" in err and "did you mean 'owners'" in err
    assert not (tmp_path / "o2").exists()
    # render swaps the qualitative fields in, from the JSON's numbers alone
    other = write(tmp_path, "limitations: Rendered later.\n", "later.yaml")
    assert main(["render", str(tmp_path / "o" / "audit.json"), "--out", str(tmp_path / "r"),
                 "--card-info", str(other)]) == 0  # fmt: skip
    html = (tmp_path / "r" / "card.html").read_text()
    assert "Rendered later." in html and "Teaching material" not in html
    assert load_result(tmp_path / "o" / "audit.json").card_info == load_card_info(card)
    assert main(["render", str(tmp_path / "o" / "audit.json"), "--out", str(tmp_path / "r2"),
                 "--card-info", str(bad)]) == 2  # fmt: skip
