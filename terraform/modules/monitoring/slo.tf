# Service-level objectives over strata.requests and strata.request.duration, which every
# request-path function records (one Cloud Run function per operation). Both are
# request-based: the fraction of good requests in a rolling window of
# slo_rolling_period_days.

resource "google_monitoring_custom_service" "main" {
  project      = var.project_id
  service_id   = var.name
  display_name = "Strata (${var.name})"
}

# Availability: a request is bad when it answered 5xx; every other answer (2xx, 3xx, 4xx,
# admission's 429s and 403s included) is good. Good = total - bad.
resource "google_monitoring_slo" "availability" {
  project             = var.project_id
  service             = google_monitoring_custom_service.main.service_id
  slo_id              = "availability"
  display_name        = "Strata ${var.name}: ${var.availability_goal * 100}% of requests do not answer 5xx"
  goal                = var.availability_goal
  rolling_period_days = var.slo_rolling_period_days

  request_based_sli {
    good_total_ratio {
      bad_service_filter   = "metric.type=\"${local.types["strata.requests"]}\" metric.labels.status_class=\"5xx\""
      total_service_filter = "metric.type=\"${local.types["strata.requests"]}\""
    }
  }

  depends_on = [google_monitoring_metric_descriptor.catalog]
}

# Latency: a request is good when it took at most latency_threshold_seconds. A distribution
# cut counts whole buckets, so the threshold must be a bucket bound of strata.request.duration
# (the catalog's latency buckets).
resource "google_monitoring_slo" "latency" {
  project             = var.project_id
  service             = google_monitoring_custom_service.main.service_id
  slo_id              = "latency"
  display_name        = "Strata ${var.name}: ${var.latency_goal * 100}% of requests within ${var.latency_threshold_seconds}s"
  goal                = var.latency_goal
  rolling_period_days = var.slo_rolling_period_days

  request_based_sli {
    distribution_cut {
      distribution_filter = "metric.type=\"${local.types["strata.request.duration"]}\""

      range {
        max = var.latency_threshold_seconds
      }
    }
  }

  depends_on = [google_monitoring_metric_descriptor.catalog]

  lifecycle {
    precondition {
      condition     = contains(local.by_name["strata.request.duration"].buckets, var.latency_threshold_seconds)
      error_message = "The latency_threshold_seconds must be one of the bucket bounds of strata.request.duration in metrics.json."
    }
  }
}
