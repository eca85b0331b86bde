# Data-plane grants, each on the one resource it concerns, as local.access (access.tf) says:
# custom roles on one Bigtable table, on the data bucket (optionally only under "~uploads/"),
# and the publisher role on the cleanup topic.

resource "google_bigtable_table_iam_member" "objects" {
  for_each = local.objects_table_grants

  project       = var.project_id
  instance_name = var.bigtable_instance
  table         = var.objects_table
  role          = google_project_iam_custom_role.strata[each.value].id
  member        = google_service_account.function[each.key].member
}

resource "google_bigtable_table_iam_member" "changelog" {
  for_each = local.changelog_table_grants

  project       = var.project_id
  instance_name = var.bigtable_instance
  table         = var.changelog_table
  role          = google_project_iam_custom_role.strata[each.value].id
  member        = google_service_account.function[each.key].member
}

resource "google_storage_bucket_iam_member" "function" {
  for_each = local.bucket_grants

  bucket = var.data_bucket
  role   = google_project_iam_custom_role.strata[each.value.role].id
  member = google_service_account.function[each.value.function].member

  dynamic "condition" {
    for_each = each.value.uploads_only ? [1] : []
    content {
      title       = "multipart uploads only"
      description = "Objects under ~uploads/ and listings of that prefix."
      expression  = local.uploads_condition
    }
  }
}

resource "google_pubsub_topic_iam_member" "function_publisher" {
  for_each = local.publishers

  project = var.project_id
  topic   = var.cleanup_topic
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function[each.key].member
}

# Metrics and traces (access.tf, Telemetry): project-level, the only scope these APIs have.
resource "google_project_iam_member" "function_telemetry" {
  for_each = local.telemetry_grants

  project = var.project_id
  role    = each.value.role
  member  = google_service_account.function[each.value.function].member
}

# Cloud Build writes logs and images and reads the source zip; the builder role covers that.
resource "google_project_iam_member" "build_builder" {
  count = var.create_build_service_account ? 1 : 0

  project = var.project_id
  role    = "roles/cloudbuild.builds.builder"
  member  = google_service_account.build[0].member
}
