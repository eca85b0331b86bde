# The shared resources gained count (0 when the existing_* inputs name objectstore's); a
# deployment made before that keeps them, now at index 0, unchanged.

moved {
  from = google_bigtable_instance.main
  to   = google_bigtable_instance.main[0]
}

moved {
  from = google_bigtable_table.objects
  to   = google_bigtable_table.objects[0]
}

moved {
  from = google_bigtable_gc_policy.objects_fg
  to   = google_bigtable_gc_policy.objects_fg[0]
}

moved {
  from = google_storage_bucket.data
  to   = google_storage_bucket.data[0]
}
