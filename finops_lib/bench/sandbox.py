"""Benchmark the sandbox: build, serve and collect a world; wall time and peak memory.

``run()`` measures each fleet size in a fresh Python process (moto's backends
are global per process, and the peak resident set size ``ru_maxrss`` only
grows), for 30-day windows. Figures are printed, never asserted.
Target (issue 4): a 100-instance, 30-day world collected in under 60 s on 2 cores.

Usage: ``python -m finops_lib.bench.sandbox [--sizes 40 100 1000] [--days 30]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

#: Fleet sizes of the issue; 1,000 takes a few minutes on 2 cores.
SIZES = (40, 100, 1000)
DAYS = 30
TARGET_S = {100: 60.0}


def measure(n_instances: int, days: int = DAYS, seed: int = 42, throttle: bool = False) -> dict:
    """Build, serve and collect one world in this process; return timings [s] and peak RSS [MiB]."""
    import resource

    from finops_lib.sandbox.collect import collect_sandbox_snapshot
    from finops_lib.snapshot import read_snapshot

    timings: dict = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="finops-bench-sandbox-") as tmp:
        path = collect_sandbox_snapshot(os.path.join(tmp, "snap"), {"n_instances": n_instances, "days": days,
                                                                    "seed": seed},
                                        progress=False, timings_s=timings, throttle_cloudtrail=throttle)  # fmt: skip
        total = time.perf_counter() - t0
        man = read_snapshot(path).manifest
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "n_instances": n_instances, "days": days, "throttled": throttle, "build_s": timings.get("build"), "serve_s": timings.get("serve"),
        "collect_s": timings.get("collect"), "stop_s": timings.get("stop"), "finish_s": timings.get("finish"),
        "total_s": round(total, 2), "peak_rss_mib": round(rss_kib / 1024, 1),
        "api_calls": sum(man.get("api_calls", {}).values()),
        "rows": {k: v["rows"] for k, v in man["tables"].items()},
    }  # fmt: skip


def _in_subprocess(n: int, days: int, timeout_s: float, throttle: bool = False) -> dict:
    code = ("import json, sys; from finops_lib.bench.sandbox import measure; "
            f"print('@@' + json.dumps(measure({n}, {days}, throttle={throttle})))")  # fmt: skip
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"n_instances": n, "days": days, "error": f"timed out after {timeout_s:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@")]
    if proc.returncode or not lines:
        return {"n_instances": n, "days": days, "error": (proc.stderr or proc.stdout)[-500:],
                "total_s": round(time.perf_counter() - t0, 1)}  # fmt: skip
    return json.loads(lines[-1][2:])


def run(sizes=SIZES, days: int = DAYS, timeout_s: float = 1_800.0, throttle: bool = False) -> list[dict]:
    """Measure each size in a fresh process; print a table; return the rows.

    ``throttle=True`` serves LookupEvents at CloudTrail's 2 requests/s and
    spaces the collector's calls 0.5 s apart, as against AWS.
    """
    rows = []
    print(f"{'instances':>9} {'days':>4} {'build s':>8} {'serve s':>8} {'collect s':>9} {'total s':>8} "
          f"{'peak MiB':>9} {'calls':>6}  note")  # fmt: skip
    for n in sizes:
        r = _in_subprocess(int(n), days, timeout_s, throttle)
        rows.append(r)
        if "error" in r:
            print(f"{n:>9} {days:>4}  FAILED: {r['error'].strip().splitlines()[-1] if r['error'].strip() else '?'}")
            continue
        target = TARGET_S.get(n)
        note = "" if target is None else f"target < {target:.0f} s: {'met' if r['total_s'] < target else 'MISSED'}"
        print(f"{n:>9} {days:>4} {r['build_s']:>8.2f} {r['serve_s']:>8.2f} {r['collect_s']:>9.2f} "
              f"{r['total_s']:>8.2f} {r['peak_rss_mib']:>9.1f} {r['api_calls']:>6}  {note}", flush=True)  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m finops_lib.bench.sandbox", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    p.add_argument("--days", type=int, default=DAYS)
    p.add_argument("--throttle", action="store_true", help="CloudTrail at 2 requests/s, as on AWS")
    args = p.parse_args(argv)
    rows = run(args.sizes, args.days, throttle=args.throttle)
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
