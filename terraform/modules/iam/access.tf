# Least privilege, per function. Every function of the route table runs as its own service
# account, and local.access says what its operation touches; grants.tf turns each line into
# grants on single resources (one table, the data bucket, the cleanup topic). Nothing is
# granted on the Bigtable instance, and on the project only what exists nowhere else: the
# telemetry roles below. functions/internal/deploy
# (TestTerraform_LeastPrivilege) holds the same table, derived from the code, and fails when a
# grant here is wider (or narrower) than its operation needs.
#
# What the operations do (tiered/doc.go, tiered/bigtablebackend/doc.go, tiered/gcsbackend/doc.go):
#   - Every read of an object row may bump a due TTI deadline with a CheckAndMutateRow, and a
#     read through a tombstone PATCHes the GCS object's customTime; so get and head write.
#   - Put, delete, batch and multipart complete log their change in the change-log table
#     (Record/Update/Refresh: CheckAndMutateRow; Remove: MutateRow) and publish its cleanup
#     task. Get, head and the multipart part operations log nothing and publish nothing.
#   - Only cleanup deletes revisions; a put, a delete or a lost race leaves that to it. The
#     multipart operations work under "~uploads/" only, except complete, which composes the
#     parts into the new revision and reads it back.
#   - cleanup reads the change-log entry, settles it from the object's row, deletes doomed
#     revisions, aborts a leftover upload and removes the entry; it publishes nothing.
#   - recover claims stale change-log entries (ReadRows, CheckAndMutateRow), rewrites them
#     and publishes their tasks; it touches neither objects nor the bucket.
#
# Columns: objects_table and changelog_table name a Bigtable role (below) on that table, or
# null; objects is a list of GCS roles on every object of the data bucket; uploads a list of
# GCS roles on objects under "~uploads/" and on listings with that prefix (an IAM condition);
# publish is roles/pubsub.publisher on the cleanup topic; telemetry is local.telemetry_roles
# on the project.
#
# Telemetry: every function records metrics and traces through OpenTelemetry and, deployed,
# exports them to Cloud Monitoring and Cloud Trace as its own service account. Writing time
# series needs monitoring.timeSeries.create (roles/monitoring.metricWriter) and writing spans
# cloudtrace.traces.patch (roles/cloudtrace.agent). Both APIs take only a project, so these
# two predefined roles are granted on the project; neither reads anything. The metric
# descriptors are declared by modules/monitoring, so no function needs to create one.
#
# Listing: GCS, like S3, may answer a read or delete of a missing object with 403 rather
# than 404 when the caller may not list the bucket. Strata relies on that 404 (a read racing
# an overwrite re-reads the row; cleanup deleting a revision already gone is done), so every
# function that reads or deletes objects that may be gone may also list the bucket. The
# multipart part operations list only under "~uploads/" (see the README's Security section).
#
# Known narrowings (README.md, Security): cleanup may only read object rows, so a TTI bump it
# would make while settling is refused and logged; object-put and object-post may not
# overwrite, so a retried single-request upload whose first attempt landed fails (the put
# reports an error, cleanup deletes the revision, the client retries); multipart-complete may
# delete only under "~uploads/", so a recompose over a revision left by an earlier failed
# attempt is refused and the existing revision is used.

