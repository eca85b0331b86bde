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
  default     = "strata"
}

variable "account_prefix" {
  description = "Prefix of every service account id of this environment (2-12 characters)."
  type        = string
  default     = "strata-"
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
  description = "Cloud Armor on the load balancer: preconfigured WAF rules (SQLi, XSS, LFI, RCE, protocol attacks) and a per-IP rate limit. On in prod."
  type        = bool
  default     = true
}

variable "log_level" {
  description = "STRATA_LOG_LEVEL of every function: debug, info, warning or error."
  type        = string
  default     = "info"
}

variable "deletion_protection" {
  description = "Protect the Bigtable instance and tables against deletion (on in prod)."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let destroy delete the data and sources buckets with their objects (off in prod)."
  type        = bool
  default     = false
}

variable "soft_delete_retention_seconds" {
  description = "Soft-delete retention of the data bucket: 0 (off) or 604800-7776000 seconds."
  type        = number
  default     = 604800
}

variable "function_defaults" {
  description = "Service settings of every function (see the functions module)."
  type = object({
    memory          = optional(string, "1Gi")
    cpu             = optional(string, "1")
    timeout_seconds = optional(number, 300)
    concurrency     = optional(number, 80)
    min_instances   = optional(number, 0)
    max_instances   = optional(number, 100)
  })
  default = {}
}

variable "domain" {
  description = "Domain for HTTPS with a Google-managed certificate. Empty plans fine but leaves the load balancer without a listener; set it for a usable deployment. Null: the strata module's default."
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

# Bigtable sizing for 32 KiB inline objects kept 30 days at 1,000 requests/s. Storage, not
# CPU, sets the size: an SSD node serves up to 14,000 writes/s of 1 KB rows (Bigtable docs,
# "Understand performance"), so even 32 KiB rows at 1,000/s keep a few nodes' CPU low, while:
#   stored  = writes/s x 32 KiB x 30 days (2,592,000 s)
#   per node = 5,120 GiB (the per-node SSD storage limit, 5 TiB; the provider's storage_target
#              range for SSD is 2,560-5,120 GiB) x 0.7 storage target = 3,584 GiB
#   - if a quarter of the requests are writes (250/s): 250 x 32 KiB x 2,592,000 s
#     = 19,775 GiB -> 19,775 / 3,584 = 5.5 -> 6 nodes (min_nodes);
#   - if every request is a write (1,000/s): 79,102 GiB -> 22.1 -> 23 nodes, within max_nodes
#     = 24, which the storage target makes autoscaling reach on its own.
# The sums ignore Bigtable's compression and count one cluster (no replication).

variable "bigtable_autoscaling" {
  description = "Autoscaling of the Bigtable cluster, sized for 32 KiB inline objects kept 30 days at 1k requests/s (the arithmetic is in the comment above). Every node is billed per node-hour, busy or idle: min_nodes is the floor of the bill."
  type = object({
    min_nodes          = number
    max_nodes          = number
    cpu_target_percent = number
    storage_target_gib = number
  })
  default = {
    min_nodes          = 6
    max_nodes          = 24
    cpu_target_percent = 60
    storage_target_gib = 3584
  }
}

variable "busy_function_min_instances" {
  description = "Minimum instances of each busy function (object-get, object-head, object-put): one warm instance each avoids cold starts on the hot path. Cost: each is billed all the time, at the idle-instance rate for its CPU and memory while it serves nothing."
  type        = number
  default     = 1
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
  default     = 0.999
}

variable "slo_latency_goal" {
  description = "Latency SLO: fraction of requests that must take at most slo_latency_threshold_seconds over the rolling period."
  type        = number
  default     = 0.99
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
