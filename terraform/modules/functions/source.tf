# One zip for every function. Its object name carries the zip's MD5, so a new build is a new
# object and every function is rebuilt from it; an unchanged zip changes nothing.

locals {
  source_exists       = fileexists(var.source_archive_path)
  source_md5          = local.source_exists ? filemd5(var.source_archive_path) : "missing"
  sources_bucket_name = var.sources_bucket_name != "" ? var.sources_bucket_name : "${var.project_id}-${var.name}-sources"
}

resource "google_storage_bucket" "sources" {
  project                     = var.project_id
  name                        = local.sources_bucket_name
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy
  labels                      = var.labels
}

resource "google_storage_bucket_object" "source" {
  bucket       = google_storage_bucket.sources.name
  name         = "functions-${local.source_md5}.zip"
  source       = var.source_archive_path
  content_type = "application/zip"
}

# Plan works without the zip (validate and review need no build); this warns that apply will
# fail until `make package` has written it.
check "source_archive_built" {
  assert {
    condition     = local.source_exists
    error_message = "The source zip ${var.source_archive_path} does not exist: run `make package` (or use `make deploy`, which builds it first) before apply."
  }
}
