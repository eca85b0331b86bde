output "url" {
  description = "Base URL of Strata behind the load balancer (empty when no listener is configured)."
  value       = module.frontend.url
}

output "ip_address" {
  description = "The load balancer's IP address (the domain's A record must point here)."
  value       = module.frontend.ip_address
}

output "functions" {
  description = "Deployed name of every function, keyed by route-table name."
  value       = module.functions.names
}

output "function_uris" {
  description = "Direct URL of every function (reachable only as their ingress allows)."
  value       = module.functions.uris
}

output "bigtable_instance" {
  description = "Bigtable instance name."
  value       = module.storage.bigtable_instance
}

output "objects_table" {
  description = "Objects table name."
  value       = module.storage.objects_table
}

output "changelog_table" {
  description = "Change-log table name."
  value       = module.storage.changelog_table
}

output "bucket" {
  description = "Data bucket name."
  value       = module.storage.bucket
}

output "cleanup_topic" {
  description = "Cleanup topic id."
  value       = module.messaging.cleanup_topic_id
}

output "dead_letter_subscription" {
  description = "Pull subscription holding dead-lettered cleanup tasks."
  value       = module.messaging.dead_letter_subscription
}

output "recovery_job" {
  description = "Cloud Scheduler job that runs recovery."
  value       = module.scheduler.job
}

output "dashboard_id" {
  description = "Id of the Cloud Monitoring dashboard (projects/<project>/dashboards/<id>)."
  value       = module.monitoring.dashboard_id
}

output "slos" {
  description = "Full names of the availability and latency SLOs."
  value       = module.monitoring.slos
}

output "alert_policies" {
  description = "Full names of the alert policies, keyed by what they watch."
  value       = module.monitoring.alert_policies
}
