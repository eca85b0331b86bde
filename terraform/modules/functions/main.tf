# One Cloud Run function (gen2) per route-table function, all built from the same zip and told
# apart only by their entry point. Request-path functions accept traffic from the load
# balancer only; cleanup and recover accept internal traffic only (Pub/Sub push, Scheduler).

locals {
  settings = {
    for name, f in var.functions : name => {
      memory          = coalesce(try(var.overrides[name].memory, null), var.defaults.memory)
      cpu             = coalesce(try(var.overrides[name].cpu, null), var.defaults.cpu)
      timeout_seconds = coalesce(try(var.overrides[name].timeout_seconds, null), var.defaults.timeout_seconds)
      concurrency     = coalesce(try(var.overrides[name].concurrency, null), var.defaults.concurrency)
      min_instances   = coalesce(try(var.overrides[name].min_instances, null), var.defaults.min_instances)
      max_instances   = coalesce(try(var.overrides[name].max_instances, null), var.defaults.max_instances)
    }
  }

  # More than one concurrent request per instance needs at least one whole vCPU.
  cpu = {
    for name, s in local.settings :
    name => s.concurrency > 1 && tonumber(s.cpu) < 1 ? "1" : s.cpu
  }
}

resource "google_cloudfunctions2_function" "function" {
  for_each = var.functions

  project     = var.project_id
  location    = var.region
  name        = each.value.deployed_name
  description = "Strata ${each.key} (${each.value.exposure}: ${join(", ", each.value.methods)})"
  labels      = merge(var.labels, { "strata-function" = each.key })

  build_config {
    runtime         = var.runtime
    entry_point     = each.value.entry_point
    service_account = var.build_service_account_id

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = local.settings[each.key].memory
    available_cpu                    = local.cpu[each.key]
    timeout_seconds                  = local.settings[each.key].timeout_seconds
    max_instance_request_concurrency = local.settings[each.key].concurrency
    min_instance_count               = local.settings[each.key].min_instances
    max_instance_count               = local.settings[each.key].max_instances
    # Each function's memory model (README "Capacity and cost") is its own instance's: its
    # memory and its request concurrency size the large uploads it admits at once.
    environment_variables = merge(var.environment_variables, {
      STRATA_MEMORY_LIMIT        = local.settings[each.key].memory
      STRATA_REQUEST_CONCURRENCY = tostring(local.settings[each.key].concurrency)
    })
    ingress_settings               = each.value.public ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    service_account_email          = var.service_account_emails[each.key]
  }

  lifecycle {
    precondition {
      condition     = contains(keys(var.service_account_emails), each.key)
      error_message = "Function ${each.key} has no service account."
    }
    precondition {
      condition     = each.value.entry_point == each.key
      error_message = "The entry point of ${each.key} must be its route-table name."
    }
  }
}
