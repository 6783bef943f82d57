#!/usr/bin/env bash
# Makes sure PostgreSQL, Redis and RabbitMQ answer where Kazna is configured to find them.
# Idempotent: what already answers is left alone. Otherwise it starts what is installed,
# else uses Docker Compose where a Docker engine runs, else installs the distribution's
# packages (Debian/Ubuntu) and starts those. Development set-up: PostgreSQL it installs
# itself trusts connections from this machine.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# host:port of each dependency, from the same variables Kazna reads.
hostport() { # url default
  local url="${1:-$2}" rest
  rest="${url#*://}"; rest="${rest#*@}"; rest="${rest%%/*}"; rest="${rest%%\?*}"
  echo "$rest"
}
PG="$(hostport "${KAZNA_DATABASE__URL:-}" postgres://postgres@127.0.0.1:5432)"
REDIS="$(hostport "${KAZNA_REDIS__URL:-}" redis://127.0.0.1:6379)"
AMQP="$(hostport "${KAZNA_AMQP__URL:-}" amqp://guest:guest@127.0.0.1:5672/%2f)"

say() { printf 'setup: %s\n' "$*"; }
answers() { # host:port
  local host="${1%:*}" port="${1##*:}"
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}
wait_for() { # name host:port seconds
  local i
  for ((i = 0; i < $3 * 4; i++)); do
    answers "$2" && { say "$1 answers on $2"; return 0; }
    sleep 0.25
  done
  say "$1 does not answer on $2 after $3 s"; return 1
}
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
local_target() { case "${1%:*}" in 127.0.0.1|localhost|::1) return 0;; *) return 1;; esac; }

need=()
answers "$PG" || need+=(postgres)
answers "$REDIS" || need+=(redis)
answers "$AMQP" || need+=(rabbitmq)
if [ ${#need[@]} -eq 0 ]; then
  say "PostgreSQL, Redis and RabbitMQ already answer"
  exit 0
fi
for svc in "${need[@]}"; do
  case $svc in postgres) t=$PG;; redis) t=$REDIS;; rabbitmq) t=$AMQP;; esac
  local_target "$t" || { say "$svc is configured at $t, which is not this machine: start it there"; exit 1; }
done
say "not answering: ${need[*]}"

start_postgres() {
  command -v pg_ctlcluster >/dev/null || return 1
  local v
  for v in $(ls /etc/postgresql 2>/dev/null); do
    as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || true
  done
  answers "$PG" || sleep 2
  answers "$PG"
}
start_redis() {
  command -v redis-server >/dev/null || return 1
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "${REDIS##*:}" \
    --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/kazna.log
}
start_rabbitmq() {
  command -v rabbitmq-server >/dev/null || return 1
  as_root rabbitmq-server -detached >/dev/null 2>&1 || true
}
trust_local_postgres() {
  local hba
  for hba in /etc/postgresql/*/main/pg_hba.conf; do
    [ -f "$hba" ] || continue
    grep -q 'kazna: trust local' "$hba" && continue
    as_root sed -i '1i # kazna: trust local development connections\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  done
}

try_installed() {
  local ok=0 svc
  for svc in "${need[@]}"; do
    "start_$svc" || ok=1
  done
  return $ok
}

if try_installed; then
  say "started the installed servers"
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  say "starting them with Docker Compose"
  docker compose -f "$here/compose.yaml" up -d "${need[@]}"
elif command -v apt-get >/dev/null; then
  say "installing the distribution's packages"
  pkgs=()
  for svc in "${need[@]}"; do
    case $svc in postgres) pkgs+=(postgresql);; redis) pkgs+=(redis-server);; rabbitmq) pkgs+=(rabbitmq-server);; esac
  done
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"
  trust_local_postgres
  for svc in "${need[@]}"; do "start_$svc" || true; done
  command -v pg_ctlcluster >/dev/null && for v in $(ls /etc/postgresql); do
    as_root pg_ctlcluster --skip-systemctl-redirect "$v" main reload 2>/dev/null || true
  done
else
  say "cannot start ${need[*]}: install PostgreSQL, Redis and RabbitMQ, or Docker"
  exit 1
fi

for svc in "${need[@]}"; do
  case $svc in
    postgres) wait_for PostgreSQL "$PG" 60 ;;
    redis) wait_for Redis "$REDIS" 30 ;;
    rabbitmq) wait_for RabbitMQ "$AMQP" 120 ;;
  esac
done
