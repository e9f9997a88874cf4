"""The simulated SME fleet with ground truth (pure, seeded, deterministic).

:func:`build_world` turns a :class:`WorldConfig` into a :class:`World`: an EC2
inventory with tags, CloudTrail records in the real ``LookupEvents`` shape
(with injected faults), hourly CloudWatch CPU statistics, billing lines from
which Cost Explorer answers are computed, a price list, grid intensity, and the
hidden true factors. Nothing here does I/O; :mod:`finops_lib.sandbox.servers`
serves a World through the real wire protocols.

Semantics of the faults (each a per-instance probability, applied where the
instance has something to apply it to; at most one fault per instance, Spot
interruption first):

- ``os_shutdown``: the instance is shut down from inside the OS -- its running
  period ends with **no** StopInstances record (EC2 ``StateReason``
  ``Client.InstanceInitiatedShutdown``). Always-on instances stay stopped;
  scheduled ones miss the record of one day's stop.
- ``missing_record``: one of the instance's records is never delivered.
- ``late_record``: the instance's last record is delivered after the
  collection ran (CloudTrail delivers within ~15 min on average but does not
  guarantee it, REFERENCES.md); a record is served only if
  ``event_time + delay <= as_of`` where ``as_of = window_end + collection_lag_h``.
- ``spot_interruption`` (Spot workers only): a ``BidEvictedEvent`` record, then
  the instance is terminated.
- ``cloudwatch_gap_rate``: fraction of instance-hours with CPU data that have
  no CloudWatch datum (gaps of 1-5 h).

The hidden truth (true energy, PUE, intensity, billing) comes from
:mod:`finops_lib.sandbox.truth`, which shares no model, prior or aggregation
with the estimators; this module does not use the estimators' priors either.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pandas as pd

from finops_lib import constants, factors, schema
from finops_lib.sandbox import intensity as _intensity
from finops_lib.sandbox import truth as _truth

ROLES = ("production", "office_hours", "batch", "spot_worker", "variable")
DEFAULT_ROLE_MIX = {"production": 0.3, "office_hours": 0.3, "batch": 0.15, "spot_worker": 0.1, "variable": 0.15}
DEFAULT_INSTANCE_TYPES = {
    "production": ["m5.large", "m5.xlarge", "m6i.large", "m6a.large", "r5.large", "t3.medium", "c6g.large"],
    "office_hours": ["t3.small", "t3.medium", "t3.large", "m5.large", "t4g.medium", "m6a.large"],
    "batch": ["c5.large", "c6i.large", "c5.xlarge", "m6i.xlarge", "c6g.large"],
    "spot_worker": ["c6g.large", "c5.large", "m6g.large", "c6i.large"],
    "variable": ["m5.large", "m6a.xlarge", "t3.xlarge", "c6i.large", "m6i.large"],
}
SCHEDULE_TAG = {"production": "always-on", "office_hours": "office-hours", "batch": "nightly",
                "spot_worker": "always-on", "variable": "always-on"}  # fmt: skip
#: Regions the sandbox can simulate -> Cost Explorer usage-type prefix.
USAGE_TYPE_PREFIX = {"eu-central-1": "EUC1"}
#: CloudTrail LookupEvents keeps 90 days of management events (CloudTrail API reference).
MAX_DAYS = 90
CLOUDTRAIL_RETENTION_DAYS = 90
#: A terminated instance stays visible in DescribeInstances for about an hour (EC2 API reference). [h]
TERMINATED_VISIBLE_H = 1.0
MAX_INSTANCES = 5_000
#: EBS gp3 storage, eu-central-1 [USD/GB-month] (AWS EBS pricing page; *unconfirmed*).
EBS_GP3_USD_PER_GB_MONTH = 0.0952
#: Data transfer out to the internet, first 10 TB/month [USD/GB] (AWS EC2 on-demand pricing; *unconfirmed*).
DATA_TRANSFER_OUT_USD_PER_GB = 0.09
#: Office hours of the dev/test roles, Europe/Berlin (DESIGN.md scenarios: Mon-Fri 08-18).
OFFICE_TZ = ZoneInfo("Europe/Berlin")
OFFICE_START_H, OFFICE_END_H = 8, 18
SLOT_S = 300  # CloudWatch basic monitoring period (EC2 user guide). [s]
#: First datapoint after a start arrives up to this many periods late (basic monitoring;
#: modelling choice from the EC2 user guide's "data available in 5-minute periods").
CW_FIRST_DATAPOINT_DELAY_SLOTS_MAX = 2
#: Probability that a single 5-minute datapoint is missing (modelling choice).
CW_MISSING_DATAPOINT_P = 0.003
#: CloudTrail delivery delay of an on-time record [s]: "typically within 5 minutes, up to
#: about 15" (CloudTrail FAQ / user guide; REFERENCES.md).
CLOUDTRAIL_DELIVERY_S = (30.0, 900.0)
SLOTS_PER_H = constants.S_PER_H // SLOT_S
ACCOUNT_ID = "123456789012"
STATE_CODE = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
SERVICE_COMPUTE = "Amazon Elastic Compute Cloud - Compute"
SERVICE_OTHER = "EC2 - Other"
#: Truth power models the sandbox can apply (SPECpower-style host curves, :mod:`.truth`).
TRUTH_POWER_MODELS = ("specpower",)


@dataclass(frozen=True)
class WorldConfig:
    """
    Everything that defines a simulated world; same config -> same world.

    Rates are probabilities in [0, 1]: ``*_in_window_rate`` per always-on or
    Spot instance; ``os_shutdown_rate``, ``missing_record_rate`` and
    ``late_record_rate`` per instance (mutually exclusive, their sum <= 1);
    ``spot_interruption_rate`` per Spot worker; ``cloudwatch_gap_rate`` per
    instance-hour; ``short_run_rate`` per nightly batch run (an aborted run of
    under 60 s before the real one, to exercise the billing minimum).
    ``terminated_launch_within_retention``: an instance terminated in the
    window was launched within CloudTrail's 90 days, so the collector can
    recover its type from the RunInstances record after it vanished from
    DescribeInstances; ``False`` lets launches be older (then type and
    lifecycle are a reported gap, as on a real account).
    ``spot_price_frac`` is the mean Spot price as a fraction of on-demand;
    ``None`` (default) draws it per type from the truth's own range
    (:data:`finops_lib.sandbox.truth.SPOT_MEAN_FRAC_RANGE`); either way the
    price varies by hour.
    """

    seed: int = 42
    n_instances: int = 40
    days: int = 30
    window_end: str = "2026-11-01T00:00:00Z"
    region: str = "eu-central-1"
    zone: str = "DE"
    role_mix: dict = field(default_factory=lambda: dict(DEFAULT_ROLE_MIX))
    instance_types: dict = field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_INSTANCE_TYPES.items()})
    launch_in_window_rate: float = 0.1
    terminate_in_window_rate: float = 0.1
    os_shutdown_rate: float = 0.05
    missing_record_rate: float = 0.05
    late_record_rate: float = 0.05
    spot_interruption_rate: float = 0.5
    cloudwatch_gap_rate: float = 0.01
    short_run_rate: float = 0.03
    spot_price_frac: float | None = None
    collection_lag_h: float = 0.0
    truth_power_model: str = "specpower"
    terminated_launch_within_retention: bool = True

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> WorldConfig:
        """Build from a mapping; unknown keys or invalid values raise ``ValueError`` naming them."""
        d = dict(d or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown world config key(s) {unknown}; known: {sorted(known)}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (for the manifest)."""
        return json.loads(json.dumps(dataclasses.asdict(self), sort_keys=True))

    @property
    def window_end_ts(self) -> pd.Timestamp:
        return pd.Timestamp(self.window_end).tz_convert("UTC")

    @property
    def window_start_ts(self) -> pd.Timestamp:
        return self.window_end_ts - pd.Timedelta(days=self.days)

    @property
    def as_of(self) -> pd.Timestamp:
        """When the collection runs: records delivered after it are not served. [UTC]"""
        return self.window_end_ts + pd.Timedelta(hours=self.collection_lag_h)


