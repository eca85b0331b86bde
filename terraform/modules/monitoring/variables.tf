variable "project_id" {
  description = "Project of the metric descriptors, the dashboard, the SLOs and the alert policies (the functions' project: they write their metrics there)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9.:]{0,62}$", var.project_id))
    error_message = "The project_id must be a Google Cloud project id: lowercase letters, digits and hyphens (domain-scoped ids may contain '.' and ':')."
  }
}

variable "name" {
  description = "Name of the deployment (e.g. \"strata-dev\"); the custom service's id and part of every display name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{5,18}$", var.name))
    error_message = "The name must be 6-19 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "dead_letter_subscription" {
  description = "Short name of the pull subscription on the cleanup dead-letter topic (the messaging module's dead_letter_subscription); charted and alerted on when not empty."
  type        = string
}

variable "bigtable_instance" {
  description = "Name of the Bigtable instance whose clusters' CPU and storage are charted and alerted on."
  type        = string
}

variable "function_prefix" {
  description = "Prefix of the functions' Cloud Run service names (\"<name>-\"); the dashboard's instance-count chart shows services starting with it."
  type        = string
}

variable "notification_channels" {
  description = "Notification channels of every alert policy, as ids projects/<project>/notificationChannels/<id>. Empty: incidents open in the console only, nobody is notified."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", c))])
    error_message = "Each notification_channels entry must be a channel id projects/<project>/notificationChannels/<id>."
  }
}

variable "availability_goal" {
  description = "Availability SLO: the fraction of requests that must not answer 5xx over the rolling period, e.g. 0.999."
  type        = number
  default     = 0.999
  nullable    = false

  validation {
    condition     = var.availability_goal > 0 && var.availability_goal < 1
    error_message = "The availability_goal must be between 0 and 1 (exclusive), e.g. 0.999."
  }
}

variable "latency_goal" {
  description = "Latency SLO: the fraction of requests that must take at most latency_threshold_seconds over the rolling period, e.g. 0.99."
  type        = number
  default     = 0.99
  nullable    = false

  validation {
    condition     = var.latency_goal > 0 && var.latency_goal < 1
    error_message = "The latency_goal must be between 0 and 1 (exclusive), e.g. 0.99."
  }
}

variable "latency_threshold_seconds" {
  description = "Latency SLO threshold in seconds. A distribution cut counts whole buckets, so it must be a bucket bound of strata.request.duration (tiered/observe/catalog.go): 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 or 60."
  type        = number
  default     = 0.5
  nullable    = false

  # The list is the catalog's latency buckets; TestTerraform_MonitoringLatencyThresholdIsABucket
  # fails when they differ.
  validation {
    condition     = contains([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], var.latency_threshold_seconds)
    error_message = "The latency_threshold_seconds must be a bucket bound of strata.request.duration: 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 or 60."
  }
}

variable "slo_rolling_period_days" {
  description = "Rolling window of both SLOs in days (1-30)."
  type        = number
  default     = 28
  nullable    = false

  validation {
    condition     = var.slo_rolling_period_days >= 1 && var.slo_rolling_period_days <= 30 && floor(var.slo_rolling_period_days) == var.slo_rolling_period_days
    error_message = "The slo_rolling_period_days must be a whole number from 1 to 30."
  }
}

variable "fast_burn_rate" {
  description = "Burn rate of the fast SLO alerts (over 1h and 5m); 14.4 spends 2% of a 30-day budget in an hour."
  type        = number
  default     = 14.4
  nullable    = false

  validation {
    condition     = var.fast_burn_rate > 1
    error_message = "The fast_burn_rate must be above 1."
  }
}

variable "slow_burn_rate" {
  description = "Burn rate of the slow SLO alerts (over 6h and 30m); 6 spends 5% of a 30-day budget in six hours."
  type        = number
  default     = 6
  nullable    = false

  validation {
    condition     = var.slow_burn_rate > 1
    error_message = "The slow_burn_rate must be above 1."
  }
}

variable "changelog_max_age_seconds" {
  description = "Alert when the oldest change-log entry (strata.changelog.oldest_age) stays older than this for 10 minutes. Entries normally live for one request plus its cleanup; recovery claims those older than its stale age."
  type        = number
  default     = 3600
  nullable    = false

  validation {
    condition     = var.changelog_max_age_seconds >= 60
    error_message = "The changelog_max_age_seconds must be at least 60."
  }
}

variable "changelog_max_entries" {
  description = "Alert when the change log holds more entries than this (all phases) for 30 minutes."
  type        = number
  default     = 10000
  nullable    = false

  validation {
    condition     = var.changelog_max_entries >= 1
    error_message = "The changelog_max_entries must be at least 1."
  }
}

variable "recovery_absent_seconds" {
  description = "Alert when no recovery run (strata.recovery.runs) is recorded for this long; keep it several times the recovery schedule's interval. Cloud Monitoring accepts 120-86400."
  type        = number
  default     = 1800
  nullable    = false

  validation {
    condition     = var.recovery_absent_seconds >= 120 && var.recovery_absent_seconds <= 86400 && var.recovery_absent_seconds % 60 == 0
    error_message = "The recovery_absent_seconds must be a whole number of minutes from 120 to 86400 seconds."
  }
}

variable "bigtable_cpu_threshold" {
  description = "Alert when a Bigtable cluster's average CPU load (bigtable.googleapis.com/cluster/cpu_load, 0-1) stays above this for 5 minutes. 0.7 is Google's recommended maximum for single-cluster routing."
  type        = number
  default     = 0.7
  nullable    = false

  validation {
    condition     = var.bigtable_cpu_threshold > 0 && var.bigtable_cpu_threshold <= 1
    error_message = "The bigtable_cpu_threshold must be a fraction in (0, 1]."
  }
}

variable "bigtable_storage_threshold" {
  description = "Alert when a Bigtable cluster's storage utilisation (bigtable.googleapis.com/cluster/storage_utilization, used / what its nodes may hold) stays above this for 10 minutes."
  type        = number
  default     = 0.7
  nullable    = false

  validation {
    condition     = var.bigtable_storage_threshold > 0 && var.bigtable_storage_threshold <= 1
    error_message = "The bigtable_storage_threshold must be a fraction in (0, 1]."
  }
}
