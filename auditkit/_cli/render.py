"""``auditkit render``: re-create card.html and card.md from an audit.json alone.

``--card-info card.yaml`` swaps in the qualitative fields (intended use, owners...) of a
YAML file, validated as in ``auditkit audit``; the numbers still come from the JSON alone.
"""

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
    p.add_argument(
        "--card-info",
        metavar="FILE",
        help="a YAML file of qualitative model-card fields; replaces those stored in the JSON "
        "(the JSON itself is not changed)",
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..report import load_card_info, visible, write_cards
    from ..result import load_result

    card_info = load_card_info(args.card_info) if args.card_info else None  # fail early
    result = load_result(args.result)
    data = result.to_dict()
    if card_info is not None:
        data["card_info"] = card_info
    out = Path(args.out) if args.out else Path(args.result).parent
    paths = write_cards(data, out)
    print(visible(f"Wrote {paths['html']} and {paths['markdown']}", keep_lines=False))
    print(visible(f"Card: {paths['html'].resolve()}", keep_lines=False))
    return 0
