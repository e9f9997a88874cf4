"""Coverage metrics: how much of a window the data actually covers.

All windows are ``[window_start, window_end)`` in whole UTC hours; timestamps
mark the start of their hour and are floored to the hour.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd


def _window_hours(window_start: Any, window_end: Any) -> pd.DatetimeIndex:
    ws, we = pd.Timestamp(window_start), pd.Timestamp(window_end)
    ws = ws.tz_localize("UTC") if ws.tzinfo is None else ws.tz_convert("UTC")
    we = we.tz_localize("UTC") if we.tzinfo is None else we.tz_convert("UTC")
    if we <= ws:
        raise ValueError(f"window_end {we} is not after window_start {ws}")
    return pd.date_range(ws.floor("h"), we.ceil("h"), freq="h", inclusive="left")


def _hours_in(times: Iterable[Any], hours: pd.DatetimeIndex) -> set[pd.Timestamp]:
    t = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(times), dtype="object"), utc=True)).dropna().floor("h")
    return set(t[t.isin(hours)])


def time_alignment_coverage(
    cost_hours: Iterable[Any], carbon_hours: Iterable[Any], window_start: Any, window_end: Any
) -> float:
    r"""
    Hours with both cost and carbon data ÷ hours in the window. [-]

    Parameters
    ----------
    cost_hours, carbon_hours : iterable of datetime-like
        Hours (UTC, start of the hour) that have cost data and carbon
        (intensity) data; duplicates and hours outside the window are ignored.
    window_start, window_end : datetime-like
        The window [UTC].

    Returns
    -------
    coverage_frac : float, 0..1. [-]
    """
    hours = _window_hours(window_start, window_end)
    both = _hours_in(cost_hours, hours) & _hours_in(carbon_hours, hours)
    return len(both) / len(hours)


def data_coverage(
    table: pd.DataFrame, time_col: str, window_start: Any, window_end: Any, key_col: str | None = None
) -> float:
    r"""
    Share of the window's hours (per key) that have at least one row. [-]

    Parameters
    ----------
    table : pandas.DataFrame
    time_col : str
        Column with the start of each row's hour [UTC].
    window_start, window_end : datetime-like
    key_col : str, optional
        E.g. ``instance_id``: coverage = distinct (key, hour) pairs ÷
        (number of distinct keys · hours in window). Without it, distinct hours
        ÷ hours in window.

    Returns
    -------
    coverage_frac : float, 0..1 (NaN with a key column but no keys). [-]
    """
    hours = _window_hours(window_start, window_end)
    t = pd.to_datetime(table[time_col], utc=True).dt.floor("h")
    inside = t.isin(hours).to_numpy()
    if key_col is None:
        return t[inside].nunique() / len(hours)
    keys = table[key_col].dropna().unique()
    if len(keys) == 0:
        return float("nan")
    pairs = pd.DataFrame({"k": table[key_col].to_numpy()[inside], "h": t.to_numpy()[inside]}).dropna()
    return len(pairs.drop_duplicates()) / (len(keys) * len(hours))
