variable "project_id" {
  description = "Project of the functions and the sources bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9.:]{0,62}$", var.project_id))
    error_message = "The project_id must be a Google Cloud project id: lowercase letters, digits and hyphens (domain-scoped ids may contain '.' and ':')."
  }
}

variable "region" {
  description = "Region of the functions and the sources bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{0,62}$", var.region))
    error_message = "The region must be a Google Cloud region name such as europe-west1."
  }
}

variable "functions" {
  description = "The routing module's functions output: route-table name => {entry_point, exposure, public, methods, deployed_name, account_id}."
  type = map(object({
    entry_point   = string
    exposure      = string
    public        = bool
    methods       = list(string)
    deployed_name = string
    account_id    = string
  }))

  validation {
    condition     = length(var.functions) > 0
    error_message = "At least one function must be deployed."
  }
}

variable "service_account_emails" {
  description = "Runtime service account of each function, keyed like functions; every function must have its own."
  type        = map(string)
}

variable "build_service_account_id" {
  description = "Full id (projects/<p>/serviceAccounts/<email>) of the service account Cloud Build uses to build the functions; null means the platform default."
  type        = string
  default     = null
}

variable "source_archive_path" {
  description = "Path of the source zip built by `deploy package` (make package). A missing file does not break plan, but apply needs it."
  type        = string
}

variable "sources_bucket_name" {
  description = "Name of the bucket that holds the source zips; empty means <project_id>-<name>-sources."
  type        = string
  default     = ""
}

variable "name" {
  description = "Base name used for the sources bucket, e.g. \"strata-dev\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,25}$", var.name))
    error_message = "The name must be 3-26 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the sources bucket while it still holds zips."
  type        = bool
  default     = false
}

variable "runtime" {
  description = "Cloud Run functions runtime; the module's go.mod says go 1.26."
  type        = string
  default     = "go126"

  validation {
    condition     = can(regex("^go1[0-9]{2}$", var.runtime))
    error_message = "The runtime must be a Go runtime id such as go126."
  }
}

variable "environment_variables" {
  description = "Runtime environment of every function (the STRATA_* configuration)."
  type        = map(string)
}

variable "defaults" {
  description = "Service settings of every function unless overridden: memory (e.g. \"1Gi\"), cpu (e.g. \"1\"), timeout_seconds, concurrency (requests per instance), min_instances, max_instances."
  type = object({
    memory          = optional(string, "1Gi")
    cpu             = optional(string, "1")
    timeout_seconds = optional(number, 300)
    concurrency     = optional(number, 80)
    min_instances   = optional(number, 0)
    max_instances   = optional(number, 20)
  })
  default = {}

  validation {
    condition     = var.defaults.timeout_seconds >= 1 && var.defaults.timeout_seconds <= 3600
    error_message = "The defaults.timeout_seconds must be between 1 and 3600 (HTTP functions)."
  }
  validation {
    condition     = var.defaults.concurrency >= 1 && var.defaults.concurrency <= 1000
    error_message = "The defaults.concurrency must be between 1 and 1000."
  }
  validation {
    condition     = var.defaults.min_instances >= 0 && var.defaults.max_instances >= 1 && var.defaults.min_instances <= var.defaults.max_instances
    error_message = "The defaults must satisfy 0 <= min_instances <= max_instances and max_instances >= 1."
  }
  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi|M|G)$", var.defaults.memory)) && can(tonumber(var.defaults.cpu))
    error_message = "The defaults.memory must look like \"512Mi\" or \"1Gi\" and defaults.cpu must be a number such as \"1\"."
  }
}

variable "overrides" {
  description = "Per-function service settings keyed by route-table name; unset fields keep the defaults."
  type = map(object({
    memory          = optional(string)
    cpu             = optional(string)
    timeout_seconds = optional(number)
    concurrency     = optional(number)
    min_instances   = optional(number)
    max_instances   = optional(number)
  }))
  default = {}
}

variable "labels" {
  description = "Labels set on the functions and the sources bucket."
  type        = map(string)
  default     = {}
}
