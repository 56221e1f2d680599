"""Hugging Face transformers classifiers: text (model + tokenizer) and images (+ image processor).

:class:`HuggingFaceModel` scores raw texts the way the model's own tokenizer prepares them
(batched, padded on the right, truncated to the model's length: each text gets the logits it gets
alone) and images the way its image processor does.
Its :meth:`~HuggingFaceModel.torch_parts` expose the token embedding layer, so the explanations
integrate gradients at the embeddings as for auditkit's reference LSTM, and name each value by
the tokenizer's own tokens. :func:`load_hf` opens a saved model folder: safetensors weights only,
never ``trust_remote_code``; a folder that would need it, or that lacks a piece, is refused in one
line naming what is wrong.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..data._schema import DatasetSchema, FeatureSpec
from ..exceptions import DataValidationError, ParameterError
from .base import ModelAdapter, TorchParts
from .errors import ModelFileError, UnsafeModelError, missing_dependency

if TYPE_CHECKING:
    import torch

__all__ = ["HuggingFaceModel", "load_hf"]

#: Files that hold a tokenizer (any one is enough for AutoTokenizer).
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "spiece.model",
    "sentencepiece.bpe.model", "tokenizer.model",
)  # fmt: skip
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
#: Longest input when neither the tokenizer nor the config says (BERT's).
DEFAULT_MAX_LENGTH = 512


def _texts(X: Any, column: str | None) -> list[str]:
    """Raw strings from a sequence of strings, or from the column ``column`` of a table."""
    if isinstance(X, (str, bytes)):
        raise DataValidationError(
            "Text input must be a sequence of strings (one text per row), not a single string."
        )
    if getattr(X, "columns", None) is not None:
        names = [str(c) for c in X.columns]
        if column is None:
            raise DataValidationError(
                "Text input is a table; name the column that holds the texts (text_column=, "
                f"--text-column COL). Columns: {', '.join(names)}."
            )
        if column not in names:
            raise DataValidationError(
                f"Text column {column!r} not found in the table; available: {', '.join(names)}."
            )
        X = X[column]
    values = X.tolist() if hasattr(X, "tolist") else list(X)
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise DataValidationError(
                f"Text input must hold strings; row {i} is a {type(v).__name__} ({v!r})."
            )
    return values


def hf_task(config: Any) -> Literal["classification", "regression"]:
    """Return what a transformers model predicts, from its config.

    ``problem_type == "regression"``, or one output (``num_labels == 1``) with no problem type
    (transformers then trains it with a squared error), is a regression.

    Raises
    ------
    ParameterError
        For a multi-label classifier, which auditkit does not audit.
    """
    problem = getattr(config, "problem_type", None)
    if problem == "multi_label_classification":
        raise ParameterError(
            f"The model's problem_type is {problem!r}; auditkit audits single-label "
            "classifiers and regressions."
        )
    n = int(getattr(config, "num_labels", 0) or 0)
    if problem == "regression" or (problem is None and n == 1):
        if n != 1:
            raise ParameterError(
                f"The model's problem_type is 'regression' but it has {n} outputs "
                "(num_labels); auditkit audits regressions with one output."
            )
        return "regression"
    return "classification"


def _logits_module(model: Any, pad_id: int | None, kind: str) -> Any:
    """Return a torch module mapping the encoded input (token ids or pixel values) to logits."""
    from torch import nn

    class TokenLogits(nn.Module):
        """Token ids (n, L), right-padded -> logits; the attention mask is ``ids != pad``."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            mask = (ids != pad_id).long() if pad_id is not None else None
            out: torch.Tensor = self.model(input_ids=ids, attention_mask=mask).logits
            return out

    class PixelLogits(nn.Module):
        """Pixel values as the image processor makes them (n, C, H, W) -> logits."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.model(pixel_values=pixels).logits
            return out

    return TokenLogits() if kind == "text" else PixelLogits()


class HuggingFaceModel(ModelAdapter):
    """A transformers sequence or image classifier with its tokenizer or image processor.

    A model whose ``config.problem_type`` is ``"regression"`` (one output) is a regression:
    it predicts ``logits[:, 0]``.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A ``*ForSequenceClassification`` or ``*ForImageClassification`` model.
    tokenizer : transformers tokenizer, default=None
        The model's tokenizer (text models).
    image_processor : transformers image processor, default=None
        The model's image processor (image models).
    text_column : str, default=None
        The column of a table that holds the texts (X may also be a sequence of strings).
    max_length : int, default=None
        Tokens kept per text (default: the tokenizer's ``model_max_length``, else the config's
        ``max_position_embeddings``, else 512).
    batch_size : int, default=32
        Texts or images per forward pass.
    path : path-like, default=None
        The folder the model was loaded from.

    Attributes
    ----------
    modality : {"text", "image"}
    class_names : list of str
        From ``config.id2label``, in the order of the probability columns.
    classes_ : ndarray
        ``np.arange(n_classes)``: labels are class indices; the names are in the schema.
    """

    kind = "huggingface"

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        image_processor: Any = None,
        text_column: str | None = None,
        max_length: int | None = None,
        batch_size: int = 32,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        if (tokenizer is None) == (image_processor is None):
            raise ParameterError(
                "A Hugging Face model needs its tokenizer (text) or its image processor "
                "(images), exactly one of them."
            )
        config = model.config
        n = int(getattr(config, "num_labels", 0) or 0)
        self.task = hf_task(config)
        if self.task == "classification" and n < 2:
            raise ParameterError(
                f"The model has {n} output(s) (num_labels); auditkit audits classifiers with at "
                "least 2 classes, and regressions with one output."
            )
        id2label = {int(k): str(v) for k, v in (getattr(config, "id2label", None) or {}).items()}
        self.class_names = (
            [id2label.get(i, f"LABEL_{i}") for i in range(n)]
            if self.task == "classification"
            else []
        )
        self.modality = "text" if tokenizer is not None else "image"
        self.path = Path(os.fsdecode(path)) if path is not None else None
        name = str(getattr(config, "_name_or_path", "") or "") or type(model).__name__
        if self.path is not None:
            name = self.path.name
        feature = (
            FeatureSpec(text_column or "text", "text")
            if self.modality == "text"
            else FeatureSpec("pixels", "image")
        )
        schema = DatasetSchema(
            name=name, modality=self.modality, features=(feature,), target="label",  # type: ignore[arg-type]
            class_names=tuple(self.class_names),
        )  # fmt: skip
        super().__init__(model, name=name, schema=schema)
        model.eval()
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.text_column = text_column
        self.batch_size = int(batch_size)
        self.max_length = int(max_length) if max_length is not None else self._default_length()
        self.classes_ = np.arange(n) if self.task == "classification" else None
        self._forward_args = set(inspect.signature(model.forward).parameters)
        self._sha: str | None = None

    def _default_length(self) -> int:
        if self.tokenizer is None:
            return 0
        m = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(m, int) and 0 < m < 1_000_000:
            return m
        p = getattr(self.raw.config, "max_position_embeddings", None)
        return int(p) if isinstance(p, int) and p > 0 else DEFAULT_MAX_LENGTH

    def _device(self) -> Any:
        return next(self.raw.parameters()).device

    # -- prediction -----------------------------------------------------------------------
    def _tokens(self, texts: list[str], **kw: Any) -> dict[str, Any]:
        """Tokenize one batch, padded on the right whatever the tokenizer's own side.

        Models number positions from the first column whatever the mask says (BERT, RoBERTa,
        GPT-2...), so left padding shifts a text's positions by its batch's longest text and
        its prediction depends on which texts share its batch. Padded on the right, every text
        gets the logits it gets alone (the padding is masked, and a decoder's classifier reads
        the last real token), whatever the batch; the attributions pad the same way.
        """
        enc = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length,
            return_tensors="pt", padding_side="right", **kw,
        )  # fmt: skip
        return {k: v for k, v in enc.items() if k in self._forward_args}

    def _pixels(self, X: Any) -> torch.Tensor:
        images = list(X) if not hasattr(X, "shape") else [np.asarray(x) for x in X]
        out: torch.Tensor = self.image_processor(images, return_tensors="pt")["pixel_values"]
        return out

    def _forward(self, X: Any, width: int, finish: Any) -> np.ndarray:
        """Run the model on ``X`` in batches; ``finish`` maps each batch's float64 logits."""
        import torch

        dev = self._device()
        if self.modality == "text":
            texts = _texts(X, self.text_column)
            # batches of similar length pad less; the rows go back to their order below
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        else:
            order = list(range(len(X)))
        b = self.batch_size
        batches = [order[s : s + b] for s in range(0, len(order), b)]
        out = np.zeros((len(order), width), dtype=np.float64)
        with torch.inference_mode():
            for idx in batches:
                if self.modality == "text":
                    inputs = self._tokens([texts[i] for i in idx])
                else:
                    inputs = {"pixel_values": self._pixels([X[i] for i in idx])}
                logits = self.raw(**{k: v.to(dev) for k, v in inputs.items()}).logits
                out[idx] = finish(logits.double()).cpu().numpy()
        return out

    def _proba(self, X: Any) -> Any:
        import torch

        if self.task == "regression":
            raise DataValidationError(
                f"{self.name} is a regression model (problem_type 'regression'): it predicts a "
                "number, not class probabilities."
            )
        return self._forward(X, len(self.class_names), lambda z: torch.softmax(z, dim=1))

    def _values(self, X: Any) -> Any:
        """Return the regression head's output (``logits[:, 0]``)."""
        return self._forward(X, 1, lambda z: z.reshape(len(z), -1)[:, :1])[:, 0]

    # -- gradients ------------------------------------------------------------------------
    def encode(self, X: Any) -> torch.Tensor:
        """Raw texts -> token ids (n, max_length), right-padded; images -> pixel values.

        Every text is padded to ``max_length`` tokens, as the reference LSTM pads to its own
        ``max_len``: the attributions of any subset of rows then have the same width (the
        explainability section re-explains subsets). Padding is masked, so the logits are
        those of :meth:`predict_proba`; lower ``max_length`` to make attributions cheaper.
        """
        if self.modality == "image":
            return self._pixels(X)
        texts = _texts(X, self.text_column)
        enc = self.tokenizer(
            texts, padding="max_length", truncation=True, max_length=self.max_length,
            return_tensors="pt", padding_side="right",
        )  # fmt: skip
        ids: torch.Tensor = enc["input_ids"]
        pad = self.tokenizer.pad_token_id
        mask = enc.get("attention_mask")
        if mask is not None and pad is not None and bool(((ids != pad).long() != mask).any()):
            raise DataValidationError(
                f"The tokenizer of {self.name} gives the padding token id {pad} to real text, "
                "so gradients cannot tell text from padding; explain it with "
                "method='feature_ablation' on its predictions instead."
            )
        return ids

    def decode_tokens(self, ids: Any) -> list[str]:
        """Return the tokenizer's tokens of one encoded row, padding (at the end) dropped."""
        arr = ids.detach().cpu().numpy() if hasattr(ids, "detach") else np.asarray(ids)
        pad = self.tokenizer.pad_token_id
        keep = [int(i) for i in arr.reshape(-1) if pad is None or int(i) != pad]
        return [str(t) for t in self.tokenizer.convert_ids_to_tokens(keep)]

    def torch_parts(self) -> TorchParts:
        """Return a module from encoded inputs to logits, the encoder and the embedding layer."""
        text = self.modality == "text"
        pad = self.tokenizer.pad_token_id if text else None
        module = _logits_module(self.raw, pad, self.modality)
        module.eval()
        extras: dict[str, Any] = {"modality": self.modality, "model_name": self.name}
        if self.task == "regression":
            extras["task"] = "regression"  # output 0 of the logits is the predicted number
        if text:
            extras.update(
                padding_masked=pad is not None,  # TokenLogits masks ``ids == pad``
                pad_id=pad if pad is not None else 0,
                unk_id=self.tokenizer.unk_token_id,
                special_ids=sorted(set(self.tokenizer.all_special_ids)),
            )
        return TorchParts(
            module=module,
            encode=self.encode,
            feature_names=["tokens" if text else "pixels"],
            embedding=self.raw.get_input_embeddings() if text else None,
            decode_tokens=self.decode_tokens if text else None,
            extras=extras,
        )

    # -- description ----------------------------------------------------------------------
    def fingerprint(self) -> str | None:
        """Hash of the weights (tensor names and bytes, in name order)."""
        import torch

        if self._sha is None:
            h = hashlib.sha256()
            for key, value in sorted(self.raw.state_dict().items()):
                t = value.detach().cpu().contiguous()
                if t.dtype == torch.bfloat16:  # numpy has no bfloat16
                    t = t.float()
                h.update(key.encode())
                h.update(t.numpy().tobytes())
            self._sha = h.hexdigest()
        return self._sha

    def describe(self) -> dict[str, Any]:
        """Return the architecture, labels, preprocessing and where the model came from."""
        import transformers

        cfg = self.raw.config
        d = super().describe()
        d.update(
            path=str(self.path) if self.path is not None else None,
            modality=self.modality,
            model_type=getattr(cfg, "model_type", None),
            architecture=type(self.raw).__name__,
            class_names=list(self.class_names),
            n_parameters=int(sum(p.numel() for p in self.raw.parameters())),
            transformers_version=transformers.__version__,
            gradients=True,
        )
        if self.modality == "text":
            d.update(
                tokenizer=type(self.tokenizer).__name__,
                max_length=self.max_length,
                padding_side="right",  # always (see _tokens); the tokenizer's own side below
                tokenizer_padding_side=getattr(self.tokenizer, "padding_side", "right"),
                text_column=self.text_column,
            )
        else:
            d["image_processor"] = type(self.image_processor).__name__
        return d


