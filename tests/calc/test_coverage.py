"""Coverage metrics."""

from __future__ import annotations

import pandas as pd
import pytest

from finops_lib.calc import data_coverage, time_alignment_coverage

WS = pd.Timestamp("2026-11-01T00:00:00Z")
WE = pd.Timestamp("2026-11-01T04:00:00Z")


def h(*ks: float) -> list[pd.Timestamp]:
    return [WS + pd.Timedelta(hours=k) for k in ks]


def test_time_alignment_coverage():
    # cost hours 0,1,2 ; carbon hours 1,2,3 and one outside -> both in 1,2 -> 2/4
    assert time_alignment_coverage(h(0, 1, 2, 2), h(1, 2.5, 3, 9), WS, WE) == 0.5
    assert time_alignment_coverage([], h(0, 1, 2, 3), WS, WE) == 0.0


def test_data_coverage_with_and_without_key():
    t = pd.DataFrame({"hour": h(0, 1, 1, 5), "instance_id": ["a", "a", "b", "b"]})
    assert data_coverage(t, "hour", WS, WE) == 2 / 4
    assert data_coverage(t, "hour", WS, WE, key_col="instance_id") == 3 / 8


def test_bad_window():
    with pytest.raises(ValueError, match="not after"):
        time_alignment_coverage([], [], WE, WS)
