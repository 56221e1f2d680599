"""Hugging Face classifiers: a tiny 2-layer BERT built here, saved, loaded safely and audited."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from auditkit.adapters import wrap  # noqa: E402
from auditkit.adapters.errors import ModelFileError, UnsafeModelError  # noqa: E402
from auditkit.adapters.hf import HuggingFaceModel, load_hf  # noqa: E402
from auditkit.exceptions import ParameterError  # noqa: E402

POS = ["good", "great", "fine", "lovely", "superb"]
NEG = ["bad", "awful", "poor", "dull", "boring"]
NEUTRAL = ["the", "film", "was", "a", "plot", "and", "actors", "story", "very", "quite"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _texts(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        y = int(rng.integers(2))
        words = list(rng.choice(NEUTRAL, size=int(rng.integers(3, 9))))
        for _ in range(int(rng.integers(1, 3))):
            words.insert(int(rng.integers(len(words) + 1)), str(rng.choice(POS if y else NEG)))
        if rng.random() < 0.15:  # some noise: a word of the other side
            words.append(str(rng.choice(NEG if y else POS)))
        if rng.random() < 0.1:
            words.append("unseenword")  # becomes [UNK]
        texts.append(" ".join(words))
        labels.append(y)
    return texts, np.asarray(labels)


def _tokenizer() -> object:
    """A WordPiece tokenizer over the tiny vocabulary (BertTokenizerFast, from `tokenizers`)."""
    vocab = {w: i for i, w in enumerate(SPECIAL + POS + NEG + NEUTRAL)}
    try:  # transformers >= 5 takes the vocabulary itself
        tok = transformers.BertTokenizerFast(vocab=vocab, model_max_length=32)
    except TypeError:  # pragma: no cover - transformers 4 reads a vocab file
        import tempfile

        f = Path(tempfile.mkdtemp()) / "vocab.txt"
        f.write_text("\n".join(vocab) + "\n")
        tok = transformers.BertTokenizerFast(vocab_file=str(f), model_max_length=32)
    assert len(tok) == len(vocab)
    return tok


def _tiny_bert(folder: Path) -> tuple[object, object]:
    tok = _tokenizer()
    cfg = transformers.BertConfig(
        vocab_size=len(SPECIAL + POS + NEG + NEUTRAL), hidden_size=16, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=32, max_position_embeddings=64,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, num_labels=2,
        id2label={0: "negative", 1: "positive"},
        label2id={"negative": 0, "positive": 1},
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(cfg)
    texts, y = _texts(200, seed=1)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    model.train()
    for step in range(40):
        idx = np.arange(step * 16, step * 16 + 16) % len(texts)
        enc = tok([texts[i] for i in idx], padding=True, truncation=True, return_tensors="pt")
        loss = model(**enc, labels=torch.as_tensor(y[idx])).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model, tok


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hf") / "tiny-bert"
    model, tok = _tiny_bert(folder)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def _copy(src: Path, dst: Path, drop: tuple[str, ...] = ()) -> Path:
    shutil.copytree(src, dst)
    for name in drop:
        for p in dst.glob(name):
            p.unlink()
    return dst


def _own_predictions(folder: Path, texts: list[str]) -> np.ndarray:
    model = transformers.AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        enc = tok(texts, padding=True, truncation=True, return_tensors="pt")
        return model(**enc).logits.argmax(dim=1).numpy()


def test_audit_accuracy_equals_transformers_own(bert_dir: Path) -> None:
    import auditkit

    texts, y = _texts(120, seed=2)
    group = np.where(np.arange(len(texts)) % 3 == 0, "a", "b")
    X = pd.DataFrame({"text": texts, "group": group})
    adapter = load_hf(bert_dir, text_column="text")
    assert isinstance(adapter, HuggingFaceModel) and adapter.class_names == [
        "negative",
        "positive",
    ]
    res = auditkit.audit(
        adapter, X, y, sensitive_features=["group"], sections=["performance", "fairness"],
        n_boot=20,
    )  # fmt: skip
    own = _own_predictions(bert_dir, texts)
    acc = res.section("performance").get("accuracy").value
    assert acc == pytest.approx(float((own == y).mean()))
    assert acc > 0.6  # the model learned something: the comparison is not trivial
    model = res.to_dict()["model"]
    assert model["kind"] == "huggingface" and model["class_names"] == ["negative", "positive"]
    assert res.to_dict()["data"]["modality"] == "text"


def test_probabilities_do_not_depend_on_batching(bert_dir: Path) -> None:
    texts, _ = _texts(40, seed=3)
    a = load_hf(bert_dir, batch_size=1).predict_proba(texts)
    b = load_hf(bert_dir, batch_size=64).predict_proba(texts)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_explanations_are_named_by_the_tokenizers_tokens(bert_dir: Path) -> None:
    import auditkit

    texts, y = _texts(60, seed=4)
    X = pd.DataFrame({"review": texts, "group": np.where(np.arange(60) % 2, "a", "b")})
    adapter = load_hf(bert_dir, text_column="review")
    res = auditkit.audit(
        adapter, X, y, sensitive_features="group", sections=["explainability"], n_boot=20,
        options={"explain_max_rows": 12, "explain_sanity_rows": 3},
    )  # fmt: skip
    ex = res.section("explainability")
    assert ex.status == "ok", ex.reason
    assert ex.info["method"] == "layer_integrated_gradients"
    tokens = {m.input_feature for m in ex.metrics if m.name == "importance"}
    assert tokens and tokens <= set(SPECIAL + POS + NEG + NEUTRAL)
    chart = [c for c in ex.charts if c.name == "token_highlights"][0]
    first = chart.data["rows"][0]["tokens"]
    assert first[0] == "[CLS]" and first[-1] == "[SEP]"


def test_in_memory_model_and_tokenizer(tmp_path: Path) -> None:
    model, tok = _tiny_bert(tmp_path / "mem")
    texts, _ = _texts(10, seed=5)
    adapter = HuggingFaceModel(model, tok)
    with torch.no_grad():
        enc = tok(texts, padding=True, truncation=True, return_tensors="pt")
        expected = torch.softmax(model(**enc).logits.double(), dim=1).numpy()
    np.testing.assert_allclose(adapter.predict_proba(texts), expected, atol=1e-6)
    parts = adapter.torch_parts()
    ids = parts.encode(texts)
    assert parts.embedding is model.get_input_embeddings()
    with torch.no_grad():
        np.testing.assert_allclose(
            torch.softmax(parts.module(ids).double(), dim=1).numpy(), expected, atol=1e-5
        )
    assert adapter.decode_tokens(ids[0])[0] == "[CLS]"
    wrapped = wrap((model, tok))
    assert isinstance(wrapped, HuggingFaceModel) and wrapped.kind == "huggingface"
    np.testing.assert_allclose(wrapped.predict_proba(texts), expected, atol=1e-6)
    with pytest.raises(ParameterError, match=r"needs its tokenizer.*wrap\(\(model, tokenizer\)\)"):
        wrap(model)


def test_remote_code_is_refused(bert_dir: Path, tmp_path: Path) -> None:
    d = _copy(bert_dir, tmp_path / "remote")
    cfg = json.loads((d / "config.json").read_text())
    cfg["auto_map"] = {"AutoModelForSequenceClassification": "modeling_evil.EvilModel"}
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UnsafeModelError) as exc:
        load_hf(d)
    msg = str(exc.value)
    assert "trust_remote_code" in msg and "auto_map" in msg and "\n" not in msg
    cfg.pop("auto_map")
    cfg["architectures"] = ["EvilForSequenceClassification"]
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UnsafeModelError, match="'EvilForSequenceClassification'"):
        load_hf(d)


@pytest.mark.parametrize(
    ("drop", "named"),
    [
        (("tokenizer*", "vocab.txt", "special_tokens_map.json"), "no tokenizer"),
        (("config.json",), "no config.json"),
        (("*.safetensors",), "no safetensors weights"),
    ],
)
def test_a_missing_piece_is_named(bert_dir: Path, tmp_path: Path, drop, named) -> None:
    d = _copy(bert_dir, tmp_path / "partial", drop)
    with pytest.raises(ModelFileError) as exc:
        load_hf(d)
    assert named in str(exc.value) and "\n" not in str(exc.value)


def test_pickle_weights_are_never_loaded(bert_dir: Path, tmp_path: Path) -> None:
    d = _copy(bert_dir, tmp_path / "bin", ("*.safetensors",))
    (d / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelFileError, match="pytorch_model.bin: pickle weights"):
        load_hf(d)


def test_image_classifier(tmp_path: Path) -> None:
    cfg = transformers.ViTConfig(
        image_size=8, patch_size=4, num_channels=3, hidden_size=16, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=16, num_labels=3,
        id2label={0: "cat", 1: "dog", 2: "bird"}, label2id={"cat": 0, "dog": 1, "bird": 2},
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.ViTForImageClassification(cfg).eval()
    proc = transformers.ViTImageProcessor(size={"height": 8, "width": 8})
    d = tmp_path / "vit"
    model.save_pretrained(d, safe_serialization=True)
    proc.save_pretrained(d)
    imgs = np.random.default_rng(0).integers(0, 256, size=(6, 8, 8, 3), dtype=np.uint8)
    adapter = load_hf(d)
    assert adapter.modality == "image" and adapter.class_names == ["cat", "dog", "bird"]
    with torch.no_grad():
        px = proc(list(imgs), return_tensors="pt")["pixel_values"]
        expected = torch.softmax(model(pixel_values=px).logits.double(), dim=1).numpy()
    np.testing.assert_allclose(adapter.predict_proba(imgs), expected, atol=1e-6)
    from auditkit import explain

    e = explain(adapter, imgs[:2], n_steps=4)
    assert e.values.shape == (2, 3, 8, 8)
    import auditkit

    res = auditkit.audit(
        adapter, imgs, expected.argmax(1), sections=["explainability"], n_boot=10,
        options={"explain_n_steps": 4},
    )  # fmt: skip
    ex = res.section("explainability")
    assert ex.status == "ok" and [c.name for c in ex.charts] == ["attribution_maps"]
    assert {m.input_feature for m in ex.metrics if m.name == "importance"} == {
        "red", "green", "blue"
    }  # fmt: skip


def test_a_model_without_a_classification_head_is_refused(bert_dir: Path, tmp_path: Path) -> None:
    d = _copy(bert_dir, tmp_path / "mlm")
    cfg = json.loads((d / "config.json").read_text())
    cfg["architectures"] = ["BertForMaskedLM"]
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="holds a BertForMaskedLM, not a sequence or image"):
        load_hf(d)


def test_weights_missing_from_the_file_are_refused(bert_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    d = _copy(bert_dir, tmp_path / "headless")
    f = next(d.glob("*.safetensors"))
    weights = {k: v for k, v in load_file(f).items() if not k.startswith("classifier.")}
    save_file(weights, f, metadata={"format": "pt"})
    with pytest.raises(ModelFileError, match="lack 2 tensor\\(s\\).*classifier.bias") as exc:
        load_hf(d)
    assert "\n" not in str(exc.value)


# ------------------------------------------------- other architectures, other tokenizers
def _word_level(padding_side: str) -> object:
    """A word-level fast tokenizer ([CLS] text [SEP]) with the given padding side."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {w: i for i, w in enumerate(SPECIAL + POS + NEG + NEUTRAL)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tk, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]", model_max_length=32, padding_side=padding_side,
    )  # fmt: skip


