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
    billed_seconds_aws,
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


# --- AWS's documented rules --------------------------------------------------------------------------
# [1] AWS, "New - Per-Second Billing for EC2 Instances and EBS Volumes" (2017): per second, 60 s minimum.
# [3] Amazon EC2 User Guide, "Amazon EC2 instance state changes" (ec2-instance-lifecycle.md): pending is
#     "Not billed", running "Billed", stopping/stopped/shutting-down/terminated "Not billed".
# [4] Amazon EC2 User Guide, "Billing for interrupted Spot Instances": interrupted by Amazon EC2 in the
#     first instance hour -> no charge; stopped/terminated by you -> charged for the seconds used.
def test_aws_30_seconds_billed_60():
    assert billed_seconds_aws(30.0) == 60.0
    assert billed_seconds_aws(61.0) == 61.0


def test_aws_pending_not_billed():
    # StartInstances at t0, 45 s pending, running until t0 + 10 min: 555 s billed
    assert billed_seconds_aws(600.0, pending_s=45.0) == 555.0
    # pending counts neither towards the run nor the minimum: 70 s with 45 s pending -> 25 s running -> 60 s
    assert billed_seconds_aws(70.0, pending_s=45.0) == 60.0
    # launched and terminated while still pending: nothing ran, nothing billed
    assert billed_seconds_aws(20.0, pending_s=20.0) == 0.0
    with pytest.raises(ValueError, match="pending_s"):
        billed_seconds_aws(10.0, pending_s=11.0)


def test_aws_spot_interrupted_by_ec2_in_first_hour_not_charged():
    assert billed_seconds_aws(3000.0, spot_interrupted_by_ec2=True) == 0.0
    assert billed_seconds_aws(30.0, spot_interrupted_by_ec2=True) == 0.0  # no 60 s minimum either
    # the same Spot run ended by the user is charged by the second
    assert billed_seconds_aws(3000.0, spot_interrupted_by_ec2=False) == 3000.0
    # interrupted after the first hour: charged by the second
    assert billed_seconds_aws(3660.0, spot_interrupted_by_ec2=True) == 3660.0
    # a tail of a run that began before the window: its first hour is unknown, billed by the second
    assert billed_seconds_aws(300.0, real_start=False, spot_interrupted_by_ec2=True) == 300.0


def _spot_instances() -> pd.DataFrame:
    inst = instances().copy()
    inst["lifecycle"] = ["on-demand", "spot"]
    return inst


def test_interval_cost_applies_aws_rules():
    t0 = pd.Timestamp("2026-11-01T00:00:00Z")
    we = t0 + pd.Timedelta(days=1)
    iv = pd.DataFrame({
        "instance_id": ["i-a", "i-b", "i-b", "i-a"],
        "start": [t0, t0 + pd.Timedelta(hours=2), t0 + pd.Timedelta(hours=5), we - pd.Timedelta(seconds=20)],
        "end": [t0 + pd.Timedelta(minutes=10), t0 + pd.Timedelta(minutes=170), t0 + pd.Timedelta(minutes=350), we],
        "start_evidence": "event",
        "end_evidence": ["event", "event", "event", "window_end"],
        "end_event": ["StopInstances", "BidEvictedEvent", "TerminateInstances", None],
        "pending_s": [45.0, 0.0, 0.0, 0.0],
    })
    out = interval_cost_usd(iv, _spot_instances(), prices())
    # on-demand 10 min with 45 s pending; Spot interrupted by EC2 after 50 min (free); Spot terminated by
    # the user after 50 min (3,000 s); a run starting 20 s before the window end (60 s minimum)
    assert_allclose(out["billed_s"], [555.0, 0.0, 3000.0, 60.0])
    assert_allclose(out["cost_usd"], [555 / 3600 * 0.115, 0.0, 3000 / 3600 * 0.0776, 60 / 3600 * 0.115])


def test_interruption_of_an_on_demand_instance_is_billed():
    t0 = pd.Timestamp("2026-11-01T00:00:00Z")
    iv = pd.DataFrame({"instance_id": ["i-a"], "start": [t0], "end": [t0 + pd.Timedelta(minutes=50)],
                       "end_event": ["BidEvictedEvent"]})
    assert_allclose(interval_cost_usd(iv, _spot_instances(), prices())["billed_s"], [3000.0])
