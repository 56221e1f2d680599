"""The full audit's wall time for each model kind, as users run it: ``auditkit audit MODEL ...``.

Each kind is built offline into a temporary folder (building and training are not timed), with
its evaluation and training rows written as files; then the command a user types is run in a
fresh process and timed from start to exit (interpreter start, imports, loading the model,
every default section with the default 1000 bootstrap resamples, writing the three files):

* auditkit checkpoint: ``adult-mlp`` from ``auditkit train`` (2 epochs), audited on its own
  dataset (``auditkit audit adult.ckpt``: the Adult test split, 16,281 rows, and the training
  rows its weights were fitted on);
* scikit-learn pipeline saved with skops: one-hot encoding, scaling and a logistic regression
  fitted on the Adult training split (32,561 rows), ``--data adult_test.csv --train-data
  adult_train.csv --sensitive sex,race``;
* the same pipeline pickled with joblib (``--allow-pickle``);
* the same pipeline exported to ONNX by skl2onnx (one input per column: strings and integers);
* a user's LightningModule (an MLP over Adult's six numeric columns, trained for 3 epochs with
  a Lightning ``Trainer``), ``--model-class net.py:AdultNet``;
* a Hugging Face text classifier of BERT-small size (4 layers, hidden 512; random weights from
  a ``BertConfig``, saved with safetensors with its WordPiece tokenizer), 500 evaluation and
  1000 training texts of 20-120 words, ``--text-column text --sensitive group``.

Each command gets ``--timings`` (each section's ``duration_s`` in ``audit.json``, read back for
the table; it only reads a clock). Writes the ``model_kinds`` section of benchmarks/RESULTS.md.

    taskset -c 0,1 python benchmarks/bench_model_kinds.py [--kinds skops,onnx] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import machine, write_section  # noqa: E402

warnings.filterwarnings("ignore")

AUDITKIT = [sys.executable, "-m", "auditkit"]
NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
CATEGORICAL = ["workclass", "education", "marital-status", "occupation", "relationship", "race",
               "sex", "native-country"]  # fmt: skip
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

NET = textwrap.dedent(
    """
    import torch
    import pytorch_lightning as pl


    class AdultNet(pl.LightningModule):
        def __init__(self, mean=(0.0,) * 6, std=(1.0,) * 6, hidden=32, lr=1e-2):
            super().__init__()
            self.save_hyperparameters()
            self.register_buffer("mu", torch.tensor(mean, dtype=torch.float32))
            self.register_buffer("sd", torch.tensor(std, dtype=torch.float32))
            self.net = torch.nn.Sequential(
                torch.nn.Linear(6, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2)
            )

        def forward(self, x):
            return self.net((x - self.mu) / self.sd)

        def training_step(self, batch, _):
            x, y = batch
            return torch.nn.functional.cross_entropy(self(x), y)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
    """
)


def _adult(tmp: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Adult splits with their label column ``income`` (0/1), written as CSV files."""
    from auditkit.data._datasets import load_dataset

    ds = load_dataset("adult")
    train = ds.train.X.assign(income=np.asarray(ds.train.y))
    test = ds.test.X.assign(income=np.asarray(ds.test.y))
    if not (tmp / "adult_train.csv").exists():
        train.to_csv(tmp / "adult_train.csv", index=False)
        test.to_csv(tmp / "adult_test.csv", index=False)
    return train, test


def _pipeline(train: pd.DataFrame) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
         ("num", StandardScaler(), NUMERIC)]
    )  # fmt: skip
    pipe = Pipeline([("pre", pre), ("lr", LogisticRegression(max_iter=1000))])
    return pipe.fit(train.drop(columns="income"), train["income"])


ADULT_ARGS = ["--data", "adult_test.csv", "--target", "income", "--sensitive", "sex,race",
              "--train-data", "adult_train.csv"]  # fmt: skip


def kind_checkpoint(tmp: Path) -> list[str]:
    import auditkit

    auditkit.train("adult-mlp", out=tmp / "adult.ckpt", max_epochs=2, seed=0)
    return ["adult.ckpt"]


def kind_skops(tmp: Path) -> list[str]:
    import skops.io as sio

    train, _ = _adult(tmp)
    sio.dump(_pipeline(train), tmp / "adult.skops")
    return ["adult.skops", *ADULT_ARGS]


def kind_pickle(tmp: Path) -> list[str]:
    import joblib

    train, _ = _adult(tmp)
    joblib.dump(_pipeline(train), tmp / "adult.joblib")
    return ["adult.joblib", "--allow-pickle", *ADULT_ARGS]


def kind_onnx(tmp: Path) -> list[str]:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import Int64TensorType, StringTensorType

    train, _ = _adult(tmp)
    types = [(c, StringTensorType([None, 1])) for c in CATEGORICAL]
    types += [(c, Int64TensorType([None, 1])) for c in NUMERIC]
    onx = convert_sklearn(_pipeline(train), initial_types=types, target_opset=17,
                          options={"zipmap": False})  # fmt: skip
    (tmp / "adult.onnx").write_bytes(onx.SerializeToString())
    return ["adult.onnx", *ADULT_ARGS]


