# The long-term tier: blobs larger than the inline threshold, one object per revision, and
# multipart parts under the reserved uploads prefix.
#
# With existing_bucket set (a cutover from objectstore) the bucket is objectstore's: count is
# 0, so Strata never manages it, its lifecycle rules included. The operator adds the rules
# Strata needs there by hand (terraform/README.md, Cutover).

resource "google_storage_bucket" "data" {
  count = var.existing_bucket == "" ? 1 : 0

  project                     = var.project_id
  name                        = local.bucket_name
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy
  labels                      = var.labels

  versioning {
    enabled = false
  }

  soft_delete_policy {
    retention_duration_seconds = var.soft_delete_retention_seconds
  }

  # Expired objects: Strata sets customTime to an object's expiry deadline and hides expired
  # objects on read; this rule removes them a day later.
  lifecycle_rule {
    condition {
      days_since_custom_time = 1
    }
    action {
      type = "Delete"
    }
  }

  # Multipart parts of uploads that were never completed or aborted.
  lifecycle_rule {
    condition {
      age            = var.uploads_max_age_days
      matches_prefix = [var.uploads_prefix]
    }
    action {
      type = "Delete"
    }
  }
}
