output "functions" {
  description = "Every deployable function keyed by its route-table name: entry_point, exposure, public, methods, deployed_name, account_id."
  value       = local.functions

  precondition {
    condition     = length(local.functions) == length(local.doc.functions)
    error_message = "The routes file lists a function name more than once."
  }
  precondition {
    condition     = alltrue([for f in local.functions : contains(["public", "private"], f.exposure)])
    error_message = "Every function's exposure must be public or private."
  }
  precondition {
    condition     = alltrue([for f in local.functions : can(regex("^[a-z]([a-z0-9-]{0,47}[a-z0-9])?$", f.deployed_name))])
    error_message = "Every deployed function name must be a valid Cloud Run service name: lowercase letters, digits and hyphens, at most 49 characters, starting with a letter."
  }
  precondition {
    condition     = alltrue([for id in values(local.account_ids) : can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", id))])
    error_message = "Every service account id must be 6-30 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
  precondition {
    condition     = length(distinct(values(local.account_ids))) == length(local.account_ids)
    error_message = "Two functions would share a service account id."
  }
}

output "public_functions" {
  description = "Names of the functions behind the load balancer (ingress ALLOW_INTERNAL_AND_GCLB), sorted."
  value       = local.public_functions
}

output "internal_functions" {
  description = "Names of the functions invoked directly by Pub/Sub push or Cloud Scheduler (ingress ALLOW_INTERNAL_ONLY), sorted."
  value       = local.internal_functions
}

output "route_rules" {
  description = "The load balancer's route rules in table order: priority, prefix, method (exact :method match) and function."
  value       = local.route_rules

  precondition {
    condition     = length(distinct(local.priorities)) == length(local.priorities)
    error_message = "Route rule priorities must be unique."
  }
  precondition {
    condition     = alltrue([for p in local.priorities : p >= 0 && p <= 2147483647 && floor(p) == p])
    error_message = "Route rule priorities must be integers between 0 and 2147483647."
  }
  precondition {
    condition     = length(distinct(local.rule_keys)) == length(local.rule_keys)
    error_message = "Two route rules match the same prefix and method."
  }
  precondition {
    condition     = alltrue([for r in local.route_rules : contains(local.public_functions, r.function)])
    error_message = "Every route rule must send traffic to a public function."
  }
  precondition {
    condition     = alltrue([for r in local.route_rules : startswith(r.prefix, "/") && length(r.prefix) <= 1024])
    error_message = "Every route rule prefix must start with / and be at most 1024 characters long."
  }
  precondition {
    condition     = alltrue([for r in local.route_rules : contains(["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"], r.method)])
    error_message = "Every route rule method must be an HTTP method name in upper case."
  }
  precondition {
    condition     = alltrue([for name in local.public_functions : contains([for r in local.route_rules : r.function], name)])
    error_message = "Every public function needs at least one route rule."
  }
}

output "default_function" {
  description = "The public function that receives requests no route rule matches; it answers objectstore's 404 or 405."
  value       = local.doc.default_function

  precondition {
    condition     = contains(local.public_functions, local.doc.default_function)
    error_message = "The default function must be a public function."
  }
}
