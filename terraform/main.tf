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
  principal = var.collector_principal_arn != "" ? var.collector_principal_arn : "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"
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
      identifiers = [local.principal]
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

resource "aws_instance" "fleet" {
  for_each      = var.create_fleet ? var.fleet : {}
  ami           = data.aws_ami.al2023[can(regex("^[a-z]+[0-9]+g", each.value.instance_type)) ? "arm64" : "x86_64"].id
  instance_type = each.value.instance_type
  tags = {
    Name     = each.key
    role     = each.value.role
    Schedule = each.value.schedule
    flexible = tostring(each.value.flexible)
  }
  metadata_options {
    http_tokens = "required"
  }
}
