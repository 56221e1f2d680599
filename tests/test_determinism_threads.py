"""Byte-identical JSON whatever the thread count: 1 and 2 torch/BLAS threads, run twice.

Each configuration runs in its own interpreter (torch's thread pool is set once per process),
with ``SOURCE_DATE_EPOCH`` set. The audits involve torch (a small module through
``auditkit.audit`` with the performance, fairness and explainability sections: Captum's
integrated gradients) and scikit-learn (a logistic regression, with the stability section
refitting it on folds). The float policy that makes this hold is documented in the README.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import torch
    torch.set_num_threads(int(sys.argv[1]))
    import numpy as np
    import pandas as pd
    import auditkit
    from auditkit.report import to_json

    def torch_audit():
        rng = np.random.default_rng(0)
        n, d = 400, 6
        X = pd.DataFrame(rng.normal(size=(n, d)).astype(np.float32),
                         columns=[f"f{i}" for i in range(d)])
        g = rng.choice(["a", "b", "c"], n)
        y = (X["f0"] + 0.5 * X["f1"] + 0.3 * (g == "a") > 0).astype(int)
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(d, 32), torch.nn.Tanh(),
                                  torch.nn.Linear(32, 2))
        return auditkit.audit(net, X, y, sensitive_features={"g": g}, n_boot=50,
                              sections=["performance", "fairness", "explainability"])

    def sklearn_audit():
        from sklearn.linear_model import LogisticRegression
        rng = np.random.default_rng(1)
        n = 500
        X = rng.normal(size=(n, 4))
        sex = rng.choice(["F", "M"], n)
        y = (X[:, 0] - 0.4 * (sex == "F") + rng.normal(size=n) > 0).astype(int)
        model = LogisticRegression().fit(X[:300], y[:300])
        return auditkit.audit(model, X[300:], y[300:], sensitive_features=sex[300:],
                              train=(X[:300], y[:300]), n_boot=50, options={"cv": 3},
                              sections=["performance", "fairness", "stability"])

    out = {}
    for name, make in (("torch", torch_audit), ("sklearn", sklearn_audit)):
        first, second = to_json(make()), to_json(make())
        out[name] = [first, second]
        out[name + "_statuses"] = [[s.name, s.status, s.reason] for s in make().sections]
    out["threads"] = torch.get_num_threads()
    json.dump(out, sys.stdout)
    """
)


@pytest.fixture(scope="module")
def runs() -> dict[int, dict[str, Any]]:
    """Run the audits in two fresh interpreters at once: 1 and 2 threads."""
    procs = {}
    for threads in (1, 2):
        env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000",
               "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}  # fmt: skip
        procs[threads] = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(threads)], env=env, cwd=Path(__file__).parent,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    out = {}
    for threads, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-3000:]
        out[threads] = json.loads(stdout)
    return out


@pytest.mark.parametrize("kind", ["torch", "sklearn"])
def test_sections_ran(runs: dict[int, dict[str, Any]], kind: str) -> None:
    statuses = runs[1][f"{kind}_statuses"]
    assert [s[0] for s in statuses] == (
        ["performance", "fairness", "explainability"] if kind == "torch"
        else ["performance", "fairness", "stability"]
    )  # fmt: skip
    assert all(status == "ok" for _, status, _ in statuses), statuses
    assert runs[1]["threads"] == 1 and runs[2]["threads"] == 2


@pytest.mark.parametrize("kind", ["torch", "sklearn"])
def test_same_audit_twice_is_byte_identical(runs: dict[int, dict[str, Any]], kind: str) -> None:
    for threads in (1, 2):
        first, second = runs[threads][kind]
        assert first == second


@pytest.mark.parametrize("kind", ["torch", "sklearn"])
def test_one_and_two_threads_give_byte_identical_json(
    runs: dict[int, dict[str, Any]], kind: str
) -> None:
    one, two = runs[1][kind][0], runs[2][kind][0]
    if one != two:  # show the first differing line
        diff = next(
            (a, b) for a, b in zip(one.splitlines(), two.splitlines(), strict=False) if a != b
        )
        pytest.fail(f"1 vs 2 threads differ: {diff}")
    assert '"created_at": "2023-11-14T22:13:20Z"' in one


def _floats(node: Any) -> list[float]:
    if isinstance(node, float):
        return [node]
    if isinstance(node, dict):
        return [f for v in node.values() for f in _floats(v)]
    if isinstance(node, list):
        return [f for v in node for f in _floats(v)]
    return []


@pytest.mark.parametrize("kind", ["torch", "sklearn"])
def test_floats_carry_at_most_ten_significant_digits(
    runs: dict[int, dict[str, Any]], kind: str
) -> None:
    """The README's float policy: every float in the JSON is rounded to 10 significant digits."""
    floats = _floats(json.loads(runs[1][kind][0]))
    assert len(floats) > 100
    for x in floats:
        assert math.isfinite(x)
        assert float(f"{x:.10g}") == x, x
