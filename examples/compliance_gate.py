"""A compliance gate: audit a log of decisions against a policy; exit 0 (pass) or 1 (fail).

    python examples/compliance_gate.py [--log LOG.parquet|LOG.csv] [--out DIR]

The log needs the columns ``income`` (what happened), ``approved`` (the decision), ``score``
(the model's score) and the sensitive columns ``sex`` and ``race``. Without a log, one is made
from the bundled Adult data with a simple model, so the script runs anywhere. The outputs go
to DIR (default ``gate-output``): audit.json, card.html, card.md and policy-junit.xml for
the CI system. The same gate on the command line:

    auditkit audit --predictions log.parquet --y-true income --y-pred approved \
        --y-score score --sensitive sex,race --policy examples/policy.toml --out gate-output
    auditkit check gate-output/audit.json --policy examples/policy.toml --junit policy.xml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import auditkit
from auditkit.policy import junit_xml
from auditkit.report import write_outputs

HERE = Path(__file__).resolve().parent


def make_log(path: Path) -> Path:
    """Write a decision log: a logistic regression's decisions on the Adult test split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from auditkit.data import load_dataset

    ds = load_dataset("adult")
    cols = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
    model = make_pipeline(StandardScaler(), LogisticRegression())
    model.fit(ds.train.X[cols], ds.train.y)
    score = model.predict_proba(ds.test.X[cols])[:, 1]
    names = np.asarray(ds.schema.class_names, dtype=object)
    log = pd.DataFrame(
        {
            "sex": ds.test.X["sex"].to_numpy(),
            "race": ds.test.X["race"].to_numpy(),
            "income": names[ds.test.y],
            "approved": np.where(score >= 0.5, names[1], names[0]),
            "score": score,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    log.to_parquet(path, index=False)
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, help="a .parquet or .csv log of decisions")
    parser.add_argument("--out", type=Path, default=Path("gate-output"), help="output folder")
    args = parser.parse_args(argv)
    out = args.out
    log_path = args.log if args.log is not None else make_log(out / "decisions.parquet")
    log = pd.read_parquet(log_path) if log_path.suffix == ".parquet" else pd.read_csv(log_path)
    policy = auditkit.Policy.from_toml(HERE / "policy.toml")

    result = auditkit.audit_predictions(
        data=log,
        y_true="income",
        y_pred="approved",
        y_score="score",
        sensitive_features=["sex", "race"],
        pos_label=">50K",
        policy=policy,
        n_boot=500,
        random_state=0,
    )
    paths = write_outputs(result, out)
    verdict = auditkit.check(result, policy)
    (out / "policy-junit.xml").write_text(junit_xml(verdict), encoding="utf-8")

    for c in verdict.checks:
        word = "PASS" if c.passed else ("WARN" if c.severity == "warning" else "FAIL")
        print(f"{word} {c.id}: {c.message}")
    print(verdict.summary())
    print(f"Card: {paths['html'].resolve()}")
    return 0 if verdict.passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
