#!/usr/bin/env bash
# The system packages the slow test tiers need, installed when missing:
#   PostgreSQL (load tier, races), Chromium and a CJK font (browser tier; Playwright's own
#   browser download does not work here), Node (axe-core, Lighthouse), Redis, PgBouncer
#   and nginx (the cluster tier and `make cluster`).
# Used by .ci/run (where it must succeed) and by `make test` with --best-effort: there,
# without root, apt-get or a network it says what it could not install and carries on,
# and each tier whose prerequisite is missing is skipped with one line naming it.
set -uo pipefail
best_effort=0
[ "${1:-}" = "--best-effort" ] && best_effort=1

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-microhei)
command -v npm >/dev/null || missing+=(nodejs npm)
# pgbouncer and nginx live in sbin, which a normal user's PATH may lack.
for server in redis-server pgbouncer nginx; do
  PATH="$PATH:/usr/sbin:/sbin" command -v $server >/dev/null || missing+=($server)
done
[ ${#missing[@]} -eq 0 ] && exit 0

give_up() {
  echo "system packages not installed ($1): ${missing[*]} — the tiers that need them are skipped" >&2
  [ $best_effort -eq 1 ] && exit 0
  exit 1
}
[ "$(id -u)" -eq 0 ] || give_up "not root"
command -v apt-get >/dev/null || give_up "no apt-get"
export DEBIAN_FRONTEND=noninteractive
echo "installing: ${missing[*]}"
apt-get update -qq </dev/null || give_up "apt-get update failed"
apt-get install -y -qq "${missing[@]}" </dev/null >/dev/null || give_up "apt-get install failed"
