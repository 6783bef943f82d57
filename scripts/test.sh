#!/usr/bin/env bash
# Runs every test of the workspace against the real services, then prints one total line.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh || exit 1
# Databases a crashed earlier test run left behind (tests name theirs kt_<id>_<service>).
psql_url="${KAZNA_DATABASE__URL:-postgres://postgres@127.0.0.1:5432}/postgres"
if command -v psql >/dev/null; then
  for db in $(psql "$psql_url" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'kt\_%'" 2>/dev/null); do
    psql "$psql_url" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
fi
log="$(mktemp)"
cargo test --workspace --all-targets "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
read -r passed failed < <(awk '/^test result:/ {
  for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }
} END { print p + 0, f + 0 }' "$log")
rm -f "$log"
echo
echo "tests: ${passed:-0} passed, ${failed:-0} failed"
exit "$status"
