"""Fixtures for the scheduler tests: fake credentials, moto, a call log (write calls counted)."""

from __future__ import annotations

import pytest

from finops_lib.scheduler import aws as sched_aws

REGION = "eu-central-1"






@pytest.fixture
def counted(moto_session):
    return moto_session, sched_aws.CallLog(moto_session)
