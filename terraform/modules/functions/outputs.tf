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

output "source_object" {
  description = "Name of the source zip object the functions are built from."
  value       = google_storage_bucket_object.source.name
}
