"""The ``auditkit`` command: thin, it parses arguments and calls the library.

Exit codes: 0 passed, 1 a policy rule failed, 2 usage or input error, 3 internal error.
Errors are printed as one line on stderr, never as a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from . import __version__
from .exceptions import AuditkitError

EXIT_OK, EXIT_POLICY_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

#: Subcommand name -> module in ``auditkit._cli`` defining ``add_parser(sub)`` and ``run(args)``.
COMMANDS = {
    "audit": "audit",
    "check": "check",
    "render": "render",
    "demo": "demo",
    "train": "train",
    "models": "models",
    "info": "info",
    "diff": "diff",
}


#: Commands whose outputs carry a creation time (``SOURCE_DATE_EPOCH`` when set).
_STAMPED = ("audit", "train", "demo")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors become exit code 2 in main."""

    def error(self, message: str) -> None:  # type: ignore[override]
        # main prints "auditkit: error: ..."; a subcommand's name follows once ("audit: ...")
        command = self.prog.removeprefix("auditkit").strip()
        raise _UsageError(f"{command}: {message}" if command else message)


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every available subcommand."""
    parser = _Parser(
        prog="auditkit",
        description="Audit trained models for bias, explainability and privacy; write a card.",
    )
    parser.add_argument("--version", action="version", version=f"auditkit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in COMMANDS.values():
        importlib.import_module(f"._cli.{module}", __package__).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    with warnings.catch_warnings():
        warnings.formatwarning = _format_warning
        return _main(argv)


def _format_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int,
    line: str | None = None,
) -> str:  # fmt: skip
    """Format a warning as one line, its text (which may quote data) escaped."""
    return f"auditkit: warning: {category.__name__}: {_one_line(str(message))}\n"


def _main(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        parser = build_parser()
        args = parser.parse_args(args_list)
        if not getattr(args, "command", None):
            names = ", ".join(_subcommands(parser))
            print(f"auditkit: error: a command is required ({names}); run 'auditkit --help'.",
                  file=sys.stderr)  # fmt: skip
            return EXIT_USAGE
        args.argv = ["auditkit", *args_list]
        if args.command in _STAMPED:  # a bad SOURCE_DATE_EPOCH fails before any work: exit 2
            from .result import created_at

            created_at()
        code: int = args.func(args)
        return code
    except _UsageError as exc:
        print(f"auditkit: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except AuditkitError as exc:
        if debug:
            raise
        print(f"auditkit: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("auditkit: interrupted", file=sys.stderr)
        return EXIT_INTERNAL
    except SystemExit as exc:  # argparse --help / --version
        return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_OK
    except Exception as exc:  # noqa: BLE001 - last resort: one line, exit 3
        if debug:
            raise
        print(
            f"auditkit: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _subcommands(parser: argparse.ArgumentParser) -> list[str]:
    """Return the names of the subcommands the parser knows."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def _one_line(text: str) -> str:
    """One printable line: whitespace collapsed, control and bidi characters escaped."""
    from .report import one_line

    return one_line(text)