# ---------------------------------------------------------------------------------- loading
def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path} is not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelFileError(f"{path} does not hold a JSON object.")
    return data


def check_folder(directory: Path) -> tuple[dict[str, Any], str]:
    """Check a model folder before anything in it is loaded; return its config and modality.

    Raises
    ------
    UnsafeModelError
        When the model needs ``trust_remote_code`` (an ``auto_map``, or an architecture that
        transformers does not have).
    ModelFileError
        When the folder, ``config.json``, the safetensors weights or the tokenizer / image
        processor is missing (one line naming it).
    """
    import transformers

    if not directory.is_dir():
        raise ModelFileError(f"Hugging Face model folder {directory} not found.")
    cfg_path = directory / "config.json"
    if not cfg_path.is_file():
        raise ModelFileError(
            f"{directory} has no config.json: it is not a saved transformers model."
        )
    cfg = _read_json(cfg_path)
    remote = []
    side_files = [directory / "tokenizer_config.json", *(directory / p for p in PROCESSOR_FILES)]
    for f in (cfg_path, *side_files):
        if f.is_file() and "auto_map" in (cfg if f == cfg_path else _read_json(f)):
            remote.append(f.name)
    archs = [str(a) for a in cfg.get("architectures") or []]
    custom = [a for a in archs if not hasattr(transformers, a)]
    heads = ("ForSequenceClassification", "ForImageClassification")
    if remote or custom:
        why = f"auto_map in {', '.join(remote)}" if remote else f"architecture {custom[0]!r}"
        raise UnsafeModelError(
            f"{directory} needs trust_remote_code ({why} is code shipped with the model, not part "
            "of transformers); auditkit never runs code from a model folder. Use a model whose "
            "architecture transformers provides."
        )
    if archs and not custom and not any(a.endswith(heads) for a in archs):
        raise ModelFileError(
            f"{directory} holds a {archs[0]}, not a sequence or image classifier: a "
            "classification head would start from random weights, so it is not audited."
        )
    weights = sorted(directory.glob("*.safetensors"))
    if not weights:
        pickled = sorted(p.name for p in directory.glob("*.bin")) + sorted(
            p.name for p in directory.glob("*.pt*")
        )
        also = (
            f" (it has {', '.join(pickled)}: pickle weights, which are never loaded)"
            if pickled
            else ""
        )
        raise ModelFileError(
            f"{directory} has no safetensors weights{also}; re-save the model with "
            "save_pretrained(safe_serialization=True)."
        )
    has_tok = any((directory / f).is_file() for f in TOKENIZER_FILES)
    has_proc = any((directory / f).is_file() for f in PROCESSOR_FILES)
    image = any(a.endswith("ForImageClassification") for a in archs)
    if image and not has_proc:
        raise ModelFileError(
            f"{directory} has no image processor (preprocessor_config.json); save it next to "
            "the model with image_processor.save_pretrained(folder)."
        )
    if not image and not has_tok:
        raise ModelFileError(
            f"{directory} has no tokenizer (tokenizer.json, tokenizer_config.json or a vocabulary "
            "file); save it next to the model with tokenizer.save_pretrained(folder)."
        )
    return cfg, "image" if image else "text"


