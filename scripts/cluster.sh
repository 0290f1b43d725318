#!/usr/bin/env bash
# make cluster: PostgreSQL, Redis, PgBouncer (transaction pooling), two gunicorn nodes and
# nginx round-robin in front, with deploy/'s configuration files (tools/cluster.py).
#   scripts/cluster.sh [--port 8080] [--nodes 2] [--workers 2] [--root DIR]
# Prints the URL; Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m tools.cluster "$@"
