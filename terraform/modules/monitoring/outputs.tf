output "dashboard_id" {
  description = "Id of the dashboard, projects/<project>/dashboards/<id>."
  value       = google_monitoring_dashboard.main.id
}

output "metric_types" {
  description = "Cloud Monitoring type of every metric of the catalog, keyed by its name."
  value       = { for name, d in google_monitoring_metric_descriptor.catalog : name => local.types[name] }
}

output "service_id" {
  description = "Id of the custom service that holds the SLOs."
  value       = google_monitoring_custom_service.main.service_id
}

output "slos" {
  description = "Full names of the availability and latency SLOs (what select_slo_burn_rate takes)."
  value       = local.slos
}

output "alert_policies" {
  description = "Full names of the alert policies, keyed by what they watch."
  value = merge(
    { for k, p in google_monitoring_alert_policy.slo_burn : "slo-burn-${k}" => p.name },
    {
      dead-letters      = google_monitoring_alert_policy.dead_letters.name
      changelog-backlog = google_monitoring_alert_policy.changelog_backlog.name
      recovery-failing  = google_monitoring_alert_policy.recovery_failing.name
      recovery-stopped  = google_monitoring_alert_policy.recovery_stopped.name
      bigtable-cpu      = google_monitoring_alert_policy.bigtable_cpu.name
      bigtable-storage  = google_monitoring_alert_policy.bigtable_storage.name
    },
  )
}
