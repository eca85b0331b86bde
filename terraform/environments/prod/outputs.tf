output "url" {
  description = "Base URL of Strata behind the load balancer (empty when no listener is configured)."
  value       = module.strata.url
}

output "ip_address" {
  description = "The load balancer's IP address (the domain's A record must point here)."
  value       = module.strata.ip_address
}

output "functions" {
  description = "Deployed name of every function, keyed by route-table name."
  value       = module.strata.functions
}

output "function_uris" {
  description = "Direct URL of every function (reachable only as their ingress allows)."
  value       = module.strata.function_uris
}

output "bigtable_instance" {
  description = "Bigtable instance name."
  value       = module.strata.bigtable_instance
}

output "objects_table" {
  description = "Objects table name."
  value       = module.strata.objects_table
}

output "changelog_table" {
  description = "Change-log table name."
  value       = module.strata.changelog_table
}

output "bucket" {
  description = "Data bucket name."
  value       = module.strata.bucket
}

output "cleanup_topic" {
  description = "Cleanup topic id."
  value       = module.strata.cleanup_topic
}

output "dead_letter_subscription" {
  description = "Pull subscription holding dead-lettered cleanup tasks."
  value       = module.strata.dead_letter_subscription
}

output "recovery_job" {
  description = "Cloud Scheduler job that runs recovery."
  value       = module.strata.recovery_job
}

output "dashboard_id" {
  description = "Id of the Cloud Monitoring dashboard (projects/<project>/dashboards/<id>)."
  value       = module.strata.dashboard_id
}

output "slos" {
  description = "Full names of the availability and latency SLOs."
  value       = module.strata.slos
}

output "alert_policies" {
  description = "Full names of the alert policies, keyed by what they watch."
  value       = module.strata.alert_policies
}
