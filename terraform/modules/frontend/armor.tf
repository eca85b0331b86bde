# Optional edge rate limiting: each client IP may send rate_limit_requests_per_minute; above
# that it gets 429, and an IP that keeps going at ten times the limit is banned for a while.

resource "google_compute_security_policy" "edge" {
  count = var.enable_cloud_armor ? 1 : 0

  project     = var.project_id
  name        = "${var.name}-edge"
  description = "Strata per-IP rate limiting."
  type        = "CLOUD_ARMOR"

  rule {
    action   = var.rate_limit_ban_seconds > 0 ? "rate_based_ban" : "throttle"
    priority = 1000

    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }

    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"

      rate_limit_threshold {
        count        = var.rate_limit_requests_per_minute
        interval_sec = 60
      }

      ban_duration_sec = var.rate_limit_ban_seconds > 0 ? var.rate_limit_ban_seconds : null

      dynamic "ban_threshold" {
        for_each = var.rate_limit_ban_seconds > 0 ? [1] : []
        content {
          count        = var.rate_limit_requests_per_minute * 10
          interval_sec = 60
        }
      }
    }
  }

  rule {
    action      = "allow"
    priority    = 2147483647
    description = "Default: allow."

    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}
