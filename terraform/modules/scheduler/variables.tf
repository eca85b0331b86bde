variable "project_id" {
  description = "Project of the scheduler job."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9.:]{0,62}$", var.project_id))
    error_message = "The project_id must be a Google Cloud project id: lowercase letters, digits and hyphens (domain-scoped ids may contain '.' and ':')."
  }
}

variable "region" {
  description = "Region of the scheduler job (Cloud Scheduler must be available there)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{0,62}$", var.region))
    error_message = "The region must be a Google Cloud region name such as europe-west1."
  }
}

variable "name" {
  description = "Name of the job, e.g. \"strata-dev-recover\"."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,500}$", var.name))
    error_message = "The name must be letters, digits, hyphens and underscores."
  }
}

variable "recover_uri" {
  description = "HTTPS URL of the recover function; the job's target and the OIDC audience."
  type        = string

  validation {
    condition     = var.recover_uri == null || startswith(var.recover_uri, "https://")
    error_message = "The recover_uri must be an https:// URL."
  }
}

variable "service_account_email" {
  description = "Service account whose OIDC token the job sends; it must be allowed to invoke the recover function (and only that)."
  type        = string
}

variable "schedule" {
  description = "Cron schedule of the recovery pass (unix-cron format)."
  type        = string
  default     = "*/5 * * * *"

  validation {
    condition     = length(split(" ", trimspace(var.schedule))) == 5
    error_message = "The schedule must be a five-field unix-cron expression such as \"*/5 * * * *\"."
  }
}

variable "time_zone" {
  description = "Time zone of the schedule."
  type        = string
  default     = "Etc/UTC"
}

variable "attempt_deadline" {
  description = "How long one attempt may run before Scheduler cancels it; a bit above the recover function's timeout. Between 15s and 1800s."
  type        = string
  default     = "320s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.attempt_deadline)) && try(tonumber(trimsuffix(var.attempt_deadline, "s")) >= 15 && tonumber(trimsuffix(var.attempt_deadline, "s")) <= 1800, false)
    error_message = "The attempt_deadline must be a whole number of seconds between 15s and 1800s, e.g. \"320s\"."
  }
}

variable "retry_count" {
  description = "Retries of a failed attempt before the run is given up (the next run starts from scratch anyway)."
  type        = number
  default     = 1

  validation {
    condition     = var.retry_count >= 0 && var.retry_count <= 5
    error_message = "The retry_count must be between 0 and 5."
  }
}

variable "paused" {
  description = "Create the job paused (no recovery runs until it is resumed)."
  type        = bool
  default     = false
}
