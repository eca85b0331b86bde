variable "project_id" {
  description = "Project to deploy into."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9.:]{0,62}$", var.project_id))
    error_message = "The project_id must be a Google Cloud project id: lowercase letters, digits and hyphens (domain-scoped ids may contain '.' and ':')."
  }
}

variable "region" {
  description = "Region of the functions, the buckets, the scheduler job and the Bigtable cluster."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{0,62}$", var.region))
    error_message = "The region must be a Google Cloud region name such as europe-west1."
  }
}

variable "project_number" {
  description = "Project number, if known; empty means it is read from the data bucket (or, with existing_bucket, the sources bucket) after it is created (no data source, so plan needs no API call)."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.project_number == "" || can(regex("^[0-9]+$", var.project_number))
    error_message = "The project_number must be empty or numeric."
  }
}

variable "name" {
  description = "Base name of every resource of the deployment (the environment chooses it, e.g. strata-dev)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{5,18}$", var.name))
    error_message = "The name must be 6-19 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "source_archive_path" {
  description = "Source zip built by `make package`; empty means dist/functions.zip at the repository root. Plan works without it; apply needs it."
  type        = string
  default     = ""
  nullable    = false
}

variable "enable_apis" {
  description = "Enable the Google APIs Strata needs (they are never disabled on destroy)."
  type        = bool
  default     = true
  nullable    = false
}

variable "domain" {
  description = "Domain for HTTPS with a Google-managed certificate; empty means no HTTPS listener (only allow_plain_http, if set)."
  type        = string
  default     = ""
  nullable    = false
}

variable "allow_plain_http" {
  description = "INSECURE opt-in: also serve plain HTTP on port 80, where tokens and pre-signed URLs cross the network in the clear. Off by default; plan warns while it is on."
  type        = bool
  default     = false
  nullable    = false
}

variable "allow_unauthenticated" {
  description = "INSECURE opt-in: STRATA_AUTH_ENFORCE=false, so every function serves requests without a token and anyone who reaches the load balancer may read, write and delete every object. Off by default (auth enforced, auth_keys needed); plan warns while it is on."
  type        = bool
  default     = false
  nullable    = false
}

variable "enable_cloud_armor" {
  description = "Attach the Cloud Armor policy (preconfigured WAF rules, per-IP rate limit) to the load balancer."
  type        = bool
}

variable "waf_preview" {
  description = "Cloud Armor WAF rules in preview mode: logged, not enforced (for tuning false positives)."
  type        = bool
  default     = false
  nullable    = false
}

variable "lb_log_sample_rate" {
  description = "Fraction of requests the load balancer logs (0: its request log is off). Each logged entry holds the full request URL, query included, so os_auth tokens and pre-signed signatures land in Cloud Logging; plan warns while it is above 0. Cost: Cloud Logging bills ingestion per GiB beyond the free allotment, roughly in proportion to requests × sample rate."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.lb_log_sample_rate >= 0 && var.lb_log_sample_rate <= 1
    error_message = "The lb_log_sample_rate must be between 0 and 1."
  }
}

variable "auth_keys" {
  description = "STRATA_AUTH_KEYS as an object: key id => {public_keys (PEM Ed25519 public keys, newest first), max_permissions}."
  type = map(object({
    public_keys     = list(string)
    max_permissions = optional(list(string), [])
  }))
  default  = {}
  nullable = false
}

variable "log_level" {
  description = "STRATA_LOG_LEVEL of every function: debug, info, warning or error."
  type        = string

  validation {
    condition     = contains(["debug", "info", "warning", "error"], var.log_level)
    error_message = "The log_level must be debug, info, warning or error."
  }
}

