"""Electricity Maps and WattTime clients against real-shaped payloads on a local server."""

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from finops_lib.collect import aws, carbon
from finops_lib.collect.errors import PayloadError, SourceUnavailable
from finops_lib.constants import G_PER_KWH_PER_LB_PER_MWH

from .conftest import FIXTURES, load

NOW = pd.Timestamp("2026-11-23T00:30Z")
KEY = "em-secret-token-123"


@pytest.fixture
def em(responder):
    responder.routes["/v3/carbon-intensity/history"] = lambda q, h: (200, load("electricitymaps_history_DE.json"))
    return responder


def test_history_parsed_hourly_with_estimation_flags(em):
    counter = aws.CallCounter()
    df, meta = carbon.get_intensity_electricitymaps("DE", "2026-11-22T12:00Z", "2026-11-23T00:00Z", KEY,
                                                    em.url + "/v3", counter=counter, now=NOW)
    assert meta["request"]["endpoint"] == "history" and counter.as_dict() == {"electricitymaps.history": 1}
    assert len(df) == 12 and df["hour"].iloc[0] == pd.Timestamp("2026-11-22T12:00Z")
    assert_allclose(df["intensity_g_per_kwh"], [300 + 5 * h for h in range(12, 24)])
    assert df["is_estimated"].tolist() == [False] * 8 + [True] * 4
    assert df["estimation_method"].tolist()[-1] == "TIME_SLICER_AVERAGE" and pd.isna(df["estimation_method"][0])
    assert set(df["source"]) == {"electricitymaps"} and set(df["emission_factor_type"]) == {"lifecycle"}
    key, headers, query = em.requests[0]
    assert headers["auth-token"] == KEY and query == {"zone": "DE", "emissionFactorType": "lifecycle"}


def test_window_filter_clips_history(em):
    df, _ = carbon.get_intensity_electricitymaps("DE", "2026-11-22T20:00Z", "2026-11-22T22:00Z", KEY,
                                                 em.url + "/v3", now=NOW)
    assert df["hour"].dt.hour.tolist() == [20, 21]


def test_past_range_chunked_to_range_limit(responder):
    def past(q, h):
        hours = pd.date_range(q["start"], q["end"], freq="h", inclusive="left")
        return 200, {"zone": "DE", "data": [{"zone": "DE", "carbonIntensity": 400, "emissionFactorType": "direct",
                                             "isEstimated": False, "estimationMethod": None,
                                             "datetime": t.strftime("%Y-%m-%dT%H:%M:%S.000Z")} for t in hours]}

    responder.routes["/v3/carbon-intensity/past-range"] = past
    df, meta = carbon.get_intensity_electricitymaps("DE", "2026-10-01", "2026-10-26", KEY, responder.url + "/v3",
                                                    emission_factor_type="direct", now=NOW)
    # 25 days in chunks of 10: 10 + 10 + 5 -> 3 requests, contiguous, no overlap
    ranges = [(q["start"], q["end"]) for _, _, q in responder.requests]
    assert ranges == [("2026-10-01T00:00:00Z", "2026-10-11T00:00:00Z"), ("2026-10-11T00:00:00Z", "2026-10-21T00:00:00Z"),
                      ("2026-10-21T00:00:00Z", "2026-10-26T00:00:00Z")]
    assert len(df) == 25 * 24 and df["hour"].is_unique and set(df["emission_factor_type"]) == {"direct"}


def test_401_is_a_clear_source_unavailable(responder):
    responder.routes["/v3/carbon-intensity/history"] = lambda q, h: (401, load("electricitymaps_401.json"))
    with pytest.raises(SourceUnavailable, match="ELECTRICITYMAPS_API_KEY") as info:
        carbon.get_intensity_electricitymaps("DE", "2026-11-22T12:00Z", "2026-11-23T00:00Z", "bad",
                                             responder.url + "/v3", now=NOW)
    assert "401" in str(info.value) and "bad" not in str(info.value)


def test_free_key_plan_limit_is_explained(responder):
    responder.routes["/v3/carbon-intensity/past-range"] = lambda q, h: (403, {"message": "Forbidden"})
    with pytest.raises(SourceUnavailable, match="CSV"):
        carbon.get_intensity_electricitymaps("DE", "2026-10-01", "2026-10-02", KEY, responder.url + "/v3", now=NOW)


