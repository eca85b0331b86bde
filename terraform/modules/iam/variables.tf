variable "project_id" {
  description = "Project of the service accounts and of the project-level build grant."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9.:]{0,62}$", var.project_id))
    error_message = "The project_id must be a Google Cloud project id: lowercase letters, digits and hyphens (domain-scoped ids may contain '.' and ':')."
  }
}

variable "region" {
  description = "Region of the functions (for the run.invoker grants on cleanup and recover)."
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
    condition     = contains(keys(var.functions), "cleanup") && contains(keys(var.functions), "recover")
    error_message = "The functions must include cleanup and recover."
  }
}

variable "account_prefix" {
  description = "Prefix of the push, scheduler and build service account ids (e.g. \"strata-\")."
  type        = string
  default     = "strata-"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,11}$", var.account_prefix))
    error_message = "The account_prefix must start with a lowercase letter, use only lowercase letters, digits and hyphens, and be 2-12 characters long."
  }
}

variable "bigtable_instance" {
  description = "Name of the Bigtable instance holding the two tables (nothing is granted on the instance itself)."
  type        = string
}

variable "objects_table" {
  description = "Name of the objects table; functions get table-level grants on it as local.access says."
  type        = string
}

variable "changelog_table" {
  description = "Name of the change-log table; functions get table-level grants on it as local.access says."
  type        = string
}

variable "data_bucket" {
  description = "Name of the data bucket; functions get bucket-level grants (some conditioned on ~uploads/) as local.access says."
  type        = string
}

variable "cleanup_topic" {
  description = "Short name of the cleanup topic; only the functions local.access marks publish may publish to it."
  type        = string
}

variable "cleanup_service" {
  description = "Deployed name (Cloud Run service) of the cleanup function; only the push service account may invoke it."
  type        = string
}

variable "recover_service" {
  description = "Deployed name (Cloud Run service) of the recover function; only the scheduler service account may invoke it."
  type        = string
}

variable "create_build_service_account" {
  description = "Create a dedicated service account for Cloud Build (roles/cloudbuild.builds.builder on the project) instead of relying on the project's default build identity."
  type        = bool
  default     = true
}
