"""AWS collectors against moto (EC2, CloudWatch, Cost Explorer) and real-shaped
payloads served through boto3 (CloudTrail LookupEvents patched into moto,
Pricing GetProducts from a local JSON 1.1 responder)."""

import json
import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import requests
from numpy.testing import assert_allclose

from finops_lib.collect import aws, fakes
from finops_lib.collect.errors import (
    AccessDeniedError,
    CredentialsError,
    PayloadError,
    SourceUnavailable,
    ThrottledError,
)

from .conftest import REGION, load

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def _client(session, name, url=None, attempts=aws.MAX_ATTEMPTS, counter=None):
    c = session.client(name, region_name=REGION, endpoint_url=url, config=aws.retry_config(attempts))
    return (counter or aws.CallCounter()).attach(c, name)


# --------------------------------------------------------------------------- inventory
def test_inventory_types_tags_lifecycle_and_specs(moto_session):
    ec2 = moto_session.client("ec2")
    ec2.run_instances(ImageId="ami-12345678", MinCount=2, MaxCount=2, InstanceType="m5.large",
                      TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "web"}]}])
    ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="c5.xlarge",
                      InstanceMarketOptions={"MarketType": "spot"})
    stopped = ec2.describe_instances()["Reservations"][0]["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[stopped])

    df, meta = aws.get_instances(ec2)
    assert len(df) == 3 and meta["warnings"] == []
    by_type = df.groupby("instance_type")
    # DescribeInstanceTypes: m5.large 2 vCPU / 8 GiB, c5.xlarge 4 vCPU / 8 GiB (REFERENCES.md table)
    assert by_type["vcpu"].first().to_dict() == {"c5.xlarge": 4, "m5.large": 2}
    assert by_type["memory_gib"].first().to_dict() == {"c5.xlarge": 8.0, "m5.large": 8.0}
    assert set(df.loc[df.instance_type == "c5.xlarge", "lifecycle"]) == {"spot"}
    assert set(df.loc[df.instance_type == "m5.large", "lifecycle"]) == {"on-demand"}
    assert df.set_index("instance_id").loc[stopped, "state"] in ("stopping", "stopped")
    assert json.loads(df.loc[df.instance_type == "m5.large", "tags"].iloc[0]) == {"team": "web"}
    assert str(df["launch_time"].dtype) == "datetime64[ns, UTC]"
    assert (df["region"] == REGION).all() and df["az"].str.startswith(REGION).all()


# --------------------------------------------------------------------------- CloudTrail
def _records(counts, n_instances):
    ids = [f"i-{k:017x}" for k in range(n_instances)]
    recs = []
    for name, e in counts.items():
        for j in range(e):
            recs.append(fakes.cloudtrail_record(name, [ids[j % n_instances]], T0 + timedelta(minutes=j)))
    return recs


@pytest.mark.parametrize("n_instances", [3, 400])
def test_lookup_events_calls_are_independent_of_fleet_size(moto_session, n_instances):
    counts = {"RunInstances": 0, "StartInstances": 50, "StopInstances": 51, "TerminateInstances": 120,
              "BidEvictedEvent": 1}
    expected = sum(max(1, math.ceil(e / 50)) for e in counts.values())  # 1 + 1 + 2 + 3 + 1 = 8
    counter = aws.CallCounter()
    ct = _client(moto_session, "cloudtrail", counter=counter)
    with fakes.patch_moto_lookup_events(_records(counts, n_instances)) as patch:
        df, meta = aws.get_state_events(ct, T0, T0 + timedelta(days=1), min_interval_s=0)
    assert counter.as_dict() == {"cloudtrail.LookupEvents": expected} and patch.hits == expected == 8
    assert meta["calls"] == {"RunInstances": 1, "StartInstances": 1, "StopInstances": 2,
                             "TerminateInstances": 3, "BidEvictedEvent": 1}
    assert meta["events"] == counts and len(df) == sum(counts.values())
    # one attribute per query: every request named exactly one EventName
    assert df["event_name"].value_counts().to_dict() == {k: v for k, v in counts.items() if v}


def test_state_events_from_recorded_payload_skip_truncated_record(moto_session):
    ct = _client(moto_session, "cloudtrail")
    with fakes.patch_moto_lookup_events(load("cloudtrail_lookup_events.json")["Events"]):
        df, meta = aws.get_state_events(ct, "2026-11-01", "2026-11-05", min_interval_s=0)
    assert meta["rejected"] == 1 and "could not be parsed" in meta["warnings"][0]
    assert list(df["event_name"]) == ["RunInstances", "RunInstances", "StopInstances", "StartInstances",
                                      "TerminateInstances", "BidEvictedEvent"]
    stop = df[df.event_name == "StopInstances"].iloc[0]
    assert (stop.previous_state, stop.current_state) == ("running", "stopping")
    assert stop.event_time == pd.Timestamp("2026-11-02T18:03:40Z")


def test_lookup_events_window_is_honoured(moto_session):
    ct = _client(moto_session, "cloudtrail")
    with fakes.patch_moto_lookup_events(load("cloudtrail_lookup_events.json")["Events"]):
        recs, _ = aws.lookup_events(ct, "2026-11-03", "2026-11-04", min_interval_s=0)
    assert sorted(r["EventName"] for r in recs) == ["BidEvictedEvent", "StartInstances", "TerminateInstances"]


def test_rate_limiter_spaces_calls_at_2_per_second():
    t, waits = [0.0], []
    lim = aws.RateLimiter(0.5, clock=lambda: t[0], sleep=lambda s: (waits.append(s), t.__setitem__(0, t[0] + s)))
    for _ in range(3):
        lim()
    t[0] += 2.0
    lim()
    assert waits == [0.5, 0.5]


def test_empty_page_with_token_is_followed(moto_session):
    pages = iter([(200, {"Events": [], "NextToken": "x"}), (200, {"Events": []})])
    ct = _client(moto_session, "cloudtrail")
    with fakes.patch_moto_lookup_events(handler=lambda body, h: next(pages)) as patch:
        recs, meta = aws.lookup_events(ct, T0, T0 + timedelta(hours=1), event_names=["StopInstances"],
                                       min_interval_s=0)
    assert recs == [] and patch.hits == 2 and meta["calls"] == {"StopInstances": 2}


def test_lookup_events_access_denied_names_the_action(moto_session):
    denied = (400, {"__type": "AccessDeniedException", "message": "not authorized to perform LookupEvents"})
    ct = _client(moto_session, "cloudtrail")
    with fakes.patch_moto_lookup_events(handler=lambda body, h: denied):
        with pytest.raises(AccessDeniedError, match="cloudtrail:LookupEvents"):
            aws.lookup_events(ct, T0, T0 + timedelta(hours=1), min_interval_s=0)


# --------------------------------------------------------------------------- CloudWatch
def _put_cpu(cw, iid, start, values_pct):
    cw.put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": iid}],
         "Timestamp": start + timedelta(minutes=5 * k), "Value": v, "Unit": "Percent"}
        for k, v in enumerate(values_pct)])


