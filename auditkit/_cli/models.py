"""``auditkit models``: list the reference models."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("models", help="list the reference models that `auditkit train` knows")
    p.add_argument("--json", action="store_true", help="print JSON (name, dataset, description)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..models import MODEL_REGISTRY, list_models
    from ..report import visible

    rows = list_models()
    if args.json:
        out = [
            {"name": n, "dataset": d, "modality": MODEL_REGISTRY.get(n).modality, "description": t}
            for n, d, t in rows
        ]
        print(json.dumps(out, indent=2))
        return 0
    width = max(len(n) for n, _, _ in rows)
    dwidth = max(len(d) for _, d, _ in rows)
    for name, dataset, text in rows:
        print(visible(f"{name:<{width}}  {dataset:<{dwidth}}  {text}", keep_lines=False))
    return 0
