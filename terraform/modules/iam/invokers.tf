# The only invoker grants on the internal functions: the push account on cleanup, the scheduler
# account on recover. (Request-path functions get theirs in the frontend module.)

resource "google_cloud_run_service_iam_member" "cleanup_invoker" {
  project  = var.project_id
  location = var.region
  service  = var.cleanup_service
  role     = "roles/run.invoker"
  member   = google_service_account.push.member
}

resource "google_cloud_run_service_iam_member" "recover_invoker" {
  project  = var.project_id
  location = var.region
  service  = var.recover_service
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}
