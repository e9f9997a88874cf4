"""terraform/ is valid HCL for the AWS provider, and its IAM policy matches the collectors.

`terraform validate` needs the AWS provider; offline it comes from a filesystem
mirror (default /opt/tf-plugins, override with TF_PROVIDER_MIRROR). Without the
binary or the mirror the validate test skips with the reason.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TF_DIR = ROOT / "terraform"
MIRROR = Path(os.environ.get("TF_PROVIDER_MIRROR", "/opt/tf-plugins"))


def _policy_actions() -> set[str]:
    text = (TF_DIR / "main.tf").read_text()
    block = re.search(r"collector_actions\s*=\s*\[(.*?)\]", text, re.S).group(1)
    return set(re.findall(r'"([a-z0-9]+:[A-Za-z]+)"', block))


def test_iam_policy_lists_exactly_the_collectors_actions():
    from finops_lib.collect import REQUIRED_IAM_ACTIONS

    assert _policy_actions() == set(REQUIRED_IAM_ACTIONS)


@pytest.mark.slow
def test_terraform_validate(tmp_path):
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform binary not on PATH")
    if not (MIRROR / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(f"no AWS provider mirror at {MIRROR} (set TF_PROVIDER_MIRROR)")
    work = tmp_path / "tf"
    shutil.copytree(TF_DIR, work, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    rc = tmp_path / "terraformrc"
    rc.write_text(
        'provider_installation {\n'
        f'  filesystem_mirror {{\n    path = "{MIRROR}"\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }}\n'
        '  direct { exclude = ["registry.terraform.io/hashicorp/aws"] }\n}\n'
    )
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(rc), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    for args in (["init", "-backend=false", "-input=false"], ["validate", "-no-color"], ["fmt", "-check", "-recursive"]):
        proc = subprocess.run([terraform, *args], cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"terraform {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"


# --------------------------------------------------------------------------- scheduler (scheduler.tf)
def _tf(name: str) -> str:
    return (TF_DIR / name).read_text()


def _statement(text: str, sid: str) -> str:
    m = re.search(rf'sid\s*=\s*"{sid}"(.*?)\n  }}\n', text, re.S)
    assert m, f"statement {sid} not found"
    return m.group(1)


def test_scheduler_role_acts_only_on_opted_in_instances_and_its_own_resources():
    from finops_lib.scheduler.aws import METRICS_NAMESPACE, REQUIRED_IAM_ACTIONS

    text = _tf("scheduler.tf")
    block = re.search(r'data "aws_iam_policy_document" "scheduler" \{(.*?)\n\}\n', text, re.S).group(1)
    action_lists = re.findall(r"actions\s*=\s*\[(.*?)\]", block, re.S)
    actions = set(re.findall(r'"((?:ec2|cloudwatch|dynamodb):[A-Za-z]+)"', " ".join(action_lists)))
    assert actions == set(REQUIRED_IAM_ACTIONS)
    stop_start = _statement(text, "StopStartOptedInOnly")
    assert '"aws:ResourceTag/Schedule"' in stop_start and "var.schedule_tag_values" in stop_start
    assert '"*"' not in stop_start  # instance ARNs only
    deny = _statement(text, "NeverAutoScalingMembers")
    assert 'effect    = "Deny"' in deny and "aws:ResourceTag/aws:autoscaling:groupName" in deny
    metrics = _statement(text, "MetricsInOwnNamespace")
    assert '"cloudwatch:namespace"' in metrics and "local.metrics_namespace" in metrics
    assert f'metrics_namespace   = "{METRICS_NAMESPACE}"' in text
    assert "aws_dynamodb_table.decisions[0].arn" in _statement(text, "DecisionLog")
    assert re.search(r'SCHEDULER_APPLY\s*=\s*var.scheduler_apply \? "true" : "false"', text)


def test_schedule_tag_values_are_the_bundled_policy_names_and_aliases():
    from finops_lib.scheduler import load_policies

    block = re.search(r'variable "schedule_tag_values" \{.*?default = \[(.*?)\]', _tf("variables.tf"), re.S).group(1)
    assert set(re.findall(r'"([^"]+)"', block)) == set(load_policies().tag_values)


def test_deploying_and_acting_stay_opt_in():
    v = _tf("variables.tf")
    for name in ("deploy_scheduler", "scheduler_apply", "create_fleet"):
        assert re.search(rf'variable "{name}" \{{.*?default\s*=\s*false', v, re.S), name
    assert re.search(r"count\s*=\s*local.scheduler_count", _tf("scheduler.tf"))


def test_schedule_retries_never_act_on_a_past_hour():
    """The handler decides for the event's scheduled time: a retry hours later would act on a past hour."""
    m = re.search(r"maximum_event_age_in_seconds\s*=\s*(\d+)", _tf("scheduler.tf"))
    assert m and int(m.group(1)) <= 3600


def test_collector_trust_names_one_principal_not_the_account():
    main_tf, v = _tf("main.tf"), _tf("variables.tf")
    assert ":root" not in main_tf
    assert "identifiers = [var.collector_principal_arn]" in main_tf
    block = re.search(r'variable "collector_principal_arn" \{(.*?)\n\}', v, re.S).group(1)
    assert "default" not in block and ":(role|user)/" in block


def test_fleet_office_hours_instances_carry_a_schedule_policy_and_load_profiles():
    from finops_lib.scheduler import load_policies

    v = _tf("variables.tf")
    block = re.search(r'variable "fleet" \{.*?default = \{(.*?)\n  \}', v, re.S).group(1)
    rows = re.findall(r'"([^"]+)"\s*=\s*\{(.*?)\}', block)
    pol = load_policies()
    profiles = set()
    for _, body in rows:
        fields = dict(re.findall(r'(\w+)\s*=\s*"?([^",]+)"?', body))
        policy = pol.resolve(fields["schedule"])  # every fleet Schedule tag names a policy
        if fields["role"] == "office_hours":
            assert policy.kind == "hours"
        profiles.add(fields.get("load_profile", "none"))
    assert {"40", "60", "80", "variable"} <= profiles
