output "collector_role_arn" {
  description = "Assume this role (e.g. as an AWS profile with role_arn) for `finops collect --source aws`."
  value       = aws_iam_role.collector.arn
}

output "fleet_instance_ids" {
  description = "Instance ids of the opt-in test fleet."
  value       = { for k, v in aws_instance.fleet : k => v.id }
}

output "scheduler_function_name" {
  description = "Lambda function of the carbon-aware scheduler (null unless deploy_scheduler)."
  value       = one(aws_lambda_function.scheduler[*].function_name)
}

output "scheduler_role_arn" {
  description = "Role of the scheduler: start/stop only instances with a Schedule policy tag."
  value       = one(aws_iam_role.scheduler[*].arn)
}

output "decision_table_name" {
  description = "DynamoDB table of the scheduler's decision log."
  value       = one(aws_dynamodb_table.decisions[*].name)
}

output "schedule_arn" {
  description = "EventBridge Scheduler schedule that invokes the scheduler."
  value       = one(aws_scheduler_schedule.hourly[*].arn)
}
