"""Train the regression reference model ``adult-hours`` and compare it with simple baselines.

Usage: ``python benchmarks/bench_regression_model.py [--threads N] [--audit] [--write]``

``auditkit.train("adult-hours")`` with default settings (seed 0; the GPU when there is one),
then on ``load_dataset("adult-hours").test``: the test MAE, RMSE and R² of the checkpoint
against the training mean (R² 0) and scikit-learn's ``Ridge`` and
``HistGradientBoostingRegressor`` on the same inputs (one-hot categoricals), with the training
wall time, epochs and hardware. ``--audit`` also times ``auditkit.audit`` of the checkpoint
(every section; needs the inputs stage's regression path). ``--write`` puts the table into the
``regression_model`` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import machine, write_section  # noqa: E402

import auditkit  # noqa: E402
from auditkit.data import load_dataset  # noqa: E402


def scores(y: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    return (
        float(mean_absolute_error(y, pred)),
        float(root_mean_squared_error(y, pred)),
        float(r2_score(y, pred)),
    )


def baselines(ds: object) -> dict[str, tuple[float, float, float]]:
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    tr, te = ds.train, ds.test  # type: ignore[attr-defined]
    import pandas as pd

    cats = [c for c in tr.X.columns if not pd.api.types.is_numeric_dtype(tr.X[c])]
    nums = [c for c in tr.X.columns if c not in cats]
    out = {"training mean": scores(te.y, np.full(len(te.y), tr.y.mean()))}
    for name, est in (
        ("scikit-learn Ridge", Ridge()),
        ("scikit-learn HistGradientBoosting", HistGradientBoostingRegressor(random_state=0)),
    ):
        pre = make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore", sparse_output=False), cats),
            (StandardScaler(), nums),
        )
        pipe = make_pipeline(pre, est).fit(tr.X, tr.y)
        out[name] = scores(te.y, pipe.predict(te.X))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--audit", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    ds = load_dataset("adult-hours")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "adult-hours.ckpt"
        t0 = time.perf_counter()
        auditkit.train("adult-hours", out=path, num_threads=args.threads)
        total = time.perf_counter() - t0
        model = auditkit.load_checkpoint(path)
        mae, rmse, r2 = scores(ds.test.y, model.predict_values(ds.test.X))
        meta = model.meta
        audit_s = None
        if args.audit:
            t1 = time.perf_counter()
            auditkit.audit(model)
            audit_s = time.perf_counter() - t1
    hw = meta["hardware"]
    lines = [
        "## Regression reference model (adult-hours)",
        "",
        '`python benchmarks/bench_regression_model.py`: `auditkit.train("adult-hours")` with '
        'default settings (seed 0), scored on `load_dataset("adult-hours").test` (16,281 '
        "rows; target hours-per-week).",
        "",
        "| model | test MAE (hours) | test RMSE (hours) | test R² |",
        "| --- | ---: | ---: | ---: |",
        f"| adult-hours (auditkit MLP) | {mae:.3f} | {rmse:.3f} | {r2:.4f} |",
    ]
    for name, (a, b, c) in baselines(ds).items():
        lines.append(f"| {name} | {a:.3f} | {b:.3f} | {c:.4f} |")
    tr = meta["training"]
    lines += [
        "",
        f"Training: {tr['epochs_run']} epochs (best {tr['best_epoch']}), "
        f"{meta['wall_time_s']:.1f} s training wall time ({total:.1f} s with data loading and "
        f"the test scoring), {hw['torch_threads']} torch threads, accelerator "
        f"{hw['accelerator']}" + (f", GPU {hw['gpu']}" if hw.get("gpu") else ", no GPU") + ".",
    ]
    if audit_s is not None:
        lines.append(f"`auditkit.audit` of the checkpoint (every section): {audit_s:.1f} s.")
    lines.append(f"Machine: {machine()}.")
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("regression_model", text)


if __name__ == "__main__":
    main()
