# --- Carbon-aware scheduler (opt-in: -var deploy_scheduler=true) --------------
# An hourly EventBridge Scheduler schedule invokes the Lambda built by
# `make lambda-package` (finops_lib.scheduler.lambda_handler.handler). It runs
# dry -- decides and logs to CloudWatch Logs, changes nothing -- unless
# scheduler_apply=true. Its role may only start/stop instances whose Schedule
# tag names a policy, never an Auto Scaling group member, put metrics only in
# the CarbonAwareFinOps namespace and write only its own decision table.

locals {
  scheduler_count     = var.deploy_scheduler ? 1 : 0
  metrics_namespace   = "CarbonAwareFinOps"
  scheduler_name      = "finops-carbon-aware-scheduler"
  account_id          = data.aws_caller_identity.current.account_id
  instance_arn_prefix = "arn:aws:ec2:${var.region}:${local.account_id}:instance"
}

resource "aws_dynamodb_table" "decisions" {
  count        = local.scheduler_count
  name         = "${local.scheduler_name}-decisions"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "instance_id"
  range_key    = "decided_at"
  attribute {
    name = "instance_id"
    type = "S"
  }
  attribute {
    name = "decided_at"
    type = "S"
  }
  point_in_time_recovery {
    enabled = true
  }
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count              = local.scheduler_count
  name               = local.scheduler_name
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "scheduler" {
  count = local.scheduler_count
  statement {
    sid       = "ReadFleet"
    actions   = ["ec2:DescribeInstances"]
    resources = ["*"] # Describe* supports no resource-level permissions
  }
  statement {
    sid       = "StopStartOptedInOnly"
    actions   = ["ec2:StartInstances", "ec2:StopInstances"]
    resources = ["${local.instance_arn_prefix}/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Schedule"
      values   = var.schedule_tag_values
    }
  }
  statement {
    sid       = "NeverAutoScalingMembers"
    effect    = "Deny"
    actions   = ["ec2:StartInstances", "ec2:StopInstances"]
    resources = ["${local.instance_arn_prefix}/*"]
    condition {
      test     = "Null"
      variable = "aws:ResourceTag/aws:autoscaling:groupName"
      values   = ["false"]
    }
  }
  statement {
    sid       = "MetricsInOwnNamespace"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource type; the namespace condition limits it
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [local.metrics_namespace]
    }
  }
  statement {
    sid       = "DecisionLog"
    actions   = ["dynamodb:BatchWriteItem", "dynamodb:Query"]
    resources = [aws_dynamodb_table.decisions[0].arn]
  }
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.scheduler[0].arn}:*"]
  }
  dynamic "statement" {
    for_each = var.electricitymaps_key_parameter != "" ? [1] : []
    content {
      sid       = "ElectricityMapsKey"
      actions   = ["ssm:GetParameter"]
      resources = ["arn:aws:ssm:${var.region}:${local.account_id}:parameter/${trimprefix(var.electricitymaps_key_parameter, "/")}"]
    }
  }
}

resource "aws_iam_role_policy" "scheduler" {
  count  = local.scheduler_count
  name   = "finops-scheduler-opted-in-only"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler[0].json
}

resource "aws_cloudwatch_log_group" "scheduler" {
  count             = local.scheduler_count
  name              = "/aws/lambda/${local.scheduler_name}"
  retention_in_days = 30
}

resource "aws_lambda_function" "scheduler" {
  count            = local.scheduler_count
  function_name    = local.scheduler_name
  role             = aws_iam_role.scheduler[0].arn
  runtime          = "python3.12"
  handler          = "finops_lib.scheduler.lambda_handler.handler"
  filename         = var.scheduler_package
  source_code_hash = filebase64sha256(var.scheduler_package)
  timeout          = 120
  memory_size      = 512
  environment {
    variables = {
      SCHEDULER_APPLY                   = var.scheduler_apply ? "true" : "false"
      DECISION_TABLE                    = aws_dynamodb_table.decisions[0].name
      GRID_ZONE                         = var.grid_zone
      ELECTRICITYMAPS_API_KEY_PARAMETER = var.electricitymaps_key_parameter
    }
  }
  depends_on = [aws_cloudwatch_log_group.scheduler]
}

data "aws_iam_policy_document" "eventbridge_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "invoke" {
  count              = local.scheduler_count
  name               = "${local.scheduler_name}-invoke"
  assume_role_policy = data.aws_iam_policy_document.eventbridge_assume.json
}

resource "aws_iam_role_policy" "invoke" {
  count = local.scheduler_count
  name  = "invoke-scheduler-lambda"
  role  = aws_iam_role.invoke[0].id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "lambda:InvokeFunction", Resource = aws_lambda_function.scheduler[0].arn }]
  })
}

resource "aws_scheduler_schedule" "hourly" {
  count                        = local.scheduler_count
  name                         = local.scheduler_name
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = "UTC"
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = aws_lambda_function.scheduler[0].arn
    role_arn = aws_iam_role.invoke[0].arn
    input    = jsonencode({ time = "<aws.scheduler.scheduled-time>" })
    # a late retry must not act on an hour that has passed (the default keeps events up to 24 h)
    retry_policy {
      maximum_event_age_in_seconds = 900
      maximum_retry_attempts       = 2
    }
  }
}
