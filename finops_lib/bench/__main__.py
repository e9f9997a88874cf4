"""Run every benchmark: ``python -m finops_lib.bench [collect sandbox evaluate]``."""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time

SUITES = ("collect", "sandbox", "evaluate")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finops_lib.bench", description=__doc__)
    parser.add_argument("suites", nargs="*", metavar="SUITE", help=f"any of {', '.join(SUITES)} (default: all)")
    parser.add_argument("--json", metavar="FILE", help="also write all rows as JSON")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.suites) - set(SUITES))
    if unknown:
        parser.error(f"unknown suite(s) {unknown}; choose from {list(SUITES)}")
    print(f"==> benchmarks on {platform.node()} ({platform.machine()}, Python {platform.python_version()})")
    rows: dict[str, list[dict]] = {}
    failed = []
    for name in args.suites or SUITES:
        print(f"\n==> bench {name}")
        t0 = time.perf_counter()
        module = importlib.import_module(f"finops_lib.bench.{name}")
        try:
            rows[name] = module.run()
        except (RuntimeError, OSError, ValueError) as exc:
            print(f"bench {name} FAILED: {exc}", file=sys.stderr)
            failed.append(name)
        print(f"    ({name}: {time.perf_counter() - t0:.1f} s)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2, default=str)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
