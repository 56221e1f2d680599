"""Fuzz auditkit's entry points with generated inputs and count what happens.

Every case feeds one entry point (``audit`` with scikit-learn estimators, callables and torch
modules, ``audit_predictions``, ``load_table``, ``Policy.from_toml``, ``load_result`` or the CLI's
``main([...])``) with a generated input: tables with NaN, empty and single-row groups,
single-class labels, constant features, mixed dtypes, hostile and unicode column names and
group labels, very long strings; policies written as TOML and then mutated; audit.json files
mutated key by key and byte by byte. The contract checked:

* a **result**: the returned ``AuditResult`` serialises to JSON that validates against the
  schema (and no section ended ``failed``: a section that crashed on odd input is a bug);
* a **clear error**: an ``AuditkitError`` whose message is non-empty and, for a file input,
  names the file; the CLI exits 0, 1 or 2 (never 3) and an exit 2 prints exactly one line;
* anything else is a **failure** (another exception type, an unclear message, a failed
  section, an exit code 3, a multi-line error), and a case that runs past the per-case time
  limit is a **hang**.

The issue-18 families (``writers``, ``checkpoint``, ``groups``, ``strings``, ``labels``,
``yaml``, ``toml``, ``json``, ``epoch``: concurrent writers, malicious checkpoints, unbounded
groups, bidi and control characters, misspelled labels, hostile card-info YAML and policy
TOML, lone surrogates in audit.json, SOURCE_DATE_EPOCH out of range) run after the generated
cases, each case in a child process whose wall time, CPU time and peak memory (``ru_maxrss``
from ``wait4``) are recorded: over 10 s or 1 GB, an exit 3 or a traceback is a failure.

Usage::

    python benchmarks/fuzz.py                 # 10,000 cases + 20 per family, writes RESULTS.md
    python benchmarks/fuzz.py --quick --no-write            # a smoke run, under 2 minutes
    python benchmarks/fuzz.py --cases 0 --per-family 5 --families yaml,toml --no-write

The figures go to section ``fuzz`` of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import math
import multiprocessing as mp
import os
import random
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

# ------------------------------------------------------------------------------ vocabulary
HOSTILE = [
    "",
    " ",
    "  padded  ",
    "<script>alert(1)</script>",
    '"onmouseover="alert(1)',
    "</td>",
    "javascript:alert(1)",
    "a,b",
    "a\nb",
    "tab\there",
    "ünïcødé",
    "中文列",
    "🙂",
    "\u202eRTL",
    "nul\x00byte",
    "None",
    "nan",
    "NaN",
    "null",
    "1",
    "1.0",
    "True",
    "-",
    "%s",
    "{0}",
    "\\",
    "'quote'",
    "`tick`",
    "a|b",
    "# hash",
    "[[rule]]",
    "..",
    "../../etc/passwd",
    "col.with.dots",
    "μσ",
    "x" * 3000,
    "\r\n",
    "=cmd|' /C calc'!A0",
    "\x1b[31mred",
    "\ufeffbom",
]
PLAIN = ["a", "b", "c", "female", "male", "group 1", "grp_2", "X", "y", "Zed"]


def pick_name(rng: random.Random) -> str:
    return rng.choice(HOSTILE) if rng.random() < 0.5 else rng.choice(PLAIN)


def unique_names(rng: random.Random, k: int, *, allow_dup: bool = False) -> list[str]:
    out: list[str] = []
    while len(out) < k:
        s = pick_name(rng)
        if rng.random() < 0.3:
            s = s + str(rng.randint(0, 9))
        if s in out and not (allow_dup and rng.random() < 0.5):
            s = f"{s}_{len(out)}"
        out.append(s)
    return out


def label_pool(rng: random.Random) -> tuple[list[Any], str]:
    """A set of class labels of one kind (sometimes deliberately mixed)."""
    kind = rng.choice(["int01", "intk", "str", "hostile", "bool", "float", "mixed", "bigint"])
    if kind == "int01":
        return [0, 1], kind
    if kind == "intk":
        return list(range(rng.randint(3, 5))), kind
    if kind == "str":
        return rng.sample(["yes", "no", "maybe", ">50K", "<=50K"], rng.choice([2, 2, 3])), kind
    if kind == "hostile":
        return rng.sample(HOSTILE, rng.choice([2, 2, 3])), kind
    if kind == "bool":
        return [False, True], kind
    if kind == "float":
        return [0.0, 1.0], kind
    if kind == "bigint":
        return [-(2**62), 2**62], kind
    return [0, "one"], kind


def labels(rng: random.Random, pool: list[Any], n: int, *, single: bool = False) -> list[Any]:
    if single and pool:
        return [pool[0]] * n
    return [rng.choice(pool) for _ in range(n)]


def group_values(rng: random.Random, n: int) -> list[Any]:
    kind = rng.choice(["plain", "hostile", "int", "float", "one", "singles", "bool", "mixed"])
    if kind == "plain":
        pool: list[Any] = rng.sample(PLAIN, rng.randint(1, 4))
    elif kind == "hostile":
        pool = rng.sample(HOSTILE, rng.randint(1, 4))
    elif kind == "int":
        pool = list(range(rng.randint(1, 4)))
    elif kind == "float":
        pool = [0.5, 1.5, -0.0, 1e300][: rng.randint(1, 4)]
    elif kind == "bool":
        pool = [True, False]
    elif kind == "mixed":
        pool = ["a", 1, 2.5, True]
    elif kind == "one":
        pool = [rng.choice(PLAIN)]
    else:  # every row its own group (single-row groups)
        return [f"g{i}" for i in range(n)]
    vals = [rng.choice(pool) for _ in range(n)]
    if n and rng.random() < 0.3:  # one single-row group
        vals[rng.randrange(n)] = "lonely"
    return vals


def maybe_missing(rng: random.Random, vals: list[Any], p: float) -> list[Any]:
    if vals and rng.random() < p:
        vals = list(vals)
        vals[rng.randrange(len(vals))] = rng.choice([None, float("nan")])
    return vals


def pick_n(rng: random.Random) -> int:
    return rng.choice([0, 1, 2, 3, 5, 8, 13, 30, 60, 120])


def common_params(rng: random.Random) -> dict[str, Any]:
    kw: dict[str, Any] = {"n_boot": rng.choice([0, 1, 2, 5, 5, 10])}
    r = rng.random()
    if r < 0.03:
        kw["n_boot"] = rng.choice([-1, 2.5, "3", None, True])
    if rng.random() < 0.05:
        kw["ci_level"] = rng.choice([0.0, 1.0, 1.5, float("nan"), "0.9", 0.5, 0.999])
    if rng.random() < 0.2:
        kw["min_group_size"] = rng.choice([1, 2, 5, 1000] + ([0, -3, 1.5] if r < 0.1 else []))
    if rng.random() < 0.1:
        kw["random_state"] = rng.choice([None, 1, 2**40, -1, "x", np.random.default_rng(1)])
    s = rng.random()
    if s < 0.75:
        kw["sections"] = ["performance", "fairness"]
    elif s < 0.8:
        kw["sections"] = "performance, fairness"
    elif s < 0.85:
        kw["sections"] = rng.choice([["bogus"], [], ["fairness", "fairness"], "", ["Fairness"]])
    elif s < 0.93:
        kw["sections"] = ["stability"] if rng.random() < 0.5 else ["performance", "stability"]
    if rng.random() < 0.05:
        kw["options"] = rng.choice(
            [
                {"mitigation": False},
                {"cv": 2},
                {"cv": 1},
                {"cv": "x"},
                {"four_fifths_threshold": 0.9},
            ]
        )
    if rng.random() < 0.03:
        kw["custom_metrics"] = rng.choice(
            [
                {"mean_pred": lambda yt, yp: float(np.mean(yp))},
                {"bad": 3},
                {"": lambda yt, yp: 0.0},
                {"raises": lambda yt, yp: 1 / 0},
            ]
        )
    return kw


def sensitive_arg(rng: random.Random, n: int, frame: Any | None) -> Any:
    """Sensitive features in one of the accepted forms (sometimes a bad one)."""
    import pandas as pd

    k = rng.choice([1, 1, 2, 3])
    names = unique_names(rng, k)
    cols = {nm: maybe_missing(rng, group_values(rng, n), 0.05) for nm in names}
    form = rng.choice(["dict", "frame", "series", "array", "list", "names", "bad"])
    if form == "names" and frame is not None:
        return [c for c in frame.columns[: rng.randint(1, min(2, frame.shape[1]))]]
    if form == "dict":
        return cols
    if form == "frame":
        df = pd.DataFrame(cols)
        if rng.random() < 0.1 and df.shape[1] >= 1:
            df = pd.concat([df, df.iloc[:, :1]], axis=1)  # duplicated column
        return df
    if form == "series":
        return pd.Series(cols[names[0]], name=rng.choice([names[0], None, 0]))
    if form == "array":
        return np.array(cols[names[0]], dtype=object)
    if form == "list":
        return list(cols[names[0]])
    return rng.choice(
        [None, 5, "missing_col", [[1, 2], [3]], np.zeros((n, 2, 2)), list(range(n + 1))]
    )


# ------------------------------------------------------------------------------ case kinds
class Case:
    """A generated input and how to run it."""

    def __init__(self, kind: str, run: Callable[[], Any], file: str | None = None) -> None:
        self.kind = kind
        self.run = run
        self.file = file


def case_predictions(rng: random.Random, tmp: Path) -> Case:
    import auditkit

    n = pick_n(rng)
    pool, _ = label_pool(rng)
    single = rng.random() < 0.12
    yt = maybe_missing(rng, labels(rng, pool, n, single=single), 0.05)
    yp = maybe_missing(rng, labels(rng, pool, n, single=single and rng.random() < 0.5), 0.03)
    kw = common_params(rng)
    ys: Any = None
    if rng.random() < 0.45:
        k = max(2, len(set(map(repr, pool))))
        npr = np.random.default_rng(rng.randrange(2**31))
        ys = npr.random(n) if k == 2 and rng.random() < 0.7 else npr.dirichlet(np.ones(k), n)
        c = rng.random()
        if c < 0.05 and n:
            ys = np.array(ys, dtype=float)
            ys.flat[0] = rng.choice([np.nan, 1.5, -0.1, np.inf])
        elif c < 0.08:
            ys = npr.random((n, k + 1))
    if rng.random() < 0.08:
        kw["pos_label"] = rng.choice([*pool, "nope", 7])
    import pandas as pd

    if rng.random() < 0.3:
        names = unique_names(rng, 3)
        data = pd.DataFrame({names[0]: yt, names[1]: yp, names[2]: group_values(rng, n)})
        if ys is not None and np.ndim(ys) == 1:
            data["__score"] = ys
        sens: Any = [names[2]] if rng.random() < 0.8 else [rng.choice(HOSTILE)]

        def run() -> Any:
            return auditkit.audit_predictions(
                names[0], names[1], y_score="__score" if "__score" in data else None,
                sensitive_features=sens, data=data, **kw,
            )  # fmt: skip

        return Case("audit_predictions", run)
    if rng.random() < 0.03 and n:
        yp = yp[:-1]
    sens = sensitive_arg(rng, n, None)
    as_series = rng.random() < 0.3

    def run2() -> Any:
        a = pd.Series(yt) if as_series else yt
        return auditkit.audit_predictions(a, yp, y_score=ys, sensitive_features=sens, **kw)

    return Case("audit_predictions", run2)


def make_X(rng: random.Random, n: int, *, numeric_only: bool) -> Any:
    import pandas as pd

    npr = np.random.default_rng(rng.randrange(2**31))
    d = rng.randint(1, 4)
    names = unique_names(rng, d)
    cols: dict[str, Any] = {}
    for nm in names:
        kind = rng.choice(["normal", "normal", "const", "int", "nan", "huge"])
        if kind == "const":
            v: Any = np.full(n, 3.0)
        elif kind == "int":
            v = npr.integers(-5, 5, n)
        elif kind == "nan":
            v = npr.normal(size=n)
            v[npr.random(n) < 0.2] = np.nan
        elif kind == "huge":
            v = npr.normal(size=n) * 1e300
        else:
            v = npr.normal(size=n)
        cols[nm] = v
    if not numeric_only and rng.random() < 0.5:
        cols[unique_names(rng, 1)[0] + "_cat"] = [rng.choice(["p", "q", "<b>r</b>"])
                                                  for _ in range(n)]  # fmt: skip
    return pd.DataFrame(cols)


def case_sklearn(rng: random.Random, tmp: Path) -> Case:
    from sklearn.dummy import DummyClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.tree import DecisionTreeClassifier

    import auditkit

    n = max(pick_n(rng), rng.choice([0, 1, 5, 20, 60]))
    numeric = rng.random() < 0.85
    X_all = make_X(rng, 40 + n, numeric_only=numeric)
    Xtr, Xe = X_all.iloc[:40].reset_index(drop=True), X_all.iloc[40:].reset_index(drop=True)
    pool, _ = label_pool(rng)
    if any(isinstance(v, str) for v in pool) and any(not isinstance(v, str) for v in pool):
        pool = [0, 1]
    ytr = labels(rng, pool, 40, single=rng.random() < 0.05)
    if len(set(map(repr, ytr))) < 2 and rng.random() < 0.5:
        ytr[0], ytr[1] = pool[0], pool[-1]
    which = rng.choice(["tree", "dummy", "logreg_pipe", "logreg"])
    est: Any = {
        "tree": lambda: DecisionTreeClassifier(max_depth=3, random_state=0),
        "dummy": lambda: DummyClassifier(
            strategy=rng.choice(["prior", "uniform", "constant"]), constant=ytr[0], random_state=0
        ),
        "logreg_pipe": lambda: make_pipeline(SimpleImputer(), LogisticRegression(max_iter=200)),
        "logreg": lambda: LogisticRegression(max_iter=200),
    }[which]()
    ye = maybe_missing(rng, labels(rng, pool, n), 0.03)
    kw = common_params(rng)
    if rng.random() < 0.1:
        kw["train"] = (Xtr, ytr) if rng.random() < 0.8 else (Xtr, ytr[:-1])
        kw["sections"] = rng.choice([["privacy"], ["stability"], ["performance", "privacy"]])
    sens = sensitive_arg(rng, n, Xe)
    Xtr_fit = Xtr.select_dtypes("number")
    Xe_use = Xe.select_dtypes("number") if rng.random() < 0.9 else Xe

    def run() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model = est.fit(Xtr_fit, ytr)
            except Exception:  # noqa: BLE001 - an unusable training set for this estimator
                model = DummyClassifier().fit(Xtr_fit, ytr)
        return auditkit.audit(model, Xe_use, ye, sensitive_features=sens, **kw)

    return Case("audit_sklearn", run)


def case_callable(rng: random.Random, tmp: Path) -> Case:
    import auditkit

    n = max(pick_n(rng), rng.choice([0, 1, 5, 30]))
    X = make_X(rng, n, numeric_only=rng.random() < 0.7)
    pool, _ = label_pool(rng)
    k = len(pool)
    y = maybe_missing(rng, labels(rng, pool, n, single=rng.random() < 0.1), 0.03)
    defect = rng.choice(
        [
            "ok",
            "ok",
            "ok",
            "ok",
            "1d",
            "nan",
            "range",
            "sum",
            "shape",
            "3d",
            "list",
            "str",
            "raises",
            "kcols",
            "len",
        ]
    )

    def fn(Xin: Any) -> Any:
        m = len(Xin)
        npr = np.random.default_rng(0)
        p = npr.dirichlet(np.ones(k), m) if m else np.zeros((0, k))
        if defect == "1d":
            return p[:, -1]
        if defect == "nan" and m:
            p[0, 0] = np.nan
        if defect == "range" and m:
            p[0] = 2.0
        if defect == "sum" and m:
            p = p * 0.5
        if defect == "shape":
            return p[:, :1]
        if defect == "3d":
            return p[:, :, None]
        if defect == "list":
            return p.tolist()
        if defect == "str":
            return np.array([["a"] * k] * m)
        if defect == "raises":
            raise RuntimeError("the user's model broke")
        if defect == "kcols":
            return np.hstack([p, np.zeros((m, 1))])
        if defect == "len":
            return p[: max(0, m - 1)]
        return p

    kw = common_params(rng)
    sens = sensitive_arg(rng, n, X)
    if rng.random() < 0.05:
        kw["card_info"] = rng.choice(
            [{"intended_use": "x"}, {"a": [1, {"b": None}]}, "nofile.yml"]
        )

    def run() -> Any:
        return auditkit.audit(fn, X, y, sensitive_features=sens, **kw)

    return Case("audit_callable", run)


def case_torch(rng: random.Random, tmp: Path) -> Case:
    import torch

    import auditkit

    n = max(pick_n(rng), 5)
    X = make_X(rng, n, numeric_only=True)
    d = X.shape[1]
    k = rng.choice([1, 2, 3])
    torch.manual_seed(rng.randrange(2**31))
    module = torch.nn.Sequential(torch.nn.Linear(d, 4), torch.nn.ReLU(), torch.nn.Linear(4, k))
    classes = 2 if k == 1 else k
    y = [rng.randrange(classes) for _ in range(n)]
    kw = common_params(rng)
    sens = sensitive_arg(rng, n, X)
    if rng.random() < 0.1:
        X = X.astype(object)

    def run() -> Any:
        return auditkit.audit(module, X, y, sensitive_features=sens, **kw)

    return Case("audit_torch", run)


def write_table(rng: random.Random, path: Path, df: Any) -> None:
    fmt = path.name.split(".", 1)[1]
    if fmt == "parquet":
        df.columns = [str(c) for c in df.columns]
        df.to_parquet(path)
    elif fmt == "csv.gz":
        df.to_csv(path, index=False, compression="gzip")
    else:
        df.to_csv(path, index=False)


def case_load_table(rng: random.Random, tmp: Path) -> Case:
    import pandas as pd

    from auditkit.data import load_table

    fmt = rng.choice(["csv", "csv", "csv.gz", "parquet", "txt"])
    stem = rng.choice(["data", "tab le", "ünï", "x" * 50])
    path = tmp / f"{stem}.{fmt}"
    n = pick_n(rng)
    names = unique_names(rng, rng.randint(1, 5), allow_dup=True)
    cols = {}
    for i, nm in enumerate(names):
        key = nm if nm not in cols else nm + f".{i}"
        v = rng.choice(
            [
                lambda: [rng.random() for _ in range(n)],
                lambda: maybe_missing(rng, [rng.choice(HOSTILE) for _ in range(n)], 0.5),
                lambda: [rng.choice([0, 1]) for _ in range(n)],
                lambda: ["x" * rng.randint(0, 20000)] * n,
                lambda: maybe_missing(rng, [rng.choice(["a", 1, 2.5]) for _ in range(n)], 0.5),
            ]
        )()
        cols[key] = v
    df = pd.DataFrame(cols)
    if rng.random() < 0.3 and df.shape[1]:
        df.columns = names[: df.shape[1]]  # may hold duplicates
    mode = rng.random()
    try:
        if mode < 0.08:
            path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randint(0, 300))))
        elif mode < 0.12:
            path.write_bytes(b"")
        elif mode < 0.15:
            path.write_text(",".join(names) + "\n", encoding="utf-8")
        elif mode < 0.18:
            path.write_bytes(("a,b\n" + "\xe9,1\n").encode("latin-1"))
        elif mode < 0.2:
            path.write_text('a,b\n"unterminated,1\n1,2,3,4\n')
        elif mode < 0.22:
            path.mkdir()
        else:
            write_table(rng, path, df)
    except Exception:  # noqa: BLE001 - pyarrow refuses some mixed columns
        if path.is_file():
            path.unlink()
        path.write_text("a\n1\n")
    cols_now = list(map(str, df.columns))
    target = rng.choice(cols_now) if cols_now and rng.random() < 0.8 else rng.choice(HOSTILE)
    sens: Any = None
    r = rng.random()
    if r < 0.5 and cols_now:
        sens = rng.sample(cols_now, rng.randint(1, len(cols_now)))
    elif r < 0.6:
        sens = rng.choice(HOSTILE)
    elif r < 0.65:
        sens = [target]
    target_arg: Any = target
    if rng.random() < 0.02:
        target_arg = rng.choice([None, 3, ["a"]])
    missing_file = rng.random() < 0.03

    def run() -> Any:
        p = tmp / "does-not-exist.csv" if missing_file else path
        return load_table(p, target=target_arg, sensitive_features=sens)

    return Case(
        "load_table", run, file=(tmp / "does-not-exist.csv").name if missing_file else path.name
    )


# --------------------------------------------------------------------------------- policies
METRICS = [
    "accuracy",
    "demographic_parity_ratio",
    "selection_rate",
    "roc_auc",
    "equalized_odds_difference",
    "true_positive_rate",
    "balanced_accuracy",
]


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and math.isnan(v):
            return "nan"
        if isinstance(v, float) and math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string is JSON-compatible for these characters
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    return json.dumps(str(v))


def random_rule(rng: random.Random) -> dict[str, Any]:
    """A rule that is mostly well-formed (it may match the base result), then maybe mutated."""
    rule: dict[str, Any] = {
        "section": rng.choice(["fairness", "performance", "fairness", "privacy"]),
        "metric": rng.choice(METRICS),
        "op": rng.choice([">=", "<=", ">", "<", "=="]),
        "threshold": rng.choice([0.8, 0, 1, -1e308, 1e308, 0.1, 0.5, 0.9, 2**53]),
    }
    if rng.random() < 0.5:
        rule["feature"] = rng.choice(["g", "g", pick_name(rng), [pick_name(rng), "g"]])
        if rng.random() < 0.2:
            rule["group"] = rng.choice(["a", "<b>", "ünï", pick_name(rng)])
            if isinstance(rule["feature"], list):
                rule["group"] = [rule["group"], "a"]
    for key in ("id", "method", "label", "severity", "description", "attack", "input_feature"):
        if rng.random() < 0.1:
            rule[key] = {
                "severity": rng.choice(["warning", "error"]),
                "method": rng.choice(["to_overall", "between_groups"]),
            }.get(key, pick_name(rng) or "x")
    if rng.random() < 0.4:  # one mutation of a key or a value
        r = rng.random()
        if r < 0.2:
            rule.pop(rng.choice(list(rule)))
        elif r < 0.3:
            rule[rng.choice(["unknown_key", "Threshold", "rules", pick_name(rng)])] = 1
        else:
            key = rng.choice(list(rule) + ["group", "feature"])
            rule[key] = rng.choice(
                [
                    True,
                    3,
                    2.5,
                    "s",
                    [1, 2],
                    {"a": 1},
                    [],
                    ["x", 1],
                    2**63 - 1,
                    -(2**63),
                    float("nan"),
                    float("inf"),
                    "",
                    " ",
                    "=>",
                    "!=",
                    rng.choice(HOSTILE),
                    [rng.choice(HOSTILE)],
                    [[">="]],
                    {"op": ">="},
                ]
            )
    return rule


def policy_text(rng: random.Random) -> str:
    doc: dict[str, Any] = {}
    if rng.random() < 0.2:
        doc["name"] = rng.choice([pick_name(rng), 3])
    if rng.random() < 0.1:
        doc[rng.choice(["rules", "descripton", "x"])] = "oops"
    lines = [f"{k} = {toml_value(v)}" for k, v in doc.items()]
    form = rng.random()
    rules = [random_rule(rng) for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4]))]
    if rng.random() < 0.1 and rules:
        rules.append(dict(rules[0]))  # duplicated id
    if form < 0.1:
        lines.append(f"rule = {toml_value(rng.choice([3, 'x', [], [1, 2], {'a': 1}]))}")
    elif form < 0.2:
        lines.append("rule = [" + ", ".join(toml_value(r) for r in rules) + "]")
    elif form < 0.25 and rules:
        lines.append("[rule]")
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in rules[0].items()]
    else:
        for r in rules:
            lines.append("[[rule]]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in r.items()]
    text = "\n".join(lines) + "\n"
    m = rng.random()
    if m < 0.05 and text:  # truncate
        text = text[: rng.randrange(len(text))]
    elif m < 0.1 and text:  # insert a random character
        i = rng.randrange(len(text))
        text = text[:i] + rng.choice(['"', "[", "]", "=", "\n", "\x00", "\\", "é"]) + text[i:]
    return text


_RESULT_CACHE: dict[str, Any] = {}


def base_result() -> Any:
    """A small audit result with performance, fairness and a policy (built once per worker)."""
    if "result" not in _RESULT_CACHE:
        import auditkit

        npr = np.random.default_rng(0)
        n = 200
        y = npr.integers(0, 2, n)
        s = np.clip(0.3 * y + 0.7 * npr.random(n), 0, 1)
        g = npr.choice(["a", "<b>", "ünï"], n)
        policy = auditkit.Policy.from_dict({"rule": [
            {"section": "fairness", "metric": "demographic_parity_ratio", "feature": "g",
             "op": ">=", "threshold": 0.8},
            {"section": "performance", "metric": "accuracy", "op": ">=", "threshold": 0.99,
             "severity": "warning"},
        ]})  # fmt: skip
        _RESULT_CACHE["result"] = auditkit.audit_predictions(
            y, (s > 0.5).astype(int), y_score=s, sensitive_features={"g": g}, n_boot=20,
            policy=policy, sections=["performance", "fairness"],
        )  # fmt: skip
    return _RESULT_CACHE["result"]


def case_policy(rng: random.Random, tmp: Path) -> Case:
    import xml.etree.ElementTree as ET

    import auditkit
    from auditkit.policy import junit_xml

    name = rng.choice(["policy.toml", "pölicy.toml", "p o l.toml"])
    path = tmp / name
    mode = rng.random()
    if mode < 0.05:
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))))
    elif mode < 0.07:
        path.write_bytes("name = 'é'\n".encode("utf-16"))
    elif mode < 0.09:
        path.mkdir()
    else:
        path.write_text(policy_text(rng), encoding="utf-8")
    missing = rng.random() < 0.02

    def run() -> Any:
        p = tmp / "missing.toml" if missing else path
        pol = auditkit.Policy.from_toml(p)
        verdict = auditkit.check(base_result(), pol)
        ET.fromstring(junit_xml(verdict).split("\n", 1)[1])  # the XML must parse back
        verdict.summary()
        return pol

    return Case("policy", run, file="missing.toml" if missing else name)


# ---------------------------------------------------------------------------------- results
def mutate_json(rng: random.Random, data: Any, depth: int = 0) -> Any:
    """Return ``data`` with one random change somewhere below (a deep copy)."""
    junk = [
        None,
        True,
        0,
        -1,
        1.5,
        1e308,
        "",
        "x",
        "<script>",
        [],
        {},
        [1, "a"],
        {"k": None},
        2**70,
        "ünï" * 1000,
    ]
    if isinstance(data, dict) and data and (depth < 6 and rng.random() < 0.75):
        key = rng.choice(list(data))
        out = dict(data)
        out[key] = mutate_json(rng, data[key], depth + 1)
        return out
    if isinstance(data, list) and data and (depth < 6 and rng.random() < 0.75):
        i = rng.randrange(len(data))
        out2 = list(data)
        out2[i] = mutate_json(rng, data[i], depth + 1)
        return out2
    r = rng.random()
    if isinstance(data, dict) and data and r < 0.35:
        out = dict(data)
        out.pop(rng.choice(list(out)))
        return out
    if isinstance(data, dict) and r < 0.5:
        return {**data, rng.choice(HOSTILE): rng.choice(junk)}
    if isinstance(data, list) and data and r < 0.5:
        return data[: rng.randrange(len(data))] + data[rng.randrange(len(data)) :] * 2
    return rng.choice(junk)


def case_result(rng: random.Random, tmp: Path) -> Case:
    from auditkit.report import load_result, render_html, render_markdown, to_json

    name = rng.choice(["audit.json", "äudit.json", "a u d i t.json"])
    path = tmp / name
    base = json.loads(to_json(base_result()))
    mode = rng.random()
    if mode < 0.6:
        data = base
        for _ in range(rng.choice([1, 1, 2, 3])):
            data = mutate_json(rng, data)
        text = json.dumps(
            data, ensure_ascii=rng.random() < 0.5, allow_nan=True
        )  # NaN may slip into the file
        path.write_text(text, encoding="utf-8")
    elif mode < 0.7:
        text = json.dumps(base)
        path.write_text(text[: rng.randrange(len(text))], encoding="utf-8")
    elif mode < 0.78:
        raw = bytearray(json.dumps(base).encode())
        for _ in range(rng.randint(1, 5)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        path.write_bytes(bytes(raw))
    elif mode < 0.82:
        path.write_text("[" * rng.choice([10, 1000, 100000]) + "]" * rng.choice([0, 10]))
    elif mode < 0.86:
        path.write_text(rng.choice(["", "null", "[]", "3", '"s"', "{}", "\ufeff{}"]))
    elif mode < 0.9:
        path.write_text(
            json.dumps({**base, "schema_version": rng.choice(["2.0", "0.1", 1, None, "1.9"])})
        )
    else:
        path.write_text(json.dumps(base), encoding="utf-8")
    missing = rng.random() < 0.02

    def run() -> Any:
        res = load_result(tmp / "nothing.json" if missing else path)
        to_json(res)
        render_html(res)
        render_markdown(res)
        return res

    return Case("load_result", run, file="nothing.json" if missing else name)


# -------------------------------------------------------------------------------------- CLI
def case_cli(rng: random.Random, tmp: Path) -> Case:
    import pandas as pd

    from auditkit.report import to_json

    sub = rng.choice(["audit", "audit", "audit", "check", "render", "junk"])
    argv: list[str]
    if sub == "audit":
        n = max(pick_n(rng), rng.choice([0, 3, 40]))
        pool, _ = label_pool(rng)
        names = unique_names(rng, 4)
        names = [
            nm if (nm and not nm.strip() == "" and "," not in nm) else f"c{i}"
            for i, nm in enumerate(names)
        ]
        names = [nm if nm not in names[:i] else f"{nm}{i}" for i, nm in enumerate(names)]
        df = pd.DataFrame({
            names[0]: maybe_missing(rng, labels(rng, pool, n), 0.05),
            names[1]: labels(rng, pool, n),
            names[2]: maybe_missing(rng, group_values(rng, n), 0.05),
            names[3]: [rng.random() for _ in range(n)],
        })  # fmt: skip
        fname = rng.choice(["log.csv", "log.parquet", "lög.csv", "log.txt"])
        path = tmp / fname
        try:
            write_table(rng, path, df) if fname != "log.txt" else path.write_text("x")
        except Exception:  # noqa: BLE001 - pyarrow refuses some mixed columns
            path.write_text("a,b\n1,2\n")
        out = tmp / "out"
        if rng.random() < 0.05:
            out.write_text("a file where the folder should be")
        argv = ["audit", "--predictions", str(path), "--y-true", names[0], "--y-pred", names[1],
                "--sensitive", names[2], "--sections",
                rng.choice(["performance,fairness", "performance,fairness", "fairness",
                            "performance,fairness", "bogus", ",", "performance,stability"]),
                "--n-boot", rng.choice(["0", "2", "5", "5", "5", "-1", "x"]), "--out", str(out),
                "--no-progress"]  # fmt: skip
        if rng.random() < 0.2:
            argv += ["--y-score", rng.choice([names[3], "nope"])]
        if rng.random() < 0.1:
            argv += ["--ci-level", rng.choice(["0.9", "1", "nan", "abc"])]
        if rng.random() < 0.1:
            argv += ["--min-group-size", rng.choice(["1", "0", "1e3"])]
        if rng.random() < 0.1:
            argv += ["--pos-label", str(rng.choice(pool + ["nope"]))]
        if rng.random() < 0.15:
            pol = tmp / "policy.toml"
            pol.write_text(policy_text(rng), encoding="utf-8")
            argv += ["--policy", str(pol)]
        if rng.random() < 0.1:
            card = tmp / "card.yml"
            yaml_texts = ["intended_use: demo\n", "- a list\n", "a: [1, {b: c}]\n",
                          "x: 2020-01-01\n", ": :\n", "{{{", "\xff",
                          "a: !!python/object:os.system ls\n"]  # fmt: skip
            card.write_text(rng.choice(yaml_texts), encoding="utf-8")
            argv += ["--card-info", str(card)]
        if rng.random() < 0.05:
            argv += [rng.choice(["--bogus", "extra.ckpt", "--data", "--target=x"])]
        if rng.random() < 0.03:
            argv[2] = str(tmp / "missing.csv")
    elif sub in ("check", "render"):
        path = tmp / "audit.json"
        base = json.loads(to_json(base_result()))
        data = mutate_json(rng, base) if rng.random() < 0.3 else base
        path.write_text(json.dumps(data), encoding="utf-8")
        if sub == "check":
            pol = tmp / "policy.toml"
            pol.write_text(policy_text(rng), encoding="utf-8")
            argv = ["check", str(path), "--policy", str(pol)]
            if rng.random() < 0.3:
                argv += ["--junit", str(tmp / rng.choice(["j.xml", "sub/j.xml", "out"]))]
        else:
            argv = ["render", str(path), "--out", str(tmp / "cards")]
    else:
        argv = rng.choice(
            [
                [],
                ["--version"],
                ["nope"],
                ["audit"],
                ["check"],
                ["render"],
                ["audit", "--predictions"],
                ["check", "x.json", "--policy", "y"],
                ["render", str(tmp)],
                ["audit", str(tmp / "none.ckpt")],
            ]
        )

    def run() -> Any:
        from auditkit.cli import main

        err, out_ = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out_):
            code = main(argv)
        cards = [p.read_text(encoding="utf-8") for p in (tmp / "out" / "card.html",
                 tmp / "out" / "card.md", tmp / "cards" / "card.html", tmp / "cards" / "card.md")
                 if p.exists()]  # fmt: skip
        return CliOutcome(code, err.getvalue(), out_.getvalue(), cards)

    return Case("cli_" + sub, run)


CKPT: dict[str, Path] = {}


def reference_checkpoint() -> Path:
    """A 1-epoch iris-mlp checkpoint, trained once before the workers start."""
    if "iris" not in CKPT:
        from auditkit.models.training import train

        folder = Path(tempfile.mkdtemp(prefix="akfuzz-ckpt-"))
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            CKPT["iris"] = train("iris-mlp", out=folder / "iris.ckpt", max_epochs=1, seed=0)
    return CKPT["iris"]


def case_cli_checkpoint(rng: random.Random, tmp: Path) -> Case:
    """``auditkit audit iris.ckpt --data FILE --target COL`` on mutated tables, and ``info``."""
    from auditkit.data import load_dataset

    ckpt = reference_checkpoint()
    if rng.random() < 0.25:  # a damaged checkpoint
        raw = bytearray(ckpt.read_bytes())
        for _ in range(rng.randint(1, 6)):
            i = rng.randrange(len(raw))
            raw[i : i + 4] = bytes(rng.randrange(256) for _ in range(4))
        if rng.random() < 0.3:
            raw = raw[: rng.randrange(len(raw))]
        bad = tmp / "dämaged.ckpt"
        bad.write_bytes(bytes(raw))
        argv = [rng.choice(["info", "audit"]), str(bad)]
        if argv[0] == "audit":
            argv += ["--n-boot", "2", "--sections", "performance", "--no-progress",
                     "--out", str(tmp / "out")]  # fmt: skip
    else:
        ds = load_dataset("iris")
        df = ds.test.X.copy()
        labels_ = np.asarray(ds.schema.class_names, dtype=object)[ds.test.y]
        df["species"] = labels_ if rng.random() < 0.6 else ds.test.y
        df["grp"] = [rng.choice(["a", "b", "<c>"]) for _ in range(len(df))]
        r = rng.random()
        if r < 0.1:
            df = df.drop(columns=[rng.choice(list(ds.test.X.columns))])
        elif r < 0.2:
            df.iloc[rng.randrange(len(df)), rng.randrange(4)] = np.nan
        elif r < 0.3:
            col = rng.choice(list(ds.test.X.columns))
            df[col] = df[col].astype(object)
            df.loc[df.index[0], col] = rng.choice(HOSTILE)
        elif r < 0.35:
            df["species"] = df["species"].astype(object)
            df.loc[df.index[0], "species"] = "unicorn"
        elif r < 0.4:
            df = df.iloc[: rng.choice([0, 1, 2])]
        elif r < 0.45:
            df[rng.choice(HOSTILE) or "blank"] = 1.0
        elif r < 0.5:
            df = df.rename(columns={"sepal_length": "Sepal_Length"})
        path = tmp / rng.choice(["iris.csv", "ïris.csv", "iris.parquet"])
        if path.suffix == ".parquet":
            df.columns = [str(c) for c in df.columns]
            try:
                df.to_parquet(path)
            except Exception:  # noqa: BLE001 - pyarrow refuses some mixed columns
                df.astype(str).to_parquet(path)
        else:
            df.to_csv(path, index=False)
        argv = ["audit", str(ckpt), "--data", str(path),
                "--target", rng.choice(["species", "species", "species", "nope", "grp"]),
                "--sections", rng.choice(["performance,fairness", "performance"]),
                "--n-boot", "2", "--no-progress", "--out", str(tmp / "out")]  # fmt: skip
        if rng.random() < 0.8:
            argv += ["--sensitive", rng.choice(["grp", "grp", "nope", "species"])]

    def run() -> Any:
        from auditkit.cli import main

        err, out_ = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out_):
            code = main(argv)
        return CliOutcome(code, err.getvalue(), out_.getvalue())

    return Case("cli_checkpoint", run)


class CliOutcome:
    def __init__(self, code: int, stderr: str, stdout: str = "",
                 cards: list[str] | None = None) -> None:  # fmt: skip
        self.code = code
        self.stderr = stderr
        self.stdout = stdout
        self.cards = cards or []


KINDS: list[tuple[str, float, Callable[[random.Random, Path], Case]]] = [
    ("audit_predictions", 0.26, case_predictions),
    ("audit_sklearn", 0.12, case_sklearn),
    ("audit_callable", 0.10, case_callable),
    ("audit_torch", 0.04, case_torch),
    ("load_table", 0.14, case_load_table),
    ("policy", 0.12, case_policy),
    ("load_result", 0.10, case_result),
    ("cli", 0.12, case_cli),
    ("cli_checkpoint", 0.04, case_cli_checkpoint),
]


def make_case(seed: int, tmp: Path) -> Case:
    rng = random.Random(seed)
    r = rng.random() * sum(w for _, w, _ in KINDS)
    for _, w, make in KINDS:
        r -= w
        if r <= 0:
            return make(rng, tmp)
    return KINDS[-1][2](rng, tmp)


# ---------------------------------------------------------------------------------- running
class Hang(BaseException):  # not an Exception: no library code may swallow it
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise Hang


def signature(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in tb if "auditkit" in f.filename and "benchmarks" not in f.filename]
    where = frames[-1] if frames else (tb[-1] if tb else None)
    loc = f"{Path(where.filename).name}:{where.lineno} ({where.name})" if where else "?"
    msg = " ".join(str(exc).split())[:160]
    return f"{type(exc).__name__} at {loc}: {msg}"


def classify(case: Case, value: Any) -> tuple[str, str | None]:
    """Return (outcome, failure signature) for a value the case returned."""
    from auditkit.report import AuditResult, to_json

    if isinstance(value, CliOutcome):
        lines = [ln for ln in value.stderr.splitlines() if ln.strip()]
        if value.code not in (0, 1, 2):
            first = lines[0][:200] if lines else ""
            return "failure", f"CLI exit {value.code}: {first}"
        if value.code == 2 and len(lines) != 1:
            return "failure", f"CLI exit 2 with {len(lines)} stderr lines: {value.stderr[:200]!r}"
        shown = hidden_in(value.stderr + value.stdout)
        if shown:
            return "failure", f"CLI printed hidden characters {shown}"
        for card in value.cards:
            if hidden_in(card.replace("\t", "")):
                return "failure", f"a card holds hidden characters {hidden_in(card)}"
        return ("clear_error" if value.code == 2 else "result"), None
    if isinstance(value, AuditResult):
        to_json(value)  # raises when the JSON does not validate
        failed = [s for s in value.sections if s.status == "failed"]
        if failed:
            sig = f"section {failed[0].name} failed: {failed[0].reason}"[:240]
            return "section_failed", sig
    return "result", None


def run_case(seed: int, timeout: float) -> tuple[int, str, str | None, float]:
    from auditkit.exceptions import AuditkitError

    with tempfile.TemporaryDirectory(prefix="akfuzz-") as d:
        t0 = time.perf_counter()
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        kind, file = "harness", None
        try:
            try:
                case = make_case(seed, Path(d))
            except Exception as exc:  # noqa: BLE001 - a bug of this script, not of auditkit
                return seed, "harness|harness_error", "generator: " + signature(exc), 0.0
            kind, file = case.kind, case.file
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = case.run()
            outcome, sig = classify(case, value)
        except Hang:
            outcome, sig = "hang", f"seed {seed} ran past {timeout:.0f} s"
        except AuditkitError as exc:
            msg = str(exc)
            if not msg.strip():
                outcome, sig = "failure", f"{type(exc).__name__} with an empty message"
            elif file is not None and file not in msg:
                outcome, sig = "failure", f"error does not name file {file!r}: {msg[:160]}"
            else:
                outcome, sig = "clear_error", None
        except Exception as exc:  # noqa: BLE001 - the point is to count these
            outcome, sig = "failure", signature(exc)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        return seed, f"{kind}|{outcome}", sig, time.perf_counter() - t0


def _worker_init() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    import auditkit.audit  # noqa: F401

    import auditkit  # noqa: F401 - warm the imports once per worker


def _work(args: tuple[int, float]) -> tuple[int, str, str | None, float]:
    return run_case(*args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0, help="first case seed")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per case (hang)")
    ap.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    ap.add_argument("--show", type=int, default=8, help="failure signatures to show")
    ap.add_argument("--only", help="run only seeds of this case kind (debugging)")
    ap.add_argument(
        "--per-family",
        type=int,
        default=20,
        help="cases of each issue-18 family (child processes); 0 skips them",
    )
    ap.add_argument(
        "--families",
        help="comma-separated issue-18 families to run (default all: " + ", ".join(FAMILIES) + ")",
    )
    ap.add_argument(
        "--family-timeout",
        type=float,
        default=2 * LIMIT_S,
        help="wall-clock seconds before a family case is killed (a hang: a failure); default "
        "20. The 10 s limit itself is on the child's CPU time, which a loaded machine does "
        "not inflate",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run (under 2 minutes on a quiet machine): 60 generated cases, 4 per family",
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.cases, args.per_family = min(args.cases, 60), min(args.per_family, 4)

    seeds = range(args.seed, args.seed + args.cases)
    t0 = time.perf_counter()
    counts: collections.Counter[str] = collections.Counter()
    by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    failures: dict[str, list[int]] = collections.defaultdict(list)
    slowest = (0.0, -1)
    tasks = [(s, args.timeout) for s in seeds]
    if args.cases > 0:
        reference_checkpoint()  # trained once here; the forked workers share the file
    ctx = mp.get_context("fork")
    done = 0
    with ctx.Pool(args.workers, initializer=_worker_init, maxtasksperchild=500) as pool:
        results = pool.imap_unordered(_work, tasks)
        while True:
            try:  # a hang in C code that the per-case alarm cannot interrupt stops here
                seed, key, sig, dt = results.next(timeout=args.timeout * 4 * 4 + 120)
            except StopIteration:
                break
            except mp.TimeoutError:
                counts["hang"] += 1
                failures["hang: a worker stopped answering (a hang outside Python)"].append(-1)
                pool.terminate()
                break
            kind, outcome = key.split("|")
            if args.only and not kind.startswith(args.only):
                continue
            done += 1
            counts[outcome] += 1
            by_kind[kind][outcome] += 1
            if sig is not None:
                failures[f"{outcome}: {sig}"].append(seed)
            slowest = max(slowest, (dt, seed))
            if done % 500 == 0:
                print(f"{done} cases, {time.perf_counter() - t0:.0f} s: {dict(counts)}",
                      file=sys.stderr, flush=True)  # fmt: skip
    wall = time.perf_counter() - t0
    print(f"{done} cases in {wall:.0f} s: {dict(counts)}")
    for kind in sorted(by_kind):
        print(f"  {kind}: {dict(by_kind[kind])}")
    sigs = sorted(failures.items(), key=lambda kv: -len(kv[1]))
    for sig, ss in sigs[: args.show]:
        print(f"  [{len(ss)}x, seeds {ss[:5]}] {sig}")
    fam_text, fam_failures = "", 0
    if args.per_family > 0:
        print(f"issue-18 families, {args.per_family} case(s) each:", file=sys.stderr)
        stats, fam_wall = run_families(args.per_family, args.seed, args.workers,
                                       args.family_timeout, args.families)  # fmt: skip
        fam_text = family_report(stats, fam_wall, args.family_timeout)
        fam_failures = sum(st["failures"] for st in stats.values())
        print(fam_text)
    if not args.no_write:
        from _results import machine, write_section

        text = report(args, counts, by_kind, failures, wall, slowest, machine())
        write_section("fuzz", text + ("\n" + fam_text if fam_text else ""))
    bad = counts["failure"] + counts["hang"] + counts["harness_error"] + fam_failures
    return 1 if bad else 0


OUTCOMES = [
    ("result", "results"),
    ("section_failed", "results with a section failed"),
    ("clear_error", "clear errors"),
    ("failure", "failures"),
    ("hang", "hangs"),
]


def report(args: argparse.Namespace, counts: collections.Counter[str],
           by_kind: dict[str, collections.Counter[str]], failures: dict[str, list[int]],
           wall: float, slowest: tuple[float, int], machine: str) -> str:  # fmt: skip
    """Return the Markdown of the ``fuzz`` section of RESULTS.md."""
    head = "| entry point | cases | " + " | ".join(label for _, label in OUTCOMES) + " |"
    rows = [head, "|---|" + "---:|" * (len(OUTCOMES) + 1)]
    for kind in sorted(by_kind):
        c = by_kind[kind]
        cells = " | ".join(f"{c[key]:,}" for key, _ in OUTCOMES)
        rows.append(f"| `{kind}` | {sum(c.values()):,} | {cells} |")
    cells = " | ".join(f"**{counts[key]:,}**" for key, _ in OUTCOMES)
    rows.append(f"| **all** | **{sum(counts.values()):,}** | {cells} |")
    text = [
        "## Fuzzing the entry points (`benchmarks/fuzz.py`)",
        "",
        f"{sum(counts.values()):,} generated cases (seeds {args.seed} to "
        f"{args.seed + args.cases - 1}), {args.workers} worker processes, a "
        f"{args.timeout:.0f} s limit per case; {wall:.0f} s wall time, slowest case "
        f"{slowest[0]:.1f} s (seed {slowest[1]}). {machine}.",
        "",
        "A *result* is an AuditResult whose JSON validates against the schema (for the CLI: "
        "exit 0 or 1 with the outputs written); a *clear error* is an AuditkitError whose "
        "message names the file where the input is one (for the CLI: exit 2 and exactly one "
        "line on stderr); a *failure* is any other exception, an unclear message, a CLI exit "
        "3 or a multi-line error; a *hang* ran past the time limit. A *result with a section "
        "failed* is a valid result in which a section caught its own exception and reported "
        "itself `failed` (the audit goes on, as designed); its signature is listed below "
        "for the section's owner.",
        "",
        *rows,
        "",
    ]
    groups = [("failure", "Failures"), ("hang", "Hangs"), ("section_failed", "Sections failed"),
              ("harness_error", "Errors of the generator itself")]  # fmt: skip
    listed = False
    for key, title in groups:
        sigs = sorted(((sig, ss) for sig, ss in failures.items() if sig.startswith(key + ": ")),
                      key=lambda kv: -len(kv[1]))  # fmt: skip
        if sigs:
            listed = True
            text += [f"{title} (count, first seeds, signature):", ""]
            text += [f"- {len(ss)}x (seeds {ss[:3]}): `{sig.split(': ', 1)[1]}`"
                     for sig, ss in sigs[:10]]  # fmt: skip
            text.append("")
    if not listed:
        text.append("No failures, no hangs, no failed sections.")
    text.append("")
    text.append(f"Re-run: `python benchmarks/fuzz.py --cases {args.cases} --seed {args.seed}`.")
    return "\n".join(text)


# ------------------------------------------------------------------------------ issue 18
# The hardening families: each case runs the CLI (or a short Python snippet) in a child process
# with a wall-clock limit, and the child's peak memory (ru_maxrss from wait4) and CPU time are
# recorded. A case fails when it runs past the limit, uses more than LIMIT_MB, uses more than
# LIMIT_S of CPU, exits 3 (or any code it should not), prints a traceback, prints more than one
# line with an exit 2, or its outputs break the family's own check (a mixed set of outputs, a
# hidden character in a card, a forged line in `check`). The time limit is on CPU time (user +
# system of the child), so a machine shared with other work does not fail a case; the wall
# clock only catches hangs (a blocked read uses no CPU), at twice the limit by default.
LIMIT_S, LIMIT_MB = 10.0, 1024
#: Address-space ceiling of each child: a runaway allocation fails there instead of taking the
#: machine down (torch and its libraries need about 2 GB of address space to import).
CHILD_AS_BYTES = 4 * 1024**3
HIDDEN_CHARS = "\x00\x07\x1b\x7f\x85\x9b\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068" \
    "\u2069\u200e\u200f\u061c\u2028\u2029\r"  # fmt: skip
HIDDEN_RE = None  # compiled lazily


def hidden_in(text: str) -> list[str]:
    """Hidden characters in ``text`` (newline and tab aside)."""
    global HIDDEN_RE
    if HIDDEN_RE is None:
        import re

        HIDDEN_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e"
                               "\u2066-\u2069\u200e\u200f\u061c]")  # fmt: skip
    return sorted(set(HIDDEN_RE.findall(text)))


class Child:
    """What one child process did."""

    def __init__(self, code: int | None, wall: float, cpu: float, rss_mb: float, out: str,
                 err: str) -> None:  # fmt: skip
        self.code, self.wall, self.cpu, self.rss_mb = code, wall, cpu, rss_mb
        self.out, self.err = out, err


class Attack:
    """One case of a family: the command(s) to run at once and what must hold afterwards."""

    def __init__(self, family: str, name: str, argvs: list[list[str]], *,
                 check: Callable[[list[Child]], str | None] | None = None,
                 env: dict[str, str] | None = None, codes: tuple[int, ...] = (0, 1, 2),
                 module: bool = True) -> None:  # fmt: skip
        self.family, self.name, self.argvs, self.check = family, name, argvs, check
        self.env, self.codes, self.module = env, codes, module


def _limit_child() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (CHILD_AS_BYTES, CHILD_AS_BYTES))
    os.environ["OMP_NUM_THREADS"] = "1"


def spawn(argv: list[str], env: dict[str, str] | None, module: bool, tmp: Path,
          idx: int) -> tuple[Any, Any, Any, float]:  # fmt: skip
    import subprocess

    cmd = [sys.executable, "-m", "auditkit", *argv] if module else [sys.executable, *argv]
    out = open(tmp / f".stdout{idx}", "w+b")  # noqa: SIM115 - closed by finish()
    err = open(tmp / f".stderr{idx}", "w+b")  # noqa: SIM115
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8",
                **(env or {})}  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=tmp,
                            env=full_env, preexec_fn=_limit_child)  # fmt: skip
    return proc, out, err, time.perf_counter()


def finish(started: list[tuple[Any, Any, Any, float]], timeout: float) -> list[Child]:
    """Wait for the children (wait4: their own peak memory and CPU); kill them at ``timeout``."""
    done: dict[int, Child] = {}
    deadline = time.perf_counter() + timeout
    pending = dict(enumerate(started))
    while pending:
        for i, (proc, out, err, t0) in list(pending.items()):
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            killed = False
            if pid == 0 and time.perf_counter() > deadline:
                proc.kill()
                pid, status, ru = os.wait4(proc.pid, 0)
                killed = True
            if pid == 0:
                continue
            proc.returncode = 0  # reaped here; stop Popen from waiting again
            wall = time.perf_counter() - t0
            out.seek(0)
            err.seek(0)
            text_out = out.read().decode("utf-8", "replace")
            text_err = err.read().decode("utf-8", "replace")
            out.close()
            err.close()
            code = None if killed else (os.waitstatus_to_exitcode(status))
            done[i] = Child(code, wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024,
                            text_out, text_err)  # fmt: skip
            del pending[i]
        if pending:
            time.sleep(0.02)
    return [done[i] for i in range(len(started))]


def run_attack(attack: Attack, tmp: Path, timeout: float) -> tuple[str | None, list[Child]]:
    """Run an attack's commands at once; return (failure text or None, the children)."""
    started = [spawn(a, attack.env, attack.module, tmp, i) for i, a in enumerate(attack.argvs)]
    children = finish(started, timeout)
    for c in children:
        if c.code is None:
            return f"killed after {timeout:.0f} s (a hang or too slow)", children
        if c.cpu > LIMIT_S:
            return f"{c.cpu:.1f} s of CPU (limit {LIMIT_S:.0f} s)", children
        if c.rss_mb > LIMIT_MB:
            return f"{c.rss_mb:,.0f} MB peak memory (limit {LIMIT_MB:,} MB)", children
        if "Traceback (most recent call last)" in c.err:
            last = c.err.strip().splitlines()[-1][:160]
            return f"traceback (exit {c.code}): {last}", children
        if c.code not in attack.codes:
            first = (c.err.strip().splitlines() or [""])[0][:160]
            return f"exit {c.code} (wanted {attack.codes}): {first}", children
        lines = [ln for ln in c.err.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("auditkit: error: ")]
        others = [ln for ln in lines if ln not in errors and not ln.startswith("auditkit: warn")]
        if c.code == 2 and (len(errors) != 1 or others):
            return f"exit 2 with {len(lines)} stderr lines: {c.err[:160]!r}", children
    if attack.check is not None:
        try:
            problem = attack.check(children)
        except Exception as exc:  # noqa: BLE001 - a broken output is the attack's finding
            problem = f"check raised {type(exc).__name__}: {exc}"[:200]
        if problem:
            return problem, children
    return None, children


