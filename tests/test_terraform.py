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
