"""Fixtures for the collector tests: fake AWS credentials, moto, local responders."""

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from finops_lib.collect import fakes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REGION = "eu-central-1"


def load(name):
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def aws_credentials(monkeypatch):
    """Fake credentials (moto docs); no real profile or IMDS is ever consulted."""
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_SECURITY_TOKEN": "testing", "AWS_SESSION_TOKEN": "testing",
                 "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def no_backoff(monkeypatch):
    """botocore standard-mode retries without the exponential sleep (keeps tests fast)."""
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


@pytest.fixture
def moto_session(aws_credentials):
    with mock_aws():
        yield boto3.Session(region_name=REGION)


@pytest.fixture
def responder():
    with fakes.LocalResponder() as r:
        yield r
