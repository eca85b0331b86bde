# Alert policies. Every one notifies var.notification_channels (none: the incident is only
# shown in the console) and carries documentation: what it means and the first thing to do.
# terraform/modules/monitoring/README.md and the repository README (Operating Strata) say
# the same at more length.

locals {
  # Multi-window, multi-burn-rate alerts on each SLO (Google SRE workbook, "Alerting on
  # SLOs"): a burn rate of 1 spends the error budget in exactly the rolling period. Each
  # policy fires when both its long and its short window burn faster than its rate: the long
  # window makes it significant, the short one makes it stop soon after the burn does.
  slos = {
    availability = google_monitoring_slo.availability.name
    latency      = google_monitoring_slo.latency.name
  }
  burn_windows = {
    fast = { rate = var.fast_burn_rate, long = "60m", short = "5m", severity = "CRITICAL" }
    slow = { rate = var.slow_burn_rate, long = "360m", short = "30m", severity = "WARNING" }
  }
  burn_alerts = {
    for pair in setproduct(keys(local.slos), keys(local.burn_windows)) :
    "${pair[0]}-${pair[1]}" => merge(local.burn_windows[pair[1]], { slo = pair[0], speed = pair[1] })
  }
  burn_docs = {
    availability = "Requests are answering 5xx fast enough to spend the availability error budget early. First: open the dashboard's \"5xx ratio by operation\" chart to see which operations fail, then that function's logs (severity>=ERROR) and the backend latency and Bigtable charts for a failing dependency; roll back a deploy that coincides."
    latency      = "Too many requests take longer than the latency SLO's threshold, fast enough to spend its error budget early. First: open the dashboard's latency and backend latency charts to see which operation and which backend call is slow, then Bigtable CPU (above the ceiling: add nodes) and admission rejections."
  }

  bigtable_filter = "resource.type=\"bigtable_cluster\" resource.label.instance=\"${var.bigtable_instance}\""
}

