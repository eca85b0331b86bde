# Monitoring of one Strata deployment: a metric descriptor for every metric of the catalog
# (metrics.json), one dashboard (dashboard.json.tftpl), the availability and latency SLOs
# (slo.tf) and the alert policies (alerts.tf).
#
# metrics.json and dashboard.json.tftpl are generated from tiered/observe/catalog.go by
# `make monitoring` (functions/internal/deploy, TestTerraform_MonitoringFilesUpToDate); do not
# edit them by hand. The .tf files name Strata's metrics by catalog name through local.types,
# never as literal types, and a test checks that every name is in the catalog.

locals {
  metrics = jsondecode(file("${path.module}/metrics.json"))

  # Catalog name => Cloud Monitoring type (workload.googleapis.com/<name>).
  types = { for m in local.metrics : m.name => m.type }
  # Catalog name => entry.
  by_name = { for m in local.metrics : m.name => m }
}

# The exporter in the functions is configured not to create descriptors at run time: they are
# declared here, so that the SLOs and alert policies that read these metrics can be created on
# the first apply, before any point is written. Every label is a STRING (OpenTelemetry
# attributes as the exporter writes them). The exporter adds no resource attribute as a label
# (functions/internal/telemetry: WithFilteredResourceAttributes(NoAttributes)); the monitored
# resource (generic_task, whose job is the Cloud Run service and task_id the instance) keeps
# the functions' and instances' series apart.
resource "google_monitoring_metric_descriptor" "catalog" {
  for_each = local.by_name

  project      = var.project_id
  type         = each.value.type
  display_name = each.key
  description  = each.value.description
  metric_kind  = each.value.metric_kind
  value_type   = each.value.value_type
  unit         = each.value.unit

  dynamic "labels" {
    for_each = each.value.labels
    content {
      key         = labels.value
      value_type  = "STRING"
      description = "OpenTelemetry attribute ${labels.value}."
    }
  }
}

resource "google_monitoring_dashboard" "main" {
  project = var.project_id
  dashboard_json = templatefile("${path.module}/dashboard.json.tftpl", {
    name                     = var.name
    dead_letter_subscription = var.dead_letter_subscription
    bigtable_instance        = var.bigtable_instance
    function_prefix          = var.function_prefix
  })
}
