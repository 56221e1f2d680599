"""Issue 18, strings: control and bidirectional characters from data never reach a reader raw.

Bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E/F, U+061C) reorder the text around
them; C0/C1 controls (ESC, BEL, NUL...) drive terminals. Wherever auditkit prints or writes text
for a human (HTML card, Markdown card, terminal) they appear as visible escapes (``\\u202e``);
``auditkit check`` prints one line per rule whatever a rule id holds.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from _report_fixtures import rich_result

from auditkit._core.progress import progress_bar
from auditkit._core.text import BIDI_CONTROLS, one_line, visible
from auditkit.cli import main
from auditkit.report import AuditResult, render_html, render_markdown, write_outputs

#: Every character the cards and the terminal must never hold raw.
HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029" + "".join(BIDI_CONTROLS) + "]")
NASTY = "\x1b[31m\x07\x00\x7f\x85\x9b\u202e\u2066\u200f\u061c\r"


def hidden(text: str) -> list[str]:
    return sorted(set(HIDDEN.findall(text)))


# ----------------------------------------------------------------------------------- _text
@pytest.mark.parametrize("ch", sorted(BIDI_CONTROLS) + ["\x00", "\x07", "\x1b", "\x7f", "\x85"])
def test_visible_escapes_each_hidden_character(ch: str) -> None:
    out = visible(f"a{ch}b")
    assert hidden(out) == [] and out.startswith("a\\") and out.endswith("b")
    assert out[1:-1] == (f"\\x{ord(ch):02x}" if ord(ch) <= 0xFF else f"\\u{ord(ch):04x}")


def test_visible_keeps_tab_and_newline_unless_asked() -> None:
    assert visible("a\tb\nc") == "a\tb\nc"
    assert visible("a\tb\nc\r", keep_lines=False) == "a\\tb\\nc\\r"
    assert visible("plain text, ünïcödé, 中文, עברית") == "plain text, ünïcödé, 中文, עברית"
    assert one_line("x\n\n  y\x1bz") == "x y\\x1bz"
    assert one_line("a" * 5000, limit=100).endswith("(4,900 more characters)")


# ----------------------------------------------------------------------------------- cards
def test_bidi_override_in_a_group_cannot_reverse_an_interval() -> None:
    """The red team's case: a group named ``men\u202e`` made "95% CI 0.48-0.56" read backwards."""
    res = rich_result(groups=("men\u202e", "women", "other\u2067"))
    html, md = render_html(res), render_markdown(res)
    for text in (html, md):
        assert hidden(text.replace("\n", "").replace("\t", "")) == []
        assert "men\\u202e" in text and "other\\u2067" in text
    # every interval is printed after its (escaped) group, as plain left-to-right text
    cis = re.findall(r"\d[\d.,e+-]* – \d[\d.,e+-]*", html)
    assert cis, "no interval in the card"


@pytest.mark.parametrize("payload", [NASTY, "\u202emen", "\x1b]0;title\x07", "a\u2028b\u2029c"])
def test_no_hidden_character_in_any_field_of_the_cards(payload: str) -> None:
    res = rich_result(text=payload, feature="sex" + payload,
                      groups=(payload, "M" + payload, "x" + payload))  # fmt: skip
    res = AuditResult(**{**res.__dict__, "card_info": {
        "overview": payload, "intended_use": [payload, "b" + payload],
        "owners": [{"name": payload, "contact": payload}],
        "references": [{"title": payload, "url": "https://example.org/" + payload}],
    }})  # fmt: skip
    html, md = render_html(res), render_markdown(res)
    assert hidden(html.replace("\n", "").replace("\t", "")) == []
    assert hidden(md.replace("\n", "").replace("\t", "")) == []
    # the Markdown keeps one table row per line: no payload breaks a row
    for line in md.splitlines():
        if line.startswith("|"):
            assert line.rstrip().endswith("|"), line


