"""Audit a Hugging Face text classifier from its saved folder, and write its card.

    python examples/audit_hf_text_classifier.py [OUT_DIR]

Everything runs offline: the script writes a small WordPiece vocabulary, builds a 2-layer BERT
from a ``BertConfig``, trains it for a few seconds on synthetic reviews, saves it with
``save_pretrained(safe_serialization=True)`` (safetensors), then opens the folder with
:func:`auditkit.adapters.hf.load_hf` (safetensors only, never ``trust_remote_code``) and audits
it with a synthetic ``group`` column as the sensitive feature. The explainability section
integrates gradients at the token embeddings and names its records by the tokenizer's tokens.
Writes ``audit.json``, ``card.html`` and ``card.md`` to OUT_DIR (default ``card-output``).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing downloads

import numpy as np
import pandas as pd
import torch
import transformers

import auditkit
from auditkit.adapters.hf import load_hf
from auditkit.report import write_outputs

POS = ["good", "great", "fine", "lovely", "superb"]
NEG = ["bad", "awful", "poor", "dull", "boring"]
NEUTRAL = ["the", "film", "was", "a", "plot", "and", "actors", "story", "very", "quite"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def reviews(n: int, seed: int) -> pd.DataFrame:
    """Synthetic reviews; group "b" writes longer, more neutral reviews (a harder group)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        y = int(rng.integers(2))
        group = str(rng.choice(["a", "b"]))
        words = list(rng.choice(NEUTRAL, size=int(rng.integers(3, 12 if group == "b" else 6))))
        words.insert(int(rng.integers(len(words) + 1)), str(rng.choice(POS if y else NEG)))
        if rng.random() < (0.3 if group == "b" else 0.1):
            words.append(str(rng.choice(NEG if y else POS)))
        rows.append({"text": " ".join(words), "group": group, "label": y})
    return pd.DataFrame(rows)


def build_model(folder: Path) -> None:
    vocab = {w: i for i, w in enumerate(SPECIAL + POS + NEG + NEUTRAL)}
    tok = transformers.BertTokenizerFast(vocab=vocab, model_max_length=32)
    cfg = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, num_labels=2,
        id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1},
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(cfg)
    train = reviews(400, seed=1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(80):
        batch = train.iloc[(np.arange(16) + 16 * step) % len(train)]
        enc = tok(list(batch["text"]), padding=True, truncation=True, return_tensors="pt")
        loss = model(**enc, labels=torch.tensor(batch["label"].to_numpy())).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)


def main(out: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "tiny-bert-sentiment"
        build_model(folder)
        adapter = load_hf(folder, text_column="text")
        test, train = reviews(300, seed=2), reviews(400, seed=1)  # train: the rows it learned
        result = auditkit.audit(
            adapter,
            test[["text", "group"]],
            test["label"].to_numpy(),
            sensitive_features=["group"],
            train=(train[["text", "group"]], train["label"].to_numpy()),  # membership inference
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
