"""The full audit's wall time for each model kind auditkit opens, on the CPU.

For each kind, a small model is built offline (training is not timed), then
``auditkit.audit(model, X, y, sensitive_features=[...], n_boot=200)`` runs with the default
sections and is timed:

* auditkit checkpoint: ``adult-mlp`` trained with ``auditkit.train`` for 2 epochs on 3000 rows,
  opened with ``auditkit.load_checkpoint``; 1000 rows of the Adult test split, ``sex``;
* scikit-learn pipeline (in memory): scaler + logistic regression on a synthetic credit table;
* the same pipeline saved with skops, opened with ``adapters.sklearn_files.load_skops``;
* its ONNX export (skl2onnx), opened with ``adapters.onnx.load_onnx`` (perturbation
  attributions through onnxruntime);
* a Hugging Face text classifier (2-layer tiny BERT from ``examples/audit_hf_text_classifier.py``,
  saved with safetensors), opened with ``adapters.hf.load_hf``; 300 reviews, ``group``;
* a user's LightningModule checkpoint (``examples/audit_user_lightning_module.py``), opened with
  ``adapters.lightning.load_user_lightning``.

The credit kinds audit 1000 rows with ``sex`` and get ``train=`` (2000 rows) so privacy runs
where the kind allows it. Writes the ``model_kinds`` section of benchmarks/RESULTS.md.

    taskset -c 0,1 python benchmarks/bench_model_kinds.py [--no-write]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import machine, write_section  # noqa: E402

import auditkit  # noqa: E402

warnings.filterwarnings("ignore")


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _credit() -> tuple[Any, Any, Any, list[str]]:
    ex = _example("audit_user_lightning_module")
    return ex, ex.credit_table(2000, seed=0), ex.credit_table(1000, seed=1), ex.FEATURES


def kind_checkpoint(tmp: Path) -> tuple[Any, Any, Any, dict[str, Any]]:
    from auditkit.data._datasets import load_dataset

    ckpt = auditkit.train(
        "adult-mlp", out=tmp / "adult.ckpt", max_epochs=2, limit_train_rows=3000, seed=0
    )
    test = load_dataset("adult").test
    return auditkit.load_checkpoint(ckpt), test.X.iloc[:1000], test.y[:1000], {}


def _pipeline(features: list[str], train: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pre = ColumnTransformer([("num", StandardScaler(), features)])
    return make_pipeline(pre, LogisticRegression(max_iter=500)).fit(*train)


def kind_sklearn(tmp: Path) -> tuple[Any, Any, Any, dict[str, Any]]:
    _ex, train, test, feats = _credit()
    return _pipeline(feats, train), test[0], test[1], {"train": train}


def kind_skops(tmp: Path) -> tuple[Any, Any, Any, dict[str, Any]]:
    import skops.io as sio

    from auditkit.adapters.sklearn_files import load_skops

    _ex, train, test, feats = _credit()
    f = tmp / "credit.skops"
    sio.dump(_pipeline(feats, train), f)
    return load_skops(f), test[0], test[1], {"train": train}


def kind_onnx(tmp: Path) -> tuple[Any, Any, Any, dict[str, Any]]:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    from auditkit.adapters.onnx import load_onnx

    _ex, train, test, feats = _credit()
    est = LogisticRegression(max_iter=500).fit(train[0][feats].to_numpy(np.float32), train[1])
    onx = convert_sklearn(
        est, initial_types=[("x", FloatTensorType([None, len(feats)]))], target_opset=17
    )
    f = tmp / "credit.onnx"
    f.write_bytes(onx.SerializeToString())
    return load_onnx(f, features=feats), test[0], test[1], {"train": train}


def kind_hf(tmp: Path) -> tuple[Any, Any, Any, dict[str, Any]]:
    from auditkit.adapters.hf import load_hf

    ex = _example("audit_hf_text_classifier")
    folder = tmp / "tiny-bert"
    ex.build_model(folder)
    test = ex.reviews(300, seed=2)
    return (
        load_hf(folder, text_column="text"),
        test[["text", "group"]],
        test["label"].to_numpy(),
        {},
    )


def kind_lightning(tmp: Path) -> tuple[Any, Any, Any, dict[str, Any]]:
    import pytorch_lightning as pl
    import torch

    from auditkit.adapters.lightning import import_model_class, load_user_lightning

    ex, train, test, feats = _credit()
    pl.seed_everything(0, verbose=False)
    src = tmp / "credit_model.py"
    src.write_text(ex.MODULE)
    net_cls = import_model_class(f"{src}:CreditNet")
    data = torch.utils.data.TensorDataset(
        torch.tensor(train[0][feats].to_numpy(np.float32)), torch.tensor(train[1])
    )
    trainer = pl.Trainer(
        max_epochs=5, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", devices=1, default_root_dir=tmp,
    )  # fmt: skip
    trainer.fit(net_cls(), torch.utils.data.DataLoader(data, batch_size=64, shuffle=True))
    trainer.save_checkpoint(tmp / "credit.ckpt")
    model = load_user_lightning(tmp / "credit.ckpt", f"{src}:CreditNet", features=feats)
    return model, test[0], test[1], {"train": train}


KINDS: dict[str, tuple[str, Callable[[Path], tuple[Any, Any, Any, dict[str, Any]]], str]] = {
    "checkpoint": ("auditkit checkpoint (adult-mlp, 2 epochs)", kind_checkpoint, "sex"),
    "sklearn": ("scikit-learn pipeline (in memory)", kind_sklearn, "sex"),
    "skops": ("scikit-learn pipeline, skops file", kind_skops, "sex"),
    "onnx": ("ONNX export (skl2onnx, onnxruntime)", kind_onnx, "sex"),
    "hf": ("Hugging Face text (tiny BERT, safetensors)", kind_hf, "group"),
    "lightning": ("user LightningModule checkpoint", kind_lightning, "sex"),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset")
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    for key in args.kinds.split(","):
        label, make, sensitive = KINDS[key]
        with tempfile.TemporaryDirectory() as d:
            try:
                model, X, y, extra = make(Path(d))
            except Exception as exc:  # noqa: BLE001 - a kind that cannot be built is reported
                rows.append(f"| {label} | | | | not run: {type(exc).__name__}: {exc} |")
                print(rows[-1], flush=True)
                continue
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            res = auditkit.audit(
                model, X, y, sensitive_features=[sensitive], n_boot=args.n_boot, random_state=0,
                **extra,
            )  # fmt: skip
            dt = time.perf_counter() - t0
        status = ", ".join(f"{s.name} {s.status}" for s in res.sections)
        rows.append(f"| {label} | {len(X)} | {dt:.1f} | {load0:.1f} | {status} |")
        print(rows[-1], flush=True)
    md = (
        f"{machine()}\n\n"
        f"`auditkit.audit(model, X, y, sensitive_features=[...], n_boot={args.n_boot})`, default "
        "sections, building and training the model not timed; load = 1-minute load average "
        "when the audit started (the 2 cores are shared).\n\n"
        "| kind | rows | audit wall time (s) | load | sections |\n"
        "| --- | ---: | ---: | ---: | --- |\n" + "\n".join(rows) + "\n\n"
        "The kinds run one after another in one process: the first audit pays the one-time "
        "imports and warm-up (the Hugging Face audit run first took 1.8 s instead of 0.4 s). "
        "Privacy is skipped where no `train=` is given (the checkpoint and Hugging Face rows: "
        "the attack needs training rows).\n"
    )
    print(md)
    if not args.no_write:
        write_section("model_kinds", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
