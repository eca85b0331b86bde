#!/usr/bin/env bash
# `make tf-validate`: terraform validate and plan of every environment with the real
# hashicorp/google provider, taken from the filesystem mirror only (never the registry), via
# scripts/tf-plan-real.sh. Not part of `make test`: a fresh machine has no mirror. Without the
# mirror it says how to build one and exits 2.
set -euo pipefail
cd "$(dirname "$0")/.."

mirror=${STRATA_TF_MIRROR:-$HOME/.cache/strata/tfmirror}
if [ ! -f "$mirror/terraformrc" ]; then
  cat >&2 <<MSG
tf-validate: no google provider mirror at $mirror (no terraformrc there).
Build it from the provider's source (about 4 minutes on 2 cores; the binary is never committed):
  1. fetch github:hashicorp/terraform-provider-google, a git copy of the provider's source
     (for example: git clone --bare https://github.com/hashicorp/terraform-provider-google.git)
  2. ../shared/tools/build-tf-provider.sh <that git directory>
     (it installs the provider into \$STRATA_TF_MIRROR, default \$HOME/.cache/strata/tfmirror,
     and writes terraformrc there)
Then run make tf-validate again. STRATA_TF_MIRROR=<dir> points at a mirror elsewhere.
MSG
  exit 2
fi

export STRATA_TF_MIRROR=$mirror
export TF_CLI_CONFIG_FILE=$mirror/terraformrc
exec scripts/tf-plan-real.sh "$@"
