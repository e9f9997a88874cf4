"""Shared fixtures. Subfolders add their own in their own conftest.py."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

#: The small world every notebook test reads (the notebooks' own defaults).
SMALL_WORLD = {"seed": 42, "n_instances": 12, "days": 7}


@pytest.fixture(scope="session")
def small_sandbox_snapshot(tmp_path_factory):
    """A small simulated snapshot (12 instances, 7 days), collected once per session (~15 s)."""
    from finops_lib.sandbox import collect_sandbox_snapshot

    out = tmp_path_factory.mktemp("snapshots") / "small"
    return collect_sandbox_snapshot(out, dict(SMALL_WORLD), progress=False)


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