def test_no_key_and_bad_arguments():
    with pytest.raises(SourceUnavailable, match="no Electricity Maps API key"):
        carbon.get_intensity_electricitymaps("DE", "2026-11-22", "2026-11-23", None)
    with pytest.raises(ValueError, match="'operational'"):
        carbon.get_intensity_electricitymaps("DE", "2026-11-22", "2026-11-23", KEY,
                                             emission_factor_type="operational")


@pytest.mark.parametrize("body", ['{"zone": "DE", "history": [', "<html>502</html>"])
def test_truncated_or_non_json_body(responder, body):
    responder.inject("/v3/carbon-intensity/history", 200, body)
    with pytest.raises(PayloadError, match="not JSON"):
        carbon.get_intensity_electricitymaps("DE", "2026-11-22T12:00Z", "2026-11-23T00:00Z", KEY,
                                             responder.url + "/v3", now=NOW)


def test_wrong_shape_is_a_payload_error(responder):
    responder.routes["/v3/carbon-intensity/history"] = lambda q, h: (200, {"zone": "DE"})
    with pytest.raises(PayloadError, match="'history'"):
        carbon.get_intensity_electricitymaps("DE", "2026-11-22T12:00Z", "2026-11-23T00:00Z", KEY,
                                             responder.url + "/v3", now=NOW)


def test_second_call_within_ttl_served_from_cache_without_token(em, tmp_path):
    counter = aws.CallCounter()
    args = ("DE", "2026-11-22T12:00Z", "2026-11-23T00:00Z", KEY, em.url + "/v3")
    first, _ = carbon.get_intensity_electricitymaps(*args, cache_dir=tmp_path, counter=counter, now=NOW)
    second, _ = carbon.get_intensity_electricitymaps(*args, cache_dir=tmp_path, counter=counter, now=NOW)
    assert em.hits["/v3/carbon-intensity/history"] == 1 and counter.calls["electricitymaps.history"] == 1
    pd.testing.assert_frame_equal(first, second)
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert stored and KEY.encode() not in stored


def test_latest(responder):
    point = load("electricitymaps_history_DE.json")["history"][-1]
    responder.routes["/v3/carbon-intensity/latest"] = lambda q, h: (200, point)
    df, _ = carbon.get_latest_intensity_electricitymaps("DE", KEY, responder.url + "/v3")
    assert df["intensity_g_per_kwh"].tolist() == [415.0] and df["is_estimated"].tolist() == [True]


# --------------------------------------------------------------------------- CSV download
@pytest.mark.parametrize(("eft", "first"), [("lifecycle", 300.0), ("direct", 250.0)])
def test_read_csv_download(eft, first):
    df, meta = carbon.read_electricitymaps_csv(FIXTURES / "electricitymaps_DE_2024_hourly_sample.csv",
                                               emission_factor_type=eft)
    assert len(df) == 6 and df["intensity_g_per_kwh"].iloc[0] == first
    assert df["hour"].iloc[0] == pd.Timestamp("2024-01-01T00:00Z") and set(df["source"]) == {"electricitymaps-csv"}
    assert df["is_estimated"].tolist() == [False, False, False, True, False, False]
    assert df["estimation_method"].iloc[3] == "TIME_SLICER_AVERAGE" and meta["zones"] == ["DE"]


def test_read_csv_missing_column_names_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Datetime (UTC),Zone Id,Carbon Intensity gCO₂eq/kWh (direct)\n2024-01-01 00:00:00,DE,250\n")
    with pytest.raises(PayloadError, match=r"bad\.csv.*LCA|bad\.csv.*lca"):
        carbon.read_electricitymaps_csv(bad)


