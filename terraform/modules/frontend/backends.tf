# One serverless NEG and one backend service per request-path function.

resource "google_compute_region_network_endpoint_group" "function" {
  for_each = var.public_functions

  project               = var.project_id
  region                = var.region
  name                  = "${each.value}-neg"
  network_endpoint_type = "SERVERLESS"

  cloud_function {
    function = each.value
  }
}

resource "google_compute_backend_service" "function" {
  for_each = var.public_functions

  project               = var.project_id
  name                  = "${each.value}-backend"
  description           = "Strata ${each.key}"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = var.enable_cloud_armor ? google_compute_security_policy.edge[0].id : null

  backend {
    group = google_compute_region_network_endpoint_group.function[each.key].id
  }

  # Off unless log_sample_rate > 0. The request log's httpRequest.requestUrl is a mandatory
  # field (log_config's optional_mode/optional_fields choose only optional ones), so every
  # logged request would put its full URL, query included, in Cloud Logging: os_auth tokens
  # and pre-signed signatures travel in the query. See README.md, Security.
  log_config {
    enable      = var.log_sample_rate > 0
    sample_rate = var.log_sample_rate
  }
}

# The load balancer carries no identity token, so the request-path functions must accept
# unauthenticated invocations. Their ingress (ALLOW_INTERNAL_AND_GCLB) rejects any request that
# does not come through this load balancer or the project's VPC, and Strata authorises every
# request with its own JWT (STRATA_AUTH_ENFORCE). Internal functions never get this grant.
resource "google_cloud_run_service_iam_member" "public_invoker" {
  for_each = var.public_invoker ? var.public_functions : {}

  project  = var.project_id
  location = var.region
  service  = each.value
  role     = "roles/run.invoker"
  member   = "allUsers"
}
