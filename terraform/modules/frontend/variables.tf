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
  description = "Attach a Cloud Armor policy to every backend: Google's preconfigured WAF rules (waf_rule_sets) and a per-IP rate limit."
  type        = bool
  default     = false
}

variable "waf_rule_sets" {
  description = "Cloud Armor preconfigured WAF rule sets, each evaluated by its own deny(403) rule in this order. Requests whose body is object bytes are not evaluated (see armor.tf)."
  type        = list(string)
  default     = ["sqli-v33-stable", "xss-v33-stable", "lfi-v33-stable", "rce-v33-stable", "protocolattack-v33-stable"]

  validation {
    condition     = alltrue([for s in var.waf_rule_sets : can(regex("^[a-z0-9]+-v[0-9]+-(stable|canary)$", s))]) && length(distinct(var.waf_rule_sets)) == length(var.waf_rule_sets) && length(var.waf_rule_sets) <= 20
    error_message = "The waf_rule_sets must be distinct preconfigured rule set names such as sqli-v33-stable (at most 20)."
  }
}

variable "waf_sensitivity" {
  description = "Sensitivity of the preconfigured WAF rules, 1 (fewest false positives) to 4 (most signatures). Object keys are arbitrary strings, so higher levels block legitimate keys."
  type        = number
  default     = 1

  validation {
    condition     = contains([1, 2, 3, 4], var.waf_sensitivity)
    error_message = "The waf_sensitivity must be 1, 2, 3 or 4."
  }
}

variable "waf_preview" {
  description = "Put the WAF rules in preview mode: Cloud Armor logs what they would deny but denies nothing (for tuning; the rate limit stays enforced)."
  type        = bool
  default     = false
}

variable "ssl_policy_profile" {
  description = "Profile of the HTTPS proxy's SSL policy (minimum TLS 1.2 either way): MODERN, or RESTRICTED for the strictest cipher suites."
  type        = string
  default     = "MODERN"

  validation {
    condition     = contains(["MODERN", "RESTRICTED"], var.ssl_policy_profile)
    error_message = "The ssl_policy_profile must be MODERN or RESTRICTED."
  }
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
  description = "Fraction of requests the load balancer logs; 0 (the default) disables its request log. A logged request's full URL, query included, lands in Cloud Logging: os_auth tokens and pre-signed signatures with it."
  type        = number
  default     = 0

  validation {
    condition     = var.log_sample_rate >= 0 && var.log_sample_rate <= 1
    error_message = "The log_sample_rate must be between 0 and 1."
  }
}
