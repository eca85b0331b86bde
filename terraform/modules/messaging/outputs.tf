output "cleanup_topic" {
  description = "Short name of the cleanup topic."
  value       = google_pubsub_topic.cleanup.name
}

output "cleanup_topic_id" {
  description = "Full id of the cleanup topic, projects/<project>/topics/<name> (the functions' STRATA_CLEANUP_TOPIC)."
  value       = google_pubsub_topic.cleanup.id
}

output "dead_letter_topic" {
  description = "Short name of the dead-letter topic."
  value       = google_pubsub_topic.dead_letter.name
}

output "cleanup_subscription" {
  description = "Short name of the push subscription that feeds the cleanup function."
  value       = google_pubsub_subscription.cleanup_push.name
}

output "dead_letter_subscription" {
  description = "Short name of the pull subscription that keeps dead-lettered cleanup tasks."
  value       = google_pubsub_subscription.dead_letter_pull.name
}

output "max_delivery_attempts" {
  description = "Deliveries of a cleanup task before it goes to the dead-letter topic (the functions count a failure on the last one as dead-lettered)."
  value       = var.max_delivery_attempts
}
