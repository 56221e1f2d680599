"""Property-based tests (Hypothesis) over the public entry points.

The contract, for any generated input: either a valid result (its JSON validates against the
schema, no section of the audit engine fails, no row or group is dropped) or an
``AuditkitError`` whose message is not empty and names the file when the input is one. Never
another exception type, never a hang (every example runs under a time limit).

The default run is small and derandomized (the same examples every time, a few seconds per
test); ``HYPOTHESIS_PROFILE=fuzz`` runs many more random examples::

    HYPOTHESIS_PROFILE=fuzz pytest tests/test_properties.py
"""

from __future__ import annotations

import collections
import contextlib
import functools
import io
import json
import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _limits import time_limit
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import auditkit
from auditkit.cli import main
from auditkit.data import load_table
from auditkit.exceptions import AuditkitError
from auditkit.policy import Policy
from auditkit.report import AuditResult, load_result, to_json

FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
EXAMPLES = 400 if FUZZ else 12

SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,  # hangs are caught by time_limit, not by Hypothesis' timing
    derandomize=not FUZZ,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
    ],
)
#: Cheaper settings for the entry points that read a file only.
FILE_SETTINGS = settings(SETTINGS, max_examples=EXAMPLES * 2)

# ------------------------------------------------------------------------------ strategies
HOSTILE = [
    "", " ", "<script>alert(1)</script>", '"onmouseover="x', "</td>", "javascript:alert(1)",
    "a,b", "a\nb", "ünïcødé", "中文", "🙂", "\u202eRTL", "nul\x00byte", "None", "nan", "NaN",
    "null", "1", "True", "{0}", "%s", "\\", "'", "[[rule]]", "../x", "x" * 2000, "\ufeffbom",
]  # fmt: skip
names = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12))
group_label = st.one_of(
    st.sampled_from(HOSTILE), st.text(max_size=6), st.integers(-3, 3), st.booleans(),
    st.floats(allow_nan=False, width=32), st.sampled_from(["a", "b", "c"]),
)  # fmt: skip
LABEL_POOLS: list[list[Any]] = [
    [0, 1], [0, 1], [0, 1, 2], ["no", "yes"], [False, True], [0.0, 1.0], ["<b>x</b>", "ünï"],
    ["a", "b", "c", "d"], [0, "one"], [-(2**62), 2**62],
]  # fmt: skip
SECTION_SETS = [["performance", "fairness"], ["fairness"], ["performance"]]


def contract(call: Callable[[], Any], *, file: str | None = None) -> Any:
    """Run ``call``; return its value, or None after a clear AuditkitError.

    Any other exception propagates and fails the test (Hypothesis then shrinks the input).
    """
    try:
        with time_limit(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = call()
        event("outcome: result")
        return out
    except AuditkitError as exc:
        event(f"outcome: {type(exc).__name__}")
        msg = str(exc)
        assert msg.strip(), f"{type(exc).__name__} with an empty message"
        if file is not None:
            assert file in msg, f"the error does not name the file {file!r}: {msg}"
        return None


def check_result(res: AuditResult, *, n: int, sensitive: pd.DataFrame | None = None) -> None:
    """The result's JSON validates, the engine's sections ran, no group is dropped."""
    text = to_json(res)  # validates against the schema
    data = json.loads(text)
    assert data["data"]["n_rows"] == n
    for s in res.sections:
        if s.name in ("performance", "fairness"):
            assert s.status != "failed", f"{s.name} failed: {s.reason}"
    fair = res.section("fairness")
    if sensitive is None or fair is None or fair.status != "ok":
        return
    for col in sensitive.columns:
        counts = {
            m.group[0]: m.value
            for m in res.metrics
            if m.section == "fairness" and m.name == "count" and m.feature == (col,)
        }
        assert sum(v or 0 for v in counts.values()) == n, col  # no row dropped
        assert all(v is not None and v >= 1 for v in counts.values()), col
        values = sensitive[col].tolist()
        if all(isinstance(v, str) for v in values):  # then the labels are exactly these
            want = collections.Counter(values)
            assert counts == {g: float(c) for g, c in want.items()}, col


@st.composite
def labels_and_groups(draw: st.DrawFn, *, max_n: int = 40) -> dict[str, Any]:
    """A log of decisions: labels, predictions, optional scores and sensitive features."""
    n = draw(st.integers(0, max_n))
    pool = draw(st.sampled_from(LABEL_POOLS))
    single = draw(st.booleans()) and draw(st.booleans())
    label = st.sampled_from(pool[:1] if single else pool)
    maybe_missing = st.one_of(label, label, label, label, label, label, st.none())
    y_true = draw(st.lists(maybe_missing if draw(st.booleans()) else label,
                           min_size=n, max_size=n))  # fmt: skip
    y_pred = draw(st.lists(label, min_size=n, max_size=n))
    k = draw(st.integers(1, 2))
    feats = draw(st.lists(names, min_size=k, max_size=k, unique=True))
    sens: dict[str, list[Any]] = {}
    for f in feats:
        pool_g = draw(st.lists(group_label, min_size=1, max_size=4))
        vals = draw(st.lists(st.sampled_from(pool_g), min_size=n, max_size=n))
        if n and draw(st.booleans()):
            vals[draw(st.integers(0, n - 1))] = "lonely"  # a single-row group
        if n and not draw(st.integers(0, 9)):
            vals[0] = None
        sens[f] = vals
    score: Any = None
    kind = draw(st.sampled_from(["none", "none", "proba", "any"]))
    if kind == "proba":
        score = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    elif kind == "any":
        score = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True),
                              min_size=n, max_size=n))  # fmt: skip
    return {"n": n, "y_true": y_true, "y_pred": y_pred, "sens": sens, "score": score}