def load_hf(
    directory: str | os.PathLike[str],
    *,
    text_column: str | None = None,
    max_length: int | None = None,
    batch_size: int = 32,
    device: Any = None,
) -> HuggingFaceModel:
    """Open a saved transformers classifier folder, safely, and return its adapter.

    Parameters
    ----------
    directory : str or path-like
        A folder written by ``save_pretrained``: ``config.json``, ``*.safetensors`` and the
        tokenizer or image processor.
    text_column : str, default=None
        The column of a table that holds the texts.
    max_length : int, default=None
        Tokens kept per text (default: the tokenizer's).
    batch_size : int, default=32
        Rows per forward pass.
    device : str or torch.device, default=None
        Where the model runs (default: the CPU).

    Returns
    -------
    HuggingFaceModel

    Raises
    ------
    UnsafeModelError
        When the model needs ``trust_remote_code``.
    ModelFileError
        When a piece is missing (config, safetensors weights, tokenizer or image processor).
    """
    d = Path(os.fsdecode(directory))
    try:
        import transformers
    except ImportError as exc:
        raise missing_dependency("transformers", "hf", f"the Hugging Face model {d}") from exc
    _, modality = check_folder(d)
    common: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
    auto = (
        transformers.AutoModelForSequenceClassification
        if modality == "text"
        else transformers.AutoModelForImageClassification
    )
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # auditkit shows no progress bars unless asked
    try:
        model, info = auto.from_pretrained(
            str(d), use_safetensors=True, output_loading_info=True, **common
        )
        if modality == "text":
            pre = {"tokenizer": transformers.AutoTokenizer.from_pretrained(str(d), **common)}
        else:
            proc = transformers.AutoImageProcessor.from_pretrained(str(d), **common)
            pre = {"image_processor": proc}
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{d} could not be loaded by transformers: {first}") from exc
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        raise ModelFileError(
            f"{d}: the safetensors weights lack {len(missing)} tensor(s) the model needs "
            f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); they would be "
            "random, so the model is not audited."
        )
    if device is not None:
        model = model.to(device)
    return HuggingFaceModel(
        model, text_column=text_column, max_length=max_length, batch_size=batch_size, path=d,
        **pre,
    )  # fmt: skip