variable "extra_environment" {
  description = "More STRATA_* variables for every function (e.g. STRATA_USECASES); they override the generated ones."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "function_defaults" {
  description = "Service settings of every function (see the functions module); the environment chooses max_instances."
  type = object({
    memory          = optional(string, "1Gi")
    cpu             = optional(string, "1")
    timeout_seconds = optional(number, 300)
    concurrency     = optional(number, 80)
    min_instances   = optional(number, 0)
    max_instances   = number
  })
}

variable "function_overrides" {
  description = "Per-function service settings keyed by route-table name (see the functions module)."
  type = map(object({
    memory          = optional(string)
    cpu             = optional(string)
    timeout_seconds = optional(number)
    concurrency     = optional(number)
    min_instances   = optional(number)
    max_instances   = optional(number)
  }))
  default  = {}
  nullable = false
}

variable "recovery_schedule" {
  description = "Cron schedule of the recovery job."
  type        = string
  default     = "*/5 * * * *"
  nullable    = false
}

variable "bigtable_num_nodes" {
  description = "Nodes of the Bigtable cluster when bigtable_autoscaling is null (fixed size). Each node is billed per node-hour."
  type        = number
  default     = 1
  nullable    = false
}

variable "existing_bigtable_instance" {
  description = "Cutover from objectstore: its Bigtable instance in project_id, used instead of creating one (with existing_objects_table). Empty: create it. Never managed, so destroy never deletes it; Strata creates only its change-log table there."
  type        = string
  default     = ""
  nullable    = false
}

variable "existing_objects_table" {
  description = "Cutover from objectstore: its objects table (families fg and fm) in existing_bigtable_instance. Empty: create it. Never managed."
  type        = string
  default     = ""
  nullable    = false
}

variable "existing_bucket" {
  description = "Cutover from objectstore: its data bucket in project_id, used instead of creating one. Empty: create it. Never managed, lifecycle rules included (add Strata's by hand: terraform/README.md, Cutover)."
  type        = string
  default     = ""
  nullable    = false
}

variable "account_prefix" {
  description = "Prefix of every service account id of the deployment (2-12 characters)."
  type        = string
}

variable "deletion_protection" {
  description = "Protect the Bigtable instance and tables against deletion (off lets `make destroy` remove them)."
  type        = bool
}

variable "force_destroy" {
  description = "Let destroy delete the data and sources buckets with their objects."
  type        = bool
}

variable "soft_delete_retention_seconds" {
  description = "Soft-delete retention of the data bucket: 0 (off) or 604800-7776000 seconds. Cost: deleted and overwritten large objects stay billed as stored for the whole retention."
  type        = number
}

variable "labels" {
  description = "Extra labels on the deployment's resources."
  type        = map(string)
  default     = {}
  nullable    = false
}

# Capacity levers. Each costs money; the description says how.

variable "bigtable_autoscaling" {
  description = "Autoscaling of the Bigtable cluster: {min_nodes, max_nodes, cpu_target_percent (10-80), storage_target_gib (GiB per node; SSD 2560-5120)}; null keeps the fixed bigtable_num_nodes. Every node is billed per node-hour, busy or idle: min_nodes is the floor of the bill and max_nodes its ceiling. The environments choose it (prod's default is sized in its variables.tf)."
  type = object({
    min_nodes          = number
    max_nodes          = number
    cpu_target_percent = number
    storage_target_gib = number
  })
}

variable "busy_functions" {
  description = "Route-table names of the functions that keep busy_function_min_instances warm instances."
  type        = list(string)
  default     = ["object-get", "object-head", "object-put"]
  nullable    = false
}

variable "busy_function_min_instances" {
  description = "Minimum instances of each of busy_functions (0: scale to zero, cold starts on the first request). Cost: each minimum instance is billed all the time, at Cloud Run's idle-instance rate for its CPU and memory (function_defaults) while it serves nothing; per-function function_overrides.min_instances win over it."
  type        = number

  validation {
    condition     = var.busy_function_min_instances >= 0 && floor(var.busy_function_min_instances) == var.busy_function_min_instances
    error_message = "The busy_function_min_instances must be a whole number of at least 0."
  }
}

# Monitoring (modules/monitoring).

variable "notification_channels" {
  description = "Notification channels of every alert policy, as ids projects/<project>/notificationChannels/<id>. Empty: incidents open in the console only."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "slo_availability_goal" {
  description = "Availability SLO: fraction of requests that must not answer 5xx over slo_rolling_period_days."
  type        = number
}

variable "slo_latency_goal" {
  description = "Latency SLO: fraction of requests that must take at most slo_latency_threshold_seconds over slo_rolling_period_days."
  type        = number
}

variable "slo_latency_threshold_seconds" {
  description = "Latency SLO threshold in seconds; a bucket bound of strata.request.duration (modules/monitoring validates it)."
  type        = number
  default     = 0.5
  nullable    = false
}

variable "slo_rolling_period_days" {
  description = "Rolling window of both SLOs in days (1-30)."
  type        = number
  default     = 28
  nullable    = false
}

variable "alert_thresholds" {
  description = "Thresholds of the operational alerts (modules/monitoring): changelog_max_age_seconds, changelog_max_entries, recovery_absent_seconds, bigtable_cpu (0.7: Google's recommended maximum for single-cluster routing) and bigtable_storage, as fractions."
  type = object({
    changelog_max_age_seconds = optional(number, 3600)
    changelog_max_entries     = optional(number, 10000)
    recovery_absent_seconds   = optional(number, 1800)
    bigtable_cpu              = optional(number, 0.7)
    bigtable_storage          = optional(number, 0.7)
  })
  default  = {}
  nullable = false
}

variable "trace_sample_ratio" {
  description = "STRATA_TRACE_SAMPLE_RATIO: share of requests the functions trace when the load balancer made no sampling decision (a decision it made is followed). Cost: Cloud Trace bills ingested spans beyond its free allotment, about (1 + backend calls) spans per traced request."
  type        = number
  default     = 0.01

  validation {
    condition     = var.trace_sample_ratio >= 0 && var.trace_sample_ratio <= 1
    error_message = "The trace_sample_ratio must be between 0 and 1."
  }
}
