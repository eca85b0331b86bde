# What this environment exposes. The variables this environment decides have its defaults here;
# a null default hands the value to modules/strata, which documents and validates every input.

variable "project_id" {
  description = "Project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the functions, the buckets, the scheduler job and the Bigtable cluster."
  type        = string
}

variable "name" {
  description = "Base name of every resource of this environment."
  type        = string
  default     = "strata-dev"
}

variable "account_prefix" {
  description = "Prefix of every service account id of this environment (2-12 characters)."
  type        = string
  default     = "strata-dev-"
}

variable "allow_plain_http" {
  description = "INSECURE opt-in: also serve plain HTTP on port 80 (tokens in the clear). Off; plan warns while it is on."
  type        = bool
  default     = false
}

variable "allow_unauthenticated" {
  description = "INSECURE opt-in: STRATA_AUTH_ENFORCE=false, anyone may read, write and delete every object. Off; plan warns while it is on."
  type        = bool
  default     = false
}

variable "lb_log_sample_rate" {
  description = "Fraction of requests the load balancer logs. 0 (off): a logged request's URL keeps its query, so tokens and pre-signed signatures would land in Cloud Logging; plan warns while it is above 0."
  type        = number
  default     = 0
}

variable "enable_cloud_armor" {
  description = "Cloud Armor on the load balancer: preconfigured WAF rules and a per-IP rate limit. Off in dev: a policy and its rules cost money every month whether or not traffic comes, dev traffic is the team's own, and authentication (on by default) is what guards the data; turn it on to try WAF rules before prod."
  type        = bool
  default     = false
}

variable "log_level" {
  description = "STRATA_LOG_LEVEL of every function: debug, info, warning or error."
  type        = string
  default     = "debug"
}

variable "deletion_protection" {
  description = "Protect the Bigtable instance and tables against deletion (off in dev so `make destroy` works)."
  type        = bool
  default     = false
}

variable "force_destroy" {
  description = "Let destroy delete the data and sources buckets with their objects (on in dev)."
  type        = bool
  default     = true
}

variable "soft_delete_retention_seconds" {
  description = "Soft-delete retention of the data bucket: 0 (off) or 604800-7776000 seconds."
  type        = number
  default     = 0
}

variable "function_defaults" {
  description = "Service settings of every function (see the functions module)."
  type = object({
    memory          = optional(string, "1Gi")
    cpu             = optional(string, "1")
    timeout_seconds = optional(number, 300)
    concurrency     = optional(number, 80)
    min_instances   = optional(number, 0)
    max_instances   = optional(number, 5)
  })
  default = {}
}

variable "domain" {
  description = "Domain for HTTPS with a Google-managed certificate; empty means no HTTPS listener (and none at all unless allow_plain_http). Null: the strata module's default."
  type        = string
  default     = null
}

variable "auth_keys" {
  description = "STRATA_AUTH_KEYS as an object: key id => {public_keys (PEM Ed25519 public keys, newest first), max_permissions}. Null: the strata module's default."
  type = map(object({
    public_keys     = list(string)
    max_permissions = optional(list(string), [])
  }))
  default = null
}

variable "source_archive_path" {
  description = "Source zip built by `make package`; empty means dist/functions.zip at the repository root. Plan works without it; apply needs it. Null: the strata module's default."
  type        = string
  default     = null
}

variable "project_number" {
  description = "Project number, if known; empty means it is read from the data bucket (or, with existing_bucket, the sources bucket) after it is created (no data source, so plan needs no API call). Null: the strata module's default."
  type        = string
  default     = null
}

variable "enable_apis" {
  description = "Enable the Google APIs Strata needs (they are never disabled on destroy). Null: the strata module's default."
  type        = bool
  default     = null
}

variable "waf_preview" {
  description = "Cloud Armor WAF rules in preview mode: logged, not enforced (for tuning false positives). Null: the strata module's default."
  type        = bool
  default     = null
}

