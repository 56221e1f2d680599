"""``auditkit train NAME --out model.ckpt``: train a reference model and write its checkpoint."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..exceptions import ParameterError


def _devices(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int or 'auto', got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 device, got {n}")
    return n


def _hparam(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train a reference model on its bundled dataset and write a checkpoint",
        description="Train a reference model (see `auditkit models`) with a Lightning Trainer "
        "and write a safe .ckpt file with its learning curves, test metrics and hardware.",
    )
    p.add_argument(
        "name", help="reference model name, for example adult-mlp (see `auditkit models`)"
    )
    p.add_argument("--out", required=True, metavar="FILE", help="checkpoint file to write (.ckpt)")
    p.add_argument("--max-epochs", type=int, default=None, metavar="N",
                   help="maximum number of epochs (default: the model's own)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--accelerator", default="auto",
                   help="auto (the GPU when available), cpu, gpu...")  # fmt: skip
    p.add_argument("--devices", type=_devices, default="auto", metavar="N",
                   help="number of devices, or auto (default)")  # fmt: skip
    p.add_argument("--strategy", default="auto",
                   help="Lightning strategy (default: auto); with --devices N > 1, ddp (or "
                   "ddp_spawn) trains in N processes started by auditkit")  # fmt: skip
    p.add_argument("--limit-train-rows", type=int, default=None, metavar="N",
                   help="train on a seeded subset of N training rows (quick runs)")  # fmt: skip
    p.add_argument("--hparam", type=_hparam, action="append", default=[], metavar="KEY=VALUE",
                   help="set a hyper-parameter (repeatable): --hparam lr=0.003")  # fmt: skip
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads (default: the model's; 1 on a busy machine)")  # fmt: skip
    p.add_argument("--dp-epsilon", type=float, default=None, metavar="E",
                   help="train with differential privacy (DP-SGD) to epsilon E")  # fmt: skip
    p.add_argument("--dp-delta", type=float, default=None, metavar="D",
                   help="delta of DP training (default: 1 / number of training rows)")  # fmt: skip
    p.add_argument("--max-grad-norm", type=float, default=1.0, metavar="C",
                   help="per-sample clipping bound of DP training (default: 1.0)")  # fmt: skip
    p.add_argument("--force", action="store_true", help="overwrite an existing checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import train

    overrides = dict(args.hparam)
    reserved = {
        "out", "seed", "max_epochs", "accelerator", "devices", "strategy", "num_threads",
        "dp_epsilon", "dp_delta", "max_grad_norm",
    }  # fmt: skip
    clash = sorted(reserved & set(overrides))
    if clash:
        raise ParameterError(
            f"Use --{clash[0].replace('_', '-')} instead of --hparam {clash[0]}=..."
        )
    path = train(
        args.name,
        out=args.out,
        max_epochs=args.max_epochs,
        seed=args.seed,
        accelerator=args.accelerator,
        devices=args.devices,
        strategy=args.strategy,
        show_progress=not args.quiet,
        limit_train_rows=args.limit_train_rows,
        overwrite=args.force,
        num_threads=args.threads,
        dp_epsilon=args.dp_epsilon,
        dp_delta=args.dp_delta,
        max_grad_norm=args.max_grad_norm,
        **overrides,
    )
    from ..runtime.devices import is_rank_zero

    if is_rank_zero():  # under an outside launcher (torchrun) the other ranks print nothing
        from ..report import visible

        print(visible(path, keep_lines=False))
    return 0
