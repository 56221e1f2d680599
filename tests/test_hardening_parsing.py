"""Issue 18, parsing: card-info YAML and policy TOML read as written, bounded, never exit 3.

Card-info YAML keeps scalars as written (YAML 1.2 core null/bool at most), refuses duplicate
keys, aliases and non-core tags with their line; card-info and policy files are capped at 1 MB
(checked before reading) and 32 levels of nesting (checked before recursing). A lone surrogate
in ``audit.json`` and an out-of-range ``SOURCE_DATE_EPOCH`` are input errors (exit 2).
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _limits import PEAK_CODE
from _report_fixtures import rich_result

from auditkit._core.parsing import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH
from auditkit.cli import main
from auditkit.exceptions import DataValidationError, ParameterError, PolicyError
from auditkit.policy import Policy
from auditkit.report import write_outputs
from auditkit.report._card_info import load_card_info

RULE = 'section = "performance"\nmetric = "accuracy"\nop = ">="\nthreshold = 0.5\n'


def card(tmp_path: Path, text: str, name: str = "card.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("auditkit: error: ") and "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------------------ YAML typing
def test_card_info_scalars_stay_as_written(tmp_path: Path) -> None:
    info = load_card_info(card(tmp_path, (
        "version: 2.10\nlicense: 010\ncitation: 1e3\noverview: 2024-01-01\n"
        "intended_use: [yes, no, on, off, 0x1F, 1_000, .inf, 12:30:00]\n"
        "tags: [3.0, -0, +12]\nlimitations: ~\ntradeoffs: null\n"
    )))  # fmt: skip
    assert info["version"] == "2.10" and info["license"] == "010"
    assert info["citation"] == "1e3" and info["overview"] == "2024-01-01"
    assert info["intended_use"] == ["yes", "no", "on", "off", "0x1F", "1_000", ".inf",
                                    "12:30:00"]  # fmt: skip
    assert info["tags"] == ["3.0", "-0", "+12"]
    assert "limitations" not in info and "tradeoffs" not in info  # null: not provided


def test_card_info_json_numbers_stay_as_written(tmp_path: Path) -> None:
    info = load_card_info(card(tmp_path, '{"version": 2.10, "license": "mit"}', "card.json"))
    assert info["version"] == "2.10"


def test_explicit_int_tag_keeps_its_text(tmp_path: Path) -> None:
    assert load_card_info(card(tmp_path, "version: !!int 010\n"))["version"] == "010"


@pytest.mark.parametrize("value", ["true", "False", "TRUE"])
def test_core_booleans_are_refused_in_text_fields(tmp_path: Path, value: str) -> None:
    with pytest.raises(DataValidationError, match="must be text"):
        load_card_info(card(tmp_path, f"overview: {value}\n"))


# ------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    ("text", "needle", "line"),
    [
        ("version: '1'\noverview: a\nversion: '2'\n", "key 'version' is given twice", 3),
        ("owners:\n  - name: a\n    name: b\n", "key 'name' is given twice", 3),
        ("overview: &a text\nlimitations: *a\n", "alias *a", 2),
        ("tags: !!binary aGVsbG8=\n", "tag !!binary", 1),
        ("overview: !!timestamp 2024-01-01\n", "tag !!timestamp", 1),
        ("overview: !!python/object:os.system x\n", "tag !!python/object:os.system", 1),
        ("overview: !custom x\n", "tag !custom", 1),
        ("overview: a\nlimitations: !!bool\n", "tag !!bool", 2),
        ("overview: !!bool yes\n", "tag !!bool", 1),
        ("overview: !!map text\n", "tag !!map", 1),
        ("? !!map\n", "tag !!map", 1),
        ("tags: !!seq {a: b}\n", "tag !!seq", 1),
        ("overview: a\nlimitations: [b\n", "not valid YAML", 3),
        ("? [a, b]\n: c\n", "a key must be text", 1),
        ("overview: ok\nlimitations: \x1b\n", "not valid YAML", 2),
    ],
)
def test_refusals_name_the_file_and_the_line(
    tmp_path: Path, text: str, needle: str, line: int
) -> None:
    p = card(tmp_path, text, "mycard.yaml")
    with pytest.raises(DataValidationError) as exc:
        load_card_info(p)
    msg = str(exc.value)
    assert "mycard.yaml" in msg and needle in msg and f"line {line}" in msg, msg


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("overview: a\n\nlicens: mit\n", "line 3: unknown field 'licens'"),
        ("overview: a\nowners:\n  - {nom: x}\n", "line 2: field 'owners', entry 1: unknown key"),
        ("version: '1'\nlimitations: [a, [b]]\n", "line 2: field 'limitations', entry 2"),
    ],
)
def test_invalid_fields_name_their_line(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(DataValidationError, match="card.yaml, " + re.escape(needle)):
        load_card_info(card(tmp_path, text))


def test_policy_rule_errors_name_the_rule_line(tmp_path: Path) -> None:
    p = tmp_path / "rules.toml"
    p.write_text(f"# two rules\n[[rule]]\n{RULE}\n[[rule]]\n{RULE.replace('>=', '=>')}")
    with pytest.raises(
        PolicyError, match=r"rules.toml, rule 2: key 'op'.*\(rule 2 starts on line 8\)\.$"
    ):
        Policy.from_toml(p)


def test_billion_laughs_is_refused_at_once(tmp_path: Path) -> None:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    p = card(tmp_path, "\n".join(lines) + "\noverview: *a9\n")
    t0 = time.perf_counter()
    with pytest.raises(DataValidationError, match=r"line 2: alias \*a0"):
        load_card_info(p)
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("style", ["flow", "block", "mapping"])
def test_deep_nesting_is_a_clear_error_not_a_recursion_error(tmp_path: Path, style: str) -> None:
    depth = 100_000
    if style == "flow":
        text = "overview: " + "[" * depth + "]" * depth + "\n"
    elif style == "block":
        text = "overview:\n" + "".join("  " * i + "-\n" for i in range(1, 200))
    else:
        text = "".join("  " * i + f"k{i}:\n" for i in range(200))
    p = card(tmp_path, text)
    t0 = time.perf_counter()
    with pytest.raises(DataValidationError) as exc:
        load_card_info(p)
    assert time.perf_counter() - t0 < 5.0
    msg = str(exc.value)
    assert f"nested more than {MAX_CONFIG_DEPTH} levels" in msg and "line " in msg, msg


def test_nesting_up_to_the_cap_is_read(tmp_path: Path) -> None:
    # the validation refuses the shape, but the file is read: the cap is not hit
    text = "overview: " + "[" * (MAX_CONFIG_DEPTH - 1) + "x" + "]" * (MAX_CONFIG_DEPTH - 1)
    with pytest.raises(DataValidationError, match="must be text"):
        load_card_info(card(tmp_path, text + "\n"))


def test_size_cap_is_checked_before_reading(tmp_path: Path) -> None:
    p = tmp_path / "huge.yaml"
    with open(p, "wb") as fh:  # a sparse 100 MB file: reading it would take seconds
        fh.truncate(100 * MAX_CONFIG_BYTES)
    t0 = time.perf_counter()
    with pytest.raises(DataValidationError, match=r"huge.yaml is 100,000,000 bytes; the limit"):
        load_card_info(p)
    assert time.perf_counter() - t0 < 0.5


def test_a_file_just_under_the_cap_is_read_in_time(tmp_path: Path) -> None:
    entry = "- " + "x" * 97 + "\n"
    text = "intended_use:\n" + entry * ((MAX_CONFIG_BYTES - 20) // len(entry))
    assert len(text) <= MAX_CONFIG_BYTES
    t0 = time.perf_counter()
    info = load_card_info(card(tmp_path, text))
    assert time.perf_counter() - t0 < 5.0
    assert len(info["intended_use"]) == (MAX_CONFIG_BYTES - 20) // len(entry)


def test_nesting_beyond_the_cap_by_one_is_refused(tmp_path: Path) -> None:
    text = "overview: " + "[" * MAX_CONFIG_DEPTH + "x" + "]" * MAX_CONFIG_DEPTH
    with pytest.raises(DataValidationError, match="nested more than"):
        load_card_info(card(tmp_path, text + "\n"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("kind", ["card-info", "policy"])
def test_fifo_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    done = threading.Event()

    def unblock() -> None:  # if the reader hangs, release it so the test fails, not hangs
        if not done.wait(5):
            with open(fifo, "w") as fh:
                fh.write("x")

    threading.Thread(target=unblock, daemon=True).start()
    t0 = time.perf_counter()
    err = DataValidationError if kind == "card-info" else PolicyError
    with pytest.raises(err, match="not a regular file"):
        load_card_info(fifo) if kind == "card-info" else Policy.from_toml(fifo)
    done.set()
    assert time.perf_counter() - t0 < 1.0


def test_dev_zero_symlink_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "card.yaml"
    link.symlink_to("/dev/zero")
    with pytest.raises(DataValidationError, match="not a regular file"):
        load_card_info(link)


# ------------------------------------------------------------------------------ TOML
@pytest.mark.parametrize(
    ("text", "line"),
    [
        (f"[[rule]]\n{RULE}feature = " + "[" * 100_000 + "]" * 100_000 + "\n", 6),
        (f"[[rule]]\n{RULE}feature = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n", 6),
        (f"[[rule]]\n{RULE}feature = [\n" + "[\n" * 5000 + "]\n" * 5001, 6 + MAX_CONFIG_DEPTH - 2),
        ("[" + ".".join(f"k{i}" for i in range(5000)) + "]\nx = 1\n", 1),
        ("x." + ".".join(f"k{i}" for i in range(5000)) + " = 1\n", 1),
    ],
)
def test_deep_toml_is_a_clear_error(tmp_path: Path, text: str, line: int) -> None:
    p = tmp_path / "deep.toml"
    p.write_text(text, encoding="utf-8")
    t0 = time.perf_counter()
    with pytest.raises(PolicyError) as exc:
        Policy.from_toml(p)
    assert time.perf_counter() - t0 < 5.0
    msg = str(exc.value)
    assert "deep.toml" in msg and f"nested more than {MAX_CONFIG_DEPTH} levels" in msg, msg
    assert f"line {line}:" in msg, msg


def test_toml_scan_ignores_brackets_in_strings_and_comments(tmp_path: Path) -> None:
    p = tmp_path / "ok.toml"
    deep = "[" * 200
    p.write_text(
        f'name = "{deep}"  # {deep}\n'
        f"description = '''\n{deep}\n{{{{{{'''\n"
        f'[[rule]]\nid = "a.b.c{deep}"\n{RULE}'
        f'[[rule]]\nid = """x\\"""{deep}"""\n{RULE}'
        f'[[rule]]\n"quoted.key.{deep}" = 1\n{RULE}',
        encoding="utf-8",
    )
    with pytest.raises(PolicyError, match="unknown key 'quoted.key"):
        Policy.from_toml(p)  # read to the end: the third rule's key is the only problem
    p.write_text(p.read_text().split('[[rule]]\n"quoted')[0], encoding="utf-8")
    pol = Policy.from_toml(p)
    assert pol.name == deep and [r.id for r in pol.rules] == [f"a.b.c{deep}", f'x"""{deep}']


