"""``auditkit info model.ckpt [--json]``: print a checkpoint's metadata."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("info", help="print the metadata of a checkpoint")
    p.add_argument("checkpoint", help="a .ckpt file written by `auditkit train`")
    p.add_argument("--json", action="store_true", help="print the metadata as JSON")
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


def run(args: argparse.Namespace) -> int:
    from .. import load_checkpoint

    loaded = load_checkpoint(args.checkpoint)
    meta = summary(loaded.meta, loaded.sha256)
    if args.json:
        print(json.dumps(meta, indent=2, sort_keys=True, allow_nan=True))
        return 0
    ds = meta.get("dataset") or {}
    test = meta.get("test_metrics") or {}
    training = meta.get("training") or {}
    hw = meta.get("hardware") or {}
    lines = [
        f"checkpoint    {args.checkpoint}",
        f"sha256        {loaded.sha256}",
        f"model         {loaded.name} (format version {meta.get('format_version')})",
        f"dataset       {ds.get('name')} (sha256 {str(ds.get('sha256'))[:16]}..., "
        f"{ds.get('n_train')} train / {ds.get('n_val')} validation / "
        f"{ds.get('n_test')} test rows)",
        f"classes       {', '.join(loaded.schema.class_names)}",
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
        lines.append("epoch  train_loss  train_acc  val_loss  val_acc")
        for h in history:
            lines.append(
                f"{h['epoch']:>5}  {h['train_loss']:>10.4f}  {h['train_accuracy']:>9.4f}  "
                f"{h['val_loss']:>8.4f}  {h['val_accuracy']:>7.4f}"
            )
    from ..report import visible

    # metadata is data: one screen line per line, control and bidi characters escaped
    print("\n".join(visible(line, keep_lines=False) for line in lines))
    return 0