resource "google_monitoring_alert_policy" "slo_burn" {
  for_each = local.burn_alerts

  project               = var.project_id
  display_name          = "Strata ${var.name}: ${each.value.slo} SLO ${each.value.speed} burn (${each.value.rate}x)"
  combiner              = "AND"
  severity              = each.value.severity
  notification_channels = var.notification_channels

  conditions {
    display_name = "${each.value.slo} burn rate over ${each.value.long} above ${each.value.rate}"
    condition_threshold {
      filter          = "select_slo_burn_rate(\"${local.slos[each.value.slo]}\", \"${each.value.long}\")"
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.rate
      duration        = "0s"
    }
  }

  conditions {
    display_name = "${each.value.slo} burn rate over ${each.value.short} above ${each.value.rate}"
    condition_threshold {
      filter          = "select_slo_burn_rate(\"${local.slos[each.value.slo]}\", \"${each.value.short}\")"
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.rate
      duration        = "0s"
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "${local.burn_docs[each.value.slo]} At ${each.value.rate}x the budget of ${var.slo_rolling_period_days} days lasts ${floor(var.slo_rolling_period_days * 24 / each.value.rate)} hours."
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "Strata ${var.name}: cleanup tasks in the dead-letter queue"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels

  conditions {
    display_name = "${var.dead_letter_subscription} holds undelivered messages"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" resource.type=\"pubsub_subscription\" resource.label.subscription_id=\"${var.dead_letter_subscription}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Cleanup tasks failed every delivery attempt and were dead-lettered to the pull subscription ${var.dead_letter_subscription}. Recovery still settles their change-log entries, so no object is lost, but their revisions are deleted late. First: read the cleanup function's error logs for the failure, then pull a message from ${var.dead_letter_subscription} (gcloud pubsub subscriptions pull --limit=1) to see which object it names; once the cause is fixed, ack the messages (recovery re-dispatches the entries)."
  }
}

resource "google_monitoring_alert_policy" "changelog_backlog" {
  project               = var.project_id
  display_name          = "Strata ${var.name}: change-log backlog keeps growing"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels

  conditions {
    display_name = "oldest change-log entry older than ${var.changelog_max_age_seconds}s"
    condition_threshold {
      filter          = "metric.type=\"${local.types["strata.changelog.oldest_age"]}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.changelog_max_age_seconds
      duration        = "600s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_MAX"
      }
    }
  }

  conditions {
    display_name = "more than ${var.changelog_max_entries} change-log entries for 30 minutes"
    condition_threshold {
      filter          = "metric.type=\"${local.types["strata.changelog.entries"]}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.changelog_max_entries
      duration        = "1800s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Change-log entries are not being settled as fast as they are written: cleanup or recovery is failing or falling behind. Objects stay correct, but revisions that should be deleted are kept (storage cost). First: look at the dashboard's backlog-by-phase and cleanup charts, then the cleanup and recover functions' error logs; check the dead-letter queue and the recovery alerts."
  }
}

resource "google_monitoring_alert_policy" "recovery_failing" {
  project               = var.project_id
  display_name          = "Strata ${var.name}: recovery runs fail"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels

  conditions {
    display_name = "strata.recovery.runs with outcome error"
    condition_threshold {
      filter          = "metric.type=\"${local.types["strata.recovery.runs"]}\" metric.labels.outcome=\"error\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A recovery pass ended in error: abandoned change-log entries are not being claimed and re-dispatched. First: read the recover function's error logs (permissions on the change-log table or the cleanup topic, Bigtable errors), then check that the Cloud Scheduler job still runs it."
  }
}

resource "google_monitoring_alert_policy" "recovery_stopped" {
  project               = var.project_id
  display_name          = "Strata ${var.name}: recovery stopped running"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels

  conditions {
    display_name = "no strata.recovery.runs for ${var.recovery_absent_seconds}s"
    condition_absent {
      filter   = "metric.type=\"${local.types["strata.recovery.runs"]}\""
      duration = "${var.recovery_absent_seconds}s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "No recovery run has been recorded for ${var.recovery_absent_seconds}s: abandoned change-log entries are not being settled. First: check the Cloud Scheduler job (paused, failing with 401/403, or deleted) and the recover function's logs and deployment."
  }
}

# Google's recommended maximum average CPU utilisation for a cluster with single-cluster
# routing is 70% ("Monitoring", https://cloud.google.com/bigtable/docs/monitoring-instance:
# CPU usage, recommended maximums; above it for more than a few minutes, add nodes).
resource "google_monitoring_alert_policy" "bigtable_cpu" {
  project               = var.project_id
  display_name          = "Strata ${var.name}: Bigtable CPU above ${var.bigtable_cpu_threshold * 100}%"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels

  conditions {
    display_name = "bigtable cluster cpu_load above ${var.bigtable_cpu_threshold}"
    condition_threshold {
      filter          = "metric.type=\"bigtable.googleapis.com/cluster/cpu_load\" ${local.bigtable_filter}"
      comparison      = "COMPARISON_GT"
      threshold_value = var.bigtable_cpu_threshold
      duration        = "300s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MEAN"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The Bigtable cluster's average CPU load is above ${var.bigtable_cpu_threshold * 100}%, Google's recommended maximum for single-cluster routing: latency rises and requests may fail. First: if autoscaling is on (bigtable_autoscaling), check whether the cluster is at max_nodes and raise it; otherwise add nodes (bigtable_num_nodes). Then look for a hot key range in Key Visualizer."
  }
}

resource "google_monitoring_alert_policy" "bigtable_storage" {
  project               = var.project_id
  display_name          = "Strata ${var.name}: Bigtable storage above ${var.bigtable_storage_threshold * 100}%"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels

  conditions {
    display_name = "bigtable cluster storage_utilization above ${var.bigtable_storage_threshold}"
    condition_threshold {
      filter          = "metric.type=\"bigtable.googleapis.com/cluster/storage_utilization\" ${local.bigtable_filter}"
      comparison      = "COMPARISON_GT"
      threshold_value = var.bigtable_storage_threshold
      duration        = "600s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MEAN"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The Bigtable cluster uses more than ${var.bigtable_storage_threshold * 100}% of the storage its nodes may hold; at 100% writes fail. First: raise bigtable_autoscaling.max_nodes (autoscaling adds nodes for storage) or add nodes; then check that cleanup keeps up (change-log backlog, dead letters) and that expired rows are collected."
  }
}
