#!/usr/bin/env bash
# make audit: Lighthouse (mobile preset) on the campaign page and a case page, served by
# gunicorn with production settings (DEBUG off, whitenoise, strict CSP) and batch 2 open.
#   scripts/audit.sh              SQLite in a temporary folder
#   DATABASE_URL=postgres://... scripts/audit.sh   an existing, empty PostgreSQL database
# Prints the four category scores per page and writes the JSON reports to
# artifacts/lighthouse/. Needs node_modules (npm ci) and Chromium (CHROME_PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.venv/bin}
export CHROME_PATH=${CHROME_PATH:-/usr/bin/chromium}
OUT=artifacts/lighthouse
PAGES=("campaign /" "case-031 /cases/031/")
FLAGS="--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync --no-first-run"

[ -x "$CHROME_PATH" ] || { echo "Chromium not found at $CHROME_PATH (apt-get install -y chromium)" >&2; exit 1; }
[ -x node_modules/.bin/lighthouse ] || { echo "node_modules/.bin/lighthouse missing: run npm ci" >&2; exit 1; }

work=$(mktemp -d /tmp/casevote-audit.XXXXXX)
port=$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

export DEBUG=0 SECRET_KEY="$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(50))')"
export ALLOWED_HOSTS=127.0.0.1 DATABASE_URL=${DATABASE_URL:-sqlite:///$work/audit.sqlite3}
export CASEVOTE_SECURE_COOKIES=0 SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0 CASEVOTE_DEMO_GATE=1
export CASEVOTE_SHARED_CACHE_DIR="$work/cache" GUNICORN_BIND="127.0.0.1:$port" LOG_LEVEL=WARNING

echo "Preparing the site (migrate, collectstatic, batch 2 open) on ${DATABASE_URL%%:*}..."
"$BIN/python" manage.py migrate --noinput -v0
"$BIN/python" manage.py collectstatic --noinput -v0
"$BIN/python" manage.py load_cases fixtures/batch2.json >/dev/null
"$BIN/python" manage.py publish_batch --batch 2 --reason "audit: publish batch 2" >/dev/null
"$BIN/python" manage.py set_voting --batch 2 --open-now --days 30 >/dev/null

"$BIN/gunicorn" -c gunicorn.conf.py >"$work/gunicorn.log" 2>&1 &
server=$!
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/gunicorn.log" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "gunicorn did not answer" >&2; exit 1; }

mkdir -p "$OUT"
for entry in "${PAGES[@]}"; do
  read -r name path <<<"$entry"
  url="http://127.0.0.1:$port$path"
  echo "Lighthouse (mobile): $url"
  curl -fsS "$url" >/dev/null  # warm the page cache, as real traffic would
  # On a busy machine Chromium now and then loses the trace (NO_NAVSTART): try again.
  for attempt in 1 2 3; do
    if node_modules/.bin/lighthouse "$url" --chrome-flags="$FLAGS" \
      --only-categories=performance,accessibility,best-practices,seo \
      --output=json --output-path="$OUT/$name.json" --quiet; then
      break
    fi
    [ "$attempt" -lt 3 ] || { echo "Lighthouse failed 3 times on $url" >&2; exit 1; }
    echo "  retrying ($attempt failed)"
  done
done

"$BIN/python" - "$OUT" "${PAGES[@]}" <<'PY'
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
categories = ["performance", "accessibility", "best-practices", "seo"]
targets = {"performance": 90, "accessibility": 95, "best-practices": 95, "seo": 90}
print()
print(f"{'page':<22}" + "".join(f"{c:>16}" for c in categories))
missed = []
for entry in sys.argv[2:]:
    name, path = entry.split()
    report = json.loads((out / f"{name}.json").read_text())
    scores = {c: round(report["categories"][c]["score"] * 100) for c in categories}
    print(f"{path:<22}" + "".join(f"{scores[c]:>16}" for c in categories))
    for c in categories:
        if scores[c] < targets[c]:
            failing = [
                audit["title"]
                for ref in report["categories"][c]["auditRefs"]
                if ref["weight"] and (audit := report["audits"][ref["id"]])["score"] is not None
                and audit["score"] < 0.9
            ]
            missed.append(f"{path} {c} {scores[c]} < {targets[c]}: " + "; ".join(failing))
print("\ntargets: " + ", ".join(f"{c} >= {t}" for c, t in targets.items()))
print(f"reports: {out}/*.json")
for line in missed:
    print("MISSED " + line)
PY
