# Identities. Every function runs as its own service account with only what its operation
# needs (access.tf); Pub/Sub push and Cloud Scheduler each have an account that can invoke
# exactly one function.

resource "google_service_account" "function" {
  for_each = var.functions

  project      = var.project_id
  account_id   = each.value.account_id
  display_name = "Strata function ${each.key}"
  description  = "Runtime identity of the Strata ${each.key} function."

  lifecycle {
    precondition {
      condition     = contains(keys(local.access), each.key)
      error_message = "Function ${each.key} has no line in local.access (modules/iam/access.tf): say what its operation touches before it is deployed."
    }
  }
}

resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = "${var.account_prefix}push"
  display_name = "Strata cleanup push"
  description  = "Identity of the Pub/Sub push subscription; may invoke the cleanup function only."
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "${var.account_prefix}scheduler"
  display_name = "Strata recovery scheduler"
  description  = "Identity of the Cloud Scheduler recovery job; may invoke the recover function only."
}

resource "google_service_account" "build" {
  count = var.create_build_service_account ? 1 : 0

  project      = var.project_id
  account_id   = "${var.account_prefix}build"
  display_name = "Strata function builds"
  description  = "Identity Cloud Build uses to build the Strata functions."
}
