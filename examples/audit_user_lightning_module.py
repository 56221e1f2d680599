"""Audit your own LightningModule from its checkpoint, and write its card.

    python examples/audit_user_lightning_module.py [OUT_DIR]

The script writes a user's module file (``credit_model.py`` with a ``CreditNet``
LightningModule), trains it for a few seconds on a synthetic credit table, saves a checkpoint
with ``Trainer.save_checkpoint``, then opens it as ``auditkit audit`` does with
``--model-class credit_model.py:CreditNet``: the class is imported from the file and the
checkpoint is loaded with ``load_from_checkpoint(weights_only=True)`` (nothing is unpickled).
The table's numeric columns are the float tensor ``forward`` takes; ``sex`` is the sensitive
feature. Writes ``audit.json``, ``card.html`` and ``card.md`` to OUT_DIR (default
``card-output``).
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

import auditkit
from auditkit.adapters.lightning import import_model_class, load_user_lightning
from auditkit.report import write_outputs

MODULE = textwrap.dedent(
    """
    import torch
    import pytorch_lightning as pl


    class CreditNet(pl.LightningModule):
        def __init__(self, n_features: int = 4, hidden: int = 16, lr: float = 0.05):
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(n_features, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2)
            )

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return torch.nn.functional.cross_entropy(self(x), y)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
    """
)
FEATURES = ["income", "debt", "years_employed", "age"]


def credit_table(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], n)
    income = rng.normal(3.0, 1.0, n) + 0.4 * (sex == "male")  # a proxy for sex
    X = pd.DataFrame(
        {
            "income": income,
            "debt": rng.normal(1.0, 0.5, n),
            "years_employed": rng.gamma(2.0, 2.0, n) / 5,
            "age": rng.normal(40, 12, n) / 10,
            "sex": sex,
        }
    )
    score = X["income"] - 1.5 * X["debt"] + 0.3 * X["years_employed"] + rng.normal(0, 0.5, n)
    return X, (score > 1.6).astype(int).to_numpy().copy()


def main(out: Path) -> int:
    pl.seed_everything(0, verbose=False)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "credit_model.py"
        src.write_text(MODULE)
        CreditNet = import_model_class(f"{src}:CreditNet")
        X_train, y_train = credit_table(2000, seed=0)
        data = torch.utils.data.TensorDataset(
            torch.tensor(X_train[FEATURES].to_numpy(np.float32)), torch.tensor(y_train)
        )
        trainer = pl.Trainer(
            max_epochs=5, logger=False, enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False, accelerator="cpu", devices=1, default_root_dir=tmp,
        )  # fmt: skip
        trainer.fit(CreditNet(), torch.utils.data.DataLoader(data, batch_size=64, shuffle=True))
        ckpt = Path(tmp) / "credit.ckpt"
        trainer.save_checkpoint(ckpt)

        # what `auditkit audit credit.ckpt --model-class credit_model.py:CreditNet
        #   --features income,debt,years_employed,age --sensitive sex` does
        adapter = load_user_lightning(ckpt, f"{src}:CreditNet", features=FEATURES)
        X_test, y_test = credit_table(1000, seed=1)
        result = auditkit.audit(
            adapter,
            X_test,
            y_test,
            sensitive_features=["sex"],
            train=(X_train, y_train),
            n_boot=200,
            random_state=0,
        )
    paths = write_outputs(result, out)
    for s in result.sections:
        print(f"{s.name:15s} {s.status}" + (f" ({s.reason})" if s.reason else ""))
    print(f"Card: {paths['html'].resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("card-output")))