def test_cpu_hourly_mean_max_count_in_fractions(moto_session):
    cw = moto_session.client("cloudwatch")
    # hour 0: 12 samples 0,10,...,110 %/... -> use 12 values 10..60 % twice; hour 1: 6 samples of 50 %
    h0 = [10, 20, 30, 40, 50, 60] * 2
    _put_cpu(cw, "i-a", T0, h0)
    _put_cpu(cw, "i-a", T0 + timedelta(hours=1), [50] * 6)
    df, meta = aws.get_cpu_hourly(cw, ["i-a", "i-b"], T0, T0 + timedelta(hours=2))
    assert list(df["hour"]) == [pd.Timestamp(T0), pd.Timestamp(T0 + timedelta(hours=1))]
    assert_allclose(df["cpu_util_frac"], [0.35, 0.50])  # mean(h0) = 35 % -> 0.35
    assert_allclose(df["cpu_util_max_frac"], [0.60, 0.50])
    assert_allclose(df["sample_count"], [12, 6])
    assert set(df["instance_id"]) == {"i-a"}  # no data for i-b: no rows, no invented zeros
    assert meta["queries"] == 6 and meta["batches"] == 1


@pytest.mark.parametrize(("n", "stats", "calls"), [(166, aws.CPU_STATS, 1), (167, aws.CPU_STATS, 2),
                                                   (500, ("Average",), 1), (501, ("Average",), 2)])
