# The front door: a global external Application Load Balancer whose URL map routes on path
# prefix x :method to one backend per function, as the generated route rules say.

locals {
  https_enabled = var.domain != ""
}

resource "google_compute_global_address" "main" {
  project = var.project_id
  name    = "${var.name}-lb"
}

resource "google_compute_url_map" "main" {
  project         = var.project_id
  name            = "${var.name}-lb"
  description     = "Strata routes, generated from functions/internal/httpapi/routes.go."
  default_service = google_compute_backend_service.function[var.default_function].id

  host_rule {
    hosts        = ["*"]
    path_matcher = "strata"
  }

  path_matcher {
    name            = "strata"
    default_service = google_compute_backend_service.function[var.default_function].id

    dynamic "route_rules" {
      for_each = var.route_rules
      content {
        priority = route_rules.value.priority
        service  = google_compute_backend_service.function[route_rules.value.function].id

        match_rules {
          prefix_match = route_rules.value.prefix

          header_matches {
            header_name = ":method"
            exact_match = route_rules.value.method
          }
        }
      }
    }
  }
}

resource "google_compute_managed_ssl_certificate" "main" {
  count = local.https_enabled ? 1 : 0

  project = var.project_id
  name    = "${var.name}-cert"

  managed {
    domains = [var.domain]
  }

  lifecycle {
    create_before_destroy = true
  }
}

# TLS 1.2 or newer with the MODERN (or RESTRICTED) cipher suites. Without a policy the proxy
# uses Google's COMPATIBLE profile, which still accepts TLS 1.0 and 1.1.
resource "google_compute_ssl_policy" "main" {
  count = local.https_enabled ? 1 : 0

  project         = var.project_id
  name            = "${var.name}-tls"
  description     = "Strata: TLS 1.2+, ${var.ssl_policy_profile} cipher suites."
  profile         = var.ssl_policy_profile
  min_tls_version = "TLS_1_2"
}

resource "google_compute_target_https_proxy" "main" {
  count = local.https_enabled ? 1 : 0

  project          = var.project_id
  name             = "${var.name}-https"
  url_map          = google_compute_url_map.main.id
  ssl_certificates = [google_compute_managed_ssl_certificate.main[0].id]
  ssl_policy       = google_compute_ssl_policy.main[0].id
}

resource "google_compute_global_forwarding_rule" "https" {
  count = local.https_enabled ? 1 : 0

  project               = var.project_id
  name                  = "${var.name}-https"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.main.id
  ip_protocol           = "TCP"
  port_range            = "443"
  target                = google_compute_target_https_proxy.main[0].id
}

# Plain HTTP exists only when asked for explicitly (allow_plain_http): tokens and pre-signed
# URLs would cross the network in the clear.
resource "google_compute_target_http_proxy" "main" {
  count = var.allow_plain_http ? 1 : 0

  project = var.project_id
  name    = "${var.name}-http"
  url_map = google_compute_url_map.main.id
}

resource "google_compute_global_forwarding_rule" "http" {
  count = var.allow_plain_http ? 1 : 0

  project               = var.project_id
  name                  = "${var.name}-http"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.main.id
  ip_protocol           = "TCP"
  port_range            = "80"
  target                = google_compute_target_http_proxy.main[0].id
}
