"""Audit a scikit-learn pipeline trained on the bundled Adult census data, and write its card.

    python examples/audit_sklearn_model.py [OUT_DIR]

Trains a one-hot + logistic-regression pipeline on the training split, audits it on the test
split with ``sex`` and ``race`` as sensitive features (every registered section runs; those
that need something a scikit-learn model lacks say "skipped" and why), and writes
``audit.json``, ``card.html`` and ``card.md`` to OUT_DIR (default ``sklearn-audit``).
Runs in well under a minute on a laptop CPU.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import auditkit
from auditkit.data import load_dataset
from auditkit.report import write_outputs


def main(out: Path) -> int:
    ds = load_dataset("adult")
    schema = ds.schema
    numeric = [f.name for f in schema.features if f.kind == "numeric"]
    categorical = [f.name for f in schema.features if f.kind == "categorical"]
    model = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), numeric),
                ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20), categorical),
            ]
        ),
        LogisticRegression(max_iter=2000),
    )
    # Labels as class names ("<=50K", ">50K") so the card speaks the data's language.
    names = np.asarray(schema.class_names, dtype=object)
    y_train, y_test = names[ds.train.y], names[ds.test.y]
    model.fit(ds.train.X, y_train)

    result = auditkit.audit(
        model,
        ds.test.X,
        y_test,
        sensitive_features=["sex", "race"],
        train=(ds.train.X, y_train),
        pos_label=">50K",
        n_boot=500,
        random_state=0,
        show_progress=True,
    )
    paths = write_outputs(result, out)
    for s in result.sections:
        print(f"{s.name:15s} {s.status}" + (f" ({s.reason})" if s.reason else ""))
    for f in result.findings:
        print(f"- [{f.severity}] {f.text}")
    print(f"Card: {paths['html'].resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("sklearn-audit")))
