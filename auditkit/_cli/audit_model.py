"""``auditkit audit MODEL``: recognise what MODEL is, open it, read its data and audit it.

The kinds (:func:`auditkit.models.kinds.model_kind`): an auditkit checkpoint, a user's
LightningModule checkpoint (``--model-class``), a Hugging Face model folder, an ONNX file, a
scikit-learn model saved with skops, and a pickle (only with ``--allow-pickle``). An auditkit
checkpoint carries its data (its own test split, a bundled dataset or ``--data FILE``); every
other kind is audited on ``--data FILE --target COL`` or on ``--data DIR`` (an image folder with
one sub-folder per class).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
from pathlib import Path
from typing import Any

from ..exceptions import ParameterError
from ..result import AuditResult
from .options import (
    TABLE_SUFFIXES,
    _check_text_column,
    _common_kwargs,
    _existing_file,
    _explain_rows,
    _with_file,
    class_codes,
    run_options,
    split_list,
)

#: What each kind is, in the words of the one line that says what was found.
KIND_NAMES = {
    "checkpoint": "auditkit checkpoint",
    "lightning": "LightningModule checkpoint",
    "huggingface": "Hugging Face model",
    "onnx": "ONNX model",
    "skops": "scikit-learn model saved with skops",
    "pickle": "pickled model",
}
#: What each kind can run: gradients (attributions, sanity check) and retraining.
CAN_RUN = {
    "lightning": "gradients: yes (integrated gradients); retraining: no (the training loop is "
    "yours: stability re-evaluates on folds, membership inference has no reference models)",
    "huggingface": "gradients: yes (layer integrated gradients at the token embeddings, or "
    "over the pixels); retraining: no (stability re-evaluates on folds, membership inference "
    "has no reference models)",
    "onnx": "gradients: no (attributions by feature ablation through the outputs; no sanity "
    "check); retraining: no (stability re-evaluates on folds)",
    "skops": "gradients: no (attributions by feature ablation; no sanity check); retraining: "
    "yes (scikit-learn refits a clone: stability per fold, reference models for membership "
    "inference)",
}
CAN_RUN["pickle"] = CAN_RUN["skops"]
_CKPT_SUFFIXES = (".ckpt", ".pt", ".pth")
_DEVICE = re.compile(r"cpu|cuda(:\d+)?")


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """Add the options that open a model that is not an auditkit checkpoint."""
    g = p.add_argument_group("models that are not auditkit checkpoints")
    g.add_argument(
        "--model-class",
        metavar="PKG.MODULE:NET|FILE.py:NET",
        help="the LightningModule class of a .ckpt you trained (loaded weights-only with its "
        "load_from_checkpoint)",
    )
    g.add_argument(
        "--features",
        metavar="A,B,...",
        help="the columns fed to a LightningModule or a one-input ONNX model, in order "
        "(default: every column of --data but --target and --sensitive, in file order)",
    )
    g.add_argument(
        "--image-size",
        metavar="N|H,W",
        help="the size images are resized to (makes a LightningModule an image model)",
    )
    g.add_argument(
        "--image-column",
        metavar="COL",
        help="the column of a --data CSV/Parquet file that holds image paths (relative to the "
        "file's folder), for an image model; the file's other columns give --target and "
        "--sensitive",
    )
    g.add_argument(
        "--trust",
        metavar="TYPE,...",
        help="types a .skops file may create besides scikit-learn, numpy and scipy ones",
    )
    g.add_argument(
        "--allow-pickle",
        action="store_true",
        help="unpickle a .pkl/.joblib file: this runs code from the file; only if you trust it",
    )
    g.add_argument(
        "--device",
        metavar="cpu|cuda[:i]",
        help="where a LightningModule or a Hugging Face model runs (default: the CPU)",
    )


def image_size(text: str | None) -> int | tuple[int, int] | None:
    """Parse ``--image-size N`` or ``H,W``."""
    if text is None:
        return None
    parts = [s.strip() for s in text.split(",")]
    try:
        sizes = [int(s) for s in parts]
    except ValueError:
        sizes = []
    if len(sizes) not in (1, 2) or min(sizes) < 1:
        raise ParameterError(f"--image-size takes N or H,W (pixels >= 1); got {text!r}.")
    return sizes[0] if len(sizes) == 1 else (sizes[0], sizes[1])


def device(text: str | None) -> str | None:
    """Check ``--device cpu|cuda[:i]`` (a GPU that is not there is refused here)."""
    if text is None:
        return None
    if not _DEVICE.fullmatch(text):
        raise ParameterError(f"--device takes cpu, cuda or cuda:INDEX; got {text!r}.")
    if text.startswith("cuda"):
        import torch

        index = int(text.partition(":")[2] or 0)
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            raise ParameterError(f"--device {text}: no such CUDA device on this machine.")
    return text


def kind_of(args: argparse.Namespace) -> str:
    """Return the kind of ``args.model``, from its header only (nothing in it runs)."""
    from ..models.kinds import model_kind

    p = Path(args.model)
    if not os.path.lexists(p):
        what = "Checkpoint" if p.suffix.lower() in _CKPT_SUFFIXES else "Model"
        raise ParameterError(f"{what} {args.model!r} does not exist.")
    if not p.is_dir():
        _existing_file(args.model, "Model")  # a FIFO or a device: refused before it is opened
    kind: str = model_kind(p, model_class=getattr(args, "model_class", None))
    if args.model_class and kind != "lightning":
        raise ParameterError(
            f"--model-class names the LightningModule of a .ckpt/.pt file; {p.name} is a "
            f"{KIND_NAMES[kind]}."
        )
    if getattr(args, "trust", None) and kind != "skops":
        raise ParameterError(f"--trust goes with a .skops file; {p.name} is a {KIND_NAMES[kind]}.")
    if getattr(args, "device", None) and kind in ("onnx", "skops", "pickle"):
        raise ParameterError(
            f"--device goes with a LightningModule or a Hugging Face model; {p.name} is a "
            f"{KIND_NAMES[kind]}, which runs on the CPU."
        )
    if getattr(args, "image_size", None) and kind not in ("lightning", "huggingface"):
        raise ParameterError(
            f"--image-size goes with a LightningModule or a Hugging Face image model; {p.name} "
            f"is a {KIND_NAMES[kind]}."
        )
    return kind


def _open_model(args: argparse.Namespace, *, features: list[str] | None = None) -> Any:
    """Open ``args.model`` with the loader of its kind (an adapter, or a LoadedModel)."""
    from ..models.kinds import open_model_file

    return open_model_file(
        args.model,
        model_class=args.model_class,
        features=features,
        image_size=image_size(args.image_size),
        trust=split_list(args.trust, option="--trust") or (),
        allow_pickle=bool(args.allow_pickle),
        # an auditkit checkpoint takes its text column in as_adapter (the CLI checks it first)
        text_column=getattr(args, "text_column", None) if kind_of(args) == "huggingface" else None,
        map_location=device(args.device),
    )


def found_line(kind: str, model: Any, path: str) -> str:
    """One line: what the model is (kind, name, modality, classes)."""
    if kind == "checkpoint":
        name, modality = model.name, model.module.modality
        classes = list(model.schema.class_names)
    else:
        name = Path(path).name
        modality = _modality(model)
        classes = [str(c) for c in _class_names(model) or []]
    shown = ", ".join(classes[:6]) + (", ..." if len(classes) > 6 else "")
    what = f"{len(classes)} classes: {shown}" if classes else "classes from the labels"
    if getattr(model, "task", None) == "regression":
        what = "regression: predicts a number"
    return f"Model: {KIND_NAMES[kind]} {name} ({modality}; {what})"


def _modality(model: Any) -> str:
    m = getattr(model, "modality", None)
    if m is None and getattr(model, "image_size", None):
        m = "image"
    if m is None and getattr(model, "mode", None) == "image":
        m = "image"
    return str(m or "tabular")


def _class_names(model: Any) -> list[Any] | None:
    names = getattr(model, "class_names", None)
    if names:
        return list(names)
    classes = getattr(model, "classes_", None)
    return None if classes is None else list(classes)


def audit_model(args: argparse.Namespace) -> AuditResult:
    """Audit ``args.model`` of whatever kind it is."""
    if args.y_true or args.y_pred or args.y_score:
        raise ParameterError("--y-true, --y-pred and --y-score go with --predictions.")
    if getattr(args, "label_map", None) or getattr(args, "sample_weight", None):
        raise ParameterError("--label-map and --sample-weight go with --predictions.")
    if args.reduce is not None or args.memory_limit or args.log_loss:
        raise ParameterError(
            "--out-of-core, --in-memory, --memory-limit and --log-loss go with --predictions."
        )
    kind = kind_of(args)
    if kind == "checkpoint":
        own = [o for o, v in (("--features", args.features), ("--image-size", args.image_size),
                              ("--device", args.device)) if v]  # fmt: skip
        if own:
            raise ParameterError(
                f"{', '.join(own)} go(es) with other kinds of model; an auditkit checkpoint "
                "knows its inputs (and is scored on several devices with --devices N)."
            )
        return _audit_checkpoint(args)
    return _audit_other(args, kind)


def _audit_checkpoint(args: argparse.Namespace) -> AuditResult:
    from .. import audit
    from ..data import did_you_mean, format_available, list_datasets, load_dataset, load_table
    from ..report import visible

    model_path = _existing_file(args.model, "Checkpoint")
    if args.data is not None and os.path.lexists(args.data):
        _existing_file(args.data, "Data file")  # a FIFO or device: refused before the model loads
    kwargs = _common_kwargs(args)
    sens = split_list(args.sensitive, option="--sensitive")
    loaded = _open_model(args)
    print(visible(found_line("checkpoint", loaded, args.model), keep_lines=False))
    model: Any = loaded
    devices, budget = getattr(args, "devices", None), getattr(args, "memory_budget", None)
    text_col = getattr(args, "text_column", None)
    if text_col is not None and loaded.module.modality != "text":
        raise ParameterError(
            f"--text-column goes with a text model; {loaded.name} is a "
            f"{loaded.module.modality} model."
        )
    if devices is not None or budget is not None or text_col is not None:
        if devices is not None and devices < 1:
            raise ParameterError(f"--devices takes a number >= 1; got {devices}.")
        if budget is not None and not budget > 0:
            raise ParameterError(f"--memory-budget takes a number of MiB > 0; got {budget}.")
        model = loaded.as_adapter(devices=devices, memory_budget_mb=budget, text_column=text_col)
    X: Any = None
    y: Any = None
    train: Any = None
    data_file: Path | None = None
    if args.data is not None:
        looks_like_file = (
            Path(args.data).suffix.lower() in TABLE_SUFFIXES or Path(args.data).exists()
        )
        if looks_like_file:
            if not args.target:
                raise ParameterError(
                    f"--data {args.data} is a file; name its label column with --target."
                )
            data_file = _existing_file(args.data, "Data file")
            table = load_table(data_file, target=args.target, sensitive_features=sens)
            X, y = table.X, class_codes(table.y, loaded.schema.class_names)
            if loaded.module.modality == "text":  # texts come from one column, by name
                own = getattr(loaded.module, "text_column", loaded.schema.feature_names[0])
                _check_text_column(text_col, own, X, data_file)
        else:
            names = list_datasets()
            if args.data not in names:
                raise ParameterError(
                    f"--data {args.data!r} is neither a file nor a bundled dataset"
                    f"{did_you_mean(args.data, names)}; datasets: {format_available(names)}."
                )
            if args.target:
                raise ParameterError("--target names the label column of a --data file only.")
            ds = load_dataset(args.data)
            if ds.name != loaded.schema.name:
                X, y, train = ds.test.X, ds.test.y, (ds.train.X, ds.train.y)
            # else: the checkpoint's own dataset, which audit() takes with its fitted rows
    elif args.target:
        raise ParameterError("--target needs --data FILE.")
    if text_col is not None and data_file is None:
        raise ParameterError("--text-column names the text column of a --data FILE.")
    if getattr(args, "train_data", None) is not None and data_file is None:
        raise ParameterError(
            "--train-data goes with --data FILE; on a bundled dataset an auditkit checkpoint "
            "is audited with the training rows its weights were fitted on."
        )
    read = _read_train(args, data_file, sens, X)
    if read is not None:
        train = (read[0], class_codes(read[1], loaded.schema.class_names))
    result = audit(
        model,
        X,
        y,
        sensitive_features=sens,
        train=train,
        options={**_explain_rows(args), **run_options(args)},
        provenance={"command": " ".join(args.argv)},
        **kwargs,
    )
    result = _with_file(result, "model", model_path, key="checkpoint")
    if data_file is not None:
        result = _with_file(result, "data", data_file)
    return _with_train_file(result, read)


def _audit_other(args: argparse.Namespace, kind: str) -> AuditResult:
    """Audit a model that is not an auditkit checkpoint on ``--data FILE`` or ``--data DIR``."""
    from .. import audit
    from ..report import visible

    name = Path(args.model).name
    if getattr(args, "devices", None) is not None or getattr(args, "memory_budget", None):
        raise ParameterError(
            f"--devices and --memory-budget go with an auditkit checkpoint; {name} is a "
            f"{KIND_NAMES[kind]} (choose where it runs with --device)."
        )
    if args.features and kind not in ("lightning", "onnx"):
        raise ParameterError(
            f"--features names the columns of a LightningModule or an ONNX model; {name} is a "
            f"{KIND_NAMES[kind]}."
        )
    device(args.device)  # a bad --device fails before any work
    if kind == "pickle" and not args.allow_pickle:
        _open_model(args)  # refused (exit 2) before any data is read; the file is not opened
    kwargs = _common_kwargs(args)
    sens = split_list(args.sensitive, option="--sensitive")
    X, y, data_file, folder_classes = _read_data(args, kind, name, sens)
    image_paths = _image_paths(args, kind, X, data_file)
    images = folder_classes is not None or image_paths is not None
    read = None if images else _read_train(args, data_file, sens, X)
    X_train: Any = None if read is None else read[0]
    y_train: Any = None if read is None else read[1]
    features = split_list(args.features, option="--features")
    if features is None and data_file is not None and kind in ("lightning", "onnx"):
        if not (kind == "lightning" and args.image_size) and image_paths is None:
            features = [str(c) for c in X.columns if str(c) not in set(sens or ())]
    model = _open_model(args, features=features)
    _check_text(args, model, X, data_file, name)
    sensitive: Any = sens
    if folder_classes is not None:
        model, X, y = _image_folder(args, model, X, y, folder_classes)
    elif image_paths is not None:  # images listed in a table: its columns are y and the groups
        sensitive = X[sens] if sens else None
        model, X, y = _image_folder(args, model, image_paths, y, None)
        data_file = None  # the table's columns are not the model's input (no column checks)
    if images:  # the training images, read like the evaluation ones
        read = _read_train_images(args, kind, model, X.shape[1:3], folder_classes, sens)
        X_train, y_train = (None, None) if read is None else read[:2]
    print(visible(found_line(kind, model, args.model), keep_lines=False))
    if (
        features is not None
        and data_file is not None
        and getattr(model, "mode", None) != "columns"
    ):
        from ..data import check_columns

        # the model sees its features only; the sensitive columns go to the audit by value
        check_columns(features, [str(c) for c in X.columns], where=data_file.name)
        sensitive = X[sens] if sens else None
        X = X[features]
        if read is not None:
            check_columns(features, [str(c) for c in X_train.columns], where=read[2].name)
            X_train = X_train[features]
    names = getattr(model, "class_names", None)
    if names and data_file is not None:
        y = class_codes(y, names)  # labels written as the model's class names
        if read is not None:
            y_train = class_codes(y_train, names)
    if data_file is not None and args.target and not hasattr(y, "name"):
        import pandas as pd

        y = pd.Series(y, name=args.target)  # a regression's card names its target
    result = audit(
        model,
        X,
        y,
        sensitive_features=sensitive,
        train=None if read is None else (X_train, y_train),
        options={**_explain_rows(args), **run_options(args)},
        provenance={"command": " ".join(args.argv)},
        **kwargs,
    )
    if kind != "huggingface":
        result = _with_file(result, "model", Path(args.model))
    if data_file is not None:
        result = _with_file(result, "data", data_file)
    return _with_train_file(result, read)


def _read_train(
    args: argparse.Namespace, data_file: Path | None, sens: list[str] | None, X: Any
) -> tuple[Any, Any, Path] | None:
    """(X_train, y_train, file) from ``--train-data``: the columns of ``--data``, in its order.

    The training file must hold the evaluation file's columns (the target and the sensitive
    columns included); a missing one is named before the model scores anything.
    """
    path = getattr(args, "train_data", None)
    if path is None or data_file is None:
        return None
    from ..data import check_columns, load_table

    train_file = _existing_file(path, "Training data file")
    if train_file.resolve() == data_file.resolve():
        raise ParameterError(
            f"--train-data and --data are the same file ({data_file.name}): membership "
            "inference needs rows the model was trained on and rows it was not."
        )
    table = load_table(train_file, target=args.target, sensitive_features=sens)
    want = [str(c) for c in X.columns]
    check_columns(want, [str(c) for c in table.X.columns], where=train_file.name)
    return table.X[want], table.y, train_file


def _read_train_images(
    args: argparse.Namespace, kind: str, model: Any, hw: tuple[int, int],
    folder_classes: list[str] | None, sens: list[str] | None,
) -> tuple[Any, Any, Path] | None:  # fmt: skip
    """Return (images, labels, path) from ``--train-data``, resized to the evaluation size.

    A folder like ``--data DIR`` (one sub-folder per class), or a table that lists images like
    ``--data FILE --image-column COL``.
    """
    path = getattr(args, "train_data", None)
    if path is None:
        return None

    from ..adapters.lightning import load_images, read_image_folder
    from ..data import load_table

    p = Path(path)
    if p.exists() and p.resolve() == Path(args.data).resolve():
        raise ParameterError(
            f"--train-data and --data are the same ({p.name}): membership inference needs "
            "images the model was trained on and images it was not."
        )
    own = [str(c) for c in getattr(model, "class_names", None) or []]
    numbered = own == [str(i) for i in range(len(own))]
    if folder_classes is not None:
        if not p.is_dir():
            raise ParameterError(
                f"--data {args.data} is an image folder; --train-data must be one too (one "
                f"sub-folder per class); {path!r} is not a folder."
            )
        paths, idx, classes = read_image_folder(p)
        ref = own if own and not numbered else [str(c) for c in folder_classes]
        return load_images(paths, hw), _folder_labels(idx, classes, ref, f"--train-data {path}"), p
    train_file = _existing_file(path, "Training data file")
    table = load_table(train_file, target=args.target, sensitive_features=sens)
    image_paths = _image_paths(args, kind, table.X, train_file)
    assert image_paths is not None  # --data lists images with --image-column
    y = class_codes(table.y, own) if own and not numbered else table.y
    return load_images(image_paths, hw), y, train_file


def _with_train_file(result: AuditResult, read: tuple[Any, Any, Path] | None) -> AuditResult:
    """Record the training file's name and sha256 (a folder's name) in the data block."""
    if read is None:
        return result
    if read[2].is_dir():
        return dataclasses.replace(result, data={**result.data, "train_folder": read[2].name})
    return _with_file(result, "data", read[2], key="train_file")


def _read_data(
    args: argparse.Namespace, kind: str, name: str, sens: list[str] | None
) -> tuple[Any, Any, Path | None, list[str] | None]:
    """(X, y, data file or None, class names of an image folder or None) from ``--data``."""
    from ..data import load_table

    what = KIND_NAMES[kind]
    if args.data is None:
        raise ParameterError(
            f"A {what} carries no data: audit {name} on --data FILE --target COL (a CSV or "
            "Parquet file), or --data DIR (images, one sub-folder per class)."
        )
    p = Path(args.data)
    if p.is_dir():
        if kind not in ("lightning", "huggingface"):
            raise ParameterError(
                f"--data {args.data} is a folder of images; {name} is a {what}: audit it on "
                "--data FILE --target COL."
            )
        if args.target or sens:
            raise ParameterError(
                f"--data {args.data} is an image folder: its labels are its sub-folders and it "
                "has no columns, so it takes no --target or --sensitive."
            )
        from ..adapters.lightning import read_image_folder

        paths, y, classes = read_image_folder(p)
        return paths, y, None, classes
    if not os.path.lexists(p) and p.suffix.lower() not in TABLE_SUFFIXES:
        raise ParameterError(
            f"--data {args.data!r} is not a file or folder (bundled datasets go with auditkit "
            f"checkpoints); audit the {what} {name} on --data FILE --target COL."
        )
    if not args.target:
        raise ParameterError(f"--data {args.data} is a file; name its label column with --target.")
    data_file = _existing_file(args.data, "Data file")
    table = load_table(data_file, target=args.target, sensitive_features=sens)
    return table.X, table.y, data_file, None


def _check_text(
    args: argparse.Namespace, model: Any, X: Any, data_file: Path | None, name: str
) -> None:
    """Check --text-column: a Hugging Face text model needs it; other models take none."""
    text_col = getattr(args, "text_column", None)
    is_text = getattr(model, "modality", None) == "text"
    if not is_text:
        if text_col is not None:
            raise ParameterError(f"--text-column goes with a text model; {name} is not one.")
        return
    if data_file is None:
        raise ParameterError(f"{name} is a text classifier: audit it on --data FILE --target COL.")
    if text_col is None:
        raise ParameterError(
            f"{name} is a text classifier: name the column of {data_file.name} that holds the "
            "texts with --text-column COL."
        )
    _check_text_column(text_col, text_col, X, data_file)


def _image_paths(
    args: argparse.Namespace, kind: str, X: Any, data_file: Path | None
) -> list[str] | None:
    """Return the image files a table lists in ``--image-column`` (relative to its folder)."""
    col = getattr(args, "image_column", None)
    if col is None:
        return None
    if kind not in ("lightning", "huggingface") or data_file is None:
        raise ParameterError(
            "--image-column names the image-path column of a --data FILE, for a LightningModule "
            "(with --image-size) or a Hugging Face image classifier."
        )
    from ..data import check_columns

    check_columns([col], [str(c) for c in X.columns], where=data_file.name)
    out = []
    for v in X[col].tolist():
        if not isinstance(v, str) or not v.strip():
            raise ParameterError(
                f"Column {col!r} of {data_file.name} holds {v!r}, not an image path."
            )
        q = Path(v) if Path(v).is_absolute() else data_file.parent / v
        if not q.is_file():
            raise ParameterError(
                f"Image {v!r} (column {col!r} of {data_file.name}) is not a file."
            )
        out.append(str(q))
    return out


def _image_folder(
    args: argparse.Namespace, model: Any, paths: list[str], y: Any, classes: list[str] | None
) -> tuple[Any, Any, Any]:
    """Read image files as arrays; an image folder's sub-folders are the model's classes."""
    from ..adapters.lightning import UserLightningModel, load_images

    size = image_size(args.image_size) or getattr(model, "image_size", None)
    proc = getattr(model, "image_processor", None)
    if size is None and proc is not None:  # the processor's own size
        s = getattr(proc, "size", None)
        get = s.get if isinstance(s, dict) else (lambda k: getattr(s, k, None))
        h, w = get("height"), get("width")
        size = (h, w) if h and w else get("shortest_edge")
    if getattr(model, "modality", None) == "text" or (
        isinstance(model, UserLightningModel) and model.image_size is None
    ):
        raise ParameterError(
            f"--data {args.data} is a folder of images; for a LightningModule that takes images "
            "give their size with --image-size N or H,W."
        )
    if not size:
        raise ParameterError("Give the size images are resized to with --image-size N or H,W.")
    hw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    X = load_images(paths, hw)
    own = [str(c) for c in getattr(model, "class_names", None) or []]
    numbered = own == [str(i) for i in range(len(own))]
    if classes is None:  # labels from the table's --target: the model's class names or indices
        if own and not numbered:
            y = class_codes(y, own)
        return model, X, y
    if own and not numbered:
        y = _folder_labels(y, classes, own, str(args.data))
    elif isinstance(model, UserLightningModel):  # the sub-folders name the module's outputs
        model = UserLightningModel(
            model.raw, image_size=hw, mean=model.mean, std=model.std,
            class_names=classes, batch_size=model.batch_size, path=model.path,
            model_class=model.model_class,
        )  # fmt: skip
    return model, X, y


def _folder_labels(idx: Any, classes: list[str], names: list[str], where: str) -> Any:
    """Map an image folder's labels (indices into its sub-folders) onto the model's ``names``."""
    import numpy as np

    missing = [c for c in classes if c not in names]
    if missing:
        raise ParameterError(
            f"Sub-folder {missing[0]!r} of {where} is not a class of the model; its classes are "
            f"{', '.join(names)}."
        )
    return np.asarray([names.index(classes[k]) for k in idx], dtype=np.int64)
