"""Fixtures for the collector tests: fake AWS credentials, moto, local responders."""

import json
from pathlib import Path

import pytest
import requests

from finops_lib.collect import fakes
from finops_lib.collect.boavizta import boavizta_python, boavizta_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REGION = "eu-central-1"


def load(name):
    return json.loads((FIXTURES / name).read_text())




@pytest.fixture
def no_backoff(monkeypatch):
    """botocore standard-mode retries without the exponential sleep (keeps tests fast)."""
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)




@pytest.fixture(scope="module")
def boavizta_url():
    """A local BoaviztAPI server for the module (skips where its interpreter is absent); stopped afterwards."""
    if not Path(boavizta_python()).exists():
        pytest.skip(f"BoaviztAPI interpreter {boavizta_python()} not installed (make venv)")
    with boavizta_server() as url:
        yield url
    with pytest.raises(requests.ConnectionError):  # stopped afterwards
        requests.get(f"{url}/v1/utils/version", timeout=2)


@pytest.fixture
def responder():
    with fakes.LocalResponder() as r:
        yield r