params = st.fixed_dictionaries({
    "n_boot": st.sampled_from([0, 1, 3]),
    "min_group_size": st.sampled_from([1, 2, 30]),
    "sections": st.sampled_from(SECTION_SETS),
    "random_state": st.integers(0, 2**32),
})  # fmt: skip


def _expected_groups(sens: dict[str, list[Any]]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(vals, dtype=object) for c, vals in sens.items()})


# ----------------------------------------------------------------------- audit_predictions
@SETTINGS
@given(case=labels_and_groups(), kw=params, form=st.sampled_from(["dict", "frame", "data"]))
def test_audit_predictions(case: dict[str, Any], kw: dict[str, Any], form: str) -> None:
    sens = case["sens"]
    if form == "data":
        cols = {"__y": case["y_true"], "__p": case["y_pred"], **sens}
        data = pd.DataFrame(cols)

        def call() -> AuditResult:
            return auditkit.audit_predictions(
                "__y", "__p", data=data, sensitive_features=list(sens), **kw
            )

    else:
        sf: Any = sens if form == "dict" else pd.DataFrame(sens)

        def call() -> AuditResult:
            return auditkit.audit_predictions(
                case["y_true"], case["y_pred"], y_score=case["score"], sensitive_features=sf, **kw
            )

    res = contract(call)
    if res is not None:
        check_result(res, n=case["n"], sensitive=_expected_groups(sens))


# ------------------------------------------------------------------------------- audit(model)
@st.composite
def feature_table(draw: st.DrawFn, n: int) -> pd.DataFrame:
    """Numeric features with NaN, constant and huge columns, hostile (maybe duplicated) names."""
    d = draw(st.integers(1, 3))
    cols = draw(st.lists(names, min_size=d, max_size=d))
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    arrays = []
    for _ in cols:
        kind = draw(st.sampled_from(["normal", "const", "nan", "huge", "int"]))
        v = {
            "normal": lambda: rng.normal(size=n),
            "const": lambda: np.full(n, 2.0),
            "huge": lambda: rng.normal(size=n) * 1e300,
            "int": lambda: rng.integers(0, 3, n),
            "nan": lambda: np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n)),
        }[kind]()
        arrays.append(v)  # fmt: skip
    frame = pd.DataFrame(dict(enumerate(arrays)))
    frame.columns = cols  # duplicated names allowed
    return frame


