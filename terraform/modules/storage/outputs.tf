output "bigtable_instance" {
  description = "Name of the Bigtable instance (STRATA_BIGTABLE_INSTANCE)."
  value       = google_bigtable_instance.main.name
}

output "bigtable_instance_id" {
  description = "Full id of the Bigtable instance, for IAM bindings."
  value       = google_bigtable_instance.main.id
}

output "objects_table" {
  description = "Name of the objects table (STRATA_BIGTABLE_TABLE)."
  value       = google_bigtable_table.objects.name
}

output "changelog_table" {
  description = "Name of the change-log table (STRATA_BIGTABLE_CHANGELOG_TABLE)."
  value       = google_bigtable_table.changelog.name
}

output "bucket" {
  description = "Name of the data bucket (STRATA_GCS_BUCKET)."
  value       = google_storage_bucket.data.name
}

output "project_number" {
  description = "Number of the project, read from the data bucket once it exists; used to name the Pub/Sub service agent without a data source."
  value       = google_storage_bucket.data.project_number
}
