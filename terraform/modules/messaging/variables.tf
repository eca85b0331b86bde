variable "project_id" {
  description = "Project of the topics and subscriptions."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9.:]{0,62}$", var.project_id))
    error_message = "The project_id must be a Google Cloud project id: lowercase letters, digits and hyphens (domain-scoped ids may contain '.' and ':')."
  }
}

variable "project_number" {
  description = "Number of the project; names the Pub/Sub service agent (service-<number>@gcp-sa-pubsub.iam.gserviceaccount.com) that dead-letters messages. May be unknown until apply."
  type        = string

  validation {
    condition     = var.project_number == null || can(regex("^[0-9]+$", var.project_number))
    error_message = "The project_number must be the numeric project number."
  }
}

variable "name" {
  description = "Base name of the topics and subscriptions, e.g. \"strata-dev\"."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][-a-zA-Z0-9_.~+%]{2,200}$", var.name))
    error_message = "The name must start with a letter and be 3-200 characters that Pub/Sub accepts in ids."
  }
}

variable "cleanup_uri" {
  description = "HTTPS URL of the cleanup function; the push endpoint and the OIDC audience."
  type        = string

  validation {
    condition     = var.cleanup_uri == null || startswith(var.cleanup_uri, "https://")
    error_message = "The cleanup_uri must be an https:// URL."
  }
}

variable "push_service_account_email" {
  description = "Service account whose OIDC token Pub/Sub attaches to each push; it must be allowed to invoke the cleanup function (and only that)."
  type        = string
}

variable "ack_deadline_seconds" {
  description = "How long Pub/Sub waits for the cleanup function to answer a push before it redelivers; match the cleanup function's timeout."
  type        = number
  default     = 300

  validation {
    condition     = var.ack_deadline_seconds >= 10 && var.ack_deadline_seconds <= 600
    error_message = "The ack_deadline_seconds must be between 10 and 600."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries of a cleanup task before it goes to the dead-letter topic."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "The max_delivery_attempts must be between 5 and 100."
  }
}

variable "minimum_backoff" {
  description = "Smallest delay before a failed push is retried, e.g. \"10s\"."
  type        = string
  default     = "10s"

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?s$", var.minimum_backoff))
    error_message = "The minimum_backoff must be a duration in seconds such as \"10s\"."
  }
}

variable "maximum_backoff" {
  description = "Largest delay before a failed push is retried, e.g. \"600s\" (at most 600s)."
  type        = string
  default     = "600s"

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?s$", var.maximum_backoff))
    error_message = "The maximum_backoff must be a duration in seconds such as \"600s\"."
  }
}

variable "message_retention_duration" {
  description = "How long undelivered cleanup tasks (and dead-lettered ones) are kept, e.g. \"604800s\"."
  type        = string
  default     = "604800s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.message_retention_duration))
    error_message = "The message_retention_duration must be a whole number of seconds such as \"604800s\"."
  }
}

variable "labels" {
  description = "Labels set on the topics and subscriptions."
  type        = map(string)
  default     = {}
}