@SETTINGS
@given(data=st.data(), kw=params)
def test_audit_sklearn_estimators(data: st.DataObject, kw: dict[str, Any]) -> None:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.tree import DecisionTreeClassifier

    n = data.draw(st.integers(0, 30))
    X_all = data.draw(feature_table(40 + n))
    pool = data.draw(st.sampled_from([p for p in LABEL_POOLS if len({type(v) for v in p}) == 1]))
    y_all = data.draw(st.lists(st.sampled_from(pool), min_size=40 + n, max_size=40 + n))
    y_all[:2] = [pool[0], pool[-1]]  # at least two classes to fit on
    est = data.draw(st.sampled_from(["tree", "pipeline", "logreg"]))
    model = {
        "tree": lambda: DecisionTreeClassifier(max_depth=3, random_state=0),
        "pipeline": lambda: make_pipeline(SimpleImputer(), LogisticRegression()),
        "logreg": lambda: LogisticRegression(),
    }[est]()
    X_tr = X_all.iloc[:40].fillna(0.0).clip(-1e6, 1e6)
    X_tr.columns = [f"f{i}" for i in range(X_tr.shape[1])]  # sklearn wants unique str names
    X_ev = X_all.iloc[40:].reset_index(drop=True)
    X_ev.columns = X_tr.columns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_tr, y_all[:40])
    g = data.draw(st.lists(st.sampled_from(HOSTILE[:6]), min_size=n, max_size=n))
    sf = np.asarray(g, dtype=object)  # values (a list of str would name columns of X_ev)
    res = contract(lambda: auditkit.audit(model, X_ev, y_all[40:], sensitive_features=sf, **kw))
    if res is not None:
        check_result(res, n=n, sensitive=pd.DataFrame({"sensitive_feature_0": g}))


@SETTINGS
@given(data=st.data(), kw=params)
def test_audit_callables(data: st.DataObject, kw: dict[str, Any]) -> None:
    n = data.draw(st.integers(0, 30))
    X = data.draw(feature_table(n))
    pool = data.draw(st.sampled_from(LABEL_POOLS))
    y = data.draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    k = data.draw(st.integers(1, 4))
    shape = data.draw(st.sampled_from(["ok", "ok", "1d", "nan", "wide", "short", "raises"]))

    def model(Xin: Any) -> Any:
        m = len(Xin)
        p = np.random.default_rng(0).dirichlet(np.ones(k), m) if m else np.zeros((0, k))
        if shape == "1d":
            return p[:, 0]
        if shape == "nan" and m:
            p[0, 0] = np.nan
        if shape == "wide":
            return np.hstack([p, p])
        if shape == "short":
            return p[:-1]
        if shape == "raises":
            raise RuntimeError("the user's model broke")
        return p

    feats = data.draw(st.lists(names, min_size=1, max_size=2, unique=True))
    sens = {
        f: data.draw(st.lists(st.sampled_from(["a", "b", "<c>"]), min_size=n, max_size=n))
        for f in feats
    }
    res = contract(lambda: auditkit.audit(model, X, y, sensitive_features=sens, **kw))
    if res is not None:
        check_result(res, n=n, sensitive=_expected_groups(sens))


# ---------------------------------------------------------------------------------- load_table
cell = st.one_of(
    st.none(), st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(HOSTILE), st.text(max_size=20), st.just("y" * 5000),
)  # fmt: skip


@FILE_SETTINGS
@given(data=st.data(), fmt=st.sampled_from(["csv", "csv", "csv.gz", "parquet", "bytes"]))
def test_load_table(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject,
                    fmt: str) -> None:  # fmt: skip
    folder = tmp_path_factory.mktemp("table")
    stem = data.draw(st.sampled_from(["data", "dätä", "t a b"]))
    path = folder / f"{stem}.{'csv' if fmt == 'bytes' else fmt}"
    n = data.draw(st.sampled_from([0, 1, 2, 5, 12]))
    cols = data.draw(st.lists(names, min_size=1, max_size=4))
    column = st.sampled_from([
        st.integers(-5, 5), st.floats(-1e6, 1e6), st.sampled_from(HOSTILE), st.text(max_size=20),
        cell,
    ])  # fmt: skip
    frame = pd.DataFrame({i: data.draw(st.lists(data.draw(column), min_size=n, max_size=n))
                          for i in range(len(cols))})  # fmt: skip
    frame.columns = cols
    p = Path(path)
    try:
        if fmt == "bytes":
            p.write_bytes(data.draw(st.binary(max_size=300)))
        elif fmt == "parquet":
            frame.columns = [str(c) for c in frame.columns]
            frame.astype(str).to_parquet(p)
        else:
            frame.to_csv(p, index=False)
    except (ValueError, TypeError):  # pyarrow refuses duplicated names: not auditkit's input
        p.write_text("a,b\n1,2\n")
    col = st.sampled_from(cols)
    target = data.draw(st.one_of(col, col, col, names))
    sens = data.draw(st.one_of(st.none(), st.lists(st.one_of(col, col, names), max_size=2)))
    table = contract(lambda: load_table(p, target=target, sensitive_features=sens), file=p.name)
    if table is not None:
        assert len(table.X) == len(table.y) > 0
        assert target not in table.X.columns
        if sens:
            assert list(table.sensitive_features.columns) == list(sens)


