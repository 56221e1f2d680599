"""Cutting masked padding from token attributions: same values as the full-width call."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from auditkit import explain
from auditkit.runtime._trim import trim_order
from auditkit.runtime.attribution import attribute

transformers = pytest.importorskip("transformers")

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _tiny_bert(seed: int = 0):
    from auditkit.adapters.hf import HuggingFaceModel

    words = [f"w{i}" for i in range(40)]
    vocab = {w: i for i, w in enumerate(SPECIAL + words)}
    tok = transformers.BertTokenizerFast(vocab=vocab, model_max_length=24)
    cfg = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64, num_labels=3,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = transformers.BertForSequenceClassification(cfg).eval()
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(words, size=int(k))) for k in rng.integers(1, 30, size=13)]
    return HuggingFaceModel(model, tok, max_length=24), texts


def test_trim_order_lengths_and_inverse():
    x = torch.tensor([[5, 6, 0, 0], [5, 0, 0, 0], [5, 6, 7, 8], [0, 0, 0, 0]])
    t = trim_order(x, 0)
    assert t is not None
    assert t.lengths.tolist() == [4, 2, 1, 0]
    assert t.order.tolist() == [2, 0, 1, 3]
    assert t.order[t.inverse].tolist() == [0, 1, 2, 3]
    assert trim_order(torch.tensor([[1, 2], [3, 4]]), 0) is None  # no padding
    assert trim_order(x.float(), 0) is None  # not token ids


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hf_cut_padding_gives_the_full_width_values(seed):
    adapter, texts = _tiny_bert(seed)
    parts = adapter.torch_parts()
    assert parts.extras["padding_masked"] is True
    ids = parts.encode(texts)
    pad, unk = parts.extras["pad_id"], parts.extras["unk_id"]
    base = torch.where(ids != pad, unk, pad)
    common = dict(
        method="layer_integrated_gradients", baselines=base, n_steps=8, layer=parts.embedding,
        batch_size=3,
    )  # fmt: skip
    full = attribute(parts.module, ids, **common)
    cut = attribute(parts.module, ids, masked_pad_id=pad, **common)
    assert cut.info["padding_trimmed"] and not full.info["padding_trimmed"]
    np.testing.assert_allclose(cut.values, full.values, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(cut.delta, full.delta, rtol=1e-3, atol=1e-5)
    np.testing.assert_array_equal(cut.target, full.target)
    np.testing.assert_allclose(cut.outputs, full.outputs)
    assert np.all(cut.values[ids.numpy() == pad] == 0)


def test_explain_hf_cuts_padding_and_keeps_row_order():
    adapter, texts = _tiny_bert(3)
    e = explain(adapter, texts, method="layer_integrated_gradients", n_steps=8)
    assert e.info["padding_trimmed"] is True
    for i in (0, 5, 12):
        one = explain(adapter, texts[i : i + 1], method="layer_integrated_gradients", n_steps=8)
        np.testing.assert_allclose(e.values[i], one.values[0], rtol=1e-4, atol=1e-6)
        assert e.tokens[i] == one.tokens[0]


def test_unmasked_token_model_is_not_cut():
    emb = torch.nn.Embedding(10, 4)
    net = torch.nn.Sequential(emb, torch.nn.Flatten(), torch.nn.Linear(12, 2))
    x = torch.tensor([[1, 2, 0], [3, 0, 0]])
    run = attribute(net, x, method="layer_integrated_gradients", layer=emb, n_steps=4)
    assert run.info["padding_trimmed"] is False


def test_cut_pass_size_grows_with_the_cut_in_whole_steps():
    from auditkit.runtime._trim import cut_pass_size

    assert cut_pass_size(None, 3, 128, 64) is None
    assert cut_pass_size(9, 3, 128, 128) == 9
    assert cut_pass_size(9, 3, 128, 64) == 18
    assert cut_pass_size(9, 3, 128, 50) == 21  # 9 * 128 / 50 = 23.04 -> whole steps of 3
    assert cut_pass_size(4, 4, 128, 120) == 4  # never below one step of the chunk's rows
