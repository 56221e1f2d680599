"""``auditkit info MODEL [--json]``: what a model holds, for every kind auditkit opens."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .audit_model import CAN_RUN, KIND_NAMES, _open_model, add_model_arguments, kind_of
from .options import split_list


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "info",
        help="print what a model holds: its kind, classes, inputs and what it can run",
    )
    p.add_argument(
        "model",
        metavar="MODEL",
        help="a .ckpt written by `auditkit train`, your LightningModule's .ckpt (with "
        "--model-class), a Hugging Face model folder, or a .onnx, .skops, .pkl/.joblib file",
    )
    p.add_argument("--json", action="store_true", help="print the metadata as JSON")
    p.add_argument("--text-column", metavar="COL", help="the text column of a Hugging Face model")
    add_model_arguments(p)
    p.set_defaults(func=run)


def summary(meta: dict[str, Any], sha256: str) -> dict[str, Any]:
    """Return the metadata with the bulky preprocessing (vocabulary, categories) summarised."""
    out = dict(meta)
    prep = dict(meta.get("preprocessing") or {})
    if isinstance(prep.get("vocab"), list):
        prep["vocab_size"] = len(prep["vocab"])
        prep["vocab"] = prep["vocab"][:20]
        prep["vocab_truncated"] = True
    out["preprocessing"] = prep
    out["sha256"] = sha256
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _print(lines: list[str]) -> None:
    from ..report import visible

    # metadata is data: one screen line per line, control and bidi characters escaped
    print("\n".join(visible(line, keep_lines=False) for line in lines))


def run(args: argparse.Namespace) -> int:
    kind = kind_of(args)
    if kind == "checkpoint":
        return _checkpoint(args)
    if kind == "pickle" and not args.allow_pickle:
        return _refused_pickle(args)
    model = _open_model(args, features=split_list(args.features, option="--features"))
    d = model.describe()
    if args.json:
        print(json.dumps({"kind_of_file": kind, **d}, indent=2, sort_keys=True, default=str))
        return 0
    _print(_model_lines(kind, model, d))
    return 0


def _model_lines(kind: str, model: Any, d: dict[str, Any]) -> list[str]:
    """Return the lines ``info`` prints for a model that is not an auditkit checkpoint."""
    names = getattr(model, "class_names", None)
    if not names and getattr(model, "classes_", None) is not None:
        names = [str(c) for c in model.classes_]
    sha = d.get("file_sha256") or d.get("sha256")
    regression = getattr(model, "task", None) == "regression"
    lines = [
        f"model         {d.get('path') or model.name}",
        f"kind          {KIND_NAMES[kind]} ({d.get('kind')})",
        f"sha256        {sha}",
        f"what          {_what(kind, model, d)}",
        "classes       "
        + (
            "none: a regression predicts a number"
            if regression
            else ", ".join(str(c) for c in names)
            if names
            else "not recorded (labels are the output indices)"
        ),  # fmt: skip
        f"inputs        {_inputs(kind, model, d)}",
        f"can run       {CAN_RUN[kind]}",
        "training rows not in the file: membership inference (privacy) and drift run with "
        "--train-data FILE",
    ]
    shown = {"path", "kind", "sha256", "file_sha256", "name", "class_names", "inputs"}
    if kind == "pickle":
        lines.append("unpickled     yes (code from the file ran: --allow-pickle)")
        shown.add("unpickled")
    for k, v in sorted(d.items()):
        if k not in shown and v is not None:
            lines.append(f"{k:<13} {v}")
    return lines


def _what(kind: str, model: Any, d: dict[str, Any]) -> str:
    if kind == "huggingface":
        return f"{d.get('architecture')} ({d.get('model_type')}, {d.get('modality')}), " \
               f"{d.get('n_parameters'):,} parameters"  # fmt: skip
    if kind == "onnx":
        return f"an ONNX graph from {d.get('producer') or 'an unnamed producer'} ({d.get('mode')})"
    if kind == "lightning":
        return f"{d.get('model_class')} ({d.get('modality')}), {d.get('loaded_with')}"
    est = type(model.raw).__name__
    return f"{est} read from a {d.get('file_format')} file"


def _inputs(kind: str, model: Any, d: dict[str, Any]) -> str:
    if kind == "huggingface":
        if d.get("modality") == "text":
            col = d.get("text_column") or "the --text-column COL of --data"
            return (f"texts from {col}; tokenizer {d.get('tokenizer')}, max_length "
                    f"{d.get('max_length')}, padding {d.get('padding_side')}")  # fmt: skip
        return f"images through {d.get('image_processor')}"
    if kind == "onnx":
        graph = "; ".join(
            f"{i['name']} {i['type']} [{', '.join(i['shape'])}]" for i in d["inputs"]
        )
        fed = d.get("features") or "every column of --data but --target and --sensitive"
        if d.get("mode") == "matrix":
            graph += f" (columns: {fed if isinstance(fed, str) else ', '.join(fed)})"
        return f"{graph}; output {d.get('output')} ({d.get('output_holds')})"
    if kind == "lightning":
        if d.get("image_size"):
            norm = d.get("normalisation") or "none"
            return f"images of {'x'.join(map(str, d['image_size']))} pixels, normalisation {norm}"
        fed = d.get("features")
        return ", ".join(fed) if fed else "every column of --data but --target and --sensitive"
    cols = getattr(model.raw, "feature_names_in_", None)
    if cols is not None:
        return "columns " + ", ".join(str(c) for c in cols)
    n = getattr(model.raw, "n_features_in_", None)
    return f"{n} numeric columns (fitted without names)" if n else "as the estimator was fitted"


def _refused_pickle(args: argparse.Namespace) -> int:
    """Print what a pickle file is, without opening it (unpickling runs its code)."""
    from ..data import sha256_file

    p = Path(args.model)
    d = {"path": str(p), "kind_of_file": "pickle", "file_sha256": sha256_file(p),
         "bytes": p.stat().st_size, "loaded": False}  # fmt: skip
    why = "refused without --allow-pickle: unpickling runs code chosen by the file's author"
    if args.json:
        print(json.dumps({**d, "refused": why}, indent=2, sort_keys=True))
        return 0
    _print([
        f"model         {p}",
        f"kind          {KIND_NAMES['pickle']} ({p.suffix or 'no suffix'})",
        f"sha256        {d['file_sha256']} ({d['bytes']:,} bytes)",
        f"loading       {why}; re-save it with skops, or pass --allow-pickle if you trust it",
    ])  # fmt: skip
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    loaded = _open_model(args)
    meta = summary(loaded.meta, loaded.sha256)
    if args.json:
        print(json.dumps(meta, indent=2, sort_keys=True, allow_nan=True))
        return 0
    ds = meta.get("dataset") or {}
    test = meta.get("test_metrics") or {}
    training = meta.get("training") or {}
    hw = meta.get("hardware") or {}
    lines = [
        f"checkpoint    {args.model}",
        f"sha256        {loaded.sha256}",
        f"model         {loaded.name} (format version {meta.get('format_version')})",
        f"dataset       {ds.get('name')} (sha256 {str(ds.get('sha256'))[:16]}..., "
        f"{ds.get('n_train')} train / {ds.get('n_val')} validation / "
        f"{ds.get('n_test')} test rows)",
        f"target        {loaded.schema.target} (regression"
        + (f", in {loaded.schema.unit})" if loaded.schema.unit else ")")
        if loaded.schema.task == "regression"
        else f"classes       {', '.join(loaded.schema.class_names)}",
        "test          " + ", ".join(f"{k} {_fmt(v)}" for k, v in test.items()),
        f"training      {training.get('epochs_run')} epochs (best {training.get('best_epoch')}, "
        f"max {training.get('max_epochs')}), {_fmt(meta.get('wall_time_s'))} s, "
        f"seed {meta.get('seed')}",
        f"hardware      {hw.get('accelerator')} x{hw.get('devices')}, {hw.get('cpu')} "
        f"({hw.get('cpu_count')} CPUs, {hw.get('torch_threads')} threads), GPU {hw.get('gpu')}",
        "versions      " + ", ".join(f"{k} {v}" for k, v in (meta.get("versions") or {}).items()),
        "hparams       " + ", ".join(f"{k}={v}" for k, v in sorted(meta["hparams"].items())),
    ]
    history = meta.get("history") or []
    if history:
        # a classifier logs accuracy; a regression its root mean squared error (target units)
        score = "accuracy" if "train_accuracy" in history[0] else "rmse"
        short = "acc" if score == "accuracy" else "rmse"
        lines.append(f"epoch  train_loss  {'train_' + short:>10}  val_loss  {'val_' + short:>8}")
        for h in history:
            lines.append(
                f"{h['epoch']:>5}  {h['train_loss']:>10.4f}  {_fmt(h.get('train_' + score)):>10}  "
                f"{h['val_loss']:>8.4f}  {_fmt(h.get('val_' + score)):>8}"
            )
    _print(lines)
    return 0
