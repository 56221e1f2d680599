"""auditkit.explain on a Hugging Face text classifier vs Captum's plain LayerIntegratedGradients.

Builds, offline, a BERT-small-sized classifier from a ``BertConfig`` (4 layers, hidden 512, 8
heads, intermediate 2048; random weights: speed depends on the architecture, not on the
weights) with a WordPiece tokenizer over a synthetic vocabulary, and 500 synthetic texts. Then it
times

* Captum's plain call, ``LayerIntegratedGradients(module, embedding).attribute(ids,
  baselines=..., target=..., n_steps=...)`` on the same module, ids and baselines that auditkit
  uses (``HuggingFaceModel.torch_parts()``), over chunks of ``--captum-rows`` rows (the plain call
  on all rows at once would put rows x n_steps sequences in one batch: tens of GB);
* ``auditkit.explain(adapter, texts, method="layer_integrated_gradients")`` (the summed-target
  fast path, batches from a 256 MB budget);

and asserts that both give the same attributions (rtol 1e-4, atol 1e-6).

Writes the ``hf_text`` section of benchmarks/RESULTS.md.

    python benchmarks/bench_hf_text.py                       # BERT-small, 500 texts
    python benchmarks/bench_hf_text.py --quick --no-write    # a smoke run (tiny BERT, 20 texts)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import machine, write_section  # noqa: E402

from auditkit import explain  # noqa: E402

warnings.filterwarnings("ignore", message=r"Input Tensor \d+ did not already require gradients")
warnings.filterwarnings("ignore", message="Setting forward, backward hooks")
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build(quick: bool, max_length: int):
    import transformers

    from auditkit.adapters.hf import HuggingFaceModel

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(2000 if not quick else 50)]
    vocab = {w: i for i, w in enumerate(SPECIAL + words)}
    tok = transformers.BertTokenizerFast(vocab=vocab, model_max_length=max_length)
    size = (
        dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)
        if quick
        else dict(hidden_size=512, num_hidden_layers=4, num_attention_heads=8,
                  intermediate_size=2048)
    )  # fmt: skip
    cfg = transformers.BertConfig(
        vocab_size=len(vocab), max_position_embeddings=512, num_labels=2, **size
    )
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(cfg).eval()
    adapter = HuggingFaceModel(model, tok, max_length=max_length)
    n_words = rng.integers(max_length // 4, max_length, size=1000)
    texts = [" ".join(rng.choice(words, size=int(k))) for k in n_words]
    return adapter, texts


def captum_plain(adapter, texts, target, n_steps: int, rows: int) -> tuple[float, np.ndarray]:
    from captum.attr import LayerIntegratedGradients

    parts = adapter.torch_parts()
    ids = parts.encode(texts)
    pad, unk = parts.extras["pad_id"], parts.extras["unk_id"]
    base = torch.where(ids != pad, unk, pad)
    lig = LayerIntegratedGradients(parts.module, parts.embedding)
    out = []
    t0 = time.perf_counter()
    for s in range(0, len(ids), rows):
        a = lig.attribute(
            ids[s : s + rows], baselines=base[s : s + rows],
            target=torch.as_tensor(target[s : s + rows]), n_steps=n_steps,
        )  # fmt: skip
        out.append(a.sum(dim=-1).detach().double().numpy())
    return time.perf_counter() - t0, np.concatenate(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny BERT, 20 texts")
    ap.add_argument("--n-texts", type=int, default=500)
    ap.add_argument("--n-steps", type=int, default=16, help="the section's default for text")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--captum-rows", type=int, default=8)
    ap.add_argument("--memory-mb", type=float, default=256.0, help="auditkit's memory budget")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    n = 20 if args.quick else args.n_texts
    adapter, texts = build(args.quick, 32 if args.quick else args.max_length)
    texts = texts[:n]
    explain(adapter, texts[:2], method="layer_integrated_gradients", n_steps=2)  # warm-up
    captum_plain(adapter, texts[:2], np.zeros(2, dtype=np.int64), 2, 2)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    e = explain(
        adapter, texts, method="layer_integrated_gradients", n_steps=args.n_steps,
        memory_budget_mb=args.memory_mb,
    )  # fmt: skip
    t_auditkit = time.perf_counter() - t0
    load1 = os.getloadavg()[0]
    t_captum, ref = captum_plain(adapter, texts, e.target, args.n_steps, args.captum_rows)
    load2 = os.getloadavg()[0]
    np.testing.assert_allclose(e.values, ref, rtol=1e-4, atol=1e-6)
    diff = float(np.abs(e.values - ref).max())
    size = "tiny BERT (2 layers, hidden 16)" if args.quick else "BERT-small size (4x512)"
    md = (
        f"{machine()}\n\n"
        f"{size}, {n} texts padded to {adapter.max_length} tokens, layer integrated gradients "
        f"at the word embeddings, {args.n_steps} steps.\n\n"
        "| call | wall time (s) |\n| --- | ---: |\n"
        f"| Captum `LayerIntegratedGradients.attribute`, {args.captum_rows} rows per call | "
        f"{t_captum:.2f} |\n"
        f"| `auditkit.explain(HuggingFaceModel)`, {args.memory_mb:g} MB budget, "
        f"{e.info.get('rows_per_call')} rows per call, "
        f"{e.info.get('internal_batch_size') or 'all'} samples per pass | {t_auditkit:.2f} |\n\n"
        f"Same values: largest absolute difference {diff:.3g}. Planned bytes per evaluation "
        f"{e.info.get('bytes_per_row', 0) / 2**20:.1f} MiB. Load average (1 min) before "
        f"auditkit {load0:.1f}, before Captum {load1:.1f}, after {load2:.1f} "
        f"(torch threads {torch.get_num_threads()}).\n"
    )
    print(md)
    if not args.no_write:
        write_section("hf_text", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
