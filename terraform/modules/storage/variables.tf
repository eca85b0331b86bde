variable "project_id" {
  description = "Project that holds the Bigtable instance and the data bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9.:]{0,62}$", var.project_id))
    error_message = "The project_id must be a Google Cloud project id: lowercase letters, digits and hyphens (domain-scoped ids may contain '.' and ':')."
  }
}

variable "region" {
  description = "Region of the data bucket; the Bigtable cluster's zone defaults to <region>-b."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{0,62}$", var.region))
    error_message = "The region must be a Google Cloud region name such as europe-west1."
  }
}

variable "name" {
  description = "Base name of the Bigtable instance (6-33 characters) and its cluster; also the middle part of the data bucket's name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{5,25}$", var.name))
    error_message = "The name must be 6-26 characters of lowercase letters, digits and hyphens, starting with a letter (the cluster id appends \"-c1\")."
  }
}

variable "bigtable_zone" {
  description = "Zone of the Bigtable cluster; empty means <region>-b."
  type        = string
  default     = ""

  validation {
    condition     = var.bigtable_zone == "" || can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", var.bigtable_zone))
    error_message = "The bigtable_zone must be empty or a zone name such as europe-west1-b."
  }
}

variable "bigtable_num_nodes" {
  description = "Nodes in the Bigtable cluster when bigtable_autoscaling is null (fixed size; at least 1). Each node is billed per node-hour."
  type        = number
  default     = 1

  validation {
    condition     = var.bigtable_num_nodes >= 1 && floor(var.bigtable_num_nodes) == var.bigtable_num_nodes
    error_message = "The bigtable_num_nodes must be a whole number of at least 1."
  }
}

variable "bigtable_autoscaling" {
  description = <<-EOT
    Autoscaling of the Bigtable cluster; null keeps a fixed bigtable_num_nodes. Bigtable keeps
    the node count between min_nodes and max_nodes so that average CPU stays near
    cpu_target_percent (10-80) and each node holds at most storage_target_gib (GiB per node;
    SSD 2560-5120, HDD 8192-16384). Cost: every node is billed per node-hour, busy or idle,
    so min_nodes is the floor of the bill and max_nodes its ceiling; a lower CPU or storage
    target buys headroom (latency, time to scale) with more nodes.
  EOT
  type = object({
    min_nodes          = number
    max_nodes          = number
    cpu_target_percent = number
    storage_target_gib = number
  })
  default = null

  validation {
    condition = var.bigtable_autoscaling == null || try(
      var.bigtable_autoscaling.min_nodes >= 1 && var.bigtable_autoscaling.max_nodes >= var.bigtable_autoscaling.min_nodes &&
      floor(var.bigtable_autoscaling.min_nodes) == var.bigtable_autoscaling.min_nodes && floor(var.bigtable_autoscaling.max_nodes) == var.bigtable_autoscaling.max_nodes,
    false)
    error_message = "The bigtable_autoscaling min_nodes and max_nodes must be whole numbers with 1 <= min_nodes <= max_nodes."
  }
  validation {
    condition     = var.bigtable_autoscaling == null || try(var.bigtable_autoscaling.cpu_target_percent >= 10 && var.bigtable_autoscaling.cpu_target_percent <= 80, false)
    error_message = "The bigtable_autoscaling cpu_target_percent must be between 10 and 80."
  }
  validation {
    condition     = var.bigtable_autoscaling == null || try(var.bigtable_autoscaling.storage_target_gib >= 2560 && var.bigtable_autoscaling.storage_target_gib <= 16384, false)
    error_message = "The bigtable_autoscaling storage_target_gib must be 2560-5120 for SSD clusters (8192-16384 for HDD)."
  }
}

variable "bigtable_storage_type" {
  description = "Storage type of the Bigtable cluster: SSD or HDD."
  type        = string
  default     = "SSD"

  validation {
    condition     = contains(["SSD", "HDD"], var.bigtable_storage_type)
    error_message = "The bigtable_storage_type must be SSD or HDD."
  }
}

variable "objects_table_name" {
  description = "Name of the objects table (families fg and fm); the functions' STRATA_BIGTABLE_TABLE."
  type        = string
  default     = "objectstore"

  validation {
    condition     = can(regex("^[-_.a-zA-Z0-9]{1,50}$", var.objects_table_name))
    error_message = "The objects_table_name must be 1-50 characters of letters, digits, '-', '_' and '.'."
  }
}

