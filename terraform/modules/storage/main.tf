# Strata's two storage tiers: Bigtable for small objects and the change log (bigtable.tf), a
# GCS bucket for large objects and multipart parts (gcs.tf). The layout is objectstore's, so a
# new Strata deployment may also point at an existing objectstore instance, objects table and
# bucket (the existing_* inputs) instead of creating its own; it then never manages them.

locals {
  bigtable_zone             = var.bigtable_zone != "" ? var.bigtable_zone : "${var.region}-b"
  table_deletion_protection = var.deletion_protection ? "PROTECTED" : "UNPROTECTED"
  bucket_name               = var.bucket_name != "" ? var.bucket_name : "${var.project_id}-${var.name}-data"

  # Whether this module creates the instance and the objects table, or uses objectstore's.
  create_bigtable   = var.existing_bigtable_instance == ""
  bigtable_instance = local.create_bigtable ? google_bigtable_instance.main[0].name : var.existing_bigtable_instance
  objects_table     = local.create_bigtable ? google_bigtable_table.objects[0].name : var.existing_objects_table
  bucket            = var.existing_bucket == "" ? google_storage_bucket.data[0].name : var.existing_bucket
}