def test_hidden_characters_from_a_real_audit_end_to_end(tmp_path: Path) -> None:
    import auditkit

    rng = np.random.default_rng(0)
    n = 300
    y = rng.integers(0, 2, n)
    groups = rng.choice(np.array(["men\u202e", "wo\x1bmen", "nul\x00l"], dtype=object), n)
    res = auditkit.audit_predictions(
        y, np.where(rng.random(n) < 0.8, y, 1 - y), y_score=rng.random(n),
        sensitive_features=pd.DataFrame({"g\x07": groups}), n_boot=10,
    )  # fmt: skip
    paths = write_outputs(res, tmp_path)
    for key in ("html", "markdown"):
        text = paths[key].read_text(encoding="utf-8")
        assert hidden(text.replace("\n", "").replace("\t", "")) == [], key
        assert "men\\u202e" in text and "wo\\x1bmen" in text
    raw = paths["json"].read_text(encoding="utf-8")
    assert hidden(raw.replace("\n", "")) == []  # written as JSON escapes ...
    assert "men\\u202e" in raw
    data = json.loads(raw)  # ... which read back as the data, exactly
    assert "men\u202e" in json.dumps(data, ensure_ascii=False)


# ----------------------------------------------------------------------------------- terminal
def _write_log(path: Path, groups: list[str]) -> Path:
    rng = np.random.default_rng(3)
    n = 240
    y = rng.integers(0, 2, n)
    pd.DataFrame({
        "y": y, "p": np.where(rng.random(n) < 0.8, y, 1 - y),
        "g": rng.choice(np.array(groups, dtype=object), n),
    }).to_csv(path, index=False)  # fmt: skip
    return path


def _audit(tmp_path: Path, groups: list[str]) -> Path:
    log = _write_log(tmp_path / "log.csv", groups)
    out = tmp_path / "out"
    code = main(["audit", "--predictions", str(log), "--y-true", "y", "--y-pred", "p",
                 "--sensitive", "g", "--sections", "performance,fairness", "--n-boot", "5",
                 "--no-progress", "--out", str(out)])  # fmt: skip
    assert code == 0
    return out / "audit.json"


