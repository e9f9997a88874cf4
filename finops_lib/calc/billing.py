"""EC2 billing: billed seconds, interval and hourly cost, currency conversion.

References
----------
.. [1] AWS, "New -- Per-Second Billing for EC2 Instances and EBS Volumes"
   (2017): Linux On-Demand, Reserved and Spot instances are billed per second
   with a minimum of 60 seconds each time an instance is started.
.. [2] ECB euro foreign exchange reference rates (rate in
   :data:`finops_lib.factors.EUR_PER_USD`).
.. [3] AWS, Amazon EC2 User Guide, "Amazon EC2 instance state changes"
   (ec2-instance-lifecycle): instance usage is billed only in the ``running``
   state; ``pending``, ``stopping``, ``stopped``, ``shutting-down`` and
   ``terminated`` are not billed.
.. [4] AWS, Amazon EC2 User Guide, "Billing for interrupted Spot Instances":
   a Spot Instance interrupted by Amazon EC2 in its first instance hour is not
   charged; one you stop or terminate yourself is charged for the seconds used
   (Linux), one EC2 interrupts after the first hour is charged per second.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from finops_lib.constants import S_PER_H
from finops_lib.factors import BILLING_MINIMUM_S

#: Start evidences that mark a real start inside the window (the minimum applies).
_REAL_STARTS = ("event", "launch_time", "cloudwatch")
#: CloudTrail event of an EC2-initiated Spot interruption (see calc.runtime).
SPOT_INTERRUPTION_EVENT = "BidEvictedEvent"
#: Spot instances interrupted by EC2 within this running time are not charged [4]. [s]
SPOT_FREE_INTERRUPTION_S = 3600.0


class MissingPriceError(KeyError):
    """No (unique) price for an instance type / region; the message names it."""

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return str(self.args[0]) if self.args else ""


def _same_kind(x: Any, values: np.ndarray) -> Any:
    if isinstance(x, pd.Series):
        return pd.Series(values, index=x.index, name=x.name)
    if np.ndim(x) == 0:
        return float(values)
    return values


def billed_seconds(duration_s: Any, minimum_s: float = BILLING_MINIMUM_S) -> Any:
    r"""
    Billed seconds of running periods under per-second billing with a minimum [1]_.

    Parameters
    ----------
    duration_s : numeric (scalar, array or Series)
        Running time of each period (one start). [s]
    minimum_s : float, default ``BILLING_MINIMUM_S`` (60)
        Minimum billed per start. [s]

    Returns
    -------
    billed_s : same kind as ``duration_s``
        ``max(duration_s, minimum_s)`` for periods longer than 0 s, 0 for
        zero-length periods, NaN where the duration is NaN. [s]

    Raises
    ------
    ValueError
        For a negative duration or minimum (naming the value).
    """
    if minimum_s < 0:
        raise ValueError(f"minimum_s must be >= 0, got {minimum_s!r}")
    d = np.asarray(duration_s, dtype="float64")
    if (d < 0).any():
        raise ValueError(f"negative duration_s: {d[d < 0][:5].tolist()}")
    out = np.where(d > 0, np.maximum(d, minimum_s), d)
    return _same_kind(duration_s, out)


def billed_seconds_aws(duration_s: Any, *, real_start: Any = True, pending_s: Any = 0.0,
                       spot_interrupted_by_ec2: Any = False, minimum_s: float = BILLING_MINIMUM_S) -> Any:
    r"""
    Billed seconds of running periods by AWS's EC2 rules [1]_ [3]_ [4]_.

    Parameters
    ----------
    duration_s : numeric (scalar, array or Series)
        Time from the start of the period (launch / start request, or the window
        start for a clipped tail) to its end. [s]
    real_start : bool or array, default True
        The period starts inside the known history (a launch or start). False for
        the tail of a period that began before the window: no minimum and no
        Spot first-hour rule (its first hour is unknown).
    pending_s : numeric, default 0
        Part of ``duration_s`` spent in the ``pending`` state, which AWS does not
        bill [3]_. [s]
    spot_interrupted_by_ec2 : bool or array, default False
        The period is a Spot Instance's run that Amazon EC2 ended (interruption).
    minimum_s : float, default 60
        Minimum billed per start [1]_. [s]

    Returns
    -------
    billed_s : same kind as ``duration_s``
        running = duration − pending; 0 if a Spot run interrupted by EC2 ran less
        than 3,600 s since its start [4]_; else max(running, minimum) for a real
        start with running > 0, running for a tail; NaN where an input is NaN. [s]

    Raises
    ------
    ValueError
        For a negative duration or pending time, or pending time longer than the period.

    Examples
    --------
    AWS's examples: a 30 s run is billed 60 s; a Spot run EC2 interrupts after
    50 min is billed 0 s; one you terminate after 50 min is billed 3,000 s.
    """
    if minimum_s < 0:
        raise ValueError(f"minimum_s must be >= 0, got {minimum_s!r}")
    d = np.asarray(duration_s, dtype="float64")
    pend = np.broadcast_to(np.asarray(pending_s, dtype="float64"), d.shape)
    if (d < 0).any():
        raise ValueError(f"negative duration_s: {d[d < 0][:5].tolist()}")
    if (pend < 0).any() or (pend > d).any():
        bad = pend[(pend < 0) | (pend > d)][:5].tolist()
        raise ValueError(f"pending_s must lie in 0..duration_s, got {bad}")
    real = np.broadcast_to(np.asarray(real_start, dtype=bool), d.shape)
    spot_int = np.broadcast_to(np.asarray(spot_interrupted_by_ec2, dtype=bool), d.shape)
    running = d - pend
    out = np.where(real & (running > 0), np.maximum(running, minimum_s), running)
    out = np.where(real & spot_int & (running < SPOT_FREE_INTERRUPTION_S), 0.0, out)
    out = np.where(np.isnan(d) | np.isnan(pend), np.nan, out)
    return _same_kind(duration_s, out)


def _price_lookup(instances: pd.DataFrame, prices: Any) -> pd.DataFrame:
    """instance_id -> instance_type, usd_per_hour; errors name what is missing."""
    inst = instances[["instance_id", "instance_type"] + (["region"] if "region" in instances else [])]
    if inst["instance_id"].duplicated().any():
        raise ValueError(f"instances table lists {sorted(set(inst['instance_id'][inst['instance_id'].duplicated()]))[:5]} more than once")
    if inst["instance_type"].isna().any():
        raise MissingPriceError(f"no instance type for {list(inst.loc[inst['instance_type'].isna(), 'instance_id'])[:5]}")
    if isinstance(prices, Mapping):
        table = pd.DataFrame({"instance_type": list(prices), "usd_per_hour": list(prices.values())})
        keys = ["instance_type"]
    else:
        table = prices
        keys = ["instance_type", "region"] if "region" in prices and "region" in inst else ["instance_type"]
        dup = table.duplicated(keys, keep=False)
        if dup.any():
            first = table.loc[dup, keys].iloc[0].tolist()
            raise MissingPriceError(f"ambiguous price: several rows for {first}")
    merged = inst.merge(table[[*keys, "usd_per_hour"]], on=keys, how="left")
    missing = merged["usd_per_hour"].isna()
    if missing.any():
        bad = merged.loc[missing, keys].drop_duplicates().to_dict("records")
        raise MissingPriceError(f"no price for {bad}")
    return merged.set_index("instance_id")[["instance_type", "usd_per_hour"]]


def _lookup_for(ids: pd.Series, instances: pd.DataFrame, prices: Any) -> pd.DataFrame:
    unknown = sorted(set(ids) - set(instances["instance_id"]))
    if unknown:
        raise KeyError(f"instances not in the instances table: {unknown[:5]}")
    lk = _price_lookup(instances[instances["instance_id"].isin(set(ids))], prices)
    return lk.loc[list(ids)]


def interval_cost_usd(intervals: pd.DataFrame, instances: pd.DataFrame, prices: Any) -> pd.DataFrame:
    r"""
    Cost of each running interval under per-second billing with the 60 s minimum [1]_.

    Parameters
    ----------
    intervals : pandas.DataFrame
        ``instance_id``, ``start``, ``end`` and optionally ``start_evidence``
        (from :func:`finops_lib.calc.running_intervals`), ``pending_s`` (seconds
        of the interval in ``pending``, not billed [3]_) and ``end_event`` (the
        event that ended it; "BidEvictedEvent" on a Spot instance = interrupted
        by EC2 [4]_).
    instances : pandas.DataFrame
        ``instances`` table (``instance_id``, ``instance_type``, ``region``).
    prices : pandas.DataFrame or mapping
        ``prices`` table (matched on instance_type and, where both have it,
        region) or a mapping instance_type -> usd_per_hour. [USD/h]

    Returns
    -------
    pandas.DataFrame
        The intervals plus ``duration_s``, ``billed_s`` [s] (by
        :func:`billed_seconds_aws`), ``usd_per_hour`` [USD/h] and ``cost_usd`` =
        billed_s / 3,600 · usd_per_hour [USD].

    Raises
    ------
    MissingPriceError
        (a ``KeyError``) naming the instance type without a unique price.

    Notes
    -----
    The minimum applies per start: to intervals whose ``start_evidence`` is
    "event", "launch_time" or "cloudwatch". An interval clipped at the window start
    ("before_window", "current_state") is the tail of a period started
    earlier and is billed by the second. Without ``start_evidence`` every
    interval is treated as a start. A run that starts just before the window
    end is clipped there but still billed the 60 s minimum (AWS bills the
    minimum at the start).

    The price is the list price of the ``prices`` table (On-Demand, Linux);
    Spot instances (``lifecycle`` "spot") are billed at the Spot price, which
    this function does not know -- pass Spot prices explicitly for them.
    """
    out = intervals.copy().reset_index(drop=True)
    dur = (pd.to_datetime(out["end"], utc=True) - pd.to_datetime(out["start"], utc=True)).dt.total_seconds()
    out["duration_s"] = dur.astype("float64")
    real = out["start_evidence"].isin(_REAL_STARTS) if "start_evidence" in out else pd.Series(True, index=out.index)
    pending = out["pending_s"].to_numpy(dtype="float64") if "pending_s" in out else 0.0
    spot_int = np.zeros(len(out), dtype=bool)
    if "end_event" in out and "lifecycle" in instances:
        life = out["instance_id"].map(instances.drop_duplicates("instance_id").set_index("instance_id")["lifecycle"])
        spot_int = (out["end_event"].eq(SPOT_INTERRUPTION_EVENT) & life.eq("spot")).fillna(False).to_numpy(bool)
    out["billed_s"] = billed_seconds_aws(dur.to_numpy(), real_start=real.to_numpy(dtype=bool), pending_s=pending,
                                         spot_interrupted_by_ec2=spot_int)
    lk = _lookup_for(out["instance_id"], instances, prices)
    out["usd_per_hour"] = lk["usd_per_hour"].to_numpy(dtype="float64")
    out["cost_usd"] = out["billed_s"] / S_PER_H * out["usd_per_hour"]
    return out


def hourly_cost_usd(hourly_fraction: pd.DataFrame, instances: pd.DataFrame, prices: Any) -> pd.DataFrame:
    r"""
    Hourly cost = running_frac · 1 h · usd_per_hour [USD].

    Parameters
    ----------
    hourly_fraction : pandas.DataFrame
        ``instance_id``, ``hour``, ``running_frac`` [-].
    instances, prices
        As in :func:`interval_cost_usd`.

    Returns
    -------
    pandas.DataFrame
        ``instance_id``, ``hour``, ``cost_usd`` [USD]; NaN where
        ``running_frac`` is NaN.

    Notes
    -----
    Per-second cost of the running time in each hour; the 60 s minimum per
    start is not applied here (use :func:`interval_cost_usd` for billing).
    """
    lk = _lookup_for(hourly_fraction["instance_id"], instances, prices)
    cost = hourly_fraction["running_frac"].to_numpy(dtype="float64") * lk["usd_per_hour"].to_numpy(dtype="float64")
    return pd.DataFrame(
        {"instance_id": hourly_fraction["instance_id"].to_numpy(), "hour": hourly_fraction["hour"].to_numpy(),
         "cost_usd": cost}
    ).astype({"instance_id": "string", "hour": hourly_fraction["hour"].dtype})


def usd_to_eur(cost_usd: Any, eur_per_usd: float) -> Any:
    r"""
    Convert USD to EUR by a configured rate [2]_.

    Parameters
    ----------
    cost_usd : numeric (scalar, array or Series)
        Amount. [USD]
    eur_per_usd : float
        Rate, e.g. ``factors.EUR_PER_USD["value"]``. [EUR/USD]

    Returns
    -------
    cost_eur : same kind as ``cost_usd``. [EUR]
    """
    if not np.isfinite(eur_per_usd) or eur_per_usd <= 0:
        raise ValueError(f"eur_per_usd must be a positive number, got {eur_per_usd!r}")
    if isinstance(cost_usd, pd.Series | pd.DataFrame):
        return cost_usd * eur_per_usd
    return _same_kind(cost_usd, np.asarray(cost_usd, dtype="float64") * eur_per_usd)
