"""``auditkit check``: check an ``audit.json`` against a policy; exit 0 passed, 1 failed."""

from __future__ import annotations

import argparse
from typing import Any

EXIT_OK, EXIT_POLICY_FAILED = 0, 1


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "check",
        help="check an audit.json against a policy file (exit 1 when a rule fails)",
        description=(
            "Check the metrics of an audit.json against the thresholds of a policy TOML file. "
            "Prints one line per rule and the verdict. Exit codes: 0 passed, 1 a rule failed, "
            "2 bad input, 3 internal error."
        ),
    )
    p.add_argument("result", metavar="audit.json", help="an audit result written by auditkit")
    p.add_argument("--policy", metavar="FILE", required=True, help="the policy TOML file")
    p.add_argument("--junit", metavar="FILE", help="also write the verdict as JUnit XML")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..policy import Policy, check, junit_xml
    from ..report import atomic_write_text, visible
    from ..result import load_result

    result = load_result(args.result)
    policy = Policy.from_toml(args.policy)
    verdict = check(result, policy)
    xml = junit_xml(verdict) if args.junit else None
    for c in verdict.checks:
        word = "PASS" if c.passed else ("WARN" if c.severity == "warning" else "FAIL")
        # one line per rule whatever the rule id or the message holds (newlines, escapes)
        print(visible(f"{word} {c.id}: {c.message}", keep_lines=False))
    if xml is not None:
        atomic_write_text(args.junit, xml)
        print(visible(f"Wrote {args.junit}", keep_lines=False))
    print(visible(verdict.summary(), keep_lines=False))
    return EXIT_OK if verdict.passed else EXIT_POLICY_FAILED
