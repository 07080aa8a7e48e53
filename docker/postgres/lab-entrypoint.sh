#!/bin/sh
# The `lab` target's entrypoint: what postgres:16's does for this lab, in short. On an empty data
# directory: initdb with POSTGRES_USER as the superuser (password from POSTGRES_PASSWORD, scram-sha-256
# for every TCP connection) and POSTGRES_DB created; then the server runs as the postgres OS user.
set -eu
if [ "$(id -u)" = 0 ]; then
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  exec gosu postgres "$0" "$@"
fi
if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set (the warehouse superuser's password)}"
  user="${POSTGRES_USER:-postgres}"
  db="${POSTGRES_DB:-$user}"
  for name in "$user" "$db"; do
    case "$name" in
      ""|[!a-z_]*|*[!a-z0-9_]*) echo "lab-entrypoint: POSTGRES_USER/POSTGRES_DB '$name' must match [a-z_][a-z0-9_]*" >&2; exit 2;;
    esac
  done
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C >/dev/null
  rm -f "$pwfile"
  printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    postgres --single -D "$PGDATA" -j postgres <<SQL >/dev/null
CREATE DATABASE "$db" OWNER "$user";
SQL
  fi
  echo "lab-entrypoint: initialised $PGDATA (superuser $user, database $db)"
fi
exec "$@"