# ------------------------------------------------------------------------------------ policies
json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), names,
)  # fmt: skip
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=8,
)
rule_value = {
    "section": st.sampled_from(["fairness", "performance", "fairness", "performance", "", "x"]),
    "metric": st.sampled_from(["accuracy", "demographic_parity_ratio", "selection_rate"]),
    "op": st.sampled_from([">=", "<=", ">", "<", "==", ">=", "<=", "=>"]),
    "threshold": st.one_of(
        st.floats(-2, 2), st.floats(-2, 2), st.floats(), st.integers(-(2**63), 2**63 - 1)
    ),
    "feature": st.one_of(st.just("g"), names, st.lists(names, min_size=1, max_size=2)),
    "group": st.one_of(st.sampled_from(["a", "<b>"]), st.lists(names, max_size=2)),
    "severity": st.sampled_from(["error", "warning", "warning", "fatal"]),
    "id": names,
    "method": st.sampled_from(["between_groups", "to_overall"]),
    "label": names,
    "description": names,
}


@st.composite
def policy_dicts(draw: st.DrawFn) -> dict[str, Any]:
    rules = []
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 3]))):
        keys = draw(st.lists(st.sampled_from(list(rule_value)), unique=True, max_size=5))
        if "group" in keys and "feature" not in keys and draw(st.integers(0, 3)):
            keys.append("feature")
        rule = {k: draw(rule_value[k]) for k in ["section", "metric", "op", "threshold", *keys]}
        if not draw(st.integers(0, 4)):  # one key of any type, or an unknown key
            rule[draw(st.sampled_from([*rule_value, "unknown"]))] = draw(json_value)
        rules.append(rule)
    doc: dict[str, Any] = {"rule": rules}
    if not draw(st.integers(0, 4)):
        doc[draw(st.sampled_from(["name", "description", "rules"]))] = draw(json_value)
    return doc


