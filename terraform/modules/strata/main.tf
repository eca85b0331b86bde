# One Strata deployment: the APIs it needs and the modules composed. Each environment
# (terraform/environments/<env>) calls this module with its own defaults.

locals {
  # dist/functions.zip at the repository root, wherever the environment calling this lives.
  source_archive_path = var.source_archive_path != "" ? var.source_archive_path : abspath("${path.module}/../../../dist/functions.zip")

  # The Pub/Sub service agent's email needs the project number. Without a data source (plan
  # must not call APIs), it comes from the variable or from the data bucket once it exists;
  # with existing_bucket the data bucket is not managed here (its project_number is null), so
  # from the sources bucket.
  project_number = var.project_number != "" ? var.project_number : tostring(coalesce(module.storage.project_number, module.functions.project_number))

  labels = merge({ app = "strata", deployment = var.name }, var.labels)

  # Pub/Sub waits for the cleanup function as long as the function may run (at most 600s).
  cleanup_timeout_seconds = coalesce(try(var.function_overrides["cleanup"].timeout_seconds, null), var.function_defaults.timeout_seconds)

  # function_overrides with busy_function_min_instances filled in for busy_functions; a
  # min_instances set in function_overrides wins.
  function_overrides = {
    for fn in setunion(keys(var.function_overrides), var.busy_functions) : fn => merge(
      {
        memory        = null, cpu = null, timeout_seconds = null, concurrency = null, max_instances = null
        min_instances = contains(var.busy_functions, fn) && var.busy_function_min_instances > 0 ? var.busy_function_min_instances : null
      },
      { for k, v in try(var.function_overrides[fn], {}) : k => v if v != null },
    )
  }

  apis = [
    "artifactregistry.googleapis.com",
    "bigtable.googleapis.com",
    "bigtableadmin.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "storage.googleapis.com",
  ]

  # The functions' whole configuration (functions/internal/config reads it once at start-up and
  # refuses unknown STRATA_* names).
  environment = merge(
    {
      STRATA_STORAGE                  = "gcp"
      STRATA_BIGTABLE_PROJECT         = var.project_id
      STRATA_BIGTABLE_INSTANCE        = module.storage.bigtable_instance
      STRATA_BIGTABLE_TABLE           = module.storage.objects_table
      STRATA_BIGTABLE_CHANGELOG_TABLE = module.storage.changelog_table
      STRATA_GCS_BUCKET               = module.storage.bucket
      STRATA_CLEANUP_TOPIC            = module.messaging.cleanup_topic_id
      STRATA_AUTH_ENFORCE             = tostring(!var.allow_unauthenticated)
      STRATA_LOG_LEVEL                = var.log_level
      # Metrics to Cloud Monitoring and spans to Cloud Trace (functions/internal/telemetry).
      STRATA_TELEMETRY              = "google"
      STRATA_TRACE_SAMPLE_RATIO     = tostring(var.trace_sample_ratio)
      STRATA_CLEANUP_MAX_DELIVERIES = tostring(module.messaging.max_delivery_attempts)
      # cleanup and recover check their caller's OIDC token themselves too. The audience is
      # each function's own URL ("self"), which cannot be written here without a cycle.
      STRATA_PUSH_AUDIENCE             = "self"
      STRATA_PUSH_SERVICE_ACCOUNT      = module.iam.push_service_account_email
      STRATA_SCHEDULER_AUDIENCE        = "self"
      STRATA_SCHEDULER_SERVICE_ACCOUNT = module.iam.scheduler_service_account_email
    },
    length(var.auth_keys) > 0 ? { STRATA_AUTH_KEYS = jsonencode(var.auth_keys) } : {},
    var.extra_environment,
  )
}

