# Cloud Armor at the edge (enable_cloud_armor). Rules run in priority order and the first
# match decides:
#
#   1000+i  deny(403)  Google's preconfigured WAF rule set waf_rule_sets[i] (SQLi, XSS, LFI,
#                      RCE, protocol attacks), unless the request's body is object bytes
#   2000    per IP     rate_limit_requests_per_minute, then 429; ten times that, a ban
#   max     allow      everything else
#
# The WAF rules come first: the rate-limit rule ends evaluation for every request that
# conforms, so a WAF rule after it would never run.
#
# Object bodies. Cloud Armor inspects a request's body (at most its first 8 KB by default,
# 64 KB at most) as well as its URL and headers. Strata's uploads are arbitrary binary data,
# and binary data matches SQLi/XSS/RCE signatures often enough to reject legitimate objects
# at random. So the WAF rules skip the requests whose body is object bytes: PUT and POST on
# the object routes (object-put, object-post), the batch route (object-batch) and the part
# route (multipart-upload-part), matched by method and path as below. Those requests are
# still rate-limited, and Strata itself parses their paths strictly and authenticates them;
# nothing in Strata interprets an object as SQL, HTML or a shell command. Every other route
# (reads, deletes, multipart initiate/complete/abort/list) is inspected whole.
#
# Fairness between tenants is Strata's own (STRATA_RATE_LIMITS, admission control); this
# policy only stops single clients and well-known attack payloads at the edge.

locals {
  # Methods and path pattern (RE2, as CEL's matches() uses) of the requests whose body is
  # object bytes. functions/internal/deploy checks them against the route table.
  waf_body_methods    = ["PUT", "POST"]
  waf_body_path_regex = "^/v1/objects(:batch|:multipart:parts)?/"

  waf_skip_body = "request.method.matches('^(${join("|", local.waf_body_methods)})$') && request.path.matches('${local.waf_body_path_regex}')"
  waf_rules     = { for i, set in var.waf_rule_sets : set => 1000 + i }
}

resource "google_compute_security_policy" "edge" {
  count = var.enable_cloud_armor ? 1 : 0

  project     = var.project_id
  name        = "${var.name}-edge"
  description = "Strata edge: preconfigured WAF rules (object bodies exempt) and per-IP rate limiting."
  type        = "CLOUD_ARMOR"

  dynamic "rule" {
    for_each = local.waf_rules
    content {
      action      = "deny(403)"
      priority    = rule.value
      preview     = var.waf_preview
      description = "WAF ${rule.key}, sensitivity ${var.waf_sensitivity}; object bodies exempt."

      match {
        expr {
          expression = "evaluatePreconfiguredWaf('${rule.key}', {'sensitivity': ${var.waf_sensitivity}}) && !(${local.waf_skip_body})"
        }
      }
    }
  }

  rule {
    action      = var.rate_limit_ban_seconds > 0 ? "rate_based_ban" : "throttle"
    priority    = 2000
    description = "Per-IP rate limit."

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
