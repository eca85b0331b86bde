# The prod deployment of Strata: the whole stack lives in modules/strata; this environment
# only chooses its defaults (variables.tf). State is in GCS (backend.tf), and moved.tf
# carries state from when the stack's resources were declared here.

module "strata" {
  source = "../../modules/strata"

  project_id                    = var.project_id
  region                        = var.region
  name                          = var.name
  account_prefix                = var.account_prefix
  enable_cloud_armor            = var.enable_cloud_armor
  log_level                     = var.log_level
  deletion_protection           = var.deletion_protection
  force_destroy                 = var.force_destroy
  soft_delete_retention_seconds = var.soft_delete_retention_seconds
  function_defaults             = var.function_defaults
  bigtable_autoscaling          = var.bigtable_autoscaling
  busy_function_min_instances   = var.busy_function_min_instances
  slo_availability_goal         = var.slo_availability_goal
  slo_latency_goal              = var.slo_latency_goal

  # Insecure opt-ins: false here and in the module; plan warns while one is on.
  allow_plain_http      = var.allow_plain_http
  allow_unauthenticated = var.allow_unauthenticated
  lb_log_sample_rate    = var.lb_log_sample_rate

  # Null hands these to the module's defaults.
  domain              = var.domain
  auth_keys           = var.auth_keys
  source_archive_path = var.source_archive_path
  project_number      = var.project_number
  enable_apis         = var.enable_apis
  waf_preview         = var.waf_preview
  extra_environment   = var.extra_environment
  function_overrides  = var.function_overrides
  recovery_schedule   = var.recovery_schedule
  bigtable_num_nodes  = var.bigtable_num_nodes
  labels              = var.labels
  busy_functions      = var.busy_functions

  # Monitoring (modules/monitoring).
  notification_channels         = var.notification_channels
  slo_latency_threshold_seconds = var.slo_latency_threshold_seconds
  slo_rolling_period_days       = var.slo_rolling_period_days
  alert_thresholds              = var.alert_thresholds

  # Cutover from objectstore (terraform/README.md): its storage, used but never managed.
  existing_bigtable_instance = var.existing_bigtable_instance
  existing_objects_table     = var.existing_objects_table
  existing_bucket            = var.existing_bucket
}
