"""``finops schedule`` (dry run by default) and ``finops recommend SNAPSHOT``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

SHOW_COLUMNS = ["instance_id", "policy", "state", "target", "action", "intensity_g_per_kwh",
                "expected_cost_saved_eur", "expected_co2_saved_kg", "reason"]


def register(subparsers) -> None:
    """Add the ``schedule`` and ``recommend`` subcommands."""
    p = subparsers.add_parser(
        "schedule", help="stop/start opted-in EC2 instances by policy (dry run unless --apply)",
        description="Decide for every instance (opt-in by the Schedule tag) and, with --apply, stop/start it. "
                    "The dry run (default) prints and logs the decisions and calls no write operation.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", dest="apply", action="store_false", help="decide and log only (default)")
    mode.add_argument("--apply", dest="apply", action="store_true", help="stop/start instances, publish metrics")
    p.set_defaults(apply=False)
    p.add_argument("--policies", type=Path, help="policy YAML (default: the bundled policies.yaml)")
    p.add_argument("--validate", action="store_true", help="only validate the policy file and exit")
    p.add_argument("--at", help="decision time, ISO 8601 (default: now; for replays and the sandbox)")
    p.add_argument("--region", default="eu-central-1")
    p.add_argument("--profile", help="AWS profile (default: the environment's credentials)")
    p.add_argument("--endpoint-url", help="AWS endpoint (e.g. the sandbox's moto server; AWS_ENDPOINT_URL works too)")
    p.add_argument("--intensity", choices=("electricitymaps", "snapshot", "none"), default="electricitymaps",
                   help="where the intensity history for the day-ahead persistence forecast comes from")
    p.add_argument("--snapshot", type=Path, help="snapshot whose intensity_hourly is the history (--intensity snapshot)")
    p.add_argument("--zone", default="DE", help="grid zone (Electricity Maps), default DE")
    p.add_argument("--log-dir", type=Path, default=Path("results/scheduler/decisions"),
                   help="local decision log (JSONL + Parquet per run)")
    p.add_argument("--dynamodb-table", help="also log applied decisions to this DynamoDB table")
    p.set_defaults(func=run_schedule)

    r = subparsers.add_parser("recommend", help="rightsizing recommendations from a snapshot (CSV/table)",
                              description="Current and proposed type, EUR and kg CO2e per month, risk flag.")
    r.add_argument("snapshot", type=Path)
    r.add_argument("--out", type=Path, help="write the table as CSV here")
    r.add_argument("--quantile", type=float, default=0.95, help="CPU quantile sized on (default 0.95)")
    r.add_argument("--target-util", type=float, default=0.6, help="highest p95 CPU after resizing (default 0.6)")
    r.add_argument("--all", action="store_true", help="list every instance, not only those with a change")
    r.set_defaults(func=run_recommend)


def _forecast(args, now):
    if args.intensity == "none":
        return None
    if args.intensity == "snapshot":
        if not args.snapshot:
            raise ValueError("--intensity snapshot needs --snapshot PATH")
        from finops_lib.scheduler.decide import persistence_forecast
        from finops_lib.snapshot import read_snapshot

        return persistence_forecast(read_snapshot(args.snapshot).intensity(), now)
    from finops_lib.scheduler.run import intensity_forecast_electricitymaps

    return intensity_forecast_electricitymaps(args.zone, now)


def run_schedule(args: argparse.Namespace) -> int:
    import boto3
    import botocore.exceptions

    from finops_lib.collect.errors import SourceUnavailable
    from finops_lib.scheduler import aws
    from finops_lib.scheduler.policy import PolicyError, load_policies
    from finops_lib.scheduler.run import run_once

    try:
        policies = load_policies(args.policies)
    except PolicyError as exc:
        print(f"schedule: {exc}", file=sys.stderr)
        return 2
    if args.validate:
        print(f"{policies.source}: valid ({len(policies.policies)} policies: {', '.join(policies.policies)})")
        return 0
    now = pd.Timestamp(args.at) if args.at else pd.Timestamp.now(tz="UTC")
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    try:
        forecast = _forecast(args, now)
    except (SourceUnavailable, ValueError, OSError) as exc:
        print(f"schedule: no intensity forecast ({exc}); use --intensity none to schedule without one", file=sys.stderr)
        return 2
    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    clients = aws.make_clients(session, args.region, endpoint_url=args.endpoint_url)
    try:
        res = run_once(clients, policies, now, forecast, apply=args.apply, zone=args.zone, log_dir=args.log_dir,
                       table=args.dynamodb_table)
    except PolicyError as exc:
        print(f"schedule: {exc}", file=sys.stderr)
        return 2
    except (botocore.exceptions.NoCredentialsError, botocore.exceptions.ClientError,
            botocore.exceptions.EndpointConnectionError) as exc:
        print(f"schedule: AWS error, nothing (more) done: {exc}", file=sys.stderr)
        return 1
    d = res.decisions
    with pd.option_context("display.max_rows", None, "display.max_colwidth", 90, "display.width", 250):
        print(d[SHOW_COLUMNS].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    acted = d[d["action"].isin(["start", "stop"])]
    mode = "APPLIED" if args.apply else "DRY RUN (nothing changed)"
    print(f"\n{mode} at {now:%Y-%m-%d %H:%M}Z: {len(d)} instances, {int((d['policy'].notna()).sum())} opted in, "
          f"{int((acted['action'] == 'stop').sum())} stop, {int((acted['action'] == 'start').sum())} start; "
          f"expected saving next {policies.interval_h:g} h: {d['expected_cost_saved_eur'].sum():.2f} EUR, "
          f"{d['expected_co2_saved_kg'].sum():.3f} kg CO2e")
    if res.log_files:
        print(f"decision log: {res.log_files[0]}")
    if res.results is not None and len(res.results):
        bad = res.results[res.results["result"] != "ok"]
        print(f"{len(res.results) - len(bad)} calls ok, {len(bad)} not: {bad.to_dict('records') if len(bad) else ''}")
        print(f"{len(res.metric_data)} metric datums in {aws.METRICS_NAMESPACE} ({res.metric_calls} PutMetricData)")
        return 1 if len(bad) else 0
    return 0


def run_recommend(args: argparse.Namespace) -> int:
    from finops_lib.scheduler.recommend import recommend_from_snapshot
    from finops_lib.snapshot import SnapshotError, read_snapshot

    try:
        snap = read_snapshot(args.snapshot)
        table = recommend_from_snapshot(snap, quantile=args.quantile, target_util_frac=args.target_util)
    except (SnapshotError, KeyError, ValueError) as exc:
        print(f"recommend: {exc}", file=sys.stderr)
        return 2
    if not args.all:
        table = table[table["proposed_type"] != table["current_type"]]
    if args.out:
        from finops_lib.report import atomic_write_text

        atomic_write_text(args.out, table.to_csv(index=False))
    if snap.is_simulated:
        print("SIMULATED data (sandbox snapshot)")
    with pd.option_context("display.max_rows", None, "display.width", 250):
        print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"\n{len(table)} instances; saving per month: {table['saving_eur_per_month'].sum():.2f} EUR, "
          f"{table['saving_co2_kg_per_month'].sum():.2f} kg CO2e")
    return 0