def test_get_metric_data_batches_500_queries(moto_session, n, stats, calls):
    counter = aws.CallCounter()
    cw = _client(moto_session, "cloudwatch", counter=counter)
    _put_cpu(moto_session.client("cloudwatch"), "i-00000", T0, [42.0])
    df, meta = aws.get_cpu_hourly(cw, [f"i-{k:05d}" for k in range(n)], T0, T0 + timedelta(hours=1), stats=stats)
    # ceil(queries / 500) calls, queries = instances x statistics
    assert counter.as_dict() == {"cloudwatch.GetMetricData": calls} == {"cloudwatch.GetMetricData":
                                                                        math.ceil(n * len(stats) / 500)}
    assert_allclose(df["cpu_util_frac"], [0.42])


def test_cloudwatch_second_collection_within_ttl_makes_no_call(moto_session, tmp_path):
    counter = aws.CallCounter()
    cw = _client(moto_session, "cloudwatch", counter=counter)
    _put_cpu(moto_session.client("cloudwatch"), "i-a", T0, [30.0])
    cache = aws.ResponseCache(tmp_path)
    first, _ = aws.get_cpu_hourly(cw, ["i-a"], T0, T0 + timedelta(hours=1), cache=cache)
    second, _ = aws.get_cpu_hourly(cw, ["i-a"], T0, T0 + timedelta(hours=1), cache=cache)
    assert counter.calls["cloudwatch.GetMetricData"] == 1
    pd.testing.assert_frame_equal(first, second)
    later = aws.ResponseCache(tmp_path, clock=lambda: datetime.now(UTC).timestamp() + 3 * 3600 + 1)
    aws.get_cpu_hourly(cw, ["i-a"], T0, T0 + timedelta(hours=1), cache=later)
    assert counter.calls["cloudwatch.GetMetricData"] == 2  # 3 h TTL expired


# --------------------------------------------------------------------------- Pricing
@pytest.fixture
def pricing(aws_credentials, responder):
    import boto3

    payload = load("pricing_get_products_m5.large.json")
    responder.targets["GetProducts"] = lambda body, h: (200, payload if any(
        f["Value"] == "m5.large" for f in body["Filters"]) else {"FormatVersion": "aws_v1", "PriceList": []})
    counter = aws.CallCounter()
    return _client(boto3.Session(), "pricing", responder.url, attempts=3, counter=counter), counter, responder


def test_prices_one_call_per_type_and_missing_type_is_nan(pricing):
    client, counter, responder = pricing
    df, meta = aws.get_prices(client, ["m5.large", "m5.large", "x9.huge"], REGION)
    assert counter.as_dict() == {"pricing.GetProducts": 2}
    row = df.set_index("instance_type").loc["m5.large"]
    assert row.usd_per_hour == 0.115 and row.effective_date == pd.Timestamp("2026-11-01T00:00:00Z")
    assert math.isnan(df.set_index("instance_type").loc["x9.huge", "usd_per_hour"])
    assert meta["warnings"] == ["no on-demand Linux price for x9.huge in eu-central-1"]
    sent = {f["Field"]: f["Value"] for f in responder.requests[0][2]["Filters"]}
    assert sent == {"instanceType": "m5.large", "regionCode": REGION, "operatingSystem": "Linux",
                    "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used",
                    "licenseModel": "No License required"}


def test_prices_cached_within_ttl(pricing, tmp_path):
    client, counter, responder = pricing
    aws.get_prices(client, ["m5.large"], REGION, cache=aws.ResponseCache(tmp_path))
    df, _ = aws.get_prices(client, ["m5.large"], REGION, cache=aws.ResponseCache(tmp_path))
    assert responder.hits["GetProducts"] == 1 and counter.calls["pricing.GetProducts"] == 1
    assert df["usd_per_hour"].tolist() == [0.115]


def test_throttling_then_success(pricing, no_backoff):
    client, counter, responder = pricing
    responder.throttle("GetProducts", times=2)
    df, _ = aws.get_prices(client, ["m5.large"], REGION)
    assert df["usd_per_hour"].tolist() == [0.115]
    assert responder.hits["GetProducts"] == 3 and counter.calls["pricing.GetProducts"] == 3


def test_throttling_past_the_retry_budget(pricing, no_backoff):
    client, counter, responder = pricing
    responder.throttle("GetProducts", times=10)
    with pytest.raises(ThrottledError, match="after 3 attempts"):
        aws.get_prices(client, ["m5.large"], REGION)
    assert responder.hits["GetProducts"] == 3


