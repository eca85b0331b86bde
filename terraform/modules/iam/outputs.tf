output "function_service_account_emails" {
  description = "Runtime service account email of every function, keyed by route-table name."
  value       = { for name, sa in google_service_account.function : name => sa.email }
}

output "push_service_account_email" {
  description = "Email of the Pub/Sub push identity (invokes cleanup)."
  value       = google_service_account.push.email
}

output "scheduler_service_account_email" {
  description = "Email of the Cloud Scheduler identity (invokes recover)."
  value       = google_service_account.scheduler.email
}

output "build_service_account_id" {
  description = "Full id of the Cloud Build identity, or null when the platform default is used."
  value       = var.create_build_service_account ? google_service_account.build[0].id : null
}