variable "changelog_table_name" {
  description = "Name of the change-log table (family c); the functions' STRATA_BIGTABLE_CHANGELOG_TABLE."
  type        = string
  default     = "objectstore_changelog"

  validation {
    condition     = can(regex("^[-_.a-zA-Z0-9]{1,50}$", var.changelog_table_name))
    error_message = "The changelog_table_name must be 1-50 characters of letters, digits, '-', '_' and '.'."
  }
}

variable "deletion_protection" {
  description = "Protect the Bigtable instance and both tables against deletion (turn off to let `terraform destroy` remove them)."
  type        = bool
  default     = true
}

variable "bucket_name" {
  description = "Name of the data bucket; empty means <project_id>-<name>-data."
  type        = string
  default     = ""

  validation {
    condition     = var.bucket_name == "" || can(regex("^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "The bucket_name must be empty or a valid bucket name (3-63 lowercase letters, digits, '-', '_' and '.')."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the data bucket while it still holds objects."
  type        = bool
  default     = false
}

variable "soft_delete_retention_seconds" {
  description = "Soft-delete retention of the data bucket in seconds: 0 disables soft delete (deleted blobs are gone at once), otherwise 604800-7776000. Cost: soft-deleted objects are billed as stored for the whole retention, so every deleted or overwritten large object costs its size for that long."
  type        = number
  default     = 0

  validation {
    condition     = var.soft_delete_retention_seconds == 0 || (var.soft_delete_retention_seconds >= 604800 && var.soft_delete_retention_seconds <= 7776000)
    error_message = "The soft_delete_retention_seconds must be 0 or between 604800 (7 days) and 7776000 (90 days)."
  }
}

variable "uploads_prefix" {
  description = "Reserved prefix of multipart parts in the data bucket; a lifecycle rule deletes what is left there."
  type        = string
  default     = "~uploads/"

  validation {
    condition     = length(var.uploads_prefix) > 0 && endswith(var.uploads_prefix, "/")
    error_message = "The uploads_prefix must be non-empty and end with /."
  }
}

variable "uploads_max_age_days" {
  description = "Age in days after which leftover multipart parts under uploads_prefix are deleted."
  type        = number
  default     = 2

  validation {
    condition     = var.uploads_max_age_days >= 2 && floor(var.uploads_max_age_days) == var.uploads_max_age_days
    error_message = "The uploads_max_age_days must be a whole number of at least 2 (multipart uploads may stay open for a day)."
  }
}

variable "existing_bigtable_instance" {
  description = "Name of an existing Bigtable instance (objectstore's) in project_id to use instead of creating one; needs existing_objects_table. Empty: create the instance. Strata never manages an existing instance, so destroy leaves it alone; it creates only its change-log table there."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.existing_bigtable_instance == "" || can(regex("^[a-z][a-z0-9-]{4,31}[a-z0-9]$", var.existing_bigtable_instance))
    error_message = "The existing_bigtable_instance must be empty or a Bigtable instance id (6-33 lowercase letters, digits and hyphens, starting with a letter), not a full resource name."
  }
}

variable "existing_objects_table" {
  description = "Name of the existing objects table (families fg and fm, objectstore's layout) in existing_bigtable_instance. Empty: create it (then existing_bigtable_instance must be empty too). Never managed when set."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.existing_objects_table == "" || can(regex("^[-_.a-zA-Z0-9]{1,50}$", var.existing_objects_table))
    error_message = "The existing_objects_table must be empty or 1-50 characters of letters, digits, '-', '_' and '.'."
  }
}

variable "existing_bucket" {
  description = "Name of an existing data bucket (objectstore's) in project_id to use instead of creating one. Empty: create it. Never managed when set, lifecycle rules included: add Strata's rules by hand (terraform/README.md, Cutover). It needs uniform bucket-level access (the multipart grants carry an IAM condition)."
  type        = string
  default     = ""
  nullable    = false

  validation {
    condition     = var.existing_bucket == "" || can(regex("^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$", var.existing_bucket))
    error_message = "The existing_bucket must be empty or a valid bucket name (3-63 lowercase letters, digits, '-', '_' and '.')."
  }
}

variable "labels" {
  description = "Labels set on the Bigtable instance and the data bucket."
  type        = map(string)
  default     = {}
}