def test_access_denied_names_iam_action(pricing):
    client, _, responder = pricing
    responder.inject("GetProducts", 400, {"__type": "AccessDeniedException", "Message": "User is not authorized"})
    with pytest.raises(AccessDeniedError, match="'pricing:GetProducts'"):
        aws.get_prices(client, ["m5.large"], REGION)


def test_expired_token_says_how_to_log_in(pricing):
    client, _, responder = pricing
    responder.inject("GetProducts", 400, {"__type": "ExpiredTokenException", "message": "token expired"})
    with pytest.raises(CredentialsError, match="aws sso login"):
        aws.get_prices(client, ["m5.large"], REGION)


@pytest.mark.parametrize("body", ['{"FormatVersion": "aws_v1", "PriceList": [', "<html>Bad Gateway</html>"])
def test_truncated_or_non_json_payload(pricing, body):
    client, _, responder = pricing
    responder.inject("GetProducts", 200, body)
    with pytest.raises(PayloadError, match="GetProducts"):
        aws.get_prices(client, ["m5.large"], REGION)


def test_unreadable_price_item(pricing):
    client, _, responder = pricing
    responder.inject("GetProducts", 200, {"FormatVersion": "aws_v1", "PriceList": ['{"product": {}}']})
    with pytest.raises(PayloadError, match="m5.large"):
        aws.get_prices(client, ["m5.large"], REGION)


def test_missing_credentials(monkeypatch, tmp_path, responder):
    import boto3

    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = _client(boto3.Session(), "pricing", responder.url)
    with pytest.raises(CredentialsError, match="no AWS credentials"):
        aws.get_prices(client, ["m5.large"], REGION)
    assert responder.hits["GetProducts"] == 0


# --------------------------------------------------------------------------- Cost Explorer
def _queue_ce(results):
    resp = requests.post("http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results",
                         json={"results": results}, timeout=5)
    assert resp.status_code == 201


def test_costs_daily_two_pages_compute_vs_other(moto_session, tmp_path):
    _queue_ce(load("ce_get_cost_and_usage_daily.json")["results"])
    counter = aws.CallCounter()
    ce = _client(moto_session, "ce", counter=counter)
    df, meta = aws.get_costs(ce, "2026-11-02", "2026-11-04", REGION, cache=aws.ResponseCache(tmp_path))
    assert counter.as_dict() == {"ce.GetCostAndUsage": 2} and meta["pages"] == {"GetCostAndUsage": 2}
    assert len(df) == 4 and (df["granularity"] == "DAILY").all() and df["resource_id"].isna().all()
    compute = df[df["usage_type"].str.contains("BoxUsage")]
    assert_allclose(compute["cost_usd"].sum(), 2.76 + 1.38)
    assert_allclose(df.loc[~df["usage_type"].str.contains("BoxUsage"), "cost_usd"].sum(), 0.2533 + 0.09)
    assert df.groupby("period_start")["estimated"].first().tolist() == [False, True]
    # the request: daily, region filter, EC2 services, grouped by usage type
    req = meta["request"]
    assert req["TimePeriod"] == {"Start": "2026-11-02", "End": "2026-11-04"}
    assert req["GroupBy"] == [{"Type": "DIMENSION", "Key": "USAGE_TYPE"}]
    assert {"Dimensions": {"Key": "REGION", "Values": [REGION]}} in req["Filter"]["And"]
    aws.get_costs(ce, "2026-11-02", "2026-11-04", REGION, cache=aws.ResponseCache(tmp_path))
    assert counter.calls["ce.GetCostAndUsage"] == 2  # within the 6 h TTL: no call


def test_costs_with_resources_last_14_days(moto_session, monkeypatch):
    from moto.ce.responses import CostExplorerResponse

    seen = []

    def with_resources(self):
        seen.append(json.loads(self.body))
        return json.dumps(load("ce_get_cost_and_usage_with_resources_hourly.json"))

    monkeypatch.setattr(CostExplorerResponse, "get_cost_and_usage_with_resources", with_resources, raising=False)
    ce = _client(moto_session, "ce")
    now = pd.Timestamp("2026-11-20T10:30Z")
    df, meta = aws.get_costs(ce, "2026-10-20", "2026-11-20", REGION, with_resources=True, now=now)
    assert seen[0]["TimePeriod"] == {"Start": "2026-11-06T11:00:00Z", "End": "2026-11-20T00:00:00Z"}
    assert seen[0]["Granularity"] == "HOURLY"
    hourly = df[df["granularity"] == "HOURLY"]
    assert hourly["resource_id"].tolist() == ["i-0a1b2c3d4e5f60001"] * 2
    assert (hourly["group_key"] == "RESOURCE_ID").all()
    assert_allclose(hourly["cost_usd"], [0.115, 0.115])
    assert meta["pages"] == {"GetCostAndUsage": 1, "GetCostAndUsageWithResources": 1}


