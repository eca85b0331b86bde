output "names" {
  description = "Deployed name (Cloud Run service name) of every function, keyed by route-table name."
  value       = { for name, f in google_cloudfunctions2_function.function : name => f.name }
}

output "uris" {
  description = "HTTPS URL of every function, keyed by route-table name."
  value       = { for name, f in google_cloudfunctions2_function.function : name => f.service_config[0].uri }
}

output "public_names" {
  description = "Deployed names of the request-path functions (the load balancer's backends), keyed by route-table name."
  value       = { for name, f in google_cloudfunctions2_function.function : name => f.name if var.functions[name].public }
}

output "sources_bucket" {
  description = "Name of the bucket that holds the source zips."
  value       = google_storage_bucket.sources.name
}

output "project_number" {
  description = "Number of the project, read from the sources bucket once it exists (the stack's fallback when the data bucket is not managed here)."
  value       = google_storage_bucket.sources.project_number
}

output "source_object" {
  description = "Name of the source zip object the functions are built from."
  value       = google_storage_bucket_object.source.name
}
