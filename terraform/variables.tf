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
    Test fleet: name -> instance type, workload role, Schedule tag and CPU load profile.
    Roles mirror the sandbox: production (24/7), office_hours (stopped and started by the
    carbon-aware scheduler of scheduler.tf -- when it is deployed with scheduler_apply=true --
    through its Schedule tag), batch (flexible, a daily deadline: deadline_hour_utc and
    job_duration_h tags for the scheduler's `nightly` policy). load_profile sets the
    stress-ng CPU load in user data so a run on a real account exercises the power models:
    "40", "60", "80" (% of every vCPU) or "variable" (20..80 % by hour of day); "none": idle.
    Keep it small: each instance bills per second while running.
  EOT
  type = map(object({
    instance_type     = string
    role              = string
    schedule          = string
    flexible          = bool
    load_profile      = optional(string, "none")
    deadline_hour_utc = optional(number)
    job_duration_h    = optional(number)
  }))
  default = {
    "prod-web-1"  = { instance_type = "t3.small", role = "production", schedule = "24/7 Always Running", flexible = false, load_profile = "40" }
    "prod-api-1"  = { instance_type = "t3.small", role = "production", schedule = "24/7 Always Running", flexible = false, load_profile = "variable" }
    "dev-app-1"   = { instance_type = "t3.micro", role = "office_hours", schedule = "Office Hours + Weekend Shutdown", flexible = false, load_profile = "60" }
    "batch-etl-1" = { instance_type = "t4g.micro", role = "batch", schedule = "nightly", flexible = true, load_profile = "80", deadline_hour_utc = 6, job_duration_h = 2 }
  }
  validation {
    condition     = alltrue([for k, v in var.fleet : contains(["production", "office_hours", "batch", "spot_worker"], v.role)])
    error_message = "role must be one of production, office_hours, batch, spot_worker."
  }
  validation {
    condition     = alltrue([for k, v in var.fleet : contains(["none", "40", "60", "80", "variable"], v.load_profile)])
    error_message = "load_profile must be one of none, 40, 60, 80, variable."
  }
}

variable "collector_principal_arn" {
  description = <<-EOT
    The one IAM role or user ARN allowed to assume the read-only collector role (e.g. your
    SSO role: arn:aws:iam::123456789012:role/AWSReservedSSO_ReadOnly_abc). Required: the
    trust policy names exactly this principal, never the whole account.
  EOT
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", var.collector_principal_arn))
    error_message = "collector_principal_arn must be an IAM role or user ARN (arn:aws:iam::<account>:role/<name>), not an account root."
  }
}

# --- Scheduler (scheduler.tf) -------------------------------------------------
variable "deploy_scheduler" {
  description = "Deploy the carbon-aware scheduler (Lambda, role, DynamoDB table, hourly EventBridge schedule). Run `make lambda-package` first."
  type        = bool
  default     = false
}

variable "scheduler_apply" {
  description = "Let the deployed scheduler stop/start instances. false (default): it only decides and logs (dry run)."
  type        = bool
  default     = false
}

variable "scheduler_package" {
  description = "Path of the Lambda zip built by `make lambda-package`."
  type        = string
  default     = "../build/lambda/finops-scheduler.zip"
}

variable "schedule_expression" {
  description = "EventBridge Scheduler expression (UTC): when the scheduler runs. Hourly on the hour by default."
  type        = string
  default     = "cron(0 * * * ? *)"
}

variable "grid_zone" {
  description = "Electricity Maps zone of the region (DE for eu-central-1)."
  type        = string
  default     = "DE"
}

variable "electricitymaps_key_parameter" {
  description = "Name of an SSM SecureString with the Electricity Maps API key; empty: no forecast (carbon-aware policies hold)."
  type        = string
  default     = ""
}

variable "schedule_tag_values" {
  description = <<-EOT
    Values of the Schedule tag the scheduler role may act on (IAM condition on
    aws:ResourceTag/Schedule): every policy name and alias of the bundled policies.yaml
    (tests/test_terraform.py checks they agree). Add your own policies' names here too.
  EOT
  type        = list(string)
  default = [
    "office-hours", "Office Hours + Weekend Shutdown",
    "extended-dev-hours", "Extended Development Hours",
    "carbon-aware", "Carbon-Aware 24/7",
    "nightly",
    "always-on", "24/7 Always Running",
  ]
}