def test_read_csv_non_numeric_value(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Datetime (UTC),Zone Id,Carbon Intensity gCO₂eq/kWh (LCA)\n2024-01-01 00:00:00,DE,n/a\n")
    with pytest.raises(PayloadError, match="non-numeric"):
        carbon.read_electricitymaps_csv(bad)


# --------------------------------------------------------------------------- WattTime
@pytest.fixture
def wt(responder):
    responder.routes["/login"] = lambda q, h: (200, load("watttime_login.json")) if h.get("Authorization", "").startswith(
        "Basic ") else (401, {"error": "no auth"})
    responder.routes["/v3/historical"] = lambda q, h: (
        (200, load("watttime_historical_DE.json")) if h.get("Authorization") == "Bearer " + load(
            "watttime_login.json")["token"] else (401, {"error": "bad token"}))
    return responder


def test_watttime_login_historical_hourly_g_per_kwh(wt):
    df, meta = carbon.get_intensity_watttime("DE", "2026-11-02T10:00Z", "2026-11-02T12:00Z", ("u", "p"), wt.url)
    # hour 10: mean of 800 + 100 + m/5 for m = 0..55 step 5 -> 905.5 lb/MWh; hour 11: 915.5
    assert_allclose(df["intensity_g_per_kwh"], [905.5 * 0.45359237, 915.5 * 0.45359237])
    assert G_PER_KWH_PER_LB_PER_MWH == pytest.approx(0.45359237)
    assert set(df["emission_factor_type"]) == {"marginal"} and set(df["source"]) == {"watttime"}
    assert df["is_estimated"].isna().all()
    assert wt.hits["/login"] == 1 and wt.hits["/v3/historical"] == 1


def test_watttime_401_and_missing_credentials(responder):
    responder.routes["/login"] = lambda q, h: (401, {"error": "invalid credentials"})
    with pytest.raises(SourceUnavailable, match="WATTTIME_USERNAME"):
        carbon.get_intensity_watttime("DE", "2026-11-02", "2026-11-03", ("u", "wrong"), responder.url)
    with pytest.raises(SourceUnavailable, match="no WattTime credentials"):
        carbon.get_intensity_watttime("DE", "2026-11-02", "2026-11-03", (None, None), responder.url)


def test_watttime_wrong_units_rejected():
    with pytest.raises(PayloadError, match="units"):
        carbon.parse_watttime([{"point_time": "2026-11-02T10:00Z", "value": 1.0}], "DE", "co2_moer", "g_co2_per_kwh")


@pytest.fixture
def etag_server():
    """WattTime-like server whose every response carries an ETag (cacheable for revalidation)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path.split("?")[0])
            body = ({"token": "SECRET-TOKEN-123"} if self.path.startswith("/login") else
                    {"data": [{"point_time": "2026-01-01T00:00:00+00:00", "value": 800}],
                     "meta": {"units": "lbs_co2_per_mwh"}})
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("ETag", '"abc"')
            self.send_header("Last-Modified", "Thu, 01 Jan 2026 00:00:00 GMT")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", hits
    srv.shutdown()
    srv.server_close()


def test_watttime_token_never_stored_even_with_etag(etag_server, tmp_path):
    url, hits = etag_server
    counter = aws.CallCounter()
    for _ in range(2):
        df, _ = carbon.get_intensity_watttime("DE", "2026-01-01T00:00Z", "2026-01-01T01:00Z", ("alice", "PW-XYZ"),
                                              url, cache_dir=tmp_path, counter=counter)
    assert_allclose(df["intensity_g_per_kwh"], [800 * G_PER_KWH_PER_LB_PER_MWH])
    assert hits.count("/login") == 2  # login is never served from a cache
    assert counter.calls["watttime.login"] == 2 and "watttime.login" not in counter.hits
    assert counter.calls["watttime.historical"] == 1 and counter.hits["watttime.historical"] == 1
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert stored and b"SECRET-TOKEN-123" not in stored and b"PW-XYZ" not in stored


@pytest.mark.parametrize("bad", [{"isEstimated": "maybe"}, {"isEstimated": [1]}])
def test_point_of_wrong_type_is_a_payload_error_not_a_schema_error(bad):
    point = {"datetime": "2026-01-01T00:00Z", "carbonIntensity": 300, **bad}
    with pytest.raises(PayloadError, match="Electricity Maps.*is_estimated"):
        carbon.parse_electricitymaps([point], "DE", "lifecycle")
