"""Item 5: every HTTP source retries like the AWS calls.

Before: one 502 from Electricity Maps made the whole intensity source a gap
(AWS calls retry 5x); WattTime and BoaviztAPI the same. Now
:func:`finops_lib.collect.http.request_json` retries connection errors,
timeouts and 429/5xx with backoff or ``Retry-After``; every attempt is counted.
"""

from datetime import UTC, datetime

import pytest
import requests
import responses

from finops_lib.collect import carbon, http
from finops_lib.collect.aws import CallCounter
from finops_lib.collect.errors import SourceUnavailable

URL = "https://api.example.test/v3/thing"


@pytest.fixture
def sleeps(monkeypatch):
    slept = []
    monkeypatch.setattr(http, "_sleep", slept.append)
    return slept


@responses.activate
@pytest.mark.parametrize("label", ["electricitymaps.history", "watttime.historical", "boavizta.instance"])
def test_one_502_is_retried_and_counted(sleeps, label):
    responses.get(URL, status=502, body="<html>bad gateway</html>")
    responses.get(URL, json={"ok": 1})
    counter = CallCounter()
    assert http.request_json(requests.Session(), "GET", URL, label=label, counter=counter) == {"ok": 1}
    assert counter.as_dict() == {label: 2}  # both attempts, like botocore's retries
    assert len(sleeps) == 1 and 0.25 <= sleeps[0] <= 0.5  # first backoff: 0.5 s x jitter [0.5, 1]


@responses.activate
def test_retry_after_is_honoured(sleeps):
    responses.get(URL, status=429, headers={"Retry-After": "7"})
    responses.get(URL, status=503, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})
    responses.get(URL, json=[])
    with pytest.raises(SourceUnavailable, match="HTTP 503 after 2 attempts"):
        http.request_json(requests.Session(), "GET", URL, label="x")  # a date far away: not worth waiting
    assert sleeps == [7.0]


@responses.activate
def test_persistent_failure_gives_up_after_max_attempts_with_growing_backoff(sleeps):
    responses.get(URL, status=500)
    counter = CallCounter()
    with pytest.raises(SourceUnavailable, match=r"HTTP 500 after 5 attempts: Electricity Maps"):
        http.request_json(requests.Session(), "GET", URL, label="x", counter=counter,
                          hints={500: "Electricity Maps is down"})
    assert counter.as_dict() == {"x": http.MAX_ATTEMPTS} and len(sleeps) == http.MAX_ATTEMPTS - 1
    bounds = [(0.5 * 2 ** k * 0.5, 0.5 * 2 ** k) for k in range(4)]
    assert all(lo <= s <= hi for s, (lo, hi) in zip(sleeps, bounds, strict=True))


@responses.activate
def test_client_errors_are_not_retried(sleeps):
    responses.get(URL, status=401)
    with pytest.raises(SourceUnavailable, match="HTTP 401"):
        http.request_json(requests.Session(), "GET", URL, label="x")
    assert sleeps == [] and len(responses.calls) == 1


@responses.activate
def test_connection_errors_are_retried(sleeps):
    responses.get(URL, body=requests.ConnectionError("refused"))
    responses.get(URL, json={"ok": 2})
    assert http.request_json(requests.Session(), "GET", URL, label="x") == {"ok": 2}
    assert len(sleeps) == 1


def test_parse_retry_after():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert http.parse_retry_after("120") == 120.0
    assert http.parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now=now) == 30.0
    assert http.parse_retry_after("soon") is None and http.parse_retry_after(None) is None


def test_a_502_from_electricitymaps_is_no_longer_a_gap(responder, sleeps):
    """The repro on the loopback responder: one 502, then the real answer."""
    points = [{"zone": "DE", "carbonIntensity": 300 + h, "datetime": f"2026-11-22T{h:02d}:00:00.000Z",
               "isEstimated": False, "emissionFactorType": "lifecycle"} for h in range(12, 24)]
    responder.routes["/v3/carbon-intensity/history"] = lambda q, h: (200, {"zone": "DE", "history": points})
    responder.inject("/v3/carbon-intensity/history", 502, "<html>502 Bad Gateway</html>")
    counter = CallCounter()
    df, _ = carbon.get_intensity_electricitymaps("DE", "2026-11-22T12:00Z", "2026-11-23T00:00Z", "k",
                                                 responder.url + "/v3", counter=counter,
                                                 now="2026-11-23T00:30Z")
    assert df["intensity_g_per_kwh"].tolist() == [300.0 + h for h in range(12, 24)]
    assert counter.as_dict() == {"electricitymaps.history": 2}
    assert responder.hits["/v3/carbon-intensity/history"] == 2
