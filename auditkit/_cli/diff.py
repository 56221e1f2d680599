"""``auditkit diff old.json new.json``: which figures moved between two audits, and regressions.

Exit codes: 0 no policy regression, 1 a policy rule (severity ``error``) passes on the old audit
and fails on the new one, 2 bad input, 3 internal error. The report goes to stdout, or to
``--out FILE`` (written atomically).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_REGRESSION = 0, 1


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "diff",
        help="compare two audit.json files: moved figures, moves beyond the intervals, "
        "policy regressions (exit 1)",
        description=(
            "Compare two audits figure by figure: which metrics moved, by how much, and whether "
            "the move is larger than the confidence intervals. With --policy, both audits are "
            "checked and a rule that passes on the old audit and fails on the new one is a "
            "regression (without it, the verdicts stored in the two audits are compared). "
            "Exit codes: 0 no regression, 1 a policy regression, 2 bad input, 3 internal error."
        ),
    )
    p.add_argument("old", metavar="old.json", help="the earlier audit result")
    p.add_argument("new", metavar="new.json", help="the later audit result")
    p.add_argument("--policy", metavar="FILE", help="a policy TOML file checked on both")
    p.add_argument(
        "--format", choices=("md", "html"), default="md", help="report format (default md)"
    )
    p.add_argument("--out", metavar="FILE", help="write the report here instead of stdout")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..exceptions import OutputError
    from ..policy import Policy
    from ..report import atomic_write_text, diff_html, diff_markdown, diff_results, visible
    from ..result import load_result

    policy = Policy.from_toml(args.policy) if args.policy else None
    old, new = load_result(args.old), load_result(args.new)
    old_name, new_name = Path(args.old).name, Path(args.new).name
    if old_name == new_name:
        old_name, new_name = str(args.old), str(args.new)
    diff = diff_results(old, new, policy=policy, old_name=old_name, new_name=new_name)
    text = diff_html(diff) if args.format == "html" else diff_markdown(diff)
    if args.out:
        out = Path(args.out)
        if out.is_dir():
            raise OutputError(f"--out {args.out!r} is a folder; give a file name.")
        atomic_write_text(out, text)
        print(visible(f"Wrote {out}", keep_lines=False), file=sys.stderr)
    else:
        sys.stdout.write(text)  # escaped by the report's renderer
    for r in diff.regressions:
        print(visible(f"regression: {r.id}: {r.message}", keep_lines=False), file=sys.stderr)
    moved = diff.count("moved")
    print(
        f"{moved} figure(s) moved, {len(diff.beyond)} beyond their intervals; "
        + (f"{len(diff.regressions)} policy regression(s)" if diff.regressions
           else "no policy regression"),
        file=sys.stderr,
    )  # fmt: skip
    return EXIT_REGRESSION if diff.regressions else EXIT_OK
