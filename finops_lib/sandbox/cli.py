"""``finops sandbox serve``: keep a simulated world served on loopback for exploring.

Prints the endpoints, fake credentials and a boto3 snippet, then runs until
Ctrl-C; every server it started is stopped on exit. All data are simulated.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``sandbox`` subcommand (with ``serve``) to ``subparsers``."""
    from finops_lib import exit_codes

    p = subparsers.add_parser("sandbox", help="the offline simulated fleet (serve it for exploring)",
                              description=__doc__, epilog=exit_codes.HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="sandbox_command", required=True)
    s = sub.add_parser("serve", help="serve a simulated world on 127.0.0.1 until Ctrl-C")
    s.add_argument("--seed", type=int, help="world seed (default 42)")
    s.add_argument("--n-instances", type=int, help="fleet size (default 40)")
    s.add_argument("--days", type=int, help="window length [d] (default 30, at most 90)")
    s.add_argument("--config", type=Path, help="world configuration as a JSON or YAML mapping (WorldConfig fields)")
    s.add_argument("--no-boavizta", action="store_true", help="do not start the local BoaviztAPI")
    s.add_argument("--throttle-cloudtrail", action="store_true", help="answer LookupEvents at 2 requests/s")
    s.set_defaults(func=run_serve)
    return p


def load_config(args: argparse.Namespace) -> dict:
    """World configuration from ``--config`` plus the flags (flags win)."""
    cfg: dict = {}
    if args.config:
        text = args.config.read_text(encoding="utf-8")
        if args.config.suffix in (".yml", ".yaml"):
            import yaml

            cfg = yaml.safe_load(text) or {}
        else:
            cfg = json.loads(text)
        if not isinstance(cfg, dict):
            raise ValueError(f"{args.config}: the world configuration must be a mapping")
    for flag, key in (("seed", "seed"), ("n_instances", "n_instances"), ("days", "days")):
        if getattr(args, flag) is not None:
            cfg[key] = getattr(args, flag)
    return cfg


def describe(ep) -> str:
    """Endpoints, environment and a boto3 snippet for a served world (fake credentials only)."""
    env = "\n".join(f"export {k}={v}" for k, v in ep.env().items())
    return f"""\
SIMULATED sandbox world on loopback (no real account, no real data)
  AWS (EC2, CloudWatch, CloudTrail, Cost Explorer): {ep.aws}
  Price List API:                                  {ep.pricing}
  Electricity Maps v3 compatible:                  {ep.electricitymaps}
  WattTime v3 compatible:                          {ep.watttime}
  BoaviztAPI:                                      {ep.boavizta or "(not started)"}

Environment (fake credentials):
{env}
(finops collect reads these; a snapshot collected against them is marked simulated: true.)

boto3:
  import boto3
  s = boto3.Session(aws_access_key_id="{ep.aws_access_key_id}", aws_secret_access_key="{ep.aws_secret_access_key}",
                    region_name="{ep.region}")
  ec2 = s.client("ec2", endpoint_url="{ep.aws}")
  ce = s.client("ce", endpoint_url="{ep.aws}", region_name="us-east-1")
  pricing = s.client("pricing", endpoint_url="{ep.pricing}", region_name="us-east-1")
  ec2.describe_instances()

Ctrl-C stops every server."""


def _stop_on_signals(stop_event: threading.Event) -> dict:
    """SIGTERM / SIGHUP / SIGINT end the wait, so the servers (and BoaviztAPI) are stopped on exit.

    Returns the previous handlers (to restore).
    """
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum, frame):
        stop_event.set()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}


def run_serve(args: argparse.Namespace, *, stop_event: threading.Event | None = None) -> int:
    """Build, serve, print, wait for Ctrl-C (or ``stop_event``, for tests)."""
    from finops_lib import exit_codes
    from finops_lib.sandbox.servers import serve
    from finops_lib.sandbox.world import WorldConfig, build_world

    try:
        config = WorldConfig.from_dict(load_config(args))
    except (ValueError, TypeError, OSError) as exc:
        print(f"sandbox: bad world configuration: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    world = build_world(config)
    stop_event = stop_event or threading.Event()
    previous = _stop_on_signals(stop_event)
    try:
        with serve(world, boavizta=not args.no_boavizta, throttle_cloudtrail=args.throttle_cloudtrail) as ep:
            print(describe(ep), flush=True)
            while not stop_event.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    print("sandbox: stopped every server", file=sys.stderr)
    return exit_codes.OK
