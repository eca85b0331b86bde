# Strata's two storage tiers: Bigtable for small objects and the change log (bigtable.tf), a
# GCS bucket for large objects and multipart parts (gcs.tf). The layout is objectstore's, so an
# existing objectstore table and bucket can be pointed at by Strata.

locals {
  bigtable_zone             = var.bigtable_zone != "" ? var.bigtable_zone : "${var.region}-b"
  table_deletion_protection = var.deletion_protection ? "PROTECTED" : "UNPROTECTED"
  bucket_name               = var.bucket_name != "" ? var.bucket_name : "${var.project_id}-${var.name}-data"
}
