# Sourced by the scripts that run Kazna against this machine's shared engines, to take away
# what a run left there: `forget <database prefix> [<redis key pattern>]` drops every
# database whose name starts with the prefix and unlinks the Redis keys matching the
# pattern. Quiet, and never fails: it runs in clean-up traps.
forget() {
  local prefix="$1" pattern="${2:-}"
  local psql_url="${KAZNA_DATABASE__URL:-postgres://postgres@127.0.0.1:5432}/postgres"
  local redis_url="${KAZNA_REDIS__URL:-redis://127.0.0.1:6379}"
  if command -v psql >/dev/null; then
    local db
    for db in $(psql "$psql_url" -Atc \
        "SELECT datname FROM pg_database WHERE starts_with(datname, '$prefix')" 2>/dev/null); do
      psql "$psql_url" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
  fi
  if [ -n "$pattern" ] && command -v redis-cli >/dev/null; then
    redis-cli -u "$redis_url" --scan --pattern "$pattern" 2>/dev/null |
      xargs -r redis-cli -u "$redis_url" unlink >/dev/null 2>&1 || true
  fi
}