# --------------------------------------------------------------------------- unmapped failures
def test_unknown_error_code_is_source_unavailable_naming_operation_and_code(pricing):
    client, _, responder = pricing
    responder.inject("GetProducts", 400, {"__type": "InvalidParameterException", "Message": "bad filter"})
    with pytest.raises(SourceUnavailable, match=r"GetProducts failed \(InvalidParameterException, HTTP 400\)"):
        aws.get_prices(client, ["m5.large"], REGION)


def test_unreachable_endpoint_is_source_unavailable(aws_credentials):
    import boto3

    client = _client(boto3.Session(), "pricing", "http://127.0.0.1:9", attempts=1)
    with pytest.raises(SourceUnavailable, match="GetProducts: cannot reach AWS.*EndpointConnectionError"):
        aws.get_prices(client, ["m5.large"], REGION)


@pytest.mark.parametrize("exc_name", ["ReadTimeoutError", "ConnectTimeoutError"])
def test_timeouts_are_source_unavailable(pricing, exc_name):
    import botocore.exceptions

    client, _, _ = pricing
    exc = getattr(botocore.exceptions, exc_name)

    def _timeout(**_):
        raise exc(endpoint_url="http://example.invalid")

    client.meta.events.register("before-send", _timeout)
    with pytest.raises(SourceUnavailable, match=f"GetProducts: cannot reach AWS \\({exc_name}\\)"):
        aws.get_prices(client, ["m5.large"], REGION)


def _stubbed_ce(daily, resources_error=None, key="AKIA_A"):
    import boto3
    from botocore.stub import Stubber

    c = boto3.Session(aws_access_key_id=key, aws_secret_access_key="s", region_name="us-east-1").client("ce")
    st = Stubber(c)
    if daily is not None:
        st.add_response("get_cost_and_usage", daily)
    if resources_error:
        st.add_client_error("get_cost_and_usage_with_resources", service_error_code=resources_error,
                            service_message="Hourly/resource-level data not enabled", http_status_code=400)
    st.activate()
    return c