def _architecture(name: str) -> tuple[object, object]:
    n = len(SPECIAL + POS + NEG + NEUTRAL)
    if name == "distilbert":
        cfg = transformers.DistilBertConfig(
            vocab_size=n, dim=16, n_layers=2, n_heads=2, hidden_dim=32,
            max_position_embeddings=64, num_labels=2, pad_token_id=0,
        )  # fmt: skip
        return transformers.DistilBertForSequenceClassification(cfg), _tokenizer()
    if name == "roberta":
        cfg = transformers.RobertaConfig(
            vocab_size=n, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=32, max_position_embeddings=70, num_labels=2, pad_token_id=0,
            bos_token_id=2, eos_token_id=3, type_vocab_size=1,
        )  # fmt: skip
        return transformers.RobertaForSequenceClassification(cfg), _word_level("right")
    cfg = transformers.GPT2Config(
        vocab_size=n, n_embd=16, n_layer=2, n_head=2, n_positions=64, num_labels=2,
        pad_token_id=0, bos_token_id=2, eos_token_id=3,
    )  # fmt: skip
    return transformers.GPT2ForSequenceClassification(cfg), _word_level("left")


@pytest.mark.parametrize("name", ["distilbert", "roberta", "gpt2"])
def test_other_architectures_score_each_text_as_alone(name: str, tmp_path: Path) -> None:
    """DistilBERT, RoBERTa and a GPT-2 classifier whose tokenizer pads on the left.

    Each text's probabilities equal the model's on that text alone, whatever the batch (left
    padding would shift GPT-2's positions by the batch's longest text); the attributions'
    forward gives the same logits; the records are named by the tokenizer's tokens.
    """
    import auditkit

    torch.manual_seed(0)
    model, tok = _architecture(name)
    model.eval()
    folder = tmp_path / name
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    texts, y = _texts(60, seed=5)
    alone = []
    with torch.no_grad():
        for t in texts:
            enc = tok([t], truncation=True, return_tensors="pt")
            alone.append(torch.softmax(model(**enc).logits.double(), dim=1)[0].numpy())
    adapter = load_hf(folder, text_column="text")
    for b in (1, 7, 64):
        got = load_hf(folder, batch_size=b).predict_proba(texts)
        np.testing.assert_allclose(got, np.asarray(alone), atol=1e-5, err_msg=f"batch {b}")
    parts = adapter.torch_parts()
    with torch.no_grad():
        logits = parts.module(adapter.encode(texts[:8])).double()
    np.testing.assert_allclose(
        torch.softmax(logits, dim=1).numpy(), np.asarray(alone[:8]), atol=1e-5
    )
    X = pd.DataFrame({"text": texts, "group": np.where(np.arange(60) % 2, "a", "b")})
    res = auditkit.audit(
        adapter, X, y, sensitive_features="group", sections=["performance", "explainability"],
        n_boot=0, options={"explain_max_rows": 8, "explain_sanity_rows": 2},
    )  # fmt: skip
    own = np.asarray(alone).argmax(axis=1)
    assert res.section("performance").get("accuracy").value == pytest.approx(
        float((own == y).mean())
    )
    ex = res.section("explainability")
    assert ex.status == "ok", ex.reason
    tokens = {m.input_feature for m in ex.metrics if m.name == "importance"}
    assert tokens and tokens <= set(SPECIAL + POS + NEG + NEUTRAL)
    assert adapter.describe()["tokenizer_padding_side"] == tok.padding_side
