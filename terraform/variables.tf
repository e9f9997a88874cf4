variable "region" {
  description = "AWS region of the test fleet (the workbench targets eu-central-1 / zone DE)."
  type        = string
  default     = "eu-central-1"
}

variable "create_fleet" {
  description = "Create the small test fleet (costs money). The read-only collector role is always created."
  type        = bool
  default     = false
}

variable "fleet" {
  description = <<-EOT
    Test fleet: name -> instance type and workload role. Roles mirror the sandbox:
    production (24/7), office_hours (started/stopped by schedule), batch (flexible,
    with a deadline). Keep it small: each instance bills per second while running.
  EOT
  type = map(object({
    instance_type = string
    role          = string
    schedule      = string
    flexible      = bool
  }))
  default = {
    "prod-web-1"  = { instance_type = "t3.small", role = "production", schedule = "always-on", flexible = false }
    "dev-app-1"   = { instance_type = "t3.micro", role = "office_hours", schedule = "office-hours", flexible = false }
    "batch-etl-1" = { instance_type = "t4g.micro", role = "batch", schedule = "nightly", flexible = true }
  }
  validation {
    condition     = alltrue([for k, v in var.fleet : contains(["production", "office_hours", "batch", "spot_worker"], v.role)])
    error_message = "role must be one of production, office_hours, batch, spot_worker."
  }
}

variable "collector_principal_arn" {
  description = "ARN allowed to assume the read-only collector role (e.g. your SSO role). Empty: the account root."
  type        = string
  default     = ""
}
