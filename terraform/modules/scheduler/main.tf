# Recovery is a bounded pass of the recover function, triggered on a schedule. Each pass claims
# stale change-log entries and fans them out as cleanup tasks, so a missed or failed run only
# delays garbage collection until the next one.

resource "google_cloud_scheduler_job" "recover" {
  project          = var.project_id
  region           = var.region
  name             = var.name
  description      = "Runs one bounded Strata recovery pass."
  schedule         = var.schedule
  time_zone        = var.time_zone
  attempt_deadline = var.attempt_deadline
  paused           = var.paused

  retry_config {
    retry_count          = var.retry_count
    min_backoff_duration = "10s"
    max_backoff_duration = "60s"
    max_doublings        = 2
  }

  http_target {
    uri         = var.recover_uri
    http_method = "POST"
    body        = base64encode("{}")
    headers = {
      "Content-Type" = "application/json"
    }

    oidc_token {
      service_account_email = var.service_account_email
      audience              = var.recover_uri
    }
  }
}
