output "collector_role_arn" {
  description = "Assume this role (e.g. as an AWS profile with role_arn) for `finops collect --source aws`."
  value       = aws_iam_role.collector.arn
}

output "fleet_instance_ids" {
  description = "Instance ids of the opt-in test fleet."
  value       = { for k, v in aws_instance.fleet : k => v.id }
}
