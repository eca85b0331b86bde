#!/usr/bin/env bash
# Builds dist/functions.zip, the one source zip every Cloud Run function deploys from.
# Extra arguments go to `deploy package` (e.g. -verify to build it like the buildpack and
# start every function once).
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./functions/cmd/deploy package "$@"
