# Data-plane grants, each on the one resource it concerns.

resource "google_bigtable_instance_iam_member" "function_user" {
  for_each = var.functions

  project  = var.project_id
  instance = var.bigtable_instance
  role     = "roles/bigtable.user"
  member   = google_service_account.function[each.key].member
}

resource "google_storage_bucket_iam_member" "function_object_admin" {
  for_each = var.functions

  bucket = var.data_bucket
  role   = "roles/storage.objectAdmin"
  member = google_service_account.function[each.key].member
}

resource "google_pubsub_topic_iam_member" "function_publisher" {
  for_each = local.publishers

  project = var.project_id
  topic   = var.cleanup_topic
  role    = "roles/pubsub.publisher"
  member  = google_service_account.function[each.key].member
}

# Cloud Build writes logs and images and reads the source zip; the builder role covers that.
resource "google_project_iam_member" "build_builder" {
  count = var.create_build_service_account ? 1 : 0

  project = var.project_id
  role    = "roles/cloudbuild.builds.builder"
  member  = google_service_account.build[0].member
}