def toml_text(value: Any) -> str:
    """Serialise plain data as a TOML value (inline tables and arrays)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(
            value
        ) else repr(value)  # fmt: skip
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_text(v)}" for k, v in value.items()) + "}"
    return '""'  # None has no TOML form: an empty string instead


def policy_file(doc: dict[str, Any]) -> str:
    lines = [f"{json.dumps(k)} = {toml_text(v)}" for k, v in doc.items() if k != "rule"]
    for rule in doc["rule"]:
        lines.append("[[rule]]")
        lines += [f"{json.dumps(k)} = {toml_text(v)}" for k, v in rule.items()]
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=1)
def base_result() -> AuditResult:
    rng = np.random.default_rng(0)
    n = 120
    y = rng.integers(0, 2, n)
    s = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    g = rng.choice(["a", "<b>", "ünï"], n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return auditkit.audit_predictions(
            y, (s > 0.5).astype(int), y_score=s, sensitive_features={"g": g}, n_boot=10,
            sections=["performance", "fairness"],
        )  # fmt: skip


@FILE_SETTINGS
@given(doc=policy_dicts(), cut=st.integers(0, 10_000), truncate=st.booleans())
def test_policy_from_toml(tmp_path_factory: pytest.TempPathFactory, doc: dict[str, Any],
                          cut: int, truncate: bool) -> None:  # fmt: skip
    import xml.etree.ElementTree as ET

    path = tmp_path_factory.mktemp("policy") / "pölicy file.toml"
    text = policy_file(doc)
    path.write_text(text[: cut % (len(text) + 1)] if truncate else text, encoding="utf-8")
    policy = contract(lambda: Policy.from_toml(path), file=path.name)
    if policy is None:
        return
    verdict = auditkit.check(base_result(), policy)
    assert len(verdict.checks) == len(policy.rules)
    assert verdict.passed == all(c.passed for c in verdict.checks if c.severity == "error")
    ET.fromstring(auditkit.policy.junit_xml(verdict).split("\n", 1)[1])  # well-formed XML
    again = Policy.from_dict(policy.to_dict())
    assert again.rules == policy.rules


@FILE_SETTINGS
@given(doc=st.one_of(policy_dicts(), json_value))
def test_policy_from_dict(doc: Any) -> None:
    contract(lambda: Policy.from_dict(doc, source="given.toml"), file="given.toml")


# -------------------------------------------------------------------------------- JSON results
@st.composite
def mutated_json(draw: st.DrawFn) -> str:
    data = json.loads(to_json(base_result()))
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 3]))):
        node, parent, key = data, None, None
        while isinstance(node, (dict, list)) and node and draw(st.integers(0, 3)):
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            parent, key = node, draw(st.sampled_from(keys))
            node = node[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if parent is None:
            data = draw(json_value) if action == "replace" else data
        elif action == "replace":
            parent[key] = draw(json_value)
        elif action == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(names)] = draw(json_value)
        else:
            parent.append(draw(json_value))
    text = json.dumps(data, allow_nan=True, ensure_ascii=draw(st.booleans()))
    if draw(st.integers(0, 4)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text


@FILE_SETTINGS
@given(text=mutated_json())
def test_load_result(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("result") / "äudit file.json"
    path.write_text(text, encoding="utf-8")
    res = contract(lambda: load_result(path), file=path.name)
    if res is not None:
        out = to_json(res)
        path.write_text(out, encoding="utf-8")
        assert to_json(load_result(path)) == out  # a loaded result round-trips exactly


@FILE_SETTINGS
@given(raw=st.binary(max_size=400))
def test_load_result_random_bytes(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    path = tmp_path_factory.mktemp("result") / "audit.json"
    path.write_bytes(raw)
    contract(lambda: load_result(path), file=path.name)


# ----------------------------------------------------------------------------------------- CLI
def run_cli(argv: list[str]) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    with time_limit(), contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = main(argv)
    return code, err.getvalue()


def check_exit(code: int, err: str) -> None:
    event(f"exit code {code}")
    assert code in (0, 1, 2), f"exit {code}: {err}"
    if code == 2:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("auditkit"), err


@SETTINGS
@given(case=labels_and_groups(max_n=30), n_boot=st.sampled_from(["0", "2", "-1", "x"]),
       fmt=st.sampled_from(["csv", "parquet"]), with_policy=st.booleans(),
       policy=policy_dicts())  # fmt: skip
def test_cli_audit_predictions(tmp_path_factory: pytest.TempPathFactory, case: dict[str, Any],
                               n_boot: str, fmt: str, with_policy: bool,
                               policy: dict[str, Any]) -> None:  # fmt: skip
    folder = tmp_path_factory.mktemp("cli")
    sens = {f"s{i}": v for i, v in enumerate(case["sens"].values())}  # CLI names: no commas
    frame = pd.DataFrame({"y true": case["y_true"], "ŷ": case["y_pred"], **sens})
    path = folder / f"log.{fmt}"
    if fmt == "parquet":
        frame = frame.astype(str)  # a parquet column holds one type
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    argv = ["audit", "--predictions", str(path), "--y-true", "y true", "--y-pred", "ŷ",
            "--sensitive", ",".join(sens), "--sections", "performance,fairness",
            "--n-boot", n_boot, "--out", str(folder / "out"), "--no-progress"]  # fmt: skip
    if with_policy:
        (folder / "policy.toml").write_text(policy_file(policy), encoding="utf-8")
        argv += ["--policy", str(folder / "policy.toml")]
    code, err = run_cli(argv)
    check_exit(code, err)
    if code in (0, 1):
        assert load_result(folder / "out" / "audit.json").data["n_rows"] == case["n"]


@FILE_SETTINGS
@given(text=mutated_json(), policy=policy_dicts(), junit=st.booleans())
def test_cli_check_and_render(tmp_path_factory: pytest.TempPathFactory, text: str,
                              policy: dict[str, Any], junit: bool) -> None:  # fmt: skip
    folder = tmp_path_factory.mktemp("cli")
    (folder / "audit.json").write_text(text, encoding="utf-8")
    (folder / "policy.toml").write_text(policy_file(policy), encoding="utf-8")
    argv = ["check", str(folder / "audit.json"), "--policy", str(folder / "policy.toml")]
    check_exit(*run_cli(argv + (["--junit", str(folder / "j.xml")] if junit else [])))
    check_exit(*run_cli(["render", str(folder / "audit.json"), "--out", str(folder / "cards")]))


# ------------------------------------------------------------- fast validation equals the schema
metric_key = st.sampled_from([
    "section", "name", "feature", "group", "value", "ci", "n", "input_feature", "fold",
    "attack", "label", "method", "flags", "reason", "unit", "extra",
])  # fmt: skip


@FILE_SETTINGS
@given(edits=st.lists(st.tuples(st.integers(0, 29), metric_key, st.one_of(json_value,
                                                                          st.just(None))),
                      min_size=1, max_size=3), drop=st.booleans())  # fmt: skip
def test_fast_metric_validation_agrees_with_the_schema(
    edits: list[tuple[int, str, Any]], drop: bool
) -> None:
    """validate_dict checks metric records with a fast path; its verdict and first error must be
    those of jsonschema on the whole document."""
    import jsonschema

    from auditkit.exceptions import DataValidationError
    from auditkit.result.json_io import result_schema, validate_dict

    data = json.loads(to_json(base_result()))
    data["metrics"] = data["metrics"][:30]
    for i, key, value in edits:
        m = data["metrics"][i]
        if drop and key in m:
            del m[key]
        else:
            m[key] = value
    full = jsonschema.Draft202012Validator(result_schema())
    errors = sorted(full.iter_errors(data), key=lambda e: list(map(str, e.path)))
    try:
        validate_dict(data)
    except DataValidationError as exc:
        assert errors, f"refused a valid document: {exc}"
        where = "/".join(map(str, errors[0].path)) or "(top level)"
        assert f"at {where}:" in str(exc)
    else:
        assert not errors, errors[0].message


# ------------------------------------------------------------------------------ card-info files
card_text = st.one_of(names, st.text(max_size=40), st.sampled_from(["http://x", "javascript:x"]))
card_value = st.one_of(
    card_text, st.lists(card_text, max_size=3), json_value,
    st.lists(st.fixed_dictionaries({"name": card_text}, optional={"contact": card_text,
                                                                  "url": card_text}),
             max_size=2),
    st.lists(st.fixed_dictionaries({"title": card_text}, optional={"url": card_text}),
             max_size=2),
)  # fmt: skip
card_field = st.sampled_from([
    "version", "overview", "intended_use", "intended_users", "out_of_scope_uses", "limitations",
    "ethical_considerations", "tradeoffs", "owners", "license", "references", "citation", "tags",
    "licence", "description", "unknown_field",
])  # fmt: skip


BAD_YAML = ["{{{", "- a\n- b\n", "a: !!python/object:os.system x\n", ": :", "a: [1, {b: c}]\n",
            "x: 2020-01-01\n", "\t\x00"]  # fmt: skip


@FILE_SETTINGS
@given(
    fields=st.dictionaries(card_field, card_value, max_size=5),
    raw=st.one_of(st.none(), st.none(), st.text(max_size=60), st.sampled_from(BAD_YAML)),
)
def test_card_info_files(tmp_path_factory: pytest.TempPathFactory, fields: dict[str, Any],
                         raw: str | None) -> None:  # fmt: skip
    import yaml

    from auditkit.report import render_html, render_markdown

    path = tmp_path_factory.mktemp("card") / "cärd info.yaml"
    text = raw if raw is not None else yaml.safe_dump(fields, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    y, g = [0, 1, 1, 0, 1, 0], ["a", "a", "b", "b", "<c>", "<c>"]
    res = contract(
        lambda: auditkit.audit_predictions(y, y[::-1], sensitive_features=g, n_boot=0,
                                           sections=["performance"], card_info=path),
        file=path.name,
    )  # fmt: skip
    if res is not None:
        to_json(res)
        html = render_html(res)
        assert "<script>alert" not in html and 'javascript:x"' not in html
        render_markdown(res)
