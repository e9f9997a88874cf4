"""BoaviztAPI client against a real local BoaviztAPI server (started from .venv-boavizta)."""


import pytest
from numpy.testing import assert_allclose

from finops_lib import factors
from finops_lib.collect import aws
from finops_lib.collect.boavizta import (
    FIT_LOAD_FRACS,
    boavizta_server,
    get_power_profiles_boavizta,
)
from finops_lib.collect.errors import PayloadError, SourceUnavailable

pytestmark = pytest.mark.slow


def test_power_curve_and_embodied_match_reference_readings(boavizta_url, tmp_path):
    counter = aws.CallCounter()
    df, meta = get_power_profiles_boavizta(["m6a.large", "t3.micro"], boavizta_url, cache_dir=tmp_path,
                                           counter=counter)
    n = len(FIT_LOAD_FRACS)
    assert counter.as_dict() == {"boavizta.instance": 2 * n}  # 2 types x 6 requested loads
    for itype in ("m6a.large", "t3.micro"):
        sub = df[df.instance_type == itype]
        assert sub["load_frac"].tolist() == list(factors.BOAVIZTA_CURVE_LOADS_FRAC)
        # fitted curve at 22 points vs the server's own readings at those points (factors)
        assert_allclose(sub["power_w"], factors.BOAVIZTA_CURVE_POWER_W[itype], rtol=2e-4)
        assert meta["curve_fit"][itype]["max_residual_frac"] < 2e-4
    # m6a.large embodied 20.0 kg over a 52,560 h host life -> 0.3805 g/h (REFERENCES.md)
    emb = df.loc[df.instance_type == "m6a.large", "embodied_g_per_h"]
    assert_allclose(emb, 20.0e3 / factors.BOAVIZTA_AWS_LIFETIME_H, rtol=0.01)
    # power profiles are cached for 7 days: a second call sends nothing
    get_power_profiles_boavizta(["m6a.large", "t3.micro"], boavizta_url, cache_dir=tmp_path, counter=counter)
    assert counter.as_dict() == {"boavizta.instance": 2 * n}


def test_fuzzy_match_is_an_error(boavizta_url):
    with pytest.raises(PayloadError, match="fuzzy"):
        get_power_profiles_boavizta(["m6a.larg"], boavizta_url, load_fracs=(0.5,))


def test_unknown_type_is_unavailable(boavizta_url):
    with pytest.raises(SourceUnavailable, match="does not know instance type 'zz9.plural'"):
        get_power_profiles_boavizta(["zz9.plural"], boavizta_url, load_fracs=(0.5,))


def test_bad_load_fraction():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        get_power_profiles_boavizta(["m6a.large"], "http://127.0.0.1:9", load_fracs=(50,))


def test_boavizta_url_env_skips_the_server(monkeypatch):
    monkeypatch.setenv("BOAVIZTA_URL", "http://127.0.0.1:1/")
    with boavizta_server() as url:
        assert url == "http://127.0.0.1:1"
