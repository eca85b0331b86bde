# Until the stack moved into modules/strata, this environment declared its resources itself.
# These blocks move existing state to the new addresses, so nothing is destroyed or
# recreated. Keep them while any deployment may still hold state from before the move.

moved {
  from = google_project_service.required
  to   = module.strata.google_project_service.required
}

moved {
  from = module.routing
  to   = module.strata.module.routing
}

moved {
  from = module.storage
  to   = module.strata.module.storage
}

moved {
  from = module.iam
  to   = module.strata.module.iam
}

moved {
  from = module.messaging
  to   = module.strata.module.messaging
}

moved {
  from = module.functions
  to   = module.strata.module.functions
}

moved {
  from = module.scheduler
  to   = module.strata.module.scheduler
}

moved {
  from = module.frontend
  to   = module.strata.module.frontend
}
