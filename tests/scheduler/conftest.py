"""Fixtures for the scheduler tests: fake credentials, moto, a call log (write calls counted)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from finops_lib.scheduler import aws as sched_aws

REGION = "eu-central-1"


@pytest.fixture
def aws_credentials(monkeypatch):
    """Fake credentials (moto docs); no real profile or IMDS is ever consulted."""
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_SECURITY_TOKEN": "testing", "AWS_SESSION_TOKEN": "testing",
                 "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(k, v)
    for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(k, raising=False)


@pytest.fixture
def moto_session(aws_credentials):
    with mock_aws():
        yield boto3.Session(region_name=REGION)


@pytest.fixture
def counted(moto_session):
    return moto_session, sched_aws.CallLog(moto_session)