def _daily(amount):
    return {"ResultsByTime": [{"TimePeriod": {"Start": "2026-01-09", "End": "2026-01-10"}, "Estimated": False,
                               "Groups": [{"Keys": ["EUC1-BoxUsage:m5.large"],
                                           "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}]}]}


@pytest.mark.parametrize("code", ["DataUnavailableException", "AccessDeniedException"])
def test_resource_level_failure_keeps_daily_costs_with_warning(code):
    now = pd.Timestamp("2026-01-10", tz="UTC")
    ce = _stubbed_ce(_daily("2.5"), resources_error=code)
    df, meta = aws.get_costs(ce, now - pd.Timedelta(days=1), now, REGION, with_resources=True, now=now)
    assert df["cost_usd"].tolist() == [2.5] and (df["granularity"] == "DAILY").all()
    assert len(meta["warnings"]) == 1 and "no resource-level costs (daily costs kept)" in meta["warnings"][0]
    assert code in meta["warnings"][0] and "GetCostAndUsageWithResources" in meta["warnings"][0]
    assert "GetCostAndUsageWithResources" not in meta["pages"]


# --------------------------------------------------------------------------- cache scope
def test_cache_is_per_account_and_counts_hits(tmp_path):
    """Account B within the TTL must not get account A's costs (review repro t5)."""
    now = pd.Timestamp("2026-01-10", tz="UTC")
    cache = aws.ResponseCache(tmp_path)
    a, _ = aws.get_costs(_stubbed_ce(_daily("111.0"), key="AKIA_A"), now - pd.Timedelta(days=1), now, REGION,
                         cache=cache)
    b, _ = aws.get_costs(_stubbed_ce(_daily("7.0"), key="AKIA_B"), now - pd.Timedelta(days=1), now, REGION,
                         cache=cache)
    assert a["cost_usd"].tolist() == [111.0] and b["cost_usd"].tolist() == [7.0]
    assert not cache.hits
    a2, _ = aws.get_costs(_stubbed_ce(None, key="AKIA_A"), now - pd.Timedelta(days=1), now, REGION, cache=cache)
    assert a2["cost_usd"].tolist() == [111.0] and cache.hits == {"ce.GetCostAndUsage": 1}
    # an explicit account scope overrides the key: same account, other key -> shared entry
    acct = aws.ResponseCache(tmp_path / "acct", scope="account:1")
    aws.get_costs(_stubbed_ce(_daily("5.0"), key="AKIA_A"), now - pd.Timedelta(days=1), now, REGION, cache=acct)
    c, _ = aws.get_costs(_stubbed_ce(None, key="AKIA_C"), now - pd.Timedelta(days=1), now, REGION, cache=acct)
    assert c["cost_usd"].tolist() == [5.0]
    assert not list((tmp_path / "acct" / "aws").glob("*.tmp"))


def test_account_scope_from_sts_and_fallback(moto_session):
    counter = aws.CallCounter()
    sts = _client(moto_session, "sts", counter=counter)
    assert aws.account_scope(sts) == "account:123456789012"
    assert counter.as_dict() == {"sts.GetCallerIdentity": 1}
    dead = _client(moto_session, "sts", "http://127.0.0.1:9", attempts=1)
    scope = aws.account_scope(dead)
    assert scope.startswith("key:") and scope == aws.credential_scope(dead) and "testing" not in scope


# --------------------------------------------------------------------------- lesser review items
def _stubbed(service, region=REGION):
    import boto3
    from botocore.stub import Stubber

    c = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name=region).client(service)
    return c, Stubber(c)


def test_get_metric_data_status_other_than_complete_is_a_warning():
    cw, st = _stubbed("cloudwatch")
    t = T0 + timedelta(hours=1)
    # q0_0 continues on page 2 (PartialData, then Complete): fine. q1_0 ends InternalError: warned.
    st.add_response("get_metric_data", {"NextToken": "n", "MetricDataResults": [
        {"Id": "q0_0", "Timestamps": [T0], "Values": [20.0], "StatusCode": "PartialData"},
        {"Id": "q1_0", "Timestamps": [T0], "Values": [40.0], "StatusCode": "PartialData"}]})
    st.add_response("get_metric_data", {"MetricDataResults": [
        {"Id": "q0_0", "Timestamps": [t], "Values": [30.0], "StatusCode": "Complete"},
        {"Id": "q1_0", "Timestamps": [], "Values": [], "StatusCode": "InternalError"}]})
    st.activate()
    df, meta = aws.get_cpu_hourly(cw, ["i-a", "i-b"], T0, T0 + timedelta(hours=2), stats=("Average",))
    assert_allclose(df["cpu_util_frac"], [0.2, 0.3, 0.4])
    assert meta["warnings"] == ["GetMetricData returned StatusCode InternalError for 1 series (e.g. i-b Average); "
                                "their hourly CPU may be incomplete"]


def test_describe_instance_types_invalid_type_is_a_clear_error():
    ec2, st = _stubbed("ec2")
    st.add_response("describe_instances", {"Reservations": [{"Instances": [
        {"InstanceId": "i-1", "InstanceType": "x9.huge", "State": {"Name": "running"}}]}]})
    st.add_client_error("describe_instance_types", service_error_code="InvalidInstanceType",
                        service_message="The following supplied instance types do not exist: [x9.huge]")
    st.activate()
    with pytest.raises(PayloadError, match=r"DescribeInstanceTypes does not know .*\['x9.huge'\]"):
        aws.get_instances(ec2)


def test_cost_payload_of_wrong_type_is_a_payload_error():
    ce, st = _stubbed("ce", "us-east-1")
    st.add_response("get_cost_and_usage", {"ResultsByTime": [{
        "TimePeriod": {"Start": "2026-01-09", "End": "2026-01-10"}, "Estimated": False,
        "Groups": [{"Keys": ["EUC1-BoxUsage:m5.large"], "Metrics": {"UnblendedCost": {"Amount": "n/a"}}}]}]})
    st.activate()
    with pytest.raises(PayloadError, match="Cost Explorer"):
        aws.get_costs(ce, "2026-01-09", "2026-01-10", REGION)
