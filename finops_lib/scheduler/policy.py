"""Scheduler policies as data: a YAML file, validated before any decision is made.

Schema (``version: 1``; the bundled ``policies.yaml`` is the reference)::

    version: 1
    tags:                         # tag keys the scheduler reads
      schedule: Schedule          # opt-in tag; its value names a policy (name or alias)
      opt_out: ScheduleOptOut     # true/yes/1 -> never touched
      timezone: ScheduleTimezone  # per-instance IANA time zone override
    defaults:
      timezone: Europe/Berlin     # IANA name
      holidays: {country: DE, subdiv: null}   # ``holidays`` package; subdiv = Bundesland code or null
      interval_h: 1               # scheduler period; expected savings are per interval [h]
    maintenance_windows:          # optional; no stop/start decisions inside (mode: hold),
      - name: patch-sunday        # or instances kept running inside (mode: run)
        weekdays: [Sun]
        start: "02:00"            # local time of the instance (its time zone)
        end: "04:00"
        mode: run                 # hold | run
        policies: [office-hours]  # optional; default every policy
    policies:
      <name>:
        kind: hours | carbon-aware | always-on
        aliases: [<tag value>, ...]
        # kind hours: running on ``weekdays`` from ``start`` to ``end`` (local "HH:MM",
        # start < end), off on public holidays when ``skip_holidays`` (default true)
        # kind carbon-aware: running when the forecast intensity of the current hour is
        # below ``threshold_g_per_kwh`` (null: no threshold); with a deadline
        # (``deadline_hour_utc`` or ``deadline_hour_utc_tag``) and run hours
        # (``run_hours`` or ``run_hours_tag``) it runs the remaining hours in the
        # greenest hours of the ``window_h`` hours before the deadline, and always
        # when the hours left before the deadline equal the hours still needed.

Any problem -- unknown key, wrong type, unknown time zone or holiday
subdivision, an alias used twice, start >= end -- raises :class:`PolicyError`
naming the file and the offending entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
KINDS = ("hours", "carbon-aware", "always-on")
MAINTENANCE_MODES = ("hold", "run")
#: Tag values of the opt-out tag that mean "opted out" (compared case-insensitively).
TRUE_VALUES = ("true", "yes", "1")
#: Default carbon-aware threshold for eu-central-1 (issue 12; the original thesis design). [gCO2e/kWh]
DEFAULT_THRESHOLD_G_PER_KWH = 300.0
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


class PolicyError(ValueError):
    """The policy file (or a tag naming a policy) is invalid; nothing was done."""


@dataclass(frozen=True)
class Policy:
    """One validated policy (see the module docstring for the fields)."""

    name: str
    kind: str
    aliases: tuple[str, ...] = ()
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    start_min: int = 8 * 60  # local minutes after midnight
    end_min: int = 18 * 60
    skip_holidays: bool = True
    threshold_g_per_kwh: float | None = None
    deadline_hour_utc: int | None = None
    deadline_hour_utc_tag: str | None = None
    run_hours: int | None = None
    run_hours_tag: str | None = None
    window_h: int = 24

    @property
    def has_deadline(self) -> bool:
        return self.kind == "carbon-aware" and (self.deadline_hour_utc is not None or self.deadline_hour_utc_tag is not None)


@dataclass(frozen=True)
class MaintenanceWindow:
    name: str
    weekdays: tuple[int, ...]
    start_min: int
    end_min: int
    mode: str = "hold"
    policies: tuple[str, ...] | None = None  # None: every policy


@dataclass(frozen=True)
class PolicySet:
    """A validated policy file."""

    policies: dict[str, Policy]
    schedule_tag: str = "Schedule"
    opt_out_tag: str = "ScheduleOptOut"
    timezone_tag: str = "ScheduleTimezone"
    timezone: str = "Europe/Berlin"
    holiday_country: str = "DE"
    holiday_subdiv: str | None = None
    interval_h: float = 1.0
    maintenance_windows: tuple[MaintenanceWindow, ...] = ()
    source: str = "<dict>"
    _lookup: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def tag_values(self) -> list[str]:
        """Every accepted ``Schedule`` tag value (policy names and aliases), sorted."""
        return sorted(self._lookup)

    def resolve(self, tag_value: str) -> Policy:
        """The policy a ``Schedule`` tag value names (name or alias, exact match after stripping).

        Raises
        ------
        PolicyError
            The value names no policy (the message lists the accepted values).
        """
        key = str(tag_value).strip()
        if key not in self._lookup:
            raise PolicyError(f"{self.schedule_tag} tag value {tag_value!r} names no policy in {self.source}; "
                              f"accepted: {sorted(self._lookup)}")
        return self.policies[self._lookup[key]]


def default_policy_path() -> Path:
    """The bundled ``policies.yaml``."""
    return Path(str(resources.files("finops_lib.scheduler").joinpath("policies.yaml")))


def load_policies(path=None) -> PolicySet:
    """Read and validate a policy file (default: the bundled ``policies.yaml``).

    Raises
    ------
    PolicyError
        Unreadable file, invalid YAML or any schema violation (names the file and entry).
    """
    path = Path(path) if path is not None else default_policy_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy file {path} is not valid YAML: {exc}") from exc
    return parse_policies(raw, source=str(path))


def _check_keys(d: dict, allowed: set, where: str) -> None:
    if not isinstance(d, dict):
        raise PolicyError(f"{where} must be a mapping, got {type(d).__name__}")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise PolicyError(f"{where}: unknown key(s) {unknown}; allowed {sorted(allowed)}")


def _hhmm(value, where: str) -> int:
    m = _HHMM.match(str(value)) if isinstance(value, str) else None
    if not m or (m.group(1) == "24" and m.group(2) != "00"):
        raise PolicyError(f"{where}: expected local time 'HH:MM' (00:00..24:00), got {value!r}")
    return int(m.group(1)) * 60 + int(m.group(2))


def _weekdays(value, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value or not all(v in WEEKDAYS for v in value):
        raise PolicyError(f"{where}: weekdays must be a non-empty list of {list(WEEKDAYS)}, got {value!r}")
    return tuple(sorted({WEEKDAYS.index(v) for v in value}))


def check_timezone(name, where: str) -> str:
    """``name`` if it is a known IANA time zone, else :class:`PolicyError`."""
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PolicyError(f"{where}: unknown time zone {name!r} (use an IANA name like Europe/Berlin)") from exc
    return str(name)


def _int(value, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise PolicyError(f"{where}: expected an integer in [{lo}, {hi}], got {value!r}")
    return value


def _str(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _policy(name: str, d: dict, src: str) -> Policy:
    where = f"{src}: policy {name!r}"
    common = {"kind", "aliases"}
    kind = d.get("kind") if isinstance(d, dict) else None
    if kind not in KINDS:
        raise PolicyError(f"{where}: kind must be one of {list(KINDS)}, got {kind!r}")
    allowed = common | {
        "hours": {"weekdays", "start", "end", "skip_holidays"},
        "carbon-aware": {"threshold_g_per_kwh", "deadline_hour_utc", "deadline_hour_utc_tag", "run_hours",
                         "run_hours_tag", "window_h"},
        "always-on": set(),
    }[kind]
    _check_keys(d, allowed, where)
    aliases = d.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise PolicyError(f"{where}: aliases must be a list of non-empty strings, got {aliases!r}")
    kw: dict = {"name": name, "kind": kind, "aliases": tuple(a.strip() for a in aliases)}
    if kind == "hours":
        for k in ("weekdays", "start", "end"):
            if k not in d:
                raise PolicyError(f"{where}: kind hours needs {k!r}")
        kw["weekdays"] = _weekdays(d["weekdays"], where)
        kw["start_min"], kw["end_min"] = _hhmm(d["start"], f"{where} start"), _hhmm(d["end"], f"{where} end")
        if kw["start_min"] >= kw["end_min"]:
            raise PolicyError(f"{where}: start {d['start']} must be before end {d['end']}")
        sh = d.get("skip_holidays", True)
        if not isinstance(sh, bool):
            raise PolicyError(f"{where}: skip_holidays must be true or false, got {sh!r}")
        kw["skip_holidays"] = sh
    elif kind == "carbon-aware":
        thr = d.get("threshold_g_per_kwh", DEFAULT_THRESHOLD_G_PER_KWH)
        if thr is not None and (isinstance(thr, bool) or not isinstance(thr, int | float) or thr <= 0):
            raise PolicyError(f"{where}: threshold_g_per_kwh must be a positive number or null, got {thr!r}")
        kw["threshold_g_per_kwh"] = None if thr is None else float(thr)
        if "deadline_hour_utc" in d and "deadline_hour_utc_tag" in d:
            raise PolicyError(f"{where}: give deadline_hour_utc or deadline_hour_utc_tag, not both")
        if "run_hours" in d and "run_hours_tag" in d:
            raise PolicyError(f"{where}: give run_hours or run_hours_tag, not both")
        if "deadline_hour_utc" in d:
            kw["deadline_hour_utc"] = _int(d["deadline_hour_utc"], f"{where} deadline_hour_utc", 0, 23)
        if "deadline_hour_utc_tag" in d:
            kw["deadline_hour_utc_tag"] = _str(d["deadline_hour_utc_tag"], f"{where} deadline_hour_utc_tag")
        kw["window_h"] = _int(d.get("window_h", 24), f"{where} window_h", 1, 24)
        if "run_hours" in d:
            kw["run_hours"] = _int(d["run_hours"], f"{where} run_hours", 1, kw["window_h"])
        if "run_hours_tag" in d:
            kw["run_hours_tag"] = _str(d["run_hours_tag"], f"{where} run_hours_tag")
        has_deadline = "deadline_hour_utc" in d or "deadline_hour_utc_tag" in d
        has_hours = "run_hours" in d or "run_hours_tag" in d
        if has_deadline != has_hours:
            raise PolicyError(f"{where}: a deadline needs run hours and vice versa")
        if kw["threshold_g_per_kwh"] is None and not has_deadline:
            raise PolicyError(f"{where}: carbon-aware needs a threshold, a deadline, or both")
    return Policy(**kw)


def parse_policies(raw, source: str = "<dict>") -> PolicySet:
    """Validate a parsed policy document (see the module docstring) into a :class:`PolicySet`."""
    _check_keys(raw, {"version", "tags", "defaults", "maintenance_windows", "policies"}, source)
    if raw.get("version") != 1:
        raise PolicyError(f"{source}: version must be 1, got {raw.get('version')!r}")
    tags = raw.get("tags", {}) or {}
    _check_keys(tags, {"schedule", "opt_out", "timezone"}, f"{source}: tags")
    defaults = raw.get("defaults", {}) or {}
    _check_keys(defaults, {"timezone", "holidays", "interval_h"}, f"{source}: defaults")
    tz = check_timezone(defaults.get("timezone", "Europe/Berlin"), f"{source}: defaults.timezone")
    hol = defaults.get("holidays", {"country": "DE", "subdiv": None}) or {}
    _check_keys(hol, {"country", "subdiv"}, f"{source}: defaults.holidays")
    country, subdiv = hol.get("country", "DE"), hol.get("subdiv")
    import holidays as holidays_lib

    try:
        holidays_lib.country_holidays(country, subdiv=subdiv, years=2026)
    except NotImplementedError as exc:  # unknown country or subdivision (the message says which)
        raise PolicyError(f"{source}: defaults.holidays (country {country!r}, subdiv {subdiv!r}): {exc}") from exc
    interval_h = defaults.get("interval_h", 1)
    if isinstance(interval_h, bool) or not isinstance(interval_h, int | float) or not 0 < interval_h <= 24:
        raise PolicyError(f"{source}: defaults.interval_h must be in (0, 24], got {interval_h!r}")
    pols_raw = raw.get("policies")
    if not isinstance(pols_raw, dict) or not pols_raw:
        raise PolicyError(f"{source}: 'policies' must be a non-empty mapping")
    policies, lookup = {}, {}
    for name, d in pols_raw.items():
        if not isinstance(name, str) or not name.strip():
            raise PolicyError(f"{source}: policy names must be non-empty strings, got {name!r}")
        p = _policy(name, d, source)
        for key in (name, *p.aliases):
            if key in lookup:
                raise PolicyError(f"{source}: {key!r} names both policy {lookup[key]!r} and {name!r}")
            lookup[key] = name
        policies[name] = p
    windows = []
    mw_raw = raw.get("maintenance_windows", []) or []
    if not isinstance(mw_raw, list):
        raise PolicyError(f"{source}: maintenance_windows must be a list")
    for k, w in enumerate(mw_raw):
        where = f"{source}: maintenance_windows[{k}]"
        _check_keys(w, {"name", "weekdays", "start", "end", "mode", "policies"}, where)
        for key in ("weekdays", "start", "end"):
            if key not in w:
                raise PolicyError(f"{where}: needs {key!r}")
        s, e = _hhmm(w["start"], f"{where} start"), _hhmm(w["end"], f"{where} end")
        if s >= e:
            raise PolicyError(f"{where}: start {w['start']} must be before end {w['end']}")
        mode = w.get("mode", "hold")
        if mode not in MAINTENANCE_MODES:
            raise PolicyError(f"{where}: mode must be one of {list(MAINTENANCE_MODES)}, got {mode!r}")
        pols = w.get("policies")
        if pols is not None:
            if not isinstance(pols, list) or not all(p in policies for p in pols):
                raise PolicyError(f"{where}: policies must list policy names of this file, got {pols!r}")
            pols = tuple(pols)
        windows.append(MaintenanceWindow(name=str(w.get("name", f"window-{k}")), weekdays=_weekdays(w["weekdays"], where),
                                         start_min=s, end_min=e, mode=mode, policies=pols))
    return PolicySet(
        policies=policies,
        schedule_tag=_str(tags.get("schedule", "Schedule"), f"{source}: tags.schedule"),
        opt_out_tag=_str(tags.get("opt_out", "ScheduleOptOut"), f"{source}: tags.opt_out"),
        timezone_tag=_str(tags.get("timezone", "ScheduleTimezone"), f"{source}: tags.timezone"),
        timezone=tz, holiday_country=country, holiday_subdiv=subdiv, interval_h=float(interval_h),
        maintenance_windows=tuple(windows), source=source, _lookup=lookup,
    )
