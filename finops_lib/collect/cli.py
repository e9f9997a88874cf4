"""``finops collect``: collect a snapshot from AWS or from the sandbox.

Secrets come only from the environment / AWS profile
(``ELECTRICITYMAPS_API_KEY``, ``WATTTIME_USERNAME`` / ``WATTTIME_PASSWORD``),
never from the command line.

--out is checked (writable, not a folder of someone else's files) before the
first API call; one collection at a time writes a given --out (a second one
stops with exit code 3, or waits with --wait). Endpoint overrides
(AWS_ENDPOINT_URL*, ELECTRICITYMAPS_URL, WATTTIME_URL, BOAVIZTA_URL) are
recorded in the manifest; data from a non-AWS endpoint is marked simulated.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from pathlib import Path

import pandas as pd

DEFAULT_CACHE_DIR = Path(os.environ.get("FINOPS_CACHE_DIR", Path.home() / ".cache" / "finops"))
#: CloudTrail event history keeps 90 days (CloudTrail user guide, LookupEvents): older state
#: events cannot be looked up, so a longer AWS window would reconstruct runtime wrongly. [d]
CLOUDTRAIL_HISTORY_DAYS = 90
#: Intensity sources the sandbox serves.
SANDBOX_INTENSITY_SOURCES = ("electricitymaps", "watttime")


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``collect`` subcommand to ``subparsers``."""
    from finops_lib import exit_codes

    p = subparsers.add_parser("collect", help="collect a snapshot (AWS account or offline sandbox)",
                              description=__doc__, epilog=exit_codes.HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", choices=("aws", "sandbox"), default="sandbox")
    p.add_argument("--profile", help="AWS profile (read-only role); default: the environment's credentials")
    p.add_argument("--region", default="eu-central-1")
    p.add_argument("--zone", help="grid zone (default: from the region, e.g. DE for eu-central-1)")
    p.add_argument("--days", type=int, default=30, help="window length ending at the last full hour [d]")
    p.add_argument("--out", required=True, type=Path, help="snapshot directory to write")
    p.add_argument("--with-resources", action="store_true",
                   help="also fetch hourly GetCostAndUsageWithResources (last 14 days; opt-in in the account)")
    p.add_argument("--intensity-source", default="electricitymaps",
                   choices=("electricitymaps", "electricitymaps-csv", "watttime", "none"))
    p.add_argument("--electricitymaps-csv", type=Path, help="hourly CSV download for --intensity-source electricitymaps-csv")
    p.add_argument("--power-source", default="boavizta", choices=("boavizta", "none"))
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    p.add_argument("--no-cache", action="store_true", help="do not read or write the response cache")
    p.add_argument("--overwrite", action="store_true", help="replace an existing different snapshot at --out")
    p.add_argument("--seed", type=int, help="sandbox world seed")
    p.add_argument("--instances", type=int, help="sandbox fleet size (default: the world's)")
    p.add_argument("--wait", action="store_true",
                   help="wait for another collection writing the same --out instead of stopping (exit 3)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Check everything, then collect under the --out lock; exit codes as :mod:`finops_lib.exit_codes`."""
    from botocore.exceptions import ProfileNotFound

    from finops_lib import exit_codes, storage
    from finops_lib.collect.errors import CollectError
    from finops_lib.snapshot import SnapshotError, prepare_target, read_snapshot

    if args.days <= 0:
        print(f"--days must be positive, got {args.days}", file=sys.stderr)
        return exit_codes.USAGE
    if args.source == "aws" and args.days > CLOUDTRAIL_HISTORY_DAYS:
        print(f"--days {args.days} is longer than CloudTrail's {CLOUDTRAIL_HISTORY_DAYS}-day event history: "
              f"instance state changes before that cannot be looked up. Use --days {CLOUDTRAIL_HISTORY_DAYS} "
              "or less.", file=sys.stderr)
        return exit_codes.USAGE
    if args.source == "sandbox":
        unsupported = sandbox_unsupported_options(args)
        if unsupported:
            print("--source sandbox does not support: " + "; ".join(unsupported), file=sys.stderr)
            return exit_codes.USAGE
        problem = sandbox_config_problem(args)
        if problem:
            print(f"bad world configuration: {problem}", file=sys.stderr)
            return exit_codes.USAGE
    try:  # before the first API call
        storage.check_snapshot_target(args.out, args.overwrite)
    except (storage.OutputError, storage.ForeignDataError) as exc:
        print(f"--out: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    try:
        with storage.lock(storage.lock_path_for(args.out), f"snapshot target {args.out}", wait=args.wait):
            note = prepare_target(args.out)
            if note:
                print(note, file=sys.stderr)
            path = _collect_sandbox(args) if args.source == "sandbox" else _collect_aws(args)
            snap = read_snapshot(path)
    except storage.BusyError as exc:
        print(f"collect: {exc}", file=sys.stderr)
        return exit_codes.BUSY
    except ProfileNotFound as exc:
        print(f"--profile: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    except (CollectError, SnapshotError, storage.ForeignDataError, ValueError, OSError) as exc:
        print(f"collect failed: {exc}", file=sys.stderr)
        return exit_codes.FAILED
    print(summary(snap.manifest))
    return exit_codes.OK


def sandbox_config_problem(args: argparse.Namespace) -> str | None:
    """Why the sandbox world the flags describe is invalid (None when valid); checked before any work."""
    from finops_lib.sandbox.collect import world_config

    overrides = {"days": args.days, "region": args.region, "zone": args.zone, "seed": args.seed,
                 "n_instances": args.instances}
    try:
        world_config(None, **{k: v for k, v in overrides.items() if v is not None})
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None


def _collect_aws(args) -> Path:
    import boto3

    from finops_lib.collect.core import collect_snapshot

    session = boto3.Session(profile_name=args.profile) if args.profile else boto3.Session()
    end = pd.Timestamp.now(tz="UTC").floor("h")
    return collect_snapshot(
        session, region=args.region, zone=args.zone, window_start=end - pd.Timedelta(days=args.days),
        window_end=end, out_dir=args.out, with_resources=args.with_resources,
        intensity_source=args.intensity_source, power_source=args.power_source,
        electricitymaps_csv=args.electricitymaps_csv,
        cache_dir=None if args.no_cache else args.cache_dir, progress=not args.no_progress,
        overwrite=args.overwrite,
    )


def sandbox_unsupported_options(args: argparse.Namespace) -> list[str]:
    """Options given that ``--source sandbox`` cannot honour (each with the reason), instead of dropping them."""
    bad = []
    if args.profile:
        bad.append(f"--profile {args.profile} (the sandbox serves its own simulated account)")
    if args.intensity_source not in SANDBOX_INTENSITY_SOURCES:
        bad.append(f"--intensity-source {args.intensity_source} (sandbox: {' or '.join(SANDBOX_INTENSITY_SOURCES)})")
    if args.electricitymaps_csv is not None:
        bad.append(f"--electricitymaps-csv {args.electricitymaps_csv} (the sandbox serves its own intensity API)")
    if args.power_source != "boavizta":
        bad.append(f"--power-source {args.power_source} (the sandbox always collects from BoaviztAPI)")
    return bad


def _collect_sandbox(args) -> Path:
    from finops_lib import sandbox

    fn = sandbox.collect_sandbox_snapshot
    options = {"days": args.days, "region": args.region, "zone": args.zone, "seed": args.seed,
               "n_instances": args.instances, "with_resources": True if args.with_resources else None,
               "intensity_source": args.intensity_source,
               "progress": not args.no_progress, "overwrite": args.overwrite or None,
               "cache_dir": None if args.no_cache else args.cache_dir}
    accepted = inspect.signature(fn).parameters
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
    kwargs = {k: v for k, v in options.items() if v is not None and (takes_kwargs or k in accepted)}
    return Path(fn(out_dir=args.out, **kwargs))


def summary(manifest: dict) -> str:
    """Human-readable end-of-collection summary: calls per operation, coverage, gaps."""
    lines = [f"snapshot {manifest.get('snapshot_id')} ({manifest.get('source')}"
             f"{', SIMULATED' if manifest.get('simulated') else ''}) "
             f"{manifest.get('region')} / {manifest.get('zone')}  {manifest.get('window_start')} .. "
             f"{manifest.get('window_end')}", "API calls:"]
    calls = manifest.get("api_calls", {})
    for op, n in calls.items():
        lines.append(f"  {op:<42} {n:>6}")
    lines.append(f"  {'total':<42} {sum(calls.values()):>6}")
    lines.append("coverage:")
    for src, frac in manifest.get("coverage", {}).items():
        lines.append(f"  {src:<42} {frac:>7.1%}")
    lines.append("tables: " + ", ".join(f"{k}={v['rows']}" for k, v in manifest.get("tables", {}).items()))
    gaps = manifest.get("gaps", [])
    lines.append(f"gaps: {len(gaps)}")
    lines += [f"  {g['table']} ({g['source']}): {g['reason']}" for g in gaps]
    warnings = manifest.get("warnings", [])
    if warnings:
        lines.append(f"warnings: {len(warnings)}")
        lines += [f"  {w}" for w in warnings]
    return "\n".join(lines)
