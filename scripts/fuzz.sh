#!/usr/bin/env bash
# The contract fuzz: schemathesis, from PyPI in a virtual environment of its own, against the
# gateway's merged /openapi.json on a running platform, signed in as an admin. Every answer
# must be documented (status, content type, body schema) and none may be a server error.
#
# The platform runs from the debug binary the tests built, with databases, Redis keys,
# queues, ports and data directories of its own, and is taken down again at the end.
# Arguments go to `st run` (e.g. --max-examples 20 for a quick look).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/lib/forget.sh

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES="${FUZZ_EXAMPLES:-100}"
PORT="${FUZZ_PORT:-18080}"
venv=target/fuzz-venv
kazna=target/debug/kazna

say() { printf 'fuzz: %s\n' "$*"; }

if [ ! -x "$venv/bin/st" ] || ! "$venv/bin/st" --version | grep -q "$SCHEMATHESIS_VERSION"; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
cargo build --quiet -p kazna

id="$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
work="$(mktemp -d -t kazna-fuzz-XXXXXX)"
export KAZNA_DATABASE__NAME_PREFIX="kfuzz_${id}_"
export KAZNA_REDIS__KEY_PREFIX="kfuzz:${id}:"
# One exchange for every fuzz run, so runs leave none behind; the queues are each run's own and
# expire once unused.
export KAZNA_AMQP__EXCHANGE="kfuzz.events"
export KAZNA_AMQP__QUEUE_PREFIX="kfuzz.${id}"
export KAZNA_AMQP__QUEUE_EXPIRES_MS=600000
export KAZNA_AUTH__ACCESS_TOKEN_TTL_SECS=3600
export KAZNA_LOG__LEVEL="${FUZZ_LOG:-error}"
export KAZNA_SEARCH__DATA_DIR="$work/search"
export KAZNA_NOTIFICATIONS__OUTBOX_DIR="$work/outbox"
i=0
for svc in gateway users catalog search cart orders payments notifications; do
  upper="$(tr '[:lower:]' '[:upper:]' <<<"$svc")"
  export "KAZNA_SERVICES__${upper}__BIND=127.0.0.1:$((PORT + i))"
  export "KAZNA_SERVICES__${upper}__URL=http://127.0.0.1:$((PORT + i))"
  i=$((i + 1))
done
base="http://127.0.0.1:$PORT"
export KAZNA_GATEWAY__PUBLIC_URL="$base"

pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  forget "kfuzz_${id}_" "kfuzz:${id}:*"
  rm -rf "$work"
}
trap cleanup EXIT

"$kazna" seed --demo --products 30 >"$work/seed.log" 2>&1 || { cat "$work/seed.log"; exit 1; }
"$kazna" up >"$work/platform.log" 2>&1 &
pid=$!
for _ in $(seq 1 240); do
  curl -fsS "$base/health/ready" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/platform.log"; exit 1; }
  sleep 0.25
done
token="$(curl -fsS "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"admin@demo.kazna.local","password":"demo-admin-pass"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"

say "schemathesis against $base/openapi.json, $EXAMPLES examples per operation"
# One worker: schemathesis is bound by its own CPU, and with threads hypothesis sometimes fails
# inside CPython 3.11's ast module ("AST constructor recursion depth mismatch").
status=0
"$venv/bin/st" run "$base/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$EXAMPLES" \
  --header "Authorization: Bearer $token" \
  --workers "${FUZZ_WORKERS:-1}" \
  --request-timeout 20 \
  --seed "${FUZZ_SEED:-1}" \
  --output-truncate true \
  "$@" || status=$?
if [ "$status" -ne 0 ] && [ -n "${FUZZ_SHOW_LOG:-}" ]; then
  tail -n 100 "$work/platform.log"
fi
exit "$status"
