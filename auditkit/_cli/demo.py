"""``auditkit demo``: train (or reuse) the Adult reference model, audit it, write the card."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

MODEL = "adult-mlp"
#: Section options of the demo: attributions on a seeded sample of the test rows keep the whole
#: demo (training included) within three minutes on two CPU cores; ``auditkit audit`` uses
#: the sections' defaults.
DEMO_OPTIONS = {"explain_max_rows": 4000}


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="train the Adult income model on bundled data, audit it and write its card",
        description=(
            "The whole story on bundled data: train the adult-mlp reference model (or reuse "
            "DIR/adult-mlp.ckpt), audit it with every section, and write audit.json, card.html "
            "and card.md to DIR."
        ),
    )
    p.add_argument("--out", metavar="DIR", default="demo-output", help="output folder")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--retrain", action="store_true", help="train even if a checkpoint exists")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from .. import audit, load_checkpoint, train
    from ..exceptions import CheckpointError
    from ..report import write_outputs
    from .audit import report_outputs

    show = not args.no_progress
    out = Path(args.out)
    ckpt = out / f"{MODEL}.ckpt"
    t0 = time.perf_counter()
    loaded = None
    if ckpt.exists() and not args.retrain:
        try:
            loaded = load_checkpoint(ckpt)
            print(f"Reusing {ckpt}", file=sys.stderr)
        except CheckpointError as exc:
            from ..report import one_line

            print(f"Retraining: {one_line(str(exc))}", file=sys.stderr)
    if loaded is None:
        print(f"Training {MODEL} on the bundled Adult data...", file=sys.stderr)
        train(MODEL, out=ckpt, seed=args.seed, show_progress=show, overwrite=True)
        loaded = load_checkpoint(ckpt)
        print(f"Trained in {time.perf_counter() - t0:.0f} s.", file=sys.stderr)
    t1 = time.perf_counter()
    print("Auditing...", file=sys.stderr)
    result = audit(
        loaded,
        n_boot=args.n_boot,
        random_state=args.seed,
        show_progress=show,
        options=DEMO_OPTIONS,
        provenance={"command": " ".join(args.argv)},
    )
    paths = write_outputs(result, out)
    code = report_outputs(result, paths)
    t2 = time.perf_counter()
    print(f"Audited in {t2 - t1:.0f} s; the demo took {t2 - t0:.0f} s.", file=sys.stderr)
    return code
