"""Whether a command line is one the `backupwatch` console script accepts: parsed by the
very argparse parser of `agents.cli`, never by a copy of its subcommand names."""

from __future__ import annotations

import contextlib
import io

from agents.cli import build_parser

__all__ = ["cli_refusal"]


def cli_refusal(args: list[str]) -> str | None:
    """None when `backupwatch <args>` parses to a subcommand, else argparse's message."""
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            parsed = build_parser().parse_args(args)
    except SystemExit:
        return errors.getvalue().strip() or f"argparse exited on {args}"
    if not callable(getattr(parsed, "func", None)):
        return f"{args} names no subcommand"
    return None
