# Cleanup dispatch: request-path functions and recover publish cleanup tasks to the cleanup
# topic; a push subscription delivers each one to the cleanup function with an OIDC token, and
# a task that keeps failing ends on the dead-letter topic, where a pull subscription keeps it
# for inspection.

locals {
  pubsub_service_agent = "serviceAccount:service-${var.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "cleanup" {
  project = var.project_id
  name    = "${var.name}-cleanup"
  labels  = var.labels
}

resource "google_pubsub_topic" "dead_letter" {
  project                    = var.project_id
  name                       = "${var.name}-cleanup-dead-letter"
  labels                     = var.labels
  message_retention_duration = var.message_retention_duration
}

resource "google_pubsub_subscription" "cleanup_push" {
  project                    = var.project_id
  name                       = "${var.name}-cleanup-push"
  topic                      = google_pubsub_topic.cleanup.id
  labels                     = var.labels
  ack_deadline_seconds       = var.ack_deadline_seconds
  message_retention_duration = var.message_retention_duration

  push_config {
    push_endpoint = var.cleanup_uri

    oidc_token {
      service_account_email = var.push_service_account_email
      audience              = var.cleanup_uri
    }
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = var.minimum_backoff
    maximum_backoff = var.maximum_backoff
  }

  expiration_policy {
    ttl = ""
  }
}

# Without a subscription, messages published to the dead-letter topic would be dropped.
resource "google_pubsub_subscription" "dead_letter_pull" {
  project                    = var.project_id
  name                       = "${var.name}-cleanup-dead-letter-pull"
  topic                      = google_pubsub_topic.dead_letter.id
  labels                     = var.labels
  ack_deadline_seconds       = 60
  message_retention_duration = var.message_retention_duration

  expiration_policy {
    ttl = ""
  }
}
