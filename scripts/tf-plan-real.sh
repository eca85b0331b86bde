#!/usr/bin/env bash
# Validates and plans terraform/environments/<env> (default: dev and prod) with the real
# hashicorp/google provider, without credentials and without touching any state:
#
#   scripts/tf-plan-real.sh [ENV...] [-- PLAN-ARGS...]
#
# PLAN-ARGS go to every terraform plan after the fixed ones, for example the cutover's
# `-- -var existing_bigtable_instance=objectstore -var existing_objects_table=objectstore
# -var existing_bucket=my-objectstore-bucket`.
#
# Each environment is planned on a copy of terraform/ in a temporary directory, with a
# backend_override.tf that swaps the GCS backend for a local one (so init needs no bucket),
# then `terraform init`, `terraform validate` and
# `terraform plan -refresh=false -var project_id=demo -var region=us-central1`
# with GOOGLE_OAUTH_ACCESS_TOKEN=fake (-refresh=false and no state: nothing is read).
#
# The provider comes from the registry, or from a filesystem mirror when
# $STRATA_TF_MIRROR/terraformrc exists (default mirror: $HOME/.cache/strata/tfmirror; see
# terraform/README.md for building the provider from source). An explicit TF_CLI_CONFIG_FILE
# wins. Set STRATA_TF_PLAN_OUT to a directory to keep each plan there as <env>.tfplan and
# <env>.plan.json (terraform show -json). Not part of `make test`: a fresh machine may be
# unable to get the provider.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

mirror=${STRATA_TF_MIRROR:-$HOME/.cache/strata/tfmirror}
if [ -z "${TF_CLI_CONFIG_FILE:-}" ] || [ ! -f "$TF_CLI_CONFIG_FILE" ]; then
  if [ -f "$mirror/terraformrc" ]; then
    export TF_CLI_CONFIG_FILE=$mirror/terraformrc
  else
    export TF_CLI_CONFIG_FILE=/dev/null # the registry, which needs network access
  fi
fi
export GOOGLE_OAUTH_ACCESS_TOKEN=${GOOGLE_OAUTH_ACCESS_TOKEN:-fake}
export CHECKPOINT_DISABLE=1
echo "TF_CLI_CONFIG_FILE=$TF_CLI_CONFIG_FILE"

envs=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  envs+=("$1")
  shift
done
[ $# -eq 0 ] || shift # the "--"
plan_args=("$@")
[ ${#envs[@]} -gt 0 ] || envs=(dev prod)
out=${STRATA_TF_PLAN_OUT:-}
[ -z "$out" ] || mkdir -p "$out"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Keep the layout (terraform/ beside dist/) so relative paths resolve as in the repository;
# leave out local state and .terraform directories.
mkdir -p "$work/terraform"
(cd "$repo/terraform" && tar -c --exclude=.terraform --exclude='*.tfstate*' --exclude=.terraform.lock.hcl . ) |
  tar -x -C "$work/terraform"

status=0
for env in "${envs[@]}"; do
  dir=$work/terraform/environments/$env
  if [ ! -d "$dir" ]; then
    echo "$env: there is no terraform/environments/$env" >&2
    status=1
    continue
  fi
  printf 'terraform {\n  backend "local" {}\n}\n' >"$dir/backend_override.tf"
  echo "== $env: terraform init && terraform validate && terraform plan -refresh=false -var project_id=demo -var region=us-central1${plan_args[*]:+ ${plan_args[*]}}"
  if ! (
    cd "$dir"
    terraform init -input=false -no-color >init.log 2>&1 || { cat init.log; exit 1; }
    terraform validate -no-color
    terraform plan -input=false -no-color -refresh=false -var project_id=demo -var region=us-central1 \
      ${plan_args[@]+"${plan_args[@]}"} -out="$env.tfplan" >plan.log 2>&1 || { cat plan.log; exit 1; }
    grep -E '^(Plan:|No changes)' plan.log
    if [ -n "$out" ]; then
      cp "$env.tfplan" "$out/"
      terraform show -json "$env.tfplan" >"$out/$env.plan.json"
    fi
  ); then
    echo "$env: FAILED" >&2
    status=1
  fi
done
exit $status
