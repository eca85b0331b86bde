output "job" {
  description = "Name of the recovery job."
  value       = google_cloud_scheduler_job.recover.name
}

output "job_id" {
  description = "Full id of the recovery job."
  value       = google_cloud_scheduler_job.recover.id
}