def test_toml_size_cap(tmp_path: Path) -> None:
    p = tmp_path / "big.toml"
    p.write_text(f'[[rule]]\n{RULE}description = "{"x" * MAX_CONFIG_BYTES}"\n', encoding="utf-8")
    with pytest.raises(
        PolicyError, match=r"big.toml is 1,000,\d{3} bytes; the limit is 1,000,000"
    ):
        Policy.from_toml(p)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(f"[[rule]]\n{RULE}op = \n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"bad.toml is not valid TOML: .*line 6"):
        Policy.from_toml(p)


# ------------------------------------------------------------------------------ CLI: exit 2
@pytest.fixture
def audit_json(tmp_path: Path) -> Path:
    return write_outputs(rich_result(groups=("A\U0001f600", "B", "C")), tmp_path / "res")["json"]


def test_deep_yaml_and_toml_exit_2_from_the_cli(
    tmp_path: Path, audit_json: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep_yaml = card(tmp_path, "overview: " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert main(["render", str(audit_json), "--card-info", str(deep_yaml)]) == 2
    line = one_error_line(capsys)
    assert "card.yaml, line 1" in line and "nested" in line
    deep_toml = tmp_path / "policy.toml"
    deep_toml.write_text(f"[[rule]]\n{RULE}feature = " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert main(["check", str(audit_json), "--policy", str(deep_toml)]) == 2
    line = one_error_line(capsys)
    assert "policy.toml, line 6" in line and "nested" in line
    dup = card(tmp_path, "overview: a\noverview: b\n", "dup.yaml")
    assert main(["render", str(audit_json), "--card-info", str(dup)]) == 2
    assert "dup.yaml, line 2: key 'overview' is given twice" in one_error_line(capsys)


def _with_lone_surrogate(audit_json: Path, tmp_path: Path) -> Path:
    data = json.loads(audit_json.read_text(encoding="utf-8"))
    data["model"]["name"] = "model\ud800"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data, indent=2), encoding="utf-8")  # ascii: the escape \ud800
    return bad


@pytest.mark.parametrize("command", ["render", "check", "diff-old", "diff-new"])
def test_lone_surrogate_in_audit_json_exits_2(
    tmp_path: Path, audit_json: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    bad = _with_lone_surrogate(audit_json, tmp_path)
    policy = tmp_path / "p.toml"
    policy.write_text(f"[[rule]]\n{RULE}")
    argv = {
        "render": ["render", str(bad), "--out", str(tmp_path / "o")],
        "check": ["check", str(bad), "--policy", str(policy)],
        "diff-old": ["diff", str(bad), str(audit_json)],
        "diff-new": ["diff", str(audit_json), str(bad)],
    }[command]
    capsys.readouterr()
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert "bad.json, line " in line and "model/name" in line and "lone surrogate" in line


def test_surrogate_pairs_are_text(tmp_path: Path, audit_json: Path) -> None:
    data = json.loads(audit_json.read_text(encoding="utf-8"))
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps(data, indent=2), encoding="utf-8")  # the emoji as \ud83d\ude00
    assert "\\ud83d\\ude00" in ok.read_text()
    assert main(["render", str(ok), "--out", str(tmp_path / "o")]) == 0


@pytest.mark.parametrize(
    "epoch", ["99999999999999", "-99999999999999", "1" + "0" * 30, "253402300800"]
)
def test_source_date_epoch_out_of_range_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    epoch: str,
) -> None:  # fmt: skip
    from auditkit._api import created_at

    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    with pytest.raises(ParameterError, match="out of range"):
        created_at()
    rng = np.random.default_rng(0)
    log = tmp_path / "log.csv"
    y = rng.integers(0, 2, 100)
    pd.DataFrame({"y": y, "p": y, "g": rng.choice(["a", "b"], 100)}).to_csv(log, index=False)
    t0 = time.perf_counter()
    assert main(["audit", "--predictions", str(log), "--y-true", "y", "--y-pred", "p",
                 "--sensitive", "g", "--n-boot", "5", "--no-progress",
                 "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    line = one_error_line(capsys)
    assert "SOURCE_DATE_EPOCH" in line and "out of range" in line
    assert time.perf_counter() - t0 < 5.0  # refused before the audit runs
    assert not (tmp_path / "o" / "audit.json").exists()


def test_last_valid_source_date_epoch_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    from auditkit._api import created_at

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "253402300799")
    assert created_at() == "9999-12-31T23:59:59Z"


def test_attacks_exit_2_fast_and_small_in_a_fresh_process(
    tmp_path: Path, audit_json: Path
) -> None:
    """The red team's parse attacks in a child process: exit 2, time and peak memory bounded."""
    files = {
        "deep.yaml": "overview: " + "[" * 400_000 + "]" * 400_000,
        "laughs.yaml": "a: &a [x, x]\n" + "".join(f"b{i}: &b{i} [*a, *a]\n" for i in range(30)),
        "deep.toml": f"[[rule]]\n{RULE}feature = " + "[" * 400_000 + "]" * 400_000,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    code = PEAK_CODE + (
        "import json, time\n"
        "from auditkit.cli import main\n"
        f"d, res = {str(tmp_path)!r}, {str(audit_json)!r}\n"
        "t = time.perf_counter()\n"
        "codes = [main(['render', res, '--card-info', d + '/deep.yaml']),\n"
        "         main(['render', res, '--card-info', d + '/laughs.yaml']),\n"
        "         main(['check', res, '--policy', d + '/deep.toml'])]\n"
        "print(json.dumps([codes, time.perf_counter() - t,\n"
        "                  peak_kb()]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    codes, seconds, rss_kb = json.loads(out.stdout.strip().splitlines()[-1])
    assert codes == [2, 2, 2], out.stderr
    assert seconds < 10 and rss_kb < 1_000_000, (seconds, rss_kb)
    assert out.stderr.count("auditkit: error:") == 3 and "Traceback" not in out.stderr


def test_fuzz_families_of_this_issue_pass() -> None:
    """benchmarks/fuzz.py's parsing families run in child processes, measured, and pass."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        import fuzz
    finally:
        sys.path.pop(0)
    stats, _ = fuzz.run_families(1, 0, 2, 60.0, "yaml,toml,json,epoch")
    assert set(stats) == {"yaml", "toml", "json", "epoch"}
    for family, st in stats.items():
        assert st["cases"] == 1 and st["failures"] == 0, (family, st["problems"])
        assert 0 < st["rss"] < fuzz.LIMIT_MB and 0 < st["cpu"] < fuzz.LIMIT_S, (family, st)


def _toml_value(rng: random.Random, depth: int) -> tuple[str, object]:
    """A random TOML value (text, parsed form) nesting ``depth`` levels at most."""
    r = rng.random()
    if depth == 0 or r < 0.3:
        s = "".join(rng.choice("ab[]{}#'\"\\.=, \n\t") for _ in range(rng.randint(0, 8)))
        return json.dumps(s), s  # a JSON string is a valid TOML basic string
    if r < 0.65:
        items = [_toml_value(rng, depth - 1) for _ in range(rng.randint(0, 3))]
        return "[" + ", ".join(t for t, _ in items) + "]", [v for _, v in items]
    keys = rng.sample(["a", "b.c", "[d]", "e f", "#g"], rng.randint(0, 3))
    items = [_toml_value(rng, depth - 1) for _ in keys]
    text = "{" + ", ".join(f"{json.dumps(k)} = {t}" for k, (t, _) in zip(keys, items)) + "}"
    return text, {k: v for k, (_, v) in zip(keys, items)}


def test_toml_depth_scan_agrees_with_tomllib_on_random_documents() -> None:
    import tomllib

    from auditkit._core.parsing import toml_depth_error

    rng = random.Random(0)
    for _ in range(400):
        depth = rng.randint(0, 12)
        text, value = _toml_value(rng, depth)
        doc = f'# a comment with [[[ and {{{{\n[[rule]]\nx = {text}\ny = """{"[" * 50}"""\n'
        assert toml_depth_error(doc) is None, doc
        assert tomllib.loads(doc)["rule"][0]["x"] == value
        deep = f"[[rule]]\nx = {'[' * 40}{text}{']' * 40}\n"
        err = toml_depth_error(deep)
        assert err is not None and err.line == 2, deep
