"""Policy file: the bundled file validates; every malformed variant is a clear PolicyError."""

from __future__ import annotations

import copy

import pytest
import yaml

from finops_lib.scheduler.policy import (
    PolicyError,
    default_policy_path,
    load_policies,
    parse_policies,
)

BASE = yaml.safe_load(default_policy_path().read_text())


def test_bundled_policies_and_aliases():
    p = load_policies()
    assert set(p.policies) == {"office-hours", "extended-dev-hours", "carbon-aware", "nightly", "always-on"}
    # the four tag values of the original design resolve as aliases
    assert p.resolve("Office Hours + Weekend Shutdown").name == "office-hours"
    assert p.resolve("Carbon-Aware 24/7").name == "carbon-aware"
    assert p.resolve("24/7 Always Running").name == "always-on"
    assert p.resolve("Extended Development Hours").name == "extended-dev-hours"
    oh = p.policies["office-hours"]
    assert (oh.weekdays, oh.start_min, oh.end_min) == ((0, 1, 2, 3, 4), 8 * 60, 18 * 60)
    assert p.policies["carbon-aware"].threshold_g_per_kwh == 300.0
    assert p.policies["nightly"].has_deadline and not p.policies["carbon-aware"].has_deadline
    assert (p.timezone, p.holiday_country, p.holiday_subdiv) == ("Europe/Berlin", "DE", None)


def test_tag_value_naming_no_policy_is_an_error():
    with pytest.raises(PolicyError, match=r"'Office Hours' names no policy.*accepted"):
        load_policies().resolve("Office Hours")


def _bad(mutate):
    doc = copy.deepcopy(BASE)
    mutate(doc)
    return doc


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d.update(version=2), "version must be 1"),
    (lambda d: d.update(extra=1), r"unknown key\(s\) \['extra'\]"),
    (lambda d: d["defaults"].update(timezone="Europe/Frankfurt"), "unknown time zone 'Europe/Frankfurt'"),
    (lambda d: d["defaults"].update(holidays={"country": "DE", "subdiv": "XX"}), "subdivision XX"),
    (lambda d: d["policies"]["office-hours"].update(start="18:00", end="08:00"), "must be before end"),
    (lambda d: d["policies"]["office-hours"].update(start="8"), "expected local time 'HH:MM'"),
    (lambda d: d["policies"]["office-hours"].update(weekdays=["Monday"]), "weekdays must be"),
    (lambda d: d["policies"]["office-hours"].update(kind="office"), "kind must be one of"),
    (lambda d: d["policies"]["office-hours"].update(threshold_g_per_kwh=3), r"unknown key\(s\)"),
    (lambda d: d["policies"]["carbon-aware"].update(threshold_g_per_kwh=-5), "positive number or null"),
    (lambda d: d["policies"]["carbon-aware"].update(threshold_g_per_kwh=None), "needs a threshold, a deadline"),
    (lambda d: d["policies"]["nightly"].pop("run_hours_tag"), "a deadline needs run hours"),
    (lambda d: d["policies"]["always-on"].update(aliases=["Carbon-Aware 24/7"]), "names both policy"),
    (lambda d: d.update(policies={}), "non-empty mapping"),
    (lambda d: d.update(maintenance_windows=[{"weekdays": ["Sun"], "start": "02:00", "end": "04:00",
                                               "mode": "reboot"}]), "mode must be one of"),
    (lambda d: d.update(maintenance_windows=[{"weekdays": ["Sun"], "start": "02:00", "end": "04:00",
                                               "policies": ["nope"]}]), "policies must list policy names"),
])
def test_malformed_policy_documents_are_rejected(mutate, match):
    with pytest.raises(PolicyError, match=match):
        parse_policies(_bad(mutate), source="test.yaml")


def test_unreadable_or_invalid_yaml_file(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("policies: [unclosed\n")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policies(f)
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policies(tmp_path / "missing.yaml")
