variable "project_id" {
  description = "Project of the load balancer."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9.:]{0,62}$", var.project_id))
    error_message = "The project_id must be a Google Cloud project id: lowercase letters, digits and hyphens (domain-scoped ids may contain '.' and ':')."
  }
}

variable "region" {
  description = "Region of the functions (and so of their serverless network endpoint groups)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{0,62}$", var.region))
    error_message = "The region must be a Google Cloud region name such as europe-west1."
  }
}

variable "name" {
  description = "Base name of the load balancer's resources, e.g. \"strata-dev\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,25}$", var.name))
    error_message = "The name must be 3-26 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "public_functions" {
  description = "Deployed name of every request-path function, keyed by route-table name (the functions module's public_names output)."
  type        = map(string)

  validation {
    condition     = length(var.public_functions) > 0
    error_message = "At least one request-path function is needed."
  }
}

variable "route_rules" {
  description = "The routing module's route_rules output: priority, prefix, method and function (route-table name) of each rule."
  type = list(object({
    priority = number
    prefix   = string
    method   = string
    function = string
  }))
}

variable "default_function" {
  description = "Route-table name of the function that receives unmatched requests (it answers objectstore's 404/405)."
  type        = string
}

variable "domain" {
  description = "Domain served over HTTPS with a Google-managed certificate; point its A record at the load balancer's IP. Empty means no HTTPS listener."
  type        = string
  default     = ""

  validation {
    condition     = var.domain == "" || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,}$", var.domain))
    error_message = "The domain must be empty or a lowercase DNS name such as objects.example.com."
  }
}

variable "allow_plain_http" {
  description = "Also serve plain HTTP on port 80 (development only: tokens travel in the clear)."
  type        = bool
  default     = false
}

variable "public_invoker" {
  description = "Grant roles/run.invoker to allUsers on the request-path functions. The load balancer sends no identity token, so without this it gets 403; ingress ALLOW_INTERNAL_AND_GCLB still keeps the functions' own URLs closed, and requests are authorised by Strata's JWT."
  type        = bool
  default     = true
}

variable "enable_cloud_armor" {
  description = "Attach a Cloud Armor policy that rate-limits each client IP at the edge."
  type        = bool
  default     = false
}

variable "rate_limit_requests_per_minute" {
  description = "Cloud Armor: requests per minute one IP may send before it is throttled (429)."
  type        = number
  default     = 6000

  validation {
    condition     = var.rate_limit_requests_per_minute >= 1
    error_message = "The rate_limit_requests_per_minute must be at least 1."
  }
}

variable "rate_limit_ban_seconds" {
  description = "Cloud Armor: how long an IP that exceeds ten times the rate limit is banned; 0 disables banning."
  type        = number
  default     = 600

  validation {
    condition     = var.rate_limit_ban_seconds >= 0 && var.rate_limit_ban_seconds <= 86400
    error_message = "The rate_limit_ban_seconds must be between 0 and 86400."
  }
}

variable "log_sample_rate" {
  description = "Fraction of requests the backend services log (0 disables request logging)."
  type        = number
  default     = 1

  validation {
    condition     = var.log_sample_rate >= 0 && var.log_sample_rate <= 1
    error_message = "The log_sample_rate must be between 0 and 1."
  }
}
