#!/usr/bin/env bash
# Packages the functions and deploys terraform/environments/${STRATA_ENV:-dev}.
# Needs GOOGLE_CLOUD_PROJECT (or STRATA_PROJECT) and STRATA_REGION (or GOOGLE_CLOUD_REGION);
# extra arguments go to `deploy apply` (e.g. -var domain=objects.example.com).
# State is in GCS: the bucket <project>-strata-tfstate (or STRATA_TF_STATE_BUCKET) is created
# on first use, and terraform init gets -backend-config=bucket=… -backend-config=prefix=strata/<env>.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./functions/cmd/deploy apply "$@"