def kind_lightning(tmp: Path) -> list[str]:
    import pytorch_lightning as pl
    import torch

    from auditkit.adapters.lightning import import_model_class

    train, _ = _adult(tmp)
    (tmp / "net.py").write_text(NET)
    net_cls = import_model_class(f"{tmp / 'net.py'}:AdultNet")
    x = train[NUMERIC].to_numpy(np.float32)
    pl.seed_everything(0, verbose=False)
    net = net_cls(mean=tuple(x.mean(0).tolist()), std=tuple(x.std(0).tolist()))
    data = torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(train["income"].values))
    trainer = pl.Trainer(
        max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", devices=1, default_root_dir=tmp,
    )  # fmt: skip
    trainer.fit(net, torch.utils.data.DataLoader(data, batch_size=256, shuffle=True))
    trainer.save_checkpoint(tmp / "adult_net.ckpt", weights_only=True)
    return ["adult_net.ckpt", "--model-class", "net.py:AdultNet", "--features",
            ",".join(NUMERIC), *ADULT_ARGS]  # fmt: skip


def _texts(n: int, rng: np.random.Generator, words: list[str]) -> pd.DataFrame:
    k = rng.integers(20, 120, size=n)
    return pd.DataFrame(
        {
            "text": [" ".join(rng.choice(words, size=int(m))) for m in k],
            "group": rng.choice(["a", "b"], size=n),
            "label": rng.integers(0, 2, size=n),
        }
    )


def kind_hf(tmp: Path) -> list[str]:
    import torch
    import transformers

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(2000)]
    vocab = {w: i for i, w in enumerate(SPECIAL + words)}
    tok = transformers.BertTokenizerFast(vocab=vocab, model_max_length=128)
    cfg = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=512, num_hidden_layers=4, num_attention_heads=8,
        intermediate_size=2048, max_position_embeddings=512, num_labels=2,
        id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1},
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(cfg).eval()
    model.save_pretrained(tmp / "bert-small", safe_serialization=True)
    tok.save_pretrained(tmp / "bert-small")
    _texts(500, rng, words).to_csv(tmp / "reviews_test.csv", index=False)
    _texts(1000, rng, words).to_csv(tmp / "reviews_train.csv", index=False)
    return ["bert-small", "--data", "reviews_test.csv", "--target", "label", "--text-column",
            "text", "--sensitive", "group", "--train-data", "reviews_train.csv"]  # fmt: skip


KINDS: dict[str, tuple[str, Callable[[Path], list[str]]]] = {
    "checkpoint": ("auditkit checkpoint (adult-mlp), its own dataset", kind_checkpoint),
    "skops": ("scikit-learn pipeline, skops file", kind_skops),
    "pickle": ("scikit-learn pipeline, joblib pickle (--allow-pickle)", kind_pickle),
    "onnx": ("ONNX export of the pipeline (one input per column)", kind_onnx),
    "lightning": ("user LightningModule checkpoint (6 numeric columns)", kind_lightning),
    "hf": ("Hugging Face BERT-small-size text classifier (safetensors)", kind_hf),
}


def _run(tmp: Path, argv: list[str], out: Path) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*AUDITKIT, "audit", *argv, "--out", str(out), "--no-progress", "--timings"],
        cwd=tmp, capture_output=True, text=True, check=False,
    )  # fmt: skip
    dt = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return dt, json.loads((out / "audit.json").read_text())


def _describe(doc: dict[str, Any]) -> tuple[int, int | None, str]:
    data = doc["data"]
    n_train = data.get("n_train_rows")
    parts = []
    for s in doc["sections"]:
        t = s.get("duration_s")
        parts.append(f"{s['name']} {s['status']}" + (f" {t:.1f} s" if t is not None else ""))
    return int(data.get("n_rows") or 0), n_train, ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for key in args.kinds.split(","):
            label, make = KINDS[key]
            try:
                cmd = make(tmp)
                load0 = os.getloadavg()[0]
                dt, doc = _run(tmp, cmd, tmp / f"out-{key}")
            except Exception as exc:  # noqa: BLE001 - a kind that cannot run is reported
                rows.append(f"| {label} | | | | | not run: {type(exc).__name__}: {exc} |")
                print(rows[-1], flush=True)
                continue
            n, n_train, sections = _describe(doc)
            command = "auditkit audit " + " ".join(cmd)
            rows.append(
                f"| {label} | {n} | {n_train or ''} | {dt:.1f} | {load0:.1f} | {sections} |"
                f"\n| | `{command}` | | | | |"
            )
            print(rows[-1], flush=True)
    md = (
        f"{machine()}\n\n"
        "Each command as a user types it (default options: every section, 1000 bootstrap "
        "resamples, the three files written), run in a fresh process and timed from start to "
        "exit; building and training the models are not timed. Sections: status and time from "
        "the same run (`--timings`). load = 1-minute load average "
        "when the command started (the 2 cores are shared).\n\n"
        "| kind | evaluation rows | training rows | command wall time (s) | load | sections |\n"
        "| --- | ---: | ---: | ---: | ---: | --- |\n" + "\n".join(rows) + "\n\n"
        "Reading the table: the fold models are trained once per audit and shared (the privacy "
        "section's reference attack and the stability section's spread), so a refit's cost "
        "shows under privacy, the first to run. The rest of the wall time is the process "
        "itself: starting Python and importing torch, Captum, scikit-learn and Fairlearn, "
        "reading the CSV files, scoring the evaluation rows once (the BERT audit: 500 texts), "
        "and writing the card. An ONNX, skops or pickle audit imports no Lightning. The "
        "Hugging Face audit's time is the model's: layer integrated gradients (16 steps) over "
        "24 texts for the global figures, 5 errors and 2 texts per class one by one, and the "
        "sanity check's 6 texts, then scoring 1500 texts; drift is "
        "skipped for texts, with the reason in the card.\n"
    )
    print(md)
    if not args.no_write:
        write_section("model_kinds", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