locals {
  access = {
    "object-get"            = { objects_table = "rows_reader_cas", changelog_table = null, objects = ["object_reader_bumper", "object_lister"], uploads = [], publish = false, telemetry = true }
    "object-head"           = { objects_table = "rows_reader_cas", changelog_table = null, objects = ["object_reader_bumper", "object_lister"], uploads = [], publish = false, telemetry = true }
    "object-put"            = { objects_table = "rows_reader_cas", changelog_table = "rows_writer", objects = ["object_creator"], uploads = [], publish = true, telemetry = true }
    "object-post"           = { objects_table = "rows_reader_cas", changelog_table = "rows_writer", objects = ["object_creator"], uploads = [], publish = true, telemetry = true }
    "object-delete"         = { objects_table = "rows_reader_cas", changelog_table = "rows_writer", objects = [], uploads = [], publish = true, telemetry = true }
    "object-batch"          = { objects_table = "rows_reader_cas", changelog_table = "rows_writer", objects = ["object_reader_bumper", "object_creator", "object_lister"], uploads = [], publish = true, telemetry = true }
    "multipart-initiate"    = { objects_table = null, changelog_table = null, objects = [], uploads = ["object_creator"], publish = false, telemetry = true }
    "multipart-upload-part" = { objects_table = null, changelog_table = null, objects = [], uploads = ["object_reader", "object_creator", "object_deleter"], publish = false, telemetry = true }
    "multipart-list-parts"  = { objects_table = null, changelog_table = null, objects = [], uploads = ["object_reader", "object_lister"], publish = false, telemetry = true }
    "multipart-abort"       = { objects_table = null, changelog_table = null, objects = [], uploads = ["object_reader", "object_lister", "object_deleter"], publish = false, telemetry = true }
    "multipart-complete"    = { objects_table = "rows_reader_cas", changelog_table = "rows_writer", objects = ["object_reader", "object_creator", "object_lister"], uploads = ["object_lister", "object_deleter"], publish = true, telemetry = true }
    "cleanup"               = { objects_table = "rows_reader", changelog_table = "rows_writer", objects = ["object_deleter", "object_lister"], uploads = ["object_reader", "object_lister"], publish = false, telemetry = true }
    "recover"               = { objects_table = null, changelog_table = "rows_reader_cas", objects = [], uploads = [], publish = true, telemetry = true }
  }

  # Predefined roles every function with telemetry = true gets on the project.
  telemetry_roles = ["roles/monitoring.metricWriter", "roles/cloudtrace.agent"]

  # Project custom roles, one per capability, so that no grant carries a permission nobody
  # uses (roles/bigtable.user adds MutateRows and ReadModifyWriteRow on objects; roles/storage.*
  # add listing, deletion or folder permissions). Role ids take the deployment's account
  # prefix, so deployments sharing a project keep their own roles.
  custom_roles = {
    rows_reader = {
      title       = "Strata: read rows"
      permissions = ["bigtable.tables.readRows"]
    }
    rows_reader_cas = {
      title       = "Strata: read rows, conditional writes"
      permissions = ["bigtable.tables.checkAndMutateRow", "bigtable.tables.readRows"]
    }
    rows_writer = {
      title       = "Strata: read rows, conditional and plain writes"
      permissions = ["bigtable.tables.checkAndMutateRow", "bigtable.tables.mutateRows", "bigtable.tables.readRows"]
    }
    object_reader = {
      title       = "Strata: read objects"
      permissions = ["storage.objects.get"]
    }
    object_reader_bumper = {
      title       = "Strata: read objects, patch their metadata (TTI customTime)"
      permissions = ["storage.objects.get", "storage.objects.update"]
    }
    object_creator = {
      title       = "Strata: create objects (no overwrite)"
      permissions = ["storage.objects.create"]
    }
    object_deleter = {
      title       = "Strata: delete objects"
      permissions = ["storage.objects.delete"]
    }
    object_lister = {
      title       = "Strata: list objects"
      permissions = ["storage.objects.list"]
    }
  }

  role_id_prefix = replace(var.account_prefix, "-", "_")

  # An object under "~uploads/", or a listing whose prefix starts there (every listing Strata
  # makes is of one upload's prefix).
  uploads_condition = "resource.name.startsWith(\"projects/_/buckets/${var.data_bucket}/objects/~uploads/\") || api.getAttribute(\"storage.googleapis.com/objectListPrefix\", \"\").startsWith(\"~uploads/\")"

  objects_table_grants   = { for name, f in var.functions : name => local.access[name].objects_table if local.access[name].objects_table != null }
  changelog_table_grants = { for name, f in var.functions : name => local.access[name].changelog_table if local.access[name].changelog_table != null }
  bucket_grants = merge(
    { for g in flatten([for name, f in var.functions : [for role in local.access[name].objects : { function = name, role = role }]]) : "${g.function}/${g.role}" => merge(g, { uploads_only = false }) },
    { for g in flatten([for name, f in var.functions : [for role in local.access[name].uploads : { function = name, role = role }]]) : "${g.function}/${g.role}/uploads" => merge(g, { uploads_only = true }) },
  )
  publishers = toset([for name, f in var.functions : name if local.access[name].publish])
  telemetry_grants = {
    for g in setproduct([for name, f in var.functions : name if local.access[name].telemetry], local.telemetry_roles) :
    "${g[0]}/${g[1]}" => { function = g[0], role = g[1] }
  }
}

resource "google_project_iam_custom_role" "strata" {
  for_each = local.custom_roles

  project     = var.project_id
  role_id     = "${local.role_id_prefix}${each.key}"
  title       = each.value.title
  description = "Strata (${var.account_prefix}): ${join(", ", each.value.permissions)}. Granted per function on single resources."
  permissions = each.value.permissions
}
