"""The snapshot contract: every table one collection produces, with its columns.

This module is the seam between :mod:`finops_lib.collect` /
:mod:`finops_lib.sandbox` (which write these tables) and :mod:`finops_lib.calc`
plus the notebooks (which read them). See ``shared/DESIGN.md``, "Snapshot
contract".

Conventions
-----------
- All times are timezone-aware UTC (``datetime64[ns, UTC]``); a time column
  marks the **start** of its interval.
- Units are in column names: ``_h``, ``_s``, ``_w``, ``_kwh``, ``_g``,
  ``_usd``, ``_eur``, ``_frac``, ``_g_per_kwh``, ``_gib``.
- Missing data is NaN (or ``pd.NA``) plus a reason in the manifest's
  ``gaps`` list -- never a substituted number.
"""

from __future__ import annotations

import pandas as pd

UTC_TS = "datetime64[ns, UTC]"

#: table name -> {column: pandas dtype}. Order of columns is the order written.
TABLES: dict[str, dict[str, str]] = {
    "instances": {
        "instance_id": "string",
        "instance_type": "string",
        "region": "string",
        "az": "string",
        "platform": "string",  # "linux" / "windows"
        "lifecycle": "string",  # "on-demand" / "spot"
        "launch_time": UTC_TS,
        "state": "string",  # state at collection time (DescribeInstances)
        "tags": "string",  # JSON object, sorted keys
        "vcpu": "Int64",
        "memory_gib": "float64",
    },
    "state_events": {
        "event_time": UTC_TS,
        "event_name": "string",  # RunInstances, StartInstances, StopInstances, ...
        "instance_id": "string",
        "source": "string",  # cloudtrail / eventbridge / describe
        "event_id": "string",
        "previous_state": "string",  # may be <NA> (RunInstances, BidEvictedEvent)
        "current_state": "string",  # may be <NA>
    },
    "cpu_hourly": {
        "instance_id": "string",
        "hour": UTC_TS,
        "cpu_util_frac": "float64",  # hourly mean, 0..1 (CloudWatch percent / 100)
        "cpu_util_max_frac": "float64",
        "sample_count": "float64",  # 5-min datapoints in the hour (12 = complete)
    },
    "prices": {
        "instance_type": "string",
        "region": "string",
        "operating_system": "string",
        "usd_per_hour": "float64",
        "effective_date": UTC_TS,
        "sku": "string",
    },
    "costs": {
        "period_start": UTC_TS,
        "granularity": "string",  # DAILY / HOURLY
        "group_key": "string",  # e.g. "USAGE_TYPE" or "RESOURCE_ID"
        "usage_type": "string",  # e.g. EUC1-BoxUsage:m5.large, EUC1-EBS:VolumeUsage.gp3
        "resource_id": "string",  # instance id for resource-level rows, else <NA>
        "cost_usd": "float64",  # UnblendedCost
        "usage_quantity": "float64",
        "estimated": "boolean",
    },
    "intensity_hourly": {
        "zone": "string",
        "hour": UTC_TS,
        "intensity_g_per_kwh": "float64",
        "emission_factor_type": "string",  # lifecycle / direct / marginal
        "is_estimated": "boolean",
        "estimation_method": "string",  # Electricity Maps estimationMethod, <NA> when measured
        "source": "string",  # electricitymaps / electricitymaps-csv / watttime / sandbox-synthetic
    },
    "intensity_forecasts": {  # forecasts as issued (decisions use only what was known then)
        "zone": "string",
        "issued_at": UTC_TS,  # when the forecast was generated
        "hour": UTC_TS,  # target hour (start)
        "intensity_g_per_kwh": "float64",
        "emission_factor_type": "string",  # marginal / average
        "source": "string",  # watttime / sandbox-synthetic
    },
    "power_profiles": {
        "instance_type": "string",
        "load_frac": "float64",  # 0..1
        "power_w": "float64",
        "source": "string",  # boavizta / ccf / linear_share
        "embodied_g_per_h": "float64",  # embodied gCO2e allocated per instance-hour
    },
}

#: Sandbox-only ground truth, used only to score estimators (never by estimates).
TRUTH_TABLES: dict[str, dict[str, str]] = {
    "truth_intervals": {
        "instance_id": "string",
        "start": UTC_TS,
        "end": UTC_TS,
        "start_cause": "string",  # run / start_api / before_window
        "end_cause": "string",  # stop_api / terminate_api / os_shutdown / spot_interruption / window_end
    },
    "truth_billing": {
        "instance_id": "string",
        "start": UTC_TS,
        "billed_s": "float64",
        "cost_usd": "float64",
    },
    "truth_hourly": {
        "instance_id": "string",
        "hour": UTC_TS,
        "running_frac": "float64",
        "cpu_util_frac": "float64",
        "energy_kwh": "float64",  # facility energy incl. the true PUE
        "co2_g": "float64",  # with the true intensity
    },
    "truth_intensity": {
        "zone": "string",
        "hour": UTC_TS,
        "intensity_g_per_kwh": "float64",
    },
    "truth_factors": {
        "name": "string",  # pue, power_scale, intensity_bias_frac, ...
        "value": "float64",
    },
    "truth_cases": {
        "instance_id": "string",
        "role": "string",  # production / office_hours / batch / spot_worker / ...
        "case": "string",  # complete / before_window / os_shutdown / spot_interruption / late_record / missing_record / ...
    },
}

ALL_TABLES = {**TABLES, **TRUTH_TABLES}


class SchemaError(ValueError):
    """A table does not match the snapshot contract."""


def empty_table(name: str) -> pd.DataFrame:
    """An empty DataFrame with the contract's columns and dtypes for ``name``."""
    cols = _columns(name)
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in cols.items()})


def conform(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with exactly the contract's columns, in order, cast to their dtypes.

    Raises
    ------
    SchemaError
        If a contract column is missing or a value cannot be cast.
    """
    cols = _columns(name)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise SchemaError(f"table {name!r} lacks columns {missing}")
    out = {}
    for col, dtype in cols.items():
        try:
            s = df[col]
            if dtype == UTC_TS:
                s = pd.to_datetime(s, utc=True).astype(UTC_TS)
            else:
                s = s.astype(dtype)
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"table {name!r}, column {col!r}: cannot cast to {dtype}: {exc}") from exc
        out[col] = s.reset_index(drop=True)
    return pd.DataFrame(out)


def _columns(name: str) -> dict[str, str]:
    try:
        return ALL_TABLES[name]
    except KeyError:
        raise SchemaError(f"unknown table {name!r}; known: {sorted(ALL_TABLES)}") from None
