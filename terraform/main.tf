# Carbon-Aware FinOps Workbench: a read-only collector role and (opt-in) a tiny
# tagged test fleet in eu-central-1 to check the collectors against a real account.

data "aws_caller_identity" "current" {}

# --- Read-only collector role ---------------------------------------------
# Exactly the API actions finops_lib.collect calls (tests/test_terraform.py
# checks this list against finops_lib.collect.REQUIRED_IAM_ACTIONS).
locals {
  collector_actions = [
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceTypes",
    "cloudtrail:LookupEvents",
    "cloudwatch:GetMetricData",
    "pricing:GetProducts",
    "ce:GetCostAndUsage",
    "ce:GetCostAndUsageWithResources",
  ]
}

data "aws_iam_policy_document" "collector" {
  statement {
    sid       = "FinOpsWorkbenchReadOnly"
    effect    = "Allow"
    actions   = local.collector_actions
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [var.collector_principal_arn] # one named principal, never the account root
    }
  }
}

resource "aws_iam_role" "collector" {
  name               = "finops-workbench-collector"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy" "collector" {
  name   = "finops-workbench-read-only"
  role   = aws_iam_role.collector.id
  policy = data.aws_iam_policy_document.collector.json
}

# --- Opt-in test fleet --------------------------------------------------------
data "aws_ami" "al2023" {
  for_each    = var.create_fleet ? toset(["x86_64", "arm64"]) : toset([])
  most_recent = true
  owners      = ["amazon"]
  filter {
    name   = "name"
    values = ["al2023-ami-2023.*-${each.key}"]
  }
}

locals {
  # stress-ng CPU load per profile (--cpu 0: one stressor per vCPU), run by a systemd unit so it survives the scheduler's stop/start
  # (user data itself runs only at first boot). stress-ng from the AL2023 repositories (*unconfirmed*
  # package name; `dnf install stress-ng`). "variable": 20..80 % by UTC hour of day, changed hourly.
  stress_cmd = {
    "40"       = "exec stress-ng --cpu 0 --cpu-load 40"
    "60"       = "exec stress-ng --cpu 0 --cpu-load 60"
    "80"       = "exec stress-ng --cpu 0 --cpu-load 80"
    "variable" = "while true; do h=$(date -u +%H); timeout $((3600 - $(date +%s) % 3600)) stress-ng --cpu 0 --cpu-load $((20 + 10#$h * 60 / 23)) || true; done"
  }
}

resource "aws_instance" "fleet" {
  for_each      = var.create_fleet ? var.fleet : {}
  ami           = data.aws_ami.al2023[can(regex("^[a-z]+[0-9]+g", each.value.instance_type)) ? "arm64" : "x86_64"].id
  instance_type = each.value.instance_type
  user_data     = each.value.load_profile == "none" ? null : <<-EOT
    #!/bin/bash
    set -euo pipefail
    dnf install -y stress-ng
    cat > /usr/local/bin/finops-load.sh <<'SCRIPT'
    #!/bin/bash
    ${local.stress_cmd[each.value.load_profile]}
    SCRIPT
    chmod 755 /usr/local/bin/finops-load.sh
    cat > /etc/systemd/system/finops-load.service <<'UNIT'
    [Unit]
    Description=Carbon-Aware FinOps test load (${each.value.load_profile})
    [Service]
    ExecStart=/usr/local/bin/finops-load.sh
    Restart=always
    [Install]
    WantedBy=multi-user.target
    UNIT
    systemctl daemon-reload
    systemctl enable --now finops-load.service
  EOT
  tags = merge(
    {
      Name     = each.key
      role     = each.value.role
      Schedule = each.value.schedule
      flexible = tostring(each.value.flexible)
    },
    each.value.deadline_hour_utc == null ? {} : { deadline_hour_utc = tostring(each.value.deadline_hour_utc) },
    each.value.job_duration_h == null ? {} : { job_duration_h = tostring(each.value.job_duration_h) },
  )
  metadata_options {
    http_tokens = "required"
  }
}
