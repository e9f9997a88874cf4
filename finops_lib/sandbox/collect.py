"""``collect_sandbox_snapshot``: build a world, serve it, collect it with the unchanged collectors.

The collection is the real one (:func:`finops_lib.collect.core.collect_snapshot`)
pointed at the loopback servers. Two steps follow it, both outside any server:

1. the intensity rows are relabelled ``source = "sandbox-synthetic"`` (the
   Electricity-Maps-compatible endpoint serves a simulated series);
2. the ``truth_*`` tables are added -- computed by the world's own truth
   (:mod:`finops_lib.sandbox.truth`), which shares no power model, prior or
   aggregation with the estimators; they are written with the collected
   tables into the final snapshot, whose manifest says ``source: sandbox``,
   ``simulated: true`` and holds the world config.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from finops_lib.sandbox.servers import serve
from finops_lib.sandbox.world import WorldConfig, build_world

log = logging.getLogger(__name__)

#: Manifest keys that write_snapshot regenerates for the final snapshot.
_GENERATED = ("tables", "snapshot_id", "created_at", "git_commit", "packages")


def world_config(config: WorldConfig | dict | None = None, **overrides) -> WorldConfig:
    """Merge ``config`` and keyword overrides into a validated :class:`WorldConfig` (``ValueError`` if bad)."""
    if isinstance(config, WorldConfig):
        base = config.to_dict()
    elif config is None:
        base = {}
    elif isinstance(config, dict):
        base = dict(config)
    else:
        raise ValueError(f"config must be a WorldConfig, a dict or None, not {type(config).__name__}")
    return WorldConfig.from_dict({**base, **overrides})


def collect_sandbox_snapshot(out_dir, config: WorldConfig | dict | None = None, progress: bool = True, *,
                             with_resources: bool = True, overwrite: bool = False, cache_dir=None,
                             throttle_cloudtrail: bool = False, intensity_source: str = "electricitymaps",
                             timings_s: dict | None = None, **overrides) -> Path:
    """
    Build the world, serve it on loopback, collect a snapshot, stop every server.

    Parameters
    ----------
    out_dir : path-like
        Snapshot directory to write.
    config : WorldConfig or dict, optional
        World configuration; ``overrides`` (e.g. ``seed=7, n_instances=100``)
        are merged on top. Validated before anything starts.
    progress : bool, default True
    with_resources : bool, default True
        Also collect hourly GetCostAndUsageWithResources (the last 14 days
        before the collection time).
    overwrite : bool, default False
    cache_dir : ignored
        The sandbox never uses the response cache: another world answers the
        same request differently. Accepted for CLI compatibility.
    throttle_cloudtrail : bool, default False
        Serve LookupEvents at 2 requests/s and space the collector's calls
        0.5 s apart, as against AWS (for benchmarks). Without it the calls
        are not spaced.
    intensity_source : {"electricitymaps", "watttime"}, default "electricitymaps"
    timings_s : dict, optional
        Filled with the wall time of each phase (build, serve, collect,
        finish, stop). [s]

    Returns
    -------
    Path
        The snapshot directory.
    """
    from finops_lib.collect.core import Endpoints, collect_snapshot
    from finops_lib.snapshot import read_snapshot, write_snapshot

    cfg = world_config(config, **overrides)
    if intensity_source not in ("electricitymaps", "watttime"):
        raise ValueError(f"intensity_source must be 'electricitymaps' or 'watttime', not {intensity_source!r}")
    if cache_dir is not None:
        log.info("sandbox: response cache %s not used (simulated answers depend on the world)", cache_dir)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    timings_s = {} if timings_s is None else timings_s
    t0 = time.perf_counter()

    def lap(name):
        nonlocal t0
        t1 = time.perf_counter()
        timings_s[name] = round(t1 - t0, 3)
        t0 = t1

    world = build_world(cfg)
    lap("build")
    sandbox_manifest = {"source": "sandbox", "simulated": True, "seed": cfg.seed, "world_config": cfg.to_dict(),
                        "truth_power_model": cfg.truth_power_model, "collected_as_of": world.as_of.isoformat(),
                        "intensity_label": "sandbox-synthetic"}
    with tempfile.TemporaryDirectory(prefix=f".{out_dir.name}.raw-", dir=out_dir.parent) as tmp:
        with serve(world, throttle_cloudtrail=throttle_cloudtrail) as ep:
            lap("serve")
            raw = collect_snapshot(
                ep.boto3_session(), region=cfg.region, zone=cfg.zone, window_start=world.window_start,
                window_end=world.window_end, out_dir=Path(tmp) / "raw",
                endpoints=Endpoints(aws=ep.aws, pricing=ep.pricing, electricitymaps=ep.electricitymaps,
                                    watttime=ep.watttime, boavizta=ep.boavizta),
                electricitymaps_api_key=ep.electricitymaps_api_key,
                watttime_credentials=(ep.watttime_username, ep.watttime_password),
                intensity_source=intensity_source, with_resources=with_resources, cache_dir=None,
                manifest_extra=sandbox_manifest, progress=progress,
                cloudtrail_min_interval_s=0.5 if throttle_cloudtrail else 0.0, now=world.as_of,
                forecast_source="watttime",
            )
            lap("collect")
        lap("stop")
        snap = read_snapshot(raw)
        tables = dict(snap.tables)
        ih = tables["intensity_hourly"].copy()
        ih["source"] = "sandbox-synthetic"
        tables["intensity_hourly"] = ih
        fc = tables["intensity_forecasts"].copy()
        fc["source"] = "sandbox-synthetic"
        tables["intensity_forecasts"] = fc
        tables.update(world.truth_tables())
        manifest = {k: v for k, v in snap.manifest.items() if k not in _GENERATED}
        path = write_snapshot(tables, manifest, out_dir, overwrite=overwrite)
        lap("finish")
        return path
