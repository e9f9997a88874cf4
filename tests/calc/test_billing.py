"""Billing: 60 s minimum, interval and hourly cost, USD -> EUR."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from finops_lib import schema
from finops_lib.calc import (
    MissingPriceError,
    billed_seconds,
    hourly_cost_usd,
    interval_cost_usd,
    usd_to_eur,
)


def test_30_second_run_bills_60_seconds():
    assert billed_seconds(30) == 60
    assert isinstance(billed_seconds(30), float)


def test_billed_seconds_array_and_series():
    assert_allclose(billed_seconds(np.array([0, 1, 59.5, 60, 61, 3600])), [0, 60, 60, 60, 61, 3600])
    s = pd.Series([10.0, np.nan, 120.0], index=["x", "y", "z"])
    out = billed_seconds(s)
    assert isinstance(out, pd.Series) and list(out.index) == ["x", "y", "z"]
    assert_allclose(out.to_numpy(), [60, np.nan, 120])
    assert_allclose(billed_seconds([30, 30], minimum_s=0), [30, 30])


def test_billed_seconds_negative_is_an_error():
    with pytest.raises(ValueError, match="-5"):
        billed_seconds([10, -5])


def instances() -> pd.DataFrame:
    return schema.conform("instances", pd.DataFrame({
        "instance_id": ["i-a", "i-b"], "instance_type": ["m5.large", "c6g.large"],
        "region": "eu-central-1", "az": "eu-central-1a", "platform": "linux", "lifecycle": "on-demand",
        "launch_time": pd.Timestamp("2026-10-01", tz="UTC"), "state": "running", "tags": "{}",
        "vcpu": 2, "memory_gib": [8.0, 4.0]}))


def prices() -> pd.DataFrame:
    return schema.conform("prices", pd.DataFrame({
        "instance_type": ["m5.large", "c6g.large", "m5.large"],
        "region": ["eu-central-1", "eu-central-1", "us-east-1"],
        "operating_system": "Linux", "usd_per_hour": [0.115, 0.0776, 0.096],
        "effective_date": pd.Timestamp("2026-01-01", tz="UTC"), "sku": ["A", "B", "C"]}))


def test_interval_cost_minimum_only_for_real_starts():
    t0 = pd.Timestamp("2026-11-01T00:00:00Z")
    iv = pd.DataFrame({
        "instance_id": ["i-a", "i-a", "i-b"],
        "start": [t0, t0 + pd.Timedelta(hours=5), t0 + pd.Timedelta(hours=1)],
        "end": [t0 + pd.Timedelta(seconds=30), t0 + pd.Timedelta(hours=5, seconds=30),
                t0 + pd.Timedelta(hours=3)],
        "start_evidence": ["before_window", "event", "event"],
        "end_evidence": "event",
    })
    out = interval_cost_usd(iv, instances(), prices())
    assert_allclose(out["billed_s"], [30, 60, 7200])
    assert_allclose(out["usd_per_hour"], [0.115, 0.115, 0.0776])  # eu-central-1 price, not us-east-1
    assert_allclose(out["cost_usd"], [30 / 3600 * 0.115, 60 / 3600 * 0.115, 2 * 0.0776])


def test_interval_cost_with_price_mapping():
    t0 = pd.Timestamp("2026-11-01T00:00:00Z")
    iv = pd.DataFrame({"instance_id": ["i-b"], "start": [t0], "end": [t0 + pd.Timedelta(minutes=90)]})
    out = interval_cost_usd(iv, instances(), {"c6g.large": 0.08, "m5.large": 0.1})
    assert_allclose(out["cost_usd"], [0.12])


def test_missing_price_names_the_type():
    t0 = pd.Timestamp("2026-11-01T00:00:00Z")
    iv = pd.DataFrame({"instance_id": ["i-b"], "start": [t0], "end": [t0 + pd.Timedelta(hours=1)]})
    with pytest.raises(MissingPriceError, match="c6g.large") as exc:
        interval_cost_usd(iv, instances(), prices().iloc[[0]])
    assert isinstance(exc.value, KeyError)


def test_ambiguous_price_is_an_error():
    p = pd.concat([prices(), prices().iloc[[0]]])
    t0 = pd.Timestamp("2026-11-01T00:00:00Z")
    iv = pd.DataFrame({"instance_id": ["i-a"], "start": [t0], "end": [t0 + pd.Timedelta(hours=1)]})
    with pytest.raises(MissingPriceError, match="ambiguous"):
        interval_cost_usd(iv, instances(), p)


def test_hourly_cost():
    hf = pd.DataFrame({"instance_id": ["i-a", "i-a", "i-b"],
                       "hour": pd.to_datetime(["2026-11-01T00:00Z", "2026-11-01T01:00Z", "2026-11-01T00:00Z"],
                                              utc=True),
                       "running_frac": [1.0, 0.5, np.nan]})
    out = hourly_cost_usd(hf, instances(), prices())
    assert list(out.columns) == ["instance_id", "hour", "cost_usd"]
    assert_allclose(out["cost_usd"], [0.115, 0.0575, np.nan])
    assert out["hour"].equals(hf["hour"])


def test_usd_to_eur():
    assert_allclose(usd_to_eur(100.0, 0.9239), 92.39)
    s = pd.Series([1.0, 2.0], index=["a", "b"])
    assert_allclose(usd_to_eur(s, 0.5), pd.Series([0.5, 1.0], index=["a", "b"]))
    assert list(usd_to_eur(s, 0.5).index) == ["a", "b"]
    with pytest.raises(ValueError, match="-1"):
        usd_to_eur(1.0, -1)
