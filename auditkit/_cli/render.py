"""``auditkit render``: re-create card.html and card.md from an audit.json alone."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "render",
        help="re-create card.html and card.md from an audit.json",
        description="Render the HTML and Markdown cards from an audit.json alone.",
    )
    p.add_argument("result", metavar="audit.json", help="an audit result written by auditkit")
    p.add_argument(
        "--out", metavar="DIR", help="output folder (default: the folder of audit.json)"
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..report._json import load_result
    from ..report._render import write_cards

    result = load_result(args.result)
    out = Path(args.out) if args.out else Path(args.result).parent
    paths = write_cards(result.to_dict(), out)
    print(f"Wrote {paths['html']} and {paths['markdown']}")
    print(f"Card: {paths['html'].resolve()}")
    return 0
