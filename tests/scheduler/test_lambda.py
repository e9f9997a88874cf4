"""The Lambda handler (against moto), its import footprint, and the deployment zip."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pandas as pd

from finops_lib.scheduler import lambda_handler, package

AMI = "ami-12c6146b"
TABLE = "finops-scheduler-decisions"


def test_lambda_package_imports_without_pyarrow_scipy_matplotlib(tmp_path):
    """The handler loads from the extracted zip (as Lambda runs it) with what the zip leaves out blocked."""
    out = package.build(tmp_path / "f.zip", with_dependencies=False)
    task = tmp_path / "task"
    zipfile.ZipFile(out).extractall(task)
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(task)!r})\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('scipy', 'matplotlib', 'pyarrow', 'seaborn', 'moto', 'papermill'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import finops_lib, finops_lib.scheduler.lambda_handler, finops_lib.scheduler.run, finops_lib.collect.carbon\n"
        "assert finops_lib.__file__.startswith(sys.path[0]), finops_lib.__file__\n"
        "from finops_lib.scheduler import load_policies; load_policies()\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_handler_dry_run_by_default_then_apply(moto_session, monkeypatch):
    ec2 = moto_session.client("ec2")
    spec = [{"ResourceType": "instance", "Tags": [{"Key": "Schedule", "Value": "office-hours"}]}]
    iid = ec2.run_instances(ImageId=AMI, InstanceType="t3.small", MinCount=1, MaxCount=1,
                            TagSpecifications=spec)["Instances"][0]["InstanceId"]
    ddb = moto_session.client("dynamodb")
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "instance_id", "KeyType": "HASH"},
                                {"AttributeName": "decided_at", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "instance_id", "AttributeType": "S"},
                                           {"AttributeName": "decided_at", "AttributeType": "S"}])
    monkeypatch.setenv("DECISION_TABLE", TABLE)
    monkeypatch.delenv("SCHEDULER_APPLY", raising=False)
    event = {"time": "2026-10-24T10:00:00Z"}  # Saturday
    out = lambda_handler.handler(event, None, session_factory=lambda: moto_session)
    assert out["mode"] == "dry-run" and out["stop"] == 1 and out["metric_datums"] == 0
    state = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "running" and ddb.scan(TableName=TABLE)["Count"] == 0
    monkeypatch.setenv("SCHEDULER_APPLY", "true")
    out = lambda_handler.handler(event, None, session_factory=lambda: moto_session)
    assert out["mode"] == "apply" and out["stop"] == 1 and out["failed"] == 0
    state = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "stopped" and ddb.scan(TableName=TABLE)["Count"] == 1
    out = lambda_handler.handler({"time": pd.Timestamp("2026-10-24T11:00Z").isoformat()}, None,
                                 session_factory=lambda: moto_session)
    assert out["stop"] == 0 and out["start"] == 0


def test_package_zip_without_dependencies(tmp_path):
    out = package.build(tmp_path / "f.zip", with_dependencies=False)
    names = zipfile.ZipFile(out).namelist()
    assert "finops_lib/scheduler/lambda_handler.py" in names and "finops_lib/scheduler/policies.yaml" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("finops_lib/sandbox/", "finops_lib/bench/"))]
    assert package.HANDLER == f"{lambda_handler.__name__}.{lambda_handler.handler.__name__}"


def test_handler_reads_the_electricitymaps_key_from_ssm(moto_session, monkeypatch):
    from finops_lib.scheduler import run

    moto_session.client("ssm").put_parameter(Name="/finops/em-key", Value="secret-key", Type="SecureString")
    seen = {}

    def fake_forecast(zone, now, *, api_key=None, base_url=None, counter=None):
        seen.update(zone=zone, api_key=api_key)
        return pd.Series(123.0, index=pd.date_range(pd.Timestamp(now).floor("h"), periods=24, freq="h"))

    monkeypatch.setattr(run, "intensity_forecast_electricitymaps", fake_forecast)
    monkeypatch.setenv("ELECTRICITYMAPS_API_KEY_PARAMETER", "/finops/em-key")
    monkeypatch.delenv("DECISION_TABLE", raising=False)
    ec2 = moto_session.client("ec2")
    spec = [{"ResourceType": "instance", "Tags": [{"Key": "Schedule", "Value": "Carbon-Aware 24/7"}]}]
    ec2.run_instances(ImageId=AMI, InstanceType="t3.small", MinCount=1, MaxCount=1, TagSpecifications=spec)
    out = lambda_handler.handler({"time": "2026-10-24T10:00:00Z"}, None, session_factory=lambda: moto_session)
    assert seen == {"zone": "DE", "api_key": "secret-key"}
    assert out["mode"] == "dry-run" and out["stop"] == 0  # 123 g/kWh < 300: keeps running


def test_handler_without_a_forecast_still_enforces_office_hours(moto_session, monkeypatch):
    """An unreachable forecast (SSM parameter missing) must not stop the hour-based policies."""
    monkeypatch.setenv("ELECTRICITYMAPS_API_KEY_PARAMETER", "/finops/missing")
    monkeypatch.setenv("SCHEDULER_APPLY", "true")
    monkeypatch.delenv("DECISION_TABLE", raising=False)
    ec2 = moto_session.client("ec2")
    spec = [{"ResourceType": "instance", "Tags": [{"Key": "Schedule", "Value": "Office Hours + Weekend Shutdown"}]}]
    iid = ec2.run_instances(ImageId=AMI, InstanceType="t3.small", MinCount=1, MaxCount=1,
                            TagSpecifications=spec)["Instances"][0]["InstanceId"]
    out = lambda_handler.handler({"time": "2026-10-24T10:00:00Z"}, None, session_factory=lambda: moto_session)  # Sat
    state = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert out["stop"] == 1 and state in ("stopping", "stopped")