def test_check_prints_one_line_per_rule_whatever_the_rule_id_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _audit(tmp_path, ["a\u202e", "b\x1b[2J"])
    forged = "ok\nPASS forged: everything is fine\x1b[1A\x1b[2K"
    policy = tmp_path / "p.toml"
    policy.write_text(
        "[[rule]]\n"
        f"id = {json.dumps(forged)}\n"
        'section = "performance"\nmetric = "accuracy"\nop = ">="\nthreshold = 2.0\n'
        "[[rule]]\n"
        'id = "gap\\u202e"\nsection = "fairness"\nmetric = "demographic_parity_difference"\n'
        'feature = "g"\nop = "<="\nthreshold = -1.0\n'
        "[[rule]]\n"
        'id = "missing\\u0007"\nsection = "fairness"\nmetric = "accuracy"\nfeature = "g"\n'
        'group = "a\\u202e"\nop = ">="\nthreshold = 0.0\n',
        encoding="utf-8",
    )
    capsys.readouterr()
    junit = tmp_path / "junit.xml"
    assert main(["check", str(result), "--policy", str(policy), "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 3 + 2, lines  # one per rule, "Wrote", the summary
    assert [line.split(" ", 1)[0] for line in lines[:3]] == ["FAIL", "FAIL", "PASS"]
    assert "forged" not in "".join(line for line in lines if line.startswith("PASS"))
    assert lines[0].startswith("FAIL ok\\nPASS forged")
    assert hidden(out.replace("\n", "")) == []
    assert "gap\\u202e" in out and "missing\\x07" in out
    xml = junit.read_text(encoding="utf-8")
    assert xml.count("<testcase") == 3 and "gap\\u202e" in xml
    assert hidden(xml.replace("\n", "")) == []


def test_audit_and_diff_print_no_hidden_character(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _audit(tmp_path, ["x\u202e", "y\x1b"])
    policy = tmp_path / "p.toml"
    policy.write_text('[[rule]]\nid = "r\\u001b"\nsection = "fairness"\n'
                      'metric = "demographic_parity_difference"\nfeature = "g"\nop = "<="\n'
                      "threshold = -1.0\n", encoding="utf-8")  # fmt: skip
    capsys.readouterr()
    log = _write_log(tmp_path / "log2.csv", ["x\u202e", "y\x1b"])
    code = main(["audit", "--predictions", str(log), "--y-true", "y", "--y-pred", "p",
                 "--sensitive", "g", "--sections", "fairness", "--n-boot", "5", "--no-progress",
                 "--policy", str(policy), "--out", str(tmp_path / "o2")])  # fmt: skip
    assert code == 1
    cap = capsys.readouterr()
    assert hidden(cap.out.replace("\n", "")) == [] and hidden(cap.err.replace("\n", "")) == []
    assert "r\\x1b" in cap.err
    assert main(["diff", str(result), str(tmp_path / "o2" / "audit.json"),
                 "--policy", str(policy)]) in (0, 1)  # fmt: skip
    cap = capsys.readouterr()
    assert hidden(cap.out.replace("\n", "")) == [] and hidden(cap.err.replace("\n", "")) == []


def test_info_escapes_checkpoint_metadata(
    tmp_path: Path, tiny_ckpt: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = torch.load(tiny_ckpt("iris-mlp"), weights_only=True)
    meta = ckpt["auditkit"]
    meta["dataset"]["name"] = "iris\x1b]0;pwned\x07\x00\u202e"
    meta["test_metrics"]["acc\x1b[2J"] = 0.5
    meta["versions"]["torch\nforged line"] = "1\x9b"
    path = tmp_path / "evil.ckpt"
    torch.save(ckpt, path)
    capsys.readouterr()
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert hidden(out.replace("\n", "")) == []
    assert "iris\\x1b]0;pwned\\x07\\x00\\u202e" in out
    assert not any(line.startswith("forged line") for line in out.splitlines())
    assert main(["info", str(path), "--json"]) == 0  # JSON escapes are fine as they are
    out = capsys.readouterr().out
    assert hidden(out.replace("\n", "")) == []
    assert json.loads(out)["dataset"]["name"] == "iris\x1b]0;pwned\x07\x00\u202e"


def test_error_messages_are_one_escaped_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "na\x1bme\u202e.csv"
    assert main(["audit", "--predictions", str(bad), "--y-true", "y", "--y-pred", "p",
                 "--sensitive", "g", "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and hidden(err.replace("\n", "")) == []
    assert "na\\x1bme\\u202e.csv" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["audti"], "invalid choice: 'audti'"),
        (["check"], "check: the following arguments are required"),
        (["audit", "--bogus\x1b[31m"], "unrecognized arguments: --bogus\\x1b[31m"),
    ],
)
def test_usage_errors_have_one_prefix(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("auditkit: error: ") and "auditkit: error: auditkit" not in err
    assert lines[0].count("auditkit:") == 1 and needle in lines[0]
    assert hidden(err.replace("\n", "")) == []


def test_warnings_in_the_cli_are_one_escaped_line(capsys: pytest.CaptureFixture[str]) -> None:
    from auditkit.cli import _format_warning

    text = _format_warning(UserWarning("group 'x\x1b[2J\nforged'\u202e is small"), UserWarning,
                           "f.py", 1)  # fmt: skip
    assert text.count("\n") == 1 and text.endswith("\n") and hidden(text[:-1]) == []
    assert "x\\x1b[2J forged" in text
    before = warnings.formatwarning
    assert main(["models"]) == 0
    assert warnings.formatwarning is before  # main restores the formatter it installed


def test_progress_descriptions_are_escaped() -> None:
    bar = progress_bar(enabled=True, desc="reducing evil\x1b[2J\u202e.parquet", total=1)
    try:
        assert bar.desc == "reducing evil\\x1b[2J\\u202e.parquet"
    finally:
        bar.close()
