"""auditkit.explain on a Hugging Face text classifier vs Captum's plain LayerIntegratedGradients.

Builds, offline, a BERT-small-sized classifier from a ``BertConfig`` (4 layers, hidden 512, 8
heads, intermediate 2048; random weights: speed depends on the architecture, not on the
weights) with a WordPiece tokenizer over a synthetic vocabulary, and 500 synthetic texts. Then it
times

* Captum's plain call as a Hugging Face user writes it: each chunk of ``--captum-rows`` texts
  tokenized by the model's tokenizer (``padding=True``: to the chunk's longest text, truncated at
  ``max_length``), then ``LayerIntegratedGradients(module, embedding).attribute(ids,
  baselines=..., target=..., n_steps=...)`` on the same module, baselines (``[UNK]`` for every
  word, the special tokens and padding kept) and targets that auditkit uses
  (``HuggingFaceModel.torch_parts()``); the plain call on all rows at once would put
  rows x n_steps sequences in one batch (tens of GB);
* ``auditkit.explain(adapter, texts, method="layer_integrated_gradients")`` (the summed-target
  fast path, batches from a 256 MB budget, rows in order of length with each call cut to its
  rows' real tokens);

and asserts that both give the same attributions on every real token (rtol 1e-4, atol 1e-6;
padding has attribution 0 in both). The texts are timed in blocks of ``--block`` texts,
alternating which call goes first, so that a change of load on the shared machine falls on both.

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
    """Captum's call on each chunk, tokenized as a user does; values padded to max_length."""
    from captum.attr import LayerIntegratedGradients

    parts = adapter.torch_parts()
    pad, unk = parts.extras["pad_id"], parts.extras["unk_id"]
    special = torch.as_tensor(parts.extras["special_ids"])
    lig = LayerIntegratedGradients(parts.module, parts.embedding)
    out = np.zeros((len(texts), adapter.max_length))
    t0 = time.perf_counter()
    for s in range(0, len(texts), rows):
        ids = adapter.tokenizer(
            texts[s : s + rows], padding=True, truncation=True, max_length=adapter.max_length,
            return_tensors="pt",
        )["input_ids"]  # fmt: skip
        keep = torch.isin(ids, special) | (ids == pad)  # [CLS], [SEP], padding kept
        base = torch.where(keep, ids, unk)
        a = lig.attribute(
            ids, baselines=base, target=torch.as_tensor(target[s : s + rows]), n_steps=n_steps
        )
        out[s : s + len(ids), : ids.shape[1]] = a.sum(dim=-1).detach().double().numpy()
    return time.perf_counter() - t0, out


def explain_target(adapter, texts) -> np.ndarray:
    """The predicted class of each text (the target auditkit attributes by default)."""
    return np.asarray(adapter.predict_proba(texts).argmax(axis=1), dtype=np.int64)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny BERT, 20 texts")
    ap.add_argument("--n-texts", type=int, default=500)
    ap.add_argument("--n-steps", type=int, default=16, help="the section's default for text")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--captum-rows", type=int, default=8)
    ap.add_argument("--memory-mb", type=float, default=256.0, help="auditkit's memory budget")
    ap.add_argument("--block", type=int, default=100, help="texts timed together")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    n = 20 if args.quick else args.n_texts
    adapter, texts = build(args.quick, 32 if args.quick else args.max_length)
    texts = texts[:n]
    lens = adapter.tokenizer(texts, truncation=True, max_length=adapter.max_length)["input_ids"]
    mean_len = float(np.mean([len(t) for t in lens]))
    explain(adapter, texts[:2], method="layer_integrated_gradients", n_steps=2)  # warm-up
    captum_plain(adapter, texts[:2], np.zeros(2, dtype=np.int64), 2, 2)
    t_auditkit = t_captum = 0.0
    loads = [os.getloadavg()[0]]
    values, refs = [], []
    for b, s in enumerate(range(0, n, args.block)):
        chunk = texts[s : s + args.block]
        for who in ("auditkit", "captum") if b % 2 == 0 else ("captum", "auditkit"):
            if who == "auditkit":
                t0 = time.perf_counter()
                e = explain(
                    adapter, chunk, method="layer_integrated_gradients", n_steps=args.n_steps,
                    memory_budget_mb=args.memory_mb,
                )  # fmt: skip
                t_auditkit += time.perf_counter() - t0
                values.append(e.values)
            else:
                target = explain_target(adapter, chunk)
                dt, ref = captum_plain(adapter, chunk, target, args.n_steps, args.captum_rows)
                t_captum += dt
                refs.append(ref)
        loads.append(os.getloadavg()[0])
        print(f"block {b}: auditkit {t_auditkit:.1f} s, Captum {t_captum:.1f} s", flush=True)
    got, ref = np.concatenate(values), np.concatenate(refs)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6)
    diff = float(np.abs(got - ref).max())
    size = "tiny BERT (2 layers, hidden 16)" if args.quick else "BERT-small size (4x512)"
    md = (
        f"{machine()}\n\n"
        f"{size}, {n} texts of {mean_len:.0f} tokens on average (at most "
        f"{adapter.max_length}), layer integrated gradients at the word embeddings, "
        f"{args.n_steps} steps; timed in blocks of {args.block} texts, alternating which call "
        "goes first.\n\n"
        "| call | wall time (s) |\n| --- | ---: |\n"
        f"| Captum `LayerIntegratedGradients.attribute`, {args.captum_rows} texts per call, "
        "each call tokenized with `padding=True` | "
        f"{t_captum:.2f} |\n"
        f"| `auditkit.explain(HuggingFaceModel)`, {args.memory_mb:g} MB budget, "
        f"{e.info.get('rows_per_call')} rows per call, "
        f"{e.info.get('internal_batch_size') or 'all'} samples per pass, padding cut: "
        f"{e.info.get('padding_trimmed')} | {t_auditkit:.2f} |\n\n"
        f"Same values: largest absolute difference {diff:.3g}. Planned bytes per evaluation "
        f"{e.info.get('bytes_per_row', 0) / 2**20:.1f} MiB. Speed-up "
        f"{t_captum / t_auditkit:.2f}x. Load average (1 min) at each block's end: "
        f"{', '.join(f'{v:.1f}' for v in loads)} (torch threads {torch.get_num_threads()}).\n"
    )
    print(md)
    if not args.no_write:
        write_section("hf_text", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
