"""The ``finops`` command: collect, sandbox, evaluate, figures, models.

Each subcommand lives next to its code and registers itself through a
``register(subparsers)`` function that adds a parser and sets ``func``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys


def build_parser() -> argparse.ArgumentParser:
    from finops_lib import evaluate, exit_codes, models
    from finops_lib.collect import cli as collect_cli
    from finops_lib.sandbox import cli as sandbox_cli
    from finops_lib.scheduler import cli as scheduler_cli

    parser = argparse.ArgumentParser(
        prog="finops",
        description="Carbon-Aware FinOps Workbench: cost and CO2e of an EC2 fleet on one time axis.",
        epilog=exit_codes.HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    collect_cli.register(sub)
    sandbox_cli.register(sub)
    evaluate.register(sub)
    scheduler_cli.register(sub)
    models.register(sub)
    return parser


#: Third-party loggers kept at WARNING even with ``-v``: at DEBUG botocore logs
#: signed requests (X-Amz-Security-Token, the access key id) and urllib3 URLs.
QUIET_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3", "requests_cache")
#: Signals that end the run like Ctrl-C does: raise SystemExit so ``with`` blocks
#: (loopback servers, kernels, temp folders) unwind.
EXIT_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


def configure_logging(verbose: bool) -> None:
    """INFO to stderr; ``verbose`` sets DEBUG on ``finops_lib`` only, never on AWS/HTTP libraries."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("finops_lib").setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _exit_on_signal(signum, frame):
    """Signal handler: ``SystemExit(128 + signum)``, the shell's convention for a killed process."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    previous = {s: signal.signal(s, _exit_on_signal) for s in EXIT_SIGNALS}
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        for s, handler in previous.items():
            if handler is not None:  # None: installed outside Python, cannot be restored
                signal.signal(s, handler)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
