# Decodes the route table and derives everything the other modules need from it: the functions
# to deploy (entry point, exposure, deployed name, service account id) and the load balancer's
# route rules. Nothing here talks to an API.

locals {
  doc = jsondecode(var.routes_json)

  # Service account ids are 6-30 characters; a long "<prefix><function>" keeps its first 25
  # characters and gets a 4-character hash of the function name, which keeps ids unique.
  raw_account_ids = { for f in local.doc.functions : f.name => "${var.account_prefix}${f.name}" }
  account_ids = {
    for name, id in local.raw_account_ids :
    name => length(id) <= 30 ? id : "${substr(id, 0, 25)}-${substr(md5(name), 0, 4)}"
  }

  functions = {
    for f in local.doc.functions : f.name => {
      entry_point   = f.name
      exposure      = f.exposure
      public        = f.exposure == "public"
      methods       = f.methods
      deployed_name = "${var.name_prefix}${f.name}"
      account_id    = local.account_ids[f.name]
    }
  }

  public_functions   = sort([for name, f in local.functions : name if f.public])
  internal_functions = sort([for name, f in local.functions : name if !f.public])

  route_rules = [
    for r in local.doc.route_rules : {
      priority = r.priority
      prefix   = r.prefix
      method   = r.method
      function = r.function
    }
  ]

  priorities = [for r in local.route_rules : r.priority]
  rule_keys  = [for r in local.route_rules : "${r.method} ${r.prefix}"]
}
