#!/usr/bin/env bash
# Start (or stop) a throwaway PostgreSQL cluster on 127.0.0.1 for tests and benchmarks.
#   scripts/postgres.sh start   -> prints the DATABASE_URL to use
#   scripts/postgres.sh stop
# The packaged default cluster does not start on these machines, so we run our own,
# owned by the postgres user, in $PGROOT (default /tmp/casevote-pg).
set -euo pipefail

PGROOT=${PGROOT:-/tmp/casevote-pg}
PGPORT=${PGPORT:-54329}
PGDB=${PGDB:-casevote}

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$dir" ]; then
    echo "PostgreSQL is not installed: apt-get install -y postgresql" >&2
    exit 1
  fi
  echo "$dir"
}

as_postgres() { su postgres -s /bin/bash -c "$*"; }

start() {
  local bin
  bin=$(pg_bin)
  install -d -o postgres -g postgres "$PGROOT"
  if [ ! -f "$PGROOT/data/PG_VERSION" ]; then
    as_postgres "$bin/initdb -D $PGROOT/data -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
  fi
  if ! as_postgres "$bin/pg_ctl -D $PGROOT/data status" >/dev/null 2>&1; then
    if ! as_postgres "$bin/pg_ctl -D $PGROOT/data -l $PGROOT/server.log -w \
      -o '-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGROOT -c fsync=${PGFSYNC:-on}' start" >/dev/null; then
      echo "PostgreSQL did not start; its log ($PGROOT/server.log):" >&2
      tail -n 20 "$PGROOT/server.log" >&2
      exit 1
    fi
  fi
  if ! as_postgres "$bin/psql -h 127.0.0.1 -p $PGPORT -Atqc \"select 1 from pg_database where datname='$PGDB'\"" | grep -q 1; then
    as_postgres "$bin/createdb -h 127.0.0.1 -p $PGPORT $PGDB"
  fi
  echo "postgres://postgres@127.0.0.1:$PGPORT/$PGDB"
}

stop() {
  local bin
  bin=$(pg_bin)
  if [ -f "$PGROOT/data/PG_VERSION" ]; then
    as_postgres "$bin/pg_ctl -D $PGROOT/data -m fast stop" >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
