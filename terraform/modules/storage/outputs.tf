output "bigtable_instance" {
  description = "Name of the Bigtable instance (STRATA_BIGTABLE_INSTANCE): the one created here, or existing_bigtable_instance."
  value       = local.bigtable_instance
}

output "bigtable_instance_id" {
  description = "Full id of the Bigtable instance, for IAM bindings."
  value       = local.create_bigtable ? google_bigtable_instance.main[0].id : "projects/${var.project_id}/instances/${var.existing_bigtable_instance}"
}

output "objects_table" {
  description = "Name of the objects table (STRATA_BIGTABLE_TABLE): the one created here, or existing_objects_table."
  value       = local.objects_table

  precondition {
    condition     = (var.existing_bigtable_instance == "") == (var.existing_objects_table == "")
    error_message = "Set existing_bigtable_instance and existing_objects_table together (objectstore's instance and its objects table), or neither (Strata creates both)."
  }

  precondition {
    condition     = var.existing_objects_table != var.changelog_table_name
    error_message = "The existing_objects_table must not be changelog_table_name: Strata creates its change-log table next to the objects table."
  }
}

output "changelog_table" {
  description = "Name of the change-log table (STRATA_BIGTABLE_CHANGELOG_TABLE); always Strata's own, in the objects table's instance."
  value       = google_bigtable_table.changelog.name
}

output "bucket" {
  description = "Name of the data bucket (STRATA_GCS_BUCKET): the one created here, or existing_bucket."
  value       = local.bucket
}

output "project_number" {
  description = "Number of the project, read from the data bucket once it exists; used to name the Pub/Sub service agent without a data source. Null with existing_bucket (the bucket is not managed here)."
  value       = one(google_storage_bucket.data[*].project_number)
}