def _validate(c: WorldConfig) -> None:
    def bad(name: str, why: str) -> ValueError:
        return ValueError(f"world config {name}={getattr(c, name)!r}: {why}")

    for name in ("seed", "n_instances", "days"):
        v = getattr(c, name)
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise bad(name, "must be an integer")
    if c.seed < 0:
        raise bad("seed", "must be >= 0")
    if not 1 <= c.n_instances <= MAX_INSTANCES:
        raise bad("n_instances", f"must be in 1..{MAX_INSTANCES}")
    if not 1 <= c.days <= MAX_DAYS:
        raise bad("days", f"must be in 1..{MAX_DAYS} (CloudTrail LookupEvents keeps 90 days)")
    try:
        we = pd.Timestamp(c.window_end)
    except (TypeError, ValueError) as exc:
        raise bad("window_end", f"not a timestamp ({exc})") from None
    if we.tzinfo is None:
        raise bad("window_end", "needs a timezone (use ...Z for UTC)")
    if we != we.floor("h"):
        raise bad("window_end", "must be on a whole hour")
    if c.region not in USAGE_TYPE_PREFIX:
        raise bad("region", f"the sandbox simulates only {sorted(USAGE_TYPE_PREFIX)}")
    if c.zone != factors.REGION_ZONE[c.region]:
        raise bad("zone", f"the sandbox's intensity is calibrated for {factors.REGION_ZONE[c.region]!r}")
    rates = [f.name for f in dataclasses.fields(c) if f.name.endswith("_rate")]
    for name in rates:
        v = getattr(c, name)
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
            raise bad(name, "must be a number in [0, 1]")
    excl = c.os_shutdown_rate + c.missing_record_rate + c.late_record_rate
    if excl > 1.0:
        raise bad("os_shutdown_rate", f"os_shutdown + missing_record + late_record rates sum to {excl} > 1")
    if c.spot_price_frac is not None and (
        not isinstance(c.spot_price_frac, int | float) or not 0.0 < c.spot_price_frac <= 1.0
    ):
        raise bad("spot_price_frac", "must be in (0, 1]")
    if not isinstance(c.terminated_launch_within_retention, bool):
        raise bad("terminated_launch_within_retention", "must be true or false")
    if not isinstance(c.collection_lag_h, int | float) or c.collection_lag_h < 0:
        raise bad("collection_lag_h", "must be >= 0")
    if c.truth_power_model not in TRUTH_POWER_MODELS:
        raise bad("truth_power_model", f"must be one of {TRUTH_POWER_MODELS}")
    if not isinstance(c.role_mix, dict) or not c.role_mix:
        raise bad("role_mix", "must be a non-empty mapping role -> weight")
    for role, w in c.role_mix.items():
        if role not in ROLES:
            raise bad("role_mix", f"unknown role {role!r}; known: {list(ROLES)}")
        if isinstance(w, bool) or not isinstance(w, int | float) or w < 0:
            raise bad("role_mix", f"weight of {role!r} must be >= 0, got {w!r}")
    if sum(c.role_mix.values()) <= 0:
        raise bad("role_mix", "weights sum to 0")
    if not isinstance(c.instance_types, dict):
        raise bad("instance_types", "must be a mapping role -> list of instance types")
    for role, types in c.instance_types.items():
        if role not in ROLES:
            raise bad("instance_types", f"unknown role {role!r}; known: {list(ROLES)}")
        if isinstance(types, str) or not types:
            raise bad("instance_types", f"role {role!r} needs a non-empty list of types")
        for t in types:
            if t not in factors.INSTANCE_CATALOG:
                raise bad("instance_types", f"unknown instance type {t!r} (role {role!r}); "
                          f"known: {sorted(factors.INSTANCE_CATALOG)}")  # fmt: skip
    for role, w in c.role_mix.items():
        if w > 0 and role not in c.instance_types:
            raise bad("instance_types", f"no instance types for role {role!r}")


