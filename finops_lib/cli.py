"""The ``finops`` command: collect, sandbox, evaluate, figures.

Each subcommand lives next to its code and registers itself through a
``register(subparsers)`` function that adds a parser and sets ``func``.
"""

from __future__ import annotations

import argparse
import logging
import sys


def build_parser() -> argparse.ArgumentParser:
    from finops_lib import evaluate
    from finops_lib.collect import cli as collect_cli
    from finops_lib.sandbox import cli as sandbox_cli

    parser = argparse.ArgumentParser(
        prog="finops",
        description="Carbon-Aware FinOps Workbench: cost and CO2e of an EC2 fleet on one time axis.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    collect_cli.register(sub)
    sandbox_cli.register(sub)
    evaluate.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