class CaseRandom(random.Random):
    """The random source of one family case; ``index`` is the case's number in its family."""

    def __init__(self, seed: int, index: int) -> None:
        super().__init__(seed)
        self.index = index


def cycle(rng: random.Random, kinds: list[str]) -> str:
    """The case's kind: every kind in turn (so a few cases cover them all), then at random."""
    index = getattr(rng, "index", None)
    if index is not None and index < len(kinds):
        return kinds[index]
    return rng.choice(kinds)


# ------------------------------------------------------------------------ shared inputs
class Shared:
    """Inputs built once per run: a reference checkpoint, an audit.json, a zip-bomb checkpoint."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._ckpt: Path | None = None
        self._result: Path | None = None
        self._iris: Path | None = None

    def iris_csv(self) -> Path:
        """The iris test split as a CSV (the reference checkpoint's data)."""
        if self._iris is None:
            from auditkit.data import load_dataset

            ds = load_dataset("iris")
            df = ds.test.X.copy()
            df["species"] = np.asarray(ds.schema.class_names, dtype=object)[ds.test.y]
            df["grp"] = np.resize(np.array(["a", "b"], dtype=object), len(df))
            self._iris = self.folder / "iris.csv"
            df.to_csv(self._iris, index=False)
        return self._iris

    def ckpt(self) -> Path:
        if self._ckpt is None:
            self._ckpt = reference_checkpoint()
        return self._ckpt

    def raw_ckpt(self) -> dict[str, Any]:
        import torch

        return torch.load(self.ckpt(), weights_only=True)

    def result(self) -> Path:
        if self._result is None:
            import pandas as pd

            import auditkit
            from auditkit.report import write_outputs

            rng = np.random.default_rng(0)
            n = 400
            y = rng.integers(0, 2, n)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = auditkit.audit_predictions(
                    y, np.where(rng.random(n) < 0.8, y, 1 - y), y_score=rng.random(n),
                    sensitive_features=pd.DataFrame({"g": rng.choice(["a", "b", "c"], n)}),
                    n_boot=10,
                )  # fmt: skip
            self._result = write_outputs(res, self.folder / "base", overwrite=True)["json"]
        return self._result

    def zip_bomb(self) -> Path:
        """The reference checkpoint with one tensor's bytes replaced by 1 GiB of deflated zeros."""
        import zipfile

        path = self.folder / "bomb.ckpt"
        if path.exists():
            return path
        src = zipfile.ZipFile(self.ckpt())
        target = next(i.filename for i in src.infolist() if "/data/" in i.filename)
        with zipfile.ZipFile(path, "w") as dst:
            for info in src.infolist():
                if info.filename == target:
                    zi = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                    zi.compress_type = zipfile.ZIP_DEFLATED
                    with dst.open(zi, "w", force_zip64=True) as fh:
                        block = bytes(1 << 20)
                        for _ in range(1024):
                            fh.write(block)
                else:
                    dst.writestr(info, src.read(info.filename))
        return path


def _log(tmp: Path, name: str, n: int, seed: int, *, groups: list[Any] | None = None,
         y_true: list[Any] | None = None, y_pred: list[Any] | None = None) -> Path:  # fmt: skip
    import pandas as pd

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    df = pd.DataFrame({
        "y": y_true if y_true is not None else y,
        "p": y_pred if y_pred is not None else np.where(rng.random(n) < 0.8, y, 1 - y),
        "g": groups if groups is not None else rng.choice(["a", "b", "c"], n),
    })  # fmt: skip
    path = tmp / name
    df.to_csv(path, index=False)
    return path


def audit_argv(
    log: Path, out: Path, *extra: str, sections: str = "performance,fairness"
) -> list[str]:
    return ["audit", "--predictions", str(log), "--y-true", "y", "--y-pred", "p", "--sensitive",
            "g", "--sections", sections, "--n-boot", "5", "--no-progress", "--out", str(out),
            *extra]  # fmt: skip


# ----------------------------------------------------------------------------- families
def fam_writers(rng: random.Random, tmp: Path, shared: Shared) -> Attack:
    """Two `audit --force` runs into one folder at once: the folder holds one run's set."""
    out = tmp / "out"
    a = _log(tmp, "writer_a.csv", rng.choice([200, 400]), rng.randrange(1000))
    b = _log(tmp, "writer_b.csv", rng.choice([200, 400]), rng.randrange(1000))
    if rng.random() < 0.5:  # an earlier set already there
        import subprocess

        first = audit_argv(a, out, sections="performance")
        subprocess.run([sys.executable, "-m", "auditkit", *first],
                       capture_output=True, timeout=120, check=False)  # fmt: skip

    def check(children: list[Child]) -> str | None:
        if not any(c.code == 0 for c in children):
            return "neither writer succeeded: " + " / ".join(c.err.strip()[:80] for c in children)
        data = json.loads((out / "audit.json").read_text(encoding="utf-8"))
        name = data["data"]["file"]
        other = "writer_b.csv" if name == "writer_a.csv" else "writer_a.csv"
        for card in ("card.html", "card.md"):
            text = (out / card).read_text(encoding="utf-8")
            if name not in text or other in text:
                return f"mixed set: audit.json from {name}, {card} from {other}"
        return None

    return Attack(
        "writers",
        "two --force writers",
        [audit_argv(a, out, "--force"), audit_argv(b, out, "--force")],
        check=check,
    )


def fam_checkpoint(rng: random.Random, tmp: Path, shared: Shared) -> Attack:
    """Malicious checkpoints: claimed widths, stride-0 tensors, zip bombs, FIFOs, /dev/zero."""
    import torch

    kind = cycle(rng, ["width", "stride0", "bomb", "fifo", "devzero", "fifo_predictions"])
    command = rng.choice(["info", "audit"])
    path = tmp / "model.ckpt"
    if kind == "width":
        raw = shared.raw_ckpt()
        width = rng.choice([40_000, 100_000, 10**9])
        for block in (raw["auditkit"]["hparams"], raw.get("hyper_parameters") or {}):
            block["hidden"] = [width, width]
        torch.save(raw, path)
    elif kind == "stride0":
        raw = shared.raw_ckpt()
        raw["auditkit"][rng.choice(["test_metrics", "training", "dataset"])]["x"] = (
            torch.zeros(1).expand(rng.choice([2**28, 2**30])))  # fmt: skip
        torch.save(raw, path)
    elif kind == "bomb":
        path = shared.zip_bomb()
    elif kind in ("fifo", "fifo_predictions"):
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    if kind == "fifo_predictions":
        argv = audit_argv(path, tmp / "out")
    elif command == "info":
        argv = ["info", str(path)]
    else:
        argv = ["audit", str(path), "--data", str(shared.iris_csv()), "--target", "species",
                "--sensitive", "grp", "--n-boot", "2", "--sections", "performance",
                "--no-progress", "--out", str(tmp / "out")]  # fmt: skip
    return Attack("checkpoint", f"{kind} ({argv[0]})", [argv], codes=(2,))


def fam_groups(rng: random.Random, tmp: Path, shared: Shared) -> Attack:
    """Many distinct values in a sensitive column, or one very long group label."""
    kind = cycle(rng, ["many", "long", "many"])
    if kind == "many":
        k = rng.choice([5_000, 20_000, 100_000])
        groups = [f"g{i}" for i in range(k)]
        log = _log(tmp, "groups.csv", k, rng.randrange(1000), groups=groups)
        name = f"{k:,} groups"
    else:
        n = 300
        label = "L" * rng.choice([100_000, 1_000_000])
        groups = [label if i % 2 else "short" for i in range(n)]
        log = _log(tmp, "long.csv", n, rng.randrange(1000), groups=groups)
        name = f"a {len(label):,}-character label"
    return Attack("groups", name, [audit_argv(log, tmp / "out")])


def _hidden_text(rng: random.Random, base: str) -> str:
    chars = rng.sample(HIDDEN_CHARS, rng.randint(1, 4))
    pos = rng.choice(["end", "start", "middle"])
    s = "".join(chars)
    return {"end": base + s, "start": s + base, "middle": base[:1] + s + base[1:]}[pos]


def fam_strings(rng: random.Random, tmp: Path, shared: Shared) -> Attack:
    """Bidi and control characters in group names, labels, card-info and policy ids."""
    kind = cycle(rng, ["audit", "check", "info"])
    if kind == "info":
        import torch

        raw = shared.raw_ckpt()
        raw["auditkit"]["dataset"]["name"] = _hidden_text(rng, "iris")
        raw["auditkit"]["test_metrics"][_hidden_text(rng, "acc")] = 0.5
        path = tmp / "evil.ckpt"
        torch.save(raw, path)

        def check_info(children: list[Child]) -> str | None:
            bad = hidden_in(children[0].out)
            return f"hidden characters printed by info: {bad}" if bad else None

        return Attack("strings", "checkpoint metadata (info)", [["info", str(path)]],
                      check=check_info, codes=(0,))  # fmt: skip
    n = 300
    names = [_hidden_text(rng, "men"), _hidden_text(rng, "women")]
    groups = [names[i % 2] for i in range(n)]
    labels_ = [_hidden_text(rng, "no"), _hidden_text(rng, "yes")] if rng.random() < 0.5 else None
    r = np.random.default_rng(rng.randrange(1000))
    y = r.integers(0, 2, n)
    yt = [labels_[v] for v in y] if labels_ else None
    pv = np.where(r.random(n) < 0.8, y, 1 - y)
    yp = [labels_[v] for v in pv] if labels_ else None
    log = _log(tmp, "hidden.csv", n, 0, groups=groups, y_true=yt, y_pred=yp)
    card = tmp / "card.yaml"
    card.write_text(json.dumps({"overview": _hidden_text(rng, "overview"),
                                "limitations": [_hidden_text(rng, "limits")]}),
                    encoding="utf-8")  # fmt: skip
    policy = tmp / "policy.toml"
    ids = [_hidden_text(rng, "rule\nFAIL forged"), _hidden_text(rng, "gap")]
    policy.write_text(
        f'[[rule]]\nid = {json.dumps(ids[0])}\nsection = "performance"\nmetric = "accuracy"\n'
        'op = ">="\nthreshold = 0.0\n'
        f'[[rule]]\nid = {json.dumps(ids[1])}\nsection = "fairness"\n'
        'metric = "demographic_parity_difference"\nfeature = "g"\nop = "<="\nthreshold = -1\n',
        encoding="utf-8",
    )
    out = tmp / "out"
    if kind == "audit":
        argv = audit_argv(log, out, "--card-info", str(card), "--policy", str(policy))
    else:
        argv = ["check", str(shared.result()), "--policy", str(policy)]

    def check(children: list[Child]) -> str | None:
        c = children[0]
        for stream, text in (("stdout", c.out), ("stderr", c.err)):
            if hidden_in(text):
                return f"hidden characters on {stream}: {hidden_in(text)}"
        if kind == "check" and len(c.out.strip().splitlines()) != 3:
            return f"check printed {len(c.out.strip().splitlines())} lines for 2 rules"
        if kind == "audit" and c.code in (0, 1):
            for card_name in ("card.html", "card.md"):
                bad = hidden_in((out / card_name).read_text(encoding="utf-8"))
                if bad:
                    return f"hidden characters in {card_name}: {bad}"
        return None

    return Attack("strings", f"{kind}", [argv], check=check)


def fam_labels(rng: random.Random, tmp: Path, shared: Shared) -> Attack:
    """y_true and y_pred whose label sets differ in spelling or case, or share no value."""
    n = 200
    r = np.random.default_rng(rng.randrange(1000))
    y = r.integers(0, 2, n)
    p = np.where(r.random(n) < 0.8, y, 1 - y)
    pairs = {
        "yes/no vs Yes/No": (["no", "yes"], ["No", "Yes"]),
        "yes/no vs ' yes'/' no'": (["no", "yes"], [" no", " yes"]),
        "0/1 vs a/b": ([0, 1], ["a", "b"]),
        "true/false vs TRUE/FALSE": (["false", "true"], ["FALSE", "TRUE"]),
    }
    name = rng.choice(sorted(pairs))
    lt, lp = pairs[name]
    log = _log(tmp, "labels.csv", n, 0, y_true=[lt[v] for v in y], y_pred=[lp[v] for v in p])
    # the CSV reader reads true/TRUE/True (and false...) as the same booleans, so that pair
    # is one label set and a correct audit (exit 0) is the right answer; the others must be 2
    codes = (0,) if name.startswith("true/false") else (2,)
    return Attack("labels", name, [audit_argv(log, tmp / "out")], codes=codes)


def fam_yaml(rng: random.Random, tmp: Path, shared: Shared) -> Attack:
    """Card-info YAML: typing, duplicate keys, aliases, size, depth."""
    kind = cycle(rng, ["typing", "duplicate", "alias", "size", "depth"])
    card = tmp / "card.yaml"
    out = tmp / "cards"
    codes: tuple[int, ...] = (2,)
    check = None
    if kind == "typing":
        value = rng.choice(["2.10", "010", "1e3", "0x1F", "2024-01-01", "yes", "1_000", ".inf"])
        card.write_text(f"version: {value}\n", encoding="utf-8")
        codes = (0,)

        def check(children: list[Child]) -> str | None:  # noqa: F811
            text = (out / "card.md").read_text(encoding="utf-8")
            shown = f"| Version | {value} |" in text and f"**Version:** {value}\n" in text
            return None if shown else f"version {value!r} not shown as written"
    elif kind == "duplicate":
        card.write_text("overview: first\nlimitations: x\noverview: second\n", encoding="utf-8")
    elif kind == "alias":
        lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
        card.write_text("\n".join(lines) + "\noverview: *a8\n", encoding="utf-8")
    elif kind == "size":
        with open(card, "wb") as fh:
            if rng.random() < 0.5:
                fh.truncate(rng.choice([2, 100]) * 1_000_000)  # sparse
            else:
                fh.write(b"overview: " + b"x" * 2_000_000 + b"\n")
    else:
        d = rng.choice([1_000, 100_000])
        card.write_text("overview: " + "[" * d + "]" * d + "\n", encoding="utf-8")
    argv = ["render", str(shared.result()), "--card-info", str(card), "--out", str(out)]
    return Attack("yaml", kind, [argv], codes=codes, check=check)


def fam_toml(rng: random.Random, tmp: Path, shared: Shared) -> Attack:
    """Policy TOML: deep arrays, inline tables or dotted keys, and size."""
    kind = cycle(rng, ["arrays", "tables", "dotted", "size"])
    rule = '[[rule]]\nsection = "performance"\nmetric = "accuracy"\nop = ">="\nthreshold = 0.5\n'
    d = rng.choice([100, 10_000, 200_000])
    text = {
        "arrays": rule + "feature = " + "[" * d + "]" * d + "\n",
        "tables": rule + "feature = " + "{a = " * d + "1" + "}" * d + "\n",
        "dotted": rule + "feature." + ".".join("k" for _ in range(d)) + " = 1\n",
        "size": rule + 'description = "' + "x" * 2_000_000 + '"\n',
    }[kind]
    policy = tmp / "policy.toml"
    policy.write_text(text, encoding="utf-8")
    argv = ["check", str(shared.result()), "--policy", str(policy)]
    name = f"{kind} ({d:,})" if kind != "size" else "size (2 MB)"
    return Attack("toml", name, [argv], codes=(2,))


def fam_json(rng: random.Random, tmp: Path, shared: Shared) -> Attack:
    """A lone surrogate in audit.json read by render, check and diff."""
    data = json.loads(shared.result().read_text(encoding="utf-8"))
    place = cycle(rng, ["model", "metric group", "key", "card_info"])
    bad_char = rng.choice(["\ud800", "\udfff", "\udc00x"])
    if place == "model":
        data["model"]["name"] = "m" + bad_char
    elif place == "metric group":
        m = next(m for m in data["metrics"] if m.get("group"))
        m["group"] = [m["group"][0] + bad_char]
    elif place == "key":
        data["model"]["k" + bad_char] = 1
    else:
        data["card_info"] = {"overview": bad_char}
    bad = tmp / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    policy = tmp / "p.toml"
    policy.write_text('[[rule]]\nsection = "performance"\nmetric = "accuracy"\nop = ">="\n'
                      "threshold = 0.5\n", encoding="utf-8")  # fmt: skip
    command = rng.choice(["render", "check", "diff"])
    argv = {
        "render": ["render", str(bad), "--out", str(tmp / "cards")],
        "check": ["check", str(bad), "--policy", str(policy)],
        "diff": ["diff", str(shared.result()), str(bad)],
    }[command]
    return Attack("json", f"{place} ({command})", [argv], codes=(2,))


def fam_epoch(rng: random.Random, tmp: Path, shared: Shared) -> Attack:
    """SOURCE_DATE_EPOCH out of range (or not a number)."""
    value = rng.choice(["99999999999999", "-99999999999999", "1" + "0" * 40, "253402300800",
                        "1e9", "9" * 5000, "-62135596801"])  # fmt: skip
    command = rng.choice(["audit", "audit", "train"])
    if command == "audit":
        argv = audit_argv(_log(tmp, "e.csv", 100, 0), tmp / "out", sections="performance")
    else:
        argv = ["train", "iris-mlp", "--max-epochs", "1", "--out", str(tmp / "m.ckpt")]
    return Attack("epoch", f"{value[:20]} ({command})", [argv], env={"SOURCE_DATE_EPOCH": value},
                  codes=(2,))  # fmt: skip


FAMILIES: dict[str, Callable[[random.Random, Path, Shared], Attack]] = {
    "writers": fam_writers,
    "checkpoint": fam_checkpoint,
    "groups": fam_groups,
    "strings": fam_strings,
    "labels": fam_labels,
    "yaml": fam_yaml,
    "toml": fam_toml,
    "json": fam_json,
    "epoch": fam_epoch,
}


def run_families(per_family: int, seed: int, workers: int, timeout: float,
                 only: str | None = None) -> tuple[dict[str, dict[str, Any]], float]:  # fmt: skip
    """Run ``per_family`` cases of every family; return per-family figures and the wall time."""
    from concurrent.futures import ThreadPoolExecutor

    t0 = time.perf_counter()
    shared_dir = Path(tempfile.mkdtemp(prefix="akfuzz-shared-"))
    shared = Shared(shared_dir)
    shared.result()  # built before the threads start
    names = [f for f in FAMILIES if only is None or f in only.split(",")]
    if "checkpoint" in names or "strings" in names:
        shared.ckpt()
    if "checkpoint" in names:
        shared.zip_bomb()
        shared.iris_csv()
    jobs = [(f, seed + i) for f in names for i in range(per_family)]

    def one(job: tuple[str, int]) -> tuple[str, str, str | None, list[Child]]:
        family, s = job
        rng = CaseRandom(s * 100 + list(FAMILIES).index(family), s - seed)
        with tempfile.TemporaryDirectory(prefix=f"akfuzz-{family}-") as d:
            try:
                attack = FAMILIES[family](rng, Path(d), shared)
            except Exception as exc:  # noqa: BLE001 - a bug of this script
                return family, f"seed {s}", "generator: " + signature(exc), []
            problem, children = run_attack(attack, Path(d), timeout)
            return family, attack.name, problem, children

    stats: dict[str, dict[str, Any]] = {
        f: {"cases": 0, "failures": 0, "wall": 0.0, "cpu": 0.0, "rss": 0.0, "problems": []}
        for f in names
    }
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for family, name, problem, children in pool.map(one, jobs):
            st = stats[family]
            st["cases"] += 1
            for c in children:
                st["wall"] = max(st["wall"], c.wall)
                st["cpu"] = max(st["cpu"], c.cpu)
                st["rss"] = max(st["rss"], c.rss_mb)
            if problem is not None:
                st["failures"] += 1
                st["problems"].append(f"{name}: {problem}")
            print(f"  {family:<10} {name:<36} {'FAIL ' + problem if problem else 'ok'}"[:220],
                  file=sys.stderr, flush=True)  # fmt: skip
    import shutil

    shutil.rmtree(shared_dir, ignore_errors=True)
    return stats, time.perf_counter() - t0


def family_report(stats: dict[str, dict[str, Any]], wall: float, timeout: float) -> str:
    """Markdown table of the issue-18 families (one row per family)."""
    rows = ["| family | cases | failures | slowest (wall s) | most CPU (s) | peak memory (MB) |",
            "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for f, st in stats.items():
        rows.append(f"| `{f}` | {st['cases']} | {st['failures']} | {st['wall']:.1f} | "
                    f"{st['cpu']:.1f} | {st['rss']:,.0f} |")  # fmt: skip
    text = [
        "",
        f"Issue-18 families: each case in a child process, killed after {timeout:.0f} s of wall "
        f"time (a hang); a failure is a kill, more than {LIMIT_S:.0f} s of CPU, more than "
        f"{LIMIT_MB:,} MB peak memory (ru_maxrss), a traceback, an exit code outside the "
        "expected ones (never 3), a multi-line exit 2, or a broken output. "
        f"{wall:.0f} s wall time.",
        "",
        *rows,
        "",
    ]
    for f, st in stats.items():
        seen: dict[str, int] = collections.Counter(st["problems"])
        for p, k in list(seen.items())[:6]:
            text.append(f"- `{f}` {k}x: {p[:200]}")
    return "\n".join(text)


if __name__ == "__main__":
    raise SystemExit(main())
