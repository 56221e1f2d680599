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

Usage::

    python benchmarks/fuzz.py                 # 10,000 cases, 2 workers, writes RESULTS.md
    python benchmarks/fuzz.py --cases 500 --no-write --show 20

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
        return CliOutcome(code, err.getvalue())

    return Case("cli_" + sub, run)


CKPT: dict[str, Path] = {}


def reference_checkpoint() -> Path:
    """A 1-epoch iris-mlp checkpoint, trained once before the workers start."""
    if "iris" not in CKPT:
        from auditkit.training import train

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
        return CliOutcome(code, err.getvalue())

    return Case("cli_checkpoint", run)


class CliOutcome:
    def __init__(self, code: int, stderr: str) -> None:
        self.code = code
        self.stderr = stderr


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
    import auditkit  # noqa: F401 - warm the imports once per worker
    import auditkit.audit  # noqa: F401


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
    args = ap.parse_args(argv)

    seeds = range(args.seed, args.seed + args.cases)
    t0 = time.perf_counter()
    counts: collections.Counter[str] = collections.Counter()
    by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    failures: dict[str, list[int]] = collections.defaultdict(list)
    slowest = (0.0, -1)
    tasks = [(s, args.timeout) for s in seeds]
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
    if not args.no_write:
        from _results import machine, write_section

        write_section("fuzz", report(args, counts, by_kind, failures, wall, slowest, machine()))
    bad = counts["failure"] + counts["hang"] + counts["harness_error"]
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


if __name__ == "__main__":
    raise SystemExit(main())