@dataclass
class World:
    """A built world. All times UTC; ``*_s`` columns are seconds since ``window_start``."""

    config: WorldConfig
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    as_of: pd.Timestamp
    instances: pd.DataFrame  # inventory, one row per instance
    pieces: pd.DataFrame  # true running periods within the window
    events: pd.DataFrame  # every true state-change record, with served / fault flags
    cw_hourly: pd.DataFrame  # CloudWatch hourly statistics as served (percent)
    cost_lines: pd.DataFrame  # hourly billing lines (what Cost Explorer aggregates)
    intensity_year: pd.Series  # served lifecycle intensity (an estimate of the truth), 365 days [g/kWh]
    moer_year: pd.Series  # served marginal signal, hourly [lb/MWh]
    true_factors: dict[str, float]
    truth_cpu_hourly: np.ndarray  # (n_instances, n_hours) true hourly mean CPU [frac], NaN when off
    running_frac_hourly: np.ndarray  # (n_instances, n_hours) [frac]
    list_prices: dict[str, float] = field(default_factory=dict)  # type -> USD/h (catalog)
    intensity_true_year: pd.Series | None = None  # hidden true intensity, same index [g/kWh]
    intensity_estimated_year: pd.Series | None = None  # served hours flagged isEstimated [bool]
    truth_it_energy_kwh: np.ndarray | None = None  # (n_instances, n_hours) true IT energy, no PUE [kWh]
    truth_pue_hourly: np.ndarray | None = None  # (n_hours,) true PUE [-]
    billing: pd.DataFrame | None = None  # truth_billing rows (pieces + RI fees)
    forecasts: pd.DataFrame | None = None  # as issued: signal, issued_at, hour, intensity_g_per_kwh

    @property
    def hours(self) -> pd.DatetimeIndex:
        return pd.date_range(self.window_start, self.window_end, freq="h", inclusive="left")

    @property
    def vanished_ids(self) -> list[str]:
        """Terminated more than :data:`TERMINATED_VISIBLE_H` before ``as_of``: gone from DescribeInstances."""
        last_end = self.pieces.groupby("instance_id")["end_s"].max()
        ends = self.window_start + pd.to_timedelta(self.instances["instance_id"].map(last_end), unit="s")
        gone = self.instances["final_state"].eq("terminated") & (
            ends + pd.Timedelta(hours=TERMINATED_VISIBLE_H) <= self.as_of)
        return self.instances.loc[gone, "instance_id"].tolist()

    @property
    def served_records(self) -> list[dict]:
        """LookupEvents records visible at ``as_of``, newest first (as CloudTrail returns them)."""
        ev = self.events[self.events["served"]].sort_values(["event_time", "event_id"], ascending=False)
        return list(ev["record"])

    def truth_tables(self, power_profiles: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
        """
        The ``truth_*`` tables of :data:`finops_lib.schema.TRUTH_TABLES`, conformed.

        Parameters
        ----------
        power_profiles : ignored
            Kept for compatibility: the truth no longer uses the collected
            (BoaviztAPI) curve -- its power comes from
            :mod:`finops_lib.sandbox.truth`.

        Notes
        -----
        ``energy_kwh`` = true IT energy from SPECpower-style host curves on
        5-minute CPU (hardware offset, memory, storage, host share) x the true
        hourly PUE; ``co2_g = energy_kwh x`` the hidden true intensity.
        """
        return truth_tables(self, power_profiles)


# --------------------------------------------------------------------------- #
# building
# --------------------------------------------------------------------------- #
def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def draw_true_factors(seed: int, region: str = "eu-central-1") -> _truth.TruthParams:
    """Hidden per-world truth parameters from :mod:`finops_lib.sandbox.truth`'s own distributions."""
    return _truth.draw_params(_rng(seed, 1), region)


def _role_counts(config: WorldConfig) -> list[str]:
    mix = {r: w for r, w in config.role_mix.items() if w > 0}
    total = sum(mix.values())
    exact = {r: config.n_instances * w / total for r, w in mix.items()}
    counts = {r: int(np.floor(v)) for r, v in exact.items()}
    rest = config.n_instances - sum(counts.values())
    for r in sorted(mix, key=lambda r: (-(exact[r] - counts[r]), ROLES.index(r)))[:rest]:
        counts[r] += 1
    return [r for r in ROLES if r in counts for _ in range(counts[r])]


def build_world(config: WorldConfig | dict | None = None) -> World:
    """
    Build the simulated world for ``config`` (pure, deterministic).

    Parameters
    ----------
    config : WorldConfig or dict, optional
        Defaults to ``WorldConfig()``.

    Returns
    -------
    World
    """
    if not isinstance(config, WorldConfig):
        config = WorldConfig.from_dict(config)
    ws, we, as_of = config.window_start_ts, config.window_end_ts, config.as_of
    w_s = int((we - ws).total_seconds())
    rng = _rng(config.seed, 2)
    roles = _role_counts(config)
    rng.shuffle(roles)
    n = len(roles)
    ids = [f"i-{rng.bytes(9).hex()[:17]}" for _ in range(n)]
    office = _office_days(ws, we)
    inst_rows, piece_rows, event_rows = [], [], []
    name_counter: dict[str, int] = {}
    for k, (iid, role) in enumerate(zip(ids, roles, strict=True)):
        itype = str(rng.choice(config.instance_types[role]))
        name_counter[role] = name_counter.get(role, 0) + 1
        tags = {"Name": f"{role.replace('_', '-')}-{name_counter[role]:03d}", "role": role,
                "Schedule": SCHEDULE_TAG[role], "flexible": "true" if role == "batch" else "false"}  # fmt: skip
        lifecycle = "spot" if role == "spot_worker" else "on-demand"
        created_s = -int(rng.uniform(30, 400) * 86_400)
        pieces: list[list] = []  # [start_s, end_s, start_cause, end_cause]
        if role in ("production", "variable", "spot_worker"):
            if rng.random() < config.launch_in_window_rate:
                created_s = int(rng.uniform(0.05, 0.6) * w_s)
                pieces.append([created_s, w_s, "run", "window_end"])
            else:
                pieces.append([created_s, w_s, "before_window", "window_end"])
            if role != "spot_worker" and rng.random() < config.terminate_in_window_rate:
                lo = max(created_s, 0) + 0.1 * w_s
                pieces[-1][1:4:2] = [int(rng.uniform(lo, max(lo + 1, 0.95 * w_s))), "terminate_api"]
        elif role == "office_hours":
            for day_start, day_end in office:
                a = day_start + int(rng.uniform(-20, 40) * 60)
                b = day_end + int(rng.uniform(-30, 60) * 60)
                pieces.append([a, b, "start_api", "stop_api"])
        else:  # batch
            deadline_h = int(rng.choice([5, 6, 7]))
            job_h = int(rng.choice([1, 2, 3]))
            tags.update(deadline_hour_utc=str(deadline_h), job_duration_h=str(job_h))
            first_day = ws.floor("D") - pd.Timedelta(days=1)
            for d in range(config.days + 2):
                deadline_s = int((first_day + pd.Timedelta(days=d, hours=deadline_h) - ws).total_seconds())
                start = deadline_s - int((job_h + rng.uniform(0.5, 2.0)) * 3600)
                end = start + int(job_h * 3600 * rng.uniform(0.85, 1.0))
                if rng.random() < config.short_run_rate:
                    a = start - 600
                    pieces.append([a, a + int(rng.uniform(5, 55)), "start_api", "stop_api"])
                pieces.append([start, end, "start_api", "stop_api"])
        # faults (exclusive), Spot interruption first
        case = None
        interrupted = role == "spot_worker" and rng.random() < config.spot_interruption_rate
        u = rng.random()
        t_frac = rng.uniform(0.1, 0.9)
        if interrupted:
            p = pieces[-1]
            lo = max(p[0], 0) + 600
            p[1], p[3] = int(lo + t_frac * (w_s - 600 - lo)), "spot_interruption"
            case = "spot_interruption" if p[1] > lo else None
            if case is None:
                p[1], p[3] = w_s, "window_end"
        elif u < config.os_shutdown_rate:
            if role in ("production", "variable", "spot_worker"):
                p = pieces[-1]
                lo = max(p[0], 0) + 600
                if p[1] - 600 > lo:
                    p[1], p[3] = int(lo + t_frac * (p[1] - 600 - lo)), "os_shutdown"
                    case = "os_shutdown"
            else:
                inside = [p for p in pieces if 0 <= p[0] and p[1] < w_s and p[1] - p[0] >= 600]
                if inside:
                    inside[int(t_frac * len(inside))][3] = "os_shutdown"
                    case = "os_shutdown"
        # clip to the window
        clipped = []
        for a, b, sc, ec in pieces:
            if b <= 0 or a >= w_s:
                continue
            if a < 0:
                a, sc = 0, "before_window"
            if b > w_s:
                b, ec = w_s, "window_end"
            clipped.append((iid, a, b, sc, ec))
        piece_rows.extend(clipped)
        # records of this instance
        evs = _records_for(iid, itype, clipped, config, ws, rng, lifecycle=lifecycle, tags=tags)
        retained_s = int((as_of - pd.Timedelta(days=CLOUDTRAIL_RETENTION_DAYS) - ws).total_seconds())
        ends_terminated = bool(clipped) and clipped[-1][4] in ("terminate_api", "spot_interruption")
        if config.terminated_launch_within_retention and ends_terminated and created_s < retained_s + 3600:
            created_s = int(rng.uniform(retained_s + 3600, min(-3600, clipped[0][1])))
        if retained_s <= created_s < 0:  # the launch before the window, still within CloudTrail's 90 days
            evs.insert(0, _record(iid, itype, created_s, "RunInstances", None, "pending", config, ws, rng,
                                  lifecycle=lifecycle, tags=tags))  # fmt: skip
        fault_kind = None
        if case is None and u >= config.os_shutdown_rate and evs:
            # an instance that vanishes from DescribeInstances and loses its only in-window record would be
            # invisible to every estimator; the sandbox does not model that case (no record-hiding fault there)
            hideable = len([e for e in evs if e["event_time"] >= ws]) > 1 or not ends_terminated
            if u < config.os_shutdown_rate + config.missing_record_rate:
                if hideable:
                    fault_kind = "missing_record"
                    evs[int(t_frac * len(evs))]["fault"] = "missing_record"
            elif u < config.os_shutdown_rate + config.missing_record_rate + config.late_record_rate and hideable:
                fault_kind = "late_record"
                last = evs[-1]
                last["fault"] = "late_record"
                last["delivery_time"] = as_of + pd.Timedelta(hours=float(rng.uniform(0.25, 24.0)))
        case = case or fault_kind
        if case is None:
            case = "before_window" if clipped and clipped[0][3] == "before_window" else "complete"
        event_rows.extend(evs)
        last_end = clipped[-1][4] if clipped else "stop_api"
        final_state = {"window_end": "running", "stop_api": "stopped", "os_shutdown": "stopped",
                       "terminate_api": "terminated", "spot_interruption": "terminated"}[last_end]  # fmt: skip
        starts = [a for _, a, _, sc, _ in clipped if sc in ("run", "start_api")]
        launch_s = max(starts) if starts else created_s  # EC2 LaunchTime = last start
        inst_rows.append({
            "instance_id": iid, "instance_type": itype, "role": role, "lifecycle": lifecycle,
            "az": f"{config.region}{'abc'[k % 3]}", "created_time": ws + pd.Timedelta(seconds=created_s),
            "launch_time": ws + pd.Timedelta(seconds=launch_s), "final_state": final_state,
            "final_state_reason": "Client.InstanceInitiatedShutdown" if last_end == "os_shutdown" else None,
            "tags": tags, "volume_gb": int(rng.choice([8, 20, 30, 50, 100])),
            "egress_gb_per_h": float(rng.uniform(0.01, 0.3)) if role in ("production", "variable") else 0.0,
            "case": case,
        })  # fmt: skip
    instances = pd.DataFrame(inst_rows)
    pieces_df = pd.DataFrame(piece_rows, columns=["instance_id", "start_s", "end_s", "start_cause", "end_cause"])
    events = _events_frame(event_rows, as_of, _rng(config.seed, 10))
    params = draw_true_factors(config.seed, config.region)
    n_h = w_s // constants.S_PER_H
    hours = pd.date_range(ws, we, freq="h", inclusive="left")
    run_slot = _running_seconds_per_slot(ids, pieces_df, w_s)  # (n, slots)
    cpu_pct = _served_cpu_pct(instances, ws, w_s, _rng(config.seed, 3))  # (n, slots)
    on = run_slot > 0
    true_count = on.reshape(n, n_h, SLOTS_PER_H).sum(-1)
    with np.errstate(invalid="ignore"), _quiet_nan():
        true_sum = np.nansum(np.where(on, cpu_pct, np.nan).reshape(n, n_h, SLOTS_PER_H), axis=-1)
    # the true hourly mean CPU over every running slot (the truth's power uses the 5-minute values)
    truth_cpu = np.where(true_count > 0, true_sum / np.maximum(true_count, 1) / constants.PERCENT, np.nan)
    # CloudWatch basic monitoring: the first datapoint after a start comes 1-2 periods late,
    # and single datapoints go missing now and then
    cw_on = on & ~_cloudwatch_missing(ids, pieces_df, on.shape, _rng(config.seed, 9))
    count = cw_on.reshape(n, n_h, SLOTS_PER_H).sum(-1)
    masked = np.where(cw_on, cpu_pct, np.nan).reshape(n, n_h, SLOTS_PER_H)
    with np.errstate(invalid="ignore"), _quiet_nan():
        sum_pct = np.nansum(masked, axis=-1)
        min_pct = np.nanmin(masked, axis=-1)
        max_pct = np.nanmax(masked, axis=-1)
    running_frac = run_slot.reshape(n, n_h, SLOTS_PER_H).sum(-1) / constants.S_PER_H
    gap = _gaps(count > 0, config.cloudwatch_gap_rate, _rng(config.seed, 4))
    ii, hh = np.nonzero((count > 0) & ~gap)
    cw = pd.DataFrame({
        "instance_id": np.asarray(ids)[ii], "hour": hours[hh], "sample_count": count[ii, hh].astype(float),
        "sum_pct": sum_pct[ii, hh], "min_pct": min_pct[ii, hh], "max_pct": max_pct[ii, hh],
    })  # fmt: skip
    # hidden truth: power from the truth's own host curves on 5-minute CPU
    spec = pd.DataFrame([factors.INSTANCE_CATALOG[t] for t in instances["instance_type"]])
    instances["vcpu"] = spec["vcpu"].to_numpy()
    instances["memory_gib"] = spec["memory_gib"].to_numpy(float)
    trng = _rng(config.seed, 6)
    offsets = np.exp(trng.normal(0.0, _truth.HW_OFFSET_LOG_SD, size=n))
    it_kwh = _truth.energy_kwh_hourly(instances, cpu_pct / constants.PERCENT, run_slot, SLOTS_PER_H, offsets, params)
    year = _intensity.year_hours(we)
    true_ci = _intensity.synthetic_intensity_g_per_kwh(year, _rng(config.seed, 5))
    ci, ci_est = _truth.served_intensity(true_ci, as_of, _rng(config.seed, 7))
    pue_h = _truth.pue_hourly(hours, params.pue_annual)
    # forecasts as issued every hour from a day before the window to its end (average and marginal signals)
    issued = pd.date_range(ws - pd.Timedelta(days=1), min(we, as_of), freq=f"{_truth.FORECAST_ISSUE_EVERY_H}h",
                           inclusive="left")  # fmt: skip
    frng = _rng(config.seed, 11)
    moer_true = _intensity.marginal_lb_per_mwh(true_ci) * constants.G_PER_KWH_PER_LB_PER_MWH
    forecasts = pd.concat([
        _truth.forecasts_as_issued(true_ci, issued, frng).assign(signal="co2_aoer"),
        _truth.forecasts_as_issued(moer_true, issued, frng).assign(signal="co2_moer"),
    ], ignore_index=True)  # fmt: skip
    prices = {t: v["usd_per_hour"] for t, v in factors.INSTANCE_CATALOG.items()}
    one_piece = pieces_df.groupby("instance_id").agg(k=("start_s", "size"), sc=("start_cause", "first"),
                                                     ec=("end_cause", "last"))  # fmt: skip
    whole = one_piece["k"].eq(1) & one_piece["sc"].eq("before_window") & one_piece["ec"].eq("window_end")
    instances["always_on_whole_window"] = instances["instance_id"].map(whole).eq(True)
    brng = _rng(config.seed, 8)
    instances["ri_covered"] = _truth.ri_covered(instances, brng)
    spot_types = sorted(set(instances.loc[instances["lifecycle"].eq("spot"), "instance_type"]))
    spot_frac = _truth.spot_price_frac_hourly(spot_types, n_h, brng, config.spot_price_frac)
    billing, cost_lines = _billing(instances, pieces_df, running_frac, hours, config, prices, spot_frac, w_s, brng)
    tf = params.as_factors() | {
        "pue_window_mean": float(pue_h.mean()),
        "hw_offset_log_sd_realised": float(np.log(offsets).std()) if n > 1 else 0.0,
        "eur_per_usd": float(factors.EUR_PER_USD["value"]),  # a past period's FX rate is data
    }
    tf |= {f"spot_price_frac_mean_{t}": float(v.mean()) for t, v in spot_frac.items()}
    return World(
        config=config, window_start=ws, window_end=we, as_of=as_of, instances=instances,
        pieces=pieces_df, events=events, cw_hourly=cw, cost_lines=cost_lines,
        intensity_year=ci, moer_year=_intensity.marginal_lb_per_mwh(ci), true_factors=tf,
        truth_cpu_hourly=truth_cpu, running_frac_hourly=running_frac, list_prices=prices,
        intensity_true_year=true_ci, intensity_estimated_year=ci_est, truth_it_energy_kwh=it_kwh,
        truth_pue_hourly=pue_h, billing=billing, forecasts=forecasts,
    )  # fmt: skip


class _quiet_nan:
    """Silence numpy's all-NaN-slice warnings (hours without data are expected)."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def _office_days(ws: pd.Timestamp, we: pd.Timestamp) -> list[tuple[int, int]]:
    """(start_s, end_s) of office hours 08-18 Europe/Berlin, Mon-Fri without German public holidays."""
    de = holidays.Germany(years=range(ws.year - 1, we.year + 2))
    out = []
    for day in pd.date_range(ws.floor("D") - pd.Timedelta(days=1), we.ceil("D"), freq="D"):
        if day.dayofweek >= 5 or day.date() in de:
            continue
        loc = pd.Timestamp(day.date()).tz_localize(OFFICE_TZ)
        a = (loc + pd.Timedelta(hours=OFFICE_START_H)).tz_convert("UTC")
        b = (loc + pd.Timedelta(hours=OFFICE_END_H)).tz_convert("UTC")
        out.append((int((a - ws).total_seconds()), int((b - ws).total_seconds())))
    return out


def _state(name: str | None) -> dict | None:
    return None if name is None else {"code": STATE_CODE[name], "name": name}


def _records_for(iid, itype, pieces, config, ws, rng, lifecycle=None, tags=None) -> list[dict]:
    """CloudTrail records (real LookupEvents shape) for an instance's running periods."""
    out = []
    for _, a, b, sc, ec in pieces:
        if sc == "run":
            out.append(_record(iid, itype, a, "RunInstances", None, "pending", config, ws, rng,
                               lifecycle=lifecycle, tags=tags))
        elif sc == "start_api":
            out.append(_record(iid, itype, a, "StartInstances", "stopped", "pending", config, ws, rng))
        if ec == "stop_api":
            out.append(_record(iid, itype, b, "StopInstances", "running", "stopping", config, ws, rng))
        elif ec == "terminate_api":
            out.append(_record(iid, itype, b, "TerminateInstances", "running", "shutting-down", config, ws, rng))
        elif ec == "spot_interruption":
            out.append(_record(iid, itype, b, "BidEvictedEvent", None, None, config, ws, rng))
    return out


def _record(iid, itype, t_s, name, prev, cur, config, ws, rng, lifecycle=None, tags=None) -> dict:
    t = ws + pd.Timedelta(seconds=int(t_s))
    eid = str(uuid.UUID(bytes=rng.bytes(16), version=4))
    req = str(uuid.UUID(bytes=rng.bytes(16), version=4))
    iso = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if name == "BidEvictedEvent":
        user = "ec2.amazonaws.com"
        detail = {
            "eventVersion": "1.08", "userIdentity": {"accountId": ACCOUNT_ID, "invokedBy": "ec2.amazonaws.com"},
            "eventTime": iso, "eventSource": "ec2.amazonaws.com", "eventName": name,
            "awsRegion": config.region, "sourceIPAddress": "ec2.amazonaws.com", "userAgent": "ec2.amazonaws.com",
            "requestParameters": None, "responseElements": None, "eventID": eid, "readOnly": False,
            "eventType": "AwsServiceEvent", "managementEvent": True, "recipientAccountId": ACCOUNT_ID,
            "serviceEventDetails": {"instanceIdSet": [iid]}, "eventCategory": "Management",
        }  # fmt: skip
    else:
        user = "sandbox-scheduler" if name in ("StartInstances", "StopInstances") else "sandbox-admin"
        if name == "RunInstances":
            reqp = {"instancesSet": {"items": [{"imageId": "ami-sandbox", "minCount": 1, "maxCount": 1}]},
                    "instanceType": itype}  # fmt: skip
            item = {"instanceId": iid, "imageId": "ami-sandbox", "instanceType": itype,
                    "instanceState": _state("pending"), "launchTime": int(t.timestamp() * 1000),
                    "placement": {"availabilityZone": f"{config.region}a", "tenancy": "default"}}  # fmt: skip
            if lifecycle == "spot":
                item["instanceLifecycle"] = "spot"
                reqp["instanceMarketOptions"] = {"marketType": "spot"}
            if tags:
                item["tagSet"] = {"items": [{"key": k, "value": v} for k, v in sorted(tags.items())]}
            resp = {"requestId": req, "reservationId": f"r-{rng.bytes(9).hex()[:17]}", "ownerId": ACCOUNT_ID,
                    "instancesSet": {"items": [item]}}  # fmt: skip
        else:
            reqp = {"instancesSet": {"items": [{"instanceId": iid}]}}
            if name == "StopInstances":
                reqp["force"] = False
            resp = {"requestId": req, "instancesSet": {"items": [
                {"instanceId": iid, "currentState": _state(cur), "previousState": _state(prev)}]}}  # fmt: skip
        detail = {
            "eventVersion": "1.08",
            "userIdentity": {"type": "IAMUser", "principalId": "AIDASANDBOX", "accountId": ACCOUNT_ID,
                             "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/{user}", "userName": user},
            "eventTime": iso, "eventSource": "ec2.amazonaws.com", "eventName": name,
            "awsRegion": config.region, "sourceIPAddress": "192.0.2.10", "userAgent": "aws-cli/2.15 sandbox",
            "requestParameters": reqp, "responseElements": resp, "requestID": req, "eventID": eid,
            "readOnly": False, "eventType": "AwsApiCall", "managementEvent": True,
            "recipientAccountId": ACCOUNT_ID, "eventCategory": "Management",
        }  # fmt: skip
    record = {
        "EventId": eid, "EventName": name, "ReadOnly": "false", "EventTime": t.timestamp(),
        "EventSource": "ec2.amazonaws.com", "Username": user,
        "Resources": [{"ResourceType": "AWS::EC2::Instance", "ResourceName": iid}],
        "CloudTrailEvent": json.dumps(detail, sort_keys=True),
    }  # fmt: skip
    if name != "BidEvictedEvent":
        record["AccessKeyId"] = "AKIASANDBOXEXAMPLE"
    return {"event_time": t, "event_name": name, "instance_id": iid, "event_id": eid,
            "previous_state": prev, "current_state": cur, "delivery_time": t, "fault": None,
            "record": record}  # fmt: skip


def _cloudwatch_missing(ids, pieces, shape, rng) -> np.ndarray:
    """5-minute slots without a CloudWatch datapoint although the instance ran, shape (n, slots).

    After each start the first datapoint arrives 1-2 periods late (the slot of
    the start and maybe the next have none), and any datapoint is missing with
    probability :data:`CW_MISSING_DATAPOINT_P`.
    """
    miss = rng.random(shape) < CW_MISSING_DATAPOINT_P
    pos = {iid: k for k, iid in enumerate(ids)}
    started = pieces[pieces["start_cause"].isin(["run", "start_api"])]
    delay = rng.integers(1, CW_FIRST_DATAPOINT_DELAY_SLOTS_MAX + 1, size=len(started))
    for iid, a, d in zip(started["instance_id"], started["start_s"], delay, strict=True):
        k0 = int(a) // SLOT_S
        miss[pos[iid], k0:k0 + int(d)] = True
    return miss


def _events_frame(rows: list[dict], as_of: pd.Timestamp, rng: np.random.Generator | None = None) -> pd.DataFrame:
    cols = ["event_time", "event_name", "instance_id", "event_id", "previous_state", "current_state",
            "delivery_time", "fault", "record"]  # fmt: skip
    ev = pd.DataFrame(rows, columns=cols)
    if rng is not None and len(ev):  # CloudTrail delivers within ~15 min (not the late_record fault: later)
        lag = pd.to_timedelta(rng.uniform(*CLOUDTRAIL_DELIVERY_S, size=len(ev)), unit="s")
        lag = pd.Series(lag, index=ev.index)
        ontime = ev["fault"].ne("late_record")
        ev.loc[ontime, "delivery_time"] = ev.loc[ontime, "event_time"] + lag[ontime]
    ev["served"] = ev["fault"].ne("missing_record") & (ev["delivery_time"] <= as_of)
    return ev.sort_values(["event_time", "event_id"], kind="stable").reset_index(drop=True)


def _running_seconds_per_slot(ids: list[str], pieces: pd.DataFrame, w_s: int) -> np.ndarray:
    """Running seconds of each instance in each 5-min slot of the window, shape (n, slots)."""
    edges = np.arange(0, w_s + SLOT_S, SLOT_S, dtype=float)
    out = np.zeros((len(ids), len(edges) - 1))
    pos = {iid: k for k, iid in enumerate(ids)}
    for iid, grp in pieces.groupby("instance_id", sort=False):
        a = grp["start_s"].to_numpy(float)
        b = grp["end_s"].to_numpy(float)
        # cumulative running time F(t) is piecewise linear with knots at a and b
        knots = np.column_stack([a, b]).ravel()
        f = np.concatenate([[0.0], np.cumsum(b - a)])
        vals = np.column_stack([f[:-1], f[1:]]).ravel()
        cum = np.interp(edges, knots, vals, left=0.0, right=f[-1])
        out[pos[iid]] = np.diff(cum)
    return np.clip(np.round(out, 6), 0.0, SLOT_S)


#: Role-typical CPU patterns (reported CloudWatch fraction): base, diurnal amplitude
#: (relative), weekend factor, noise sd. Modelling choices for an SME fleet.
CPU_PATTERN = {
    "production": (0.25, 0.6, 0.75, 0.04),
    "variable": (0.12, 2.0, 0.5, 0.08),
    "office_hours": (0.10, 0.8, 1.0, 0.05),
    "batch": (0.70, 0.0, 1.0, 0.08),
    "spot_worker": (0.60, 0.0, 1.0, 0.08),
}


def _served_cpu_pct(instances: pd.DataFrame, ws: pd.Timestamp, w_s: int, rng) -> np.ndarray:
    """Reported CPU utilisation every 5 min [percent], shape (n, slots); defined whether running or not."""
    n, t = len(instances), w_s // SLOT_S
    times = ws + pd.to_timedelta(np.arange(t) * SLOT_S, unit="s")
    local = times.tz_convert(OFFICE_TZ)
    hod = local.hour.to_numpy() + local.minute.to_numpy() / 60.0
    day_curve = np.exp(-(((hod - 14.0) / 4.0) ** 2))
    weekend = local.dayofweek.to_numpy() >= 5
    out = np.empty((n, t))
    from scipy.signal import lfilter

    phi = 0.9
    for k, role in enumerate(instances["role"]):
        base, amp, wk, sd = CPU_PATTERN[role]
        scale = rng.uniform(0.6, 1.4)
        noise = lfilter([1.0], [1.0, -phi], rng.normal(0.0, sd * np.sqrt(1 - phi**2), size=t))
        u = base * scale * (1.0 + amp * day_curve) * np.where(weekend, wk, 1.0) + noise
        out[k] = np.clip(u, 0.005, 0.9) * constants.PERCENT
    return np.round(out, 4)


def _gaps(has_data: np.ndarray, rate: float, rng) -> np.ndarray:
    """Gap mask over instance-hours: runs of 1-5 h starting with probability rate / 3."""
    gap = np.zeros(has_data.shape, dtype=bool)
    if rate <= 0:
        return gap
    starts = rng.random(has_data.shape) < rate / 3.0
    lengths = rng.integers(1, 6, size=has_data.shape)
    for i, h in zip(*np.nonzero(starts), strict=True):
        gap[i, h : h + lengths[i, h]] = True
    return gap & has_data


def _billing(instances, pieces, running_frac, hours, config, prices, spot_frac, w_s, rng):
    """
    What AWS bills, by the truth's rules (:mod:`finops_lib.sandbox.truth`).

    Returns
    -------
    billing : DataFrame
        ``truth_billing`` rows: one per running period (instance_id, start,
        billed_s, cost_usd) plus one per Reserved Instance (billed_s 0, the RI
        fee of the window).
    cost_lines : DataFrame
        Hourly billing lines Cost Explorer aggregates: compute (BoxUsage /
        SpotUsage; RI-covered usage at 0 as ``DiscountedUsage``; the RI fee as
        ``HeavyUsage`` every hour), EBS gp3 storage, data transfer out.
    """
    n, n_h = running_frac.shape
    prefix = USAGE_TYPE_PREFIX[config.region]
    info = instances.set_index("instance_id")
    pos = {iid: k for k, iid in enumerate(instances["instance_id"])}
    lifecycle = pieces["instance_id"].map(info["lifecycle"])
    pending = rng.uniform(*_truth.PENDING_S_RANGE, size=len(pieces))
    bp = _truth.billed_pieces(pieces, lifecycle, pending)
    billed_h = np.zeros((n, n_h))
    cost_h = np.zeros((n, n_h))
    piece_cost = np.zeros(len(bp))
    edges = np.arange(n_h + 1, dtype=float) * constants.S_PER_H
    for j, row in enumerate(bp.itertuples(index=False)):
        if row.billed_s <= 0:
            continue
        k = pos[row.instance_id]
        a, b = row.bill_start_s, row.bill_end_s
        sec = np.clip(np.minimum(edges[1:], b) - np.maximum(edges[:-1], a), 0.0, None)
        top_up = row.billed_s - (b - a)
        if top_up > 0:
            sec[min(int(a) // constants.S_PER_H, n_h - 1)] += top_up
        itype = info.at[row.instance_id, "instance_type"]
        if info.at[row.instance_id, "ri_covered"]:
            rate = np.zeros(n_h)
        elif info.at[row.instance_id, "lifecycle"] == "spot":
            rate = prices[itype] * spot_frac[itype]
        else:
            rate = np.full(n_h, prices[itype])
        c = sec * rate / constants.S_PER_H
        piece_cost[j] = c.sum()
        billed_h[k] += sec
        cost_h[k] += c
    ws = hours[0]
    billing = pd.DataFrame({"instance_id": bp["instance_id"], "start": ws + pd.to_timedelta(bp["start_s"], unit="s"),
                            "billed_s": bp["billed_s"], "cost_usd": piece_cost})  # fmt: skip
    ri = instances[instances["ri_covered"]]
    fee_h = np.array([prices[t] * _truth.RI_FEE_FRAC for t in ri["instance_type"]])
    billing = pd.concat([billing, pd.DataFrame({"instance_id": ri["instance_id"], "start": ws, "billed_s": 0.0,
                                                "cost_usd": fee_h * n_h})], ignore_index=True)  # fmt: skip
    ids = instances["instance_id"].to_numpy()
    types = instances["instance_type"].to_numpy()
    utype = np.array([f"{prefix}-{'SpotUsage' if lc == 'spot' else 'BoxUsage'}:{t}"
                      for t, lc in zip(types, instances["lifecycle"], strict=True)])  # fmt: skip
    rtype = np.where(instances["ri_covered"].to_numpy(bool), "DiscountedUsage", "Usage")
    frames = []
    ii, hh = np.nonzero(billed_h > 0)
    frames.append(pd.DataFrame({"hour": hours[hh], "resource_id": ids[ii], "service": SERVICE_COMPUTE,
                                "usage_type": utype[ii], "usage_quantity": billed_h[ii, hh] / constants.S_PER_H,
                                "cost_usd": cost_h[ii, hh], "record_type": rtype[ii]}))  # fmt: skip
    if len(ri):
        r_ids = np.repeat(ri["instance_id"].to_numpy(), n_h)
        frames.append(pd.DataFrame({
            "hour": np.tile(hours, len(ri)), "service": SERVICE_COMPUTE,
            "resource_id": [f"arn:aws:ec2:{config.region}:{ACCOUNT_ID}:reserved-instances/ri-{i[2:]}" for i in r_ids],
            "usage_type": np.repeat([f"{prefix}-HeavyUsage:{t}" for t in ri["instance_type"]], n_h),
            "usage_quantity": 1.0, "cost_usd": np.repeat(fee_h, n_h), "record_type": "RIFee"}))  # fmt: skip
    # EBS: billed while the volume exists (running or stopped), until termination
    h_start = np.arange(n_h) * constants.S_PER_H
    created = ((instances["created_time"] - hours[0]).dt.total_seconds()).to_numpy()
    last_end = pieces.groupby("instance_id")["end_s"].max().reindex(ids).to_numpy(float)
    gone = instances["final_state"].eq("terminated").to_numpy()
    until = np.where(gone, last_end, w_s)
    exist_s = np.clip(np.minimum(h_start[None, :] + 3600, until[:, None])
                      - np.maximum(h_start[None, :], created[:, None]), 0, 3600)  # fmt: skip
    h_in_month = (hours.days_in_month.to_numpy() * constants.H_PER_DAY).astype(float)
    gb_mo = instances["volume_gb"].to_numpy(float)[:, None] * exist_s / constants.S_PER_H / h_in_month[None, :]
    ii, hh = np.nonzero(exist_s > 0)
    q = gb_mo[ii, hh]
    frames.append(pd.DataFrame({"hour": hours[hh], "resource_id": ids[ii], "service": SERVICE_OTHER,
                                "usage_type": f"{prefix}-EBS:VolumeUsage.gp3", "usage_quantity": q,
                                "cost_usd": q * EBS_GP3_USD_PER_GB_MONTH, "record_type": "Usage"}))  # fmt: skip
    gb = instances["egress_gb_per_h"].to_numpy(float)[:, None] * running_frac
    ii, hh = np.nonzero(gb > 0)
    q = gb[ii, hh]
    frames.append(pd.DataFrame({"hour": hours[hh], "resource_id": ids[ii], "service": SERVICE_OTHER,
                                "usage_type": f"{prefix}-DataTransfer-Out-Bytes", "usage_quantity": q,
                                "cost_usd": q * DATA_TRANSFER_OUT_USD_PER_GB, "record_type": "Usage"}))  # fmt: skip
    out = pd.concat(frames, ignore_index=True)
    out["region"] = config.region
    out = out.sort_values(["hour", "service", "usage_type", "resource_id"], kind="stable").reset_index(drop=True)
    return billing, out


# --------------------------------------------------------------------------- #
# truth
# --------------------------------------------------------------------------- #
def truth_tables(world: World, power_profiles: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """See :meth:`World.truth_tables` (``power_profiles`` is not used)."""
    ws, tf = world.window_start, world.true_factors
    inst = world.instances
    p = world.pieces
    intervals = pd.DataFrame({
        "instance_id": p["instance_id"], "start": ws + pd.to_timedelta(p["start_s"], unit="s"),
        "end": ws + pd.to_timedelta(p["end_s"], unit="s"),
        "start_cause": p["start_cause"], "end_cause": p["end_cause"],
    })  # fmt: skip
    hours = world.hours
    n, n_h = world.running_frac_hourly.shape
    true_ci = world.intensity_true_year.reindex(hours).to_numpy(float)
    energy = world.truth_it_energy_kwh * world.truth_pue_hourly[None, :]
    hourly = pd.DataFrame({
        "instance_id": np.repeat(inst["instance_id"].to_numpy(), n_h), "hour": np.tile(hours, n),
        "running_frac": world.running_frac_hourly.ravel(), "cpu_util_frac": world.truth_cpu_hourly.ravel(),
        "energy_kwh": energy.ravel(), "co2_g": (energy * true_ci[None, :]).ravel(),
    })  # fmt: skip
    ti = pd.DataFrame({"zone": world.config.zone, "hour": hours, "intensity_g_per_kwh": true_ci})
    tfac = pd.DataFrame({"name": list(tf), "value": list(tf.values())})
    cases = inst[["instance_id", "role", "case"]]
    raw = {"truth_intervals": intervals, "truth_billing": world.billing, "truth_hourly": hourly,
           "truth_intensity": ti, "truth_factors": tfac, "truth_cases": cases}  # fmt: skip
    return {name: schema.conform(name, df) for name, df in raw.items()}
