#!/usr/bin/env bash
# Destroys terraform/environments/${STRATA_ENV:-dev}; asks for the project id unless
# -auto-approve is given. Needs the same variables as deploy.sh, and inits against the same
# state bucket and prefix (it never creates the bucket).
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./functions/cmd/deploy destroy "$@"