resource "google_project_service" "required" {
  for_each = var.enable_apis ? toset(local.apis) : toset([])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

module "routing" {
  source = "../routing"

  routes_json    = file("${path.module}/../frontend/routes.json")
  name_prefix    = "${var.name}-"
  account_prefix = var.account_prefix
}

module "storage" {
  source     = "../storage"
  depends_on = [google_project_service.required]

  project_id                    = var.project_id
  region                        = var.region
  name                          = var.name
  bigtable_num_nodes            = var.bigtable_num_nodes
  bigtable_autoscaling          = var.bigtable_autoscaling
  deletion_protection           = var.deletion_protection
  force_destroy                 = var.force_destroy
  soft_delete_retention_seconds = var.soft_delete_retention_seconds
  labels                        = local.labels

  # A cutover from objectstore: its instance, objects table and bucket, used but never managed.
  existing_bigtable_instance = var.existing_bigtable_instance
  existing_objects_table     = var.existing_objects_table
  existing_bucket            = var.existing_bucket
}

module "iam" {
  source     = "../iam"
  depends_on = [google_project_service.required]

  project_id        = var.project_id
  region            = var.region
  functions         = module.routing.functions
  account_prefix    = var.account_prefix
  bigtable_instance = module.storage.bigtable_instance
  objects_table     = module.storage.objects_table
  changelog_table   = module.storage.changelog_table
  data_bucket       = module.storage.bucket
  cleanup_topic     = module.messaging.cleanup_topic
  cleanup_service   = module.functions.names["cleanup"]
  recover_service   = module.functions.names["recover"]
}

module "messaging" {
  source     = "../messaging"
  depends_on = [google_project_service.required]

  project_id                 = var.project_id
  project_number             = local.project_number
  name                       = var.name
  cleanup_uri                = module.functions.uris["cleanup"]
  push_service_account_email = module.iam.push_service_account_email
  ack_deadline_seconds       = min(600, local.cleanup_timeout_seconds)
  labels                     = local.labels
}

module "functions" {
  source     = "../functions"
  depends_on = [google_project_service.required]

  project_id               = var.project_id
  region                   = var.region
  name                     = var.name
  functions                = module.routing.functions
  service_account_emails   = module.iam.function_service_account_emails
  build_service_account_id = module.iam.build_service_account_id
  source_archive_path      = local.source_archive_path
  environment_variables    = local.environment
  defaults                 = var.function_defaults
  overrides                = local.function_overrides
  force_destroy            = var.force_destroy
  labels                   = local.labels
}

module "scheduler" {
  source     = "../scheduler"
  depends_on = [google_project_service.required]

  project_id            = var.project_id
  region                = var.region
  name                  = "${var.name}-recover"
  recover_uri           = module.functions.uris["recover"]
  service_account_email = module.iam.scheduler_service_account_email
  schedule              = var.recovery_schedule
}

module "frontend" {
  source     = "../frontend"
  depends_on = [google_project_service.required]

  project_id         = var.project_id
  region             = var.region
  name               = var.name
  public_functions   = module.functions.public_names
  route_rules        = module.routing.route_rules
  default_function   = module.routing.default_function
  domain             = var.domain
  allow_plain_http   = var.allow_plain_http
  enable_cloud_armor = var.enable_cloud_armor
  waf_preview        = var.waf_preview
  log_sample_rate    = var.lb_log_sample_rate
}

module "monitoring" {
  source     = "../monitoring"
  depends_on = [google_project_service.required]

  project_id                 = var.project_id
  name                       = var.name
  dead_letter_subscription   = module.messaging.dead_letter_subscription
  bigtable_instance          = module.storage.bigtable_instance
  function_prefix            = "${var.name}-"
  notification_channels      = var.notification_channels
  availability_goal          = var.slo_availability_goal
  latency_goal               = var.slo_latency_goal
  latency_threshold_seconds  = var.slo_latency_threshold_seconds
  slo_rolling_period_days    = var.slo_rolling_period_days
  changelog_max_age_seconds  = var.alert_thresholds.changelog_max_age_seconds
  changelog_max_entries      = var.alert_thresholds.changelog_max_entries
  recovery_absent_seconds    = var.alert_thresholds.recovery_absent_seconds
  bigtable_cpu_threshold     = var.alert_thresholds.bigtable_cpu
  bigtable_storage_threshold = var.alert_thresholds.bigtable_storage
}

# Secure by default. Each opt-out below is a variable that is off unless set, and plan prints
# a warning for as long as it is on (README.md, Security, lists what each one costs).

check "authentication_enforced" {
  assert {
    condition     = !var.allow_unauthenticated
    error_message = "INSECURE: allow_unauthenticated = true sets STRATA_AUTH_ENFORCE=false. Every function serves requests WITHOUT a token: anyone who can reach the load balancer's IP may read, overwrite and delete every object of every usecase. Use it only for a throwaway deployment with nothing of value in it; unset it and pass auth_keys."
  }
}

check "plain_http_disabled" {
  assert {
    condition     = !var.allow_plain_http
    error_message = "INSECURE: allow_plain_http = true serves the API over plain HTTP on port 80. Tokens (Authorization, os_auth) and pre-signed URLs cross the network in the clear, where anyone on the path may read and replay them. Set domain for HTTPS and unset allow_plain_http."
  }
}

check "load_balancer_logs_keep_no_credentials" {
  assert {
    condition     = var.lb_log_sample_rate == 0
    error_message = "CREDENTIALS IN LOGS: lb_log_sample_rate > 0 turns on the load balancer's request log, which records every logged request's full URL including the query string: os_auth tokens and pre-signed signatures land in Cloud Logging, readable by anyone with logging.viewer on the project, for the log bucket's retention. Set lb_log_sample_rate = 0 unless you accept that."
  }
}

check "auth_configured" {
  assert {
    condition     = var.allow_unauthenticated || length(var.auth_keys) > 0
    error_message = "auth_keys is empty while authentication is enforced (allow_unauthenticated = false, the default): every function will refuse to start, so apply fails to deploy them. Pass auth_keys (the Ed25519 public keys that verify objectstore tokens)."
  }
}

check "listener_configured" {
  assert {
    condition     = var.domain != "" || var.allow_plain_http
    error_message = "domain is empty: the load balancer has no listener and serves nothing. Set domain to serve HTTPS (plain HTTP needs the insecure opt-in allow_plain_http = true)."
  }
}

check "busy_functions_deployed" {
  assert {
    condition     = alltrue([for fn in var.busy_functions : contains(keys(module.routing.functions), fn)])
    error_message = "busy_functions names a function the route table does not deploy; busy_function_min_instances has no effect on it."
  }
}
