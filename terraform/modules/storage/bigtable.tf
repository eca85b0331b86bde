# The high-volume tier: objects inline in the objects table, the write-ahead change log in its
# own table. The families and GC rules mirror tiered/bigtablebackend (CreateTables), which
# sets up the same tables for the emulator.
#
# With existing_bigtable_instance and existing_objects_table set (a cutover from objectstore),
# the instance, the objects table and its GC policy are objectstore's: count is 0, so they are
# never in this state and no plan or destroy can change them. The change log is Strata's own
# and is always created here, in whichever instance holds the objects table: the backend opens
# one Bigtable client per instance for both tables.

resource "google_bigtable_instance" "main" {
  count = local.create_bigtable ? 1 : 0

  project             = var.project_id
  name                = var.name
  display_name        = var.name
  deletion_protection = var.deletion_protection
  labels              = var.labels

  # With bigtable_autoscaling set, Bigtable sizes the cluster between its min_nodes and
  # max_nodes to hold its CPU and per-node storage targets, and num_nodes is left unset (the
  # provider ignores it next to autoscaling_config). Switching between the two is an in-place
  # update; only the zone, the storage type and the key force a new cluster.
  cluster {
    cluster_id   = "${var.name}-c1"
    zone         = local.bigtable_zone
    num_nodes    = var.bigtable_autoscaling == null ? var.bigtable_num_nodes : null
    storage_type = var.bigtable_storage_type

    dynamic "autoscaling_config" {
      for_each = var.bigtable_autoscaling == null ? [] : [var.bigtable_autoscaling]
      content {
        min_nodes      = autoscaling_config.value.min_nodes
        max_nodes      = autoscaling_config.value.max_nodes
        cpu_target     = autoscaling_config.value.cpu_target_percent
        storage_target = autoscaling_config.value.storage_target_gib
      }
    }
  }
}

# Objects, keyed by storage path. fg holds rows with an expiry (cell timestamp = deadline) and
# is collected 1s after it; fm holds rows without expiry and is never collected.
resource "google_bigtable_table" "objects" {
  count = local.create_bigtable ? 1 : 0

  project             = var.project_id
  instance_name       = google_bigtable_instance.main[0].name
  name                = var.objects_table_name
  deletion_protection = local.table_deletion_protection

  column_family {
    family = "fg"
  }
  column_family {
    family = "fm"
  }
}

resource "google_bigtable_gc_policy" "objects_fg" {
  count = local.create_bigtable ? 1 : 0

  project         = var.project_id
  instance_name   = google_bigtable_instance.main[0].name
  table           = google_bigtable_table.objects[0].name
  column_family   = "fg"
  deletion_policy = "ABANDON"

  max_age {
    duration = "1s"
  }
}

# The change log: one row per in-flight change in family c; only the newest cell matters.
resource "google_bigtable_table" "changelog" {
  project             = var.project_id
  instance_name       = local.bigtable_instance
  name                = var.changelog_table_name
  deletion_protection = local.table_deletion_protection

  column_family {
    family = "c"
  }
}

resource "google_bigtable_gc_policy" "changelog_c" {
  project         = var.project_id
  instance_name   = local.bigtable_instance
  table           = google_bigtable_table.changelog.name
  column_family   = "c"
  deletion_policy = "ABANDON"

  max_version {
    number = 1
  }
}
