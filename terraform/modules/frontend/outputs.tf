output "ip_address" {
  description = "The load balancer's global IP address (point the domain's A record here)."
  value       = google_compute_global_address.main.address
}

output "url" {
  description = "Base URL of the service: https://<domain> when a domain is set, else http://<ip> when plain HTTP is allowed, else empty (no listener)."
  value       = local.https_enabled ? "https://${var.domain}" : (var.allow_plain_http ? "http://${google_compute_global_address.main.address}" : "")
}

output "http_url" {
  description = "Plain-HTTP URL (http://<ip>) when allow_plain_http is true, else empty."
  value       = var.allow_plain_http ? "http://${google_compute_global_address.main.address}" : ""
}

output "url_map" {
  description = "Name of the URL map."
  value       = google_compute_url_map.main.name
}

output "backend_services" {
  description = "Backend service name of every request-path function, keyed by route-table name."
  value       = { for name, b in google_compute_backend_service.function : name => b.name }
}

output "security_policy" {
  description = "Name of the Cloud Armor policy, or null when disabled."
  value       = var.enable_cloud_armor ? google_compute_security_policy.edge[0].name : null
}
