variable "routes_json" {
  description = "Content of the routes file that `make routes` generates from functions/internal/httpapi/routes.go (keys comment, default_function, functions, route_rules)."
  type        = string

  validation {
    condition     = can(jsondecode(var.routes_json).functions[0].name) && can(jsondecode(var.routes_json).route_rules[0].priority) && can(jsondecode(var.routes_json).default_function)
    error_message = "The routes_json must be the generated routes file: an object with default_function, a non-empty functions list and a non-empty route_rules list."
  }
}

variable "name_prefix" {
  description = "Prefix of every deployed function (Cloud Run service) name, e.g. \"strata-\"; the entry point stays the route-table name."
  type        = string
  default     = "strata-"

  validation {
    condition     = can(regex("^([a-z][a-z0-9-]{0,19})?$", var.name_prefix))
    error_message = "The name_prefix must be empty or start with a lowercase letter, use only lowercase letters, digits and hyphens, and be at most 20 characters long."
  }
}

variable "account_prefix" {
  description = "Prefix of every per-function service account id, e.g. \"strata-\"; ids longer than 30 characters are shortened with a hash suffix."
  type        = string
  default     = "strata-"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,11}$", var.account_prefix))
    error_message = "The account_prefix must start with a lowercase letter, use only lowercase letters, digits and hyphens, and be 2-12 characters long."
  }
}