variable "extra_environment" {
  description = "More STRATA_* variables for every function (e.g. STRATA_USECASES); they override the generated ones. Null: the strata module's default."
  type        = map(string)
  default     = null
}

variable "function_overrides" {
  description = "Per-function service settings keyed by route-table name (see the functions module). Null: the strata module's default."
  type = map(object({
    memory          = optional(string)
    cpu             = optional(string)
    timeout_seconds = optional(number)
    concurrency     = optional(number)
    min_instances   = optional(number)
    max_instances   = optional(number)
  }))
  default = null
}

variable "recovery_schedule" {
  description = "Cron schedule of the recovery job. Null: the strata module's default."
  type        = string
  default     = null
}

variable "bigtable_num_nodes" {
  description = "Nodes of the Bigtable cluster (raise for production load). Null: the strata module's default."
  type        = number
  default     = null
}

variable "labels" {
  description = "Extra labels on the environment's resources. Null: the strata module's default."
  type        = map(string)
  default     = null
}

variable "existing_bigtable_instance" {
  description = "Cutover from objectstore: its Bigtable instance (in project_id), used but never managed; set with existing_objects_table. Null: the strata module's default (create one)."
  type        = string
  default     = null
}

variable "existing_objects_table" {
  description = "Cutover from objectstore: its objects table in existing_bigtable_instance, used but never managed. Null: the strata module's default (create one)."
  type        = string
  default     = null
}

variable "existing_bucket" {
  description = "Cutover from objectstore: its data bucket (in project_id), used but never managed, lifecycle rules included. Null: the strata module's default (create one)."
  type        = string
  default     = null
}

# Capacity levers (modules/strata documents what each costs).

variable "bigtable_autoscaling" {
  description = "Autoscaling of the Bigtable cluster. Dev: one node, at most two under load (every node is billed per node-hour, busy or idle), the lowest SSD storage target."
  type = object({
    min_nodes          = number
    max_nodes          = number
    cpu_target_percent = number
    storage_target_gib = number
  })
  default = {
    min_nodes          = 1
    max_nodes          = 2
    cpu_target_percent = 60
    storage_target_gib = 2560
  }
}

variable "busy_function_min_instances" {
  description = "Minimum instances of the busy functions (object-get, object-head, object-put). 0 in dev: scale to zero and accept cold starts rather than pay for idle instances."
  type        = number
  default     = 0
}

variable "busy_functions" {
  description = "Route-table names of the functions that keep busy_function_min_instances warm. Null: the strata module's default (object-get, object-head, object-put)."
  type        = list(string)
  default     = null
}

# Monitoring: SLOs and alerts (modules/monitoring).

variable "notification_channels" {
  description = "Notification channels of every alert policy (projects/<project>/notificationChannels/<id>). Null: the strata module's default, none (incidents open in the console only)."
  type        = list(string)
  default     = null
}

variable "slo_availability_goal" {
  description = "Availability SLO: fraction of requests that must not answer 5xx over the rolling period."
  type        = number
  default     = 0.99
}

variable "slo_latency_goal" {
  description = "Latency SLO: fraction of requests that must take at most slo_latency_threshold_seconds over the rolling period."
  type        = number
  default     = 0.95
}

variable "slo_latency_threshold_seconds" {
  description = "Latency SLO threshold in seconds, a bucket bound of strata.request.duration (0.1, 0.25, 0.5, 1, ...). Null: the strata module's default (0.5)."
  type        = number
  default     = null
}

variable "slo_rolling_period_days" {
  description = "Rolling window of both SLOs in days (1-30). Null: the strata module's default (28)."
  type        = number
  default     = null
}

variable "alert_thresholds" {
  description = "Thresholds of the operational alerts (see modules/strata). Null: the strata module's defaults."
  type = object({
    changelog_max_age_seconds = optional(number, 3600)
    changelog_max_entries     = optional(number, 10000)
    recovery_absent_seconds   = optional(number, 1800)
    bigtable_cpu              = optional(number, 0.7)
    bigtable_storage          = optional(number, 0.7)
  })
  default = null
}
