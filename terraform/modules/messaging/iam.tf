# Dead-lettering is done by the Pub/Sub service agent: it must publish to the dead-letter topic
# and acknowledge on the source subscription. Its email is built from the project number, which
# the caller passes in (it may stay unknown until apply), so planning needs no API call.

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "cleanup_push_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.cleanup_push.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# The service agent mints the push's OIDC tokens as the push service account. Projects created
# before April 2021 need this grant explicitly; it is scoped to that one account.
resource "google_service_account_iam_member" "push_token_creator" {
  service_account_id = "projects/${var.project_id}/serviceAccounts/${var.push_service_account_email}"
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent

  # The service agent exists once Pub/Sub is in use in the project.
  depends_on = [google_pubsub_topic.cleanup]
}
