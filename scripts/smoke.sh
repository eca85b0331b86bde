#!/usr/bin/env bash
# Smoke test of a deployed Strata: PUT, GET, HEAD and DELETE of one object, then a GET that
# must be 404. STRATA_E2E_URL is the base URL (the `url` output of `make deploy`);
# STRATA_TOKEN, if set, is sent as x-os-auth (needed when auth is enforced).
# SMOKE_USECASE and SMOKE_SCOPES choose where the object goes (default smoke and _).
set -euo pipefail

url="${STRATA_E2E_URL:?set STRATA_E2E_URL to the deployed base URL, e.g. https://objects.example.com}"
url="${url%/}"
usecase="${SMOKE_USECASE:-smoke}"
scopes="${SMOKE_SCOPES:-_}"
key="smoke-$(date +%s)-$$"
object="$url/v1/objects/$usecase/$scopes/$key"
body="strata smoke test $key"

auth=()
if [ -n "${STRATA_TOKEN:-}" ]; then
  auth=(-H "x-os-auth: $STRATA_TOKEN")
fi

fail() { echo "smoke: FAIL: $*" >&2; exit 1; }

# request METHOD URL [curl args...]: prints the status code; the body goes to $tmp.
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
request() {
  local method=$1 target=$2
  shift 2
  curl --silent --show-error --max-time 60 -X "$method" ${auth[@]+"${auth[@]}"} -o "$tmp" -w '%{http_code}' "$@" "$target"
}

status=$(request PUT "$object" -H 'content-type: text/plain' --data-binary "$body")
[ "$status" = 200 ] || fail "PUT $object answered $status: $(cat "$tmp")"
echo "smoke: PUT    $status"

status=$(request GET "$object")
[ "$status" = 200 ] || fail "GET answered $status: $(cat "$tmp")"
[ "$(cat "$tmp")" = "$body" ] || fail "GET returned a different body: $(cat "$tmp")"
echo "smoke: GET    $status (body matches)"

status=$(curl --silent --show-error --max-time 60 --head ${auth[@]+"${auth[@]}"} -o /dev/null -w '%{http_code}' "$object")
[ "$status" = 204 ] || [ "$status" = 200 ] || fail "HEAD answered $status"
echo "smoke: HEAD   $status"

status=$(request DELETE "$object")
[ "$status" = 204 ] || fail "DELETE answered $status: $(cat "$tmp")"
echo "smoke: DELETE $status"

status=$(request GET "$object")
[ "$status" = 404 ] || fail "GET after DELETE answered $status"
echo "smoke: GET    $status after delete"
echo "smoke: OK ($url)"
